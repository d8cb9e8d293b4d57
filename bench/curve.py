"""`python -m bench.curve`: how long the default learning curve takes on the offline sample.

Printed, never asserted. Target (issue 12): the default curve (the default preset, ≥ 5 sizes up
to the whole 3,432-image train split, 2 seeds at the smaller sizes) completes in ≤ 60 s on the
2-core CPU. One default training on the same split is timed first in the same process: the
ratio of the two says little about the machine's load, the absolute seconds say everything.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.data.preprocess import make_split
from mnist_core.planning.curve.advice import DEFAULT_TARGET, estimate_sentence
from mnist_core.planning.curve.fit import RESAMPLES, Fit, fit_points
from mnist_core.planning.curve.measure import measure_curve
from mnist_core.planning.curve.schedule import plan_curve
from mnist_core.training.train import Trainer

TARGET_S = 60.0


def _one_training() -> float:
    cfg = PRESETS[DEFAULT_PRESET]
    split = make_split("sample", cfg)
    start = time.perf_counter()
    for _ in Trainer(cfg, split).run(report_every=1000):
        pass
    return time.perf_counter() - start


def run() -> None:
    print("\n## Default learning curve on the offline sample (measure + fit + save)")
    cfg = PRESETS[DEFAULT_PRESET]
    plan = plan_curve(cfg, "sample")
    print(
        f"plan: {plan.describe()}; {sum(p.steps for p in plan.points):,} optimizer steps in all "
        f"(one default training: {plan.points[-1].steps:,})"
    )
    single = _one_training()
    with tempfile.TemporaryDirectory() as home:
        start, cpu = time.perf_counter(), time.process_time()
        final = None
        for rec in measure_curve(cfg, "sample", home=Path(home)):
            if rec["kind"] == "point":
                print(
                    f"  {rec['size']:>5,} images seed {rec['seed'] + 1}: {rec['val_error']:6.2%} error, "
                    f"{rec['epochs']:>2} epochs ({rec['status']}), {rec['seconds']:5.1f} s"
                )
            elif rec["kind"] == "curve":
                final = rec
        total, cpu = time.perf_counter() - start, time.process_time() - cpu
    fit = Fit.from_dict(final["fit"])
    fit_start = time.perf_counter()
    fit_points(final["points"])
    fit_s = time.perf_counter() - fit_start
    print(
        f"whole curve {total:.1f} s (target ≤ {TARGET_S:g} s; CPU time {cpu:.1f} s); one default "
        f"training {single:.1f} s, so the curve costs {total / single:.1f} trainings; "
        f"the fit with {RESAMPLES} bootstrap refits {fit_s:.2f} s"
    )
    print(f"fit {fit.describe()}")
    print(final["honesty"]["text"] if final["honesty"] else "no honesty check (too few sizes)")
    print(estimate_sentence(fit, DEFAULT_TARGET, final["n_train"], cfg))


if __name__ == "__main__":
    run()
