"""Every page of the registry, Home and the hidden Demo included, opens by deep link as the very
first request of a freshly started server: a bookmark must show that page, never Streamlit's
"Page not found" (what a page file named otherwise than its URL path gives) nor an error.

One fresh server per page, so each test costs a server start (about 5 s with the first render).
"""

from __future__ import annotations

import pytest

import ui
from tests.e2e.helpers import assert_no_exception, goto

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The h1 of each page: its registry title, unless the page gives its own heading.
HEADINGS = {ui.HOME.title: ui.APP_NAME, ui.DEMO.title: "The 3-minute demo"}
PAGES = [ui.HOME, *ui.STEPS, ui.DEMO]


@pytest.mark.parametrize("step", PAGES, ids=[s.url_path or "home" for s in PAGES])
def test_deep_link_to_every_page_on_a_fresh_server(page, fresh_app_url, step):
    goto(page, f"{fresh_app_url}/{step.url_path}")
    assert_no_exception(page)
    heading = page.locator("[data-testid='stMain'] h1").first
    heading.wait_for(state="visible")
    words = HEADINGS.get(step.title, step.title)
    assert words.lower() in heading.inner_text().lower(), heading.inner_text()
    assert page.get_by_text("Page not found").count() == 0
