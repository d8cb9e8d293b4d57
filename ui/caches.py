"""The session's data choice and everything cached across sessions: the data (training pool, label
counts, split counts), saved runs and their models, and the collected-drawings store.

Cached once per server (`st.cache_resource` / `st.cache_data`), so a page renders within a blink
once the data is loaded. Anything cached per run is keyed by `run_version(run)`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import streamlit as st

from mnist_core.config import studio_home
from mnist_core.data import sources as core_data
from mnist_core.deploy.collect import CollectError, DrawingStore
from mnist_core.files import is_dir
from mnist_core.runs import listing, storage
from ui import state as keys
from ui.registry import link

DRAWINGS_DB = "drawings.db"

# Defaults of the shared session state (its keys are in ui.state).
DEFAULT_TARGET = 0.98
DEFAULT_SPLIT = {"val_fraction": 0.2, "split_seed": 0}

T = TypeVar("T")


# ---------------------------------------------------------------- data


def data_spec() -> str:
    return st.session_state.get(keys.APP_DATA_SPEC, "auto")


def set_data_spec(spec: str) -> None:
    st.session_state[keys.APP_DATA_SPEC] = spec


def split_settings() -> dict:
    return dict(st.session_state.get(keys.APP_SPLIT, DEFAULT_SPLIT))


def set_split_settings(val_fraction: float, split_seed: int) -> None:
    st.session_state[keys.APP_SPLIT] = {"val_fraction": float(val_fraction), "split_seed": int(split_seed)}


def target_accuracy() -> float:
    return float(st.session_state.get(keys.APP_TARGET_ACCURACY, DEFAULT_TARGET))


def source_info() -> core_data.SourceInfo:
    return core_data.resolve_source(data_spec())


@st.cache_resource(show_spinner="Loading images…")
def _train_pool(key: str) -> core_data.Images:
    return core_data.load_train_pool(key)


def train_pool() -> core_data.Images:
    """The training pool of the active source (cached for every session)."""
    return _train_pool(source_info().key)


def pool_for(key: str) -> core_data.Images:
    """The training pool of a resolved source key (for `st.cache_data` functions keyed by it)."""
    return _train_pool(key)


@st.cache_data(show_spinner=False)
def _label_counts(key: str, part: str) -> list[int]:
    return core_data.label_counts(key, part)


def test_label_counts() -> list[int]:
    """How many test images of each digit: counting labels shows no image to anyone."""
    return _label_counts(source_info().key, "test")


def pool_label_counts() -> list[int]:
    """How many training-pool images of each digit (read from the labels: no torch needed)."""
    return _label_counts(source_info().key, "train")


@st.cache_data(show_spinner="Counting digits…")
def split_count_rows(key: str, val_fraction: float, seed: int, test_counts: tuple[int, ...]) -> list[dict]:
    """Images per digit in train, validation and test, for a source key and split settings."""
    from mnist_core.data import explore

    counts = explore.split_counts(pool_for(key), val_fraction, seed)
    return explore.count_rows({**counts, "test": list(test_counts)})


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
    _label_counts.clear()


# ---------------------------------------------------------------- runs and models


def home() -> Path:
    return studio_home()


def _runs_signature(root: Path) -> tuple:
    """Changes whenever a run folder is added, removed or rewritten (files are replaced
    atomically, so the folder's mtime moves), without parsing anything."""
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return ()
    signature = []
    for entry in entries:
        kind = is_dir(entry.path)  # None: a symlink loop, listed below as a damaged run
        if kind is False:
            continue
        try:
            signature.append((entry.name, entry.stat(follow_symlinks=bool(kind)).st_mtime_ns))
        except OSError:  # removed while listing
            continue
    return tuple(sorted(signature))


@st.cache_resource(max_entries=4, show_spinner=False)
def _run_listing(root: str, signature: tuple) -> listing.RunListing:
    return listing.scan_runs(Path(root).parent)


def run_listing() -> listing.RunListing:
    """Every readable saved run (newest first) and the damaged folders skipped; parsed once per
    change of the runs folder."""
    root = storage.runs_dir(home())
    return _run_listing(str(root), _runs_signature(root))


def runs() -> list[storage.Run]:
    """Every readable saved run, newest first."""
    return run_listing().runs


def run_version(run: storage.Run) -> float:
    """A cache key that changes when the run's weights or metadata are rewritten."""
    stamps = [
        (run.path / name).stat().st_mtime
        for name in (storage.WEIGHTS, "meta.json")
        if (run.path / name).exists()
    ]
    return max(stamps, default=0.0)


@st.cache_resource(max_entries=8, show_spinner=False)
def _model(path: str, version: float):
    return storage.load_run(path).load_model()


def load_model(run: storage.Run):
    """The run's model, cached (reloaded if its weights file changed)."""
    return _model(str(run.path), run_version(run))


@st.cache_resource(max_entries=8, show_spinner=False)
def _answering_model(path: str, version: float):
    from mnist_core.training.models import for_inference

    return for_inference(_model(path, version))


def answering_model(run: storage.Run):
    """The run's model built for one-image answers (batch norms folded in, no dropout: the same
    function, ~10 % faster per drawing); cached. Explanations use `load_model`'s layers."""
    return _answering_model(str(run.path), run_version(run))


def drawings_path() -> Path:
    return home() / DRAWINGS_DB


def drawing_store(create: bool = True) -> DrawingStore | None:
    """The collected-drawings database; None (with the reason shown) when it cannot be opened,
    or when `create` is False and nothing has been collected yet."""
    path = drawings_path()
    if not create and not path.is_file():
        return None
    try:
        return DrawingStore(path)
    except CollectError as exc:
        st.warning(f"The collected drawings cannot be read: {exc}")
        return None
