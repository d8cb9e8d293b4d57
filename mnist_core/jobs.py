"""Training as a background job: a thread, a stop event, and a lock-protected list of records.

The UI cannot run a training loop inside its script (any click would kill it), so it starts
a `TrainingJob` here and polls `snapshot()`. A job can train several configs in a row (the
baseline ladder). `JobManager` allows one job at a time: on a 2-core machine two trainings
would only slow each other down, so a second start is refused with a clear message.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .data import Images
from .pipeline import train_and_save


class JobBusy(RuntimeError):
    """Another training job is still running."""


@dataclass
class JobSnapshot:
    """A consistent copy of a job's state for drawing."""

    id: str
    state: str  # "running", "finished", "stopped", "failed"
    records: list[dict[str, Any]]
    names: list[str]
    current: int  # index of the config being trained
    saved: list[str]  # run ids saved so far
    error: str | None
    started: float
    stop_requested: bool

    def latest(self, kind: str, run: int | None = None) -> dict[str, Any] | None:
        for r in reversed(self.records):
            if r["kind"] == kind and (run is None or r["run"] == run):
                return r
        return None

    def epochs(self, run: int | None = None) -> list[dict[str, Any]]:
        return [r for r in self.records if r["kind"] == "epoch" and (run is None or r["run"] == run)]


@dataclass
class TrainingJob:
    configs: list[TrainConfig]
    names: list[str]
    data: str = "auto"
    extra: Images | None = None
    home: Path | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._records: list[dict[str, Any]] = []
        self._saved: list[str] = []
        self._current = 0
        self._state = "running"
        self._error: str | None = None
        self.started = time.time()
        self._thread = threading.Thread(target=self._work, name=f"train-{self.id}", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive() or (self._state == "running" and not self._thread.ident)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(self.id, self._state, list(self._records), list(self.names),
                               self._current, list(self._saved), self._error, self.started,
                               self._stop.is_set())

    def _work(self) -> None:
        try:
            for i, (config, name) in enumerate(zip(self.configs, self.names)):
                if self._stop.is_set():
                    break
                with self._lock:
                    self._current = i
                for record in train_and_save(config, self.data, stop=self._stop, extra=self.extra,
                                             name=name, home=self.home):
                    self._add(i, record.to_dict())
            state = "stopped" if self._stop.is_set() else "finished"
        except Exception as exc:  # the UI shows it; the thread must not die silently
            state = "failed"
            with self._lock:
                self._error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        with self._lock:
            self._state = state

    def _add(self, run: int, record: dict[str, Any]) -> None:
        record["run"] = run
        with self._lock:
            self._records.append(record)
            if record["kind"] == "saved":
                self._saved.append(record["run_id"])


class JobManager:
    """At most one running job per process; every browser session sees the same one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._job: TrainingJob | None = None

    def start(self, configs: list[TrainConfig], names: list[str] | None = None, data: str = "auto",
              extra: Images | None = None, home: Path | None = None) -> TrainingJob:
        with self._lock:
            if self._job is not None and self._job.running:
                raise JobBusy("A training job is already running: stop it or wait for it to finish.")
            names = names or [""] * len(configs)
            self._job = TrainingJob(list(configs), list(names), data, extra, home).start()
            return self._job

    @property
    def job(self) -> TrainingJob | None:
        return self._job

    def stop(self) -> None:
        if self._job is not None:
            self._job.stop()
