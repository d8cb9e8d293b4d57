"""Shared Streamlit helpers: page set-up, the sidebar, and cached access to data, runs and the job.

Pages stay thin: they call these helpers and `mnist_core`, nothing heavy happens in a page.
Everything slow is cached here with `st.cache_resource`, so a page renders within a blink
once the data is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError
from streamlit.source_util import page_icon_and_name

from mnist_core import data as core_data
from mnist_core import storage
from mnist_core.config import studio_home
from mnist_core.jobs import JobManager

DATA_KEY = "data_spec"          # "auto", "sample", "mnist" or a folder path
SPLIT_KEY = "split_settings"    # {"val_fraction": float, "split_seed": int}
TARGET_KEY = "target_accuracy"  # set on "Define the task", shown on "Evaluate"
DEFAULT_TARGET = 0.98
DEFAULT_SPLIT = {"val_fraction": 0.2, "split_seed": 0}
APP_NAME = "MNIST Workflow Studio"
ROOT = Path(__file__).resolve().parent

T = TypeVar("T")


@dataclass(frozen=True)
class Step:
    """One step of the workflow: its page file, title, icon and what it is for."""

    number: int
    path: str
    title: str
    icon: str
    blurb: str

    @property
    def url_path(self) -> str:
        """The URL Streamlit derives from the file name: `/Define_the_task` (the emoji is dropped)."""
        return page_icon_and_name(Path(self.path))[1]

    @property
    def exists(self) -> bool:
        return (ROOT / self.path).is_file()


STEPS: tuple[Step, ...] = (
    Step(1, "pages/1_🎯_Define_the_task.py", "Define the task", "🎯",
         "Inputs, outputs and the bar to clear: target accuracy, baselines, labeling cost."),
    Step(2, "pages/2_🔎_Data.py", "Data", "🔎",
         "Choose the data source; inspect class balance, samples, mean digits, pixels, ink."),
    Step(3, "pages/3_🧹_Preprocess.py", "Preprocess", "🧹",
         "Scale pixels to 0–1 and split train / validation; the test set stays locked."),
    Step(4, "pages/4_🏋️_Train.py", "Train", "🏋️",
         "Train baselines, MLPs and CNNs in the background and watch the curves live."),
    Step(5, "pages/5_📊_Evaluate.py", "Evaluate", "📊",
         "Accuracy against your target, confusions, mistakes; the test set when you are done."),
    Step(6, "pages/6_🚀_Deploy.py", "Deploy", "🚀",
         "Draw digits for the model, collect field data, export the model."),
)


def step(title: str) -> Step:
    """The workflow step called `title` (e.g. "Data")."""
    for s in STEPS:
        if s.title == title:
            return s
    raise KeyError(title)


def link(title: str, label: str | None = None, icon: str | None = None) -> None:
    """A page link to a workflow step; plain text if that page is not in this build."""
    s = step(title)
    text = label or s.title
    if not s.exists:
        st.caption(f"{s.icon} {text} (page not available in this build)")
        return
    try:
        st.page_link(s.path, label=text, icon=icon or s.icon)
    except StreamlitPageNotFoundError:
        # Only when a page runs as its own entrypoint (AppTest.from_file on a page): a plain
        # link to the page's URL still works there.
        st.markdown(f"{icon or s.icon} [{text}](/{s.url_path})")


# Streamlit names the home page after its file ("app"); this relabels it in the sidebar.
_CSS = """
<style>
[data-testid="stSidebarNav"] li:first-child span[label="app"] p { font-size: 0; }
[data-testid="stSidebarNav"] li:first-child span[label="app"] p::after {
  content: "🧭 Home"; font-size: 0.875rem; }
[data-testid="stMetricValue"] { font-size: 1.6rem; }
</style>
"""


def page(title: str, icon: str, caption: str | None = None) -> None:
    """Common page set-up: config, style, title, and the sidebar status."""
    st.set_page_config(page_title=f"{title} · {APP_NAME}", page_icon=icon, layout="wide")
    st.html(_CSS)
    st.title(f"{icon} {title}")
    if caption:
        st.caption(caption)
    sidebar()


def data_spec() -> str:
    return st.session_state.get(DATA_KEY, "auto")


def set_data_spec(spec: str) -> None:
    st.session_state[DATA_KEY] = spec


def split_settings() -> dict:
    return dict(st.session_state.get(SPLIT_KEY, DEFAULT_SPLIT))


def set_split_settings(val_fraction: float, split_seed: int) -> None:
    st.session_state[SPLIT_KEY] = {"val_fraction": float(val_fraction), "split_seed": int(split_seed)}


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


def pool_for(key: str) -> core_data.Images:
    """The training pool of a resolved source key (for `st.cache_data` functions keyed by it)."""
    return _train_pool(key)


def test_set() -> core_data.Images:
    """The held-out test set of the active source: only call this when the user asked for it."""
    return _test_set(source_info().key)


@st.cache_data(show_spinner=False)
def _test_label_counts(key: str) -> list[int]:
    labels = _test_set(key).labels
    return [int(c) for c in labels.bincount(minlength=10)[:10]]


def test_label_counts() -> list[int]:
    """How many test images of each digit: counting labels shows no image to anyone."""
    return _test_label_counts(source_info().key)


def or_stop(load: Callable[[], T]) -> T:
    """Call a loader; if the data cannot be loaded, show why and end this page's run cleanly."""
    try:
        return load()
    except core_data.DataError as exc:
        st.error(f"{exc}")
        link("Data", "Choose another data source")
        st.stop()
        raise  # unreachable: st.stop() raises; keeps type checkers content


def clear_data_caches() -> None:
    """Forget cached data (after a download or a new folder), so the next load reads from disk."""
    _train_pool.clear()
    _test_set.clear()
    _test_label_counts.clear()


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


def job_running() -> bool:
    job = job_manager().job
    return job is not None and job.running


def sidebar() -> None:
    """Data source and latest model, on every page."""
    with st.sidebar:
        st.markdown(f"#### {APP_NAME}")
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
        if job_running():
            st.info("Training in progress…", icon="⏳")
