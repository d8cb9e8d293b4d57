"""The last monitor result of a run, kept in its folder (monitor.json) for the Deploy page and the report.

The file holds `MonitorReport.to_json()` plus when it was measured and with which window, written
atomically by the runs storage, so a page or the report reads it instantly instead of drawing the
reference again. A file that cannot be read, or one from an older layout, counts as none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mnist_core.monitoring.monitor import MonitorReport
from mnist_core.runs.files import StorageError, read_json, write_json
from mnist_core.runs.storage import Run

RESULT_FILE = "monitor.json"
# keys a page and the report rely on: a file without them is from another layout
_NEEDED = ("drift", "p_value", "n_field", "n_reference", "features", "class_mix", "confidence", "windows")


def save_result(run: Run, report: MonitorReport, window: int | str | None) -> dict[str, Any]:
    """Keep `report` with `run` (monitor.json, atomically); returns what was saved."""
    saved = {
        **report.to_json(),
        "window": window,
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(run.path / RESULT_FILE, saved)
    return saved


def load_result(run: Run) -> dict[str, Any] | None:
    """The run's last saved monitor result, or None (never measured, unreadable, older layout)."""
    path = run.path / RESULT_FILE
    if not path.is_file():
        return None
    try:
        saved = read_json(path)
    except (StorageError, OSError):
        return None
    if not isinstance(saved, dict) or any(k not in saved for k in _NEEDED):
        return None
    return saved
