"""The Evaluate page's look inside the model (issue 14): three lazy tabs below the matrix, one
module per tab, and the figures they hand to the stakeholder report.

- `tabs()` makes the tabs lazy (`on_change="rerun"`): only the open one runs, so arriving on the
  page never pays for a map or a sweep nobody looks at.
- "Where do its images sit?": `ui.inspect_map` (the embedding map, t-SNE as a background job).
- "Can we trust its confidence?": `ui.inspect_confidence` (reliability and temperature, the
  "not sure" threshold).
- "Where does it break?": `ui.inspect_robustness` (the robustness sweep as a background job).

Everything derived from a run is cached per `ui.run_version`. `report_extras` hands the same
figures to the stakeholder report.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

import ui
from mnist_core.evaluation import calibration as cal
from mnist_core.runs import storage
from ui import state as keys

TABS = ("🗺️ Where do its images sit?", "🎯 Can we trust its confidence?", "🧪 Where does it break?")


def tabs() -> tuple[Any, Any, Any]:
    """The three look-inside tabs under one heading; each section draws only in its open tab."""
    st.subheader("Look inside the model")
    ui.teach(
        "Three questions stakeholders ask: where do its images sit in what it has learned, how far "
        "can its confidence be trusted, and what happens when people write differently."
    )
    where, trust, breaks = st.tabs(list(TABS), key=keys.EVALUATE_INSPECT, on_change="rerun")
    return where, trust, breaks


def stop_job(kind: str) -> None:
    """Ask the latest job of this kind (a t-SNE map, a sweep) to stop; it ends at its next step."""
    job = ui.job_manager().job_of(kind)
    if job is not None:
        job.stop()


def report_extras(run: storage.Run, table: Any) -> dict[str, Any]:
    """Keyword arguments of `report.build_report` for the charts of what the run has saved: the
    reliability diagram once a temperature is fitted, the coverage curve once a "not sure" line is
    chosen (no st.*: the report is built on the download's thread)."""
    extras: dict[str, Any] = {}
    if table is None:
        return extras
    t = cal.run_temperature(run)
    if isinstance(run.meta.get("calibration"), dict):
        extras["calibration"] = cal.calibration_figures(table.probs, table.labels, t)
    if cal.run_threshold(run) is not None:
        extras["coverage"] = cal.coverage_curve(cal.apply_temperature(table.probs, t), table.labels)
    return extras
