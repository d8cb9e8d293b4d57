"""The Tune page's view of the study storage: which storage (`storage_picker`, and why), the
studies in it (`studies`, newest first), and one study read as plain data (`read_study`, with
`results.study_view`), cached per `version()` so other workers' trials show within seconds."""

from __future__ import annotations

import os
import time
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

import ui
from mnist_core.planning.tune import TuneError
from mnist_core.planning.tune.results import importances, list_studies, study_view
from mnist_core.planning.tune.storage import STORAGE_ENV, normalize_url, open_storage, storage_label
from mnist_core.planning.tune.study import load_study
from ui import state as keys

REFRESH_S = 2.0  # how often a live view re-reads the storage for other workers' trials
ss = st.session_state


def storage_picker(key: str) -> str | None:
    """The storage input and which storage is used; its URL, or None (with the reason shown)
    when it cannot be used. A shared app (beyond loopback) always uses its default storage:
    a visitor must not point it at files or servers of their choosing."""
    shared, env = ui.shared(), os.environ.get(STORAGE_ENV, "").strip()
    st.text_input(
        "Study storage (empty = the default)",
        **ui.persistent(key, ""),
        disabled=shared,
        placeholder=storage_label(None),
        help="A SQLAlchemy URL Optuna accepts (postgresql://USER@HOST/DB, sqlite:///PATH) or a "
        "path to a SQLite file. Workers pointed at the same storage share its studies.",
    )
    typed = "" if shared else ss.get(key, "").strip()
    try:
        url = normalize_url(typed or None)
    except TuneError as exc:
        st.error(str(exc))
        return None
    source = (
        "the storage typed above"
        if typed
        else f"${STORAGE_ENV}, shared with every worker pointed at it"
        if env
        else "the embedded store in the studio folder (nothing to install)"
    )
    st.caption(
        f"Studies are kept in `{storage_label(url)}`: {source}."
        + (" This shared app always uses its default storage." if shared else "")
    )
    problem = storage_problem(url)
    if problem:
        st.error(problem)
        return None
    return url


@st.cache_data(ttl=15, show_spinner="Opening the study storage…")
def storage_problem(url: str) -> str | None:
    """Why the storage cannot be opened (an unreachable database waits for its timeout:
    the answer is kept a few seconds so every rerun does not wait again), or None."""
    try:
        open_storage(url)
    except TuneError as exc:
        return str(exc)
    return None


@st.cache_data(ttl=REFRESH_S, max_entries=8, show_spinner=False)
def _studies(url: str, version: tuple) -> list[dict[str, Any]]:
    return list_studies(url)


def studies(url: str) -> list[dict[str, Any]]:
    """The studies in the storage, newest first (re-read every few seconds, and whenever the
    background job has moved on, so the list is fresh when a search ends)."""
    job = ui.job_manager().job
    moved = (job.id, job.running, len(job.snapshot().records)) if job is not None else None
    try:
        return _studies(url, (ss.get(keys.TUNE_REFRESH, 0), moved))
    except SQLAlchemyError as exc:  # a database that went away after it opened: say so, draw the rest
        st.warning(f"Cannot list the studies now: {_first_line(exc)}")
        return []


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def refresh() -> None:
    """Re-read the storage now (the Refresh button, and after a change made here)."""
    ss[keys.TUNE_REFRESH] = ss.get(keys.TUNE_REFRESH, 0) + 1


def version(records: int = 0) -> tuple[int, int, int]:
    """The cache key of a study read: the Refresh count, this job's records so far, and a clock
    tick (other workers' trials show within REFRESH_S even when nothing here changed)."""
    return ss.get(keys.TUNE_REFRESH, 0), records, int(time.time() // REFRESH_S)


@st.cache_data(max_entries=32, show_spinner=False)
def study_state(url: str, name: str, version: tuple) -> dict[str, Any]:
    """`results.study_view` of the study, read once per `version()`."""
    return study_view(name, url)


@st.cache_data(max_entries=16, show_spinner="Computing parameter importances…")
def study_importances(url: str, name: str, n_complete: int) -> dict[str, float] | None:
    """optuna.importance of the study (recomputed only when a trial completes)."""
    return importances(load_study(name, url))


def read_study(url: str, name: str, records: int = 0, quiet: bool = False) -> dict[str, Any] | None:
    """The study's state, or None with the reason shown (deleted meanwhile, storage gone);
    `quiet`: say nothing (a search that has not created its study yet)."""
    try:
        return study_state(url, name, version(records))
    except TuneError as exc:
        if not quiet:
            st.warning(str(exc))
    except SQLAlchemyError as exc:  # the database went away mid-search: the next read may work
        st.warning(f"Cannot read study “{name}” now: {_first_line(exc)}")
    return None
