"""A job's progress bar and ETA, worked out from its records (nothing here runs a job).

A record may carry "progress" (0..1 over the whole job) and "text" (what is happening);
training jobs carry batch/epoch/end records per run instead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from mnist_core.jobs.job import JobSnapshot, JobState


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
    if snapshot.state == JobState.QUEUED:
        return Progress(0.0, queued_text(snapshot.place))
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


def queued_text(place: int | None) -> str:
    """ "queued: 2nd in line" — words for a job that waits for a free worker."""
    if not place:
        return "queued: waiting for a free worker"
    suffix = "th" if 10 <= place % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(place % 10, "th")
    return f"queued: {place}{suffix} in line for a free worker"


END_WORDS = {
    "finished": "finished",
    "stopped": "stopped",
    "early_stopped": "early-stopped",
    "diverged": "diverged",
}


def training_progress(snapshot: JobSnapshot, labels: Sequence[str] | None = None) -> Progress:
    """Progress of a training job; `labels` names each run (default: its name)."""
    if snapshot.state == JobState.QUEUED:
        return Progress(0.0, queued_text(snapshot.place))
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
