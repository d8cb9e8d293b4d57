"""Background jobs: progress while running, stop within a second, one job at a time, saved runs."""

import time

import pytest

from mnist_core import storage
from mnist_core.config import TrainConfig
from mnist_core.jobs import JobBusy, JobManager
from mnist_core.pipeline import train_to_run


def wait_for(predicate, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_job_trains_saves_and_reports():
    manager = JobManager()
    job = manager.start([TrainConfig(model="baseline"), TrainConfig(model="logreg", epochs=2)],
                        ["base", "lr"], data="sample")
    job.join(60)
    snap = job.snapshot()
    assert snap.state == "finished" and snap.error is None
    assert len(snap.saved) == 2 and {r.meta["name"] for r in storage.list_runs()} == {"base", "lr"}
    assert len(snap.epochs(run=1)) == 2 and snap.latest("end", run=0)["status"] == "finished"


def test_stop_is_quick_and_second_start_is_refused():
    manager = JobManager()
    job = manager.start([TrainConfig(epochs=100, cnn_channels=8)], data="sample")
    assert wait_for(lambda: job.snapshot().latest("batch") is not None)
    with pytest.raises(JobBusy):
        manager.start([TrainConfig(model="logreg")], data="sample")
    t0 = time.time()
    manager.stop()
    job.join(10)
    assert not job.running and time.time() - t0 < 2.0
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.latest("end")["status"] == "stopped"
    assert storage.list_runs()[0].meta["status"] == "stopped"  # a stopped run keeps what it learned
    again = manager.start([TrainConfig(model="baseline")], data="sample")  # free again
    again.join(30)
    assert again.snapshot().state == "finished"


def test_failure_is_reported_not_raised():
    manager = JobManager()
    job = manager.start([TrainConfig(model="logreg")], data="/no/such/folder")
    job.join(30)
    snap = job.snapshot()
    assert snap.state == "failed" and "not 'auto'" in snap.error


def test_train_to_run_returns_a_usable_run():
    run = train_to_run(TrainConfig(model="logreg", epochs=1), "sample", name="quick")
    assert run is not None and run.meta["name"] == "quick"
    assert run.evaluation("val").accuracy == pytest.approx(run.meta["val_accuracy"])
    assert run.meta["sizes"]["train"] > 0 and run.meta["data_kind"] == "sample"
