"""A run's robustness sweep kept in its folder (robustness.json), for the Evaluate page and the report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_core.evaluation.robustness.results import Sweep

if TYPE_CHECKING:
    from mnist_core.runs.storage import Run

RESULT_FILE = "robustness.json"


def save_sweep(run: Run, result: Sweep) -> None:
    """Keep the sweep with the run (robustness.json, written atomically)."""
    from mnist_core.runs.files import write_json
    from mnist_core.runs.storage import folder_for_writing

    write_json(folder_for_writing(run) / RESULT_FILE, result.to_dict())


def load_sweep(run: Run) -> Sweep | None:
    """The run's saved sweep, or None (none yet, or a file from an older layout)."""
    from mnist_core.runs.files import read_json

    path = run.path / RESULT_FILE
    if not path.is_file():
        return None
    try:
        return Sweep.from_dict(read_json(path))
    except (TypeError, KeyError, ValueError):
        return None
