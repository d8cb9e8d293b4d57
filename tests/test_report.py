"""The self-contained HTML report (its judgements are tested in test_judge.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import datetime
from html.parser import HTMLParser

import numpy as np
import pytest

from mnist_core.charts import palette
from mnist_core.config import TrainConfig
from mnist_core.evaluation import gallery
from mnist_core.report import html as report
from mnist_core.runs import storage
from mnist_core.training.pipeline import evaluate_run
from tests.helpers import result_from, train_to_run

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
    inputs, est = report.labeling_estimate()
    assert est.samples == 70_000 and est.hours == pytest.approx(97.22, abs=0.01)
    assert est.days == pytest.approx(4.05, abs=0.01)


# ------------------------------------------------------------------ pieces of HTML


def test_line_chart_svg():
    svg = report.line_chart_svg(
        {"a": [(1, 0.5), (2, 0.3), (3, 0.2)], "b": [(1, 0.6), (2, float("nan"))]}, "Loss", "loss"
    )
    assert svg.startswith("<svg") and svg.count("<polyline") == 1 and svg.count("<circle") == 4
    one = report.line_chart_svg({"a": [(1, 0.9)]}, "Acc", "acc", percent=True)
    assert "<circle" in one and "NaN" not in one and "inf" not in one
    assert "no data" in report.line_chart_svg({"a": []}, "Empty", "x")
    assert "No training curves" in report.curves_svg([])
    # the app's colours: the first series is drawn like training, the second like validation
    assert f"stroke='{palette.TRAIN}'" in svg and f"fill='{palette.VALIDATION}'" in svg


def test_report_colours_come_from_the_palette_without_altair():
    code = (
        "import sys, mnist_core.report.html; "
        "print('altair' in sys.modules, 'mnist_core.charts.evaluation' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert palette.PASS in report._CSS and palette.FAIL_FILL in report._CSS and "$" not in report._CSS


def test_confusion_table_html():
    cm = np.diag([50] * 10)
    cm[3, 5] = 9
    page = report.confusion_table_html(result_from(cm))
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
    for row_total in report.label_counts(val):
        assert f"<td class='num'>{row_total}</td>" in page
    assert "Loss per epoch" in page and "<polyline" in page
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
