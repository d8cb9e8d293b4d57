"""The Labels page's views: the honesty note, the audit's progress, the counters and one suspect's card.

Drawing only: what a decision does is the page's business (its callbacks write the DecisionStore).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from mnist_core.data import images
from mnist_core.jobs.job import JobSnapshot
from mnist_core.labels.audit import Audit, Suspect
from mnist_core.labels.store import Decision
from ui import state as keys

# The clean offline sample (4,290 training images, nothing planted) flagged this many suspects in
# the default audit (quick CNN, 5 folds): `labels audit --data sample`, measured on 2026-12-07.
CLEAN_SUSPECTS, CLEAN_IMAGES = 9, 4290

UNDECIDED = "undecided"
KEEP, EXCLUDE = "keep", "exclude"
RELABEL = tuple(f"relabel as {d}" for d in range(10))
CHOICES = (UNDECIDED, KEEP, *RELABEL, EXCLUDE)


def honesty() -> None:
    st.info(
        "A **suspect** is an image whose label a model disagrees with out-of-sample: the model "
        "that scored it never saw it, because each of the K folds is scored by a model trained "
        "on the other folds, and cleanlab ranks the disagreements by how confident they are. "
        "**The model can be the one that is wrong**: an odd but correctly labelled digit is a "
        "suspect too, so every suspect is a question for you, not a verdict. For scale: on the "
        f"offline sample, which has no planted errors, the default audit flagged {CLEAN_SUSPECTS} "
        f"of {CLEAN_IMAGES:,} images ({CLEAN_SUSPECTS / CLEAN_IMAGES:.1%})."
    )


def progress(snapshot: JobSnapshot, live: bool) -> None:
    """Fold k of K and images scored, or how the audit ended."""
    last = snapshot.records[-1] if snapshot.records else None
    if snapshot.error:
        st.error(f"The audit failed: {snapshot.error}")
        return
    if last is None:
        st.caption("Starting the audit…")
        return
    if live:
        text = last["text"]
        st.progress(float(last.get("progress", 0.0)), text=text[:1].upper() + text[1:])
        if snapshot.stop_requested:
            st.caption("Stopping after the current batch…")
    elif last["kind"] == "saved":
        st.success(f"Audit {last['audit_id']} saved: {last['text']}.")
    else:
        st.warning(last.get("text") or "The audit was stopped before its last fold: nothing was saved.")


def counters(counts: dict[str, int], on_validation: int, n_suspects: int) -> None:
    cols = st.columns(4)
    cols[0].metric(
        "Reviewed",
        counts["reviewed"],
        help=f"decisions stored for this data source ({n_suspects} suspects in this audit)",
    )
    cols[1].metric("Relabelled", counts["relabelled"])
    cols[2].metric("Excluded", counts["excluded"])
    cols[3].metric(
        "On validation images",
        on_validation,
        help="Decisions on images the current split puts in validation: a Train run with reviewed "
        "labels shows and counts them but never applies them (the validation set is the yardstick).",
    )


def choice_of(decision: Decision | None) -> str:
    if decision is None:
        return UNDECIDED
    if decision.action == "relabel" and decision.label is not None:
        return RELABEL[decision.label]
    return decision.action


def probabilities(probs: list[float], given: int) -> str:
    """The model's three likeliest digits, and the given label's share when it is not among them."""
    order = np.argsort(probs)[::-1][:3]
    text = " · ".join(f"{d}: {probs[d]:.0%}" for d in order)
    if given not in order:
        text += f" · given {given}: {probs[given]:.0%}"
    return text


def card(
    suspect: Suspect,
    rank: int,
    image: np.ndarray | None,
    key: str,
    in_validation: bool,
    on_change: Callable[..., None],
    args: tuple,
) -> None:
    """One suspect: the image, given vs suggested, the model's probabilities and the decision box."""
    with st.container(border=True, key=keys.labels_card(rank)):  # keyed: the class st-key-… finds it
        if image is not None:
            st.image(images.upscale_to(image, 84), width=84)
        else:
            st.caption("(image no longer available)")
        where = "drawing" if suspect.source == "drawings" else "image"
        st.markdown(
            f"**#{rank}** · {where} {suspect.index} · given **{suspect.given}** → suggested **{suspect.suggested}**"
        )
        st.caption(probabilities(suspect.probabilities, suspect.given) + f" · quality {suspect.score:.2f}")
        if in_validation:
            st.caption("In the validation part of the current split: a decision is counted, not applied.")
        st.selectbox(
            "Decision", CHOICES, key=key, on_change=on_change, args=args, label_visibility="collapsed"
        )


def audit_label(audit: Audit) -> str:
    return (
        f"{audit.created.replace('T', ' ')[:16]} · {audit.source_name} · {audit.n_images:,} images · "
        f"{audit.n_flagged} suspects ({audit.folds} folds, {audit.preset})"
    )
