"""The run history of the Train page: every saved run in a table, compared, loaded or deleted."""

from __future__ import annotations

import hashlib

import streamlit as st

import ui
from mnist_core.charts import training as charts
from mnist_core.runs import storage
from mnist_core.runs.files import StorageError
from ui import state as keys
from ui.training import Apply

ss = st.session_state


def run_label(run: storage.Run) -> str:
    return f"{run.meta.get('name') or run.config.summary()} · {run.id[-4:]}"


def on_confirm_delete() -> None:
    ids, failed = ss.pop(keys.TRAIN_CONFIRM_DELETE, []), []
    for run_id in ids:
        try:
            storage.delete_run(run_id)
        except StorageError as exc:
            failed.append(str(exc))
    if failed:
        ui.flash("error", "Some runs could not be deleted: " + " ".join(failed))
    else:
        ui.flash("success", f"Deleted {len(ids)} run{'s' * (len(ids) != 1)}.")


def history_section(controls: tuple[str, ...], on_apply: Apply) -> None:
    """The table of saved runs; ticked rows are compared, loaded into the controls or deleted."""
    st.subheader("Run history")
    runs = ui.runs()
    if not runs:
        st.info("Every run you train is saved here, with its settings and curves.")
        return
    if st.toggle("Only mine", key=keys.TRAIN_RUNS_MINE, help="Runs trained from this browser session"):
        runs = [r for r in runs if r.meta.get("session") == ui.session_owner()]
        if not runs:
            st.info("No run of this session yet: the runs above the switch were trained by others.")
            return
    ids = "".join(r.id for r in runs)
    # The key changes with the set of runs, so a selection never points at shifted rows.
    key = keys.train_runs_table(hashlib.sha1(ids.encode()).hexdigest()[:10])
    event = st.dataframe(
        charts.runs_table(runs),
        key=key,
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        column_config=TABLE_COLUMNS,
        height=min(38 + 35 * len(runs), 400),
    )
    selected = [runs[i] for i in event.selection.rows if i < len(runs)]
    if selected:
        compare = selected
        st.caption(f"{len(selected)} selected.")
    else:
        compare = runs[:3]
        st.caption(
            "Tick rows (left edge of the table) to compare their curves, load their settings "
            "or delete them. Showing the latest runs:"
        )
    histories = {run_label(r): r.history for r in compare}
    left, right = st.columns(2)
    left.altair_chart(charts.overlay_chart(histories, "loss"), width="stretch")
    right.altair_chart(charts.overlay_chart(histories, "acc"), width="stretch")
    if selected:
        history_actions(selected, controls, on_apply)


def history_actions(selected: list[storage.Run], controls: tuple[str, ...], on_apply: Apply) -> None:
    cols = st.columns([1.4, 1.4, 4])
    if len(selected) == 1:
        values = {k: getattr(selected[0].config, k) for k in controls}
        cols[0].button(
            "Load its settings",
            key=keys.TRAIN_LOAD_RUN,
            on_click=on_apply,
            args=(values, f"Loaded the settings of {run_label(selected[0])}"),
        )
    cols[1].button(
        f"🗑 Delete {len(selected)} selected",
        key=keys.TRAIN_DELETE,
        on_click=lambda ids: ss.__setitem__(keys.TRAIN_CONFIRM_DELETE, ids),
        args=([r.id for r in selected],),
    )
    pending = ss.get(keys.TRAIN_CONFIRM_DELETE)
    if pending:
        st.warning(
            f"Delete {len(pending)} run{'s' * (len(pending) != 1)} for good? Their weights, "
            "curves and evaluations are removed from disk."
        )
        yes, no, _ = st.columns([1.4, 1, 4])
        yes.button("Yes, delete", type="primary", key=keys.TRAIN_CONFIRM, on_click=on_confirm_delete)
        no.button("Cancel", key=keys.TRAIN_CANCEL, on_click=lambda: ss.pop(keys.TRAIN_CONFIRM_DELETE, None))


TABLE_COLUMNS = {
    "val accuracy": st.column_config.ProgressColumn(
        "val accuracy", format="percent", min_value=0.0, max_value=1.0
    ),
    "lr": st.column_config.NumberColumn("lr", format="%g"),
    "weight decay": st.column_config.NumberColumn("weight decay", format="%g"),
    "seconds": st.column_config.NumberColumn("seconds", format="%.1f"),
    "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm:ss"),
    "of": st.column_config.NumberColumn("of", help="Epochs configured"),
    "epochs": st.column_config.NumberColumn("epochs", help="Epochs trained"),
    "id": None,  # hidden: the folder name, not for people
}
