"""`python -m bench.monitor`: does the drift monitor (issue 24) raise alarms when it should, and only then?

Printed, never asserted. A quick model trains on the offline sample; the reference is its 858
validation images drawn on the canvas. The field is drawn from the sample's held-out test part (710
MNIST digits from the same distribution, none of them in the reference), drawn on the canvas too.
Targets (2-core CPU): same-distribution fields of 300 flagged at p < 0.05 in ≤ 10 % of 20 draws
(the test's level is 5 %); thickened and tilted (30-40°) digits flagged in ≥ 95 % of draws at
n = 300 (n = 100 is printed for scale); one whole monitor call on 300 field images ≤ 10 s.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from mnist_core.config import quick_config
from mnist_core.data.drawing import PreparedDigit, prepare_digit
from mnist_core.data.sources import load_test
from mnist_core.evaluation.embedding import features
from mnist_core.monitoring.canvas_render import as_drawn, prepare_as_drawn
from mnist_core.monitoring.field import field_from_prepared
from mnist_core.monitoring.mmd import DEFAULT_PERMUTATIONS, mmd_test
from mnist_core.monitoring.monitor import monitor, reference_set
from mnist_core.runs.storage import Run, load_run
from mnist_core.training.pipeline import SavedRecord, train_and_save

DRAWS = 20
FALSE_ALARM_TARGET = 0.10
POWER_TARGET = 0.95
SECONDS_TARGET = 10.0


def thick_and_tilted(digit: np.ndarray, angle: float, grow: int = 9) -> PreparedDigit:
    """A digit drawn on the canvas with a wider pen (a `grow`-pixel max filter) and turned clockwise
    by `angle` degrees, then prepared like any drawing: a field that really differs."""
    canvas = as_drawn(digit)
    ink = Image.fromarray(canvas[..., 3]).filter(ImageFilter.MaxFilter(grow))
    canvas[..., 3] = np.asarray(ink.rotate(-angle, resample=Image.Resampling.BILINEAR))
    return prepare_digit(canvas)


def _train(home: Path) -> Run:
    saved = None
    for rec in train_and_save(quick_config(), "sample", home=home, name="bench monitor"):
        if isinstance(rec, SavedRecord):
            saved = rec
    assert saved is not None, "the bench model did not train"
    return load_run(saved.path)


def _flagged(field_feats: np.ndarray, ref_feats: np.ndarray, n: int, rng: np.random.Generator) -> float:
    hits = 0
    for draw in range(DRAWS):
        pick = rng.choice(len(field_feats), n, replace=False)
        hits += mmd_test(field_feats[pick], ref_feats, seed=draw).p_value < 0.05
    return hits / DRAWS


def run() -> None:
    print(
        f"\n## Drift monitor: MMD on the model's features, {DEFAULT_PERMUTATIONS} permutations, {DRAWS} draws"
    )
    with tempfile.TemporaryDirectory() as tmp:
        run_ = _train(Path(tmp))
        model = run_.load_model("cpu")
        start = time.perf_counter()
        reference = reference_set(run_)
        print(
            f"reference: {len(reference.labels)} validation images drawn and prepared in {time.perf_counter() - start:.1f} s"
        )
        ref_feats = features(model, torch.from_numpy(reference.images)).features
        held_out = load_test("sample")
        digits, labels = held_out.images.numpy(), held_out.labels.numpy()
        pick = np.random.default_rng(1).choice(len(digits), 300, replace=False)
        field_set = field_from_prepared(
            [prepare_as_drawn(d) for d in digits[pick]], labels[pick], "bench field"
        )
        wall, cpu = time.perf_counter(), time.process_time()
        report = monitor(run_, field_set)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"one monitor call, 300 field images (reference drawn inside, {len(report.windows)} windows): "
            f"{wall:.1f} s wall, {cpu:.1f} s CPU (target <= {SECONDS_TARGET:g} s); p = {report.test.p_value:.2g}, "
            f"field accuracy {report.field_accuracy:.1%}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        same = [prepare_as_drawn(d) for d in digits]
        rng = np.random.default_rng(0)
        shifted = [thick_and_tilted(d, rng.uniform(30, 40)) for d in digits]
        same_feats = features(
            model, torch.from_numpy(np.stack([p.stages["centered"] for p in same]))
        ).features
        shift_feats = features(
            model, torch.from_numpy(np.stack([p.stages["centered"] for p in shifted]))
        ).features
        rate = _flagged(same_feats, ref_feats, 300, rng)
        print(
            f"false alarms, same distribution, n = 300: {rate:.0%} of draws flagged (target <= {FALSE_ALARM_TARGET:.0%})"
        )
        for n in (100, 300):
            power = _flagged(shift_feats, ref_feats, n, rng)
            target = f"target >= {POWER_TARGET:.0%}" if n == 300 else "for scale"
            print(f"power, thickened and tilted 30-40°, n = {n}: {power:.0%} of draws flagged ({target})")


if __name__ == "__main__":
    run()
