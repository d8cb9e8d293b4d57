"""The Train page in a real browser: a short run updates live without clicks and is saved; a long
run survives leaving the page and coming back, and the Stop button ends it as "stopped". (Several
sessions, each with its own jobs, and what a reload sees: test_sessions_browser.py.)"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mnist_core.runs import storage
from mnist_core.runs.listing import scan_runs
from tests.e2e.helpers import assert_no_exception, choose, goto, wait_for_app

pytestmark = pytest.mark.browser

START = "Start training"


def stop_button(page: Page):
    return page.get_by_role("button", name="■ Stop", exact=True)


JOB_TIMEOUT_MS = 240_000  # the CPU is shared; a slow machine must not fail a correct page


def progress_text(page: Page) -> str:
    """The progress bar's text, or "" (never waits: the bar goes away when the job ends)."""
    texts = page.locator("[data-testid='stProgress']").all_inner_texts()
    return texts[0] if texts else ""


def metric(page: Page, label: str) -> str:
    """A metric's value, or "" when it is not (or no longer) on the page; never waits."""
    box = page.locator("[data-testid='stMetric']").filter(has_text=label)
    values = box.locator("[data-testid='stMetricValue']").all_inner_texts()
    return values[0] if values else ""


def set_slider(page: Page, label: str, value: int) -> str:
    """Move a slider (plain or with a grid of options) with the keyboard, as a user can; returns
    the value it shows after the rerun."""
    thumb = page.locator("[data-testid='stSlider']").filter(has_text=label).get_by_role("slider")

    def shown() -> float:  # the label on the thumb: the value itself, also for a grid of options
        return float(thumb.get_attribute("aria-valuetext") or thumb.get_attribute("aria-valuenow"))

    for _ in range(3):  # a rerun landing between key presses may swallow one: check and go again
        thumb.focus()
        for _ in range(200):
            current = shown()
            if current == value:
                break
            thumb.press("ArrowRight" if current < value else "ArrowLeft")
            page.wait_for_timeout(50)
        wait_for_app(page)
        if shown() == value:
            break
    return f"{shown():g}"


def open_train(page: Page, url: str) -> None:
    goto(page, f"{url}/Train")
    assert_no_exception(page)
    # Another test's job may still be running on this shared server: wait until Start is back.
    expect(page.get_by_role("button", name=START)).to_be_enabled(timeout=JOB_TIMEOUT_MS)


def saved_runs(home: Path) -> list[storage.Run]:
    return scan_runs(home).runs


@pytest.fixture
def stop_job_after(page: Page, app_url: str):
    """If a test fails mid-run, stop its job so it cannot block the next browser test."""
    yield
    stop = stop_button(page)
    try:
        if stop.count() and stop.is_enabled():
            stop.click()
    except Exception:  # a closed or broken page: nothing left to stop from here
        pass


def test_a_short_run_updates_live_and_is_saved(page, app_url, studio_home, stop_job_after):
    open_train(page, app_url)
    before = {r.id for r in saved_runs(studio_home)}
    # 20 CNN epochs: 2-3 s of training, so the 2 Hz refresh shows several epochs go by
    assert set_slider(page, "Epochs", 20) == "20"
    page.get_by_role("button", name=START).click()

    # The page must move by itself: progress text and the epoch counter change with no clicks.
    expect(page.locator("[data-testid='stProgress']")).to_be_visible(timeout=60_000)
    seen = {progress_text(page)}
    epochs_seen: set[str] = set()
    deadline = time.monotonic() + JOB_TIMEOUT_MS / 1000
    while time.monotonic() < deadline and page.get_by_role("button", name=START).is_disabled():
        seen.add(progress_text(page))
        epochs_seen.add(metric(page, "Epoch"))
        page.wait_for_timeout(200)
    assert len(seen - {""}) >= 2, seen
    assert len(epochs_seen - {""}) >= 2, epochs_seen  # the curves' data grew while we watched

    expect(page.get_by_text("Training finished")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Saved as run"))).to_be_visible()
    assert page.locator("[data-testid='stVegaLiteChart']").count() >= 2
    assert_no_exception(page)
    new = [r for r in saved_runs(studio_home) if r.id not in before]
    assert len(new) == 1 and new[0].meta["status"] == "finished"
    assert (new[0].config.model, new[0].config.epochs) == ("cnn", 20)  # what the widgets said
    expect(page.locator("code", has_text=new[0].id)).to_be_visible()  # "Saved as run …"


def test_a_long_run_survives_leaving_the_page_and_stops(page, app_url, studio_home, stop_job_after):
    open_train(page, app_url)
    before = {r.id for r in saved_runs(studio_home)}
    choose(page, "Preset", "fast CNN")
    assert set_slider(page, "Epochs", 100) == "100"  # 100 CNN epochs: far longer than this test waits
    # 54 batches an epoch on the sample (the default 512 makes 7, all reported at the epoch's
    # end), so the progress shows batch-level text mid-epoch
    assert set_slider(page, "Batch size", 64) == "64"
    page.get_by_role("button", name=START).click()
    expect(page.locator("[data-testid='stProgress']")).to_contain_text("batch", timeout=120_000)

    # Leave for another page and come back: the job is still there, still moving.
    page.locator("[data-testid='stSidebarNav'] a[href$='/Data']").click()
    expect(page.locator("[data-testid='stMain'] h1").first).to_contain_text("Data", timeout=60_000)
    page.locator("[data-testid='stSidebarNav'] a[href$='/Train']").click()
    expect(page.locator("[data-testid='stMain'] h1").first).to_contain_text("Train", timeout=60_000)
    bar = page.locator("[data-testid='stProgress']")
    expect(bar).to_be_visible(timeout=60_000)
    first = progress_text(page)
    expect(bar).not_to_have_text(first, timeout=60_000)
    assert_no_exception(page)

    # Stop mid-epoch: wait for a batch-level progress text, then press Stop.
    expect(bar).to_contain_text("batch", timeout=60_000)
    stop_button(page).click()
    expect(page.get_by_role("button", name=START)).to_be_enabled(timeout=30_000)
    expect(page.get_by_text("Stopped by the user")).to_be_visible()
    assert_no_exception(page)
    new = [r for r in saved_runs(studio_home) if r.id not in before]
    assert len(new) == 1 and new[0].meta["status"] == "stopped"
    assert new[0].meta["epochs_run"] < new[0].config.epochs
