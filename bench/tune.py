"""Hyperparameter search figures: a 20-trial CNN search over learning rate, dropout and weight
decay on the offline sample, with median pruning, against the default preset.

Printed, never asserted (timings belong to the machine). Targets (2-core CPU): the search
finishes in <= 3 minutes and its best validation accuracy is >= the default preset's. Also
printed: the share of trials pruned, and the wall time pruning saved against the same trials
run to the end (estimated from the epochs not run, at each pruned trial's own epoch speed).

    python -m bench.tune [--trials 20] [--epochs 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.data.preprocess import make_split
from mnist_core.planning.tune.results import study_summary, trials_table
from mnist_core.planning.tune.space import default_space
from mnist_core.planning.tune.study import load_study
from mnist_core.planning.tune.worker import run_search
from mnist_core.training.train import Trainer

TARGET_SECONDS = 180


def _default_preset(split) -> tuple[float, float]:
    """Best validation accuracy (of the kept, best-loss epoch) and wall time of the default preset."""
    t0 = time.perf_counter()
    trainer = Trainer(PRESETS[DEFAULT_PRESET], split)
    for _ in trainer.run():
        pass
    return trainer.end.best_val_acc, time.perf_counter() - t0


def run(n_trials: int = 20, epochs: int | None = None) -> None:
    base = PRESETS[DEFAULT_PRESET]
    cap = epochs or base.epochs  # the preset's own budget: trial 0 is the preset itself
    space = replace(default_space("cnn"), epochs=cap)
    print(
        f"\n## Hyperparameter search: {n_trials} trials, {space.describe()}; TPE + median pruner, "
        "offline sample"
    )
    split = make_split("sample", base)
    default_acc, default_s = _default_preset(split)
    with tempfile.TemporaryDirectory() as tmp:
        storage = f"sqlite:///{Path(tmp) / 'bench.db'}"
        t0 = time.perf_counter()
        ends = [
            r
            for r in run_search("bench", storage, base, space, n_trials=n_trials, data=split, seed=0)
            if r["kind"] == "trial_end"
        ]
        wall = time.perf_counter() - t0
        study = load_study("bench", storage)
        searched = [r for r in trials_table(study) if not r["enqueued"] and r["value"] is not None]
        summary = study_summary(study)
    pruned = [r for r in ends if r["state"] == "pruned"]
    saved = sum((cap - r["epochs"]) * r["seconds"] / max(r["epochs"], 1) for r in pruned)
    best = summary["best_value"]
    best_searched = max((r["value"] for r in searched), default=None)
    print(
        f"search wall time {wall:.0f} s (target <= {TARGET_SECONDS} s); default preset alone "
        f"{default_s:.0f} s"
    )
    print(
        f"best validation accuracy {best:.2%} (trial {summary['best_trial']}; trial 0 is the "
        f"default preset's settings{'' if cap == base.epochs else f' at {cap} epochs'}) "
        f"vs default preset {default_acc:.2%} (target: >=)"
    )
    if best_searched is not None:
        print(f"best of the sampled trials (trial 0 left out) {best_searched:.2%}")
    print(
        f"pruned {len(pruned)} of {len(ends)} trials ({len(pruned) / max(len(ends), 1):.0%}); "
        f"epochs run {sum(r['epochs'] for r in ends)} of {cap * len(ends)}"
    )
    print(
        f"wall time saved by pruning ~{saved:.0f} s: the same trials run to the end would take "
        f"~{wall + saved:.0f} s ({saved / max(wall + saved, 1e-9):.0%} saved)"
    )
    print(f"best params: {summary['best_params']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=None, help="epochs cap (default: the preset's)")
    args = parser.parse_args()
    run(args.trials, args.epochs)


if __name__ == "__main__":
    main()
