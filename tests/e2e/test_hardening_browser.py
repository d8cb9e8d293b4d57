"""A visitor's view of a hardened app: a damaged run folder is named on every page and takes
none down; a shared demo asks for its password before showing anything."""

from __future__ import annotations

import json

import pytest

import ui
from tests.e2e.conftest import run_server
from tests.e2e.helpers import assert_no_exception, goto

pytestmark = pytest.mark.browser


def test_every_page_renders_with_the_damaged_run_note(page, tmp_path):
    home = tmp_path / "studio"
    bad = home / "runs" / "20260101-000000-mlp-bad1"
    bad.mkdir(parents=True)
    (bad / "config.json").write_text("{}")
    (bad / "meta.json").write_text(json.dumps(None))
    with run_server(home, tmp_path / "cache", tmp_path / "streamlit.log") as url:
        for path in ["", *(s.url_path for s in ui.STEPS)]:
            goto(page, f"{url}/{path}")
            note = page.locator("[data-testid='stSidebar']").get_by_text("1 damaged run folder skipped")
            note.wait_for()
            assert "20260101-000000-mlp-bad1" in note.inner_text()
            assert_no_exception(page)


def test_a_shared_demo_asks_for_its_password_once(page, tmp_path):
    env = {"MNIST_STUDIO_PASSWORD": "projector"}
    with run_server(tmp_path / "studio", tmp_path / "cache", tmp_path / "log", env) as url:
        goto(page, f"{url}/Data")
        box = page.get_by_label("Password", exact=True)
        box.wait_for()
        assert page.get_by_text("Pixel intensities").count() == 0
        box.fill("nope")
        page.get_by_role("button", name="Enter").click()
        page.get_by_text("That is not the password.").wait_for()
        box.fill("projector")
        page.get_by_role("button", name="Enter").click()
        page.get_by_text("Pixel intensities").wait_for()
        page.locator("[data-testid='stSidebarNav'] a[href$='/Train']").click()
        page.get_by_role("button", name="▶ Start training").wait_for()
        assert page.get_by_label("Password", exact=True).count() == 0
        assert_no_exception(page)
