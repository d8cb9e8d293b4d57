"""`python -m bench.labels`: does the label audit (issue 22) find planted label noise, and does fixing it help?

Printed, never asserted. Planted noise: the offline sample's training pool with 5 % of its labels
flipped to another digit (two noise seeds); the default audit (quick CNN, 5 folds) ranks suspects; precision
and recall of its top k, k = the number flipped. Effect: the default preset trained on the clean pool, on the
noisy pool, then on the same pool after "accept the suggestion for the top k" and after "exclude the top
k", each applied as a Train run with reviewed labels applies it (training part only: flips that fell on
validation images stay), held-out test accuracy of each over seeds. Last, the clean sample's audit: how many suspects, the top 12.
Targets (2-core CPU, ~4,300 images): precision and recall >= 0.85 each; one audit <= 60 s.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.training import _test_accuracy
from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.data.preprocess import make_split
from mnist_core.data.sources import Images, load_test, load_train_pool
from mnist_core.labels.apply import apply_decisions
from mnist_core.labels.audit import Audit, audit_config, run_audit
from mnist_core.labels.store import DecisionStore
from mnist_core.training.train import Trainer

NOISE = 0.05
NOISE_SEEDS = (0, 1)  # two plantings of the noise, so one lucky draw decides nothing
SEEDS = (0, 1, 2)
QUALITY_TARGET = 0.85
SECONDS_TARGET = 60.0
SHOWN = 12


def planted_noise(pool: Images, share: float = NOISE, seed: int = 0) -> tuple[Images, np.ndarray]:
    """`pool` with `share` of its labels moved to another digit (seeded), and the flipped positions."""
    rng = np.random.default_rng(seed)
    flipped = np.sort(rng.choice(len(pool), int(round(len(pool) * share)), replace=False))
    labels = pool.labels.clone()
    for i in flipped:
        labels[i] = int((int(labels[i]) + rng.integers(1, 10)) % 10)
    return Images(pool.images, labels), flipped


def audit(pool: Images, name: str) -> Audit:
    """The default audit of `pool`, as `labels audit` runs it; progress goes to stderr."""
    for rec in run_audit(
        pool.images,
        pool.labels,
        origins=[("training", i) for i in range(len(pool))],
        data="sample",
        source_name=name,
        preset="quick CNN",
        config=audit_config(),
    ):
        if rec["kind"] == "audit":
            return rec["audit"]
        print(f"  {rec['text']}", file=sys.stderr)
    raise RuntimeError("the bench audit stopped")


def quality(found: Audit, flipped: np.ndarray) -> tuple[float, float, int]:
    k = len(flipped)
    top = {s.index for s in found.suspects[:k]}
    hits = len(top & set(flipped.tolist()))
    return hits / max(len(top), 1), hits / k, hits


def _decisions(found: Audit, k: int, action: str) -> list:
    """The stored decisions "`action` the top `k`" gives, as Train reads them."""
    with tempfile.TemporaryDirectory() as tmp:
        store = DecisionStore(Path(tmp))
        rows = [(found.data, s.source, s.index, action, s.given, s.suggested) for s in found.suspects[:k]]
        store.decide_many(rows)
        return store.decisions(found.data)


def effect(noisy: Images, found: Audit, k: int, flipped: np.ndarray, truth: Images) -> None:
    cfg = PRESETS[DEFAULT_PRESET]
    test = load_test("sample")
    actions = {"relabel": _decisions(found, k, "relabel"), "exclude": _decisions(found, k, "exclude")}
    right = sum(1 for s in found.suspects[:k] if s.suggested == int(truth.labels[s.index]))
    print(f"accepted the suggestion for the top {k}: {right} of them restore the true label")
    accs: dict[str, list[float]] = {"clean": [], "noisy": [], "relabel": [], "exclude": []}
    for seed in SEEDS:
        run_cfg = cfg.replace(seed=seed)
        split = make_split("sample", run_cfg, pool=noisy)
        splits = {"clean": make_split("sample", run_cfg, pool=truth), "noisy": split}  # the same split
        truth_train = truth.labels[split.train_index]
        for action, decisions in actions.items():
            splits[action], summary = apply_decisions(split, decisions)
            print(f"  seed {seed}, {action} the top {k}: {summary.sentence()}")
        flips_in_train = int(np.isin(split.train_index.numpy(), flipped).sum())
        wrong = int((split.train.labels != truth_train).sum())
        relabelled_wrong = int((splits["relabel"].train.labels != truth_train).sum())
        print(
            f"  {flips_in_train} flips in its training part; training labels that differ from the published "
            f"ones: {wrong} noisy, {relabelled_wrong} after relabelling"
        )
        for which, s in splits.items():
            trainer = Trainer(run_cfg, s)
            for _ in trainer.run():
                pass
            accs[which].append(_test_accuracy(trainer.model, test))
            print(
                f"seed {seed} {which:8}: test {accs[which][-1]:.2%}  ({trainer.end.elapsed:.1f} s, "
                f"{len(s.train):,} train)",
                flush=True,
            )
    print(
        f"mean held-out test accuracy over {len(SEEDS)} seeds (n={len(test)}): clean pool "
        f"{statistics.mean(accs['clean']):.2%}, noisy pool {statistics.mean(accs['noisy']):.2%}, after "
        f"relabelling the top {k} as suggested {statistics.mean(accs['relabel']):.2%}, after excluding them "
        f"{statistics.mean(accs['exclude']):.2%}"
    )


def run() -> None:
    pool = load_train_pool("sample")
    print(f"\n## Label audit: {NOISE:.0%} of the sample's {len(pool):,} training labels flipped (seeded)")
    qualities = []
    for noise_seed in NOISE_SEEDS:
        noisy, flipped = planted_noise(pool, seed=noise_seed)
        t = time.perf_counter()
        found = audit(noisy, "sample, noisy")
        seconds = time.perf_counter() - t
        precision, recall, hits = quality(found, flipped)
        qualities.append((precision, recall))
        print(
            f"noise seed {noise_seed}: {len(flipped)} labels flipped; the audit flags {found.n_flagged}; its top "
            f"{len(flipped)} hold {hits} flips: precision {precision:.2f}, recall {recall:.2f}"
        )
        print(f"audit time {seconds:.1f} s (5 folds, quick CNN)   target <= {SECONDS_TARGET:.0f} s")
        if noise_seed == NOISE_SEEDS[0]:
            first = (noisy, found, flipped)
    print(
        f"mean over {len(NOISE_SEEDS)} noise seeds: precision {statistics.mean(q[0] for q in qualities):.2f}, "
        f"recall {statistics.mean(q[1] for q in qualities):.2f}   target >= {QUALITY_TARGET} each"
    )
    noisy, found, flipped = first
    print("\n## Effect: the default preset on the noisy pool vs after accepting the top k")
    effect(noisy, found, len(flipped), flipped, pool)
    print(f"\n## Clean sample: the default audit of the {len(pool):,} unchanged labels")
    t = time.perf_counter()
    clean = audit(pool, "sample")
    print(
        f"{clean.n_flagged} suspects among {clean.n_images:,} images ({time.perf_counter() - t:.1f} s); top {SHOWN}:"
    )
    for s in clean.suspects[:SHOWN]:
        print(f"  index {s.index:>5}  given {s.given}  suggested {s.suggested}  quality {s.score:.3f}")


if __name__ == "__main__":
    run()
