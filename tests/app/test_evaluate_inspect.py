"""AppTest of the Evaluate page's look inside the model (ui.evaluate_inspect, ui.inspect_*): the embedding map
with its selection and the Deploy drawing as a star, t-SNE as a background job, the temperature
fit and its ECE figures, the "not sure" threshold saved with the run, the robustness sweep with
its sentence and a second run on the chart, and the report that gains those charts.

Two tiny runs are trained once per module; tests that change a run work on a copy of one.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.charts import embedding as embedding_charts
from mnist_core.config import TrainConfig
from mnist_core.evaluation import calibration, embedding, gallery
from mnist_core.evaluation import robustness as rob
from mnist_core.report import document as report
from mnist_core.runs import storage
from mnist_core.runs.listing import scan_runs
from tests.app.conftest import open_page, texts, wait_idle
from tests.helpers import train_to_run
from ui import evaluate_inspect as inside
from ui import inspect_map, inspect_robustness
from ui import state as keys

PAGE = "pages/Evaluate.py"
WHERE, TRUST, BREAKS = inside.TABS


@pytest.fixture(scope="module")
def module_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("inspect-home")
    for name, epochs in (("other", 1), ("main", 2)):
        train_to_run(
            TrainConfig(model="logreg", epochs=epochs, augment=False), "sample", name=name, home=home
        )
    return home


@pytest.fixture
def home(module_home, monkeypatch) -> Path:
    monkeypatch.setenv("MNIST_STUDIO_HOME", str(module_home))
    return module_home


@pytest.fixture
def fresh_run(home):
    """Copies of a run, dated in the future (the page opens on the newest); removed after the test."""
    made: list[Path] = []

    def make(source: str = "main", day: int = 31) -> storage.Run:
        src = next(r for r in scan_runs(home).runs if r.meta.get("name") == source)
        path = src.path.parent / f"zz-copy-{uuid.uuid4().hex[:8]}"
        shutil.copytree(src.path, path)
        made.append(path)
        return storage.update_meta(
            storage.load_run(path), created=f"9999-12-{day:02d}T00:00:00+00:00", name=f"copy of {source}"
        )

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def page(tab: str = WHERE, **state) -> AppTest:
    return open_page(PAGE, **{keys.EVALUATE_INSPECT: tab, **state})


def charts(at: AppTest) -> list[tuple[dict, list[dict]]]:
    """Each Altair chart on the page: its Vega-Lite spec and the rows of its datasets (Streamlit
    sends those apart from the spec, as Arrow)."""
    out = []
    for c in at.get("vega_lite_chart"):
        rows = [
            r
            for d in c.proto.datasets
            for r in pa.ipc.open_stream(d.data.data).read_pandas().to_dict("records")
        ]
        out.append((json.loads(c.proto.spec), rows))
    return out


def specs(at: AppTest) -> list[dict]:
    return [spec for spec, _ in charts(at)]


def embedding_map(at: AppTest) -> tuple[dict, list[dict]] | None:
    """The embedding map (the chart with the interval selection) and its points."""
    return next(((s, rows) for s, rows in charts(at) if embedding_charts.BRUSH in json.dumps(s)), None)


def map_points(at: AppTest) -> list[dict]:
    found = embedding_map(at)
    assert found is not None, "no embedding map on the page"
    return [r for r in found[1] if "image" in r and "x" in r]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def validation(run: storage.Run) -> gallery.PredictionTable:
    val, _ = gallery.run_validation_set(run)
    return gallery.predictions(run.load_model(), val)


# ---------------------------------------------------------------- where do its images sit?


def test_embedding_map_renders_with_thumbnails(home):
    at = page()
    spec, _ = embedding_map(at)
    rows = map_points(at)
    run = scan_runs(home).runs[0]
    n = run.evaluation("val").n
    assert len(rows) == min(n, inspect_map.MAP_POINTS)
    assert all(r["image"].startswith("data:image/png;base64,") for r in rows[:5])
    assert "PCA of the penultimate layer" in json.dumps(spec)
    wrong = sum(not r["correct"] for r in rows)
    assert f"the {wrong:,} mistakes are outlined" in texts(at)
    assert "appears here as a star" in texts(at)  # nothing drawn on Deploy yet


def test_drawing_from_deploy_is_the_star(home):
    table = validation(scan_runs(home).runs[0])
    at = page(**{keys.DEPLOY_LAST_INPUT: table.images[0].tolist()})
    assert "Your drawing from Deploy: the model reads a" in texts(at)
    assert any(r.get("label") == "your drawing" for r in embedding_map(at)[1])
    # floats in 0..1 (a prepared drawing as the model sees it) are read the same way
    at = page(**{keys.DEPLOY_LAST_INPUT: (table.images[0] / 255.0).astype(np.float32)})
    assert "Your drawing from Deploy" in texts(at)
    at = page(**{keys.DEPLOY_LAST_INPUT: [[1, 2], [3, 4]]})  # not a 28×28 drawing: no star
    assert "appears here as a star" in texts(at)


def test_box_selection_lists_its_images(home):
    at = page()
    rows = map_points(at)
    xs = sorted(r["x"] for r in rows)
    box = [xs[0] - 1, xs[len(xs) // 4]]  # the left quarter of the map, every height
    at.session_state[keys.EVALUATE_MAP] = {"selection": {embedding_charts.BRUSH: {"x": box}}}
    at.run()
    assert not at.exception
    inside_box = [r for r in rows if box[0] <= r["x"] <= box[1]]
    wrong = sum(not r["correct"] for r in inside_box)
    assert f"**{len(inside_box):,} images selected**, {wrong:,} of them mistakes" in texts(at)
    listed = at.get("image")[-1]
    assert len(listed.proto.imgs) == min(len(inside_box), inspect_map.SELECTION_LIMIT)


@pytest.mark.slow
def test_tsne_runs_as_a_background_job(home, monkeypatch):
    monkeypatch.setattr(embedding, "tsne_records", functools.partial(embedding.tsne_records, iterations=500))
    at = page(**{keys.EVALUATE_MAP_METHOD: "t-SNE"})
    assert embedding_map(at) is None  # nothing computed yet: the button
    at.button(key=keys.EVALUATE_TSNE_START).click().run()
    assert not at.exception
    wait_idle()
    at.run()  # the job's end reruns the page: the finished map
    assert not at.exception
    found = embedding_map(at)
    assert found is not None and "t-SNE of the penultimate layer" in json.dumps(found[0])
    snap = inside.ui.all_jobs().job_of("tsne").snapshot()
    assert snap.state == "finished" and snap.records[-1]["done"]
    assert [r["progress"] for r in snap.records] == sorted(r["progress"] for r in snap.records)


# ---------------------------------------------------------------- can we trust its confidence?


def test_fitting_the_temperature_saves_it_and_shows_ece(fresh_run):
    run = fresh_run()
    at = page(TRUST)
    assert metrics(at)["ECE after scaling"] == "not fitted"
    before = metrics(at)["ECE before scaling"]
    at.button(key=keys.EVALUATE_FIT_TEMPERATURE).click().run()
    assert not at.exception
    saved = storage.load_run(run.path)
    t = calibration.run_temperature(saved)
    entry = saved.meta["calibration"]
    assert t != 1.0 and entry["temperature"] == pytest.approx(t)
    shown = metrics(at)
    assert shown["ECE before scaling"] == before  # same images, same model
    assert shown["ECE after scaling"] == f"{entry['ece_after']:.2%}"
    assert f"T = {t:.3f}" in texts(at)
    assert "Saved T = " in texts(at)  # the flash after the fit
    assert calibration.predict_options(saved)["temperature"] == pytest.approx(t)
    spec = json.dumps(specs(at))
    assert "after scaling" in spec and "Reliability" in spec


def test_saving_a_threshold_stores_it_with_the_run(fresh_run):
    run = fresh_run()
    at = page(TRUST)
    assert "no “not sure” line of its own" in texts(at)
    at.select_slider(key=keys.EVALUATE_THRESHOLD).set_value(0.8).run()
    table = validation(run)
    row = calibration.coverage_curve(table.probs, table.labels, [0.8])[0]
    assert metrics(at)["Answered"] == f"{row['coverage']:.1%}"
    at.button(key=keys.EVALUATE_THRESHOLD_SAVE).click().run()
    assert not at.exception
    saved = storage.load_run(run.path)
    assert calibration.run_threshold(saved) == pytest.approx(0.8)
    assert saved.meta["unsure_threshold"]["coverage"] == pytest.approx(row["coverage"])
    assert calibration.predict_options(saved)["unsure_below"] == pytest.approx(0.8)
    assert "not sure” line: **0.800**" in texts(at)
    at = page(TRUST)  # a new visit starts the slider on the saved line
    assert at.select_slider(key=keys.EVALUATE_THRESHOLD).value == pytest.approx(0.8)
    at.button(key=keys.EVALUATE_THRESHOLD_CLEAR).click().run()
    assert calibration.run_threshold(storage.load_run(run.path)) is None
    assert "no “not sure” line of its own" in texts(at)


# ---------------------------------------------------------------- where does it break?


@pytest.fixture
def quick_sweep(monkeypatch):
    monkeypatch.setattr(inspect_robustness, "ROBUSTNESS_N", 150)
    monkeypatch.setattr(inspect_robustness, "ROBUSTNESS_PERTURBATIONS", ("rotate", "invert"))


def test_robustness_sweep_shows_chart_and_sentence(fresh_run, quick_sweep):
    run = fresh_run()
    at = page(BREAKS)
    assert "Not measured yet" in texts(at)
    at.button(key=keys.EVALUATE_SWEEP_START).click().run()
    assert not at.exception
    wait_idle()
    at.run()
    assert not at.exception
    sweep = rob.load_sweep(storage.load_run(run.path))
    assert sweep is not None and sweep.n == 150 and [c.name for c in sweep.curves] == ["rotate", "invert"]
    assert rob.weakest(sweep)["sentence"] in texts(at)
    assert re.search(r"Accuracy (falls below|stays at or above)", texts(at))
    spec = json.dumps(specs(at))
    assert "rotation" in spec and "inverted colours" in spec


def test_two_runs_on_one_robustness_chart(fresh_run, quick_sweep):
    other = fresh_run("other", day=30)
    mine = fresh_run()  # the newest: the page opens on it
    for run in (mine, other):
        model = run.load_model()
        val = run.split().val
        rob.save_sweep(
            run, rob.sweep(model, val.images[:100], val.labels[:100], ["rotate"], label=run.meta["name"])
        )
    at = page(BREAKS)
    at.selectbox(key=keys.EVALUATE_ROBUST_OTHER).set_value(other.id).run()
    assert not at.exception
    a, b = rob.load_sweep(mine), rob.load_sweep(other)
    assert rob.compare(a, b)["sentence"] in texts(at)
    rows = next(rows for s, rows in charts(at) if "rotation" in json.dumps(s))
    runs = {r["run"] for r in rows if "run" in r}
    assert runs == {"copy of main", "copy of other"}


# ---------------------------------------------------------------- the report


def test_report_gains_calibration_and_robustness_charts(fresh_run):
    run = fresh_run()
    table = validation(run)
    plain = report.build_report(run, 0.9, **inside.report_extras(run, table))
    assert "<section id='confidence'>" not in plain and "<section id='robustness'>" not in plain
    calibration.calibrate_run(run)
    calibration.save_threshold(storage.load_run(run.path), 0.7, coverage=0.8, accuracy=0.9)
    val = run.split().val
    rob.save_sweep(run, rob.sweep(run.load_model(), val.images[:100], val.labels[:100], ["rotate", "blur"]))
    run = storage.load_run(run.path)
    saved_only = report.build_report(run, 0.9)  # without the images: the saved figures, no diagram
    assert "<section id='confidence'>" in saved_only and "Expected calibration error" in saved_only
    assert "Reliability: accuracy per confidence bin (ECE" not in saved_only
    page_html = report.build_report(run, 0.9, **inside.report_extras(run, table))
    for section in ("confidence", "robustness"):
        assert f"<section id='{section}'>" in page_html
    assert page_html.count("<svg") >= 4  # curves, reliability, coverage, robustness
    assert (
        "Reliability: accuracy per confidence bin (ECE" in page_html
        and "Accuracy as the validation images are perturbed" in page_html
    )
    assert rob.load_sweep(run).summary in page_html
    assert "0.700" in page_html  # the run's "not sure" line
    assert re.search(r"https?:", re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page_html)) is None
