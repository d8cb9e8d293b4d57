"""Define the task: teaching content renders, the target persists across pages, the calculator reacts."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from mnist_core.config import TrainConfig
from mnist_core.data.sources import load_train_pool
from mnist_core.planning import costs
from mnist_core.planning import curve as lc
from mnist_core.runs import storage
from mnist_core.training.models import build_model
from tests.test_curve_views import synthetic_curve
from ui import state as keys

REPO = Path(__file__).resolve().parents[2]
PAGE = "pages/Define_the_task.py"


def open_page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30).run()
    return at.switch_page(PAGE).run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def chart_outputs(at: AppTest) -> set[str]:
    """The series of the probability chart (the first Altair chart)."""
    spec = at.get("vega_lite_chart")[0].proto.spec
    return {
        name for name in ("Untrained model", "Target: the true label", "Your latest model") if name in spec
    }


def test_renders_the_task_baselines_and_risks():
    at = open_page()
    assert not at.exception
    assert at.title[0].value == "🎯 Define the task"
    text = " ".join(m.value for m in at.markdown)
    for words in ("28 × 28 grayscale image", "softmax", "cross-entropy", "10 %", "majority class"):
        assert words in text
    assert "most common digit of this training pool, scores **10.0%**" in text  # the sample is balanced
    assert chart_outputs(at) == {"Untrained model", "Target: the true label"}
    assert any("No model trained yet" in c.value for c in at.caption)
    links = [link.value for link in at.page_link]
    assert "Look at the sample grids" in links and "Field accuracy on real drawings" in links
    assert len(at.table) == 1  # who labels: in house / crowd / vendor


def test_target_slider_sets_session_state_and_survives_a_page_change():
    at = open_page()
    at.slider(key=keys.DEFINE_TARGET_PCT).set_value(95.5).run()
    assert at.session_state[keys.APP_TARGET_ACCURACY] == 0.955
    assert "95.5%" in at.success[0].value
    at.switch_page("pages/Data.py").run()
    assert at.session_state[keys.APP_TARGET_ACCURACY] == 0.955
    at.switch_page(PAGE).run()
    assert at.slider(key=keys.DEFINE_TARGET_PCT).value == 95.5


def test_unreachable_target_is_flagged():
    at = open_page()
    at.slider(key=keys.DEFINE_TARGET_PCT).set_value(99.9).run()
    assert any("best published" in w.value for w in at.warning)


def test_calculator_updates_when_inputs_change():
    at = open_page()
    assert metric(at, "Labeling time") == "97.2 h"
    assert metric(at, "In-house team") == "about 4 days"
    at.number_input(key=keys.PLAN_COST_SAMPLES).set_value(10_000).run()
    assert metric(at, "Labeling time") == "13.9 h"
    assert metric(at, "In-house team") == "about 1 day"
    at.number_input(key=keys.PLAN_COST_ANNOTATORS).set_value(1).run()
    assert metric(at, "In-house team") == "about 2 days"  # 13.9 h / 8 h a day
    before = metric(at, "Outsourced + review")
    at.slider(key=keys.PLAN_COST_REVIEW).set_value(100).run()
    assert metric(at, "Outsourced + review") != before
    table = at.dataframe[0].value
    assert list(table["Hours"]) == [13.9, 13.9]  # proof of concept capped at the full size


def test_sample_picker_and_a_trained_model_in_the_chart():
    config = TrainConfig(model="baseline", epochs=1, augment=False)
    storage.save_run(build_model(config), config, [], {"name": "base", "val_accuracy": 0.1})
    at = open_page()
    assert not at.exception
    assert chart_outputs(at) == {"Untrained model", "Target: the true label", "Your latest model"}
    pool = load_train_pool("sample")
    assert at.get("image")[0].captions == [f"Label: {int(pool.labels[0])}"]
    at.number_input(key=keys.DEFINE_SAMPLE_INDEX).set_value(600).run()
    assert not at.exception
    assert at.get("image")[0].captions == [f"Label: {int(pool.labels[600])}"]
    assert int(pool.labels[600]) != int(pool.labels[0])  # so the check above saw a change


# ---------------------------------------------------------------- the Plan estimate in the calculator


def plan_estimate(curve, target: float) -> dict:
    return lc.target_estimate(curve.fit, target, curve.n_train)


def test_without_a_learning_curve_the_calculator_points_to_plan():
    at = open_page()
    assert "Measure it on Plan" in [link.value for link in at.page_link]
    assert not [b for b in at.button if b.key == keys.PLAN_COST_USE_PLAN]


def test_the_plan_estimate_sets_images_to_label_and_costs_its_range(isolated_home):
    curve = synthetic_curve(isolated_home)
    at = open_page()
    at.slider(key=keys.DEFINE_TARGET_PCT).set_value(98.5).run()
    est = plan_estimate(curve, 0.985)
    assert est["low"] < est["size"] < est["high"] and est["size"] > 3432
    button = at.button(key=keys.PLAN_COST_USE_PLAN)
    assert button.label == f"Use the Plan estimate ({est['size']:,} images)"
    button.click().run()
    assert at.number_input(key=keys.PLAN_COST_SAMPLES).value == est["size"]
    assert metric(at, "Labeling time") == f"{est['size'] * 5 / 3600:,.1f} h"
    table = at.dataframe[0].value  # the estimate and its range, before the scenarios
    assert list(table[""]) == ["Low end", "Estimate", "High end"]
    assert list(table["Images to label"]) == [est["low"], est["size"], est["high"]]
    inputs = costs.LabelingInputs()
    want = costs.estimate(inputs, est["size"])
    row = table.iloc[1]
    assert row["Hours"] == round(want.hours, 1) and row["Working days"] == round(want.days, 2)
    assert row["In house ($)"] == round(want.in_house_cost)
    assert row["Outsourced + review ($)"] == round(want.outsourced_cost)
    # fewer annotators: the same hours take more working days
    at.number_input(key=keys.PLAN_COST_ANNOTATORS).set_value(1).run()
    assert at.dataframe[0].value.iloc[1]["Working days"] == round(want.hours / 8, 2)
    # only the images still missing
    at.checkbox(key=keys.PLAN_COST_REST).check().run()
    rest = est["size"] - 3432
    assert at.button(key=keys.PLAN_COST_USE_PLAN).label == f"Use the Plan estimate ({rest:,} images)"
    at.button(key=keys.PLAN_COST_USE_PLAN).click().run()
    assert at.number_input(key=keys.PLAN_COST_SAMPLES).value == rest
    assert list(at.dataframe[0].value["Images to label"]) == [est["low"] - 3432, rest, est["high"] - 3432]
    assert "the 3,432 you have are not counted" in " ".join(m.value for m in at.markdown)


def test_a_plan_curve_below_the_target_says_no_number_of_images_is_enough(isolated_home):
    synthetic_curve(isolated_home, c=0.08)
    at = open_page()
    assert any("out of reach for that model" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == keys.PLAN_COST_USE_PLAN]
