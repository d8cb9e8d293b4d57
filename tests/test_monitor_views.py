"""The drift monitor's result as the app and the report show it: the saved monitor.json, the
background job's work, the Altair charts, and the report's "Is the field like the training data?"."""

from __future__ import annotations

import json
import pickle
import shutil
import threading
from functools import partial

import altair as alt
import pytest

from mnist_core.charts import monitor as charts
from mnist_core.monitoring import job as monitor_job
from mnist_core.monitoring.field import load_drawings
from mnist_core.monitoring.monitor import monitor, reference_from_digits
from mnist_core.monitoring.saved import RESULT_FILE, load_result, save_result
from mnist_core.report import document
from mnist_core.runs.storage import load_run
from tests.helpers import drain
from tests.monitor_field import DAYS, collect_field
from tests.test_report import check_html
from tests.tiny_model import tiny_run

PERMS = 200


@pytest.fixture(scope="module")
def home_with_field(tmp_path_factory):
    """A copy of the tiny run in its own studio home, with a drifting field collected beside it
    and the monitor's result saved with the run."""
    shared = tiny_run(tmp_path_factory)
    home = tmp_path_factory.mktemp("monitor-home")
    shutil.copytree(shared.path, home / "runs" / shared.id)
    run = load_run(home / "runs" / shared.id)
    collect_field(home / "drawings.db")
    val = run.split().val
    reference = reference_from_digits(val.images[:300].numpy(), val.labels[:300].numpy())
    report = monitor(
        run, load_drawings(home / "drawings.db"), reference=reference, window="day", permutations=PERMS
    )
    save_result(run, report, "day")
    return home, run, reference


def test_the_result_is_saved_with_the_run_and_read_back(home_with_field, tmp_path):
    _, run, _ = home_with_field
    saved = load_result(run)
    assert saved is not None and saved["window"] == "day" and saved["measured"]
    assert saved["drift"] is True and [w["label"] for w in saved["windows"]] == list(DAYS)
    assert [w["alarm"] for w in saved["windows"]] == [False, True]  # only the thick, tilted day
    assert saved["summary"][0].startswith("The field differs")
    damaged = tmp_path / "r"
    shutil.copytree(run.path, damaged)
    (damaged / RESULT_FILE).write_text("{not json")
    assert load_result(load_run(damaged)) is None  # unreadable: as if never measured
    (damaged / RESULT_FILE).write_text(json.dumps({"drift": True}))
    assert load_result(load_run(damaged)) is None  # another layout


def test_the_job_work_is_picklable_reports_progress_and_returns_the_report(home_with_field, monkeypatch):
    home, run, reference = home_with_field
    monkeypatch.setattr(monitor_job, "reference_from_digits", lambda *_: reference)  # 1,000 drawn take ~10 s
    given = monitor_job.monitor_input(run, home / "drawings.db")  # in the app: plain data
    work = partial(monitor_job.monitor_work, given, 15)
    pickle.dumps(work)  # the job sends it to a worker
    records, report = drain(work(threading.Event()))
    assert [r["progress"] for r in records] == sorted(r["progress"] for r in records)
    assert all(r["run_id"] == run.id for r in records) and not any(r.get("done") for r in records)
    assert [w.n for w in report.windows] == [15, 15, 10]  # the app saves it (tests/test_remote_results.py)
    stopped = threading.Event()
    stopped.set()
    steps = work(stopped)
    assert next(steps)["progress"] < 0.05
    with pytest.raises(StopIteration) as done:
        next(steps)
    assert done.value.value is None  # stopped: no report, nothing to save


def test_charts_draw_the_saved_result(home_with_field):
    saved = load_result(home_with_field[1])
    traits = charts.trait_frame(saved["features"])
    assert set(traits["source"]) == {charts.FIELD, charts.TRAINING}
    thick = traits[traits["panel"].str.startswith("stroke thickness")]
    assert "d = +" in thick["panel"].iloc[0] and len(thick) == 2
    # half the drawings have no original: size is still known for the other half
    assert traits["panel"].str.startswith("size before centring").sum() == 2
    mix = charts.class_mix_frame(saved["class_mix"])
    assert mix[mix["source"] == charts.FIELD]["share"].sum() == pytest.approx(1.0)
    windows = charts.window_frame(saved["windows"])
    assert windows["alarm"].tolist() == ["no alarm", "alarm"]
    assert charts.alarm_level(0.05, 2) == pytest.approx(0.025)
    for chart in (
        charts.traits_chart(saved["features"]),
        charts.confidence_chart(saved["confidence"]),
        charts.class_mix_chart(saved["class_mix"]),
        charts.windows_chart(saved["windows"], saved["alpha"]),
    ):
        assert isinstance(chart, alt.TopLevelMixin)
        json.dumps(chart.to_dict())  # valid against the schema, and plain JSON


def test_a_window_of_one_drawing_has_no_p_value_and_still_draws():
    windows = [
        {"label": "a", "n": 5, "accuracy": 0.8, "mean_confidence": 0.7, "p_value": 0.3, "alarm": False},
        {"label": "b", "n": 1, "accuracy": None, "mean_confidence": 0.9, "p_value": None, "alarm": False},
    ]
    spec = charts.windows_chart(windows, 0.05).to_dict()
    assert spec["resolve"]["scale"]["x"] == "shared"
    assert charts.window_frame(windows)["p_value"].isna().tolist() == [False, True]


def test_report_has_the_field_section_only_with_drawings_and_a_result(home_with_field, tmp_path):
    home, run, _ = home_with_field
    page = document.build_report(run, 0.9, curve=None, robustness=None)
    assert not check_html(page).errors
    assert "<section id='field'>" in page and "Is the field like the training data?" in page
    assert "DRIFT" in page and "The field differs from the training data" in page
    assert "aria-label='Traits of the drawings" in page.replace('"', "'")
    assert "Accuracy, confidence and drift per window" in page  # two windows: the over-time chart
    assert "with collected drawings" in page  # what to do
    assert (
        document.build_report(run, 0.9, curve=None, robustness=None, monitoring=None).count("id='field'") == 0
    )
    alone = tmp_path / "alone" / "runs" / run.id  # the same run without drawings beside it
    shutil.copytree(run.path, alone)
    assert "id='field'" not in document.build_report(load_run(alone), 0.9, curve=None, robustness=None)
