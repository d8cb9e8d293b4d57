"""The guided demo as a presenter gives it: on a 1280×720 projector in presenter mode, from Home's
button through all seven steps — the live training of the quick preset, the confusion matrix of
that fresh run, a digit drawn on the canvas — to the downloaded report, with no exception and
each step's key element in view without scrolling."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_in_viewport, assert_no_exception, goto, wait_for_app
from tests.e2e.test_deploy_latency import ANSWER, CANVAS, draw_digit

pytestmark = pytest.mark.browser
WIDTH, HEIGHT = 1280, 720


def in_view(page: Page, locator) -> None:
    expect(locator).to_be_visible(timeout=60_000)
    assert_in_viewport(page, locator, str(locator))


def step_to(page: Page, number: int) -> None:
    page.get_by_role("button", name="Next ▶").click()
    expect(page.locator("[data-testid='stProgress']").first).to_contain_text(f"Step {number} of 7")
    wait_for_app(page)
    assert_no_exception(page)


def test_the_demo_from_start_to_the_report(browser, app_url, tmp_path):
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        goto(page, app_url)
        goto(page, f"{app_url}/?present=1")
        page.get_by_role("button", name="🎬 Start the 3-minute demo").click()
        expect(page.locator("[data-testid='stProgress']").first).to_contain_text("Step 1 of 7")
        wait_for_app(page)
        assert_no_exception(page)
        in_view(page, page.locator("[data-testid='stMetric']").filter(has_text="Labeling time"))
        assert (
            "97 h" in page.locator("[data-testid='stMetric']").filter(has_text="Labeling time").inner_text()
        )

        step_to(page, 2)
        in_view(page, page.locator("[data-testid='stMain'] [data-testid='stImage'] img").first)
        step_to(page, 3)
        in_view(page, page.locator("[data-testid='stMetric']").filter(has_text="Test: used once"))

        step_to(page, 4)
        page.get_by_role("button", name="▶ Train the quick model live").first.click()
        expect(page.get_by_text("Training finished").first).to_be_visible(timeout=240_000)
        wait_for_app(page)
        assert_no_exception(page)
        in_view(page, page.locator("[data-testid='stMain'] [data-testid='stVegaLiteChart']").first)

        step_to(page, 5)
        in_view(page, page.locator("[data-testid='stMain'] [data-testid='stVegaLiteChart']").first)
        in_view(page, page.locator("[data-testid='stMetric']").filter(has_text="Validation accuracy"))

        step_to(page, 6)
        in_view(page, page.locator(CANVAS))
        draw_digit(page, "7")
        in_view(page, page.locator(ANSWER))

        step_to(page, 7)
        button = page.get_by_role("button", name="⬇ Download the report (one offline HTML file)")
        in_view(page, button)
        with page.expect_download() as download:
            button.click()
        path = tmp_path / "report.html"
        download.value.save_as(path)
        html = path.read_text()
        assert "<html" in html.lower() and "demo: quick model" in html
        assert_no_exception(page)
    finally:
        context.close()
