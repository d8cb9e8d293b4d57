"""The page toolkit: the page registry, page set-up, and what every page shares.

Every page is a straight script of section functions with `main()` called at the bottom;
it calls this module and `mnist_core`, nothing heavy happens in a page. Here live:

- `STEPS` / `HOME`: the one list of pages (title, icon, file, blurb, URL path); `app.py`
  builds `st.navigation` from it and `link()` points at it.
- `page()`: set-up of a page (title, caption, sidebar, presenter mode).
- cached access to data, runs, models and the drawings store (`runs()`, `load_model()`,
  `run_version()`, `drawing_store()`), so a page renders within a blink once data is loaded.
- `flash()` / `show_flash()`: a message queued in a callback and shown on the next run.
- `follow_job()`: the one auto-refreshing fragment that draws a running job.
- `persistent()`: widget keys whose values survive a page switch.
- `warm_up()`: heavy imports in the background, once per process. Home needs no torch and
  renders at once; torch and the rest then load, so the visitor's next page does not wait.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from mnist_core.config import studio_home
from mnist_core.data import access
from mnist_core.data import sources as core_data
from mnist_core.deploy.collect import CollectError, DrawingStore
from mnist_core.jobs.job import Job, JobSnapshot
from mnist_core.jobs.queue import JobManager
from mnist_core.runs import storage

APP_NAME = "MNIST Workflow Studio"
ROOT = Path(__file__).resolve().parent
DRAWINGS_DB = "drawings.db"

# Session-state keys shared by several pages (each page names its own keys at its top).
DATA_KEY = "data_spec"  # "auto", "sample", "mnist" or a folder path
SPLIT_KEY = "split_settings"  # {"val_fraction": float, "split_seed": int}
TARGET_KEY = "target_accuracy"  # set on "Define the task", shown on "Evaluate"
FLASH_KEY = "_flash"  # {page title: (level, text)}
SHOWN_JOB_KEY = "_job_shown"  # {fragment key: id of the finished job already redrawn}
AUTH_KEY = "_authenticated"  # the session gave the demo password
PRESENT_KEY = "present"  # presenter mode on/off (the sidebar toggle)
PRESENT_URL_KEY = "_present_url_read"  # ?present=1 has been read for this session
DEFAULT_TARGET = 0.98
DEFAULT_SPLIT = {"val_fraction": 0.2, "split_seed": 0}

T = TypeVar("T")


# ---------------------------------------------------------------- the page registry


@dataclass(frozen=True)
class Step:
    """One page of the app: its file, title, icon, what it is for, and its URL path."""

    number: int  # position in the workflow (0 = Home)
    file: str
    title: str
    icon: str
    blurb: str
    url_path: str


HOME = Step(0, "app_pages/home.py", "Home", "🧭", "The workflow map and where things stand.", "")
# Reached from Home's "Start the 3-minute demo", not listed in the sidebar.
DEMO = Step(0, "app_pages/demo.py", "Demo", "🎬", "The six steps in three minutes, for an audience.", "demo")
STEPS: tuple[Step, ...] = (
    Step(
        1,
        "app_pages/define.py",
        "Define the task",
        "🎯",
        "Inputs, outputs and the bar to clear: target accuracy, baselines, labeling cost.",
        "Define_the_task",
    ),
    Step(
        2,
        "app_pages/data.py",
        "Data",
        "🔎",
        "Choose the data source; inspect class balance, samples, mean digits, pixels, ink.",
        "Data",
    ),
    Step(
        3,
        "app_pages/preprocess.py",
        "Preprocess",
        "🧹",
        "Scale pixels to 0–1 and split train / validation; the test set stays locked.",
        "Preprocess",
    ),
    Step(
        4,
        "app_pages/plan.py",
        "Plan",
        "📈",
        "How many labelled images reach the target: measure a learning curve, read the answer.",
        "Plan",
    ),
    Step(
        5,
        "app_pages/train.py",
        "Train",
        "🏋️",
        "Train baselines, MLPs and CNNs in the background and watch the curves live.",
        "Train",
    ),
    Step(
        6,
        "app_pages/tune.py",
        "Tune",
        "🎛️",
        "Search learning rate, dropout, weight decay and more with Optuna; prune hopeless trials.",
        "Tune",
    ),
    Step(
        7,
        "app_pages/evaluate.py",
        "Evaluate",
        "📊",
        "Accuracy against your target, confusions, mistakes; the test set when you are done.",
        "Evaluate",
    ),
    Step(
        8,
        "app_pages/deploy.py",
        "Deploy",
        "🚀",
        "Draw digits for the model, collect field data, export the model.",
        "Deploy",
    ),
)


def step(title: str) -> Step:
    """The page called `title` (e.g. "Data")."""
    for s in (HOME, DEMO, *STEPS):
        if s.title == title:
            return s
    raise KeyError(title)


def navigation_pages() -> list[st.Page]:
    """The `st.Page` list `app.py` hands to `st.navigation`."""
    pages = [st.Page(HOME.file, title=HOME.title, icon=HOME.icon, default=True)]
    pages += [st.Page(s.file, title=s.title, icon=s.icon, url_path=s.url_path) for s in STEPS]
    pages.append(
        st.Page(DEMO.file, title=DEMO.title, icon=DEMO.icon, url_path=DEMO.url_path, visibility="hidden")
    )
    return pages


def link(title: str, label: str | None = None, icon: str | None = None) -> None:
    """A link to another page of the app."""
    s = step(title)
    st.page_link(s.file, label=label or s.title, icon=icon or s.icon)


# ---------------------------------------------------------------- page set-up

_CSS = """
<style>
[data-testid="stMetricValue"] { font-size: 1.6rem; }
/* Streamlit leaves 6rem above the title: on a 720-pixel projector that is the working parts' room. */
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
</style>
"""
# Presenter mode: the audience sees the working parts big, not the teaching captions.
_PRESENT_CSS = """
<style>
[data-testid="stMain"] [data-testid="stCaptionContainer"] { display: none; }
[data-testid="stMetricValue"] { font-size: 2.6rem; }
[data-testid="stMetricLabel"] p { font-size: 1.1rem; }
.deploy-answer { font-size: 10rem !important; }
[data-testid="stMain"] h1 { font-size: 2.2rem; padding-top: 0; }
</style>
"""


def page(title: str, caption: str | None = None, heading: str | None = None) -> None:
    """Common page set-up: style, heading (the registry's icon and the page title, unless
    given), caption and the sidebar. A shared demo (MNIST_STUDIO_PASSWORD) asks for its
    password first, once per session."""
    require_password()
    _present_from_url()
    st.html(_CSS + (_PRESENT_CSS if presenting() else ""))
    st.title(f"{step(title).icon} {heading or title}")
    if caption:
        st.caption(caption)
    sidebar()


def sidebar() -> None:
    """Presenter mode, data source and latest model, on every page."""
    with st.sidebar:
        st.markdown(f"#### {APP_NAME}")
        st.toggle(
            "🎬 Present",
            **persistent(PRESENT_KEY, False),
            on_change=_on_present,
            help="Presenter mode: the sidebar folds away, teaching captions hide and the "
            "headline numbers grow. Bookmark the address to open in it (?present=1).",
        )
        try:
            info = source_info()
            st.markdown(f"**Data:** {info.name}")
            if info.note:
                st.caption(info.note)
        except core_data.DataError as exc:
            st.error(str(exc))
        listing = run_listing()
        found = listing.runs
        st.markdown(f"**Latest model:** {found[0].label}" if found else "**Model:** none trained yet")
        if listing.damaged:
            st.caption(f"⚠️ {listing.note}")
        if job_running():
            st.info("A job is running in the background…", icon="⏳")


# ---------------------------------------------------------------- warming up

# What the other pages import: torch alone takes about a second, Altair a few tenths.
WARM_MODULES = (
    "torch",
    "mnist_core.training.pipeline",
    "mnist_core.data.explore",
    "mnist_core.evaluation.evaluate",
    "altair",
)
_warmed: set[str] = set()  # modules a warm-up thread has been started for, in this process
_warm_lock = threading.Lock()


def warm_up(modules: tuple[str, ...] | None = None) -> None:
    """Import `modules` in a background thread, each once per server process, so the page or
    view that needs them next finds them loaded. Home calls it after it has rendered (torch and
    the rest, `WARM_MODULES`); Deploy for Captum, before its "why?" view is first opened."""
    with _warm_lock:
        todo = tuple(m for m in (modules or WARM_MODULES) if m not in _warmed)
        _warmed.update(todo)
    if todo:
        threading.Thread(target=_import_all, args=(todo,), name="warm-up", daemon=True).start()


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # a page that needs it reports the failure where it is used
            logging.getLogger(__name__).exception("warming up %s failed", name)


# ---------------------------------------------------------------- presenter mode


def presenting() -> bool:
    """Whether this browser session is in presenter mode (off by default)."""
    return bool(st.session_state.get(PRESENT_KEY, False))


def _present_from_url() -> None:
    """`?present=1` in a bookmarked address opens the session in presenter mode (once: the
    toggle decides after that)."""
    if st.session_state.get(PRESENT_URL_KEY):
        return
    st.session_state[PRESENT_URL_KEY] = True
    if st.query_params.get("present") in ("1", "true", "yes", "on"):
        st.session_state[PRESENT_KEY] = True
        st.set_page_config(initial_sidebar_state="collapsed")


def _on_present() -> None:
    if presenting():
        st.query_params["present"] = "1"  # the address now bookmarks presenter mode
        st.set_page_config(initial_sidebar_state="collapsed")
    else:
        st.query_params.pop("present", None)


def teach(text: str) -> None:
    """A teaching caption: shown to learners, hidden in presenter mode."""
    if not presenting():
        st.caption(text)


# ---------------------------------------------------------------- sharing: password and folders


def shared() -> bool:
    """Whether the server listens beyond loopback (`make run HOST=0.0.0.0`): then visitors are
    strangers, and the folder data source is confined to the allowed data roots."""
    return not access.is_loopback(st.get_option("server.address"))


def allowed_folder(text: str) -> str:
    """The folder a visitor typed, checked against the allowed roots when the app is shared
    (raises DataError with a message that reveals nothing outside them)."""
    return str(access.check_data_folder(text)) if shared() else text


def require_password() -> None:
    """When MNIST_STUDIO_PASSWORD is set, ask for it once per browser session; stop until given."""
    expected = access.demo_password()
    if expected is None or st.session_state.get(AUTH_KEY):
        return
    st.title(f"🔒 {APP_NAME}")
    with st.form("password_form"):
        given = st.text_input("Password", type="password", help="This shared demo asks for a password.")
        submitted = st.form_submit_button("Enter", type="primary")
    if submitted and access.password_ok(given, expected):
        st.session_state[AUTH_KEY] = True
        st.rerun()
    if submitted:
        st.error("That is not the password.")
    st.stop()


# ---------------------------------------------------------------- flash messages


def flash(level: str, text: str) -> None:
    """Queue a message for the next run of this page (callbacks run before the page draws, and a
    rerun would drop anything shown from them). `level`: success, info, warning, error or toast."""
    st.session_state.setdefault(FLASH_KEY, {})[_current_title()] = (level, text)


def show_flash() -> None:
    """Show (once) the message queued for this page, where this is called."""
    queued = st.session_state.get(FLASH_KEY, {}).pop(_current_title(), None)
    if queued is None:
        return
    level, text = queued
    if level == "toast":
        st.toast(text)
    else:
        {"success": st.success, "warning": st.warning, "error": st.error}.get(level, st.info)(text)


def _current_title() -> str:
    """Which page is running (callbacks run inside the run of the page that drew the widget)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else ""


# ---------------------------------------------------------------- widget state across pages


def persistent(key: str, default: Any) -> dict[str, Any]:
    """Widget kwargs whose value survives leaving the page and coming back.

    Streamlit forgets a widget's value when its page is not drawn; `persist_state="session"`
    keeps it for the browser session. The default goes into session state once, so widgets
    need no `value=` (which would fight code that sets the key from a callback).
    """
    if key not in st.session_state:
        st.session_state[key] = default
    return {"key": key, "persist_state": "session"}


# ---------------------------------------------------------------- data


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
    _test_set.clear()
    _label_counts.clear()


# ---------------------------------------------------------------- runs and models


def home() -> Path:
    return studio_home()


def _runs_signature(root: Path) -> tuple:
    """Changes whenever a run folder is added, removed or rewritten (files are replaced
    atomically, so the folder's mtime moves), without parsing anything."""
    try:
        entries = sorted((e.name, e.stat().st_mtime_ns) for e in os.scandir(root) if e.is_dir())
    except FileNotFoundError:
        return ()
    return tuple(entries)


@st.cache_resource(max_entries=4, show_spinner=False)
def _run_listing(root: str, signature: tuple) -> storage.RunListing:
    return storage.scan_runs(Path(root).parent)


def run_listing() -> storage.RunListing:
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


# ---------------------------------------------------------------- background jobs


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
    shown = st.session_state.setdefault(SHOWN_JOB_KEY, {})

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
