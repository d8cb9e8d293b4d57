"""Preprocess page: the /255 scaling shown on a real image, and split settings that change the counts
and are stored for the Train page."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from mnist_core.data.sources import load_train_pool
from ui import state as keys

REPO = Path(__file__).resolve().parents[2]
PAGE = "pages/Preprocess.py"


def open_page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30).run()
    return at.switch_page(PAGE).run()


def split_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if "pool images →" in c.value)


def test_scaling_shows_raw_and_scaled_values():
    at = open_page()
    assert not at.exception
    assert at.title[0].value == "🧹 Preprocess"
    values = [(m.label, m.value) for m in at.metric]
    assert values[:3] == [("min", "0"), ("max", "255"), ("mean", "39.7")]
    assert values[3:] == [("min", "0.00"), ("max", "1.00"), ("mean", "0.156")]
    raw, scaled = at.dataframe[0].value, at.dataframe[1].value
    assert raw.shape == scaled.shape == (7, 7)
    assert ((raw / 255 - scaled).abs().max().max()) < 1e-4
    assert raw.max().max() > 200  # the window sits on the stroke, not on background


def test_image_picker_changes_the_image():
    pool = load_train_pool("sample")
    at = open_page()
    at.number_input(key=keys.PREPROCESS_IMAGE_INDEX).set_value(17).run()
    assert not at.exception
    assert any(c.value.startswith(f"Label: {int(pool.labels[17])}.") for c in at.caption)


def test_default_split_and_its_session_state():
    at = open_page()
    assert "4,290 pool images → 3,432 train / 858 validation, plus 710 test" in split_caption(at)
    assert at.session_state[keys.APP_SPLIT] == {"val_fraction": 0.2, "split_seed": 0}


def test_fraction_and_seed_change_counts_and_settings():
    at = open_page()
    first_gap = next(c.value for c in at.caption if "percentage points" in c.value)
    at.slider(key=keys.PREPROCESS_VAL_FRACTION).set_value(0.3).run()
    assert "→ 3,003 train / 1,287 validation" in split_caption(at)
    assert at.session_state[keys.APP_SPLIT] == {"val_fraction": 0.3, "split_seed": 0}
    at.number_input(key=keys.PREPROCESS_SPLIT_SEED).set_value(7).run()
    assert at.session_state[keys.APP_SPLIT] == {"val_fraction": 0.3, "split_seed": 7}
    assert next(c.value for c in at.caption if "percentage points" in c.value) != first_gap
    # The settings outlive a visit to another page, and the widgets show them again.
    at.switch_page("pages/Data.py").run()
    assert any("validation 30%, seed 7" in c.value for c in at.caption)
    at.switch_page(PAGE).run()
    assert at.slider(key=keys.PREPROCESS_VAL_FRACTION).value == 0.3
    assert at.number_input(key=keys.PREPROCESS_SPLIT_SEED).value == 7
