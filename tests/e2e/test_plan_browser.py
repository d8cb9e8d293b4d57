"""The Plan page in a real browser: a small learning curve (logistic regression on tiny sizes, all
chosen through the page's widgets) is measured in the background while the page updates by
itself, then the estimate sentence, the chart and the honesty check appear (the answer in view
at 1280×720 with no scrolling), and the saved curve can be deleted again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mnist_core.planning.curve.store import list_curves
from tests.e2e.helpers import (
    assert_in_viewport,
    assert_no_exception,
    choose,
    goto,
    nav,
    type_in,
    wait_for_app,
)

pytestmark = pytest.mark.browser

MEASURE = "📈 Measure the learning curve"
JOB_TIMEOUT_MS = 240_000  # the CPU is shared; a slow machine must not fail a correct page


def test_a_small_curve_is_measured_and_answers_in_words(
    page: Page, app_url: str, studio_home: Path, stop_job_after
):
    # A target logistic regression reaches on tiny subsets: Define's slider at its lowest, 50 %.
    goto(page, app_url)  # then the sidebar: one browser session, so the target carries over
    nav(page, "Define the task")
    page.locator("[data-testid='stSlider']").filter(has_text="Target accuracy").get_by_role("slider").press(
        "Home"
    )
    wait_for_app(page)
    expect(page.get_by_text("Target set to 50.0%")).to_be_visible()
    nav(page, "Plan")
    assert_no_exception(page)
    measure = page.get_by_role("button", name=MEASURE)
    expect(measure).to_be_enabled(timeout=JOB_TIMEOUT_MS)  # another test's job may still run
    before = {c.id for c in list_curves(studio_home)}

    choose(page, "Model configuration", "Logistic regression (baseline ladder)")
    type_in(page, "Training-set sizes (comma-separated; empty = the default)", "20, 40, 80, 160")
    type_in(page, "Seeds", "1")
    expect(page.get_by_text("4 sizes: 20, 40, 80, 160 of 3,432 training images")).to_be_visible()
    measure.click()

    expect(page.locator("[data-testid='stProgress']")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible()  # points land here
    expect(page.get_by_text(re.compile(r"Measured and fitted\. Saved as"))).to_be_visible(
        timeout=JOB_TIMEOUT_MS
    )
    expect(measure).to_be_enabled()
    assert_no_exception(page)

    sentence = page.get_by_text(
        re.compile(
            r"To reach 50 % you need about [\d,]+ labelled images \((range|the range)[^)]*\)\. You have 3,432"
        )
    )
    expect(sentence).to_be_visible()
    # the answer comes first once it is in: on a 1280×720 projector, with no scrolling
    page.set_viewport_size({"width": 1280, "height": 720})
    page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollTo(0, 0)")
    assert_in_viewport(page, page.get_by_text(re.compile(r"Measured and fitted\. Saved as")), "how it ended")
    assert_in_viewport(page, sentence, "the answer in words")
    page.set_viewport_size({"width": 1400, "height": 1000})
    expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible()
    expect(page.locator("[data-testid='stMetric']").filter(has_text="Measured at 160 images")).to_be_visible()
    expect(page.get_by_text(re.compile(r"The curve fitted on ≤ 80 images predicted"))).to_be_visible()
    [new] = [c for c in list_curves(studio_home) if c.id not in before]
    assert [p["size"] for p in new.points] == [20, 40, 80, 160] and new.config.model == "logreg"

    # delete it again, so the other browser tests see the studio as they left it
    page.locator("[data-testid='stPopover']").first.click()  # the newest curve is listed first
    page.get_by_role("button", name="Delete for good").click()
    wait_for_app(page)
    expect(page.get_by_text(f"Deleted the learning curve {new.id}.")).to_be_visible()
    assert new.id not in {c.id for c in list_curves(studio_home)}
    assert_no_exception(page)
