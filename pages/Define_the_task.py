"""Step 1 · Define the task: inputs and outputs, the bar to clear, what labels cost, and what could go wrong."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

import ui
from mnist_core.charts import evaluation as eval_charts
from mnist_core.charts import prediction as predict_charts
from mnist_core.data import explore, images
from mnist_core.evaluation.inference import predict_proba
from mnist_core.planning import costs
from mnist_core.runs.files import StorageError
from ui import costs as cost_view
from ui import state as keys

if TYPE_CHECKING:
    import torch

BEST_PUBLISHED = 0.998  # best published MNIST test accuracies are about 99.7-99.8 %


# ---------------------------------------------------------------- the task in plain words


def latest_model_probs(image: torch.Tensor) -> tuple[list[float] | None, str]:
    runs = ui.runs()
    if not runs:
        return None, "No model trained yet: after training, its real output appears here too."
    try:
        probs = predict_proba(ui.load_model(runs[0]), image.unsqueeze(0))[0]
    except (StorageError, RuntimeError) as exc:
        return None, f"The latest model could not be loaded ({exc})."
    return [float(p) for p in probs], f"Latest model: {runs[0].label}."


def task_section() -> None:
    st.header("The task in plain words")
    pool = ui.or_stop(ui.train_pool)
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.markdown(
            "- **In:** one handwritten digit as a **28 × 28 grayscale image** — 784 numbers from "
            "0 (black background) to 255 (white ink).\n"
            "- **Out:** a **probability for each digit 0–9**; the prediction is the most probable one.\n"
            "- **Kind of problem:** **10-class classification**. The model ends in a **softmax**, "
            "which turns 10 raw scores into probabilities that sum to 1, and it is trained to "
            "minimise the **cross-entropy loss**: minus the log of the probability it gave the "
            "true digit."
        )
        st.latex(
            r"p_k = \frac{e^{z_k}}{\sum_{j=0}^{9} e^{z_j}}"
            r"\qquad \text{loss} = -\log p_{\text{true digit}}"
        )
        st.caption(
            f"A model that has learned nothing gives every digit 10 %: its loss is "
            f"−log 0.1 = {math.log(10):.2f}. A perfect, confident model has loss 0. With "
            "augmentation on (the default), training also smooths the labels: the target is 0.91 "
            "for the true digit and 0.01 for each other one, which keeps the model from growing "
            "over-confident, and the loss curves of such runs level out near 0.5 instead of 0."
        )
    with right:
        if st.session_state.get(keys.DEFINE_SAMPLE_INDEX, 0) >= len(pool):
            st.session_state[keys.DEFINE_SAMPLE_INDEX] = 0  # the data source changed to a smaller pool
        index = st.number_input(
            "Sample image number",
            0,
            len(pool) - 1,
            key=keys.DEFINE_SAMPLE_INDEX,
            help="Any image of the training pool of the active data source.",
        )
        image, label = pool.images[int(index)], int(pool.labels[int(index)])
        probs, note = latest_model_probs(image)
        pic, chart = st.columns([1, 2.6], vertical_alignment="center")
        pic.image(images.upscale(image.numpy(), 5), caption=f"Label: {label}")
        # Streamlit counts a bottom legend in the chart height: give it room explicitly.
        chart.altair_chart(
            predict_charts.output_chart(predict_charts.output_rows(label, probs)), width="stretch", height=300
        )
        st.caption("Out: one probability per digit. " + note)


# ---------------------------------------------------------------- success


def success_section() -> None:
    st.header("What counts as success")
    pool = ui.or_stop(ui.train_pool)
    digit, majority = explore.majority_baseline(pool.labels)
    if keys.DEFINE_TARGET_PCT not in st.session_state:
        st.session_state[keys.DEFINE_TARGET_PCT] = round(ui.target_accuracy() * 100, 1)
    left, right = st.columns([1, 1.3], gap="large")
    with left:
        pct = st.slider(
            "Target accuracy (%)",
            50.0,
            99.9,
            step=0.1,
            key=keys.DEFINE_TARGET_PCT,
            format="%.1f%%",
            help="Agree on this before training. The Evaluate page checks models against it.",
        )
        st.session_state[keys.APP_TARGET_ACCURACY] = pct / 100
        st.markdown(
            f"A model must beat two baselines that need no learning at all:\n"
            f"- **chance:** guessing uniformly scores **10 %**;\n"
            f"- **majority class:** always answering **{digit}**, the most common digit "
            f"of this training pool, scores **{majority:.1%}**."
        )
        if pool.labels.unique().numel() == 10 and majority < 0.105:
            st.caption(
                "This data is (nearly) balanced, so the majority class barely beats chance; "
                "on skewed data it can look deceptively good."
            )
        target_verdict(pct / 100, majority)
    with right:
        runs = ui.runs()
        acc = runs[0].meta.get("val_accuracy") if runs else None
        rows = eval_charts.baseline_rows(pct / 100, majority, acc if isinstance(acc, (int, float)) else None)
        st.altair_chart(eval_charts.baseline_chart(rows), width="stretch")


def target_verdict(target: float, majority: float) -> None:
    if target <= max(0.1, majority):
        st.warning("This target is met by a model that learned nothing: set it above the baselines.")
    elif target > BEST_PUBLISHED:
        st.warning("Beyond the best published MNIST results (about 99.8 %): no model is likely to get there.")
    else:
        st.success(f"Target set to {target:.1%}; the Evaluate page compares every model with it.")


# ---------------------------------------------------------------- who labels, ethics, risks


def labelers_section() -> None:
    st.header("Who labels?")
    st.table(pd.DataFrame(costs.LABELER_OPTIONS).set_index("Who labels"))
    st.caption(
        "Whoever labels, somebody in house still owns the guidelines and checks the result: "
        "wrong labels teach the model wrong answers and make the test score lie."
    )


def ethics_section() -> None:
    st.header("Should it be built at all?")
    st.markdown(
        "Reading digits is low-stakes, but the same workflow can be pointed at targets that are not. "
        "Before building, ask:\n"
        "- **Is the target legitimate?** Predicting *which digit was written* is fine; predicting "
        "*who wrote it*, their age or their trustworthiness from handwriting is not a question a "
        "model should answer.\n"
        "- **Who bears the errors?** A misread digit on a cheque or a form hurts a person: keep a "
        "human check for low-confidence predictions.\n"
        "- **Consent and origin:** whose handwriting is in the data, and did they agree to this use?"
    )


def risks_section() -> None:
    st.header("Assumptions and risks, and where to check them")
    items = [
        (
            "Assumption",
            "The input predicts the target: a 28 × 28 image holds enough to tell the digit.",
            "Data",
            "Look at the sample grids",
        ),
        (
            "Assumption",
            "The data is enough and representative: every digit well covered, in the styles users write.",
            "Data",
            "Check the class balance",
        ),
        (
            "Risk",
            "Sampling bias: MNIST was written with pens by US Census staff and students, "
            "centred and size-normalised; digits drawn with a mouse look different.",
            "Deploy",
            "Field accuracy on real drawings",
        ),
        (
            "Risk",
            "Concept drift: the inputs change after launch (new users, new devices, other "
            "writing styles) and accuracy quietly drops.",
            "Deploy",
            "Keep watching field accuracy",
        ),
    ]
    for kind, text, where, action in items:
        with st.container(border=True):
            a, b = st.columns([2.3, 1], vertical_alignment="center")
            a.markdown(f"**{kind}.** {text}")
            with b:
                ui.link(where, action)


def main() -> None:
    ui.page(
        "Define the task",
        "Before any code: what goes in, what comes out, what counts as success, and whether to build it.",
    )
    task_section()
    success_section()
    cost_view.cost_section()
    labelers_section()
    ethics_section()
    risks_section()


main()
