"""Long work as a background job: a thread, a stop event, and a lock-protected list of records.

The UI cannot run a long loop inside its script (any click would kill it), so it starts a
`Job` here and polls `snapshot()`. A job runs any `work(stop) -> Iterator[dict]`: training
(`TrainingJob`, possibly several configs in a row, as the baseline ladder does), a learning-
curve measurement, a hyperparameter search. `JobManager` allows one job at a time: on a 2-core
machine two of them would only slow each other down, so a second start is refused.

Every record is a small dict with a "kind". A record may carry "progress" (0..1 over the whole
job) and "text" (what is happening): `job_progress` turns those into a bar and an ETA.
"""

from __future__ import annotations

import ctypes
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from mnist_core.config import TrainConfig
from mnist_core.data.sources import Images

Work = Callable[[threading.Event], Iterator[dict[str, Any]]]


class JobBusy(RuntimeError):
    """Another job is still running."""


class JobState(StrEnum):
    """How a job stands; the values are the strings the UI and tests compare against."""

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
    """Runs `work(stop)` in a daemon thread and keeps every record it yields, in order."""

    def __init__(self, work: Work, *, kind: str = "job", title: str = "") -> None:
        self.kind, self.title = kind, title
        self.id = uuid.uuid4().hex[:8]
        self._work_fn = work
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._records: list[dict[str, Any]] = []
        self._state = JobState.RUNNING
        self._error: str | None = None
        self.started = time.time()
        self._thread = threading.Thread(target=self._work, name=f"{kind}-{self.id}", daemon=True)

    def start(self) -> Job:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive() or (self._state == JobState.RUNNING and not self._thread.ident)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def snapshot(self) -> JobSnapshot:
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
                **self._extra_state(),
            )

    def _extra_state(self) -> dict[str, Any]:
        return {"names": [self.title]}

    def _work(self) -> None:
        try:
            for record in self._work_fn(self._stop):
                self._add(record)
            state = JobState.STOPPED if self._stop.is_set() else JobState.FINISHED
        except Exception as exc:  # the UI shows it; the thread must not die silently
            state = JobState.FAILED
            with self._lock:
                self._error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        release_free_memory()
        with self._lock:
            self._state = state

    def _add(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._records.append(record)


class TrainingJob(Job):
    """Trains one or more configs in a row, saving each as a run; records carry their "run" index."""

    def __init__(
        self,
        configs: list[TrainConfig],
        names: list[str],
        data: str = "auto",
        extra: Images | None = None,
        home: Path | None = None,
        review: Callable[..., Any] | None = None,
    ) -> None:
        self.configs, self.names = list(configs), list(names)
        self.data, self.extra, self.home = data, extra, home
        self.review = review  # pipeline.SplitReview: e.g. reviewed labels
        self._current = 0
        self._saved: list[str] = []
        super().__init__(self._train_all, kind="train", title=self.names[0] if self.names else "")

    def _extra_state(self) -> dict[str, Any]:
        return {"names": list(self.names), "current": self._current, "saved": list(self._saved)}

    def _train_all(self, stop: threading.Event) -> Iterator[dict[str, Any]]:
        from mnist_core.training.pipeline import train_and_save  # the pipeline imports torch-heavy modules

        for i, (config, name) in enumerate(zip(self.configs, self.names)):
            if stop.is_set():
                break
            with self._lock:
                self._current = i
            for record in train_and_save(
                config, self.data, stop=stop, extra=self.extra, name=name, home=self.home, review=self.review
            ):
                yield {**record.to_dict(), "run": i}

    def _add(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._records.append(record)
            if record["kind"] == "saved":
                self._saved.append(record["run_id"])


def release_free_memory() -> None:
    """Give the heap a finished job freed back to the operating system (glibc only).

    The Makefile raises glibc's trim threshold so that training does not page-fault on every
    step; the same setting would keep the freed training buffers in an idle server for good.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


class JobManager:
    """At most one running job per process; every browser session sees the same one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._job: Job | None = None

    def submit(self, job: Job) -> Job:
        """Start `job` unless another one is running (then JobBusy, and `job` never starts)."""
        with self._lock:
            if self._job is not None and self._job.running:
                what = {
                    "train": "A training job",
                    "curve": "A learning-curve measurement",
                    "tune": "A hyperparameter search",
                }.get(self._job.kind, "A job")
                raise JobBusy(f"{what} is already running: stop it or wait for it to finish.")
            self._job = job.start()
            return job

    def start(
        self,
        configs: list[TrainConfig],
        names: list[str] | None = None,
        data: str = "auto",
        extra: Images | None = None,
        home: Path | None = None,
        review: Callable[..., Any] | None = None,
    ) -> TrainingJob:
        names = names or [""] * len(configs)
        job = TrainingJob(list(configs), list(names), data, extra, home, review)
        self.submit(job)
        return job

    @property
    def job(self) -> Job | None:
        return self._job

    def job_of(self, kind: str) -> Job | None:
        """The latest job if it is of this kind (a page shows only its own kind of job)."""
        return self._job if self._job is not None and self._job.kind == kind else None

    @property
    def running(self) -> bool:
        return self._job is not None and self._job.running

    def stop(self) -> None:
        if self._job is not None:
            self._job.stop()


# ---------------------------------------------------------------- progress bar and ETA


@dataclass(frozen=True)
class Progress:
    """What a progress bar shows: a fraction 0..1, words, and seconds left (None if unknown)."""

    fraction: float  # 0..1 over the whole job (all its runs)
    text: str  # e.g. "Run 2 of 4 (MLP) · epoch 3/10 · batch 20/32 · about 4 s left"
    eta_s: float | None = None  # seconds left, when it can be estimated


def format_seconds(seconds: float) -> str:
    """3 s, 45 s, 2 min 5 s, 1 h 3 min."""
    s = max(int(round(seconds)), 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def job_progress(snapshot: JobSnapshot, labels: Sequence[str] | None = None) -> Progress:
    """Progress bar value and words for any job: training reads its batch records, others their
    "progress"/"text" fields."""
    if snapshot.kind == "train":
        return training_progress(snapshot, labels)
    latest = next((r for r in reversed(snapshot.records) if "progress" in r), None)
    if latest is None:
        return Progress(0.0, "starting…")
    fraction = min(max(float(latest["progress"]), 0.0), 1.0)
    elapsed = time.time() - snapshot.started
    eta = elapsed * (1 - fraction) / fraction if 0 < fraction < 1 else None
    parts = [latest.get("text", "")]
    if eta is not None and snapshot.state == JobState.RUNNING:
        parts.append(f"about {format_seconds(eta)} left")
    return Progress(fraction, " · ".join(p for p in parts if p), eta)


END_WORDS = {
    "finished": "finished",
    "stopped": "stopped",
    "early_stopped": "early-stopped",
    "diverged": "diverged",
}


def training_progress(snapshot: JobSnapshot, labels: Sequence[str] | None = None) -> Progress:
    """Progress of a training job; `labels` names each run (default: its name)."""
    n = max(len(snapshot.names), 1)
    run = min(snapshot.current, n - 1)
    label = (labels[run] if labels else "") or (snapshot.names[run] if snapshot.names else "") or ""
    prefix = f"Run {run + 1} of {n}" + (f" ({label})" if label else "") if n > 1 else label
    batch = snapshot.latest("batch", run)
    epoch = snapshot.latest("epoch", run)
    end = snapshot.latest("end", run)
    within, parts, eta = 0.0, [], None
    if end is not None:
        within = 1.0
        parts.append(END_WORDS.get(end["status"], end["status"]))
    elif batch is not None and (epoch is None or batch["elapsed"] >= epoch["elapsed"]):
        within = batch["progress"]
        parts += [f"epoch {batch['epoch']}/{batch['epochs']}", f"batch {batch['batch']}/{batch['batches']}"]
        if within > 0:
            eta = batch["elapsed"] * (1 - within) / within
    elif epoch is not None:
        within = epoch["epoch"] / max(epoch["epochs"], 1)
        parts.append(f"epoch {epoch['epoch']}/{epoch['epochs']} done")
        eta = epoch["elapsed"] * (1 - within) / within
    else:
        parts.append("loading data and building the model…")
    if eta is not None and within < 1:
        parts.append(f"about {format_seconds(eta)} left")
    text = " · ".join(p for p in [prefix, *parts] if p)
    return Progress(min(max((run + within) / n, 0.0), 1.0), text, eta)
