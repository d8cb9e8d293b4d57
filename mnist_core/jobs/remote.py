"""What runs on a Dask worker: a job's `work(stop)` with its records streamed back and Stop
brought in.

Records go back through a `distributed.Queue` named after the task, pickled in batches
sent every quarter second by a thread of their own (a record may hold arrays or dataclasses,
which the queue's msgpack would refuse; the training never waits for the scheduler). Stop is a
`distributed.Event` that a small watcher thread turns into the local `threading.Event` the
work checks every batch. The generator's return value (e.g. trained weights) is the task's
result, so large results travel once, at the end, and never through the scheduler's queue.

A task the scheduler re-runs because its worker died would start the work over from nothing
on another worker; instead it fails at once with `WorkerLost`, so the job ends as failed with
a reason and no half-finished result.
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

T, R = TypeVar("T"), TypeVar("R")
Work = Callable[[threading.Event], Iterator[dict[str, Any]]]
FLUSH_EVERY_S = 0.25  # how stale a record may be before it is sent (and the UI can draw it)
STUDIO_ENV = ("MNIST_STUDIO_HOME", "MNIST_STUDIO_CACHE", "MNIST_STUDIO_STORAGE")
STOP_POLL_S = 0.5  # how long one wait on the stop event lasts before checking the job is over


class WorkerLost(RuntimeError):
    """The worker running a job died (killed, or out of memory) and the job cannot resume."""


def relay(
    steps: Generator[T, None, R], to_record: Callable[[T], dict[str, Any]]
) -> Generator[dict[str, Any], None, R]:
    """`steps` as a work's records (`to_record` of each item), returning what `steps` returns
    (a plain generator expression would drop it): `return (yield from relay(...))`."""
    while True:
        try:
            item = next(steps)
        except StopIteration as done:
            return done.value
        yield to_record(item)


def records_name(key: str) -> str:
    return f"{key}-records"


def started_name(key: str) -> str:
    return f"{key}-started"


def stop_name(job_id: str) -> str:
    return f"mnist-job-{job_id}-stop"


def _watch_stop(name: str, local: threading.Event, over: threading.Event) -> None:
    from distributed import Event

    remote = Event(name)
    while not over.is_set():
        try:
            if remote.wait(timeout=STOP_POLL_S):
                local.set()
                return
        except Exception:  # the worker is shutting down: the work ends with it
            return


class _Sender:
    """Sends the records gathered so far every FLUSH_EVERY_S from its own thread, so the work
    never waits for the scheduler."""

    def __init__(self, queue: Any) -> None:
        self.queue, self.lock, self.over = queue, threading.Lock(), threading.Event()
        self.pending: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def add(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.pending.append(record)

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        if batch:
            self.queue.put(pickle.dumps(batch))

    def _loop(self) -> None:
        while not self.over.wait(FLUSH_EVERY_S):
            self.flush()

    def close(self) -> None:
        self.over.set()
        self.thread.join()
        self.flush()  # the last records are in the queue before the task's result is


def studio_env() -> dict[str, str]:
    """The app's studio settings ($MNIST_STUDIO_HOME, _CACHE, _STORAGE), for a task to run under."""
    return {k: os.environ[k] for k in STUDIO_ENV if k in os.environ}


def run_work(work: Work, key: str, job_id: str, torch_threads: int | None, env: dict[str, str]) -> Any:
    """Run `work` on this worker under the app's studio settings `env`; stream its records;
    return what the generator returns."""
    from distributed import Event, Queue

    os.environ.update(env)  # a worker started before the app changed them (tests) follows it

    started = Event(started_name(key))
    if started.is_set():
        raise WorkerLost("the worker running it stopped (killed or out of memory)")
    started.set()
    if torch_threads:
        import torch

        torch.set_num_threads(torch_threads)
    queue = Queue(records_name(key))
    sender = _Sender(queue)
    sender.add({"kind": "started", "pid": os.getpid()})
    local, over = threading.Event(), threading.Event()
    watcher = threading.Thread(target=_watch_stop, args=(stop_name(job_id), local, over), daemon=True)
    watcher.start()
    try:
        iterator = iter(work(local))
        while True:
            try:
                sender.add(next(iterator))
            except StopIteration as done:
                return done.value
    finally:
        over.set()
        sender.close()
        queue.close()
