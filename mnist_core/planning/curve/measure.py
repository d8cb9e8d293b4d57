"""Measuring a learning curve: `config` trained on ever larger labelled subsets of the training
split, each checked on the same validation set, as a stream of small records (like training's):
"progress" during a point, "point" when one finishes, one final "curve" with the fit.

A `stop` event ends the measurement within a batch; the point it interrupts is dropped (a
half-trained point would understate what its size can reach) and the curve is fitted and saved
when at least three sizes are done. Which images each point trains on is one `Sampler` call:
the labelling strategy's (`strategies.sampler_for`), unless a sampler is passed in.

The trainings themselves are `chain.measure_chain`, one chain of points per seed; this module
runs the chains in this process (the CLI, tests) and `final_record` fits and saves what they
measured, here or, for the chains a cluster job ran as parallel tasks, in the app (`jobs.curve`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mnist_core.config import TrainConfig
from mnist_core.planning.curve.chain import chain_seeds, measure_chain, point_of, start_record
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import MIN_SIZES, fit_points
from mnist_core.planning.curve.honesty import honesty_check
from mnist_core.planning.curve.sampling import Sampler
from mnist_core.planning.curve.schedule import CurvePlan, plan_curve
from mnist_core.planning.curve.sharing import SharedPoints
from mnist_core.planning.curve.store import Curve, check_curves_dir, new_curve_id, save_curve, utc_now
from mnist_core.planning.curve.strategies import sampler_for


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
    shared: SharedPoints | None = None,
) -> Iterator[dict[str, Any]]:
    """Train `config` on nested subsets picked by `strategy` (or by `sample`, when given), yield
    records, fit, save. The saved curve records `strategy` and `group` (the id shared by the
    curves of one comparison of strategies). `shared`: the points an earlier strategy of the same
    comparison trained on the images every strategy trains alike (sharing.py), taken from there.

    Records (plain dicts, JSON-safe):
      {"kind": "progress", "progress": 0..1, "text", "index", "total", "size", "seed"}
      {"kind": "point", "size", "seed", "val_error", "val_acc", "val_loss", "epochs", "best_epoch",
       "steps", "status", "seconds", "index", "total", "progress", "text"}
      {"kind": "curve", "status": "finished" | "stopped" | "failed", "saved", "id", "path",
       "message", "text", "progress": 1.0, "points", "fit" (Fit.to_dict() or None),
       "honesty" (honesty_check() or None), "sizes", "n_train", "n_val", "elapsed"}
    Bad requests raise CurveError on the first `next()`, before anything trains.
    """
    check_curves_dir(home)  # before any training: a curve must never be measured for nothing
    sample = sample or sampler_for(strategy)
    plan = plan_curve(config, data, sizes, seeds)
    stop = stop or threading.Event()
    saving, started = (home, name, strategy, group), time.perf_counter()
    yield start_record(plan)
    # One chain per seed (jobs.curve runs them as parallel tasks). Here they are interleaved in
    # plan order, every seed at a size before the next size: the order the points always came in.
    chains = {seed: measure_chain(plan, seed, sample, stop, shared=shared) for seed in chain_seeds(plan)}
    shares = dict.fromkeys(chains, 0.0)  # each chain's share of the whole cost, done so far
    points: list[dict[str, Any]] = []
    for p in plan.points:
        end = None
        while True:  # p.seed's chain, up to its next point (or its end: stopped or failed)
            try:
                rec = next(chains[p.seed])
            except StopIteration as done:
                end = done.value
                break
            shares[p.seed] = rec["progress"]
            yield {**rec, "progress": sum(shares.values())}
            if rec["kind"] == "point":
                points.append(point_of(rec))
                break
        if end is not None and end.status == "failed":
            yield final_record(plan, points, "failed", end.message, saving, started)
            return
        if end is not None:
            break  # stopped
    for chain in chains.values():
        chain.close()  # a chain left mid-way keeps its last model alive until closed
    status = "stopped" if len(points) < len(plan.points) else "finished"
    yield final_record(plan, points, status, "", saving, started)


def final_record(
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
