"""The report's sections on analyses saved with the run, each present only once its analysis is:
how far to trust the model's confidence (temperature, "not sure" line), where it breaks
(robustness sweep), and how many labels the target needs (learning curve, with its cost).
"""

from __future__ import annotations

from mnist_core.evaluation.calibration.saved import run_threshold, threshold_is_stale
from mnist_core.evaluation.calibration.scaling import CalibrationReport
from mnist_core.evaluation.robustness.results import Sweep, weakest
from mnist_core.planning import costs
from mnist_core.planning import curve as lc
from mnist_core.report import figures
from mnist_core.report.sections import count
from mnist_core.report.tables import kv_table, labeling_cost_table_html
from mnist_core.runs.storage import Run
from mnist_core.text import escape as esc
from mnist_core.text import percent as as_percent


def has_confidence(run: Run) -> bool:
    """Whether the run has a temperature or a "not sure" line saved (then the report says so)."""
    return isinstance(run.meta.get("calibration"), dict) or run_threshold(run) is not None


def _temperature(run: Run) -> str:
    saved = run.meta.get("calibration")
    if not (isinstance(saved, dict) and isinstance(saved.get("temperature"), (int, float))):
        return "<p>No temperature was fitted: the probabilities are the model's own.</p>"
    rows = [
        (f"Expected calibration error {k}", as_percent(saved[f"ece_{k}"], 2))
        for k in ("before", "after")
        if isinstance(saved.get(f"ece_{k}"), (int, float))
    ]
    rows += [
        (f"Validation loss (NLL) {k}", f"{saved[f'nll_{k}']:.4f}")
        for k in ("before", "after")
        if isinstance(saved.get(f"nll_{k}"), (int, float))
    ]
    return (
        f"<p>Temperature scaling divides the model's scores by one number, T = "
        f"{saved['temperature']:.3f}, fitted on {count(saved.get('n'))} validation images: "
        "it changes how sure the model says it is, never which digit it answers.</p>" + kv_table(rows)
    )


def confidence(
    run: Run, target: float, calibration: CalibrationReport | None, coverage: list[dict] | None
) -> str:
    """The temperature and the "not sure" line saved with the run; `calibration` and `coverage`
    (figures the caller computed on validation) add the reliability diagram and the coverage curve."""
    body = _temperature(run)
    if calibration is not None:
        body += (
            "<div class='row'>" + figures.reliability(calibration) + "</div><p class='muted'>"
            "A calibrated model sits on the diagonal: of the answers it gives with 80 % confidence, "
            "80 % are right. Below the diagonal it is over-confident.</p>"
        )
    threshold = run_threshold(run)
    if threshold is None:
        return body + (
            "<p>No “not sure” line was chosen for this run: the app says “not sure” by its default rule.</p>"
        )
    entry = run.meta.get("unsure_threshold") or {}
    found = ""
    if isinstance(entry.get("coverage"), (int, float)) and isinstance(entry.get("accuracy"), (int, float)):
        found = (
            f" On validation it answered {as_percent(entry['coverage'])} of the images, "
            f"{as_percent(entry['accuracy'], 2)} of them correctly."
        )
    body += (
        f"<p><b>“Not sure” line: {threshold:.3f}.</b> The app answers only when its top "
        f"probability reaches it, and says “not sure” otherwise.{esc(found)}</p>"
    )
    if threshold_is_stale(run):
        body += (
            "<p class='warn'>The line was chosen under another temperature than the one saved "
            "now: its figures no longer hold.</p>"
        )
    if coverage:
        body += "<div class='row'>" + figures.coverage(coverage, threshold, target) + "</div>"
    return body


def robustness(sweep: Sweep) -> str:
    """The weakest direction in one sentence, the small multiples, and how to read them."""
    return (
        f"<p><b>{esc(weakest(sweep)['sentence'])}</b></p>"
        + "<div class='row'>"
        + figures.robustness(sweep)
        + "</div>"
        + f"<p class='muted'>Accuracy on {sweep.n:,} validation images as each change grows: "
        f"{as_percent(sweep.accuracy)} as they are, {as_percent(sweep.app_accuracy)} after the app's "
        "own preprocessing of a drawing (crop, resize, centre), which every curve but “shift after "
        "centring” goes through, as a user's drawing would. An image the app finds blank counts "
        "as wrong. People who write differently from the training data meet these changes.</p>"
    )


def latest_curve_for(run: Run) -> lc.Curve | None:
    """The newest learning curve saved in the run's studio folder on the run's own data source."""
    home = run.path.parent.parent  # <home>/runs/<run id>
    return next((c for c in lc.list_curves(home) if c.data == run.meta.get("data")), None)


def plan(curve: lc.Curve, target: float) -> str:
    """How many labels the target needs, by the learning curve, and what labelling them costs."""
    fit = curve.fit
    try:
        est = lc.target_estimate(fit, target, curve.n_train)
        sentence = lc.estimate_sentence(fit, target, curve.n_train, curve.config)
    except lc.CurveError as exc:
        est, sentence = None, str(exc)
    needed = est["size"] if est and est["reachable"] else None
    body = (
        f"<p><b>{esc(sentence)}</b></p>"
        + figures.learning_curve(curve, 1 - target if est else None, needed)
        + f"<p class='muted'>Measured with {esc(curve.config.summary())} on {esc(curve.data_name)}: "
        f"{len(curve.points)} trainings on {len({p['size'] for p in curve.points})} sizes, each "
        f"checked on the same {curve.n_val:,} validation images; fitted {esc(fit.describe())} "
        f"(curve <code>{esc(curve.id)}</code>).</p>"
    )
    if curve.honesty:
        h = curve.honesty
        body += (
            f"<p>Honesty check: {esc(h['text'])} "
            + (
                "The measurement lies within the fit's range."
                if h.get("within_range")
                else "The measurement lies outside the fit's range: read the estimate as a rough guess."
            )
            + "</p>"
        )
    if needed:
        body += labeling_cost_table_html(costs.LabelingInputs(), est["size"], est["low"], est["high"])
    return body
