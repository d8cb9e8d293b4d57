"""The Tune page in a real browser: a tiny logistic-regression search, set up through the page's
own widgets, shows its trials live (the counts and the table fill while the progress bar runs,
with no click), Stop ends it, and "Use the best on Train" loads the best trial's settings into
the Train page's controls. The study is deleted again through the page at the end."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mnist_core.config import nearest_option
from mnist_core.planning.tune.best import best_config
from mnist_core.planning.tune.results import list_studies, study_summary
from mnist_core.planning.tune.study import load_study
from tests.e2e.helpers import assert_no_exception, choose, goto, nav, type_in, wait_for_app

pytestmark = pytest.mark.browser

START = "▶ Start search"
JOB_TIMEOUT_MS = 240_000  # the CPU is shared; a slow machine must not fail a correct page


def metric(page: Page, label: str) -> int | None:
    """A count metric's value, or None when it is not on the page; never waits."""
    box = page.locator("[data-testid='stMetric']").filter(has=page.get_by_text(label, exact=True))
    values = box.locator("[data-testid='stMetricValue']").all_inner_texts()
    return int(values[0]) if values and values[0].strip().isdigit() else None


def thumb_value(page: Page, label: str) -> str:
    slider = page.locator("[data-testid='stSlider']").filter(has_text=label)
    return slider.locator("[data-testid='stSliderThumbValue']").first.inner_text()


def test_a_tiny_search_shows_trials_live_stops_and_sends_the_best_to_train(
    page: Page, app_url: str, studio_home: Path, stop_job_after
):
    goto(page, app_url)
    nav(page, "Tune")
    assert_no_exception(page)
    start = page.get_by_role("button", name=START)
    expect(start).to_be_enabled(timeout=JOB_TIMEOUT_MS)  # another test's job may still run
    name = f"browser-{uuid.uuid4().hex[:6]}"
    choose(page, "Model family", "Logistic regression")
    type_in(page, "Study name", name)
    type_in(page, "Training images per trial (0 = all)", "500")
    type_in(page, "Trials (0 = no limit)", "500")  # far more than the test waits for
    expect(page.get_by_text("logreg, 10 epochs at most: lr 0.001..0.1 (log)")).to_be_visible()
    start.click()

    progress = page.locator("[data-testid='stProgress']")
    expect(progress).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name=f"Study “{name}”")).to_be_visible()
    seen: set[int] = set()  # trial counts read off the page while the search runs by itself
    deadline = time.monotonic() + JOB_TIMEOUT_MS / 1000
    while time.monotonic() < deadline and not ((metric(page, "Complete") or 0) >= 2 and len(seen) >= 2):
        if progress.count():
            count = metric(page, "Trials")
            if count is not None:
                seen.add(count)
        page.wait_for_timeout(250)
    assert (metric(page, "Complete") or 0) >= 2 and len(seen) >= 2, seen
    expect(progress).to_be_visible()  # still running: the trials appeared live
    expect(page.locator("[data-testid='stDataFrame']")).to_be_visible()
    assert_no_exception(page)

    page.get_by_role("button", name="■ Stop", exact=True).click()
    expect(page.get_by_text(re.compile(r"Search stopped: best trial \d+"))).to_be_visible(timeout=60_000)
    # the notice comes first; the rerun that re-enables Start can take a few seconds on a busy CPU
    expect(start).to_be_enabled(timeout=60_000)
    expect(progress).to_have_count(0, timeout=60_000)
    study = load_study(name, f"sqlite:///{(studio_home / 'studies.db').resolve()}")
    summary = study_summary(study)
    assert summary["n_running"] == 0 and summary["n_complete"] >= 2 and summary["n_failed"] <= 1
    best, number = best_config(study), study.best_trial.number

    page.get_by_role("button", name="🏋️ Use the best on Train").click()
    wait_for_app(page)
    expect(page.get_by_text(f"Loaded trial {number} of “{name}” into Train")).to_be_visible()
    page.get_by_role("link", name="Open Train").click()
    wait_for_app(page)
    assert_no_exception(page)
    expect(page.get_by_role("combobox", name="Model family")).to_have_value("Logistic regression")
    assert thumb_value(page, "Learning rate") == f"{nearest_option('lr', best.lr):g}"
    assert thumb_value(page, "Weight decay") == f"{nearest_option('weight_decay', best.weight_decay):g}"
    expect(page.get_by_label("Run name (optional)")).to_have_value(f"{name} trial {number}")

    nav(page, "Tune")  # leave the studio as found: delete the study through the page
    row = (
        page.locator("[data-testid='stVerticalBlock']")
        .filter(has=page.get_by_text(name, exact=True))
        .filter(has=page.locator("[data-testid='stPopover']"))
        .last
    )  # the innermost: this study's row
    row.locator("[data-testid='stPopover']").click()
    page.get_by_role("button", name="Delete for good").click()
    wait_for_app(page)
    expect(page.get_by_text(f"Deleted the study “{name}” and all its trials.")).to_be_visible()
    assert name not in {
        s["name"] for s in list_studies(f"sqlite:///{(studio_home / 'studies.db').resolve()}")
    }
    assert_no_exception(page)
