"""Shared AppTest helpers: open a page inside the app (so `st.navigation` and page links
resolve as in a browser), read the texts a person sees, and leave no background job behind.

The job queue is a process-wide `st.cache_resource`, shared by every AppTest in this process
(each AppTest is a browser session with its own jobs on it): each test starts with a fresh
queue and ends with every job stopped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui

REPO = Path(__file__).resolve().parents[2]
TEXT_KINDS = ("markdown", "caption", "success", "warning", "info", "error", "title", "subheader")


def open_page(page: str | None = None, timeout: float = 60, **state) -> AppTest:
    """Run the app and switch to `page` (e.g. "pages/Train.py"); `state` seeds session state."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Every piece of text on the page, one per line."""
    parts = [e.value for kind in TEXT_KINDS for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def wait_idle(timeout: float = 60) -> None:
    for job in ui.all_jobs().jobs():
        job.join(timeout)
        assert not job.running, "a background job did not end in time"


@pytest.fixture(autouse=True)
def no_leftover_job():
    """Every test starts as on a fresh server and ends with no job running."""
    wait_idle()
    ui.job_queue.clear()
    yield
    for job in ui.all_jobs().jobs():
        job.stop()
        wait_idle()
