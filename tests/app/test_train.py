"""AppTest of the Train page: controls and presets, a real background run polled to the end,
stop, busy, diagnosis suggestions, the run history (delete with confirmation), the ladder and
the collected drawings.

The job manager is a process-wide `st.cache_resource`, shared by every AppTest here: each test
waits for (or stops) its job at the end so nothing leaks into the next one.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import ui
from mnist_core.config import LADDER, PRESET_HELP, TrainConfig, studio_home
from mnist_core.data.sources import load_train_pool
from mnist_core.deploy.collect import DrawingStore
from mnist_core.runs.listing import scan_runs
from tests.app.conftest import open_page, texts, wait_idle
from tests.helpers import train_to_run
from ui import state as keys

ROOT = Path(__file__).resolve().parents[2]
PAGE = "pages/Train.py"
W = "train."


def progress_texts(at: AppTest) -> list[str]:
    return [p.proto.text for p in at.get("progress")]


@pytest.fixture
def at() -> AppTest:
    return open_page(PAGE)


def tiny(
    at: AppTest, model: str = "logreg", epochs: int = 2, samples: int = 500, batch: int = 128
) -> AppTest:
    at.selectbox(key=W + "model").set_value(model).run()
    at.select_slider(key=W + "epochs").set_value(epochs)
    at.number_input(key=W + "max_train_samples").set_value(samples)
    at.select_slider(key=W + "batch_size").set_value(batch)
    return at.run()


def poll(at: AppTest, until, timeout: float = 90) -> list[str]:
    """Re-run the page (the fragment only advances on at.run()) until `until(at)`; the progress seen."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
        assert not at.exception, at.exception
        seen += [t for t in progress_texts(at) if not seen or t != seen[-1]]
        if until(at):
            return seen
    raise AssertionError(f"timed out; progress seen: {seen}\n{texts(at)}")


def job_done(at: AppTest) -> bool:
    job = ui.all_jobs().job
    return job is not None and not job.running and not at.get("progress")


def test_page_renders_with_the_default_preset(at):
    assert at.title[0].value.endswith("Train")
    assert at.selectbox(key=W + "preset").value == "fast CNN"
    assert at.selectbox(key=W + "model").value == "cnn"
    assert not at.button(key=keys.TRAIN_START).disabled
    assert at.button(key=keys.TRAIN_STOP).disabled
    page = texts(at)
    assert "Offline sample" in page and "No training yet" in page
    assert "learned parameters" in page


def test_a_preset_sets_the_widgets_and_a_change_is_noticed(at):
    at.selectbox(key=W + "preset").set_value("overfit on purpose").run()
    assert at.selectbox(key=W + "model").value == "mlp"
    assert at.slider(key=W + "mlp_depth").value == 3
    assert at.select_slider(key=W + "mlp_width").value == 1024
    assert at.select_slider(key=W + "epochs").value == 40
    assert at.slider(key=W + "dropout").value == 0.0
    assert at.number_input(key=W + "max_train_samples").value == 1000
    assert PRESET_HELP["overfit on purpose"] in texts(at)
    at.select_slider(key=W + "lr").set_value(0.05).run()
    assert "Changed since you picked it" in texts(at)
    at.button(key=keys.TRAIN_RESET_PRESET).click().run()
    assert at.select_slider(key=W + "lr").value == 0.002
    assert "Changed since" not in texts(at)


def test_values_survive_leaving_the_page():
    app = open_page(PAGE)
    app.selectbox(key=W + "model").set_value("mlp").run()
    app.select_slider(key=W + "mlp_width").set_value(64)
    app.select_slider(key=W + "epochs").set_value(8).run()
    app.switch_page("pages/Preprocess.py").run()
    assert not app.exception
    app.switch_page("pages/Train.py").run()
    assert app.selectbox(key=W + "model").value == "mlp"
    assert app.select_slider(key=W + "mlp_width").value == 64
    assert app.select_slider(key=W + "epochs").value == 8


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("max_train_samples", -5, "max_train_samples = -5 is too small"),
        ("seed", -1, "seed = -1 is too small"),
    ],
)
def test_an_absurd_value_gives_a_clear_error(at, key, value, words):
    at.number_input(key=W + key).set_value(value).run()
    assert not at.exception
    assert any(words in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key=keys.TRAIN_START).disabled


def test_a_tiny_run_shows_progress_is_saved_and_listed(at):
    # Long enough (about 500 steps) that polling sees it move, short enough for a test.
    tiny(at, "mlp", epochs=4, samples=0, batch=32)
    at.button(key=keys.TRAIN_START).click().run()
    seen = poll(at, job_done)
    assert len(seen) >= 2, seen  # the progress text moved while the job ran
    assert any("epoch" in t for t in seen), seen
    runs = scan_runs().runs
    assert len(runs) == 1 and runs[0].config.model == "mlp" and runs[0].config.epochs == 4
    assert runs[0].meta["status"] == "finished"
    assert any("Training finished" in s.value for s in at.success)
    assert len(at.get("vega_lite_chart")) >= 2  # loss and accuracy curves (+ history overlay)
    table = at.dataframe[0].value
    assert runs[0].id in set(table["id"])
    boxes = [e for kind in ("info", "success", "warning", "error") for e in getattr(at, kind)]
    assert any(e.proto.icon == "🩺" for e in boxes), texts(at)  # the diagnosis
    assert not at.button(key=keys.TRAIN_START).disabled  # the end of the job re-enabled Start


def test_the_diagnosis_button_applies_its_suggestion(at):
    tiny(at, "logreg", epochs=2)
    at.button(key=keys.TRAIN_START).click().run()
    poll(at, job_done)
    apply = [b for b in at.button if b.label.startswith("Try this:")]
    assert apply, texts(at)
    assert "epochs = 10" in apply[0].label  # two epochs are too few to judge
    apply[0].click().run()
    assert at.select_slider(key=W + "epochs").value == 10
    assert any("Press Start" in s.value for s in at.success)


def test_stop_ends_a_long_run_as_stopped(at):
    tiny(at, "cnn", epochs=60, samples=0)
    at.button(key=keys.TRAIN_START).click().run()
    poll(at, lambda a: any("batch" in t for t in progress_texts(a)))
    assert not at.button(key=keys.TRAIN_STOP).disabled
    job = ui.all_jobs().job
    at.button(key=keys.TRAIN_STOP).click().run()
    job.join(30)  # how fast it stops is measured in `make bench`, not asserted here
    assert not job.running
    poll(at, job_done, timeout=30)
    end = job.snapshot().latest("end")
    assert end["status"] == "stopped"
    runs = scan_runs().runs
    assert len(runs) == 1 and runs[0].meta["status"] == "stopped"
    assert "Stopped by the user" in texts(at)


def test_two_sessions_each_train_their_own_job(at):
    """Each browser session has its own jobs (issue 25): a second session's Start queues a job
    of its own instead of being refused, and neither session follows the other's."""
    other = open_page(PAGE)  # a second browser session
    tiny(at, "cnn", epochs=60, samples=0)
    at.button(key=keys.TRAIN_START).click().run()
    first = ui.all_jobs().job
    assert first.running
    tiny(other, "logreg", epochs=1, samples=0)
    other.button(key=keys.TRAIN_START).click().run()  # its page was drawn before the job started
    second = ui.all_jobs().job
    assert second is not first and second.owner != first.owner and second.running
    assert not other.warning, texts(other)
    assert other.get("progress")  # that session follows its own job
    first.stop()
    second.join(120)
    assert second.snapshot().state == "finished"


def test_history_delete_asks_first_and_loads_settings(at):
    pool = load_train_pool("sample")
    from mnist_core.data.preprocess import make_split

    split = make_split("sample", TrainConfig(), pool=pool.subset(torch.arange(600)))
    train_to_run(TrainConfig(model="baseline", epochs=1), "sample", split=split, name="first")
    train_to_run(TrainConfig(model="logreg", epochs=1, lr=0.005), "sample", split=split, name="second")
    at.run()
    table = at.dataframe[0]
    assert list(table.value["name"]) == ["second", "first"]  # newest first
    at.session_state[table.key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert "1 selected" in texts(at)
    at.button(key=keys.TRAIN_LOAD_RUN).click().run()
    assert at.selectbox(key=W + "model").value == "logreg"
    assert at.select_slider(key=W + "lr").value == 0.005
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key=keys.TRAIN_DELETE).click().run()
    assert any("for good" in w.value for w in at.warning)
    at.button(key=keys.TRAIN_CANCEL).click().run()
    assert len(scan_runs().runs) == 2
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key=keys.TRAIN_DELETE).click().run()
    at.button(key=keys.TRAIN_CONFIRM).click().run()
    assert [r.meta["name"] for r in scan_runs().runs] == ["first"]
    assert any("Deleted 1 run" in s.value for s in at.success)
    assert list(at.dataframe[0].value["name"]) == ["first"]


def test_the_ladder_uses_the_split_settings_and_compares_runs(at):
    at.session_state[keys.APP_SPLIT] = {"val_fraction": 0.3, "split_seed": 5}
    at.run()
    at.button(key=keys.TRAIN_LADDER).click().run()
    job = ui.all_jobs().job
    assert [c.val_fraction for c in job.configs] == [0.3] * len(LADDER)
    assert {c.split_seed for c in job.configs} == {5}
    assert job.names == [name for name, _ in LADDER]
    poll(at, lambda a: any(t.startswith("Run ") and " of 4" in t for t in progress_texts(a)), timeout=60)
    poll(at, lambda a: any("Baseline ladder" in m.value for m in a.markdown), timeout=60)
    job.stop()
    wait_idle()
    at.run()
    saved = scan_runs().runs
    assert saved and saved[-1].meta["name"] == "Majority class"
    assert saved[-1].meta["sizes"]["val"] == pytest.approx(0.3 * len(load_train_pool("sample")), abs=2)


def test_collected_drawings_can_join_the_training_set(at):
    store = DrawingStore(studio_home() / "drawings.db")
    pool = load_train_pool("sample")
    for i in range(3):
        store.add(image28=pool.images[i].numpy(), true_label=int(pool.labels[i]))
    tiny(at, "logreg", epochs=1)
    box = at.checkbox(key=W + "use_drawings")
    assert "3 collected drawings" in box.label
    box.check().run()
    at.button(key=keys.TRAIN_START).click().run()
    job = ui.all_jobs().job
    assert job.extra is not None and len(job.extra) == 3
    poll(at, job_done)
    assert scan_runs().runs[0].meta["used_collected"] == 3


def test_a_failed_job_shows_its_error(at, tmp_path):
    at.session_state[keys.APP_DATA_SPEC] = str(tmp_path)  # an existing folder without MNIST files
    at.run()
    at.button(key=keys.TRAIN_START).click().run()
    poll(at, job_done, timeout=30)
    assert any("Training failed" in e.value for e in at.error), texts(at)
    assert not scan_runs().runs


def test_without_a_job_the_latest_saved_run_is_shown_and_diagnosed(small_split):
    """After a server restart there is no job, but the last run's curves and diagnosis remain."""
    config = TrainConfig(
        model="mlp",
        mlp_width=64,
        dropout=0.0,
        weight_decay=0.0,
        augment=False,
        optimizer="adam",
        lr=0.005,
        epochs=12,
        batch_size=64,
    )
    run = train_to_run(config, "sample", split=small_split, name="small MLP")
    app = open_page(PAGE)
    assert not app.exception
    assert any(m.value.startswith("#### Latest run: small MLP") for m in app.markdown)
    assert len(app.get("vega_lite_chart")) >= 2
    boxes = [e for kind in ("info", "success", "warning", "error") for e in getattr(app, kind)]
    diagnosis = next(e.value for e in boxes if e.proto.icon == "🩺")
    # 800 images, no regularization, 12 epochs: the MLP memorises them.
    assert "Overfitting" in diagnosis, diagnosis
    app.button(key=keys.train_apply(f"run_{run.id}")).click().run()
    assert app.slider(key=W + "dropout").value > 0 or app.toggle(key=W + "augment").value


def test_an_unreachable_scheduler_is_one_line_and_start_is_off(at, monkeypatch):
    import socket

    from mnist_core.jobs import cluster

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once closed
    monkeypatch.setenv(cluster.SCHEDULER_ENV, address)
    try:
        at.run()
        assert any(address in w.value and "cannot be reached" in w.value for w in at.warning), texts(at)
        assert at.button(key=keys.TRAIN_START).disabled and at.button(key=keys.TRAIN_LADDER).disabled
        assert ui.all_jobs().job is None
    finally:
        monkeypatch.delenv(cluster.SCHEDULER_ENV)
        cluster.shutdown()  # the next test starts its own local cluster again
