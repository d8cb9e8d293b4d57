"""The whole report of a run as one self-contained HTML page: `build_report`, the entry point
the Evaluate page and the guided demo call.

The page has no external reference at all: the stylesheet inline (style.py), charts as inline
SVG (figures.py, rendered on this machine), images as base64 `data:` URIs. It opens offline,
in a mail client, years later. The pages hand it to the browser as a download, which saves it.
"""

from __future__ import annotations

from datetime import datetime

from mnist_core.evaluation.calibration.scaling import CalibrationReport
from mnist_core.evaluation.evaluate import EvalResult
from mnist_core.evaluation.robustness.results import Sweep
from mnist_core.evaluation.robustness.store import load_sweep
from mnist_core.planning import curve as lc
from mnist_core.report import analyses, field, sections
from mnist_core.report.style import CSS
from mnist_core.runs.storage import Run
from mnist_core.text import escape as esc


def _section(key: str, title: str, body: str) -> str:
    return f"<section id='{key}'><h2>{esc(title)}</h2>{body}</section>"


def build_report(
    run: Run,
    target: float,
    *,
    val: EvalResult | None = None,
    test: EvalResult | None = None,
    train_counts: list[int] | None = None,
    mistakes_png_uri: str | None = None,
    mistakes_caption: str = "",
    now: datetime | None = None,
    curve: lc.Curve | None | str = "latest",
    calibration: CalibrationReport | None = None,
    coverage: list[dict] | None = None,
    robustness: Sweep | None | str = "saved",
    monitoring: dict | None | str = "saved",
) -> str:
    """The whole report of `run` as one self-contained HTML page.

    `val` / `test` default to the evaluations saved with the run (test only once it was
    looked at); `train_counts` (images per digit in the training split) and a grid of the
    worst mistakes are added when the caller has the images at hand. `curve`: the learning
    curve behind "how many labels the target needs" ("latest": the newest one saved next to
    the run, on its data source; None: leave the section out).

    When the run has a temperature or a "not sure" line saved, a section on its confidence says
    so; `calibration` (the reliability figures at the saved temperature) and `coverage` (the
    coverage curve on validation) add its charts. `robustness`: the sweep to draw ("saved": the
    one kept with the run, if any; None: leave the section out). `monitoring`: the drift monitor's
    result ("saved": the one kept with the run, when drawings were collected; None: leave it out).
    """
    looks = int(run.meta.get("test_evaluations", 0))
    val = val or run.evaluation("val")
    test = test or (run.evaluation("test") if looks else None)
    c = sections.Context(run, target, val, test, looks, train_counts)
    learning = analyses.latest_curve_for(run) if isinstance(curve, str) else curve
    sweep = load_sweep(run) if isinstance(robustness, str) else robustness
    drift = field.saved_monitor(run) if isinstance(monitoring, str) else monitoring
    name = run.meta.get("name") or run.id
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>MNIST model report — {esc(name)}</title><style>{CSS}</style></head><body>",
        f"<h1>MNIST model report — {esc(name)}</h1>",
        f"<p class='muted'>Run <code>{esc(run.id)}</code> · trained {esc(run.meta.get('created', '?'))}"
        f" · report generated {esc(stamp)} by MNIST Workflow Studio</p>",
        _section("summary", "Summary", sections.summary(c)),
        _section("task", "The task and the target", sections.task(c)),
        _section("data", "The data", sections.data(c)),
        _section("model", "The model and its hyperparameters", sections.model(c)),
        _section("curves", "Training curves", sections.curves(c)),
        _section(
            "validation", "Validation results", sections.validation(c, mistakes_png_uri, mistakes_caption)
        ),
        _section("test", "Test results", sections.test_results(c)),
    ]
    if analyses.has_confidence(run):
        body = analyses.confidence(run, target, calibration, coverage)
        parts.append(_section("confidence", "How far to trust its confidence", body))
    if sweep is not None:
        parts.append(_section("robustness", "Where it breaks", analyses.robustness(sweep)))
    if drift is not None:
        parts.append(_section("field", "Is the field like the training data?", field.field_section(drift)))
    if learning is not None:
        parts.append(_section("plan", "How many labels the target needs", analyses.plan(learning, target)))
    parts += [
        _section("labeling", "What the labels cost", sections.labeling()),
        _section("limits", "What this model can and cannot do", sections.limits()),
        "</body></html>",
    ]
    return "\n".join(parts)
