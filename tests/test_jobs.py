"""Background jobs on the (local) Dask cluster: progress while running, stopping, the per-session
limit, saved runs, any work."""

import time

import pytest

from mnist_core.config import TrainConfig
from mnist_core.jobs.job import Job, JobBusy, JobSnapshot
from mnist_core.jobs.progress import format_seconds, job_progress, training_progress
from mnist_core.jobs.queue import JobQueue
from mnist_core.runs.listing import scan_runs
from tests.helpers import train_to_run, wait_for


def JobManager(limit: int = 1):  # noqa: N802 - reads like the one-job manager these tests were written for
    """One session's view of a fresh queue; limit 1 keeps the old one-job-at-a-time checks."""
    return JobQueue(limit).view("tester")


def test_job_trains_saves_and_reports():
    manager = JobManager()
    job = manager.start(
        [TrainConfig(model="baseline"), TrainConfig(model="logreg", epochs=2)], ["base", "lr"], data="sample"
    )
    job.join(60)
    snap = job.snapshot()
    assert snap.state == "finished" and snap.error is None
    assert len(snap.saved) == 2 and {r.meta["name"] for r in scan_runs().runs} == {"base", "lr"}
    assert len(snap.epochs(run=1)) == 2 and snap.latest("end", run=0)["status"] == "finished"


def test_stop_is_quick_and_second_start_is_refused():
    manager = JobManager()
    job = manager.start([TrainConfig(epochs=100, cnn_channels=8)], data="sample")
    assert wait_for(lambda: job.snapshot().latest("batch") is not None)
    with pytest.raises(JobBusy):
        manager.start([TrainConfig(model="logreg")], data="sample")
    manager.stop()
    job.join(30)  # how fast it stops is measured by `make bench`, not asserted here
    assert not job.running
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.latest("end")["status"] == "stopped"
    assert scan_runs().runs[0].meta["status"] == "stopped"  # a stopped run keeps what it learned
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


def snapshot(records: list[dict], names: list[str], current: int = 0) -> JobSnapshot:
    return JobSnapshot("abc", "running", records, names, current, started=time.time())


def batch(run, epoch, b, batches, epochs, elapsed):
    done = ((epoch - 1) * batches + b) / (epochs * batches)
    return {
        "kind": "batch",
        "run": run,
        "epoch": epoch,
        "epochs": epochs,
        "batch": b,
        "batches": batches,
        "train_loss": 1.0,
        "progress": done,
        "elapsed": elapsed,
    }


def test_progress_before_the_first_batch():
    p = training_progress(snapshot([], ["fast CNN"]))
    assert p.fraction == 0 and "loading data" in p.text and p.eta_s is None


def test_progress_mid_epoch_has_eta():
    p = training_progress(snapshot([batch(0, 2, 5, 10, 4, elapsed=3.0)], ["x"]))
    assert p.fraction == pytest.approx(15 / 40)
    assert p.eta_s == pytest.approx(3.0 * 25 / 15)
    assert "epoch 2/4" in p.text and "batch 5/10" in p.text and "5 s left" in p.text


def test_progress_of_a_multi_run_job_counts_whole_runs():
    records = [{"kind": "end", "run": 0, "status": "finished"}, batch(1, 1, 5, 10, 2, elapsed=1.0)]
    p = training_progress(snapshot(records, ["a", "b", "c", "d"], current=1), ["A", "B", "C", "D"])
    assert p.fraction == pytest.approx((1 + 0.25) / 4)
    assert p.text.startswith("Run 2 of 4 (B)")


def test_progress_after_the_end():
    p = training_progress(snapshot([{"kind": "end", "run": 0, "status": "stopped"}], ["x"]))
    assert p.fraction == 1.0 and "stopped" in p.text


@pytest.mark.parametrize("seconds, text", [(3.4, "3 s"), (125, "2 min 5 s"), (3780, "1 h 3 min")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_progress_between_epochs_estimates_from_the_epochs():
    epoch = {"kind": "epoch", "run": 0, "epoch": 2, "epochs": 8, "elapsed": 4.0}
    p = training_progress(snapshot([batch(0, 2, 10, 10, 8, elapsed=3.9), epoch], ["x"]))
    assert p.fraction == pytest.approx(0.25) and "epoch 2/8 done" in p.text
    assert p.eta_s == pytest.approx(12.0)


def test_any_work_runs_as_a_job_with_progress_and_stop():
    started = []

    def work(stop):
        for i in range(1000):
            if stop.is_set():
                return
            started.append(i)
            yield {"kind": "step", "progress": (i + 1) / 1000, "text": f"step {i + 1}"}
            time.sleep(0.01)

    manager = JobManager()
    job = manager.submit(Job(work, kind="curve", title="measuring"))
    assert wait_for(lambda: len(job.snapshot().records) >= 3)
    with pytest.raises(JobBusy, match="learning-curve"):
        manager.submit(Job(work, kind="tune"))
    p = job_progress(job.snapshot())
    assert 0 < p.fraction < 1 and p.text.startswith("step ")
    assert manager.job_of("curve") is job and manager.job_of("train") is None
    manager.stop()
    job.join(30)
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.kind == "curve" and len(snap.records) < 1000


def test_a_failing_work_is_reported():
    def work(stop):
        yield {"kind": "step", "progress": 0.5}
        raise ValueError("bad sizes")

    job = JobManager().submit(Job(work, kind="curve"))
    job.join(10)
    snap = job.snapshot()
    assert snap.state == "failed" and snap.error == "ValueError: bad sizes" and len(snap.records) == 1


@pytest.mark.parametrize("fails", [False, True])
def test_a_job_hands_its_freed_memory_back_when_it_ends(monkeypatch, fails):
    from mnist_core.jobs import job as jobs

    trimmed = []
    monkeypatch.setattr(jobs, "release_free_memory", lambda: trimmed.append(True))

    def work(stop):
        yield {"kind": "step", "progress": 1.0}
        if fails:
            raise ValueError("boom")

    job = JobManager().submit(Job(work, kind="curve"))
    job.join(10)
    assert trimmed == [True] and job.snapshot().state == ("failed" if fails else "finished")


def test_release_free_memory_is_safe_to_call():
    from mnist_core.jobs.job import release_free_memory

    release_free_memory()  # glibc trims; elsewhere it does nothing, and never raises
