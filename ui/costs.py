"""The labeling-cost calculator of the Define page: how many images, how long, how much — in
house or outsourced — and, once a learning curve exists, for the Plan page's estimate (either
strategy's, when Plan compared labelling strategies)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from mnist_core.charts import data as data_charts
from mnist_core.planning import costs
from mnist_core.planning.curve.strategies import STRATEGIES
from ui import plan as plan_views
from ui import state as keys

# ---------------------------------------------------------------- labeling cost


def cost_inputs() -> costs.LabelingInputs:
    d = costs.LabelingInputs()
    c1, c2, c3 = st.columns(3)
    with c1:
        samples = st.number_input(
            "Images to label", 0, 10_000_000, step=1_000, **ui.persistent(keys.PLAN_COST_SAMPLES, d.samples)
        )
        seconds = st.number_input(
            "Seconds per label", 0.5, 600.0, d.seconds_per_sample, 0.5, key=keys.PLAN_COST_SECONDS
        )
        poc = st.number_input(
            "Proof of concept: images",
            0,
            10_000_000,
            d.poc_samples,
            1_000,
            key=keys.PLAN_COST_POC,
            help="Label a small set first to check the idea works before paying for all of it.",
        )
    with c2:
        annotators = st.number_input(
            "Annotators (in house)", 1, 1_000, d.annotators, key=keys.PLAN_COST_ANNOTATORS
        )
        hours_day = st.number_input(
            "Hours per day each", 0.5, 24.0, d.hours_per_day, 0.5, key=keys.PLAN_COST_HOURS
        )
        wage = st.number_input(
            "Cost of an annotator hour ($)", 0.0, 1_000.0, d.hourly_wage, 1.0, key=keys.PLAN_COST_WAGE
        )
    with c3:
        price = st.number_input(
            "Outsourced price per label ($)",
            0.0,
            100.0,
            d.price_per_sample,
            0.01,
            format="%.3f",
            key=keys.PLAN_COST_PRICE,
        )
        review = st.slider(
            "Share re-checked in house (%)",
            0,
            100,
            int(d.review_share * 100),
            key=keys.PLAN_COST_REVIEW,
            help="Outsourced labels still need a quality review by your own people.",
        )
        review_s = st.number_input(
            "Seconds to re-check a label",
            0.0,
            600.0,
            d.review_seconds_per_sample,
            0.5,
            key=keys.PLAN_COST_REVIEW_S,
        )
    return costs.LabelingInputs(
        int(samples),
        float(seconds),
        int(annotators),
        float(hours_day),
        float(wage),
        int(poc),
        float(price),
        review / 100,
        float(review_s),
    )


def use_plan_estimate(n: int) -> None:
    st.session_state[keys.PLAN_COST_SAMPLES] = n


def chosen_estimate(est: dict | None) -> dict | None:
    """The Plan estimate to cost: the shown curve's, or, when Plan compared labelling strategies,
    the one picked here."""
    alternatives = (est or {}).get("alternatives") or {}
    if len(alternatives) < 2:
        return est
    if st.session_state.get(keys.PLAN_COST_STRATEGY) not in alternatives:  # a pick from another comparison
        st.session_state[keys.PLAN_COST_STRATEGY] = est["strategy"]

    def label(s: str) -> str:
        a = alternatives[s]
        return (
            f"{STRATEGIES[s]} ({a['size']:,} images)" if a["reachable"] else f"{STRATEGIES[s]} (out of reach)"
        )

    choice = st.radio(
        "Which Plan estimate",
        list(alternatives),
        format_func=label,
        key=keys.PLAN_COST_STRATEGY,
        horizontal=True,
        help="Plan measured a learning curve for each labelling strategy: cost either.",
    )
    return alternatives[choice]


def plan_offer(est: dict | None) -> bool:
    """The Plan page's answer, one click away from "Images to label"; whether only the images
    still missing are counted."""
    if est is None:
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.caption(
            "How many images do you really need? A learning curve measured on Plan answers "
            "that, and its estimate can be costed here with one click."
        )
        with right:
            ui.link("Plan", "Measure it on Plan")
        return False
    if not est["reachable"]:
        st.info(
            f"The learning curve on Plan ({est['model']}) levels off at {est['floor_accuracy']:.1%} "
            f"accuracy: {est['target']:.1%} is out of reach for that model, however many images "
            "are labelled. Measure a bigger model's curve on Plan."
        )
        return False
    have = est["have"]
    rest = st.checkbox(
        f"Count only the images still to label (you already have {have:,})",
        key=keys.PLAN_COST_REST,
        help="The Plan estimate is the total number of labelled "
        "training images; the ones you have need no new label.",
    )
    n = max(est["size"] - have, 0) if rest else est["size"]
    st.button(
        f"Use the Plan estimate ({n:,} images)",
        key=keys.PLAN_COST_USE_PLAN,
        on_click=use_plan_estimate,
        args=(n,),
        help=f"From the learning curve of {est['label']}, at the {est['target']:.1%} target.",
    )
    return rest


def plan_table(inputs: costs.LabelingInputs, est: dict, rest: bool) -> None:
    """Hours, working days and both costs for the Plan estimate and the ends of its range."""
    low, high = est["low"], est["high"]
    span = f"range {low:,}–{high:,}" if low and high else "the range is open-ended"
    st.markdown(
        f"**The Plan estimate for {est['target']:.1%}:** about {est['size']:,} labelled images "
        f"({span}), with {inputs.annotators} annotators at {inputs.hours_per_day:g} h a day"
        + (f"; the {est['have']:,} you have are not counted" if rest else "")
        + "."
    )
    names = {"low": "Low end", "estimate": "Estimate", "high": "High end"}
    rows = [
        {
            "": names[key],
            "Images to label": e.samples,
            "Hours": round(e.hours, 1),
            "Working days": round(e.days, 2),
            "In words": costs.describe_days(e.days),
            "In house ($)": round(e.in_house_cost),
            "Outsourced + review ($)": round(e.outsourced_cost),
        }
        for key, e in costs.curve_estimates(
            inputs, est["size"], low, high, est["have"] if rest else 0
        ).items()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if high is None:
        st.caption("No high end: some refits of the curve never reach the target.")


def cost_section() -> None:
    st.header("What the labels cost")
    st.caption("Every training image needs a correct label, typed by a person. Change any number.")
    est = chosen_estimate(plan_views.current_estimate())
    rest = plan_offer(est)
    try:
        inputs = cost_inputs()
    except costs.CostError as exc:
        st.error(str(exc))
        return
    full = costs.estimate(inputs)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(
        "Labeling time",
        f"{full.hours:,.1f} h",
        help=f"{full.samples:,} images × {inputs.seconds_per_sample:g} s",
    )
    m2.metric(
        "In-house team",
        costs.describe_days(full.days),
        help=f"{full.days:.2f} working days for {inputs.annotators} × {inputs.hours_per_day:g} h",
    )
    m3.metric("In-house cost", f"${full.in_house_cost:,.0f}")
    m4.metric(
        "Outsourced + review",
        f"${full.outsourced_cost:,.0f}",
        help=f"vendor ${full.vendor_fee:,.0f} + {full.review_hours:,.1f} h of review",
    )
    if est is not None and est["reachable"]:
        plan_table(inputs, est, rest)
    st.dataframe(scenario_table(inputs), hide_index=True, width="stretch")
    st.altair_chart(data_charts.cost_chart(costs.cost_rows(inputs)), width="stretch")


def scenario_table(inputs: costs.LabelingInputs) -> pd.DataFrame:
    rows = []
    for name, est in costs.scenarios(inputs).items():
        rows.append(
            {
                "Scenario": name,
                "Hours": round(est.hours, 1),
                "Working days": round(est.days, 2),
                "In words": costs.describe_days(est.days),
                "In house ($)": round(est.in_house_cost),
                "Vendor ($)": round(est.vendor_fee),
                "Review hours": round(est.review_hours, 1),
                "Outsourced total ($)": round(est.outsourced_cost),
            }
        )
    return pd.DataFrame(rows)
