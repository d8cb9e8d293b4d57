"""Views of the guided demo (pages/demo.py) that are more than one headline: the live training's
outcome, the fallback to the latest saved run, and the canvas for the audience."""

from __future__ import annotations

import streamlit as st

import ui
from mnist_core.config import TrainConfig
from mnist_core.jobs.job import JobSnapshot
from ui import state as keys
from ui import training


def training_outcome(snapshot: JobSnapshot, live: bool, configs: list[TrainConfig]) -> None:
    """The demo's training as it runs (curves), then how it ended."""
    if live:
        st.button("■ Stop", key=keys.DEMO_STOP, on_click=ui.job_manager().stop)
    training.show_job(snapshot, live, configs, compact=True)


def offer_latest_run(run_key: str, why: str) -> None:
    """Say why the demo has no model of its own and offer to continue with the latest saved run."""
    st.warning(why)
    runs = ui.runs()
    if runs:
        st.button(
            f"Continue with the latest saved run ({runs[0].label})",
            key=keys.DEMO_USE_LATEST,
            on_click=lambda: st.session_state.__setitem__(run_key, runs[0].id),
        )
    else:
        st.caption("There is no saved run yet: go back to step 4 and train the quick model.")
