"""Labels: find the labels a model doubts, review them one by one, and train on the reviewed labels.

An audit (`mnist_core.labels`) trains K models, each scoring the fold it never saw, and cleanlab
ranks the images whose label the out-of-sample model contradicts. It runs as a background job
(stoppable, one job at a time, it survives page switches). The review grid shows the suspects
worst first; each decision (keep, relabel to any digit, exclude) is stored at once in the decisions
database, where a Train run with "reviewed labels" applies it to its training part only.
"""

from __future__ import annotations

import streamlit as st

import ui
from mnist_core.data.preprocess import split_indices
from mnist_core.data.sources import DataError
from mnist_core.deploy.collect import CollectError
from mnist_core.jobs.audit import AuditJob
from mnist_core.jobs.job import JobBusy
from mnist_core.labels.audit import DEFAULT_FOLDS, MAX_FOLDS, Audit, AuditError, Suspect
from mnist_core.labels.store import DecisionStore, list_audits, load_audit
from ui import labels as views
from ui import state as keys

PER_PAGE, COLUMNS = 24, 4
ss = st.session_state


# ---------------------------------------------------------------- the audit job


def on_audit() -> None:
    folds, drawings = int(ss.get(keys.LABELS_FOLDS, DEFAULT_FOLDS)), bool(ss.get(keys.LABELS_DRAWINGS, False))
    try:
        job = AuditJob.of_source(ui.data_spec(), folds=folds, include_drawings=drawings, home=ui.home())
        ui.job_manager().submit(job)
    except JobBusy as exc:
        ui.flash("warning", str(exc))
    except (AuditError, DataError, CollectError) as exc:
        ui.flash("error", str(exc))


def on_stop() -> None:
    job = ui.job_manager().job_of("audit")
    if job is not None:
        job.stop()


def audit_section() -> None:
    st.subheader("Audit the labels")
    job = ui.job_manager().job_of("audit")
    running = ui.job_running()
    left, right = st.columns(2)
    left.number_input(
        "Folds (K)",
        min_value=2,
        max_value=MAX_FOLDS,
        **ui.persistent(keys.LABELS_FOLDS, DEFAULT_FOLDS),
        help="Each fold trains a quick CNN on the other K-1 folds and scores its own images. More "
        "folds: each model sees more images, the audit takes longer.",
    )
    right.checkbox(
        "Include the labelled Deploy drawings",
        **ui.persistent(keys.LABELS_DRAWINGS, False),
        help="Audit the drawings labelled on the Deploy page along with the training images.",
    )
    ui.start_stop_row(
        ("▶ Start the audit", keys.LABELS_START, on_audit, ()),
        (keys.LABELS_STOP, on_stop, "Stop after the current batch; nothing is saved"),
        can_start=not running,
        can_stop=job is not None and job.running,
        busy_note="A job is running: the audit can start when it ends." if running and job is None else None,
    )
    if job is not None:
        ui.follow_job(job, views.progress, key=keys.LABELS_FOLLOW)
        last = job.snapshot().latest("saved")
        if last is not None and not job.running and ss.get(keys.LABELS_ADOPTED_JOB) != job.id:
            ss[keys.LABELS_ADOPTED_JOB], ss[keys.LABELS_AUDIT] = (
                job.id,
                last["audit_id"],
            )  # the new audit is the one reviewed


# ---------------------------------------------------------------- decisions


def on_decide(key: str, data: str, suspect: Suspect) -> None:
    """Store the decision the box now shows (undecided: forget the earlier one)."""
    choice, store = ss[key], DecisionStore(ui.home())
    try:
        if choice == views.UNDECIDED:
            store.undo(data, suspect.source, suspect.index)
        elif choice in views.RELABEL:
            store.decide(
                data, suspect.source, suspect.index, "relabel", suspect.given, views.RELABEL.index(choice)
            )
        else:
            store.decide(data, suspect.source, suspect.index, choice, suspect.given)
    except AuditError as exc:
        ui.flash("error", f"Not stored: {exc}")


def on_accept_top(audit_id: str) -> None:
    try:
        audit = load_audit(audit_id, ui.home())
        top = audit.suspects[: int(ss.get(keys.LABELS_TOP_N, 10))]
        rows = [(audit.data, s.source, s.index, "relabel", s.given, s.suggested) for s in top]
        DecisionStore(ui.home()).decide_many(rows)
        ui.flash("success", f"Accepted the suggested label for the top {len(rows)} suspects.")
    except AuditError as exc:
        ui.flash("error", f"Not stored: {exc}")


# ---------------------------------------------------------------- review


def pick_audit() -> Audit | None:
    audits = list_audits(ui.home())
    if not audits:
        st.info("No audit yet: start one above (it trains one model per fold; the progress bar shows each).")
        return None
    by_id = {a.id: a for a in audits}
    if ss.get(keys.LABELS_AUDIT) not in by_id:
        ss[keys.LABELS_AUDIT] = audits[0].id
    st.selectbox(
        "Audit to review",
        list(by_id),
        key=keys.LABELS_AUDIT,
        format_func=lambda i: views.audit_label(by_id[i]),
    )
    return by_id[ss[keys.LABELS_AUDIT]]


def validation_positions(audit: Audit) -> set[int]:
    """Pool positions the current split puts in validation (only for the data source in use)."""
    if audit.data != ui.source_info().key:
        return set()
    pool = ui.pool_for(audit.data)
    settings = ui.split_settings()
    _, val = split_indices(len(pool), settings["val_fraction"], settings["split_seed"])
    return set(val.tolist())


def image_of(audit: Audit, suspect: Suspect):
    if suspect.source == "training":
        pool = ui.pool_for(audit.data)
        return pool.images[suspect.index].numpy() if suspect.index < len(pool) else None
    store = ui.drawing_store(create=False)
    try:
        return store.get(suspect.index).image28 if store is not None else None
    except CollectError:  # deleted on the Deploy page since the audit
        return None


def bulk_section(audit: Audit) -> None:
    most = max(audit.n_flagged, 1)
    if ss.get(keys.LABELS_TOP_N, 0) > most:  # a number kept from a larger audit
        ss[keys.LABELS_TOP_N] = most
    left, right = st.columns([1, 2], vertical_alignment="bottom")
    left.number_input("Top N", min_value=1, max_value=most, **ui.persistent(keys.LABELS_TOP_N, min(10, most)))
    right.button(
        "Accept the suggestion for the top N",
        key=keys.LABELS_ACCEPT,
        on_click=on_accept_top,
        args=(audit.id,),
        disabled=not audit.suspects,
        help="Relabel the N most suspect images to the model's suggestion (each can still be changed below).",
    )


def grid_section(audit: Audit, decisions: dict, in_val: set[int]) -> None:
    pages = max(1, -(-audit.n_flagged // PER_PAGE))
    page = 1
    if pages > 1:
        ss[keys.LABELS_PAGE] = min(ss.get(keys.LABELS_PAGE, 1), pages)  # a page kept from a longer audit
        page = int(
            st.number_input(f"Page (of {pages}, {PER_PAGE} suspects each)", 1, pages, key=keys.LABELS_PAGE)
        )
    first = (page - 1) * PER_PAGE
    shown = audit.suspects[first : first + PER_PAGE]
    cols = st.columns(COLUMNS)
    for i, suspect in enumerate(shown):
        key = keys.labels_decision(audit.id, suspect.source, suspect.index)
        ss[key] = views.choice_of(decisions.get((suspect.source, suspect.index)))  # the store is the truth
        with cols[i % COLUMNS]:
            views.card(
                suspect,
                first + i + 1,
                image_of(audit, suspect),
                key,
                suspect.source == "training" and suspect.index in in_val,
                on_decide,
                (key, audit.data, suspect),
            )


def review_section() -> None:
    st.subheader("Review the suspects")
    audit = pick_audit()
    if audit is None:
        return
    store = DecisionStore(ui.home())
    try:
        decisions = store.decisions(audit.data)
    except AuditError as exc:
        st.error(str(exc))
        return
    in_val = ui.or_stop(lambda: validation_positions(audit))
    on_val = sum(
        1
        for (source, index), d in decisions.items()
        if source == "training" and index in in_val and d.action != "keep"
    )
    views.counters(store.counts(audit.data), on_val, audit.n_flagged)
    if not audit.suspects:
        st.success("This audit found no suspects: the model agrees with every label out-of-sample.")
        return
    bulk_section(audit)
    grid_section(audit, decisions, in_val)
    st.caption(
        "Train on the reviewed labels: the Train page's “Reviewed labels” option, or `python -m mnist_core train --labels reviewed`."
    )


def main() -> None:
    ui.page("Labels", "Find the labels a model doubts, and decide about each one.")
    ui.show_flash()
    views.honesty()
    try:
        audit_section()
    except DataError as exc:
        st.error(str(exc))
    review_section()


main()
