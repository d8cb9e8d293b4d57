"""A robustness sweep and the field monitor keep their results in the app's studio home (issue
25): the app loads the run, its validation images and the drawings and sends them with the task,
the worker only computes, and the app saves. Here the "worker" runs in this process, after the
work has been pickled, with another, empty studio home and the app's studio home moved away,
so it could not read the run folder or the drawings even if it tried."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from mnist_core.evaluation import robustness as rob
from mnist_core.jobs.job import Job
from mnist_core.jobs.monitor import MonitorJob
from mnist_core.jobs.robustness import RobustnessJob
from mnist_core.monitoring import job as monitor_job
from mnist_core.monitoring.saved import RESULT_FILE, load_result
from mnist_core.runs.storage import Run, load_run
from tests.monitor_field import DAYS, collect_field
from tests.tiny_model import tiny_run

N = 60  # validation images swept
REFERENCE = 200  # validation digits drawn as the monitor's reference (the real 1,000 take ~10 s)


@pytest.fixture
def app_home(tmp_path_factory, isolated_home) -> tuple[Path, Run]:
    """The app's studio home holding a copy of the tiny run and a drifting field of drawings."""
    shared = tiny_run(tmp_path_factory)
    shutil.copytree(shared.path, isolated_home / "runs" / shared.id)
    collect_field(isolated_home / "drawings.db")
    return isolated_home, load_run(isolated_home / "runs" / shared.id)


def on_a_worker_without_the_home(job: Job, home: Path, tmp_path: Path, monkeypatch) -> list[dict]:
    """Make `job` run its task here as a worker with no shared disk would: the work pickled and
    unpickled, the studio settings pointing at empty folders, the app's home moved away meanwhile.
    Returns the records the work yielded."""
    yielded: list[dict] = []

    def remote(work):
        sent = pickle.loads(pickle.dumps(work))  # as the task travels to a worker
        away = tmp_path / "home-away"
        os.replace(home, away)
        try:
            with monkeypatch.context() as worker:
                worker.setenv("MNIST_STUDIO_HOME", str(tmp_path / "worker-home"))
                worker.setenv("MNIST_STUDIO_CACHE", str(tmp_path / "worker-cache"))
                steps = sent(job._stop)
                while True:
                    try:
                        record = next(steps)
                    except StopIteration as done:
                        return done.value
                    yielded.append(record)
                    job._add(record)
        finally:
            os.replace(away, home)

    monkeypatch.setattr(job, "_remote", remote)
    return yielded


def test_a_sweep_is_measured_without_the_run_folder_and_saved_by_the_app(app_home, tmp_path, monkeypatch):
    home, run = app_home
    job = RobustnessJob(run.path, N, ("rotate", "invert"), title="r")
    yielded = on_a_worker_without_the_home(job, home, tmp_path, monkeypatch)
    job._run()  # the follower thread's body, here: its errors surface
    assert [r["progress"] for r in yielded] == [0.5, 1.0] and all(r["run_id"] == run.id for r in yielded)
    records = job.snapshot().records
    assert (
        records[0]["run_id"] == run.id and records[0]["progress"] == 0.0
    )  # before the task: the page knows the run
    assert records[-1] == {
        "kind": "robustness",
        "run_id": run.id,
        "progress": 1.0,
        "text": "saved",
        "done": True,
    }
    saved = rob.load_sweep(run)
    assert saved is not None and saved.n == N and [c.name for c in saved.curves] == ["rotate", "invert"]
    val = run.split().val
    direct = rob.sweep(run.load_model(), val.images[:N], val.labels[:N], ["rotate", "invert"])
    assert saved.curves == direct.curves and saved.images == direct.images  # the same measurement
    assert not (tmp_path / "worker-home").exists()  # the worker wrote nothing of its own


def test_a_stopped_sweep_saves_nothing(app_home, tmp_path, monkeypatch):
    home, run = app_home
    job = RobustnessJob(run.path, N, ("rotate",))
    on_a_worker_without_the_home(job, home, tmp_path, monkeypatch)
    job.stop()
    job._run()
    assert rob.load_sweep(run) is None
    assert not any(r.get("done") for r in job.snapshot().records)


def test_the_monitor_reads_nothing_on_the_worker_and_the_app_saves(app_home, tmp_path, monkeypatch):
    home, run = app_home
    real = monitor_job.reference_digits
    monkeypatch.setattr(monitor_job, "reference_digits", lambda r: real(r, limit=REFERENCE))
    job = MonitorJob(run.path, home / "drawings.db", "day", permutations=200, title="m")
    yielded = on_a_worker_without_the_home(job, home, tmp_path, monkeypatch)
    job._run()
    assert yielded and all(r["kind"] == "monitor" and r["run_id"] == run.id for r in yielded)
    records = job.snapshot().records
    progress = [r["progress"] for r in records]
    assert progress == sorted(progress) and records[0]["progress"] == 0.0
    last = records[-1]
    assert last["done"] and last["progress"] == 1.0 and last["text"] == "saved" and last["drift"] is True
    saved = load_result(run)
    assert saved is not None and saved["window"] == "day" and saved["n_field"] == 40
    assert saved["n_reference"] <= REFERENCE and [w["label"] for w in saved["windows"]] == list(DAYS)
    assert not (tmp_path / "worker-home").exists()


def test_a_stopped_monitor_saves_nothing(app_home, tmp_path, monkeypatch):
    home, run = app_home
    monkeypatch.setattr(monitor_job, "reference_digits", lambda r: (np.zeros((0, 28, 28), np.uint8), []))
    job = MonitorJob(run.path, home / "drawings.db", 15)
    yielded = on_a_worker_without_the_home(job, home, tmp_path, monkeypatch)
    job.stop()
    job._run()
    assert len(yielded) == 1  # stopped after measuring the drawings, before drawing the reference
    assert not (run.path / RESULT_FILE).exists()
    assert not any(r.get("done") for r in job.snapshot().records)


def test_the_work_sends_plain_data_not_paths(app_home):
    """What travels with a task holds no path of the studio home but the run's (kept for its id)."""
    home, run = app_home
    given = rob.sweep_input(run, N)
    assert isinstance(given.images, np.ndarray) and given.images.shape == (N, 28, 28)
    assert len(pickle.dumps(given)) < 1_000_000  # the first N images, not the whole set
    inputs = monitor_job.monitor_input(run, home / "drawings.db")
    assert len(inputs.drawings.drawings) == 40 and inputs.run.id == run.id
