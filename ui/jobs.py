"""Background jobs on a page: the one job manager of the server, the Start/Stop row every job page
opens with, and `follow_job()`, the auto-refreshing fragment that draws a running job.

Long work (training, learning curves, searches) runs as a `Job` in `job_manager()`, so it
survives page switches and reloads and every session sees it.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from mnist_core.training.jobs import Job, JobManager, JobSnapshot
from ui import state as keys


@st.cache_resource
def job_manager() -> JobManager:
    """One background job per server, shared by every browser session."""
    return JobManager()


def job_running() -> bool:
    return job_manager().running


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
    on_click, help)`) and, while a job runs, a note saying when Start is back."""
    label, start_key, on_start, args = start
    stop_key, on_stop, stop_help = stop
    cols = st.columns(list(widths), vertical_alignment="center")
    cols[0].button(
        label,
        type="primary",
        key=start_key,
        on_click=on_start,
        args=args,
        disabled=not can_start,
        width="stretch",
    )
    cols[1].button(
        "■ Stop", key=stop_key, on_click=on_stop, disabled=not can_stop, width="stretch", help=stop_help
    )
    if busy_note:
        cols[2].caption(busy_note)


def follow_job(job: Job, draw: Callable[[JobSnapshot, bool], None], key: str, every: float = 0.5) -> None:
    """Draw `job` with `draw(snapshot, live)`, refreshed every `every` s while it runs; when it
    ends, rerun the whole page once (so buttons re-enable and the polling stops)."""
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
