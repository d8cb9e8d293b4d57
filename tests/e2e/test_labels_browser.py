"""The Labels page in a real browser: a saved audit's suspects are reviewed as a person does it
(one relabelled through its decision box, then the top N accepted) and every decision is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from mnist_core.data.sources import load_train_pool
from mnist_core.labels.audit import Audit, Suspect
from mnist_core.labels.store import DecisionStore, save_audit
from tests.e2e.helpers import assert_no_exception, goto, wait_for_app

pytestmark = pytest.mark.browser

AUDIT_ID = "20261207-130000-0e2e0e"


def metric(page: Page, label: str):
    return (
        page.locator("[data-testid='stMetric']")
        .filter(has_text=label)
        .locator("[data-testid='stMetricValue']")
    )


def test_review_flow(page: Page, app_url: str, studio_home: Path):
    labels = load_train_pool("sample").labels[:3].tolist()
    suspects = []
    for i, given in enumerate(labels):
        probs = [0.02] * 10
        probs[(given + 2) % 10], probs[given] = 0.78, 0.04
        suspects.append(Suspect(i, given, (given + 2) % 10, 0.04, "training", probs))
    save_audit(
        Audit(
            AUDIT_ID,
            "sample",
            "Offline sample",
            "quick CNN",
            5,
            4290,
            suspects,
            9.0,
            "2026-12-07T13:00:00+00:00",
        ),
        studio_home,
    )
    goto(page, f"{app_url}/Labels")
    assert_no_exception(page)
    expect(page.get_by_text("The model can be the one that is wrong", exact=False)).to_be_visible()
    first = page.locator(".st-key-labels-card_1")
    expect(first).to_contain_text(f"given {labels[0]}")
    expect(page.locator("[class*='st-key-labels-card_'] img")).to_have_count(3)

    relabel_to = (labels[0] + 5) % 10
    option = page.get_by_role("option", name=f"relabel as {relabel_to}", exact=True)
    for _ in range(3):  # a rerun landing on the click closes the list: open it again
        wait_for_app(page)
        first.locator("[data-testid='stSelectbox']").click()
        try:
            option.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    option.click()
    wait_for_app(page)
    expect(metric(page, "Relabelled")).to_have_text("1")
    stored = DecisionStore(studio_home).decisions("sample")
    assert stored[("training", 0)].label == relabel_to

    page.get_by_label("Top N").fill("3")
    page.get_by_label("Top N").press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Accept the suggestion for the top N").click()
    wait_for_app(page)
    expect(metric(page, "Reviewed")).to_have_text("3")
    stored = DecisionStore(studio_home).decisions("sample")
    assert [stored[("training", i)].label for i in range(3)] == [s.suggested for s in suspects]
    assert_no_exception(page)
