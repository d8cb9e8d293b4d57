"""A shared demo: the password asked once per session, the damaged-run note on every page, and
the folder data source confined to the allowed roots when the app listens beyond loopback."""

from __future__ import annotations

import json

import pytest

import ui
from tests.app.conftest import open_page, texts

PAGES = ["pages/home.py", *(s.file for s in ui.STEPS)]


def test_with_a_password_nothing_shows_until_it_is_given(monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_PASSWORD", "s3cret demo")
    at = open_page()
    assert "Password" in [t.label for t in at.text_input]
    assert "Where things stand" not in texts(at)
    at.text_input[0].set_value("wrong")
    at.button[0].click().run()
    assert "That is not the password." in texts(at) and "Where things stand" not in texts(at)
    at.text_input[0].set_value("s3cret demo")
    at.button[0].click().run()
    assert "Where things stand" in texts(at)
    at.switch_page("pages/Data.py").run()  # once per session: the next page asks no more
    assert not at.exception and "Pixel intensities" in texts(at)


def test_without_a_password_no_gate():
    at = open_page()
    assert "Password" not in [t.label for t in at.text_input] and "Where things stand" in texts(at)


@pytest.mark.parametrize("page", PAGES)
def test_a_damaged_run_folder_is_named_and_every_page_renders(page, isolated_home):
    bad = isolated_home / "runs" / "20260101-000000-cnn-dead"
    bad.mkdir(parents=True)
    (bad / "config.json").write_text(json.dumps([]))
    at = open_page(page)
    assert not at.exception
    notes = [c.value for c in at.sidebar.caption if "damaged run folder skipped" in c.value]
    assert notes and "20260101-000000-cnn-dead" in notes[0], [c.value for c in at.sidebar.caption]


def test_shared_app_refuses_folders_outside_the_roots_without_telling_why(monkeypatch, tmp_path):
    monkeypatch.setattr(ui.access, "shared", lambda: True)
    monkeypatch.setenv("MNIST_STUDIO_DATA_ROOTS", str(tmp_path / "allowed"))
    (tmp_path / "allowed").mkdir()
    (tmp_path / "elsewhere").mkdir()
    answers = []
    for folder in (str(tmp_path / "elsewhere"), "/proc/self", str(tmp_path / "nope"), "../../etc"):
        at = open_page("pages/Data.py")
        at.radio[0].set_value("folder").run()
        at.text_input[0].set_value(folder).run()
        use = [b for b in at.button if "Use" in b.label]
        use[0].click().run()
        answers.append([e.value for e in at.error])
    assert all(a == answers[0] and len(a) == 1 for a in answers), answers
    assert "not available" in answers[0][0] and "elsewhere" not in answers[0][0]
