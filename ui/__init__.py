"""The page toolkit: what every page shares, one concern per module.

Pages and views call it as `ui.<name>`; the names below come from:

- `registry`: the one list of pages (`STEPS`, `HOME`, `DEMO`), `link()`, `navigate()` (app.py).
- `layout`: `page()`, the set-up every page starts with, and the sidebar.
- `presenter`: presenter mode and `teach()` captions; `access`: the password gate, shared folders.
- `messages`: `flash()` / `show_flash()`; `widgets`: `persistent()` widget values.
- `caches`: the session's data choice; cached data, runs, models, the drawings store.
- `jobs`: this session's jobs on the server's queue, the Start/Stop row, `follow_job()`.
- `warmup`: heavy imports in the background; `markup`: the only CSS on Streamlit's internals.

Home, the first page a fresh server renders, imports no torch: neither may these modules at
their top.
"""

from __future__ import annotations

from ui.access import allowed_folder, shared
from ui.caches import (
    DRAWINGS_DB,
    answering_model,
    clear_data_caches,
    data_spec,
    drawing_store,
    drawings_path,
    home,
    load_model,
    or_stop,
    pool_for,
    pool_label_counts,
    run_version,
    runs,
    set_data_spec,
    set_split_settings,
    source_info,
    split_count_rows,
    split_settings,
    target_accuracy,
    test_label_counts,
    train_pool,
)
from ui.jobs import (
    all_jobs,
    cluster_problem,
    follow_job,
    job_manager,
    job_queue,
    job_running,
    session_owner,
    start_stop_row,
    stop_job,
)
from ui.layout import page
from ui.messages import flash, show_flash
from ui.presenter import presenting, teach
from ui.registry import APP_NAME, DEMO, HOME, STEPS, link, navigate, step
from ui.warmup import warm_up
from ui.widgets import persistent

__all__ = [
    "APP_NAME",
    "DEMO",
    "DRAWINGS_DB",
    "HOME",
    "STEPS",
    "all_jobs",
    "allowed_folder",
    "answering_model",
    "clear_data_caches",
    "cluster_problem",
    "data_spec",
    "drawing_store",
    "drawings_path",
    "flash",
    "follow_job",
    "home",
    "job_manager",
    "job_queue",
    "job_running",
    "link",
    "load_model",
    "navigate",
    "or_stop",
    "page",
    "persistent",
    "pool_for",
    "pool_label_counts",
    "presenting",
    "run_version",
    "runs",
    "session_owner",
    "set_data_spec",
    "set_split_settings",
    "shared",
    "show_flash",
    "source_info",
    "split_count_rows",
    "split_settings",
    "start_stop_row",
    "step",
    "stop_job",
    "target_accuracy",
    "teach",
    "test_label_counts",
    "train_pool",
    "warm_up",
]
