"""One seed's chain of a learning curve: the points of `plan.points` with that seed, trained in
order, as a stream of "progress" and "point" records.

The points of one seed depend on each other (a labelling strategy such as uncertainty sampling
picks the next size's images with the model trained at the previous size), but different seeds,
and different strategies, do not: each chain can run on its own, in another process, and gives
the same points as when run inside `measure_curve`. A cluster job (`jobs.curve`) runs the chains
as parallel tasks; `measure_curve` runs them in this process, interleaved in plan order.

A chain's records carry the plan-wide "index" and "total" of their point, and a "progress" that
is the chain's own share of the whole plan's cost (done so far): the shares of all chains add up
to the progress of the whole curve, which is what the consumer puts in "progress" instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from mnist_core.config import finite_number
from mnist_core.planning.curve.fit import pct
from mnist_core.planning.curve.sampling import Labelled, Sampler
from mnist_core.planning.curve.schedule import CurvePlan, PointPlan
from mnist_core.planning.curve.sharing import SharedPoints

REPORT_EVERY = 5  # batches between progress records
POINT_KEYS = (
    "size",
    "seed",
    "val_error",
    "val_acc",
    "val_loss",
    "epochs",
    "best_epoch",
    "steps",
    "status",
    "seconds",
)


@dataclass(frozen=True)
class ChainEnd:
    """How a chain ended: its points in order, "finished", "stopped" or "failed" (with a message,
    and the plan index of the point that failed)."""

    points: list[dict[str, Any]] = field(default_factory=list)
    status: str = "finished"
    message: str = ""
    failed_at: int | None = None


def chain_seeds(plan: CurvePlan) -> list[int]:
    """The seeds of `plan`'s chains, in plan order (seed 0 has every size; the others stop below
    half the largest, see `plan_curve`)."""
    return list(dict.fromkeys(p.seed for p in plan.points))


def plan_share(plan: CurvePlan) -> float:
    """The cost every progress share is a fraction of."""
    return sum(p.cost for p in plan.points) or 1.0


def start_record(plan: CurvePlan, text: str = "") -> dict[str, Any]:
    """The first record of a measurement: what it will do."""
    return {
        "kind": "progress",
        "progress": 0.0,
        "index": 0,
        "total": len(plan.points),
        "size": None,
        "seed": None,
        "text": text or f"Measuring the learning curve: {plan.describe()}",
    }


def point_of(record: dict[str, Any]) -> dict[str, Any]:
    """The measured point in a "point" record (without its place in the stream)."""
    return {k: record[k] for k in POINT_KEYS}


def measure_chain(
    plan: CurvePlan,
    seed: int,
    sample: Sampler,
    stop: threading.Event,
    *,
    skip: frozenset[int] = frozenset(),
    shared: SharedPoints | None = None,
) -> Generator[dict[str, Any], None, ChainEnd]:
    """Train the points of `plan` with seed index `seed`, in order, each on the images `sample`
    picks; yield "progress" records during a point and a "point" record when it is done; return
    the chain's `ChainEnd`.

    In a comparison of strategies, a point every strategy trains alike is measured once
    (sharing.py): a plan index in `skip` is left to another chain (only a "progress" record, its
    cost counted as done), and a point already in `shared` is taken from there instead of trained.

    A stop ends it within a batch; the point it interrupts is dropped (a half-trained point would
    understate what its size can reach). A training that diverges ends it as failed.
    """
    from mnist_core.data.preprocess import DataSplit
    from mnist_core.training.train import Trainer

    split, total, whole = plan.split, len(plan.points), plan_share(plan)
    labelled: Labelled | None = None  # this seed's previous size: its images and model
    points: list[dict[str, Any]] = []
    done_cost = 0.0

    def progress(i: int, p: PointPlan, done: float, text: str) -> dict[str, Any]:
        total_done = (done_cost + done * p.cost) / whole
        return {
            "kind": "progress",
            "progress": total_done,
            "index": i,
            "total": total,
            "size": p.size,
            "seed": p.seed,
            "text": text,
        }

    for i, p in enumerate(plan.points):
        if p.seed != seed:
            continue
        if stop.is_set():
            return ChainEnd(points, "stopped")
        label = (
            f"{p.size:,} images"
            + (f" (seed {p.seed + 1})" if plan.seeds > 1 else "")
            + f" · training {i + 1} of {total}"
        )
        if i in skip:
            yield progress(i, p, 1.0, f"{label}: the same images as another strategy's, trained there")
            done_cost += p.cost
            continue
        earlier = shared.get(i) if shared is not None else None
        if earlier is not None:
            (point, labelled), note = earlier, " (the same images as the strategy before: trained once)"
        else:
            run_seed = plan.config.seed + p.seed
            picked = sample(split.train, p.size, run_seed, labelled)
            subset = DataSplit(split.train.subset(picked.repeat(p.repeats)), split.val, split.source)
            cfg = plan.config.replace(epochs=p.epochs, seed=run_seed, patience=p.patience)
            t0 = time.perf_counter()
            trainer = Trainer(cfg, subset)
            for rec in trainer.run(stop, REPORT_EVERY):
                if rec.kind == "batch":
                    yield progress(i, p, rec.progress, f"{label} · epoch {rec.epoch}/{rec.epochs}")
            end = trainer.end
            if end is None or end.status == "stopped":
                return ChainEnd(points, "stopped")
            if end.status == "diverged" or end.best_val_acc is None:
                return ChainEnd(points, "failed", f"Training on {p.size:,} images failed: {end.message}", i)
            labelled, note = Labelled(picked, trainer.model), ""
            point = {
                "size": p.size,
                "seed": p.seed,
                "val_error": 1.0 - end.best_val_acc,
                "val_acc": end.best_val_acc,
                "val_loss": finite_number(end.best_val_loss),
                "epochs": len(trainer.history),
                "best_epoch": end.best_epoch,
                "steps": p.steps,
                "status": end.status,
                "seconds": round(time.perf_counter() - t0, 3),
            }
            if shared is not None:
                shared.keep(plan, i, point, labelled)
        done_cost += p.cost
        points.append(dict(point))
        yield {
            "kind": "point",
            **point,
            "index": i,
            "total": total,
            "progress": done_cost / whole,
            "text": f"{label}: {pct(point['val_error'], 1)} validation error{note}",
        }
    return ChainEnd(points, "finished")
