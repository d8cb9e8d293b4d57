"""The sections of the Evaluate page below the matrix, each one function of an `Evaluation`:
per-class metrics, the most confident mistakes, a second run to compare, the locked test set
(and evaluations on other data, shown as such), the stakeholder report.

A new section (embeddings, calibration, robustness…) is one more function here, or in a module
of its own, and one more call in the page's `main()`.
"""

from __future__ import annotations

import streamlit as st

import ui
from mnist_core.charts import evaluation as eval_charts
from mnist_core.data.baselines import baselines
from mnist_core.evaluation import gallery, judge
from mnist_core.report import document as report
from mnist_core.runs import storage
from mnist_core.runs.files import StorageError
from mnist_core.training import pipeline
from ui import evaluate as views
from ui import evaluate_inspect as inside
from ui import state as keys

ROLES = [
    {"Set": "Training", "Decides": "the weights", "Used": "every step of training"},
    {
        "Set": "Validation",
        "Decides": "the hyperparameters, the epoch to keep, the run to choose",
        "Used": "after every epoch, and all over this page",
    },
    {
        "Set": "Test",
        "Decides": "nothing: it measures the final choice, honestly",
        "Used": "once, at the very end",
    },
]
ss = st.session_state


def per_class(ev: views.Evaluation) -> None:
    """Precision, recall and F1 per digit, as a table and bars, and the weakest digits."""
    st.subheader("Digit by digit: precision, recall, F1")
    st.markdown("**Weakest digits:** " + "; ".join(judge.weakest_digits(ev.val)))
    c1, c2 = st.columns([2, 3], gap="large")
    percent = {
        k: st.column_config.NumberColumn(label, format="percent")
        for k, label in (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"))
    }
    c1.dataframe(
        eval_charts.per_class_frame(ev.val),
        hide_index=True,
        column_config={"digit": "Digit", "support": "Images", **percent},
    )
    c2.altair_chart(eval_charts.per_class_chart(ev.val), width="stretch")
    ui.teach(
        "Precision: of the images the model called *d*, the share that were *d*. Recall: "
        "of the real *d*s, the share it found. F1 balances the two."
    )


def mistakes(ev: views.Evaluation) -> None:
    """The wrong answers the model was surest of, as images (as a table when none can be shown)."""
    st.subheader(
        "The mistakes it was surest about",
        help="A confident mistake is either a "
        "strange or mislabelled image, or a real blind spot of the model.",
    )
    if ev.table is None:
        rows = [
            {"true": m.true, "predicted": m.predicted, "confidence": m.confidence}
            for m in ev.val.mistakes[:24]
        ]
        st.dataframe(
            rows,
            hide_index=True,
            column_config={"confidence": st.column_config.NumberColumn("Confidence", format="percent")},
        )
        return
    n_show = st.select_slider("How many", options=[6, 12, 24, 48], value=12, key=keys.EVALUATE_MISTAKES)
    worst = gallery.confident_mistakes(ev.table.probs, ev.table.labels, n_show)
    if worst:
        views.examples(ev.table, worst, [e.caption() for e in worst])
    else:
        st.success("No mistakes at all on the validation set.")


def compare(ev: views.Evaluation, runs: list[storage.Run]) -> None:
    """A second saved run next to this one: accuracy, loss and the F1 change per digit."""
    st.subheader("Compare with another run")
    by_id = {r.id: r for r in runs if r.id != ev.run.id}
    if not by_id:
        st.caption("Only one run so far: train another one to compare them here.")
        return
    if ss.get(keys.EVALUATE_OTHER) not in by_id:
        ss.pop(keys.EVALUATE_OTHER, None)  # deleted, or now the run under evaluation
    other_id = st.selectbox(
        "Second run",
        list(by_id),
        index=None,
        key=keys.EVALUATE_OTHER,
        format_func=lambda i: by_id[i].label,
        placeholder="Pick a run…",
    )
    if not other_id:
        return
    other = by_id[other_id]
    try:
        other_val = other.evaluation("val")
    except StorageError as exc:
        other_val = None
        st.warning(str(exc))
    if other_val is None:
        st.info("That run has no saved validation results to compare.")
        return
    if not judge.same_validation_set(ev.run, other):
        st.warning(
            "These runs were validated on different images (other data, validation "
            "share or split seed), so the comparison is only rough."
        )
    val = ev.val
    c1, c2, c3 = st.columns(3)
    c1.metric("Accuracy (this run)", f"{val.accuracy:.2%}")
    c2.metric(
        "Accuracy (second run)",
        f"{other_val.accuracy:.2%}",
        f"{(other_val.accuracy - val.accuracy) * 100:+.1f} pts",
    )
    c3.metric(
        "Loss (second run)",
        f"{other_val.loss:.3f}",
        f"{other_val.loss - val.loss:+.3f}",
        delta_color="inverse",
    )
    st.altair_chart(eval_charts.f1_delta_chart(val, other_val, "this run", "second run"), width="stretch")


def run_test_evaluation(run: storage.Run) -> None:
    """Evaluate on the run's own test set and save it (the core counts the look), then redraw."""
    try:
        with st.spinner("Evaluating on the test set…"):
            pipeline.evaluate_run(run, "test", model=ui.load_model(run))
    except views.KNOWN_ERRORS as exc:
        st.error(f"The test evaluation failed: {exc}")
        return
    st.rerun()


def final_test(ev: views.Evaluation) -> None:
    """The test set: locked until asked for, then its figures and how often it was looked at;
    evaluations on other data below, as what they are."""
    st.subheader("Final check on the test set")
    with st.expander("Why lock it? Each set has one job"):
        st.markdown(
            "Each set has one job. Looking at the test set while still choosing would "
            "fit the choice to it, and its score would stop being an honest estimate."
        )
        st.table(ROLES)
    looks = int(ev.run.meta.get("test_evaluations", 0))
    if looks == 0:
        st.info(
            "🔒 The test set is locked. Unlock it once you have finished choosing: after the "
            "test, changing the model because of the test score turns it into a second "
            "validation set."
        )
        if st.button(
            "Final evaluation on the test set", type="primary", key=keys.EVALUATE_TEST_UNLOCK, icon="🔓"
        ):
            run_test_evaluation(ev.run)
    else:
        test_figures(ev, looks)
        if st.button(
            "Evaluate on the test set again",
            key=keys.EVALUATE_TEST_AGAIN,
            help="Allowed, but it is counted and the report says so.",
        ):
            run_test_evaluation(ev.run)
    others = views.other_evaluations(ev.run)
    if others:
        with st.expander(f"Evaluations on other data ({len(others)}): not the test accuracy"):
            st.markdown("\n".join(f"- {line}" for line in others))


def test_figures(ev: views.Evaluation, looks: int) -> None:
    """The test figures on the run's own test set, with how often it was looked at."""
    try:
        test = ev.run.evaluation("test")  # on the run's own test set only
    except StorageError as exc:
        test = None
        st.error(str(exc))
    if looks > 1:
        st.warning(
            f"The test set has been looked at **{looks} times**. It is no longer an "
            "unbiased estimate: every choice made after the first look was fitted to it.",
            icon="⚠️",
        )
    else:
        st.caption(f"Test set used {looks} time: the estimate below is unbiased.")
    if test is None:
        return
    base = baselines(judge.label_counts(test), ev.train_counts)
    views.metric_row(test, base, "Test", ev.target)
    views.verdict(test, base, ev.target)
    st.caption(judge.test_vs_validation(ev.val, test))
    with st.expander("Test confusion matrix"):
        st.altair_chart(eval_charts.confusion_heatmap(test, selectable=False), width="stretch")


def report_download(ev: views.Evaluation) -> None:
    """The stakeholder report of the run as one offline HTML file."""
    st.subheader("Report for stakeholders")

    def report_html() -> bytes:
        """Built only when the button is clicked (on another thread: no st.* here)."""
        uri, caption = gallery.report_mistakes(ev.table) if ev.table is not None else (None, "")
        fresh = storage.load_run(ev.run.path)  # the test counter may have moved since the page drew
        return report.build_report(
            fresh,
            ev.target,
            train_counts=ev.train_counts,
            mistakes_png_uri=uri,
            mistakes_caption=caption,
            **inside.report_extras(fresh, ev.table),  # calibration charts, when the run has them saved
        ).encode("utf-8")

    st.markdown(
        "One HTML file with the task, data, model, curves, confusion matrix, results "
        "against the target and the labelling cost (and the calibration and robustness charts "
        "once they are saved with the run). It needs no internet to open."
    )
    st.download_button(
        "Download report",
        report_html,
        file_name=f"mnist-report-{ev.run.id}.html",
        mime="text/html",
        icon="📄",
        on_click="ignore",
        key=keys.EVALUATE_REPORT,
    )
