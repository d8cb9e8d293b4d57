"""The views of the Plan page (how many labels do we need?), and the estimate other pages read.

- `current_estimate()`: the Plan answer at the current target (size, range, what we have),
  from the curve shown on Plan or else the newest saved one; Define's calculator uses it.
- `show_live(snapshot, live)`: a measurement while it runs (progress, points as they finish,
  a provisional fit) and how it ended; `ui.follow_job` calls it.
- `show_curve(curve)`: a measured curve: chart (with the other strategies measured with it, and
  the saving, see `ui.plan_compare`), the answer in words, the bigger-model offer when the
  target lies below the curve's floor, and the honesty check side by side.
- `saved_section()`: the saved curves, shown or deleted.
- `train_page_config()` / `open_train()`: read or set the Train page's controls (session keys
  "train.<field>"), so a curve can measure the Train settings and Train can open on a bigger model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import ui
from mnist_core.charts import curve as curve_charts
from mnist_core.config import DEFAULT_PRESET, PRESETS, TrainConfig, nearest_option
from mnist_core.jobs.job import JobSnapshot, JobState
from mnist_core.planning.curve.advice import bigger_model, curve_estimate, estimate_sentence
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import MIN_SIZES, Fit, provisional_fit
from mnist_core.planning.curve.store import Curve, curves_signature, delete_curve, list_curves
from ui import plan_compare
from ui import state as keys
from ui.job_status import show_failed_or_running

# The Train page's controls (pages/Train.py CONTROLS): every field but the split (set on
# Preprocess) and the run-time ones (mixed precision, device).
TRAIN_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(TrainConfig)
    if f.name not in ("val_fraction", "split_seed", "mixed_precision", "device")
)
MAX_LISTED = 12
ss = st.session_state


# ---------------------------------------------------------------- the Train page's controls


def train_page_config() -> TrainConfig:
    """The configuration the Train page would train now (its defaults when never visited)."""
    base = PRESETS[DEFAULT_PRESET]
    values = {k: ss.get(keys.train_control(k), nearest_option(k, getattr(base, k))) for k in TRAIN_FIELDS}
    return TrainConfig(**values, **ui.split_settings())


def open_train(config: TrainConfig, preset: str | None = None) -> None:
    """Set the Train page's controls to `config` (and its preset box) and go there."""
    if preset is not None:
        ss[keys.TRAIN_PRESET] = preset
    for k in TRAIN_FIELDS:
        ss[keys.train_control(k)] = nearest_option(k, getattr(config, k))
    st.switch_page(ui.step("Train").file)


# ---------------------------------------------------------------- saved curves and the estimate


@st.cache_resource(max_entries=4, show_spinner=False)
def _listing(home: str, signature: tuple) -> list[Curve]:
    return list_curves(Path(home))


def saved_curves() -> list[Curve]:
    """Every readable saved curve, newest first (parsed once per change of the curves folder)."""
    home = ui.home()
    return _listing(str(home), curves_signature(home))


def shown_curve() -> Curve | None:
    """The curve picked on Plan, else the newest saved one (a deleted pick falls back)."""
    curves = saved_curves()
    picked = ss.get(keys.PLAN_CURVE)
    return next((c for c in curves if c.id == picked), curves[0] if curves else None)


def current_estimate() -> dict[str, Any] | None:
    """The Plan answer at the current target accuracy, kept in session state as keys.PLAN_ESTIMATE; None
    when no curve has been measured (or the target is one a curve cannot answer). Its
    "alternatives" hold the answer of every strategy measured with the shown curve, by strategy."""
    curve = shown_curve()
    if curve is None:
        return None
    target = ui.target_accuracy()
    try:
        est = curve_estimate(curve, target)
        group = plan_compare.group_of(curve, saved_curves())
        est["alternatives"] = {s: curve_estimate(c, target) for s, c in group.items()}
    except CurveError:
        return None
    ss[keys.PLAN_ESTIMATE] = est
    return est


# ---------------------------------------------------------------- a measurement while it runs


@st.cache_data(max_entries=16, show_spinner=False)
def _provisional_fit(points: tuple[tuple[int, float], ...]) -> dict | None:
    """`provisional_fit` of (size, validation error) pairs, once per set of points."""
    fit = provisional_fit([{"size": size, "val_error": error} for size, error in points])
    return fit.to_dict() if fit is not None else None


def show_live(snap: JobSnapshot, live: bool) -> None:
    """Progress and the points so far while it runs; afterwards, how it ended (each strategy's
    curve, when several were compared)."""
    points = snap.of_kind("point")
    finals = snap.of_kind("curve")
    if not show_failed_or_running(snap, live, lambda error: f"The measurement failed: {error}"):
        for final in finals:
            outcome(final)
        if not finals and snap.state == JobState.STOPPED:
            st.warning("Stopped before the first size was measured: nothing was saved.")
    if live or (any(not f["saved"] for f in finals) and points):
        strategies = list(dict.fromkeys(p.get("strategy", "random") for p in points))
        fits = {
            s: _provisional_fit(
                tuple(
                    (int(p["size"]), float(p["val_error"]))
                    for p in points
                    if p.get("strategy", "random") == s
                )
            )
            for s in strategies
        }
        if len(strategies) > 1:
            plan_compare.live_chart(points, fits, ui.target_accuracy())
        else:
            fitted = fits[strategies[0]] if strategies else None
            fit = Fit.from_dict(fitted) if fitted else None
            st.altair_chart(
                curve_charts.curve_chart(points, fit, 1 - ui.target_accuracy(), band=False), width="stretch"
            )
        plan = next((r for r in reversed(snap.records) if "total" in r), None)
        total = plan["total"] * plan.get("strategies", 1) if plan else "…"  # the same plan each
        st.caption(
            f"{len(points)} of {total} trainings done"
            + (" · the lines are provisional fits of the points so far" if any(fits.values()) else "")
        )


def outcome(final: dict[str, Any]) -> None:
    """The last record of a measurement, in one message."""
    text = final["text"]
    if final["status"] == "failed":
        st.error(text)
    elif not final["saved"]:
        st.warning(text)
    elif final["status"] == "stopped":
        st.info(text)
    else:
        st.success(text)


# ---------------------------------------------------------------- a measured curve


def show_curve(curve: Curve) -> None:
    """The answer in words (or the bigger-model offer), the chart, the honesty check, the details."""
    target = ui.target_accuracy()
    try:
        est = curve_estimate(curve, target)
    except CurveError as exc:
        st.error(str(exc))
        est = None
    needed = est["size"] if est and est["reachable"] else None
    st.markdown(
        f"**{curve.label}**"
        + (" · *stopped early, fitted on the sizes done*" if curve.status == "stopped" else "")
    )
    group = plan_compare.group_of(curve, saved_curves())
    if len(group) > 1 and est is not None:
        plan_compare.show_comparison(group, target)
        st.markdown(f"**{plan_compare.STRATEGIES[curve.strategy].capitalize()}**, in detail:")
    if est is not None:  # the answer in words first, the curve it was read off below
        sentence = estimate_sentence(curve.fit, target, curve.n_train, curve.config)
        if not est["reachable"]:
            st.warning(sentence)
            bigger_offer(curve)
        else:
            (st.success if est["enough"] else st.info)(sentence)
            left, right = st.columns([1, 2], vertical_alignment="center")
            with left:
                ui.link("Define the task", "Cost these labels on Define", "💰")
            right.caption("The labeling-cost calculator on Define takes this estimate with one click.")
    st.altair_chart(
        curve_charts.curve_chart(curve.points, curve.fit, 1 - target if est else None, needed, curve.honesty),
        width="stretch",
    )
    honesty_section(curve.honesty)
    fit = curve.fit
    st.caption(
        f"Fitted {fit.describe()} on {fit.n_points} points ({fit.min_size:,}–{fit.max_size:,} "
        f"images), {fit.rmse * 100:.2f} points of error off them (RMS); it levels off at "
        f"{fit.floor_accuracy:.1%} accuracy. The range is the central {fit.interval:.0%} of "
        f"{len(fit.boot)} refits on resampled points."
    )
    with st.expander("Measured points"):
        st.dataframe(points_table(curve.points), hide_index=True, width="stretch")


def bigger_offer(curve: Curve) -> None:
    """The target lies below the floor: offer to open Train on a more capable model."""
    big = bigger_model(curve.config)
    if big["preset"] is None and not big["changes"]:
        return
    if st.button(f"🏋️ Open Train with {big['text']}", key=keys.PLAN_BIGGER_MODEL):
        if big["preset"] is not None:
            open_train(PRESETS[big["preset"]], big["preset"])
        else:
            open_train(curve.config.replace(**big["changes"]))
    st.caption(
        "Then measure its learning curve here too: a bigger model has a lower floor, "
        "but needs more images to get there."
    )


def honesty_section(h: dict[str, Any] | None) -> None:
    """The curve fitted on the smaller sizes only: its prediction next to the measurement."""
    st.markdown("**Honesty check: does the curve predict what it has not seen?**")
    if not h:
        st.caption(f"Needs at least {MIN_SIZES + 1} sizes: {MIN_SIZES} to fit and a larger one to predict.")
        return
    lo, hi = h["predicted_range"]
    cols = st.columns(3)
    cols[0].metric(
        f"Predicted at {h['at_size']:,} images",
        f"{h['predicted_error']:.1%} error",
        help=f"Fitted on ≤ {h['max_fit_size']:,} images only; range {lo:.1%}–{hi:.1%}.",
    )
    cols[1].metric(
        f"Measured at {h['at_size']:,} images",
        f"{h['measured_error']:.1%} error",
        f"{(h['measured_error'] - h['predicted_error']) * 100:+.2f} pts",
        delta_color="off",
    )
    with cols[2]:
        if h["within_range"]:
            st.success("Within the prediction's range: the extrapolation held up.")
        else:
            st.warning(
                "Outside the prediction's range: read estimates far beyond the measured "
                "sizes as rough guesses."
            )
    st.caption(h["text"])


def points_table(points: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Images": p["size"],
                "Seed": int(p.get("seed", 0)) + 1,
                "Validation error": f"{p['val_error']:.2%}",
                "Epochs": p.get("epochs"),
                "Seconds": p.get("seconds"),
            }
            for p in points
        ]
    )


# ---------------------------------------------------------------- saved curves


def on_show(curve_id: str) -> None:
    ss[keys.PLAN_CURVE] = curve_id


def on_delete(curve_id: str) -> None:
    try:
        delete_curve(curve_id, ui.home())
    except CurveError as exc:
        ui.flash("error", str(exc))
        return
    if ss.get(keys.PLAN_CURVE) == curve_id:
        ss[keys.PLAN_CURVE] = None
    ui.flash("success", f"Deleted the learning curve {curve_id}.")


def curve_line(curve: Curve, target: float) -> str:
    """One line of the saved list: what was measured and its answer at the current target."""
    try:
        est = curve_estimate(curve, target)
    except CurveError:
        answer = ""
    else:
        answer = (
            f" · {target:.1%} needs ≈ {est['size']:,} images"
            if est["reachable"]
            else f" · levels off at {est['floor_accuracy']:.1%}"
        )
    return (
        f"**{curve.label}** · {len({p['size'] for p in curve.points})} sizes, "
        f"{len(curve.points)} trainings" + (" · stopped early" if curve.status == "stopped" else "") + answer
    )


def saved_section(shown: Curve | None) -> None:
    st.subheader("Saved learning curves")
    curves = saved_curves()
    if not curves:
        st.info("Every measured curve is saved here (in the studio folder, `curves/`), to reload later.")
        return
    target = ui.target_accuracy()
    for c in curves[:MAX_LISTED]:
        with st.container(border=True):
            text, show, delete = st.columns([6, 1, 1], vertical_alignment="center")
            text.markdown(curve_line(c, target) + (" · *shown above*" if shown and c.id == shown.id else ""))
            show.button(
                "Show",
                key=keys.plan_show(c.id),
                on_click=on_show,
                args=(c.id,),
                disabled=shown is not None and c.id == shown.id,
                width="stretch",
            )
            with delete.popover("🗑", help="Delete this curve", width="stretch"):
                st.button(
                    "Delete for good",
                    key=keys.plan_delete(c.id),
                    on_click=on_delete,
                    args=(c.id,),
                    type="primary",
                )
    if len(curves) > MAX_LISTED:
        st.caption(f"{len(curves) - MAX_LISTED} older curves are not listed.")
