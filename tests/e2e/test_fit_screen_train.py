"""The Train page once Start is pressed: the progress, the metric row and both live curves are in
view without scrolling (the controls fold away), at the browser tests' usual 1400×1000 and on a
1280×720 projector and a 1920×1080 screen, with the sidebar open."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import assert_in_viewport, assert_no_exception, wait_for_app
from tests.e2e.test_train_browser import START, choose, open_train, set_slider, stop_button

SCREENS = [(1400, 1000), (1280, 720), (1920, 1080)]
LIVE = ".st-key-train-live"  # pages/Train.py: the live view (the run history below has charts too)
CHARTS = f"{LIVE} [data-testid='stVegaLiteChart']"
METRICS = f"{LIVE} [data-testid='stMetric']"


def wait_for_layout(page, timeout_s: float = 15.0) -> None:
    """Wait until the live view stops moving: two reads of its boxes 0.6 s apart agree (a rerun
    can briefly leave the elements of the view before Start in place, below the new ones)."""

    def boxes() -> list:
        found = [page.locator(CHARTS).nth(i).bounding_box() for i in range(2)]
        return [round(b["y"] / 4) if b else None for b in found]

    before, deadline = boxes(), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.wait_for_timeout(600)
        now = boxes()
        if now == before:
            return
        before = now


@pytest.mark.parametrize("width, height", SCREENS, ids=[f"{w}x{h}" for w, h in SCREENS])
def test_progress_metrics_and_both_curves_are_in_view(browser, app_url, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(app_url, wait_until="domcontentloaded")  # a first visit, then the page itself
        wait_for_app(page)
        open_train(page, app_url)
        choose(page, "Preset", "fast CNN")
        # far longer than the test looks (it stops the run at the end): 60 or 100 epochs could
        # end before the checks on a slow host, and the finished page has another layout
        assert set_slider(page, "Epochs", 300) == "300"
        page.get_by_role("button", name=START).click()
        expect(page.locator(METRICS).first).to_be_visible(timeout=180_000)  # the first epoch has ended
        expect(page.locator(CHARTS)).to_have_count(2, timeout=60_000)
        expect(page.locator(METRICS).first).to_contain_text(
            "/ 300", timeout=30_000
        )  # this run's view, not the last one's
        wait_for_layout(page)
        assert_no_exception(page)
        assert stop_button(page).is_enabled(), "the run ended before the checks: train longer"
        sidebar = page.locator("[data-testid='stSidebar']").bounding_box()
        assert sidebar is not None and sidebar["width"] > 200, "the sidebar is not open"
        assert page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollTop") == 0
        assert_in_viewport(page, page.locator("[data-testid='stProgress']"), "the progress bar")
        metrics = page.locator(METRICS)
        assert_in_viewport(page, metrics.last, "the metric row")
        for i in range(2):
            assert_in_viewport(page, page.locator(CHARTS).nth(i), f"live chart {i + 1}")
    finally:
        stop = stop_button(page)
        if stop.count() and stop.is_enabled():
            stop.click()
            expect(page.get_by_role("button", name=START)).to_be_enabled(timeout=60_000)
        context.close()
