"""The Train page's "reviewed labels" option: a checkbox, what it would change, and the pipeline hook.

The decisions come from the Labels page (or `labels apply`); the hook applies them to the training
part of each run's split only (mnist_core.labels.apply), and the run's meta records the account.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import streamlit as st

import ui
from mnist_core.data.sources import DataError
from mnist_core.labels.apply import on_validation, review_split, stored_decisions
from mnist_core.labels.audit import AuditError
from mnist_core.labels.store import DecisionStore
from ui import state as keys


def reviewed_control() -> None:
    """The checkbox with its account, shown only when decisions exist for the data source in use."""
    try:
        key = ui.source_info().key
        decisions = DecisionStore(ui.home()).decisions(key)
    except (AuditError, DataError) as exc:
        st.caption(f"Reviewed labels unavailable: {exc}")
        return
    if not decisions:
        return
    counts = DecisionStore(ui.home()).counts(key)
    split = ui.split_settings()
    on_val = on_validation(decisions, len(ui.pool_for(key)), split["val_fraction"], split["split_seed"])
    st.checkbox(
        f"Train on reviewed labels ({counts['relabelled']} relabelled, {counts['excluded']} excluded)",
        **ui.persistent(keys.TRAIN_REVIEWED_LABELS, False),
        help="Applies the decisions made on the Labels page to the training part of the split only. "
        "The validation and test sets are never changed.",
    )
    if on_val:
        st.caption(
            f"{on_val} of these decisions fall on validation images in the current split: they are "
            "counted in the run, not applied (the validation set stays the yardstick)."
        )


def review_hook(drawing_ids: Sequence[int] = ()):
    """The pipeline's split review for the current data source, or None when the box is off;
    `drawing_ids`: the collected drawings appended to the training part, in order."""
    if not st.session_state.get(keys.TRAIN_REVIEWED_LABELS):
        return None
    decisions = stored_decisions(ui.source_info().key, ui.home())
    return partial(review_split, decisions, drawing_ids=list(drawing_ids))
