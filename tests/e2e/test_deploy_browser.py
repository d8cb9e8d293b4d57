"""The Deploy page in a real browser: draw a digit with the mouse, read the answer, label it,
find it in the collected data; move a drawn digit in the canvas' edit mode and the answer
follows; a refused upload takes the previous answer off the screen."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ui
from mnist_core.config import TrainConfig
from mnist_core.deploy.collect import DrawingStore
from tests.e2e.helpers import assert_no_exception, wait_for_app
from tests.e2e.test_deploy_latency import ANSWER, CANVAS, draw_digit, open_deploy, toolbar_button
from tests.helpers import train_to_run

pytestmark = pytest.mark.browser

SEEN = "img[alt='What the model saw']"
VERDICT = "[data-testid='stAlert']"  # "A 7, with 93% confidence." or "Not sure: …"


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


@pytest.fixture(scope="module")
def run(studio_home):
    """A small CNN, the newest run (so the page selects it)."""
    return train_to_run(
        TrainConfig(model="cnn", cnn_channels=8, epochs=2, augment=False, max_train_samples=2000),
        "sample",
        home=studio_home,
    )


def test_draw_predict_label_and_find_it_in_the_collected_data(page, app_url, studio_home, run):
    store = DrawingStore(studio_home / ui.DRAWINGS_DB)
    before = {d.id for d in store.list()}

    open_deploy(page, app_url)

    draw_vertical_stroke(page)
    answer = page.locator(ANSWER)
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
    assert (entry.true_label, entry.predicted, entry.model, entry.source) == (
        1,
        int(said.group(1)),
        run.id,
        "canvas",
    )
    assert store.original_png(entry.id).startswith(b"\x89PNG")

    page.get_by_role("tab", name=re.compile("Collected data")).click()
    wait_for_app(page)
    page.get_by_text(f"#{entry.id} · is 1").wait_for(state="visible")
    assert_no_exception(page)


def test_moving_the_digit_in_edit_mode_changes_the_answer(page, app_url, run):
    """The canvas' edit mode (its toolbar's ✏️ Edit): drag the drawn digit half off the canvas and
    the model's input, its answer and its probabilities follow, with no button pressed."""
    open_deploy(page, app_url)
    draw_digit(page, "7")
    page.locator(ANSWER).wait_for(state="visible", timeout=30_000)
    wait_for_app(page)
    before = (page.locator(SEEN).get_attribute("src"), page.locator(VERDICT).first.inner_text())

    edit = toolbar_button(page, "Edit")
    edit.click()
    assert edit.get_attribute("aria-pressed") == "true"
    box = page.locator(CANVAS).bounding_box()
    grab = (box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.18)  # on the 7's top bar
    page.mouse.move(*grab)
    page.mouse.down()
    for i in range(1, 21):  # to the right, until most of the 7 is past the canvas' edge
        page.mouse.move(grab[0] + box["width"] * 0.45 * i / 20, grab[1])
    page.mouse.up()

    page.wait_for_function(
        "([seen, before]) => { const img = document.querySelector(seen); return img && img.src !== before; }",
        arg=[SEEN, before[0]],
        timeout=30_000,
    )
    wait_for_app(page)
    assert_no_exception(page)
    after = page.locator(VERDICT).first.inner_text()
    assert after != before[1], f"the answer stayed {after!r} after the digit was moved half off the canvas"


def upload(page, path: Path) -> None:
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
    wait_for_app(page)
    assert_no_exception(page)


def test_a_refused_upload_takes_the_previous_answer_away(page, app_url, run, tmp_path):
    digit = np.full((200, 200), 255, np.uint8)
    digit[30:170, 92:108] = 0  # a dark "1" on white paper
    photo = tmp_path / "one.png"
    Image.fromarray(digit).save(photo)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    huge = tmp_path / "huge.png"
    huge.write_bytes(photo.read_bytes() + bytes(6_000_000))  # over the 5 MB cap

    open_deploy(page, app_url)
    page.get_by_text("Upload", exact=True).click()
    page.get_by_text("Upload a digit").first.wait_for(state="visible")
    for refused in (notes, huge):
        upload(page, photo)
        page.locator(ANSWER).wait_for(state="visible")
        upload(page, refused)  # the uploader refuses it and keeps holding one.png
        page.get_by_text("That file was refused").wait_for(state="visible")
        assert page.locator(ANSWER).count() == 0, f"the answer for one.png stayed after {refused.name}"
        assert page.get_by_role("button", name=re.compile("Correct, it is")).count() == 0
