"""`python -m bench.active`: does uncertainty sampling need fewer labels than random labelling?

Printed, never asserted. On the offline sample, the default two-strategy comparison (the default
preset, default sizes, 2 seeds, `random,uncertainty`) is measured and timed once. For each
strategy the labels needed for 98 % validation accuracy are read off a fit per seed (the seed's
own points at the sizes measured with every seed, plus the larger sizes measured once) and
averaged over the 2 seeds; the fit of all points is printed too. Targets (issue 23): uncertainty
sampling needs ≥ 25 % fewer labels than random; the comparison takes ≤ 3 min on the 2-core CPU.
The machine is shared: the load average is printed next to the time.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.planning.curve.advice import target_estimate
from mnist_core.planning.curve.compare import compare_at_target, measure_strategies, saving_sentence
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import Fit, fit_points

TARGET_ACCURACY = 0.98
TARGET_SAVING = 0.25
TARGET_S = 180.0
STRATEGIES = ("random", "uncertainty")
SEEDS = 2


def _load() -> str:
    return "load average " + ", ".join(f"{v:.1f}" for v in os.getloadavg())


def _needed(points: list[dict], have: int) -> float:
    """Labels the fit of `points` needs for the target (NaN when out of reach or unfittable)."""
    try:
        est = target_estimate(fit_points(points), TARGET_ACCURACY, have)
    except CurveError:
        return float("nan")
    return float(est["size"]) if est["reachable"] else float("nan")


def run() -> None:
    print(f"\n## Active learning on the offline sample: labels for {TARGET_ACCURACY:.0%} validation accuracy")
    cfg = PRESETS[DEFAULT_PRESET]
    before = _load()
    with tempfile.TemporaryDirectory() as home:
        start = time.perf_counter()
        final = None
        for rec in measure_strategies(cfg, "sample", None, SEEDS, STRATEGIES, home=Path(home)):
            if rec["kind"] == "point":
                print(
                    f"  {rec['strategy']:>11} {rec['size']:>5,} images seed {rec['seed'] + 1}: "
                    f"{rec['val_error']:6.2%} error, {rec['seconds']:5.1f} s"
                    + (
                        " (the same images as random: trained once, shared)"
                        if "trained once" in rec["text"]
                        else ""
                    ),
                    flush=True,
                )
            elif rec["kind"] == "comparison":
                final = rec
        seconds = time.perf_counter() - start
    print(f"default comparison: {seconds:.1f} s (target ≤ {TARGET_S:g} s); {before} before, {_load()} after")
    fits = {s: (Fit.from_dict(c["fit"]), c["n_train"]) for s, c in final["curves"].items()}
    comparison = compare_at_target(fits, TARGET_ACCURACY)
    print("fit of all points: " + saving_sentence(comparison))
    mean = {}
    for s, curve in final["curves"].items():
        shared = [
            p
            for p in curve["points"]
            if not any(q["seed"] for q in curve["points"] if q["size"] == p["size"])
        ]
        per_seed = [
            _needed(
                [p for p in curve["points"] if p["seed"] == k and p not in shared] + shared, curve["n_train"]
            )
            for k in range(SEEDS)
        ]
        mean[s] = float(np.mean(per_seed))
        print(f"{s}: {', '.join(f'{n:,.0f}' for n in per_seed)} labels by seed, mean {mean[s]:,.0f}")
    if all(np.isfinite(v) for v in mean.values()):
        saving = 1 - mean["uncertainty"] / mean["random"]
        print(
            f"uncertainty sampling needs {saving:.0%} fewer labels than random (target ≥ {TARGET_SAVING:.0%})"
        )
    else:
        print("a strategy did not reach the target with every seed: no mean saving")


if __name__ == "__main__":
    run()
