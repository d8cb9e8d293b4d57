"""The Dask cluster every job runs on: a local one of worker processes by default, or the
scheduler named by $MNIST_STUDIO_SCHEDULER (e.g. tcp://host:8786).

The local cluster binds to 127.0.0.1 only and has no dashboard: a shared demo must not open
ports to the network. Its size is chosen from the cores (each training gets two cores' worth
of torch threads) and can be set with $MNIST_STUDIO_WORKERS and $MNIST_STUDIO_THREADS; the
choice is printed once when the cluster starts. A configured scheduler that cannot be reached
is reported (SchedulerUnreachable), never replaced by a local cluster behind the user's back.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from mnist_core.jobs.errors import ClusterError, SchedulerUnreachable

SCHEDULER_ENV = "MNIST_STUDIO_SCHEDULER"
WORKERS_ENV = "MNIST_STUDIO_WORKERS"
THREADS_ENV = "MNIST_STUDIO_THREADS"
CONNECT_TIMEOUT_S = 3.0
LOCAL_PRELOAD = "mnist_core.jobs.local_worker"  # lower priority, then torch, before the first job
# glibc's allocator settings the Makefile gives the app (a training maps and unmaps every large
# activation buffer without them: 1.15-1.65x slower). Dask's nanny spawns each worker with
# MALLOC_TRIM_THRESHOLD_=65536 of its own, so the local cluster's workers get these instead.
ALLOCATOR_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
ALLOCATOR_DEFAULT = "1073741824"
NANNY_ENV = "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON"


@dataclass(frozen=True)
class Layout:
    """How a local cluster is cut up: worker processes, task threads each, torch threads a task."""

    workers: int
    threads: int
    torch_threads: int

    def describe(self) -> str:
        w, t = self.workers, self.threads
        return (
            f"{w} worker process{'es' * (w != 1)} × {t} thread{'s' * (t != 1)}, "
            f"{self.torch_threads} torch thread{'s' * (self.torch_threads != 1)} per job"
        )


def env_count(name: str) -> int | None:
    """A whole number of at least 1 from $`name`, None when unset; ClusterError otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ClusterError(f"${name} must be a whole number of at least 1, not {raw!r}.")
    return int(raw)


def local_layout(cores: int | None = None) -> Layout:
    """Workers × threads from the cores: one single-threaded worker per two cores (a training
    runs its batches on two torch threads; more jobs than that would only share the cores)."""
    cores = cores or os.cpu_count() or 1
    workers = env_count(WORKERS_ENV) or max(1, cores // 2)
    threads = env_count(THREADS_ENV) or 1
    return Layout(workers, threads, max(1, cores // (workers * threads)))


class Cluster:
    """A connected client, and the torch threads a task should use (None: the worker's own)."""

    def __init__(self, client, torch_threads: int | None, address: str = "", local=None) -> None:
        self.client, self.torch_threads, self._local = client, torch_threads, local
        self.address = address  # as configured: "" for the local cluster

    @property
    def alive(self) -> bool:
        return self.client.status == "running"

    def close(self) -> None:
        self.client.close()
        if self._local is not None:
            self._local.close()


_lock = threading.Lock()
_cluster: Cluster | None = None


def connect(address: str) -> Cluster:
    """A client of the scheduler at `address`, or SchedulerUnreachable in one line."""
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerUnreachable(
            f"The Dask scheduler at {address} (${SCHEDULER_ENV}) cannot be reached: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}. "
            "No job can start until it is back."
        ) from None
    return Cluster(client, None, address)


def start_local(layout: Layout | None = None) -> Cluster:
    """A cluster of worker processes on 127.0.0.1, no dashboard; its size is printed.

    The scheduler and workers are subprocesses of their own (`python -m dask spec`), not
    multiprocessing children: those re-import the parent's `__main__`, which inside Streamlit is
    the page script being run, and would run it again in every worker.
    """
    from distributed import Client
    from distributed.deploy.subprocess import SubprocessCluster

    layout = layout or local_layout()
    root = str(Path(__file__).resolve().parents[2])  # the workers import this checkout
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])
    # read by the nanny processes (merged into Dask's defaults), which set it in each worker they spawn
    os.environ[NANNY_ENV] = repr({k: os.environ.get(k, ALLOCATOR_DEFAULT) for k in ALLOCATOR_ENV})
    local = SubprocessCluster(
        host="127.0.0.1",
        n_workers=layout.workers,
        threads_per_worker=layout.threads,
        dashboard_address=None,
        silence_logs=logging.ERROR,
        worker_kwargs={"preload": [LOCAL_PRELOAD]},
    )
    client = Client(local, set_as_default=False)
    print(f"Jobs run on a local Dask cluster at {local.scheduler_address}: {layout.describe()}.", flush=True)
    return Cluster(client, layout.torch_threads, "", local)


def cluster() -> Cluster:
    """The process's cluster, started or connected on first use, and again if it went away or
    $MNIST_STUDIO_SCHEDULER now names another one."""
    global _cluster
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    with _lock:
        if _cluster is not None and _cluster.alive and _cluster.address == address:
            return _cluster
        if _cluster is not None:
            _cluster.close()
            _cluster = None
        _cluster = connect(address) if address else start_local()
        return _cluster


def unreachable() -> str | None:
    """None when jobs can be started; else the one line a page shows instead of starting. Only a
    configured scheduler is asked (a page must not wait for a local cluster to start)."""
    if not os.environ.get(SCHEDULER_ENV, "").strip():
        return None
    try:
        cluster()
    except (SchedulerUnreachable, ClusterError) as exc:
        return str(exc)
    return None


def shutdown() -> None:
    """Close the client (and the local cluster, if this process started one)."""
    global _cluster
    with _lock:
        if _cluster is not None:
            _cluster.close()
            _cluster = None
