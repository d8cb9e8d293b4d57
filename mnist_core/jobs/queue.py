"""Many people, many jobs: one queue per server, and each browser session's view of it.

`JobQueue` holds every job the server started (the cluster decides when each runs; jobs
wait in the order they came). A session sees it through `SessionJobs`: its own jobs only,
their place in the line, a limit on how many it may have queued or running at once
(default 2, $MNIST_STUDIO_JOB_LIMIT), and Stop for its own jobs only. The presenter of a
shared demo (`presenter=True`) sees and may stop everyone's.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_core.config import TrainConfig
from mnist_core.data.sources import Images
from mnist_core.jobs.cluster import env_count
from mnist_core.jobs.job import Job, JobBusy
from mnist_core.jobs.training import TrainingJob

if TYPE_CHECKING:
    from mnist_core.training.pipeline import SplitReview

LIMIT_ENV = "MNIST_STUDIO_JOB_LIMIT"
DEFAULT_LIMIT = 2
KIND_WORDS = {
    "train": "a training job",
    "curve": "a learning-curve measurement",
    "tune": "a hyperparameter search",
    "audit": "a label audit",
    "robustness": "a robustness sweep",
    "tsne": "a t-SNE map",
}
KEEP_FINISHED = 40  # finished jobs kept for drawing; older ones are forgotten (memory)


def job_limit() -> int:
    """Jobs one session may have queued or running: $MNIST_STUDIO_JOB_LIMIT, else 2."""
    return env_count(LIMIT_ENV) or DEFAULT_LIMIT


class JobQueue:
    """Every job of this server, oldest first."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit or job_limit()
        self._lock = threading.Lock()
        self._jobs: list[Job] = []

    def submit(self, job: Job, owner: str, nickname: str = "") -> Job:
        """Queue `job` for `owner` unless it already has `limit` jobs not over (JobBusy);
        SchedulerUnreachable when the cluster cannot be reached (nothing queued)."""
        with self._lock:
            open_jobs = [j for j in self._jobs if j.owner == owner and j.running]
            if len(open_jobs) >= self.limit:
                what = ", ".join(KIND_WORDS.get(j.kind, "a job") for j in open_jobs)
                raise JobBusy(
                    f"You already have {what} queued or running, and the limit is {self.limit} "
                    f"job{'s' * (self.limit != 1)} per session: stop one or wait for one to finish."
                )
            job.owner, job.nickname = owner, nickname
            job.start(self.place)
            self._jobs.append(job)
            self._forget_old()
            return job

    def _forget_old(self) -> None:
        over = [j for j in self._jobs if not j.running]
        for job in over[: max(len(over) - KEEP_FINISHED, 0)]:
            self._jobs.remove(job)

    def jobs(self, owner: str | None = None) -> list[Job]:
        """Everyone's jobs (owner None) or one session's, oldest first."""
        with self._lock:
            return [j for j in self._jobs if owner is None or j.owner == owner]

    def place(self, job: Job) -> int | None:
        """1 for the next job to run, 2 for the one after…; None once it runs (or is over)."""
        if not job.queued:
            return None
        waiting = [j for j in self.jobs() if j.queued and j.running]
        return waiting.index(job) + 1 if job in waiting else None

    def view(self, owner: str, nickname: str = "", presenter: bool = False) -> SessionJobs:
        return SessionJobs(self, owner, nickname, presenter)


class SessionJobs:
    """One browser session's jobs: what a page starts, follows and stops."""

    def __init__(self, queue: JobQueue, owner: str, nickname: str = "", presenter: bool = False) -> None:
        self.queue, self.owner, self.nickname, self.presenter = queue, owner, nickname, presenter

    def submit(self, job: Job) -> Job:
        return self.queue.submit(job, self.owner, self.nickname)

    def start(
        self,
        configs: list[TrainConfig],
        names: list[str] | None = None,
        data: str = "auto",
        extra: Images | None = None,
        home: Path | None = None,
        review: SplitReview | None = None,
    ) -> TrainingJob:
        names = names or [""] * len(configs)
        job = TrainingJob(list(configs), list(names), data, extra, home, review)
        self.submit(job)
        return job

    def jobs(self) -> list[Job]:
        """This session's jobs, oldest first (everyone's for the presenter)."""
        return self.queue.jobs(None if self.presenter else self.owner)

    @property
    def job(self) -> Job | None:
        """This session's latest job."""
        mine = self.jobs()
        return mine[-1] if mine else None

    def job_of(self, kind: str) -> Job | None:
        """This session's latest job of this kind (a page shows only its own kind of job):
        a running one before a newer one still queued."""
        of_kind = [j for j in self.jobs() if j.kind == kind]
        running = [j for j in of_kind if j.running and not j.queued]
        return running[-1] if running else (of_kind[-1] if of_kind else None)

    @property
    def running(self) -> bool:
        """Whether one of this session's own jobs is queued or running (the presenter's too:
        seeing everyone's jobs must not keep the presenter from starting one)."""
        return any(j.running for j in self.queue.jobs(self.owner))

    def can_stop(self, job: Job) -> bool:
        return self.presenter or job.owner == self.owner

    def stop(self, job: Job | None = None) -> None:
        """Stop `job` (default: every job of this session not over yet); JobBusy when it is
        someone else's and this session is not the presenter."""
        if job is not None and not self.can_stop(job):
            raise JobBusy(
                "That job was started by another session: only its owner or the presenter can stop it."
            )
        for j in [job] if job is not None else [j for j in self.queue.jobs(self.owner) if j.running]:
            j.stop()
