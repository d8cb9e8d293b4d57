"""Presenter mode: off by default, on from the sidebar toggle or a bookmarked ?present=1, kept
across page switches for the session, and styling the pages for an audience."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.conftest import REPO, open_page
from ui import state as keys

PRESENT_CSS_MARK = "stCaptionContainer"  # presenter mode hides the teaching captions


def styles(at: AppTest) -> str:
    return "\n".join(h.proto.body for h in at.get("html"))


def test_off_by_default():
    at = open_page()
    assert at.toggle(key=keys.APP_PRESENT).value is False
    assert PRESENT_CSS_MARK not in styles(at)


def test_the_toggle_turns_it_on_and_it_survives_a_page_switch():
    at = open_page()
    at.toggle(key=keys.APP_PRESENT).set_value(True).run()
    assert PRESENT_CSS_MARK in styles(at) and at.query_params.get("present") == "1"
    at.switch_page("pages/Train.py").run()
    assert not at.exception
    assert at.toggle(key=keys.APP_PRESENT).value is True and PRESENT_CSS_MARK in styles(at)
    at.toggle(key=keys.APP_PRESENT).set_value(False).run()
    assert PRESENT_CSS_MARK not in styles(at) and "present" not in at.query_params


def test_a_bookmarked_address_opens_in_presenter_mode():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception
    assert at.toggle(key=keys.APP_PRESENT).value is True and PRESENT_CSS_MARK in styles(at)
