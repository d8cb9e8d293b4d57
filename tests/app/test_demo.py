"""The guided demo's step machine: Start from Home, Next / Back, resume after a page switch, a
live training that ends in the report, and a stopped training handled honestly."""

from __future__ import annotations

import time

import ui
from mnist_core import config
from mnist_core.config import TrainConfig
from tests.app.conftest import open_page, texts
from tests.helpers import train_to_run
from ui import state as keys

TINY = TrainConfig(model="logreg", epochs=2, augment=False, max_train_samples=600)


def metric_values(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def step_text(at) -> str:
    return at.get("progress")[0].proto.text


def poll(at, until, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        if until(at):
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out\n{texts(at)}")


def start_demo():
    at = open_page()
    at.button(key=keys.HOME_DEMO).click().run()
    assert not at.exception
    return at


def test_start_next_back_and_resume_after_a_page_switch():
    at = start_demo()
    assert step_text(at).startswith("Step 1 of 7")
    shown = metric_values(at)
    assert shown["Images to label"] == "70,000" and shown["Labeling time"] == "97 h"
    assert shown["3 people × 8 h/day"] == "about 4 days"
    assert at.button(key=keys.DEMO_BACK).disabled
    at.button(key=keys.DEMO_NEXT).click().run()
    at.button(key=keys.DEMO_NEXT).click().run()
    assert step_text(at).startswith("Step 3 of 7 · Preprocess")
    at.button(key=keys.DEMO_BACK).click().run()
    assert step_text(at).startswith("Step 2 of 7 · Data") and not at.exception
    at.switch_page("pages/Train.py").run()
    at.switch_page(ui.DEMO.file).run()
    assert step_text(at).startswith("Step 2 of 7 · Data")


def test_live_training_then_matrix_canvas_and_report(monkeypatch):
    monkeypatch.setattr(config, "quick_config", lambda: TINY)
    at = open_page(ui.DEMO.file, **{keys.DEMO_STEP: 3})
    at.button(key=keys.DEMO_TRAIN).click().run()
    poll(at, lambda a: "Trained in this demo" in texts(a) or bool(ui.all_jobs().job.snapshot().saved))
    at.run()
    at.button(key=keys.DEMO_NEXT).click().run()
    assert not at.exception and at.get("vega_lite_chart"), texts(at)
    assert "Validation accuracy" in metric_values(at)
    at.button(key=keys.DEMO_NEXT).click().run()
    assert not at.exception
    at.button(key=keys.DEMO_NEXT).click().run()
    buttons = at.get("download_button")
    assert buttons and "Download the report" in buttons[0].proto.label


def test_a_failed_training_says_so_and_offers_the_latest_saved_run(monkeypatch, tmp_path):
    earlier = train_to_run(TrainConfig(model="logreg", epochs=1, augment=False), "sample", name="earlier")
    monkeypatch.setattr(config, "quick_config", lambda: TINY)
    # a folder without MNIST
    at = open_page(ui.DEMO.file, **{keys.DEMO_STEP: 3, keys.APP_DATA_SPEC: str(tmp_path)})
    at.button(key=keys.DEMO_TRAIN).click().run()
    ui.all_jobs().job.join(30)
    poll(at, lambda a: "nothing was saved" in texts(a))
    assert "failed" in texts(at)
    at.button(key=keys.DEMO_USE_LATEST).click().run()
    at.session_state[keys.APP_DATA_SPEC] = "sample"
    at.button(key=keys.DEMO_NEXT).click().run()
    assert not at.exception and "Validation accuracy" in metric_values(at)
    assert at.session_state[keys.DEMO_RUN_ID] == earlier.id


def test_stop_during_the_demo_training_is_reported(monkeypatch):
    monkeypatch.setattr(config, "quick_config", lambda: TrainConfig(epochs=200, cnn_channels=8))
    at = open_page(ui.DEMO.file, **{keys.DEMO_STEP: 3})
    at.button(key=keys.DEMO_TRAIN).click().run()
    at.button(key=keys.DEMO_STOP).click().run()
    ui.all_jobs().job.join(60)
    poll(at, lambda a: "stopped" in texts(a).lower() and not ui.job_running())
    assert not at.exception
