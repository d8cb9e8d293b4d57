"""Browser test of the Evaluate page's calibration tab: with a trained run, opening "Can we trust
its confidence?" shows the reliability diagram (a drawn Vega chart, in view) and the ECE; fitting
the temperature saves it with the run and shows the ECE after scaling.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from mnist_core.config import TrainConfig
from mnist_core.evaluation import calibration
from mnist_core.runs import storage
from tests.e2e.helpers import assert_no_exception, goto, wait_for_app
from tests.helpers import train_to_run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def trained(studio_home) -> storage.Run:
    """A small run saved into the server's home, the newest there, so the page opens on it."""
    return train_to_run(
        TrainConfig(model="logreg", epochs=2, augment=False),
        "sample",
        name="e2e calibration",
        home=studio_home,
    )


def assert_in_view(page: Page, box: dict | None, what: str) -> None:
    assert box is not None, f"{what} is not rendered"
    size = page.viewport_size
    assert box["width"] > 100 and box["height"] > 100, f"{what} is drawn {box['width']}×{box['height']}"
    assert 0 <= box["y"] and box["y"] + 100 <= size["height"], f"{what} at {box} is not in the viewport"


def test_reliability_diagram_and_ece(page, app_url, trained):
    goto(page, app_url)
    goto(page, f"{app_url}/Evaluate")
    assert_no_exception(page)
    tab = page.get_by_role("tab", name=re.compile("Can we trust its confidence"))
    tab.scroll_into_view_if_needed()
    tab.click()
    wait_for_app(page)
    assert_no_exception(page)
    panel = page.get_by_role("tabpanel").filter(has_text="ECE before scaling")
    expect(panel).to_be_visible()

    # The reliability diagram is the first chart of the tab, drawn (a canvas or an SVG), in view.
    chart = panel.locator("[data-testid='stVegaLiteChart']").first
    chart.scroll_into_view_if_needed()
    drawn = chart.locator("canvas, svg").first
    expect(drawn).to_be_visible()
    assert_in_view(page, drawn.bounding_box(), "the reliability diagram")

    ece = panel.locator("[data-testid='stMetric']").filter(has_text="ECE before scaling")
    expect(ece).to_contain_text(re.compile(r"\d+\.\d\d%"))
    expect(panel.locator("[data-testid='stMetric']").filter(has_text="ECE after scaling")).to_contain_text(
        "not fitted"
    )

    # Fitting the temperature saves it with the run, and the ECE after scaling appears.
    panel.get_by_role("button", name=re.compile("Fit the temperature")).click()
    wait_for_app(page)
    assert_no_exception(page)
    saved = storage.load_run(trained.path).meta.get("calibration")
    assert saved is not None, "the temperature was not saved with the run"
    panel = page.get_by_role("tabpanel").filter(has_text="ECE after scaling")
    after = panel.locator("[data-testid='stMetric']").filter(has_text="ECE after scaling")
    expect(after).to_contain_text(f"{saved['ece_after']:.2%}")
    t = calibration.run_temperature(storage.load_run(trained.path))
    expect(panel.get_by_text(f"T = {t:.3f}", exact=False).first).to_be_visible()
