"""The judgements (baselines, verdicts, intervals) and the self-contained HTML report."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from html.parser import HTMLParser

import numpy as np
import pytest

from mnist_core import gallery, report, storage
from mnist_core.config import TrainConfig
from mnist_core.evaluate import EvalResult, evaluate, per_class_metrics
from mnist_core.pipeline import train_to_run

VOID = {"meta", "br", "img", "hr", "input", "link", "circle", "line", "rect", "polyline", "path"}
SECTIONS = ("summary", "task", "data", "model", "curves", "validation", "test", "labeling", "limits")


def result_from(cm, split: str = "val", loss: float = 0.3) -> EvalResult:
    cm = np.asarray(cm)
    n = int(cm.sum())
    return EvalResult(split, n, loss, float(np.trace(cm) / n), cm.tolist(), per_class_metrics(cm))


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
    return train_to_run(TrainConfig(model="logreg", epochs=2, augment=False), "sample",
                        name="Report <demo>", home=home)


def fresh_copy(run: storage.Run) -> storage.Run:
    path = run.path.parent / f"{run.id}-{len(list(run.path.parent.iterdir()))}"
    shutil.copytree(run.path, path)
    return storage.load_run(path)


# ------------------------------------------------------------------ judgements

def test_wilson_interval():
    lo, hi = report.wilson_interval(0.5, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    lo, hi = report.wilson_interval(1.0, 50)
    assert hi == 1.0 and 0.9 < lo < 1.0          # never claims certainty from 50 images
    assert report.wilson_interval(0.9, 0) == (0.0, 1.0)
    narrow = report.wilson_interval(0.98, 10_000)
    assert narrow[1] - narrow[0] < 0.006


def test_baselines_use_training_majority_when_known():
    eval_counts = [10, 30, 10, 10, 10, 5, 10, 10, 5, 0]  # 100 images
    base = report.baselines(eval_counts)
    assert base.majority_digit == 1 and base.majority_accuracy == pytest.approx(0.3)
    base = report.baselines(eval_counts, train_counts=[0] * 7 + [99, 0, 0])
    assert base.majority_digit == 7 and base.majority_accuracy == pytest.approx(0.1)
    assert base.chance == 0.1 and base.chance_loss == pytest.approx(np.log(10))


def test_verdict_pass_fail_and_uncertainty():
    good = result_from(np.diag([1000] * 10) + np.eye(10, k=1, dtype=int) * 5)
    base = report.baselines(report.label_counts(good))
    v = report.verdict(good, 0.95, base)
    assert v.passed and v.beats_baselines and not v.uncertain
    assert v.headline.startswith("Meets the target") and "99.6%" in v.headline  # 10,000 of 10,045
    v = report.verdict(good, 0.999, base)
    assert not v.passed and "short of 99.9%" in v.headline
    close = result_from(np.diag([9] * 10) + np.eye(10, k=1, dtype=int))  # 90 of 99 right
    v = report.verdict(close, 0.92, report.baselines(report.label_counts(close)))
    assert v.uncertain and "more images are needed" in v.details[2]
    bad = result_from(np.ones((10, 10), dtype=int))  # 10 %: chance level
    v = report.verdict(bad, 0.9, report.baselines(report.label_counts(bad)))
    assert not v.beats_baselines and "learned nothing" in v.details[0]


def test_confusions_weakest_and_test_gap():
    cm = np.diag([50] * 10)
    cm[3, 5], cm[8, 3], cm[9, 4] = 9, 2, 4
    r = result_from(cm)
    assert report.top_confusions(r, 2) == [(3, 5, 9), (9, 4, 4)]
    weak = report.weakest_digits(r, 1)
    assert weak[0].startswith("3 (F1") and "most often read as 5: 9×" in weak[0]
    val = result_from(np.diag([100] * 10) + np.eye(10, k=1, dtype=int) * 2)
    worse = result_from(np.diag([90] * 10) + np.eye(10, k=1, dtype=int) * 10, "test")
    assert "lower" in report.test_vs_validation(val, worse)
    assert "higher" in report.test_vs_validation(worse, val)
    assert "the same" in report.test_vs_validation(val, val)


def test_same_validation_set(run, tmp_path):
    other = fresh_copy(run)
    assert report.same_validation_set(run, other)
    other.meta["data"] = "mnist"
    assert not report.same_validation_set(run, other)
    other = storage.Run(other.path, run.config.replace(split_seed=1), run.meta, run.history)
    assert not report.same_validation_set(run, other)


def test_labeling_estimate_matches_the_brief():
    inputs, est = report.labeling_estimate()
    assert est.samples == 70_000 and est.hours == pytest.approx(97.22, abs=0.01)
    assert est.days == pytest.approx(4.05, abs=0.01)


# ------------------------------------------------------------------ pieces of HTML

def test_line_chart_svg():
    svg = report.line_chart_svg({"a": [(1, 0.5), (2, 0.3), (3, 0.2)], "b": [(1, 0.6), (2, float("nan"))]},
                                "Loss", "loss")
    assert svg.startswith("<svg") and svg.count("<polyline") == 1 and svg.count("<circle") == 4
    one = report.line_chart_svg({"a": [(1, 0.9)]}, "Acc", "acc", percent=True)
    assert "<circle" in one and "NaN" not in one and "inf" not in one
    assert "no data" in report.line_chart_svg({"a": []}, "Empty", "x")
    assert "No training curves" in report.curves_svg([])


def test_confusion_table_html():
    cm = np.diag([50] * 10)
    cm[3, 5] = 9
    page = report.confusion_table_html(result_from(cm))
    check = TagChecker()
    check.feed(page)
    assert not check.errors and page.count("<td style=") == 100
    assert "title='true 3, predicted 5: 9'>9</td>" in page
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
    worst = gallery.confident_mistakes(table.probs, table.labels, 8)
    uri = gallery.png_data_uri(gallery.grid(table.images[[e.index for e in worst]]))
    test = evaluate(r.load_model(), gallery.run_test_set(r), "test")
    storage.save_evaluation(r, test)
    page = report.build_report(storage.load_run(r.path), 0.5, train_counts=train_counts,
                               mistakes_png_uri=uri, mistakes_caption="worst first")
    check_html(page)
    assert_offline(page)
    assert "<th>training</th>" in page and f"<b>{sum(train_counts):,}</b>" in page
    assert uri in page and "Most confident mistakes" in page
    assert f"{test.accuracy * 100:.2f}%" in page and "used once, at the end" in page
    assert "not been used yet" not in page
    storage.save_evaluation(r, test)  # a second look
    page = report.build_report(storage.load_run(r.path), 0.5)
    assert "looked at 2 times" in page and "no longer an unbiased estimate" in page


def test_report_without_saved_evaluation(run):
    r = fresh_copy(run)
    (r.path / "eval_val.json").unlink()
    page = report.build_report(storage.load_run(r.path), 0.98)
    check_html(page)
    assert "no saved validation evaluation" in page


@pytest.mark.parametrize("bad", ["<img src='https://x.org/a.png'>", "<a href='http://x'>x</a>",
                                 "<script>alert(1)</script>", "<p style='background:url(a.png)'>",
                                 "<img src='//cdn.example/a.png'>"])
def test_offline_check_catches_external_references(bad):
    """The checker above must really catch what it is there to catch."""
    with pytest.raises(AssertionError):
        assert_offline("<!DOCTYPE html><html><body>" + bad + "</body></html>")
