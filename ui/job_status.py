"""How a background job stands, as the pages' job views (Plan, Tune) open it: its error once it
failed, its progress bar while it runs. How a job *ended* is each view's own business."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from mnist_core.jobs.job import JobSnapshot
from mnist_core.jobs.progress import job_progress


def show_failed_or_running(
    snap: JobSnapshot, live: bool, failed: Callable[[str], str], stopping: str = "Stopping… "
) -> bool:
    """`failed(error)` as an error once the job failed, else its progress bar while it runs (the
    words prefixed by `stopping` once a stop is asked). False when it drew neither: the job ended
    without an error, and the caller shows how."""
    if snap.error:
        st.error(failed(snap.error))
    elif live:
        bar = job_progress(snap)
        st.progress(bar.fraction, text=(stopping if snap.stop_requested else "") + bar.text)
    else:
        return False
    return True
