"""What each fixed section of the report says: summary, task, data, model, training curves,
validation, test, labelling cost and limits.

Judgements (baselines, verdicts, weakest digits, confusions, test vs validation) come from
`judge`, the functions the Evaluate page calls, so page and report say the same thing. The
sections that appear only when the run has an analysis saved are in analyses.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from mnist_core.config import MODEL_LABELS, field_info
from mnist_core.data.baselines import Baselines, baselines
from mnist_core.evaluation.evaluate import EvalResult
from mnist_core.evaluation.judge import (
    Verdict,
    label_counts,
    test_vs_validation,
    top_confusions,
    verdict,
    weakest_digits,
)
from mnist_core.planning import costs
from mnist_core.report import figures
from mnist_core.report.tables import (
    balance_table_html,
    confusion_table_html,
    kv_table,
    per_class_table_html,
)
from mnist_core.runs.storage import Run
from mnist_core.text import escape as esc
from mnist_core.text import percent as as_percent


@dataclass(frozen=True)
class Context:
    """What every section of the report may need."""

    run: Run
    target: float
    val: EvalResult | None
    test: EvalResult | None
    looks: int
    train_counts: list[int] | None

    @property
    def base(self) -> Baselines | None:
        return baselines(label_counts(self.val), self.train_counts) if self.val else None

    @property
    def test_base(self) -> Baselines | None:
        return baselines(label_counts(self.test), self.train_counts) if self.test else None


def count(value: object) -> str:
    """A count with thousands separators, or "?" where the run did not save it."""
    return f"{value:,}" if isinstance(value, int) else "?"


def verdict_html(v: Verdict) -> str:
    cls = "pass" if v.passed else "fail"
    mark = "PASS" if v.passed else "FAIL"
    details = "".join(f"<li>{esc(d)}</li>" for d in v.details)
    return f"<div class='verdict {cls}'><b>{mark}</b> — {esc(v.headline)}<ul>{details}</ul></div>"


def evaluation_html(result: EvalResult, target: float, base: Baselines) -> str:
    """The verdict, the key figures, the confusion matrix and per-class metrics of one evaluation."""
    v = verdict(result, target, base)
    confusions = ", ".join(f"{t} read as {p} ({c}×)" for t, p, c in top_confusions(result)) or "none"
    right = sum(result.confusion[d][d] for d in range(10))
    return (
        verdict_html(v)
        + kv_table(
            [
                ("Accuracy", as_percent(result.accuracy, 2)),
                ("Loss", f"{result.loss:.4f}"),
                ("Images", f"{result.n:,}"),
                ("Mistakes", f"{result.n - right:,}"),
                ("Weakest digits", "; ".join(weakest_digits(result))),
                ("Most frequent confusions", confusions),
            ]
        )
        + "<h3>Confusion matrix</h3>"
        + confusion_table_html(result)
        + "<h3>Per-class precision, recall and F1</h3>"
        + per_class_table_html(result)
    )


def summary(c: Context) -> str:
    if not (c.val and c.base):
        return "<p>This run has no saved validation evaluation.</p>"
    body = verdict_html(verdict(c.val, c.target, c.base))
    if c.test and c.test_base:
        body += verdict_html(verdict(c.test, c.target, c.test_base))
    return body


def task(c: Context) -> str:
    return (
        "<p>Recognise handwritten digits: given a 28×28 greyscale image of one digit, answer "
        "which of the ten digits 0–9 it shows. Success is measured as the share of images "
        f"answered correctly (accuracy). <b>Target accuracy: {as_percent(c.target)}</b>.</p>"
    )


def data(c: Context) -> str:
    meta, cfg = c.run.meta, c.run.config
    sizes = meta.get("sizes", {})
    rows = [
        ("Source", str(meta.get("data_name", meta.get("data", "?")))),
        ("Training images", count(sizes.get("train"))),
        ("Validation images", count(sizes.get("val"))),
        ("Validation share of the pool", f"{as_percent(cfg.val_fraction, 0)} (split seed {cfg.split_seed})"),
    ]
    if sizes.get("extra_train"):
        rows.insert(2, ("Of which collected drawings", count(sizes["extra_train"])))
    if meta.get("labels") == "reviewed":
        rows.insert(
            2,
            (
                "Labels",
                f"reviewed: {count(meta.get('relabelled'))} training labels changed, "
                f"{count(meta.get('excluded'))} training images excluded; "
                f"{count(meta.get('decisions_on_validation'))} decisions on validation images not applied",
            ),
        )
    if c.test:
        rows.append(("Test images", count(c.test.n)))
    columns: dict[str, list[int]] = {}
    if c.train_counts:
        columns["training"] = list(c.train_counts)
    if c.val:
        columns["validation"] = label_counts(c.val)
    if c.test:
        columns["test"] = label_counts(c.test)
    balance = "<h3>Class balance</h3>" + balance_table_html(columns) if columns else ""
    return kv_table(rows) + balance


def model(c: Context) -> str:
    meta, cfg = c.run.meta, c.run.config
    rows = [
        ("Model", f"{MODEL_LABELS.get(cfg.model, cfg.model)} — {cfg.summary()}"),
        ("Parameters", count(meta.get("parameters"))),
        ("Training", f"{meta.get('status', '?')}: {meta.get('message', '')}"),
        ("Epochs run", str(meta.get("epochs_run", len(c.run.history)))),
        ("Kept weights of epoch", str(meta.get("best_epoch", "?"))),
        ("Training time", f"{meta.get('train_seconds', '?')} s"),
    ]
    if "precision" in meta:  # runs saved before 2026-12-07 do not say
        rows.append(("Trained on", f"{meta.get('device', '?')}, {meta['precision']}"))
    hyper = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td><td class='muted'>{esc(field_info(k)['help'])}</td></tr>"
        for k, v in cfg.to_dict().items()
    )
    return (
        kv_table(rows) + "<table><thead><tr><th>setting</th><th>value</th><th>meaning</th></tr>"
        f"</thead><tbody>{hyper}</tbody></table>"
    )


def curves(c: Context) -> str:
    return (
        figures.training_curves(c.run.history) + "<p class='muted'>A validation loss that turns up "
        "while the training loss keeps falling means overfitting; the run keeps the weights of its "
        "best validation epoch (the dashed line).</p>"
    )


def validation(c: Context, mistakes_png_uri: str | None, mistakes_caption: str) -> str:
    body = (
        "<p class='muted'>The validation set chose the hyperparameters and the epoch, so these "
        "figures are slightly optimistic.</p>"
    )
    body += evaluation_html(c.val, c.target, c.base) if c.val and c.base else "<p>Not available.</p>"
    if mistakes_png_uri:
        body += (
            f"<h3>Most confident mistakes</h3><img class='grid' alt='most confident mistakes' "
            f"src='{esc(mistakes_png_uri)}'><p class='muted'>{esc(mistakes_caption)}</p>"
        )
    return body


def test_results(c: Context) -> str:
    if not (c.test and c.test_base):
        return (
            "<p>The test set has not been used yet: it stays locked until the final "
            "evaluation, so the figures above are validation figures only.</p>"
        )
    if c.looks > 1:
        body = (
            f"<p class='warn'>The test set has been looked at {c.looks} times. After the first "
            "look it is no longer an unbiased estimate: any choice made after seeing it was "
            "fitted to it.</p>"
        )
    else:
        body = (
            "<p>The test set was used once, at the end: this is the honest estimate of "
            "accuracy on new images like these.</p>"
        )
    if c.val:
        body += f"<p>{esc(test_vs_validation(c.val, c.test))}</p>"
    return body + evaluation_html(c.test, c.target, c.test_base)


def labeling_estimate() -> tuple[costs.LabelingInputs, costs.Estimate]:
    """MNIST's 70,000 images labelled in house at the calculator's default rates."""
    inputs = costs.LabelingInputs()
    return inputs, costs.estimate(inputs)


def labeling() -> str:
    inputs, est = labeling_estimate()
    return (
        f"<p>Labelling {est.samples:,} images (the size of MNIST) at "
        f"{inputs.seconds_per_sample:g} s each takes {est.hours:,.1f} hours of work: "
        f"{inputs.annotators} people working "
        f"{inputs.hours_per_day:g} hours a day need {est.days:.1f} working days "
        f"({costs.describe_days(est.days)}).</p>"
    )


LIMITS = (
    "It was measured on MNIST-style images: one centred, size-normalised digit, white on black. "
    "Photos, other scripts, several digits or off-centre strokes are different data, and "
    "accuracy on them will be lower until they are collected and tested.",
    "It always answers one of 0–9, even for an image that is not a digit.",
    "Its probabilities express the model's confidence, which can be high on a mistake "
    "(see the most confident mistakes).",
    "The accuracy intervals above show how much the figures could move with a different "
    "sample of images of the same kind.",
)


def limits() -> str:
    return "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in LIMITS) + "</ul>"
