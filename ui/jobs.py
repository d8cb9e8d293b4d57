"""Background jobs on a page: this session's jobs on the server's queue, the Start/Stop row
every job page opens with, and `follow_job()`, the auto-refreshing fragment that draws a job.

Long work (training, learning curves, searches) runs as a `Job` on the Dask cluster
(mnist_core.jobs), so it survives page switches and reloads. One queue serves the whole
server; each browser session sees and stops only its own jobs (the presenter of a
password-protected demo sees and stops everyone's), may have a few queued at once, and gives
itself a nickname that the runs it trains carry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import streamlit as st

from mnist_core.data import access as core_access
from mnist_core.jobs import cluster
from mnist_core.jobs.job import Job, JobBusy, JobSnapshot
from mnist_core.jobs.queue import JobQueue, SessionJobs
from ui import state as keys
from ui.messages import flash
from ui.presenter import presenting


@st.cache_resource
def job_queue() -> JobQueue:
    """The server's one queue of jobs, every session's."""
    return JobQueue()


def session_owner() -> str:
    if keys.APP_JOB_OWNER not in st.session_state:
        st.session_state[keys.APP_JOB_OWNER] = uuid.uuid4().hex[:8]
    return st.session_state[keys.APP_JOB_OWNER]


def nickname() -> str:
    return str(st.session_state.get(keys.APP_NICKNAME, "")).strip()


def sees_all() -> bool:
    """The presenter of a password-protected demo sees and may stop every session's jobs."""
    return presenting() and core_access.demo_password() is not None


def job_manager() -> SessionJobs:
    """This browser session's jobs: start, follow and stop them here."""
    return job_queue().view(session_owner(), nickname(), presenter=sees_all())


def all_jobs() -> SessionJobs:
    """Every session's jobs, as the presenter sees them (Home's queue, tests)."""
    return job_queue().view("", presenter=True)


def job_running() -> bool:
    """Whether one of this session's jobs is queued or running."""
    return job_manager().running


def cluster_problem() -> str | None:
    """The one line that says why no job can start now (the configured scheduler is away)."""
    return cluster.unreachable()


def stop_job(job: Job | None) -> None:
    """Stop a job this session may stop; say so in one line otherwise."""
    if job is None:
        return
    try:
        job_manager().stop(job)
    except JobBusy as exc:
        flash("warning", str(exc))


def start_stop_row(
    start: tuple[str, str, Callable[..., None], tuple],
    stop: tuple[str, Callable[[], None], str],
    *,
    can_start: bool,
    can_stop: bool,
    busy_note: str | None = None,
    widths: tuple[float, float, float] = (1.6, 1, 3.4),
) -> None:
    """The row every job page opens with: Start (`(label, key, on_click, args)`), Stop (`(key,
    on_click, help)`) and, while a job runs, a note saying when Start is back. Start is off,
    with the reason in one line, while the cluster cannot be reached."""
    label, start_key, on_start, args = start
    stop_key, on_stop, stop_help = stop
    problem = cluster_problem()
    if problem:
        st.warning(problem, icon="🔌")
    cols = st.columns(list(widths), vertical_alignment="center")
    cols[0].button(
        label,
        type="primary",
        key=start_key,
        on_click=on_start,
        args=args,
        disabled=not can_start or problem is not None,
        width="stretch",
    )
    cols[1].button(
        "■ Stop", key=stop_key, on_click=on_stop, disabled=not can_stop, width="stretch", help=stop_help
    )
    if busy_note:
        cols[2].caption(busy_note)


def follow_job(job: Job, draw: Callable[[JobSnapshot, bool], None], key: str, every: float = 0.5) -> None:
    """Draw `job` with `draw(snapshot, live)`, refreshed every `every` s while it is queued or
    runs; when it ends, rerun the whole page once (so buttons re-enable and the polling stops)."""
    shown = st.session_state.setdefault(keys.APP_JOBS_SHOWN, {})

    @st.fragment(run_every=every if job.running else None)
    def live() -> None:
        running = job.running
        draw(job.snapshot(), running)
        if not running and shown.get(key) != job.id:
            shown[key] = job.id
            st.rerun()

    if not job.running:
        shown[key] = job.id  # already over when the page drew it: no rerun needed
    live()
