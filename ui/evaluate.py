"""Views of the Evaluate page: one run's evaluation gathered once, its headline, and thumbnails.

`load(run, target)` gathers what every section of the page reads (the saved validation result,
the validation images with the model's predictions, the training split's class counts) into
one `Evaluation`; a section is then a function of it. Predicting every validation image is
cached per run and `ui.run_version`, so clicking around the matrix is instant. Judgements
come from `mnist_core.evaluation.judge`, images from `mnist_core.evaluation.gallery` and `mnist_core.data.images`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

import ui
from mnist_core.config import ConfigError
from mnist_core.data.baselines import Baselines, baselines
from mnist_core.data.errors import DataError
from mnist_core.data.images import upscale
from mnist_core.evaluation import gallery, judge
from mnist_core.evaluation.evaluate import EvalResult
from mnist_core.runs import storage
from mnist_core.runs.evaluations import evaluation_note
from mnist_core.runs.files import StorageError
from mnist_core.training import pipeline

# What loading a run's images or evaluating it can raise, each with a message fit for users.
KNOWN_ERRORS = (DataError, StorageError, ConfigError, OSError)
CELL_SCALE = 2  # 28 px → 56 px: a cell's images fit beside the matrix on a 1280×720 screen
GALLERY_SCALE = 4  # 28 px → 112 px: whole-pixel blocks stay crisp on a projector


@dataclass(frozen=True)
class Evaluation:
    """Everything the page's sections read about the run under evaluation."""

    run: storage.Run
    val: EvalResult
    table: gallery.PredictionTable | None  # None when the images cannot be rebuilt here
    train_counts: list[int] | None  # images per digit in the training split, when known
    problem: str  # why the images cannot be shown; "" when they can
    target: float

    @property
    def base(self) -> Baselines:
        return baselines(judge.label_counts(self.val), self.train_counts)


@st.cache_resource(max_entries=4, show_spinner="Predicting every validation image…")
def _validation_table(run_path: str, version: float) -> tuple[gallery.PredictionTable, list[int]]:
    run = storage.load_run(run_path)
    val, train_counts = gallery.run_validation_set(run)
    return gallery.predictions(ui.load_model(run), val), train_counts


def validation_table(run: storage.Run) -> tuple[gallery.PredictionTable, list[int]]:
    """The run's validation images with predictions, and its training split's class counts
    (cached per run folder and what it holds, so a rewritten run is never served stale)."""
    return _validation_table(str(run.path), ui.run_version(run))


def load(run: storage.Run, target: float) -> Evaluation | str:
    """The run's evaluation, or why there is none (a run saved without a validation result gets
    one now, computed and saved by the core: looking at validation is free)."""
    table, train_counts, problem = None, None, ""
    try:
        table, train_counts = validation_table(run)
    except KNOWN_ERRORS as exc:
        problem = str(exc)
    try:
        val = run.evaluation("val")
        if val is None and table is not None:
            val = pipeline.evaluate_run(
                run, "val", model=ui.load_model(run), data=gallery.table_images(table)
            )
    except KNOWN_ERRORS as exc:
        val, problem = None, f"{exc} {problem}".strip()
    if val is None:
        return f"This run has no validation results and they cannot be computed now: {problem}"
    return Evaluation(run, val, table, train_counts, problem, target)


def other_evaluations(run: storage.Run) -> list[str]:
    """One line per evaluation on data other than the run's own: where, how many, the score.

    The core keeps them apart (meta["other_evaluations"]): the run's test accuracy is only ever
    the one on its own source's test set, so these are shown as what they are, never as that.
    """
    lines = []
    for record in run.meta.get("other_evaluations") or []:
        acc = record.get("accuracy")
        score = f"{acc:.2%} accuracy" if isinstance(acc, (int, float)) else "no accuracy"
        kind = {"val": "Validation", "test": "Test"}.get(record.get("split"), "An")
        when = f" · {record['created']}" if record.get("created") else ""
        lines.append(f"{kind} evaluation {evaluation_note(record)}: {score}{when}")
    return lines


def metric_row(result: EvalResult, base: Baselines, name: str, target: float, deltas: bool = True) -> None:
    """Accuracy and loss of `result` next to what a model that learned nothing scores."""
    gap = f"{(result.accuracy - target) * 100:+.1f} pts vs target {target * 100:g}%"
    loss_gap = f"{result.loss - base.chance_loss:+.3f} vs uniform guess"
    cols = st.columns(4)
    cols[0].metric(
        f"{name} accuracy",
        f"{result.accuracy:.2%}",
        gap if deltas else None,
        help=f"Share of the {result.n:,} {name.lower()} images read right; "
        f"the target ({target:.0%}) comes from *Define the task*.",
    )
    cols[1].metric(
        f"{name} loss",
        f"{result.loss:.3f}",
        loss_gap if deltas else None,
        delta_color="inverse",
        help="Cross-entropy: lower is better. A uniform guess "
        f"over the 10 digits scores {base.chance_loss:.3f}.",
    )
    cols[2].metric("Random guessing", f"{base.chance:.0%}", help="A baseline: answering a digit at random.")
    cols[3].metric(
        f"Always answering {base.majority_digit}",
        f"{base.majority_accuracy:.1%}",
        help="A baseline: always answering the training set's most common digit.",
    )


def verdict(result: EvalResult, base: Baselines, target: float) -> None:
    """Pass or fail against the target in one line; the reasons in a popover beside it."""
    v = judge.verdict(result, target, base)
    left, right = st.columns([6, 1], vertical_alignment="center")
    (left.success if v.passed else left.error)(v.headline, icon="✅" if v.passed else "❌")
    with right.popover("Why?", width="stretch"):
        st.markdown("\n".join(f"- {line}" for line in v.details))
        ui.link("Define the task", "Change the target")


def examples(
    table: gallery.PredictionTable,
    shown: list[gallery.Example],
    captions: list[str],
    scale: int = GALLERY_SCALE,
) -> None:
    """Crisp enlarged thumbnails with what the model said under each."""
    st.image(
        [upscale(table.images[e.index], scale) for e in shown], caption=captions, width=28 * scale
    )  # not the caption's width: the thumbnails stay whole-pixel crisp
