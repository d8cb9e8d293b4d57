"""Deploy's "why did it say that?" in a real browser: draw a digit with the mouse, open the view,
see the attribution overlay for the answer, ask "why not" another digit, draw the next digit with
the view open (the overlay follows the new answer), and look inside the network."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

from mnist_core.config import quick_config
from tests.e2e.helpers import assert_no_exception, wait_for_app
from tests.e2e.test_deploy_latency import ANSWER, clear_canvas, draw_digit, open_deploy
from tests.helpers import train_to_run

pytestmark = pytest.mark.slow

OVERLAY = ".st-key-deploy-explain_overlay"  # ui/deploy_explain.py: the overlay's container
PICKER = ".st-key-deploy-explain_digit"  # the "explain the digit" picker
EXPLAIN = ".st-key-deploy-explain"  # the whole expander
OVERLAY_PX = 252  # 28 px × deploy_explain.OVERLAY_SCALE


@pytest.fixture(scope="module")
def cnn_run(studio_home):
    """The quick demo model (the default CNN preset): the newest run, so the page selects it."""
    run = train_to_run(quick_config(), "sample", home=studio_home)
    assert run is not None
    return run


def answer(page: Page) -> str:
    shown = page.locator(ANSWER)
    shown.wait_for(state="visible", timeout=30_000)
    wait_for_app(page)
    assert_no_exception(page)
    said = re.fullmatch(r"(\d)\??", shown.inner_text().strip())
    assert said, shown.inner_text()
    return said.group(1)


def overlay_caption(page: Page, text: str) -> None:
    """Wait for the overlay with this caption, and check that its picture really loaded."""
    box = page.locator(OVERLAY)
    box.get_by_text(text, exact=True).wait_for(state="visible")
    image = box.locator("img").first
    image.wait_for(state="visible")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("(img) => img.naturalWidth") == OVERLAY_PX


def test_the_attribution_overlay_explains_the_drawn_digit(page, app_url, cnn_run):
    open_deploy(page, app_url)
    draw_digit(page, "7")
    digit = answer(page)
    assert page.locator(OVERLAY).count() == 0  # closed: nothing computed, nothing shown

    page.get_by_text("Why did it say that?").click()
    overlay_caption(page, f"Why a {digit}?")
    page.get_by_text("Integrated Gradients").first.wait_for(state="visible")  # the method, named
    assert_no_exception(page)

    other = "1" if digit != "1" else "7"
    page.locator(PICKER).get_by_role("radio", name=other, exact=True).click()
    overlay_caption(page, f"Why not a {other}?")
    wait_for_app(page)
    assert_no_exception(page)

    clear_canvas(page)
    draw_digit(page, "0")  # the view stays open and follows the new answer
    digit = answer(page)
    overlay_caption(page, f"Why a {digit}?")
    assert_no_exception(page)

    page.get_by_role("tab", name=re.compile("Inside the network")).click()
    page.get_by_text(re.compile(r"^Feature maps, block 1:")).wait_for(state="visible")
    page.get_by_text(re.compile(r"^First-layer filters")).wait_for(state="visible")
    wait_for_app(page)
    assert_no_exception(page)
    bars = page.locator(f"{EXPLAIN} [data-testid='stVegaLiteChart'] [aria-roledescription='bar']")
    bars.first.wait_for(state="attached")
    assert bars.count() == quick_config().cnn_hidden, "one bar per unit of the CNN's dense layer"
    tallest = bars.evaluate_all("els => Math.max(...els.map(e => e.getBoundingClientRect().height))")
    assert tallest > 30, f"the hidden-unit bars are squashed (tallest {tallest:.0f} px)"
