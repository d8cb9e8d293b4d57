"""Jobs on a real Dask cluster (a scheduler and two workers on loopback): sessions see and stop
only their own jobs, the per-session limit, the queue's order, a worker killed mid-training,
an unreachable scheduler, folds and learning-curve chains run in parallel giving the
sequential result, and a sweep of a run the workers cannot see, saved by the app."""

from __future__ import annotations

import json
import os
import signal
import time
from functools import partial

import numpy as np
import pytest
import torch

from mnist_core.cli.main import main
from mnist_core.config import TrainConfig
from mnist_core.data.sources import load_train_pool
from mnist_core.evaluation import robustness as rob
from mnist_core.jobs import cluster, remote
from mnist_core.jobs.audit import AuditJob
from mnist_core.jobs.curve import CurveJob
from mnist_core.jobs.errors import SchedulerUnreachable
from mnist_core.jobs.job import Job, JobBusy
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.robustness import RobustnessJob
from mnist_core.labels.audit import run_audit
from mnist_core.planning.curve.compare import measure_strategies
from mnist_core.planning.curve.store import list_curves
from mnist_core.runs import storage
from mnist_core.runs.listing import scan_runs
from tests.cluster_work import quick, steps
from tests.dask_cluster import dask_cluster
from tests.helpers import train_to_run
from tests.helpers import wait_for as poll


@pytest.fixture(scope="module")
def scheduler():
    with dask_cluster(workers=2) as address:
        yield address


@pytest.fixture(autouse=True)
def use_scheduler(scheduler, monkeypatch):
    """The core points at the test cluster; each test connects afresh."""
    cluster.shutdown()
    monkeypatch.setenv(cluster.SCHEDULER_ENV, scheduler)
    yield
    cluster.shutdown()


def wait_for(predicate, timeout=240.0):
    """`poll` with a cluster's patience: a worker may take minutes to start on a busy machine."""
    return poll(predicate, timeout)


def test_two_sessions_each_see_and_run_their_own_job():
    queue = JobQueue()
    alice, bob = queue.view("alice", "Alice"), queue.view("bob", "Bob")
    a, b = alice.submit(Job(steps, kind="curve")), bob.submit(Job(steps, kind="curve"))
    assert wait_for(lambda: a.snapshot().state == "running" and b.snapshot().state == "running")
    assert alice.jobs() == [a] and bob.jobs() == [b] and alice.job_of("curve") is a
    assert a.worker_pid != b.worker_pid  # two workers, one each, at the same time
    assert a.snapshot().nickname == "Alice"
    alice.stop()
    a.join(300)
    assert a.snapshot().state == "stopped" and b.running  # Alice's stop reached only her job
    bob.stop()
    b.join(300)


def test_stop_from_another_session_is_refused_but_the_presenter_may():
    queue = JobQueue()
    alice, bob = queue.view("alice"), queue.view("bob")
    a = alice.submit(Job(steps, kind="curve"))
    with pytest.raises(JobBusy, match="another session"):
        bob.stop(a)
    assert not a.snapshot().stop_requested
    presenter = queue.view("bob", presenter=True)
    assert presenter.jobs() == [a]
    presenter.stop(a)
    a.join(300)
    assert a.snapshot().state == "stopped"


def test_the_per_session_limit_and_the_place_in_line():
    queue = JobQueue(limit=2)
    alice, bob = queue.view("alice"), queue.view("bob")
    # ten minutes of steps each (stopped below): on a loaded machine one may start running a minute
    # after the other, and the first must still be running when the third job's place is read
    long = partial(steps, n=30_000)
    first, second = alice.submit(Job(long, kind="curve")), alice.submit(Job(long, kind="tune"))
    with pytest.raises(JobBusy, match="limit is 2 jobs per session"):
        alice.submit(Job(quick, kind="curve"))
    assert len(alice.jobs()) == 2
    both = wait_for(lambda: first.snapshot().state == second.snapshot().state == "running")  # workers busy
    assert both, [(j.snapshot().state, j.snapshot().error) for j in (first, second)]
    waiting = bob.submit(Job(quick, kind="curve"))
    time.sleep(1.0)
    snap = waiting.snapshot()
    states = [(j.snapshot().state, j.snapshot().error, j.worker_pid) for j in (first, second, waiting)]
    assert snap.state == "queued" and snap.place == 1, states
    alice.stop()
    waiting.join(240)
    assert waiting.snapshot().state == "finished" and waiting.snapshot().place is None
    bob.submit(Job(quick, kind="curve")).join(240)  # a finished job frees its place


def test_a_worker_killed_mid_training_fails_its_job_only():
    queue = JobQueue()
    alice, bob = queue.view("alice"), queue.view("bob")
    doomed = alice.start([TrainConfig(epochs=100, cnn_channels=8)], ["doomed"], data="sample")
    other = bob.submit(Job(steps, kind="curve"))
    assert wait_for(lambda: doomed.snapshot().latest("batch") is not None, 300)
    assert wait_for(lambda: other.snapshot().state == "running")
    os.kill(doomed.worker_pid, signal.SIGKILL)
    doomed.join(300)
    snap = doomed.snapshot()
    assert snap.state == "failed" and snap.error.startswith("WorkerLost: ") and "\n" not in snap.error
    assert scan_runs().runs == [] and not list(storage.runs_dir().glob(".tmp-*"))
    assert other.running or other.snapshot().state == "finished"  # the other job carried on
    bob.stop()
    other.join(300)
    assert other.snapshot().state in ("stopped", "finished") and other.snapshot().error is None


def test_a_training_job_saves_in_the_app_with_who_started_it():
    queue = JobQueue()
    job = queue.view("alice", "Alice").start([TrainConfig(model="logreg", epochs=1)], ["mine"], data="sample")
    job.join(300)
    snap = job.snapshot()
    assert snap.state == "finished" and len(snap.saved) == 1
    run = scan_runs().runs[0]
    assert run.meta["session"] == "alice" and run.meta["started_by"] == "Alice"
    assert run.evaluation("val").accuracy == pytest.approx(run.meta["val_accuracy"])


def test_an_unreachable_scheduler_is_one_line_and_starts_nothing(monkeypatch):
    with socket_closed() as address:
        monkeypatch.setenv(cluster.SCHEDULER_ENV, address)
        cluster.shutdown()
        line = cluster.unreachable()
        assert line is not None and address in line and "\n" not in line
        queue = JobQueue()
        with pytest.raises(SchedulerUnreachable):
            queue.view("alice").submit(Job(quick, kind="curve"))
        assert queue.jobs() == []


def test_the_cli_trains_on_the_configured_cluster_and_saves_here(capsys):
    code = main(["train", "--data", "sample", "--model", "logreg", "--epochs", "1", "--name", "via dask"])
    out, errors = capsys.readouterr()
    assert code == 0, errors
    assert "training on the Dask cluster at tcp://127.0.0.1:" in errors
    result = json.loads(out.strip().splitlines()[-1])
    run = scan_runs().runs[0]
    assert result["run_id"] == run.id and run.meta["name"] == "via dask" and result["val_accuracy"] > 0.5


def test_the_cli_with_an_unreachable_scheduler_is_one_line_exit_2(monkeypatch, capsys):
    with socket_closed() as address:
        monkeypatch.setenv(cluster.SCHEDULER_ENV, address)
        cluster.shutdown()
        code = main(["train", "--data", "sample", "--model", "logreg", "--epochs", "1"])
    errors = capsys.readouterr().err.strip()
    assert code == 2 and address in errors and len(errors.splitlines()) == 1, errors
    assert scan_runs().runs == []


def test_work_that_cannot_travel_to_a_worker_fails_its_job_in_one_line():
    import threading

    lock = threading.Lock()

    def holds_a_lock(stop):  # a closure over a lock cannot be pickled
        with lock:
            yield {"kind": "step", "progress": 1.0, "text": "never"}

    job = JobQueue().view("alice").submit(Job(holds_a_lock, kind="curve"))
    job.join(120)
    snap = job.snapshot()
    assert snap.state == "failed" and not job.running
    assert (
        snap.error.startswith("TypeError: the job could not be sent to a worker") and "\n" not in snap.error
    )


class socket_closed:  # noqa: N801 - used as a context manager
    """A loopback address nothing listens on."""

    def __enter__(self) -> str:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return f"tcp://127.0.0.1:{s.getsockname()[1]}"

    def __exit__(self, *exc) -> None:
        return None


def test_audit_folds_in_parallel_give_the_sequential_result():
    pool = load_train_pool("sample")
    idx = torch.randperm(len(pool), generator=torch.Generator().manual_seed(1))[:300]
    images, labels = pool.images[idx], pool.labels[idx].clone()
    config = TrainConfig(model="mlp", mlp_width=32, epochs=2, batch_size=64, augment=False)
    about = dict(
        origins=[("training", i) for i in range(300)],
        data="sample",
        source_name="sample",
        preset="t",
        config=config,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the workers: one thread each, so the sums add up alike
    try:
        sequential = list(run_audit(images, labels, folds=3, seed=4, **about))[-1]["audit"]
    finally:
        torch.set_num_threads(threads)
    job = JobQueue().view("alice").submit(AuditJob(images, labels, folds=3, seed=4, **about))
    job.join(400)
    snap = job.snapshot()
    assert snap.state == "finished", snap.error
    parallel = snap.latest("audit")["audit"]
    assert snap.latest("progress")["progress"] == pytest.approx(1.0)
    key = [(s.index, s.given, s.suggested, s.score, s.probabilities) for s in sequential.suspects]
    assert key == [(s.index, s.given, s.suggested, s.score, s.probabilities) for s in parallel.suspects]
    assert np.isfinite([s.score for s in parallel.suspects]).all()


def test_curve_chains_in_parallel_give_the_sequential_points_and_the_app_saves_the_curves(tmp_path):
    config = TrainConfig(
        model="logreg", optimizer="adam", lr=0.01, epochs=2, batch_size=32, dropout=0.0, augment=False
    )
    # 50 and 100 with both seeds, 200 and 400 with seed 0: four chains (two per strategy), and
    # uncertainty sampling picks each size's images with the chain's model of the size before
    sizes, strategies = [50, 100, 200, 400], ["random", "uncertainty"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the workers: one thread each, so the sums add up alike
    try:
        sequential = list(measure_strategies(config, "sample", sizes, 2, strategies, home=tmp_path / "seq"))[
            -1
        ]
    finally:
        torch.set_num_threads(threads)
    home = tmp_path / "app"  # not the workers' studio home ($MNIST_STUDIO_HOME): the app saves
    job = (
        JobQueue()
        .view("alice")
        .submit(CurveJob(config, "sample", sizes, 2, strategies, name="par", home=home))
    )
    job.join(400)
    snap = job.snapshot()
    assert snap.state == "finished", snap.error
    parallel = snap.latest("comparison")
    assert parallel["status"] == sequential["status"] == "finished" and parallel["group"]

    def key(final):
        return [(p["size"], p["seed"], p["val_acc"]) for p in final["points"]]

    for s in strategies:
        assert key(parallel["curves"][s]) == key(sequential["curves"][s]), s
        assert parallel["curves"][s]["fit"]["a"] == pytest.approx(sequential["curves"][s]["fit"]["a"])
    saved = {c.strategy: c for c in list_curves(home)}
    assert {s: c.id for s, c in saved.items()} == {s: parallel["curves"][s]["id"] for s in strategies}
    assert {c.group for c in saved.values()} == {parallel["group"]} and saved["random"].name == "par"
    assert key({"points": saved["uncertainty"].points}) == key(sequential["curves"]["uncertainty"])
    assert list_curves() == []  # nothing saved by a worker
    assert [r["kind"] for r in snap.records].count("curve") == 2
    progress = [r["progress"] for r in snap.records]  # one bar over every chain, never stepping back
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    assert len(snap.of_kind("point")) == 12 and all(r["strategies"] == 2 for r in snap.of_kind("point"))
    # the two seed sets, the same images for both strategies, were trained by uncertainty's chains
    # only; random's curve got copies of those points
    copies = [r for r in snap.of_kind("point") if "trained once" in r["text"]]
    assert [(r["strategy"], r["size"]) for r in copies] == [("random", 50), ("random", 50)]


def test_a_sweep_of_a_run_only_the_app_has_is_saved_by_the_app(tmp_path, monkeypatch):
    run = train_to_run(TrainConfig(model="logreg", epochs=1), "sample")  # in the app's studio home
    elsewhere = {
        "MNIST_STUDIO_HOME": str(tmp_path / "worker-home"),
        "MNIST_STUDIO_CACHE": str(tmp_path / "wc"),
    }
    monkeypatch.setattr(remote, "studio_env", lambda: elsewhere)  # the workers' own, empty studio home
    # by id: a worker looking the run up in its own studio home would not find it
    job = JobQueue().view("alice").submit(RobustnessJob(run.id, 60, ("rotate",), title="r"))
    job.join(300)
    snap = job.snapshot()
    assert snap.state == "finished", snap.error
    assert snap.records[0]["run_id"] == run.id and snap.records[-1]["done"]
    saved = rob.load_sweep(run)
    assert saved is not None and saved.n == 60 and [c.name for c in saved.curves] == ["rotate"]
    assert not (tmp_path / "worker-home").exists()
