"""Browser test of the Evaluate page: a trained run, a click on the confusion matrix, the test set
unlocked and counted, and the report downloaded — all without an exception box.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from mnist_core.config import TrainConfig
from mnist_core.runs import storage
from tests.e2e.helpers import assert_no_exception, goto, wait_for_app
from tests.helpers import train_to_run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def trained(studio_home) -> storage.Run:
    """A small run saved into the server's home, the newest there, so the page opens on it."""
    return train_to_run(
        TrainConfig(model="logreg", epochs=2, augment=False), "sample", name="e2e evaluate", home=studio_home
    )


def test_evaluate_page_end_to_end(page, app_url, trained):
    goto(page, f"{app_url}/Evaluate")
    assert_no_exception(page)
    val = trained.evaluation("val")
    expect(page.get_by_text(re.compile(r"^(Below|Meets) the target"))).to_be_visible()  # the verdict
    expect(page.get_by_text(f"{val.accuracy:.2%}", exact=True).first).to_be_visible()

    # Clicking a heatmap cell selects it: the selectboxes follow and its images appear.
    # (force: the count drawn on the cell lies on top of it, as it does for a user's click)
    digit = max(range(10), key=lambda d: val.confusion[d][d])
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    chart.scroll_into_view_if_needed()
    chart.locator(f"path[aria-label^='Predicted digit: {digit}; True digit: {digit};']").click(force=True)
    wait_for_app(page)
    expect(page.get_by_role("combobox", name="True digit")).to_have_value(str(digit))
    expect(page.get_by_role("combobox", name="Predicted as")).to_have_value(str(digit))
    expect(page.get_by_text(f"images of {digit} correctly recognised")).to_be_visible()
    assert_no_exception(page)

    # The test set is locked until asked for; then its accuracy is shown and the look counted.
    expect(page.get_by_text("The test set is locked")).to_be_visible()
    page.get_by_role("button", name="Final evaluation on the test set").click()
    wait_for_app(page)
    assert_no_exception(page)
    run = storage.load_run(trained.path)
    assert run.meta["test_evaluations"] == 1
    test = run.evaluation("test")
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Test accuracy")
    expect(metric).to_contain_text(f"{test.accuracy:.2%}")
    expect(page.get_by_text("Test set used 1 time")).to_be_visible()

    # The report downloads as one offline HTML file that includes the test result.
    with page.expect_download() as info:
        page.get_by_role("button", name="Download report").click()
    html = open(info.value.path(), encoding="utf-8").read()
    assert html.startswith("<!DOCTYPE html>") and "<section id='test'>" in html
    assert f"{test.accuracy * 100:.2f}%" in html
    assert not re.search(r"https?:", html)
    assert_no_exception(page)
