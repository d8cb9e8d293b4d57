"""The self-contained HTML report (its judgements are tested in test_judge.py)."""

from __future__ import annotations

import dataclasses
import re
import shutil
import socket
import subprocess
import sys
from datetime import datetime
from html.parser import HTMLParser

import numpy as np
import pytest

from mnist_core.charts import palette
from mnist_core.config import TrainConfig
from mnist_core.evaluation import gallery
from mnist_core.evaluation.judge import label_counts
from mnist_core.report import document as report
from mnist_core.report import figures, sections, style, tables
from mnist_core.runs import storage
from mnist_core.training.pipeline import evaluate_run
from tests.helpers import result_from, train_to_run
from tests.test_curve_views import synthetic_curve

VOID = {"meta", "br", "img", "hr", "input", "link", "circle", "line", "rect", "polyline", "path"}
SECTIONS = ("summary", "task", "data", "model", "curves", "validation", "test", "labeling", "limits")


class TagChecker(HTMLParser):
    """Checks that every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> but open: {self.stack[-3:]}")
        else:
            self.stack.pop()


def check_html(page: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(page)
    checker.close()
    assert page.startswith("<!DOCTYPE html>")
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, checker.stack
    return checker


def assert_offline(page: str) -> None:
    """No reference that would need a network: no URL, no script, no external stylesheet."""
    for src in re.findall(r"src=['\"]([^'\"]*)", page):
        assert src.startswith("data:image/png;base64,")
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)  # base64 may hold "//"
    found = re.search(r".{0,40}(https?:|ftp:|//[a-z0-9]).{0,40}", text, re.I)
    assert found is None, found.group(0)
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "@import" not in page and "url(" not in page


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    home = tmp_path_factory.mktemp("report-home")
    return train_to_run(
        TrainConfig(model="logreg", epochs=2, augment=False), "sample", name="Report <demo>", home=home
    )


def fresh_copy(run: storage.Run) -> storage.Run:
    path = run.path.parent / f"{run.id}-{len(list(run.path.parent.iterdir()))}"
    shutil.copytree(run.path, path)
    return storage.load_run(path)


# ------------------------------------------------------------------ the labelling section


def test_labeling_estimate_matches_the_brief():
    inputs, est = sections.labeling_estimate()
    assert est.samples == 70_000 and est.hours == pytest.approx(97.22, abs=0.01)
    assert est.days == pytest.approx(4.05, abs=0.01)


# ------------------------------------------------------------------ pieces of HTML


def test_training_curves_are_the_apps_charts_as_inline_svg():
    history = [
        {"epoch": 1, "train_loss": 0.5, "val_loss": 0.6, "train_acc": 0.8, "val_acc": 0.78},
        {"epoch": 2, "train_loss": 0.3, "val_loss": float("nan"), "train_acc": 0.9, "val_acc": 0.85},
        {"epoch": 3, "train_loss": 0.2, "val_loss": 0.4, "train_acc": 0.95, "val_acc": 0.9},
    ]
    html = figures.training_curves(history)
    assert html.count("<svg") == 2 and html.count('<svg version="1.1" class="chart" role="img"') == 2
    assert "Loss (lower is better)" in html and "Accuracy (higher is better)" in html  # the Train page's
    assert "epoch: 2; cross-entropy loss: 0.30; split: train" in html
    # a NaN is left out, never drawn or written
    assert "epoch: 2; cross-entropy loss: 0.60" not in html and "NaN" not in html and "inf" not in html
    one = figures.training_curves(history[:1])
    assert one.count("<svg") == 2 and "epoch: 1; accuracy: 78%; split: validation" in one
    assert "No training curves" in figures.training_curves([])
    # the app's colours: training drawn like training, validation like validation
    assert f'stroke="{palette.TRAIN}"' in html and f'stroke="{palette.VALIDATION}"' in html


def test_learning_curve_is_the_plan_pages_chart_as_inline_svg(tmp_path):
    curve = synthetic_curve(tmp_path)
    svg = figures.learning_curve(curve, 0.02, 6000)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    # every measured point, the fitted line and its band, the honesty check's line
    assert svg.count("series: measured (one point per training)") == len(curve.points)
    assert "series: fitted power law" in svg and "series: range of the fit" in svg
    assert "series: fitted on the smaller sizes only" in svg
    assert "≈ 6,000 images" in svg and "nan" not in svg.lower() and "inf" not in svg
    broken = dataclasses.replace(curve, points=[{**curve.points[0], "val_error": float("nan")}])
    assert "no measured points" in figures.learning_curve(broken, None, None)


def test_report_colours_come_from_the_palette_without_altair():
    code = (
        "import sys, mnist_core.report.style, mnist_core.report.tables; "
        "print('altair' in sys.modules, 'mnist_core.charts.evaluation' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert palette.PASS in style.CSS and palette.FAIL_FILL in style.CSS and "$" not in style.CSS


def test_confusion_table_html():
    cm = np.diag([50] * 10)
    cm[3, 5] = 9
    page = tables.confusion_table_html(result_from(cm))
    check = TagChecker()
    check.feed(page)
    assert not check.errors and page.count("<td style=") == 100
    assert "title='true 3, predicted 5: 9'>9</td>" in page
    fill, dark = palette.cell_colour(3, 5, 9, 9 / 59, 9)  # the same colours as the page's heatmap
    assert f"background:{fill};color:{palette.TEXT_ON_DARK if dark else palette.TEXT}" in page
    assert "<td class='num'>59</td>" in page  # row total of digit 3


# ------------------------------------------------------------------ the whole report


def test_report_sections_numbers_and_offline(run):
    page = report.build_report(run, 0.98, now=datetime(2024, 5, 1, 12, 0))
    check_html(page)
    assert_offline(page)
    for section in SECTIONS:
        assert f"<section id='{section}'>" in page
    val = run.evaluation("val")
    assert f"{val.accuracy * 100:.2f}%" in page and f"{val.loss:.4f}" in page
    assert "Target accuracy: 98.0%" in page
    assert ("Meets the target" if val.accuracy >= 0.98 else "Below the target") in page
    assert f"{run.meta['sizes']['train']:,}" in page and f"{run.meta['sizes']['val']:,}" in page
    assert "Offline sample" in page and "Logistic regression" in page
    for row_total in label_counts(val):
        assert f"<td class='num'>{row_total}</td>" in page
    assert re.search(r'<svg [^>]*class="chart" role="img" aria-label="Loss per epoch', page)
    assert "Loss (lower is better)" in page and "Accuracy (higher is better)" in page
    assert "The test set has not been used yet" in page
    assert "70,000" in page and "97.2 hours" in page and "about 4 days" in page
    assert "2024-05-01 12:00" in page
    # the user's run name is escaped, never markup
    assert "Report &lt;demo&gt;" in page and "Report <demo>" not in page


def test_report_with_training_counts_mistakes_and_test(run):
    r = fresh_copy(run)
    val_set, train_counts = gallery.run_validation_set(r)
    table = gallery.predictions(r.load_model(), val_set)
    uri, caption = gallery.report_mistakes(table, 8)
    assert uri is not None and caption.startswith("In reading order: ")
    test = evaluate_run(r, "test")
    page = report.build_report(
        storage.load_run(r.path),
        0.5,
        train_counts=train_counts,
        mistakes_png_uri=uri,
        mistakes_caption=caption,
    )
    check_html(page)
    assert_offline(page)
    assert "<th>training</th>" in page and f"<b>{sum(train_counts):,}</b>" in page
    assert uri in page and "Most confident mistakes" in page
    assert f"{test.accuracy * 100:.2f}%" in page and "used once, at the end" in page
    assert "not been used yet" not in page
    evaluate_run(r, "test")  # a second look
    page = report.build_report(storage.load_run(r.path), 0.5)
    assert "looked at 2 times" in page and "no longer an unbiased estimate" in page


def test_report_without_saved_evaluation(run):
    r = fresh_copy(run)
    (r.path / "eval_val.json").unlink()
    page = report.build_report(storage.load_run(r.path), 0.98)
    check_html(page)
    assert "no saved validation evaluation" in page


def test_report_renders_with_every_connection_refused(run, monkeypatch):
    """Python's side: no socket opens while the charts render (a refused one would raise)."""
    tried: list[object] = []

    def refuse(self, address):
        tried.append(address)
        raise OSError("the report must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    page = report.build_report(run, 0.98)
    assert not tried and page.count('<svg version="1.1" class="chart"') == 2
    assert_offline(page)


def test_report_renders_inside_a_network_namespace_with_no_network(run):
    """vl-convert's side (Rust, out of Python's socket module): the report is built in a process
    whose network namespace has only a loopback that is down, so any fetch of a font, schema or
    script would fail."""
    probe = (
        subprocess.run(["unshare", "-rn", "true"], capture_output=True) if shutil.which("unshare") else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip("this machine does not allow an unprivileged network namespace (unshare -rn)")
    code = (
        "import sys; from mnist_core.runs import storage; from mnist_core.report import document; "
        "page = document.build_report(storage.load_run(sys.argv[1]), 0.98); "
        "print(page.count('<svg'), 'report generated' in page)"
    )
    out = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", code, str(run.path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["2", "True"]


@pytest.mark.parametrize(
    "bad",
    [
        "<img src='https://x.org/a.png'>",
        "<a href='http://x'>x</a>",
        "<script>alert(1)</script>",
        "<p style='background:url(a.png)'>",
        "<img src='//cdn.example/a.png'>",
    ],
)
def test_offline_check_catches_external_references(bad):
    """The checker above must really catch what it is there to catch."""
    with pytest.raises(AssertionError):
        assert_offline("<!DOCTYPE html><html><body>" + bad + "</body></html>")
