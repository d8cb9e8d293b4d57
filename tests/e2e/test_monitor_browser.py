"""The Deploy page's Monitor tab in a real browser: a collected field with a saved monitor result
shows its verdict, its charts and the windows over time, with no exception."""

from __future__ import annotations

import re

import pytest

import ui
from mnist_core.config import TrainConfig
from mnist_core.monitoring.field import load_drawings
from mnist_core.monitoring.monitor import monitor, reference_from_digits
from mnist_core.monitoring.saved import save_result
from mnist_core.runs.listing import scan_runs
from tests.e2e.helpers import assert_no_exception, wait_for_app
from tests.e2e.test_deploy_latency import open_deploy
from tests.helpers import train_to_run
from tests.monitor_field import DAYS, collect_field

pytestmark = pytest.mark.browser


@pytest.fixture
def checked_run(studio_home):
    """The run the Deploy page selects (the newest), with a drifting field collected and checked
    here (the check's own job is tested in tests/app; in the browser only its result is drawn)."""
    if not scan_runs(studio_home).runs:
        train_to_run(TrainConfig(model="logreg", epochs=2, augment=False), "sample", home=studio_home)
    run = scan_runs(studio_home).runs[0]
    path = studio_home / ui.DRAWINGS_DB
    collect_field(path)
    val = run.split().val
    reference = reference_from_digits(val.images[:300].numpy(), val.labels[:300].numpy())
    save_result(
        run, monitor(run, load_drawings(path), reference=reference, window="day", permutations=200), "day"
    )
    return run


def test_monitor_tab_shows_the_verdict_charts_and_windows(page, app_url, checked_run):
    page.set_viewport_size({"width": 1280, "height": 720})
    open_deploy(page, app_url)
    page.get_by_role("tab", name=re.compile("Monitor")).click()
    wait_for_app(page)
    assert_no_exception(page)
    verdict = page.get_by_text(re.compile(r"The field (has drifted: p =|looks like the training data)"))
    verdict.first.wait_for(state="visible")
    assert page.get_by_text("Field drawings").first.is_visible()
    charts = page.locator("[data-testid='stVegaLiteChart']")
    charts.nth(3).wait_for(state="attached")  # traits, digit mix, confidence, windows
    assert charts.count() == 4
    page.get_by_text(re.compile(rf"Alarm in: .*{DAYS[1]}")).first.scroll_into_view_if_needed()
    assert page.get_by_role("link", name=re.compile("Train with the collected drawings")).count() >= 1
    assert_no_exception(page)
