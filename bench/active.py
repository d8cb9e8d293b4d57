"""`python -m bench.active`: does uncertainty sampling need fewer labels than random labelling?

Printed, never asserted. On the offline sample, the default two-strategy comparison (the default
preset, default sizes and seeds, `random,uncertainty`) is measured with two base seeds (the
preset's seed and the next one); for each strategy the labels needed for 98 % validation accuracy
are read off each run's fitted curve and averaged. Targets (issue 23): uncertainty sampling needs
≥ 25 % fewer labels than random; the default comparison (the first run) takes ≤ 3 min on the
2-core CPU. The machine is shared: the load average is printed next to every time.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.planning.curve.compare import compare_at_target, measure_strategies, saving_sentence
from mnist_core.planning.curve.fit import Fit

TARGET_ACCURACY = 0.98
TARGET_SAVING = 0.25
TARGET_S = 180.0
STRATEGIES = ("random", "uncertainty")
BASE_SEEDS = 2


def _load() -> str:
    return "load average " + ", ".join(f"{v:.1f}" for v in os.getloadavg())


def _one_comparison(seed: int) -> tuple[dict, float, str, str]:
    """Measure the default comparison with base seed `seed`: (comparison, seconds, loads before, after)."""
    cfg = PRESETS[DEFAULT_PRESET].replace(seed=seed)
    before = _load()
    with tempfile.TemporaryDirectory() as home:
        start = time.perf_counter()
        final = None
        for rec in measure_strategies(cfg, "sample", None, 2, STRATEGIES, home=Path(home)):
            if rec["kind"] == "point":
                print(
                    f"  {rec['strategy']:>11} {rec['size']:>5,} images seed {rec['seed'] + 1}: "
                    f"{rec['val_error']:6.2%} error, {rec['seconds']:5.1f} s"
                )
            elif rec["kind"] == "comparison":
                final = rec
        seconds = time.perf_counter() - start
    fits = {s: (Fit.from_dict(c["fit"]), c["n_train"]) for s, c in final["curves"].items()}
    return compare_at_target(fits, TARGET_ACCURACY), seconds, before, _load()


def run() -> None:
    print(f"\n## Active learning on the offline sample: labels for {TARGET_ACCURACY:.0%} validation accuracy")
    base = PRESETS[DEFAULT_PRESET].seed
    needed: dict[str, list[float]] = {s: [] for s in STRATEGIES}
    for i in range(BASE_SEEDS):
        comparison, seconds, before, after = _one_comparison(base + i)
        for s in STRATEGIES:
            est = comparison["strategies"][s]
            needed[s].append(est["size"] if est["reachable"] else float("nan"))
            print(f"base seed {base + i} · {s}: {est['size'] or 'out of reach'} labels")
        print(saving_sentence(comparison))
        print(
            f"comparison with base seed {base + i}: {seconds:.1f} s"
            + (f" (target ≤ {TARGET_S:g} s for the default one)" if i == 0 else "")
            + f"; {before} before, {after} after"
        )
    mean = {s: float(np.mean(v)) for s, v in needed.items()}
    for s in STRATEGIES:
        print(f"{s}: mean {mean[s]:,.0f} labels over {BASE_SEEDS} base seeds ({needed[s]})")
    if all(np.isfinite(v) for v in mean.values()):
        saving = 1 - mean["uncertainty"] / mean["random"]
        print(
            f"uncertainty sampling needs {saving:.0%} fewer labels than random (target ≥ {TARGET_SAVING:.0%})"
        )
    else:
        print("a strategy did not reach the target in every run: no mean saving")


if __name__ == "__main__":
    run()
