"""A background job as the app sees it: submitted to the Dask cluster, followed by a thread.

The UI cannot run a long loop inside its script (any click would kill it), so it starts a
`Job` here and polls `snapshot()`. A job runs any `work(stop) -> Iterator[dict]` on a worker
(jobs.remote): training (jobs.training), a learning-curve measurement, a hyperparameter
search, a sweep. The work must pickle (module-level functions, closures over plain data; no
Streamlit objects): it runs in another process. A small thread here fetches its records as
they stream back and keeps them in order; Stop reaches the work within a batch.

A job waits in the cluster's queue until a worker is free ("queued"), then runs. Its
`on_record` callback, when given, sees every record in the app's process: the place for
side effects the app must keep (a cache, a file in the studio home), since the worker's
own memory and disk are not the app's.

Every record is a small dict with a "kind". A record may carry "progress" (0..1 over the whole
job) and "text" (what is happening): jobs.progress turns those into a bar and an ETA.
"""

from __future__ import annotations

import ctypes
import pickle
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mnist_core.jobs import cluster as clusters
from mnist_core.jobs import remote
from mnist_core.jobs.errors import JobBusy, SchedulerUnreachable

__all__ = ["Job", "JobBusy", "JobSnapshot", "JobState", "Work", "one_line", "release_free_memory"]

Work = Callable[[threading.Event], Iterator[dict[str, Any]]]
POLL_S = 0.2  # how often the app fetches a running job's records


class JobState(StrEnum):
    """How a job stands; the values are the strings the UI and tests compare against."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass
class JobSnapshot:
    """A consistent copy of a job's state for drawing."""

    id: str
    state: str
    records: list[dict[str, Any]]
    names: list[str] = field(default_factory=list)
    current: int = 0  # index of the config being trained (training jobs)
    saved: list[str] = field(default_factory=list)  # run ids saved so far (training jobs)
    error: str | None = None
    started: float = 0.0
    stop_requested: bool = False
    kind: str = "train"
    title: str = ""
    owner: str = ""  # the session that started it
    nickname: str = ""  # the name that session gave itself
    place: int | None = None  # 1 = next to run, while queued

    def latest(self, kind: str, run: int | None = None) -> dict[str, Any] | None:
        for r in reversed(self.records):
            if r["kind"] == kind and (run is None or r.get("run") == run):
                return r
        return None

    def of_kind(self, kind: str, run: int | None = None) -> list[dict[str, Any]]:
        return [r for r in self.records if r["kind"] == kind and (run is None or r.get("run") == run)]

    def epochs(self, run: int | None = None) -> list[dict[str, Any]]:
        return self.of_kind("epoch", run)


class Job:
    """Runs `work(stop)` on the cluster and keeps every record it yields, in order."""

    def __init__(
        self,
        work: Work | None,
        *,
        kind: str = "job",
        title: str = "",
        on_record: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.kind, self.title = kind, title
        self.id = uuid.uuid4().hex[:8]
        self.owner = self.nickname = ""
        self.submitted = self.started = time.time()
        self.worker_pid: int | None = None
        self._work_fn, self._on_record = work, on_record
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._records: list[dict[str, Any]] = []
        self._state = JobState.QUEUED
        self._error: str | None = None
        self._tasks = 0
        self._place: Callable[[Job], int | None] = lambda job: None
        self._cluster: clusters.Cluster | None = None
        self._thread = threading.Thread(target=self._follow, name=f"{kind}-{self.id}", daemon=True)

    def start(self, place: Callable[[Job], int | None] | None = None) -> Job:
        """Submit to the cluster (SchedulerUnreachable: nothing starts) and follow the job."""
        self._cluster = clusters.cluster()
        self._place = place or self._place
        self._thread.start()
        return self

    @property
    def state(self) -> JobState:
        return self._state

    @property
    def running(self) -> bool:
        """Queued or running: not over yet."""
        return self._thread.is_alive() or (self._state == JobState.QUEUED and not self._thread.ident)

    @property
    def queued(self) -> bool:
        return self._state == JobState.QUEUED

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def snapshot(self) -> JobSnapshot:
        place = self._place(self) if self._state == JobState.QUEUED else None
        with self._lock:
            return JobSnapshot(
                self.id,
                str(self._state),
                list(self._records),
                error=self._error,
                started=self.started,
                stop_requested=self._stop.is_set(),
                kind=self.kind,
                title=self.title,
                owner=self.owner,
                nickname=self.nickname,
                place=place,
                **self._extra_state(),
            )

    def _extra_state(self) -> dict[str, Any]:
        return {"names": [self.title]}

    def _run(self) -> None:
        """What the job does, in the follower thread: by default one task of `work` (a
        subclass with several tasks, such as training, overrides this and passes no `work`)."""
        if self._work_fn is not None:
            self._remote(self._work_fn)

    def _follow(self) -> None:
        try:
            self._run()
            state = JobState.STOPPED if self._stop.is_set() else JobState.FINISHED
        except Exception as exc:  # the UI shows it; the thread must not die silently
            state = JobState.FAILED
            with self._lock:
                self._error = one_line(exc)
            if not isinstance(exc, remote.WorkerLost | SchedulerUnreachable):
                traceback.print_exc()
        release_free_memory()
        with self._lock:
            self._state = state

    def _remote(self, work: Work) -> Any:
        """Run `work` as one task; add its records as they come; return its result (None if
        stopped before a worker took it)."""
        return self._remote_all([work])[0]

    def _remote_all(self, works: list[Work]) -> list[Any]:
        """Run independent works as parallel tasks (as many at once as the cluster has
        threads); add their records as they come; return their results in order. One failing
        task fails the job and cancels the rest; a stop cancels those not started yet."""
        from distributed import Event, Queue

        client, threads = self._cluster.client, self._cluster.torch_threads
        keys = [f"mnist-job-{self.id}-{self._tasks + i + 1}" for i in range(len(works))]
        self._tasks += len(works)
        queues = [Queue(remote.records_name(key), client=client) for key in keys]
        env = remote.studio_env()
        futures = [
            client.submit(remote.run_work, work, key, self.id, threads, env, key=key, pure=False)
            for work, key in zip(works, keys)
        ]
        stop_sent = False
        try:
            while True:
                if self._stop.is_set() and not stop_sent:
                    stop_sent = True
                    Event(remote.stop_name(self.id), client=client).set()
                    if self._state == JobState.QUEUED:
                        client.cancel(futures)
                        return [None] * len(works)
                done = [f.done() for f in futures]  # read before the queues: records come first
                for queue in queues:
                    for batch in queue.get(batch=True):
                        for record in pickle.loads(batch):
                            self._add(record)
                for future, over in zip(futures, done):
                    if over and future.status == "error":
                        error = future.exception()  # before cancelling: a cancelled future forgets it
                        client.cancel([f for f in futures if f is not future])
                        raise error
                if all(done):
                    return [f.result() for f in futures]
                time.sleep(POLL_S)
        finally:
            if client.status == "running":  # a closed client (the app shutting down) holds nothing
                for queue in queues:
                    queue.close()
                for key in keys:
                    Event(remote.started_name(key), client=client).clear()
                if stop_sent:
                    Event(remote.stop_name(self.id), client=client).clear()

    def _add(self, record: dict[str, Any]) -> None:
        if record["kind"] == "started":
            with self._lock:
                self.worker_pid, self._state = record["pid"], JobState.RUNNING
                if self._tasks == 1:
                    self.started = time.time()
            return
        self._append(record)

    def _append(self, record: dict[str, Any]) -> None:
        """Keep a record (from a worker, or one the app adds itself, e.g. "saved")."""
        if self._on_record is not None:
            self._on_record(record)
        with self._lock:
            self._records.append(record)


def one_line(exc: BaseException) -> str:
    """ "Type: message" on one line; a killed worker in words a user can act on."""
    name = type(exc).__name__
    if name == "KilledWorker":
        return "WorkerLost: the worker running it stopped (killed or out of memory)"
    if isinstance(exc, TypeError) and "Could not serialize" in str(exc):
        # A work function that closes over a lock, a file or a Streamlit object cannot travel.
        return (
            "TypeError: the job could not be sent to a worker: its work holds something that "
            "cannot be copied to another process"
        )
    text = str(exc).strip().splitlines()
    return f"{name}: {text[0]}" if text else name


def release_free_memory() -> None:
    """Give the heap a finished job freed back to the operating system (glibc only).

    The Makefile raises glibc's trim threshold so that training does not page-fault on every
    step; the same setting would keep the freed training buffers in an idle server for good.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass
