"""Define the task: teaching content renders, the target persists across pages, the calculator reacts."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from mnist_core import storage
from mnist_core.config import TrainConfig
from mnist_core.data import load_train_pool
from mnist_core.models import build_model

REPO = Path(__file__).resolve().parents[2]
PAGE = "pages/define.py"


def open_page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30).run()
    return at.switch_page(PAGE).run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def chart_outputs(at: AppTest) -> set[str]:
    """The series of the probability chart (the first Altair chart)."""
    spec = at.get("vega_lite_chart")[0].proto.spec
    return {name for name in ("Untrained model", "Target: the true label", "Your latest model") if name in spec}


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
    at.slider(key="define_target_pct").set_value(95.5).run()
    assert at.session_state["target_accuracy"] == 0.955
    assert "95.5%" in at.success[0].value
    at.switch_page("pages/data.py").run()
    assert at.session_state["target_accuracy"] == 0.955
    at.switch_page(PAGE).run()
    assert at.slider(key="define_target_pct").value == 95.5


def test_unreachable_target_is_flagged():
    at = open_page()
    at.slider(key="define_target_pct").set_value(99.9).run()
    assert any("best published" in w.value for w in at.warning)


def test_calculator_updates_when_inputs_change():
    at = open_page()
    assert metric(at, "Labeling time") == "97.2 h"
    assert metric(at, "In-house team") == "about 4 days"
    at.number_input(key="cost_samples").set_value(10_000).run()
    assert metric(at, "Labeling time") == "13.9 h"
    assert metric(at, "In-house team") == "about 1 day"
    at.number_input(key="cost_annotators").set_value(1).run()
    assert metric(at, "In-house team") == "about 2 days"  # 13.9 h / 8 h a day
    before = metric(at, "Outsourced + review")
    at.slider(key="cost_review").set_value(100).run()
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
    at.number_input(key="define_sample_index").set_value(600).run()
    assert not at.exception
    assert at.get("image")[0].captions == [f"Label: {int(pool.labels[600])}"]
    assert int(pool.labels[600]) != int(pool.labels[0])  # so the check above saw a change
