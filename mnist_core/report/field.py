"""The report's "Is the field like the training data?" section: the drift monitor's last result for
the run (monitor.json, saved by the Deploy page's Monitor tab), read as saved, never recomputed.

Present only when the run has collected drawings beside it and a saved result; the charts are the
Monitor tab's own (`charts.monitor`), rendered to SVG.
"""

from __future__ import annotations

from typing import Any

from mnist_core.charts import monitor as monitor_charts
from mnist_core.deploy.collect import CollectError, DrawingStore
from mnist_core.monitoring.saved import load_result
from mnist_core.report.svg import chart_svg
from mnist_core.report.tables import esc, kv_table
from mnist_core.runs.storage import Run

DRAWINGS_FILE = "drawings.db"  # the Deploy page's store, in the studio home beside runs/


def saved_monitor(run: Run) -> dict[str, Any] | None:
    """The run's saved monitor result, when drawings have been collected in its studio home."""
    drawings = run.path.parent.parent / DRAWINGS_FILE  # <home>/runs/<run id>
    if not drawings.is_file():
        return None
    try:
        if DrawingStore(drawings).count() == 0:
            return None
    except CollectError:
        return None
    return load_result(run)


def _percent(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) else "not known (no labelled drawings)"


def field_section(result: dict[str, Any]) -> str:
    """The verdict, the findings in words, what differs in pictures, the windows, and what to do."""
    summary = list(result.get("summary") or [])
    verdict, findings = (summary[0], summary[1:]) if summary else ("", [])
    cls = "fail" if result["drift"] else "pass"
    body = f"<div class='verdict {cls}'><b>{'DRIFT' if result['drift'] else 'NO DRIFT'}</b> — {esc(verdict)}"
    body += "<ul>" + "".join(f"<li>{esc(line)}</li>" for line in findings) + "</ul></div>"
    body += kv_table(
        [
            ("Field drawings", f"{result['n_field']:,} ({result.get('n_labelled', 0):,} labelled)"),
            ("Training images drawn on a virtual canvas", f"{result['n_reference']:,}"),
            ("Accuracy on the field", _percent(result.get("field_accuracy"))),
            ("Accuracy on the training images as drawn", _percent(result.get("reference_accuracy"))),
            ("Measured", str(result.get("measured", "?"))),
        ]
    )
    body += "<h3>What differs</h3>" + chart_svg(
        monitor_charts.traits_chart(result["features"]), "Traits of the drawings, field vs training"
    )
    body += (
        "<p class='muted'>Each box is the middle half of the images, the tick the median, the dot "
        "the mean; d is the difference of the means in pooled standard deviations (0.5 is medium).</p>"
    )
    body += (
        "<div class='row'>"
        + chart_svg(monitor_charts.class_mix_chart(result["class_mix"]), "Digit mix, field vs training")
        + chart_svg(
            monitor_charts.confidence_chart(result["confidence"]), "Model confidence, field vs training"
        )
        + "</div>"
    )
    windows = result.get("windows") or []
    if len(windows) > 1:
        title = "Accuracy, confidence and drift per window of drawings"
        body += (
            f"<h3>Over time</h3>{chart_svg(monitor_charts.windows_chart(windows, result['alpha']), title)}"
        )
    advice = (
        "Collect and label more drawings like the field's, add them to training (the Train page's "
        "“with collected drawings” option) and check again."
        if result["drift"]
        else "Keep collecting: check again as drawings come in, one window at a time."
    )
    return body + f"<p>{esc(advice)}</p>"
