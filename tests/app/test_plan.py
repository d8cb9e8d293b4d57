"""AppTest of the Plan page: it renders, a tiny learning curve measured through the job to the end
(chart, sentence, honesty check, saved) and into Define's calculator, points appearing live,
a page switch and Stop, bad input, saved curves shown and deleted, and the bigger-model offer
that opens Train.

The job manager is process-wide: the autouse fixture of conftest stops any job a test leaves.
"""

from __future__ import annotations

import re
import time

import pytest
from streamlit.testing.v1 import AppTest

import ui
from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.planning.curve.advice import estimate_sentence
from mnist_core.planning.curve.store import list_curves
from tests.app.conftest import open_page, texts
from tests.test_curve_views import synthetic_curve
from ui import state as keys

PAGE = "pages/Plan.py"
LOGREG = "ladder:Logistic regression"


def chart_specs(at: AppTest) -> list[str]:
    return [c.proto.spec for c in at.get("vega_lite_chart")]


def configure(at: AppTest, sizes: str, seeds: int = 1, option: str = LOGREG) -> AppTest:
    """Choose what to measure through the page's own widgets."""
    at.selectbox(key=keys.PLAN_CONFIG).set_value(option)
    at.text_input(key=keys.PLAN_SIZES).set_value(sizes)
    at.number_input(key=keys.PLAN_SEEDS).set_value(seeds)
    return at.run()


def poll(at: AppTest, until, timeout: float = 240) -> list[str]:
    """Re-run the page (the fragment only advances on at.run()) until `until(at)`; progress seen."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.4)
        at.run()
        assert not at.exception, at.exception
        seen += [p.proto.text for p in at.get("progress")]
        if until(at):
            return seen
    raise AssertionError(f"timed out; progress seen: {seen[-3:]}\n{texts(at)}")


def job_over(at: AppTest) -> bool:
    job = ui.all_jobs().job_of("curve")
    return job is not None and not job.running and not at.get("progress")


def test_page_renders_between_preprocess_and_train():
    at = open_page(PAGE)
    titles = [s.title for s in ui.STEPS]
    assert titles.index("Plan") == titles.index("Preprocess") + 1 == titles.index("Train") - 1
    assert [s.number for s in ui.STEPS] == list(range(1, len(ui.STEPS) + 1))
    assert at.title[0].value == "📈 Plan"
    assert at.selectbox(key=keys.PLAN_CONFIG).value == f"preset:{DEFAULT_PRESET}"
    assert not at.button(key=keys.PLAN_MEASURE).disabled and at.button(key=keys.PLAN_STOP).disabled
    page = texts(at)
    assert "6 sizes: 125, 250, 500, 1,000, 2,000, 3,432 of 3,432 training images" in page
    assert "No learning curve yet" in page and PRESETS[DEFAULT_PRESET].summary() in page


@pytest.mark.slow
def test_a_tiny_curve_is_measured_to_the_end_and_reaches_define():
    at = configure(open_page(PAGE, **{keys.APP_TARGET_ACCURACY: 0.75}), "20, 40, 80, 160")
    at.button(key=keys.PLAN_MEASURE).click().run()
    assert not at.exception, at.exception
    assert at.button(key=keys.PLAN_MEASURE).disabled and not at.button(key=keys.PLAN_STOP).disabled
    poll(at, job_over)  # when the CPU is idle this takes about a second: no progress to watch
    page = texts(at)
    assert "Measured and fitted. Saved as" in page
    [saved] = list_curves(ui.home())
    assert [p["size"] for p in saved.points] == [20, 40, 80, 160] and saved.config.model == "logreg"
    assert any(
        "fitted power law" in spec and "measured (one point per training)" in spec for spec in chart_specs(at)
    )
    est = at.session_state[keys.PLAN_ESTIMATE]
    assert est["curve_id"] == saved.id and est["target"] == 0.75 and est["have"] == 3432
    sentence = estimate_sentence(saved.fit, 0.75, 3432, saved.config)
    # logistic regression levels off near 84 % on these sizes: 75 % is within its reach
    assert est["reachable"] and sentence.startswith("To reach 75 % you need about") and sentence in page
    assert any(m.label == "Measured at 160 images" for m in at.metric)  # the honesty check
    assert saved.label in page and not at.button(key=keys.PLAN_MEASURE).disabled

    at.switch_page("pages/Define_the_task.py").run()  # Define's target slider starts at the same 75 %
    assert not at.exception, at.exception
    at.button(key=keys.PLAN_COST_USE_PLAN).click().run()
    assert at.number_input(key=keys.PLAN_COST_SAMPLES).value == est["size"]


def first_point_in(at: AppTest) -> bool:
    job = ui.all_jobs().job_of("curve")
    return job is not None and bool(job.snapshot().of_kind("point"))


@pytest.mark.slow
def test_points_appear_live_and_stop_saves_nothing_below_three_sizes():
    # the default preset, a CNN: each of the 5 trainings (20 and 30 images twice, 80 once) takes
    # seconds, time enough to switch pages and press Stop mid-curve
    at = configure(open_page(PAGE), "20, 30, 80", seeds=2, option=f"preset:{DEFAULT_PRESET}")
    at.button(key=keys.PLAN_MEASURE).click().run()
    seen = poll(at, first_point_in, timeout=180)
    # the progress names the plan (before a worker takes the job, it says where it is in line)
    assert seen and all("of 5" in s or "Measuring" in s or s.startswith("queued") for s in seen), seen
    assert any("of 5" in s or "Measuring" in s for s in seen), seen
    at.run()  # the fragment draws the finished point on the live chart
    assert re.search(r"[1-4] of 5 trainings done", texts(at)) and chart_specs(at)
    at.switch_page("pages/Data.py").run()  # the job lives in the process, not in the page
    at.switch_page(PAGE).run()
    assert ui.all_jobs().job_of("curve").running and at.get("progress")
    assert re.search(r"[1-4] of 5 trainings done", texts(at)) and at.button(key=keys.PLAN_MEASURE).disabled
    at.button(key=keys.PLAN_STOP).click().run()
    poll(at, job_over, timeout=120)
    page = texts(at)
    assert ui.all_jobs().job.snapshot().state == "stopped"
    assert re.search(r"Stopped after [12] of 3 sizes", page) and "nothing was saved" in page
    assert list_curves(ui.home()) == [] and "No learning curve yet" in page
    assert not at.button(key=keys.PLAN_MEASURE).disabled and at.button(key=keys.PLAN_STOP).disabled


@pytest.mark.parametrize(
    "sizes, message",
    [
        ("20, 40", "at least 3 different sizes"),
        ("20, forty, 80", "whole numbers separated by commas"),
        ("20, 40, 99999", "larger than the training split"),
        ("5, 40, 80", "at least 10 images"),
    ],
)
def test_bad_sizes_are_explained_and_block_the_measurement(sizes, message):
    at = configure(open_page(PAGE), sizes)
    assert any(message in e.value for e in at.error), texts(at)
    assert at.button(key=keys.PLAN_MEASURE).disabled


def test_train_settings_of_a_baseline_are_refused_in_one_line():
    at = configure(open_page(PAGE, **{"train.model": "baseline"}), "20, 40, 80", option="train")
    at.button(key=keys.PLAN_MEASURE).click().run()
    assert any(
        e.value.startswith("Not started: The majority-class baseline does not learn") for e in at.error
    )
    assert ui.all_jobs().job is None


def test_saved_curves_are_listed_shown_and_deleted(isolated_home):
    old = synthetic_curve(isolated_home, name="older", created="2024-05-01T12:00:00+00:00")
    new = synthetic_curve(isolated_home, name="newer", a=5.0, created="2024-06-01T12:00:00+00:00")
    at = open_page(PAGE, **{keys.APP_TARGET_ACCURACY: 0.985})
    page = texts(at)
    assert f"**{new.label}**" in page and old.label in page  # the newest is shown
    assert at.button(key=keys.plan_show(new.id)).disabled
    assert estimate_sentence(new.fit, 0.985, 3432, new.config) in page
    at.button(key=keys.plan_show(old.id)).click().run()
    assert (
        at.session_state[keys.PLAN_CURVE] == old.id
        and at.session_state[keys.PLAN_ESTIMATE]["curve_id"] == old.id
    )
    assert estimate_sentence(old.fit, 0.985, 3432, old.config) in texts(at)
    at.button(key=keys.plan_delete(old.id)).click().run()
    assert not at.exception, at.exception
    assert [c.id for c in list_curves(isolated_home)] == [new.id]
    assert f"Deleted the learning curve {old.id}" in texts(at)
    assert at.session_state[keys.PLAN_ESTIMATE]["curve_id"] == new.id  # back to the newest


def test_a_target_below_the_floor_offers_the_bigger_preset_on_train(isolated_home):
    synthetic_curve(isolated_home, c=0.08)  # logistic regression levelling off at 92 %
    at = open_page(PAGE, **{keys.APP_TARGET_ACCURACY: 0.985})
    assert any("out of reach for this model" in w.value for w in at.warning)
    button = next(b for b in at.button if b.label.startswith("🏋️ Open Train with"))
    assert f"“{DEFAULT_PRESET}”" in button.label
    button.click().run()
    assert not at.exception, at.exception
    assert at.title[0].value.endswith("Train")
    assert at.selectbox(key=keys.TRAIN_PRESET).value == DEFAULT_PRESET
    assert at.selectbox(key="train.model").value == PRESETS[DEFAULT_PRESET].model
    assert "Changed since you picked it" not in texts(at)  # every control matches the preset


def test_the_current_train_settings_can_be_measured():
    at = open_page(PAGE, **{"train.model": "mlp", "train.mlp_width": 64, "train.mlp_depth": 1})
    at = configure(at, "", option="train")
    assert "MLP 1×64" in texts(at), texts(at)
