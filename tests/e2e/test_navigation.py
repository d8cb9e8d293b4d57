"""Every page opens without an error: from the sidebar and by direct URL (as the first visit to a
freshly started server: here, in the full app; every page in test_deep_links.py). The page list is
the app's registry (`ui.STEPS`), so it grows with the app. A last test checks that widgets rerun the page in a real browser."""

from __future__ import annotations

import re

import pytest

import ui
from tests.e2e.helpers import assert_no_exception, goto, wait_for_app

pytestmark = pytest.mark.browser

PAGES = [s.url_path for s in ui.STEPS]  # URL names, e.g. "Define_the_task"
TITLES = {s.url_path: s.title for s in ui.STEPS}


def expect_title(page, words: str) -> None:
    """The page's h1 shows `words`."""
    heading = page.locator("[data-testid='stMain'] h1").first
    heading.wait_for(state="visible")
    assert words.lower() in heading.inner_text().lower(), heading.inner_text()


@pytest.mark.parametrize("path", ["Data", "Deploy?present=1"])
def test_deep_link_on_a_fresh_server(page, fresh_app_url, path):
    """The very first request of a new server is a deep link: it must show that page, in the full
    app (the registry's sidebar, the wide layout), its query parameters kept. (A pages/ folder
    starts Streamlit in its legacy mode, which runs the page script alone: ui/registry.py.)"""
    goto(page, f"{fresh_app_url}/{path}")
    assert_no_exception(page)
    name, _, query = path.partition("?")
    expect_title(page, TITLES[name])
    nav = page.locator("[data-testid='stSidebarNav'] a")
    assert nav.count() == len(PAGES) + 1, (
        nav.all_inner_texts()
    )  # the home page and every page of the registry
    assert nav.first.inner_text().strip().endswith("Home")
    assert page.url.endswith(f"/{path}"), page.url
    # app.py's set_page_config(layout="wide"): the centred layout caps the content at 736 px.
    content = page.locator("[data-testid='stMainBlockContainer']").bounding_box()
    assert content is not None and content["width"] > 900, content
    if query:
        assert page.locator(".st-key-app-present input[type='checkbox']").is_checked()


def test_home(page, app_url):
    goto(page, app_url)
    assert_no_exception(page)
    expect_title(page, "MNIST Workflow Studio")
    for name in TITLES.values():
        assert page.locator("[data-testid='stPageLink-NavLink']", has_text=f"Open {name}").count() == 1
    assert page.get_by_text("Data source", exact=True).is_visible()
    assert page.get_by_text("Where things stand").is_visible()


@pytest.mark.parametrize("name", PAGES)
def test_direct_url(page, app_url, name):
    goto(page, f"{app_url}/{name}")
    assert_no_exception(page)
    expect_title(page, TITLES[name])


def test_sidebar_links_visit_every_page(page, app_url):
    goto(page, app_url)
    for name in PAGES:
        link = page.locator(f"[data-testid='stSidebarNav'] a[href$='/{name}']")
        assert link.count() == 1, f"no sidebar link to /{name}"
        link.click()
        page.wait_for_url(re.compile(f"/{re.escape(name)}$"))
        wait_for_app(page)
        assert_no_exception(page)
        expect_title(page, TITLES[name])


def test_home_cards_link_to_their_pages(page, app_url):
    goto(page, app_url)
    page.locator("[data-testid='stPageLink-NavLink']", has_text="Open Preprocess").click()
    page.wait_for_url(re.compile("/Preprocess$"))
    wait_for_app(page)
    assert_no_exception(page)
    expect_title(page, "Preprocess")


def test_widgets_answer_in_the_browser(page, app_url):
    """A click and a typed number rerun the page and change what is shown, without errors."""
    goto(page, f"{app_url}/Data")
    page.locator("[data-testid='stButtonGroup'] button", has_text="7").click()
    page.get_by_text("40 random training images labelled 7").wait_for()
    wait_for_app(page)
    assert_no_exception(page)

    goto(page, f"{app_url}/Define_the_task")
    page.get_by_text("97.2 h").first.wait_for()  # the costs section can land a moment after the run ends
    box = page.get_by_label("Images to label")
    box.fill("10000")
    box.press("Enter")
    page.get_by_text("13.9 h", exact=True).first.wait_for()
    wait_for_app(page)
    assert_no_exception(page)
