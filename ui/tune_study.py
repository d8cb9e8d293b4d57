"""The Tune page's drawing of a study: metrics, the trials table, best-so-far and per-epoch
charts, importances and slices once enough trials are complete (`show_study`), re-read while
some worker runs one of its trials (`follow_study`); one line per past study (`study_line`) and
how to add workers from a terminal (`workers_hint`)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

import ui
from mnist_core.charts import tune as tune_charts
from mnist_core.config import MODEL_LABELS
from mnist_core.planning.tune.params import PARAM_SPECS
from mnist_core.planning.tune.results import MIN_TRIALS_FOR_IMPORTANCE
from mnist_core.planning.tune.storage import storage_label
from mnist_core.planning.tune.study import OBJECTIVE_LABELS
from ui.tune_space import LABELS
from ui.tune_storage import REFRESH_S, read_study, study_importances

STATE_LABELS = {
    "complete": "✅ complete",
    "pruned": "✂️ pruned",
    "running": "⏳ running",
    "failed": "❌ failed",
    "waiting": "… waiting",
}


def fmt_value(objective: str, value: float | None) -> str:
    """A result as shown: accuracy in percent, loss to four places, "–" for none."""
    if value is None:
        return "–"
    return f"{value:.2%}" if objective == "val_acc" else f"{value:.4f}"


def metrics(state: dict[str, Any]) -> None:
    """Trials by state and the best result so far."""
    s, objective = state["summary"], state["objective"]
    cols = st.columns(5)
    cols[0].metric("Trials", s["n_trials"])
    cols[1].metric("Complete", s["n_complete"])
    cols[2].metric(
        "Pruned",
        s["n_pruned"],
        help="Stopped early by the pruner: after some epochs their "
        "validation score lagged behind earlier trials' at the same epoch.",
    )
    cols[3].metric("Running", s["n_running"], help="In this app's search or any other worker's.")
    best = f"trial {s['best_trial']}" if s["best_trial"] is not None else None
    cols[4].metric(
        f"Best {OBJECTIVE_LABELS[objective]}",
        fmt_value(objective, s["best_value"]),
        best,
        delta_color="off",
        delta_arrow="off",
    )


def trials_frame(state: dict[str, Any]) -> pd.DataFrame:
    """The trials table, newest first: state, parameters, results, epochs, duration, worker."""
    params, objective = state["params"], state["objective"]
    rows = []
    for r in sorted(state["rows"], key=lambda r: -r["number"]):
        row: dict[str, Any] = {
            "Trial": r["number"],
            "State": STATE_LABELS.get(r["state"], r["state"]) + (" ★" if r["is_best"] else ""),
        }
        for name in params:
            value = r["params"].get(name)
            row[LABELS[name]] = ("on" if value else "off") if isinstance(value, bool) else value
        if objective == "val_loss":
            row["Validation loss"] = r["value"]
        row["Best val acc (%)"] = None if r["best_val_acc"] is None else 100 * r["best_val_acc"]
        row.update({"Epochs": r["epochs"], "Seconds": r["seconds"], "Worker": r["worker"] or ""})
        rows.append(row)
    columns = [
        "Trial",
        "State",
        *(LABELS[n] for n in params),
        *(["Validation loss"] if objective == "val_loss" else []),
        "Best val acc (%)",
        "Epochs",
        "Seconds",
        "Worker",
    ]
    return pd.DataFrame(rows, columns=columns)


def trials_table(state: dict[str, Any]) -> None:
    """The trials table, its numbers formatted per column."""
    number = st.column_config.NumberColumn
    config = {LABELS[n]: number(format="%.3g") for n in state["params"] if PARAM_SPECS[n].kind != "choice"}
    config |= {
        "Best val acc (%)": number(format="%.2f"),
        "Seconds": number(format="%.1f"),
        "Validation loss": number(format="%.4f"),
        "Trial": number(format="%d"),
    }
    st.dataframe(
        trials_frame(state),
        hide_index=True,
        width="stretch",
        column_config=config,
        height=min(38 + 35 * max(len(state["rows"]), 1), 420),
    )


def show_study(url: str, name: str, state: dict[str, Any]) -> None:
    """Metrics, the trials table, best-so-far and per-epoch curves; importances and slices once
    enough trials are complete."""
    metrics(state)
    st.caption(f"Searches {state['about']}.")
    if not state["rows"]:
        st.info("No trials yet.")
        return
    trials_table(state)
    specs = chart_specs(state)
    left, right = st.columns(2)
    left.vega_lite_chart(specs["best"], width="stretch")
    right.vega_lite_chart(specs["curves"], width="stretch")
    n_complete = state["summary"]["n_complete"]
    if n_complete < MIN_TRIALS_FOR_IMPORTANCE:
        ui.teach(
            f"Parameter importances and the slice chart appear once {MIN_TRIALS_FOR_IMPORTANCE} "
            f"trials are complete ({n_complete} so far)."
        )
        return
    found = study_importances(url, name, n_complete)
    if found:
        st.vega_lite_chart(tune_charts.importance_chart(found).to_dict(), width="stretch")
        ranked = sorted(found.items(), key=lambda kv: -kv[1])
        st.caption(
            "Most important first: " + ", ".join(f"{LABELS[k].lower()} {v:.0%}" for k, v in ranked) + "."
        )
        ui.teach(
            "Importance: how much of the spread in the results each parameter explains "
            "(fANOVA over the complete trials). Narrow the range of an important one; an "
            "unimportant one can keep its base value."
        )
    if "slices" in specs:
        st.vega_lite_chart(specs["slices"])


def follow_study(url: str, name: str, state: dict[str, Any]) -> None:
    """The study view, re-read every few seconds while some worker runs one of its trials."""
    live = state["summary"]["n_running"] > 0

    @st.fragment(run_every=REFRESH_S if live else None)
    def view() -> None:
        now = read_study(url, name)
        if now is None:
            return
        show_study(url, name, now)
        if live:
            st.caption(
                f"Live: {now['summary']['n_running']} trial(s) running; re-read every "
                f"{REFRESH_S:g} s from the storage."
            )
            if now["summary"]["n_running"] == 0:
                st.rerun()  # the last trial ended: stop polling, re-enable the buttons

    view()


def chart_specs(state: dict[str, Any]) -> dict[str, dict]:
    """The Vega-Lite specs of a study view, built once per change of its trials (a live view
    redraws twice a second; Altair takes tens of ms per chart)."""
    key = json.dumps([state["rows"], state["objective"], state["params"]], sort_keys=True, default=str)
    return _chart_specs(key, state)


@st.cache_data(max_entries=32, show_spinner=False)
def _chart_specs(key: str, _state: dict[str, Any]) -> dict[str, dict]:
    rows, objective = _state["rows"], _state["objective"]
    specs = {
        "best": tune_charts.best_so_far_chart(rows, objective).to_dict(),
        "curves": tune_charts.intermediate_chart(rows, objective).to_dict(),
    }
    if _state["summary"]["n_complete"] >= MIN_TRIALS_FOR_IMPORTANCE and _state["params"]:
        specs["slices"] = tune_charts.slice_chart(rows, _state["params"], objective).to_dict()
    return specs


def study_line(row: dict[str, Any]) -> str:
    """One line of the past-studies list: family, objective, trials by state, best, start."""
    objective = row["objective"] or ("val_acc" if row["direction"] == "maximize" else "val_loss")
    best = (
        ""
        if row["best_value"] is None
        else (f" · best {fmt_value(objective, row['best_value'])} (trial {row['best_trial']})")
    )
    running = f", {row['n_running']} running" if row["n_running"] else ""
    return (
        f"**{row['name']}** · {MODEL_LABELS.get(row['model'], 'a study made elsewhere')} · "
        f"{OBJECTIVE_LABELS[objective]} · {row['n_trials']} trials "
        f"({row['n_complete']} complete, {row['n_pruned']} pruned, {row['n_failed']} failed{running})"
        f"{best} · started {row['started'] or '–'}"
    )


def workers_hint(url: str, name: str) -> None:
    """How to add workers to this study from a terminal."""
    with st.expander("More workers on this study"):
        st.code(
            f"python -m mnist_core tune --storage '{storage_label(url)}' --study '{name}' --trials 20",
            language="bash",
        )
        st.caption(
            "Run it in more terminals or on other machines: each worker takes the next trial and "
            "this page shows them all. A SQLite file serves this machine; other machines need a "
            "database server (README: Hyperparameter search and scaling out). The password, if "
            "any, is hidden above."
        )
