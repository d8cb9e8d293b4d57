"""Evaluate: validation metrics against the target, the confusion matrix down to its images,
per-class metrics, the worst mistakes, two runs side by side, the locked test set, the report.

A thin page: judgements come from mnist_core.report, images from mnist_core.gallery,
charts from mnist_core.eval_charts. Heavy work (rebuilding the split, predicting every
validation image) is cached per run, so clicking around the matrix is instant.
"""

from __future__ import annotations

import streamlit as st

import ui
from mnist_core import eval_charts, gallery, report, storage
from mnist_core.config import ConfigError
from mnist_core.data import DataError
from mnist_core.evaluate import EvalResult, evaluate

THUMB_SCALE = 4  # 28 px → 112 px: whole-pixel blocks stay crisp on a projector
KNOWN_ERRORS = (DataError, storage.StorageError, ConfigError, OSError)
ROLES = [
    {"Set": "Training", "Decides": "the weights", "Used": "every step of training"},
    {"Set": "Validation", "Decides": "the hyperparameters, the epoch to keep, the run to choose",
     "Used": "after every epoch, and all over this page"},
    {"Set": "Test", "Decides": "nothing: it measures the final choice, honestly",
     "Used": "once, at the very end"},
]

ui.page("Evaluate", "How good is the model, where does it fail, and would it meet the "
        "target on images it has never seen?")


# ------------------------------------------------------------------ cached heavy work

@st.cache_resource(max_entries=4, show_spinner="Predicting every validation image…")
def _validation_table(run_path: str, version: tuple) -> tuple[gallery.PredictionTable, list[int]]:
    run = storage.load_run(run_path)
    val, train_counts = gallery.run_validation_set(run)
    return gallery.predictions(ui.load_model(run), val), train_counts


def validation_table(run: storage.Run) -> tuple[gallery.PredictionTable, list[int]]:
    """The run's validation images with predictions, and its training split's class counts.

    Cached per run folder *and* what it holds (weights file time, data source, creation time),
    so a folder replaced under the same name is never served stale predictions.
    """
    weights = run.path / storage.WEIGHTS
    version = (weights.stat().st_mtime if weights.exists() else 0.0, run.meta.get("data"),
               run.meta.get("created"), str(run.meta.get("sizes")))
    return _validation_table(str(run.path), version)


# ------------------------------------------------------------------ small drawing helpers

def show_examples(table: gallery.PredictionTable, examples: list[gallery.Example],
                  captions: list[str]) -> None:
    """Crisp enlarged thumbnails with what the model said under each."""
    st.image([gallery.enlarge(table.images[e.index], THUMB_SCALE) for e in examples],
             caption=captions)


def show_verdict(result: EvalResult, base: report.Baselines, target: float) -> None:
    v = report.verdict(result, target, base)
    (st.success if v.passed else st.error)(v.headline, icon="✅" if v.passed else "❌")
    st.markdown("\n".join(f"- {line}" for line in v.details))


def show_metrics(result: EvalResult, base: report.Baselines, name: str, target: float) -> None:
    cols = st.columns(4)
    cols[0].metric(f"{name} accuracy", f"{result.accuracy:.2%}",
                   f"{(result.accuracy - target) * 100:+.1f} pts vs target {target * 100:g}%")
    cols[1].metric(f"{name} loss", f"{result.loss:.3f}",
                   f"{result.loss - base.chance_loss:+.3f} vs uniform guess", delta_color="inverse")
    cols[2].metric("Random guessing", f"{base.chance:.0%}")
    cols[3].metric(f"Always answering {base.majority_digit}", f"{base.majority_accuracy:.1%}")


# ------------------------------------------------------------------ which run

runs = ui.runs()
if not runs:
    st.info("There is no trained model to evaluate yet. Train one first: it appears here as "
            "soon as it is saved.", icon="🏋️")
    ui.link("Train", "Go to the Train page")
    st.stop()

by_id = {r.id: r for r in runs}
if st.session_state.get("eval_run") not in by_id:
    st.session_state.pop("eval_run", None)  # the chosen run was deleted: fall back to the latest
run_id = st.selectbox("Run to evaluate", list(by_id), format_func=lambda i: by_id[i].label,
                      key="eval_run", help="Newest first. Each saved run keeps its weights, "
                      "curves and evaluations.")
run = by_id[run_id]
target = ui.target_accuracy()

table: gallery.PredictionTable | None = None
train_counts: list[int] | None = None
problem = ""
try:
    table, train_counts = validation_table(run)
except KNOWN_ERRORS as exc:
    problem = str(exc)

try:
    val = run.evaluation("val")
    if val is None and table is not None:
        # A run saved without its evaluation gets one now: looking at validation is free.
        val = evaluate(ui.load_model(run), gallery.table_images(table), "val")
        storage.save_evaluation(run, val)
except KNOWN_ERRORS as exc:
    val, problem = None, f"{exc} {problem}".strip()
if val is None:
    st.error(f"This run has no validation results and they cannot be computed now: {problem}")
    st.stop()
if problem:
    st.warning(f"The images cannot be shown: {problem}", icon="🖼️")
elif table is not None and (moved := gallery.disagreements(table, val)):
    st.info(f"Predicting the validation images here gives a different answer for {moved} of them "
            "than when the run was saved (e.g. it was trained on a GPU). Counts and metrics are "
            "the saved ones; the images shown come from the predictions made here.")
base = report.baselines(report.label_counts(val), train_counts)

# ------------------------------------------------------------------ 1. validation verdict

st.subheader("1 · Validation: does it meet the target?")
st.caption("The validation set chose this run's hyperparameters and epoch; the target comes "
           "from *Define the task*.")
show_metrics(val, base, "Validation", target)
show_verdict(val, base, target)

# ------------------------------------------------------------------ 2. confusion matrix

st.subheader("2 · Where it goes wrong: the confusion matrix")
if st.session_state.get("_cm_run") != run.id or "cm_true" not in st.session_state \
        or "cm_pred" not in st.session_state:  # widget values are dropped when the user leaves the page
    # New run (or a return to the page): start on its most frequent mistake, the cell worth
    # talking about first.
    worst = report.top_confusions(val, 1)
    st.session_state["cm_true"], st.session_state["cm_pred"] = worst[0][:2] if worst else (0, 0)
    st.session_state["_cm_run"], st.session_state["_cm_click"] = run.id, None
clicked = eval_charts.selected_cell(st.session_state.get("cm_chart"))
if clicked != st.session_state.get("_cm_click"):
    st.session_state["_cm_click"] = clicked  # only a new click moves the selectboxes
    if clicked:
        st.session_state["cm_true"], st.session_state["cm_pred"] = clicked

left, right = st.columns(2, gap="large")
with left:
    normalized = st.toggle("Row percentages", key="cm_norm",
                           help="Each row divided by its total: the share of each true digit "
                                "given each answer. Counts hide rare digits; shares do not.")
    cell = (st.session_state["cm_true"], st.session_state["cm_pred"])
    st.altair_chart(eval_charts.confusion_heatmap(val, normalized, cell), key="cm_chart",
                    on_select="rerun", selection_mode=eval_charts.CELL_PARAM, width="stretch")
    st.caption("Rows: the true digit. Columns: what the model answered. Green: right; red: "
               "mistakes. Click a cell to see its images.")
with right:
    c1, c2 = st.columns(2)
    t = c1.selectbox("True digit", range(10), key="cm_true")
    p = c2.selectbox("Predicted as", range(10), key="cm_pred")
    count = val.confusion[t][p]
    share = count / max(sum(val.confusion[t]), 1)
    what = f"{t} correctly recognised" if t == p else f"{t} mistaken for {p}"
    noun = "image" if count == 1 else "images"
    st.markdown(f"**{count:,} {noun} of {what}** ({share:.1%} of all {t}s)")
    if table is None:
        st.caption("The images of this cell cannot be shown (see the note above).")
    elif count == 0:
        st.info(f"No {t} was {'recognised' if t == p else f'read as {p}'}: nothing to show.")
    else:
        examples, total = gallery.cell_examples(table.probs, table.labels, t, p, limit=24)
        order = "least confident first" if t == p else "most confident first"
        st.caption(f"Showing {len(examples)} of {total}, {order}. Under each: the model's "
                   f"probability for {p}" + ("" if t == p else f" and for the true {t}") + ".")
        show_examples(table, examples, [e.probabilities() for e in examples])

# ------------------------------------------------------------------ 3. per-class metrics

st.subheader("3 · Digit by digit: precision, recall, F1")
weak = report.weakest_digits(val)
st.markdown("**Weakest digits:** " + "; ".join(weak))
c1, c2 = st.columns([2, 3], gap="large")
c1.dataframe(eval_charts.per_class_frame(val), hide_index=True,
             column_config={"digit": "Digit", "support": "Images",
                            **{k: st.column_config.NumberColumn(label, format="percent")
                               for k, label in (("precision", "Precision"), ("recall", "Recall"),
                                                ("f1", "F1"))}})
c2.altair_chart(eval_charts.per_class_chart(val), width="stretch")
st.caption("Precision: of the images the model called *d*, the share that were *d*. Recall: of "
           "the real *d*s, the share it found. F1 balances the two.")

# ------------------------------------------------------------------ 4. confident mistakes

st.subheader("4 · The mistakes it was surest about")
if table is None:
    rows = [{"true": m.true, "predicted": m.predicted, "confidence": m.confidence}
            for m in val.mistakes[:24]]
    st.dataframe(rows, hide_index=True, column_config={
        "confidence": st.column_config.NumberColumn("Confidence", format="percent")})
else:
    n_show = st.select_slider("How many", options=[6, 12, 24, 48], value=12, key="n_mistakes")
    mistakes = gallery.confident_mistakes(table.probs, table.labels, n_show)
    if mistakes:
        st.caption("A confident mistake is either a strange or mislabelled image, or a real "
                   "blind spot of the model. Which is it here?")
        show_examples(table, mistakes, [e.caption() for e in mistakes])
    else:
        st.success("No mistakes at all on the validation set.")

# ------------------------------------------------------------------ 5. compare two runs

st.subheader("5 · Compare with another run")
others = [r.id for r in runs if r.id != run.id]
if not others:
    st.caption("Only one run so far: train another one to compare them here.")
else:
    if st.session_state.get("eval_other") not in others:
        st.session_state.pop("eval_other", None)  # deleted, or now the run under evaluation
    other_id = st.selectbox("Second run", others, index=None, key="eval_other",
                            format_func=lambda i: by_id[i].label, placeholder="Pick a run…")
    if other_id:
        other = by_id[other_id]
        try:
            other_val = other.evaluation("val")
        except storage.StorageError as exc:
            other_val = None
            st.warning(str(exc))
        if other_val is None:
            st.info("That run has no saved validation results to compare.")
        else:
            if not report.same_validation_set(run, other):
                st.warning("These runs were validated on different images (other data, "
                           "validation share or split seed), so the comparison is only rough.")
            c1, c2, c3 = st.columns(3)
            c1.metric("Accuracy (this run)", f"{val.accuracy:.2%}")
            c2.metric("Accuracy (second run)", f"{other_val.accuracy:.2%}",
                      f"{(other_val.accuracy - val.accuracy) * 100:+.1f} pts")
            c3.metric("Loss (second run)", f"{other_val.loss:.3f}",
                      f"{other_val.loss - val.loss:+.3f}", delta_color="inverse")
            st.altair_chart(eval_charts.f1_delta_chart(val, other_val, "this run", "second run"),
                            width="stretch")

# ------------------------------------------------------------------ 6. the test set

st.subheader("6 · Final check on the test set")
st.markdown("Each set has one job. Looking at the test set while still choosing would fit the "
            "choice to it, and its score would stop being an honest estimate.")
st.table(ROLES)
looks = int(run.meta.get("test_evaluations", 0))


def run_test_evaluation() -> None:
    """Load the run's test set, evaluate, save (bumps the run's look counter), redraw."""
    try:
        with st.spinner("Evaluating on the test set…"):
            result = evaluate(ui.load_model(run), gallery.run_test_set(run), "test")
            storage.save_evaluation(run, result)
    except KNOWN_ERRORS as exc:
        st.error(f"The test evaluation failed: {exc}")
        return
    st.rerun()


if looks == 0:
    st.info("🔒 The test set is locked. Unlock it once you have finished choosing: after the "
            "test, changing the model because of the test score turns it into a second "
            "validation set.")
    if st.button("Final evaluation on the test set", type="primary", key="test_unlock", icon="🔓"):
        run_test_evaluation()
else:
    try:
        test = run.evaluation("test")
    except storage.StorageError as exc:
        test = None
        st.error(str(exc))
    if looks > 1:
        st.warning(f"The test set has been looked at **{looks} times**. It is no longer an "
                   "unbiased estimate: every choice made after the first look was fitted to it.",
                   icon="⚠️")
    else:
        st.caption(f"Test set used {looks} time: the estimate below is unbiased.")
    if test is not None:
        test_base = report.baselines(report.label_counts(test), train_counts)
        show_metrics(test, test_base, "Test", target)
        show_verdict(test, test_base, target)
        st.caption(report.test_vs_validation(val, test))
        with st.expander("Test confusion matrix"):
            st.altair_chart(eval_charts.confusion_heatmap(test, selectable=False), width="stretch")
    if st.button("Evaluate on the test set again", key="test_again",
                 help="Allowed, but it is counted and the report says so."):
        run_test_evaluation()

# ------------------------------------------------------------------ 7. the report

st.subheader("7 · Report for stakeholders")


def report_html() -> bytes:
    """Built only when the button is clicked (Streamlit runs this on another thread, no st.*)."""
    uri, caption = None, ""
    if table is not None:
        worst = gallery.confident_mistakes(table.probs, table.labels, 16)
        if worst:
            uri = gallery.png_data_uri(gallery.grid(table.images[[e.index for e in worst]], cols=8))
            caption = "In reading order: " + "; ".join(f"{e.true}→{e.predicted} ({e.confidence:.0%})"
                                                       for e in worst)
    fresh = storage.load_run(run.path)  # the test counter may have moved since the page drew
    return report.build_report(fresh, target, train_counts=train_counts, mistakes_png_uri=uri,
                               mistakes_caption=caption).encode("utf-8")


st.markdown("One HTML file with the task, data, model, curves, confusion matrix, results against "
            "the target and the labelling cost. It needs no internet to open.")
st.download_button("Download report", report_html, file_name=f"mnist-report-{run.id}.html",
                   mime="text/html", icon="📄", on_click="ignore", key="report_download")
