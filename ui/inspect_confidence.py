"""The Evaluate page's "Can we trust its confidence?" tab: two sections of the run's validation set.

- `calibration`: reliability diagram and ECE before/after the run's temperature; "Fit the
  temperature" saves one with the run (`calibration.calibrate_run`), which Deploy and the CLI's
  predict then apply (`calibration.predict_options`).
- `coverage`: the "not sure" threshold on validation, saved as the run's own line.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

import ui
from mnist_core.charts import calibration as calibration_charts
from mnist_core.deploy import predict
from mnist_core.evaluation import calibration as cal
from mnist_core.runs import storage
from ui import evaluate as views
from ui import state as keys

ss = st.session_state


@st.cache_data(max_entries=8, show_spinner=False)
def _figures(run_path: str, version: float, temperature: float, _table: Any) -> cal.CalibrationReport:
    return cal.calibration_figures(_table.probs, _table.labels, temperature)


def _fit(run: storage.Run) -> None:
    try:
        with st.spinner("Fitting the temperature on the validation set…"):
            rep = cal.calibrate_run(storage.load_run(run.path))
    except (cal.CalibrationError, *views.KNOWN_ERRORS) as exc:
        st.error(f"The temperature could not be fitted: {exc}")
        return
    ui.flash(
        "success",
        f"Saved T = {rep.temperature:.3f} with the run: ECE {rep.ece_before:.2%} → {rep.ece_after:.2%}. "
        "Deploy and `python -m mnist_core predict` use it from now on.",
    )
    st.rerun()


def calibration(ev: views.Evaluation, tab: Any) -> None:
    """Reliability diagram and ECE before and after temperature scaling (fitted on validation)."""
    if not tab.open:
        return
    with tab:
        st.markdown(
            "#### Calibration",
            help="A model is calibrated when, of the answers it gives with 80 % confidence, 80 % are "
            "right. Temperature scaling divides every logit by one number T fitted on validation: "
            "T > 1 softens an over-confident model; the answers never change.",
        )
        ui.show_flash()
        if ev.table is None:
            st.info("Calibration needs the validation images, which cannot be rebuilt here (see above).")
            return
        t = cal.run_temperature(ev.run)
        fitted = isinstance(ev.run.meta.get("calibration"), dict)
        rep = _figures(str(ev.run.path), ui.run_version(ev.run), t, ev.table)
        left, right = st.columns([3, 2], gap="medium")
        with left:
            st.altair_chart(
                calibration_charts.reliability_chart(rep if fitted else None, bins_before=rep.bins_before)
            )
        with right:
            c1, c2 = st.columns(2)
            c1.metric(
                "ECE before scaling",
                f"{rep.ece_before:.2%}",
                help="Expected calibration error: the count-weighted gap between confidence and "
                f"accuracy over {len(rep.bins_before)} confidence bins. 0 = perfectly calibrated.",
            )
            if fitted:
                c2.metric(
                    "ECE after scaling",
                    f"{rep.ece_after:.2%}",
                    f"{(rep.ece_after - rep.ece_before) * 100:+.2f} pts",
                    delta_color="inverse",
                )
                st.markdown(
                    f"Temperature **T = {t:.3f}** (saved with the run): validation NLL "
                    f"{rep.nll_before:.4f} → {rep.nll_after:.4f}, accuracy unchanged at {rep.accuracy:.2%}. "
                    "Deploy and the CLI's `predict` apply it."
                )
            else:
                c2.metric("ECE after scaling", "not fitted")
                st.markdown("No temperature saved yet: the model's probabilities are used as they are.")
            label = "Fit the temperature again" if fitted else "Fit the temperature"
            if st.button(
                label,
                type="secondary" if fitted else "primary",
                key=keys.EVALUATE_FIT_TEMPERATURE,
                icon="🌡️",
                help=f"One number fitted on the {rep.n:,} validation images (~1 s).",
            ):
                _fit(ev.run)
            ui.teach(
                "Points under the dashed diagonal: over-confident (it is right less often than it "
                "claims). The bars below count the images in each bin: most sit near 100 %."
            )


def _threshold_options() -> list[float]:
    return [round(float(v), 3) for v in cal.default_thresholds()]


def _on_save_threshold(run: storage.Run, row: dict) -> None:
    try:
        cal.save_threshold(
            storage.load_run(run.path), row["threshold"], coverage=row["coverage"], accuracy=row["accuracy"]
        )
    except (cal.CalibrationError, *views.KNOWN_ERRORS) as exc:
        ui.flash("error", f"The threshold was not saved: {exc}")
        return
    ui.flash("success", f"Saved: Deploy says “not sure” for this run below {row['threshold']:.3f}.")


def _on_clear_threshold(run: storage.Run) -> None:
    try:
        cal.clear_threshold(storage.load_run(run.path))
    except views.KNOWN_ERRORS as exc:
        ui.flash("error", f"The threshold was not cleared: {exc}")
        return
    ui.flash("info", "This run is back to the default “not sure” rule.")


def _on_suggest(value: float) -> None:
    ss[keys.EVALUATE_THRESHOLD] = value


def _default_rule() -> str:
    return (
        f"not sure when the top probability is under {predict.UNSURE_BELOW:.0%} or the runner-up "
        f"is within {predict.CLOSE_MARGIN * 100:.0f} points"
    )


def coverage(ev: views.Evaluation, tab: Any) -> None:
    """Coverage vs accuracy: answer only when the top probability ≥ t; save t as the run's line."""
    if not tab.open:
        return
    with tab:
        st.markdown(
            "#### Coverage vs accuracy: when should it say “not sure”?",
            help="On validation, with the run's temperature applied: the share of images the model "
            "would answer at each threshold, and its accuracy on those.",
        )
        if ev.table is None:
            return
        options = _threshold_options()
        current = cal.run_threshold(ev.run)
        if ss.get(keys.EVALUATE_THRESHOLD_RUN) != ev.run.id or ss.get(keys.EVALUATE_THRESHOLD) not in options:
            start = current if current is not None else predict.UNSURE_BELOW
            ss[keys.EVALUATE_THRESHOLD] = min(options, key=lambda v: abs(v - start))
            ss[keys.EVALUATE_THRESHOLD_RUN] = ev.run.id
        probs = cal.apply_temperature(ev.table.probs, cal.run_temperature(ev.run))
        curve = cal.coverage_curve(probs, ev.table.labels, options)
        _coverage_view(ev, curve, current)


def _coverage_view(ev: views.Evaluation, curve: list[dict], current: float | None) -> None:
    @st.fragment
    def view() -> None:  # moving the slider redraws only this section
        by_t = {r["threshold"]: r for r in curve}
        left, right = st.columns([3, 2], gap="medium")
        with right:
            t = st.select_slider(
                "Answer only when the top probability is at least",
                list(by_t),
                key=keys.EVALUATE_THRESHOLD,
                format_func=lambda v: f"{v:.3f}",
            )
            row = by_t[t]
            c1, c2 = st.columns(2)
            c1.metric(
                "Answered",
                f"{row['coverage']:.1%}",
                help=f"{row['answered']:,} of {len(ev.table.labels):,} "
                "validation images; the rest get “not sure”.",
            )
            acc = row["accuracy"]
            c2.metric(
                "Accuracy on them",
                "—" if acc is None else f"{acc:.2%}",
                help="The share of the answered images that were read right.",
            )
            try:
                best = cal.choose_threshold(curve, ev.target)
            except cal.CalibrationError:
                best = None
            if best is not None and best["met"]:
                st.caption(
                    f"The lowest threshold reaching the target of {ev.target:.0%}: "
                    f"{best['threshold']:.3f} (answers {best['coverage']:.1%})."
                )
                st.button(
                    "Use it",
                    key=keys.EVALUATE_THRESHOLD_SUGGEST,
                    on_click=_on_suggest,
                    args=(best["threshold"],),
                )
            elif best is not None:
                st.caption(
                    f"No threshold reaches the target of {ev.target:.0%}; the most accurate "
                    f"is {best['threshold']:.3f} ({best['accuracy']:.2%} on {best['coverage']:.1%})."
                )
            st.button(
                f"Save {t:.3f} as this run's “not sure” line",
                type="primary",
                key=keys.EVALUATE_THRESHOLD_SAVE,
                on_click=_on_save_threshold,
                args=(ev.run, row),
                disabled=acc is None,
                icon="💾",
            )
        with left:
            chart = calibration_charts.coverage_chart(
                curve, chosen=t, target=ev.target, width=380, height=220
            )
            st.altair_chart(chart.configure_legend(orient="top"))  # a legend beside it would not fit
        ui.show_flash()
        fresh = storage.load_run(ev.run.path)  # a save from this fragment's button is already on disk
        _current_line(fresh)

    view()


def _current_line(run: storage.Run) -> None:
    current = cal.run_threshold(run)
    if current is None:
        st.caption(
            f"This run has no “not sure” line of its own: Deploy uses the default rule ({_default_rule()})."
        )
        return
    entry = run.meta.get("unsure_threshold") or {}
    figures = ""
    if isinstance(entry.get("coverage"), float) and isinstance(entry.get("accuracy"), float):
        figures = (
            f": it answered {entry['coverage']:.1%} of validation, {entry['accuracy']:.2%} of them right"
        )
    st.info(
        f"This run's “not sure” line: **{current:.3f}**{figures}. Deploy says “not sure” below it "
        f"(runs without a line keep the default rule: {_default_rule()}).",
        icon="📏",
    )
    if cal.threshold_is_stale(run):
        st.warning("It was chosen under another temperature than the one saved now: choose it again.")
    st.button(
        "Back to the default rule",
        key=keys.EVALUATE_THRESHOLD_CLEAR,
        on_click=_on_clear_threshold,
        args=(run,),
    )
