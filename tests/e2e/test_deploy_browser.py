"""The Deploy page in a real browser: draw a digit with the mouse, read the answer, label it,
find it in the collected data."""

from __future__ import annotations

import re

import pytest

from mnist_core.collect import DrawingStore
from mnist_core.config import TrainConfig
from mnist_core.pipeline import train_to_run
from tests.e2e.helpers import assert_no_exception, goto, wait_for_app

pytestmark = pytest.mark.browser

CANVAS = "div[data-testid='stBidiComponentIsolated'] canvas.upper-canvas"


def draw_vertical_stroke(page) -> None:
    """A "1": mouse down near the top of the canvas, about 20 moves down, mouse up."""
    canvas = page.locator(CANVAS)
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    x = box["x"] + box["width"] / 2
    top, bottom = box["y"] + box["height"] * 0.15, box["y"] + box["height"] * 0.85
    page.mouse.move(x, top)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x + i * 0.3, top + (bottom - top) * i / 20)
    page.mouse.up()


def test_draw_predict_label_and_find_it_in_the_collected_data(page, app_url, studio_home):
    run = train_to_run(TrainConfig(model="cnn", cnn_channels=8, epochs=2, augment=False,
                                   max_train_samples=2000), "sample", home=studio_home)
    store = DrawingStore(studio_home / "drawings.db")
    before = {d.id for d in store.list()}

    goto(page, f"{app_url}/Deploy")
    assert_no_exception(page)
    page.get_by_text("Draw a digit").first.wait_for(state="visible")

    draw_vertical_stroke(page)
    answer = page.locator(".deploy-answer")
    answer.wait_for(state="visible", timeout=30_000)  # the answer comes without pressing anything
    wait_for_app(page)
    assert_no_exception(page)
    said = re.fullmatch(r"(\d)\??", answer.inner_text().strip())
    assert said, answer.inner_text()
    assert page.get_by_text(re.compile(r"confidence|Not sure")).first.is_visible()

    page.get_by_role("button", name="1", exact=True).click()  # "It was a … 1"
    page.get_by_text("Saved as a").first.wait_for(state="visible")
    wait_for_app(page)
    assert_no_exception(page)
    new = [d for d in store.list() if d.id not in before]
    assert len(new) == 1
    entry = new[0]
    assert (entry.true_label, entry.predicted, entry.model, entry.source) == (1, int(said.group(1)), run.id, "canvas")
    assert store.original_png(entry.id).startswith(b"\x89PNG")

    page.get_by_role("tab", name=re.compile("Collected data")).click()
    wait_for_app(page)
    page.get_by_text(f"#{entry.id} · is 1").wait_for(state="visible")
    assert_no_exception(page)
