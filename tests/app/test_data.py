"""Data page: choosing the source (sample, a download that fails or succeeds, an IDX folder),
and the statistics that follow the choice."""

import hashlib
from functools import partial
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.data import sources as core_data
from tests.fakes import fake_mnist
from ui import state as keys

REPO = Path(__file__).resolve().parents[2]
PAGE = "pages/Data.py"


@pytest.fixture(autouse=True)
def forget_cached_data():
    """A downloaded or folder source must not leak into other tests through Streamlit's caches."""
    yield
    import ui

    ui.clear_data_caches()


def open_page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30).run()
    return at.switch_page(PAGE).run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def spec(at: AppTest) -> str:
    """The app-wide data source ("auto" until something else is chosen)."""
    return at.session_state[keys.APP_DATA_SPEC] if keys.APP_DATA_SPEC in at.session_state else "auto"


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_renders_statistics_of_the_sample():
    at = open_page()
    assert not at.exception
    assert at.title[0].value == "🔎 Data"
    assert at.radio[0].value == "auto"
    assert "Offline sample" in at.success[0].value and "auto:" in at.success[0].value
    assert metrics(at) == {"Train images": "3,432", "Validation images": "858", "Test images": "710"}
    assert len(at.get("vega_lite_chart")) == 3  # class balance, intensities, ink
    assert any("labels" in c.value and "locked" in c.value for c in at.caption)
    assert any("A 1 uses the least ink" in c.value for c in at.caption)
    assert [link.value for link in at.page_link] == ["See the field accuracy on collected drawings"]


def test_digit_picker_and_shuffle_change_the_grid():
    at = open_page()
    assert at.get("image")[0].captions == ["40 random training images labelled 3"]
    grid_3 = at.get("image")[0].value
    at.segmented_control(key=keys.DATA_DIGIT).set_value(5).run()
    assert at.get("image")[0].captions == ["40 random training images labelled 5"]
    grid_5 = at.get("image")[0].value
    button(at, "Shuffle").click().run()
    assert at.get("image")[0].captions == ["40 random training images labelled 5"]
    assert at.get("image")[0].value != grid_5 != grid_3


def test_choice_applies_to_the_whole_app():
    at = open_page()
    at.radio[0].set_value("sample").run()
    assert spec(at) == "sample"
    assert at.success[0].value.startswith("Active: **Offline sample")
    at.switch_page("pages/Preprocess.py").run()
    assert spec(at) == "sample"


def test_download_without_network_shows_the_message(monkeypatch):
    monkeypatch.setattr(
        core_data, "download_mnist", partial(core_data.download_mnist, mirrors=["http://127.0.0.1:9/"])
    )
    at = open_page()
    at.radio[0].set_value("mnist").run()
    assert spec(at) == "auto"  # nothing to switch to yet
    assert "not on this computer" in at.info[0].value
    button(at, "Download full MNIST").click().run()
    assert not at.exception
    assert "Downloading full MNIST failed" in at.error[0].value
    assert "offline sample" in at.error[0].value
    assert spec(at) == "auto"


def test_download_from_a_mirror_switches_to_full_mnist(monkeypatch, mirror):
    url, files = mirror
    resources = [(name, hashlib.md5(content).hexdigest()) for name, content in files.items()]
    monkeypatch.setattr(
        core_data, "download_mnist", partial(core_data.download_mnist, mirrors=[url], resources=resources)
    )
    at = open_page()
    at.radio[0].set_value("mnist").run()
    button(at, "Download full MNIST").click().run()
    assert not at.exception and not at.error
    assert spec(at) == "mnist"
    assert metrics(at) == {"Train images": "96", "Validation images": "24", "Test images": "30"}


def test_folder_source_is_validated(tmp_path):
    at = open_page()
    at.radio[0].set_value("folder").run()
    button(at, "Use this folder").click().run()
    assert "Type the path" in at.error[0].value
    at.text_input(key=keys.DATA_FOLDER).set_value(str(tmp_path / "nowhere")).run()
    button(at, "Use this folder").click().run()
    assert "not 'auto', 'sample', 'mnist' or an existing folder" in at.error[0].value
    empty = tmp_path / "empty"
    empty.mkdir()
    at.text_input(key=keys.DATA_FOLDER).set_value(str(empty)).run()
    button(at, "Use this folder").click().run()
    assert "has no train-images-idx3-ubyte" in at.error[0].value
    assert spec(at) == "auto"
    assert not at.exception

    good = tmp_path / "idx"
    good.mkdir()
    for name, content in fake_mnist(200, 50).items():
        (good / name).write_bytes(content)
    at.text_input(key=keys.DATA_FOLDER).set_value(str(good)).run()
    button(at, "Use this folder").click().run()
    assert not at.exception and not at.error
    assert spec(at) == str(good.resolve())
    assert metrics(at) == {"Train images": "160", "Validation images": "40", "Test images": "50"}
    assert at.radio[0].value == "folder"


def test_a_vanished_folder_gives_a_message_not_a_traceback(tmp_path):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30)
    at.session_state[keys.APP_DATA_SPEC] = str(tmp_path / "gone")
    at.run()
    assert not at.exception
    at.switch_page(PAGE).run()
    assert not at.exception
    assert any("existing folder" in e.value for e in at.error)
