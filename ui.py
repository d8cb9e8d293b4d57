"""Shared Streamlit helpers: page set-up, the sidebar, and cached access to data, runs and the job.

Pages stay thin: they call these helpers and `mnist_core`, nothing heavy happens in a page.
Everything slow is cached here with `st.cache_resource`, so a page renders within a blink
once the data is loaded.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mnist_core import data as core_data
from mnist_core import storage
from mnist_core.config import studio_home
from mnist_core.jobs import JobManager

DATA_KEY = "data_spec"          # "auto", "sample", "mnist" or a folder path
SPLIT_KEY = "split_settings"    # {"val_fraction": float, "split_seed": int}
TARGET_KEY = "target_accuracy"  # set on "Define the task", shown on "Evaluate"
DEFAULT_TARGET = 0.98


def page(title: str, icon: str, caption: str | None = None) -> None:
    """Common page set-up: config, title, and the sidebar status."""
    st.set_page_config(page_title=f"{title} · MNIST Workflow Studio", page_icon=icon, layout="wide")
    st.title(f"{icon} {title}")
    if caption:
        st.caption(caption)
    sidebar()


def data_spec() -> str:
    return st.session_state.get(DATA_KEY, "auto")


def set_data_spec(spec: str) -> None:
    st.session_state[DATA_KEY] = spec


def split_settings() -> dict:
    return st.session_state.get(SPLIT_KEY, {"val_fraction": 0.2, "split_seed": 0})


def target_accuracy() -> float:
    return float(st.session_state.get(TARGET_KEY, DEFAULT_TARGET))


def source_info() -> core_data.SourceInfo:
    return core_data.resolve_source(data_spec())


@st.cache_resource(show_spinner="Loading images…")
def _train_pool(key: str) -> core_data.Images:
    return core_data.load_train_pool(key)


@st.cache_resource(show_spinner="Loading the test set…")
def _test_set(key: str) -> core_data.Images:
    return core_data.load_test(key)


def train_pool() -> core_data.Images:
    """The training pool of the active source (cached for every session)."""
    return _train_pool(source_info().key)


def test_set() -> core_data.Images:
    """The held-out test set of the active source: only call this when the user asked for it."""
    return _test_set(source_info().key)


@st.cache_resource
def job_manager() -> JobManager:
    """One training job per server, shared by every browser session."""
    return JobManager()


def home() -> Path:
    return studio_home()


def runs() -> list[storage.Run]:
    return storage.list_runs()


@st.cache_resource(max_entries=8)
def _model(path: str, mtime: float):
    return storage.load_run(path).load_model()


def load_model(run: storage.Run):
    """The run's model, cached (reloaded if its weights file changed)."""
    weights = run.path / storage.WEIGHTS
    return _model(str(run.path), weights.stat().st_mtime if weights.exists() else 0.0)


def sidebar() -> None:
    """Data source and latest model, on every page."""
    with st.sidebar:
        try:
            info = source_info()
            st.markdown(f"**Data:** {info.name}")
            if info.note:
                st.caption(info.note)
        except core_data.DataError as exc:
            st.error(str(exc))
        latest = storage.latest_run()
        if latest is None:
            st.markdown("**Model:** none trained yet")
        else:
            st.markdown(f"**Latest model:** {latest.label}")
        job = job_manager().job
        if job is not None and job.running:
            st.info("Training in progress…")
