"""The Plan page while a learning curve is measured: Stop, the progress and the live points are in
view without scrolling (the settings fold away), on a 1280×720 projector and a 1920×1080 screen,
with the sidebar open."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import assert_in_viewport, assert_no_exception, goto, nav, type_in, wait_for_app

pytestmark = pytest.mark.browser

SCREENS = [(1280, 720), (1920, 1080)]
LIVE = ".st-key-plan-live"  # pages/Plan.py: the running measurement's view
MEASURE = "📈 Measure the learning curve"
STOP = "■ Stop"


@pytest.mark.parametrize("width, height", SCREENS, ids=[f"{w}x{h}" for w, h in SCREENS])
def test_progress_and_live_points_are_in_view(browser, app_url, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        goto(page, app_url)
        nav(page, "Plan")
        measure = page.get_by_role("button", name=MEASURE)
        expect(measure).to_be_enabled(timeout=240_000)  # another test's job may still run
        # the default preset (a CNN), two seeds: a dozen trainings of seconds each, far longer
        # than the checks (the test stops it at the end)
        type_in(
            page, "Training-set sizes (comma-separated; empty = the default)", "125, 250, 500, 1000, 2000"
        )
        measure.click()
        live_chart = page.locator(f"{LIVE} [data-testid='stVegaLiteChart']")
        expect(live_chart).to_be_visible(timeout=240_000)  # the first point is in
        wait_for_app(page)
        assert_no_exception(page)
        stop = page.get_by_role("button", name=STOP, exact=True)
        assert stop.is_enabled(), "the measurement ended before the checks: measure longer"
        assert page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollTop") == 0
        assert_in_viewport(page, stop, "the Stop button")
        assert_in_viewport(page, page.locator(f"{LIVE} [data-testid='stProgress']"), "the progress bar")
        assert_in_viewport(page, live_chart, "the live points")
        expect(page.get_by_text("Settings (they apply to the next measurement)")).to_be_visible()
    finally:
        stop = page.get_by_role("button", name=STOP, exact=True)
        if stop.count() and stop.is_enabled():
            stop.click()
            expect(page.get_by_role("button", name=MEASURE)).to_be_enabled(timeout=120_000)
        context.close()
