"""The judgements of an evaluation: baselines, verdicts, intervals, confusions, comparability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnist_core.config import TrainConfig
from mnist_core.data.baselines import baselines
from mnist_core.evaluation import judge
from mnist_core.runs.storage import Run
from mnist_core.text import percent
from tests.helpers import result_from


def test_wilson_interval():
    lo, hi = judge.wilson_interval(0.5, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    lo, hi = judge.wilson_interval(1.0, 50)
    assert hi == 1.0 and 0.9 < lo < 1.0  # never claims certainty from 50 images
    assert judge.wilson_interval(0.9, 0) == (0.0, 1.0)
    narrow = judge.wilson_interval(0.98, 10_000)
    assert narrow[1] - narrow[0] < 0.006


def test_baselines_use_training_majority_when_known():
    eval_counts = [10, 30, 10, 10, 10, 5, 10, 10, 5, 0]  # 100 images
    base = baselines(eval_counts)
    assert base.majority_digit == 1 and base.majority_accuracy == pytest.approx(0.3)
    base = baselines(eval_counts, train_counts=[0] * 7 + [99, 0, 0])
    assert base.majority_digit == 7 and base.majority_accuracy == pytest.approx(0.1)
    assert base.chance == 0.1 and base.chance_loss == pytest.approx(np.log(10))


def test_verdict_pass_fail_and_uncertainty():
    good = result_from(np.diag([1000] * 10) + np.eye(10, k=1, dtype=int) * 5)
    base = baselines(judge.label_counts(good))
    v = judge.verdict(good, 0.95, base)
    assert v.passed and v.beats_baselines and not v.uncertain
    assert v.headline.startswith("Meets the target") and "99.6%" in v.headline  # 10,000 of 10,045
    v = judge.verdict(good, 0.999, base)
    assert not v.passed and "short of 99.9%" in v.headline
    close = result_from(np.diag([9] * 10) + np.eye(10, k=1, dtype=int))  # 90 of 99 right
    v = judge.verdict(close, 0.92, baselines(judge.label_counts(close)))
    assert v.uncertain and "more images are needed" in v.details[2]
    bad = result_from(np.ones((10, 10), dtype=int))  # 10 %: chance level
    v = judge.verdict(bad, 0.9, baselines(judge.label_counts(bad)))
    assert not v.beats_baselines and "learned nothing" in v.details[0]


def test_verdict_without_a_finite_loss_says_so():
    r = result_from(np.diag([10] * 10), loss=float("nan"))
    v = judge.verdict(r, 0.5, baselines(judge.label_counts(r)))
    assert v.details[1] == "Loss not available."


def test_confusions_weakest_and_test_gap():
    cm = np.diag([50] * 10)
    cm[3, 5], cm[8, 3], cm[9, 4] = 9, 2, 4
    r = result_from(cm)
    assert judge.top_confusions(r, 2) == [(3, 5, 9), (9, 4, 4)]
    assert judge.top_confusions(result_from(np.diag([5] * 10))) == []
    weak = judge.weakest_digits(r, 1)
    assert weak[0].startswith("3 (F1") and "most often read as 5: 9×" in weak[0]
    val = result_from(np.diag([100] * 10) + np.eye(10, k=1, dtype=int) * 2)
    worse = result_from(np.diag([90] * 10) + np.eye(10, k=1, dtype=int) * 10, "test")
    assert "lower" in judge.test_vs_validation(val, worse)
    assert "higher" in judge.test_vs_validation(worse, val)
    assert "the same" in judge.test_vs_validation(val, val)


def test_percent():
    assert percent(0.98125) == "98.1%" and percent(0.5, 0) == "50%"
    assert percent(0.985, 2, spaced=True, trim=True) == "98.5 %"


def test_same_validation_set():
    def run(data: str = "sample", **config) -> Run:
        return Run(Path("runs/x"), TrainConfig(**config), {"data": data}, [])

    assert judge.same_validation_set(run(), run(seed=3))  # the training seed does not matter
    assert not judge.same_validation_set(run(), run("mnist"))
    assert not judge.same_validation_set(run(), run(split_seed=1))
    assert not judge.same_validation_set(run(), run(val_fraction=0.1))
