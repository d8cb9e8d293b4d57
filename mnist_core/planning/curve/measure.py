"""Measuring a learning curve: `config` trained on ever larger labelled subsets of the training
split, each checked on the same validation set, as a stream of small records (like training's):
"progress" during a point, "point" when one finishes, one final "curve" with the fit.

A `stop` event ends the measurement within a batch; the point it interrupts is dropped (a
half-trained point would understate what its size can reach) and the curve is fitted and saved
when at least three sizes are done. Which images each point trains on is one `Sampler` call:
the labelling strategy's (`strategies.sampler_for`), unless a sampler is passed in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mnist_core.config import TrainConfig, finite_number
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import MIN_SIZES, fit_points, pct
from mnist_core.planning.curve.honesty import honesty_check
from mnist_core.planning.curve.sampling import Labelled, Sampler
from mnist_core.planning.curve.schedule import CurvePlan, plan_curve
from mnist_core.planning.curve.store import Curve, check_curves_dir, new_curve_id, save_curve, utc_now
from mnist_core.planning.curve.strategies import sampler_for

REPORT_EVERY = 5  # batches between progress records


def measure_curve(
    config: TrainConfig,
    data: str = "auto",
    sizes: Sequence[int] | None = None,
    seeds: int = 2,
    stop: threading.Event | None = None,
    home: Path | None = None,
    name: str = "",
    strategy: str = "random",
    group: str = "",
    sample: Sampler | None = None,
) -> Iterator[dict[str, Any]]:
    """Train `config` on nested subsets picked by `strategy` (or by `sample`, when given), yield
    records, fit, save. The saved curve records `strategy` and `group` (the id shared by the
    curves of one comparison of strategies).

    Records (plain dicts, JSON-safe):
      {"kind": "progress", "progress": 0..1, "text", "index", "total", "size", "seed"}
      {"kind": "point", "size", "seed", "val_error", "val_acc", "val_loss", "epochs", "best_epoch",
       "steps", "status", "seconds", "index", "total", "progress", "text"}
      {"kind": "curve", "status": "finished" | "stopped" | "failed", "saved", "id", "path",
       "message", "text", "progress": 1.0, "points", "fit" (Fit.to_dict() or None),
       "honesty" (honesty_check() or None), "sizes", "n_train", "n_val", "elapsed"}
    Bad requests raise CurveError on the first `next()`, before anything trains.
    """
    from mnist_core.data.preprocess import DataSplit
    from mnist_core.training.train import Trainer

    check_curves_dir(home)  # before any training: a curve must never be measured for nothing
    sample = sample or sampler_for(strategy)
    plan = plan_curve(config, data, sizes, seeds)
    stop = stop or threading.Event()
    split, total = plan.split, len(plan.points)
    total_cost = sum(p.cost for p in plan.points) or 1.0
    labelled: dict[int, Labelled] = {}  # per seed: its previous size's images and model
    points: list[dict[str, Any]] = []
    started, done_cost = time.perf_counter(), 0.0
    yield {
        "kind": "progress",
        "progress": 0.0,
        "index": 0,
        "total": total,
        "size": None,
        "seed": None,
        "text": f"Measuring the learning curve: {plan.describe()}",
    }
    for i, p in enumerate(plan.points):
        if stop.is_set():
            break
        seed = plan.config.seed + p.seed
        picked = sample(split.train, p.size, seed, labelled.get(p.seed))
        subset = DataSplit(split.train.subset(picked.repeat(p.repeats)), split.val, split.source)
        cfg = plan.config.replace(epochs=p.epochs, seed=seed, patience=p.patience)
        label = (
            f"{p.size:,} images"
            + (f" (seed {p.seed + 1})" if seeds > 1 else "")
            + f" · training {i + 1} of {total}"
        )
        t0 = time.perf_counter()
        trainer = Trainer(cfg, subset)
        for rec in trainer.run(stop, REPORT_EVERY):
            if rec.kind == "batch":
                yield {
                    "kind": "progress",
                    "progress": (done_cost + rec.progress * p.cost) / total_cost,
                    "index": i,
                    "total": total,
                    "size": p.size,
                    "seed": p.seed,
                    "text": f"{label} · epoch {rec.epoch}/{rec.epochs}",
                }
        end = trainer.end
        if end is None or end.status == "stopped":
            break  # a half-trained point would understate what the size can reach
        if end.status == "diverged" or end.best_val_acc is None:
            message = f"Training on {p.size:,} images failed: {end.message}"
            yield _final(plan, points, "failed", message, (home, name, strategy, group), started)
            return
        done_cost += p.cost
        labelled[p.seed] = Labelled(picked, trainer.model)
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
        points.append(point)
        yield {
            "kind": "point",
            **point,
            "index": i,
            "total": total,
            "progress": done_cost / total_cost,
            "text": f"{label}: {pct(1 - end.best_val_acc, 1)} validation error",
        }
    status = "stopped" if len(points) < total else "finished"
    yield _final(plan, points, status, "", (home, name, strategy, group), started)


def _final(
    plan: CurvePlan,
    points: list[dict[str, Any]],
    status: str,
    message: str,
    saving: tuple[Path | None, str, str, str],
    started: float,
) -> dict[str, Any]:
    """The last record: fit and save when there is enough to fit (a curve is saved whenever it is
    fitted), else say why not. `saving`: the home, name, strategy and group to save under."""
    home, name, strategy, group = saving
    distinct = len({p["size"] for p in points})
    fit, honesty = None, None
    if status != "failed":
        if distinct < MIN_SIZES:
            status = "stopped"
            message = (
                f"Stopped after {distinct} of {len(plan.sizes)} sizes: a curve needs at least "
                f"{MIN_SIZES} sizes, so nothing was saved."
            )
        else:
            try:
                fit = fit_points(points)
            except CurveError as exc:
                status, message = "failed", f"{exc} Nothing was saved."
            else:
                try:
                    honesty = honesty_check(points)
                except CurveError:
                    honesty = None  # too few sizes below the largest; the curve itself is fine
    curve = None
    if fit is not None:
        curve = Curve(
            id=new_curve_id(plan.config),
            created=utc_now(),
            status=status,
            message=message
            or (
                "Measured and fitted."
                if status == "finished"
                else f"Stopped after {distinct} of {len(plan.sizes)} sizes; fitted on those."
            ),
            config=plan.config,
            data=plan.split.source.key,
            data_name=plan.split.source.name,
            n_train=plan.n_train,
            n_val=plan.n_val,
            sizes=plan.sizes,
            seeds=plan.seeds,
            points=[dict(p) for p in points],
            fit=fit,
            honesty=honesty,
            name=name,
            elapsed=round(time.perf_counter() - started, 2),
            schedule=[p.to_dict() for p in plan.points],
            strategy=strategy,
            group=group,
        )
        message = curve.message
        save_curve(curve, home)
    text = message + (f" Saved as {curve.id}." if curve else "")
    return {
        "kind": "curve",
        "strategy": strategy,
        "status": status,
        "saved": curve is not None,
        "id": curve.id if curve else None,
        "path": str(curve.path) if curve else None,
        "message": message,
        "text": text,
        "progress": 1.0,
        "points": [dict(p) for p in points],
        "fit": fit.to_dict() if fit is not None else None,
        "honesty": honesty,
        "sizes": list(plan.sizes),
        "n_train": plan.n_train,
        "n_val": plan.n_val,
        "elapsed": round(time.perf_counter() - started, 2),
    }
