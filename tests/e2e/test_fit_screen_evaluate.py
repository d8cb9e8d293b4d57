"""The Evaluate page fits a projector: at 1280×720 and 1920×1080, with the sidebar open, the
confusion matrix and the images of the selected cell (the top confusion, pre-selected when the
page opens) are inside the viewport without scrolling."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mnist_core.config import TrainConfig
from mnist_core.evaluation import judge
from mnist_core.runs import storage
from mnist_core.runs.listing import scan_runs
from tests.e2e.helpers import assert_in_viewport, assert_no_exception, goto
from tests.helpers import train_to_run

pytestmark = pytest.mark.browser

SIZES = [(1280, 720), (1920, 1080)]


@pytest.fixture(scope="module")
def newest(studio_home) -> storage.Run:
    """A small run saved into the server's home, the newest there, so the page opens on it."""
    train_to_run(
        TrainConfig(model="logreg", epochs=1, augment=False),
        "sample",
        name="e2e fit screen",
        home=studio_home,
    )
    return scan_runs(studio_home).runs[0]


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_matrix_and_cell_images_fit_the_screen(browser, app_url, newest, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        goto(page, app_url)  # as a presenter arrives: the app first, then the page
        goto(page, f"{app_url}/Evaluate")
        assert_no_exception(page)
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar).to_have_attribute("data-collapsed", "false")
        assert sidebar.bounding_box()["width"] > 200  # open, taking its share of the screen
        t, p, count = judge.top_confusions(newest.evaluation("val"), 1)[0]
        expect(page.get_by_text(f"images of {t} mistaken for {p}")).to_be_visible()
        assert page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollTop") == 0

        heatmap = page.locator("[data-testid='stVegaLiteChart']").first
        assert_in_viewport(page, heatmap, "the confusion matrix")
        cell = page.locator("[data-testid='stImage']").first  # the cell's images come first
        assert_in_viewport(page, cell, "the images of the selected cell")
        thumbs = cell.locator("img")
        assert thumbs.count() == min(count, 16)
        for i in range(thumbs.count()):
            assert_in_viewport(page, thumbs.nth(i), f"image {i + 1} of the selected cell")
    finally:
        context.close()
