"""Step 5 · Evaluate: validation against the target, the confusion matrix down to its images,
then per-class metrics, the worst mistakes, two runs side by side, a look inside the model (its
embedding map, calibration and "not sure" line, robustness curves: lazy tabs from ui.evaluate_inspect,
one ui.inspect_* module each), the locked test set, the report.

The run picker, the headline and the matrix with the selected cell's images come first and fit
a 1280×720 screen with the sidebar open. Every section below them is one function of the run's
`Evaluation` (ui.evaluate, which also caches the per-run work) in ui.evaluate_sections, called
from `main()`: a new section is one more call. Judgements come from mnist_core.evaluation.judge, images
from mnist_core.evaluation.gallery, charts from mnist_core.charts.evaluation.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import streamlit as st

import ui
from mnist_core.charts import evaluation as eval_charts
from mnist_core.evaluation import gallery, judge
from mnist_core.runs import storage
from ui import evaluate as views
from ui import evaluate_inspect as inside
from ui import evaluate_sections as sections
from ui import inspect_confidence, inspect_map, inspect_robustness
from ui import state as keys

HEATMAP_SIZE = 290  # px: with the headline above, the matrix fits a 1280×720 screen
CELL_LIMIT = 16  # images of one cell beside the matrix: two rows of 8 fit under 720 px
ss = st.session_state


# ------------------------------------------------------------------ the top: run and headline


def pick_run(runs: list[storage.Run]) -> storage.Run:
    """The run picker (the latest run unless another is chosen; a deleted choice falls back)."""
    by_id = {r.id: r for r in runs}
    if ss.get(keys.EVALUATE_RUN) not in by_id:
        ss.pop(keys.EVALUATE_RUN, None)
    run_id = st.selectbox(
        "Run to evaluate",
        list(by_id),
        format_func=lambda i: by_id[i].label,
        key=keys.EVALUATE_RUN,
        help="Newest first. Each saved run keeps its weights, "
        "curves and evaluations. The question here: how good is the model, "
        "where does it fail, would it meet the target on images it has never seen?",
    )
    return by_id[run_id]


def headline(ev: views.Evaluation, beside: AbstractContextManager) -> None:
    """Validation accuracy and loss against the baselines (`beside` the run picker), and the
    verdict against the target below them."""
    with beside:
        views.metric_row(ev.val, ev.base, "Validation", ev.target, deltas=False)
    views.verdict(ev.val, ev.base, ev.target)
    if ev.problem:
        st.warning(f"The images cannot be shown: {ev.problem}", icon="🖼️")


# ------------------------------------------------------------------ the confusion matrix


def selected_cell(ev: views.Evaluation) -> tuple[int, int]:
    """The cell to show: the run's most frequent mistake on arrival, then the user's choice."""
    if (
        ss.get(keys.EVALUATE_CM_RUN) != ev.run.id
        or keys.EVALUATE_CM_TRUE not in ss
        or keys.EVALUATE_CM_PRED not in ss
    ):
        # a new run, or a return to the page (widget values are dropped on leaving it)
        worst = judge.top_confusions(ev.val, 1)
        ss[keys.EVALUATE_CM_TRUE], ss[keys.EVALUATE_CM_PRED] = worst[0][:2] if worst else (0, 0)
        ss[keys.EVALUATE_CM_RUN], ss[keys.EVALUATE_CM_CLICK] = ev.run.id, None
    clicked = eval_charts.selected_cell(ss.get(keys.EVALUATE_CM_CHART))
    if clicked != ss.get(keys.EVALUATE_CM_CLICK):
        ss[keys.EVALUATE_CM_CLICK] = clicked  # only a new click moves the selectboxes
        if clicked:
            ss[keys.EVALUATE_CM_TRUE], ss[keys.EVALUATE_CM_PRED] = clicked
    return ss[keys.EVALUATE_CM_TRUE], ss[keys.EVALUATE_CM_PRED]


def confusion(ev: views.Evaluation) -> None:
    """The heatmap and, beside it, the images of the selected cell."""
    cell = selected_cell(ev)
    left, right = st.columns([2, 3], gap="medium")
    with left:
        st.markdown(
            "**Where it goes wrong** · click a cell",
            help="Rows: the true digit. Columns: what the model answered. Green: right; red: mistakes.",
        )
        st.altair_chart(
            eval_charts.confusion_heatmap(
                ev.val, bool(ss.get(keys.EVALUATE_CM_NORM)), cell, size=HEATMAP_SIZE
            ),
            key=keys.EVALUATE_CM_CHART,
            on_select="rerun",
            selection_mode=eval_charts.CELL_PARAM,
            width="stretch",
        )
        c1, c2, c3 = st.columns(3, vertical_alignment="bottom")
        t = c1.selectbox("True digit", range(10), key=keys.EVALUATE_CM_TRUE)
        p = c2.selectbox("Predicted as", range(10), key=keys.EVALUATE_CM_PRED)
        c3.toggle(
            "Row %",
            key=keys.EVALUATE_CM_NORM,
            help="Each row divided by its total: the share of each "
            "true digit given each answer. Counts hide rare digits; shares do not.",
        )
    with right:
        cell_images(ev, t, p)
    if ev.table is not None and (moved := gallery.disagreements(ev.table, ev.val)):
        st.info(
            f"Predicting the validation images here gives a different answer for {moved} of "
            "them than when the run was saved (e.g. it was trained on a GPU). Counts and "
            "metrics are the saved ones; the images shown come from the predictions made here."
        )


def cell_images(ev: views.Evaluation, t: int, p: int) -> None:
    """How many images the cell holds and the most telling of them."""
    count = ev.val.confusion[t][p]
    share = count / max(sum(ev.val.confusion[t]), 1)
    what = f"{t} correctly recognised" if t == p else f"{t} mistaken for {p}"
    noun = "image" if count == 1 else "images"
    order = "least confident first" if t == p else "most confident first"
    under = f"the model's probability for {p}" + ("" if t == p else f" and for the true {t}")
    st.markdown(
        f"**{count:,} {noun} of {what}** ({share:.1%} of all {t}s)",
        help=f"Up to {CELL_LIMIT} shown, {order}. Under each: {under}.",
    )
    if ev.table is None:
        st.caption("The images of this cell cannot be shown (see the note above).")
    elif count == 0:
        st.info(f"No {t} was {'recognised' if t == p else f'read as {p}'}: nothing to show.")
    else:
        shown, total = gallery.cell_examples(ev.table.probs, ev.table.labels, t, p, limit=CELL_LIMIT)
        views.examples(ev.table, shown, [e.probabilities() for e in shown], views.CELL_SCALE)
        if total > len(shown):
            st.caption(f"{len(shown)} of {total} shown, {order}.")


# ------------------------------------------------------------------ the page


def main() -> None:
    ui.page("Evaluate")
    runs = ui.runs()
    if not runs:
        st.info(
            "There is no trained model to evaluate yet. Train one first: it appears here as "
            "soon as it is saved.",
            icon="🏋️",
        )
        ui.link("Train", "Go to the Train page")
        st.stop()
    top = st.columns([1, 3], vertical_alignment="bottom")
    with top[0]:
        run = pick_run(runs)
    ev = views.load(run, ui.target_accuracy())
    if isinstance(ev, str):
        st.error(ev)
        st.stop()
    headline(ev, top[1])
    confusion(ev)
    sections.per_class(ev)
    sections.mistakes(ev)
    sections.compare(ev, runs)
    where, trust, breaks = inside.tabs()  # lazy tabs: only the open one runs
    inspect_map.embedding_map(ev, where)
    inspect_confidence.calibration(ev, trust)
    inspect_confidence.coverage(ev, trust)
    inspect_robustness.robustness(ev, runs, breaks)
    sections.final_test(ev)
    sections.report_download(ev)


main()
