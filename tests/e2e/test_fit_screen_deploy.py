"""The Deploy page fits a projector: at 1280×720 and at 1920×1080, with the sidebar open, the
whole canvas, the answer and the probability bars are on screen together without scrolling,
and the model's honesty note is one line with its details on demand."""

from __future__ import annotations

import pytest

from mnist_core.config import TrainConfig
from tests.e2e.helpers import assert_in_viewport, assert_no_exception, wait_for_app
from tests.e2e.test_deploy_latency import ANSWER, CANVAS, draw_digit, open_deploy
from tests.helpers import train_to_run

BARS = "[data-testid='stVegaLiteChart']"
SCREENS = [(1280, 720), (1920, 1080)]


@pytest.fixture(scope="module")
def a_run(studio_home):
    run = train_to_run(
        TrainConfig(model="cnn", cnn_channels=8, epochs=2, augment=False, max_train_samples=2000),
        "sample",
        home=studio_home,
    )
    assert run is not None
    return run


@pytest.mark.parametrize("width, height", SCREENS, ids=[f"{w}x{h}" for w, h in SCREENS])
def test_canvas_answer_and_bars_fit_the_screen(browser, app_url, a_run, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        open_deploy(page, app_url)
        sidebar = page.locator("[data-testid='stSidebar']").bounding_box()
        assert sidebar is not None and sidebar["x"] == 0 and sidebar["width"] > 200, "the sidebar is not open"
        assert_in_viewport(page, page.locator(CANVAS).first, CANVAS)
        draw_digit(page, "7")
        page.locator(ANSWER).wait_for(state="visible")
        page.locator(BARS).wait_for(state="visible")
        wait_for_app(page)
        assert_no_exception(page)
        for selector in (CANVAS, ANSWER, BARS):
            assert_in_viewport(page, page.locator(selector).first, selector)
        assert page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollTop") == 0

        # the honesty note: one line in view, the whole explanation one click away
        line = page.get_by_text("read the confidence").first
        assert line.is_visible()
        page.get_by_role("button", name="Details").click()
        page.get_by_text("it is the model's own score, not a guarantee").wait_for(state="visible")
    finally:
        context.close()
