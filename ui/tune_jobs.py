"""The Tune page's background jobs drawn: a search (its progress while it runs, how it ended
afterwards) and the best trial being retrained and saved as a run (then where the run went)."""

from __future__ import annotations

from typing import Any

import streamlit as st

import ui
from mnist_core.jobs.job import JobSnapshot, JobState
from ui.job_status import show_failed_or_running


def job_storage(job: Any, url: str) -> str:
    """The storage a search job works on (its first record says; `url` until it has one)."""
    start = job.snapshot().latest("search_start")
    return start["storage"] if start else url


def error_text(error: str) -> str:
    """A job's error without the exception class of the errors that explain themselves."""
    kind, _, text = error.partition(": ")
    return text if kind in ("TuneError", "DataError", "ConfigError", "StorageError") and text else error


def show_search(snap: JobSnapshot, live: bool) -> None:
    """A search job: its progress while it runs; how it ended afterwards."""
    for note in snap.of_kind("note"):
        st.info(note["text"])
    end = snap.latest("search_end")
    failed = lambda error: f"The search of “{snap.title}” failed: {error_text(error)}"
    if show_failed_or_running(snap, live, failed, stopping=f"Stopping {snap.title}… "):
        return
    if end is not None:
        (st.info if end["stopped"] else st.success)(end["text"][:1].upper() + end["text"][1:] + ".")
    elif snap.state == JobState.STOPPED:
        st.warning(f"The search of “{snap.title}” stopped before its first trial began.")


def show_save(snap: JobSnapshot, live: bool) -> None:
    """Retraining the best trial to keep its model: progress, then where the run went."""
    saved = snap.latest("saved")
    if show_failed_or_running(snap, live, lambda error: f"Saving the best trial failed: {error_text(error)}"):
        return
    if saved is not None:
        acc = saved["val_accuracy"]
        st.success(
            f"{snap.title}: saved as run `{saved['run_id']}`"
            + (f" (validation accuracy {acc:.2%})" if acc is not None else "")
            + ". Judge it on Evaluate, try it on Deploy."
        )
        left, right, _ = st.columns([1, 1, 3])
        with left:
            ui.link("Evaluate")
        with right:
            ui.link("Deploy")
    else:
        st.warning(f"{snap.title}: stopped before the model had learned anything; nothing was saved.")
