"""How many labels do we need? Measure a learning curve, fit it, and read the answer off it.

Three parts, each usable on its own by the Plan page, the CLI and tests:

- Measurement: `measure_curve(config, data)` trains `config` on nested, stratified subsets of
  the training split (same validation set for every point) and yields small dict records,
  like training does: "progress" during a point, "point" when one finishes, one final "curve".
  Small subsets are repeated within an epoch, so every point takes a comparable number of
  optimizer steps (fewer for small subsets: steps grow with the square root of the size)
  without evaluating the validation set hundreds of times.
- Fit: `fit_learning_curve(sizes, errors)` fits the inverse power law
  error(n) = a·n^(−b) + c (a, b, c ≥ 0; c, the floor, at most the smallest measured error)
  with a bootstrap over the points for an uncertainty range; `estimate_sentence` says in
  words how many labelled images reach a target accuracy; `honesty_check` fits the smaller
  sizes only and compares its prediction at the largest size with the measurement.
- Storage: a finished curve is one JSON file, `<studio home>/curves/<id>.json`, written
  atomically; `list_curves`, `load_curve`, `delete_curve`.

Everything user-facing fails with a `CurveError` (a ValueError) whose message says what to change.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mnist_core.config import DEFAULT_PRESET, PRESETS, TrainConfig, studio_home

if TYPE_CHECKING:
    from mnist_core.data.preprocess import DataSplit

CHANCE_ACCURACY = 0.1  # ten digits: guessing gets 10 %
MIN_SIZES = 3  # distinct sizes a fit needs (it has three parameters)
MIN_SIZE = 10  # one image per digit
DEFAULT_SIZES_FROM = 125  # the default curve doubles from here
DEFAULT_TARGET = 0.985
MIN_STEPS = 120  # steps the smallest subset gets (CNN, 125 images: 11 % error after 60, 7-9 % after 120)
MIN_STEPS_PER_EPOCH = 10  # a small subset is repeated so one epoch has at least this many steps
EVAL_COST = 0.3  # one validation image costs about this share of one training image
RESAMPLES = 200  # bootstrap refits behind the uncertainty range
INTERVAL = 0.8  # the range covers the central 80 % of the bootstrap fits
MAX_EXPONENT = 4.0  # b above this is a fit chasing noise, not a learning curve
MODEL_RANK = {"baseline": 0, "logreg": 1, "mlp": 2, "cnn": 3}


class CurveError(ValueError):
    """A learning-curve request, fit or file that makes no sense; the message says why."""


# ================================================================ sizes, subsets, schedule


def default_sizes(n_max: int) -> list[int]:
    """Log-spaced sizes ending with the whole training split: 125, 250, 500, … , n_max.

    Doubling stops before reaching 3/4 of n_max, so the last two points are not nearly the same
    subset. Pools too small for five sizes that way get five geometric steps instead.
    """
    sizes, n = [], DEFAULT_SIZES_FROM
    while n * 4 < n_max * 3:
        sizes.append(n)
        n *= 2
    sizes.append(n_max)
    if len(sizes) < 5:
        low = max(MIN_SIZE, n_max // 16)
        sizes = sorted({int(round(s)) for s in np.geomspace(low, n_max, 5)})
    return sizes


def check_sizes(sizes: Sequence[int], n_max: int) -> list[int]:
    """Sorted distinct sizes, or a CurveError saying what is wrong with them."""
    distinct: set[int] = set()
    for s in sizes:
        if (
            isinstance(s, bool)
            or not isinstance(s, (int, float, np.integer))
            or not math.isfinite(s)
            or s != int(s)
        ):
            raise CurveError(f"Sizes must be whole numbers of images, got {s!r}.")
        distinct.add(int(s))
    values = sorted(distinct)
    if len(values) < MIN_SIZES:
        raise CurveError(
            f"A learning curve needs at least {MIN_SIZES} different sizes (it fits three "
            f"numbers); got {len(values)}: {values}."
        )
    if values[0] < MIN_SIZE:
        raise CurveError(
            f"Size {values[0]} is too small: every size needs at least {MIN_SIZE} images (one per digit)."
        )
    if values[-1] > n_max:
        raise CurveError(
            f"Size {values[-1]:,} is larger than the training split ({n_max:,} images; "
            "the validation images are held out): use sizes up to "
            f"{n_max:,}."
        )
    return values


def nested_order(labels: Any, seed: int) -> Any:
    """A seeded order of all images whose every prefix holds each digit in proportion.

    Subsets are prefixes of it, so the subsets of one seed are nested (250 contains 125).
    Each image of digit d at shuffled position k gets the key (k + u) / count(d), u uniform
    in [0, 1); sorting by the key interleaves the digits evenly.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    keys = torch.empty(len(labels), dtype=torch.float64)
    for digit in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == digit).flatten()
        shuffled = idx[torch.randperm(len(idx), generator=gen)]
        jitter = torch.rand(len(idx), generator=gen, dtype=torch.float64)
        keys[shuffled] = (torch.arange(len(idx), dtype=torch.float64) + jitter) / len(idx)
    return torch.argsort(keys, stable=True)


@dataclass(frozen=True)
class PointPlan:
    """One training of the curve: `size` images (seed `seed`) repeated `repeats` times per epoch."""

    size: int
    seed: int
    repeats: int
    epochs: int
    steps: int  # optimizer steps, about: epochs × batches per epoch
    patience: int  # early stopping on validation loss: the config's (0 = off)
    cost: float  # relative time, for the progress bar

    def to_dict(self) -> dict[str, Any]:
        # the cost only weighs the progress bar: it is not part of a point's record
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "cost"}


def point_schedule(config: TrainConfig, size: int, top: int, n_val: int, seed: int = 0) -> PointPlan:
    """How long one point trains: the largest size trains exactly as `config` says; a smaller
    one gets steps ∝ √size (at least MIN_STEPS), in about `config.epochs` epochs of ≥ 10 steps."""
    bs = config.batch_size
    top_steps = config.epochs * math.ceil(top / bs)
    steps = round(min(top_steps, max(min(top_steps, MIN_STEPS), top_steps * math.sqrt(size / top))))
    per_epoch = math.ceil(size / bs)
    if size < top:  # the largest size trains as configured, even in epochs of fewer than 10 batches
        per_epoch = max(per_epoch, math.ceil(steps / config.epochs), min(MIN_STEPS_PER_EPOCH, steps))
    # a subset too small for `per_epoch` batches is repeated within the epoch
    repeats = 1 if math.ceil(size / bs) >= per_epoch else math.ceil(per_epoch * bs / size)
    batches = math.ceil(size * repeats / bs)
    epochs = max(1, round(steps / batches))
    # The config's own early stopping, no more: under the one-cycle schedule the validation loss
    # often stalls mid-run and drops while the rate anneals; an extra patience of a quarter of
    # the epochs stopped the largest point at epoch 13 of 16 with more error than the point below.
    patience = config.patience
    cost = epochs * batches * min(bs, size * repeats) + epochs * n_val * EVAL_COST
    return PointPlan(size, seed, repeats, epochs, epochs * batches, patience, float(cost))


@dataclass(frozen=True)
class CurvePlan:
    """What a measurement will do, known before it starts (the page shows it, errors surface early)."""

    config: TrainConfig
    split: DataSplit
    sizes: list[int]
    seeds: int
    points: list[PointPlan]

    @property
    def n_train(self) -> int:
        return len(self.split.train)

    @property
    def n_val(self) -> int:
        return len(self.split.val)

    def describe(self) -> str:
        return (
            f"{len(self.points)} trainings of {self.config.summary()} on {len(self.sizes)} sizes "
            f"({', '.join(f'{s:,}' for s in self.sizes)}), each checked on the same "
            f"{self.n_val:,} validation images"
        )


def plan_curve(
    config: TrainConfig, data: str = "auto", sizes: Sequence[int] | None = None, seeds: int = 2
) -> CurvePlan:
    """Load the split and check the request; raises CurveError (or DataError) before any training.

    `max_train_samples` is ignored: the curve chooses the training sizes itself. The largest
    size, and any size of at least half of it, is measured once (such subsets overlap so much
    that another seed mostly re-measures training noise); smaller ones `seeds` times.
    """
    from mnist_core.data.preprocess import make_split

    if config.model == "baseline":
        raise CurveError(
            "The majority-class baseline does not learn from more images: measure a "
            "real model (logistic regression, MLP or CNN)."
        )
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= 10:
        raise CurveError(f"seeds must be a whole number from 1 to 10, got {seeds!r}.")
    config = config.replace(max_train_samples=0)
    split = make_split(data, config)
    n_max = len(split.train)
    if n_max < MIN_SIZES * MIN_SIZE:
        raise CurveError(
            f"The training split has only {n_max} images: a learning curve needs at "
            f"least {MIN_SIZES * MIN_SIZE}."
        )
    chosen = default_sizes(n_max) if sizes is None else check_sizes(sizes, n_max)
    top = chosen[-1]
    points = [
        point_schedule(config, size, top, len(split.val), seed)
        for size in chosen
        for seed in range(seeds if size * 2 < top else 1)
    ]
    return CurvePlan(config, split, chosen, seeds, points)


# ================================================================ measurement


def measure_curve(
    config: TrainConfig,
    data: str = "auto",
    sizes: Sequence[int] | None = None,
    seeds: int = 2,
    stop: threading.Event | None = None,
    home: Path | None = None,
    name: str = "",
    save: bool = True,
    report_every: int = 5,
) -> Iterator[dict[str, Any]]:
    """Train `config` on nested subsets, yield records, fit, save; see the module docstring.

    Records (plain dicts, JSON-safe):
      {"kind": "progress", "progress": 0..1, "text", "index", "total", "size", "seed"}
      {"kind": "point", "size", "seed", "val_error", "val_acc", "val_loss", "epochs", "best_epoch",
       "steps", "status", "seconds", "index", "total", "progress", "text"}
      {"kind": "curve", "status": "finished" | "stopped" | "failed", "saved", "id", "path",
       "message", "text", "progress": 1.0, "points", "fit" (Fit.to_dict() or None),
       "honesty" (honesty_check() or None), "sizes", "n_train", "n_val", "elapsed"}
    A point interrupted by `stop` is dropped; the curve is saved when at least three sizes are done.
    Bad requests raise CurveError on the first `next()`, before anything trains.
    """
    from mnist_core.data.preprocess import DataSplit
    from mnist_core.training.train import Trainer

    if save:
        check_curves_dir(home)  # before any training: a curve must never be measured for nothing
    plan = plan_curve(config, data, sizes, seeds)
    stop = stop or threading.Event()
    split, total = plan.split, len(plan.points)
    total_cost = sum(p.cost for p in plan.points) or 1.0
    orders: dict[int, Any] = {}
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
        if p.seed not in orders:
            orders[p.seed] = nested_order(split.train.labels, plan.config.seed + p.seed)
        idx = orders[p.seed][: p.size].repeat(p.repeats)
        subset = DataSplit(split.train.subset(idx), split.val, split.source)
        cfg = plan.config.replace(epochs=p.epochs, seed=plan.config.seed + p.seed, patience=p.patience)
        label = (
            f"{p.size:,} images"
            + (f" (seed {p.seed + 1})" if seeds > 1 else "")
            + f" · training {i + 1} of {total}"
        )
        t0 = time.perf_counter()
        trainer = Trainer(cfg, subset)
        for rec in trainer.run(stop, report_every):
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
            yield _final(
                plan,
                points,
                "failed",
                f"Training on {p.size:,} images failed: {end.message}",
                home,
                name,
                started,
                save=False,
            )
            return
        done_cost += p.cost
        point = {
            "size": p.size,
            "seed": p.seed,
            "val_error": 1.0 - end.best_val_acc,
            "val_acc": end.best_val_acc,
            "val_loss": _finite(end.best_val_loss),
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
            "text": f"{label}: {_pct(1 - end.best_val_acc, 1)} validation error",
        }
    yield _final(
        plan,
        points,
        "stopped" if len(points) < total else "finished",
        "",
        home,
        name,
        started,
        save=save,
    )


def _final(
    plan: CurvePlan,
    points: list[dict[str, Any]],
    status: str,
    message: str,
    home: Path | None,
    name: str,
    started: float,
    save: bool,
) -> dict[str, Any]:
    """The last record: fit and save when there is enough to fit, else say why not."""
    distinct = len({p["size"] for p in points})
    fit, honesty = None, None
    if status != "failed":
        if distinct < MIN_SIZES:
            status, save = "stopped", False
            message = (
                f"Stopped after {distinct} of {len(plan.sizes)} sizes: a curve needs at least "
                f"{MIN_SIZES} sizes, so nothing was saved."
            )
        else:
            try:
                fit = fit_points(points)
            except CurveError as exc:
                status, save, message = "failed", False, f"{exc} Nothing was saved."
            else:
                try:
                    honesty = honesty_check(points)
                except CurveError:
                    honesty = None  # too few sizes below the largest; the curve itself is fine
    curve = None
    if fit is not None:
        curve = Curve(
            id=new_curve_id(plan.config),
            created=_now(),
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
        )
        message = curve.message
        if save:
            save_curve(curve, home)
    saved = curve is not None and curve.path is not None
    text = message + (f" Saved as {curve.id}." if saved else "")
    return {
        "kind": "curve",
        "status": status,
        "saved": saved,
        "id": curve.id if saved else None,
        "path": str(curve.path) if saved else None,
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


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


# ================================================================ the fit


def power_law(n: Any, a: float, b: float, c: float) -> Any:
    """error(n) = a·n^(−b) + c."""
    return a * np.power(np.asarray(n, dtype=float), -b) + c


@dataclass(frozen=True, eq=False)
class Fit:
    """A fitted learning curve error(n) = a·n^(−b) + c and its bootstrap refits (one row each)."""

    a: float
    b: float
    c: float
    boot: np.ndarray = field(repr=False)  # (k, 3): a, b, c of each bootstrap refit
    n_points: int = 0
    min_size: int = 0
    max_size: int = 0
    rmse: float = 0.0  # root mean square of fitted − measured error
    interval: float = INTERVAL

    @property
    def floor_accuracy(self) -> float:
        """The accuracy the curve levels off at: more data of this kind does not go beyond it."""
        return 1.0 - self.c

    def predict(self, n: Any) -> Any:
        """Validation error expected with `n` training images (a float, or an array for an array)."""
        out = power_law(n, self.a, self.b, self.c)
        return float(out) if np.ndim(out) == 0 else out

    def size_for(self, error: float) -> float | None:
        """Training images needed to bring the error down to `error`; None when out of reach."""
        return _size_for(self.a, self.b, self.c, error)

    def size_range_for(self, error: float) -> tuple[float | None, float | None]:
        """(low, high) of the size needed over the bootstrap fits; None: out of reach / unbounded."""
        if not len(self.boot):
            size = self.size_for(error)
            return size, size
        need = np.array([_size_for(a, b, c, error) or math.inf for a, b, c in self.boot])
        tail = (1 - self.interval) / 2
        lo, hi = np.quantile(need, [tail, 1 - tail], method="inverted_cdf")
        return (float(lo) if math.isfinite(lo) else None), (float(hi) if math.isfinite(hi) else None)

    def band(self, ns: Any) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) predicted error at each of `ns` over the bootstrap fits: the drawn band."""
        ns = np.asarray(ns, dtype=float)
        if not len(self.boot):
            mid = power_law(ns, self.a, self.b, self.c)
            return mid, mid
        curves = power_law(ns[None, :], self.boot[:, :1], self.boot[:, 1:2], self.boot[:, 2:3])
        tail = (1 - self.interval) / 2
        lo, hi = np.quantile(curves, [tail, 1 - tail], axis=0)
        return lo, hi

    def rows(self, n_min: float, n_max: float, count: int = 60) -> list[dict[str, float]]:
        """Log-spaced {"size", "error", "low", "high"} rows from n_min to n_max: the line and band
        of a chart (sizes on a log axis)."""
        ns = np.geomspace(max(n_min, 1.0), max(n_max, n_min, 1.0), count)
        lo, hi = self.band(ns)
        mid = power_law(ns, self.a, self.b, self.c)
        return [
            {"size": float(n), "error": float(m), "low": float(low), "high": float(high)}
            for n, m, low, high in zip(ns, mid, lo, hi)
        ]

    def describe(self) -> str:
        return f"error(n) = {self.a:.3g}·n^(−{self.b:.3g}) + {_pct(self.c)}"

    def to_dict(self) -> dict[str, Any]:
        plain = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "boot"}
        return {**plain, "boot": [[float(v) for v in row] for row in self.boot]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fit:
        try:
            boot = np.asarray(d.get("boot") or [], dtype=float).reshape(-1, 3)
            fit = cls(
                float(d["a"]),
                float(d["b"]),
                float(d["c"]),
                boot,
                int(d.get("n_points", 0)),
                int(d.get("min_size", 0)),
                int(d.get("max_size", 0)),
                float(d.get("rmse", 0.0)),
                float(d.get("interval", INTERVAL)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CurveError(f"A stored learning-curve fit is malformed ({exc}).") from exc
        if not all(math.isfinite(v) for v in (fit.a, fit.b, fit.c)) or not np.isfinite(boot).all():
            raise CurveError("A stored learning-curve fit holds non-finite numbers.")
        return fit


def _size_for(a: float, b: float, c: float, error: float) -> float | None:
    if error <= c:
        return None
    if a <= 0 or b <= 0:  # a flat curve: every size gives the same error
        return 1.0 if a + c <= error or a <= 0 else None
    try:
        n = math.exp(math.log(a / (error - c)) / b)
    except OverflowError:  # more images than any number: out of reach in practice
        return None
    return max(n, 1.0)


def _fit_once(
    x: np.ndarray, e: np.ndarray, starts: list[tuple[float, float, float]], max_evals: int
) -> tuple[np.ndarray, float] | None:
    """Plain least squares from each start; the best, or None. (Weighting by the error, i.e. fitting
    relative residuals, estimated the size for a target worse on simulated noisy curves.)

    `x` is n / n0 (n0: geometric mean size) so the amplitude stays near the errors' scale.
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    c_hi = max(float(e.min()), 1e-9)
    best = None
    for start in starts:
        p0 = (
            max(start[0], 1e-9),
            min(max(start[1], 1e-3), MAX_EXPONENT - 1e-3),
            min(max(start[2], 0.0), c_hi * 0.999),
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                params, _ = curve_fit(
                    power_law,
                    x,
                    e,
                    p0=p0,
                    bounds=([0, 0, 0], [np.inf, MAX_EXPONENT, c_hi]),
                    method="trf",
                    maxfev=max_evals,
                )
        except (RuntimeError, ValueError):
            continue
        if not np.isfinite(params).all():
            continue
        ssr = float(np.sum((power_law(x, *params) - e) ** 2))
        if best is None or ssr < best[1]:
            best = (params, ssr)
    return best


def fit_learning_curve(
    sizes: Sequence[float],
    errors: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    max_evals: int = 2000,
) -> Fit:
    """Fit error(n) = a·n^(−b) + c to measured points (sizes may repeat: one point per seed).

    The range comes from `resamples` refits on the points drawn with replacement (seeded).
    Raises CurveError for fewer than 3 distinct sizes, bad numbers, or a fit that does not converge.
    """
    n = np.asarray(sizes, dtype=float).ravel()
    e = np.asarray(errors, dtype=float).ravel()
    if n.shape != e.shape:
        raise CurveError(f"Got {len(n)} sizes but {len(e)} errors: one error per size.")
    if not (np.isfinite(n).all() and np.isfinite(e).all()):
        raise CurveError("Sizes and errors must be finite numbers.")
    if (n <= 0).any():
        raise CurveError("Sizes must be positive numbers of images.")
    if ((e < 0) | (e > 1)).any():
        raise CurveError("Errors must be fractions between 0 and 1 (0.02 for 2 % error).")
    if len(np.unique(n)) < MIN_SIZES:
        raise CurveError(
            f"A learning curve needs at least {MIN_SIZES} different sizes (it fits three "
            f"numbers); got {len(np.unique(n))}."
        )
    if (e == 0).all():
        raise CurveError(
            "Every point has zero validation error: there is no curve to fit (is the validation set tiny?)."
        )
    n0 = float(np.exp(np.log(n).mean()))
    x = n / n0
    c0 = 0.5 * float(e.min())
    starts = [(max(float(np.mean((e - c0) * x**b)), 1e-6), b, c0) for b in (0.3, 0.7, 1.5)]
    best = _fit_once(x, e, starts, max_evals)
    if best is None:
        raise CurveError(
            "The learning-curve fit did not converge: the errors do not follow "
            "error = a·n^(−b) + c. Measure more sizes or more seeds."
        )
    (amp, b, c), _ = best
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(resamples):
        idx = rng.integers(0, len(n), len(n))
        if len(np.unique(n[idx])) < MIN_SIZES or (e[idx] == 0).all():
            continue
        refit = _fit_once(x[idx], e[idx], [(amp, b, c)], max_evals)
        if refit is not None:
            ra, rb, rc = refit[0]
            boot.append((ra * n0**rb, rb, rc))
    residuals = power_law(x, amp, b, c) - e
    return Fit(
        float(amp * n0**b),
        float(b),
        float(c),
        np.asarray(boot, dtype=float).reshape(-1, 3),
        len(n),
        int(n.min()),
        int(n.max()),
        float(np.sqrt(np.mean(residuals**2))),
    )


def fit_points(points: Sequence[dict[str, Any]], **kwargs: Any) -> Fit:
    """`fit_learning_curve` on "point" records (or saved points): their sizes and val_errors."""
    return fit_learning_curve([p["size"] for p in points], [p["val_error"] for p in points], **kwargs)


def mean_errors(points: Sequence[dict[str, Any]]) -> dict[int, float]:
    """Mean validation error per size (over its seeds), sorted by size."""
    by_size: dict[int, list[float]] = {}
    for p in points:
        by_size.setdefault(int(p["size"]), []).append(float(p["val_error"]))
    return {s: float(np.mean(v)) for s, v in sorted(by_size.items())}


def honesty_check(
    points: Sequence[dict[str, Any]], max_fit_size: int | None = None, resamples: int = RESAMPLES
) -> dict[str, Any]:
    """Fit the sizes ≤ `max_fit_size` only and predict the largest measured size.

    Default `max_fit_size`: the largest size up to a third of the largest one (with at least
    three sizes to fit), else every size but the largest. Returns predicted vs measured error,
    the prediction's range, and a sentence.
    """
    means = mean_errors(points)
    sizes = list(means)
    if len(sizes) < MIN_SIZES + 1:
        raise CurveError(
            f"The honesty check needs at least {MIN_SIZES + 1} sizes: {MIN_SIZES} to fit "
            "and a larger one to predict."
        )
    top = sizes[-1]
    if max_fit_size is None:
        small = [s for s in sizes if 3 * s <= top]
        max_fit_size = small[-1] if len(small) >= MIN_SIZES else sizes[-2]
    fit_sizes = [s for s in sizes if s <= max_fit_size]
    if len(fit_sizes) < MIN_SIZES:
        raise CurveError(
            f"Only {len(fit_sizes)} sizes are ≤ {max_fit_size:,}: the honesty check needs {MIN_SIZES} to fit."
        )
    if max_fit_size >= top:
        raise CurveError(f"max_fit_size {max_fit_size:,} leaves no larger measured size to predict.")
    fit = fit_points([p for p in points if p["size"] <= max_fit_size], resamples=resamples)
    predicted, measured = fit.predict(top), means[top]
    lo, hi = fit.band([top])
    text = (
        f"The curve fitted on ≤ {max_fit_size:,} images predicted {_pct(predicted, 1)} error at "
        f"{top:,}; measured {_pct(measured, 1)}."
    )
    return {
        "max_fit_size": int(max_fit_size),
        "fit_sizes": fit_sizes,
        "at_size": int(top),
        "predicted_error": float(predicted),
        "predicted_range": [float(lo[0]), float(hi[0])],
        "measured_error": measured,
        "within_range": bool(lo[0] <= measured <= hi[0]),
        "fit": {"a": fit.a, "b": fit.b, "c": fit.c},
        "text": text,
    }


# ================================================================ the answer in words


def check_target(target_accuracy: float) -> float:
    """The target as a float in (chance, 1), or a CurveError that says how to give it."""
    if (
        isinstance(target_accuracy, bool)
        or not isinstance(target_accuracy, (int, float))
        or not math.isfinite(target_accuracy)
    ):
        raise CurveError(f"The target accuracy must be a number, got {target_accuracy!r}.")
    if target_accuracy >= 1:
        raise CurveError(
            f"A target accuracy of {target_accuracy:g} is not below 100 %: give it as a "
            "fraction below 1, e.g. 0.985 for 98.5 %."
        )
    if target_accuracy <= CHANCE_ACCURACY:
        raise CurveError(
            f"A target accuracy of {_pct(target_accuracy, 1)} is no better than guessing one of "
            "ten digits (10 %): give a target above 0.1, e.g. 0.985."
        )
    return float(target_accuracy)


def _round_up(n: float) -> int:
    """Round a size up to two significant digits: 2,134 → 2,200; 87 → 87."""
    n = math.ceil(n)
    if n < 100:
        return int(n)
    step = 10 ** (len(str(n)) - 2)
    return int(math.ceil(n / step) * step)


def target_estimate(fit: Fit, target_accuracy: float, have: int) -> dict[str, Any]:
    """The numbers behind the sentence: size needed (rounded up), its range, and whether `have` suffices.

    "low"/"high" are None when that end is out of reach / unbounded.
    """
    target = check_target(target_accuracy)
    error = 1.0 - target
    size = fit.size_for(error)
    lo, hi = fit.size_range_for(error)
    return {
        "target_accuracy": target,
        "target_error": error,
        "reachable": size is not None,
        "size": _round_up(size) if size is not None else None,
        "low": _round_up(lo) if lo is not None else None,
        "high": _round_up(hi) if hi is not None else None,
        "have": int(have),
        "enough": (size <= have) if size is not None else False,
        "floor_accuracy": fit.floor_accuracy,
        "extrapolation": (size / fit.max_size) if size is not None and fit.max_size else None,
    }


# a family with no bigger preset grows by doubling one width, up to a cap: (field, cap, wording)
_WIDER = {"cnn": ("cnn_channels", 256, "CNN"), "mlp": ("mlp_width", 4096, "MLP")}


def bigger_model(config: TrainConfig | None) -> dict[str, Any]:
    """A more capable model to suggest when the curve levels off above the target.

    The next model family up (as a preset, the page can link to Train with it), or for a CNN
    with no bigger preset, the same CNN with twice the channels. Presets that cap the training
    images (the over/under-fitting demos) are never suggested.
    """
    from mnist_core.training.models import parameter_count

    if config is None:
        return _suggestion(None, {}, "a bigger model")
    mine = (MODEL_RANK[config.model], parameter_count(config))
    better = sorted(
        (MODEL_RANK[c.model], parameter_count(c), name)
        for name, c in PRESETS.items()
        if not c.max_train_samples and (MODEL_RANK[c.model], parameter_count(c)) > mine
    )
    if better:
        # a stronger family: the default preset when it is one, else the smallest step up
        names = [b[2] for b in better if b[0] > mine[0]]
        name = DEFAULT_PRESET if DEFAULT_PRESET in names else better[0][2]
        return _suggestion(name, PRESETS[name].to_dict(), f"the “{name}” preset ({PRESETS[name].summary()})")
    if config.model in _WIDER:
        knob, cap, label = _WIDER[config.model]
        now = getattr(config, knob)
        if now < cap:
            wider = min(now * 2, cap)
            return _suggestion(None, {knob: wider}, f"a wider {label} ({knob} {wider} instead of {now})")
    return _suggestion(None, {}, "a bigger model")


def _suggestion(preset: str | None, changes: dict[str, Any], text: str) -> dict[str, Any]:
    """A `bigger_model` answer: the preset to start from (or None), the changes to it, the wording."""
    return {"preset": preset, "changes": changes, "text": text}


def _pct(fraction: float, digits: int = 2) -> str:
    """0.985 → '98.5 %' (trailing zeros dropped; a space before % as in the app's texts)."""
    text = f"{fraction * 100:.{digits}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + " %"


def estimate_sentence(fit: Fit, target_accuracy: float, have: int, config: TrainConfig | None = None) -> str:
    """'To reach 98.5 % you need about N labelled images (range N1–N2). You have M.' — or, when the
    target lies below the fitted floor, that more data of this kind will not get there."""
    est = target_estimate(fit, target_accuracy, have)
    target = _pct(est["target_accuracy"])
    if not est["reachable"]:
        return (
            f"{target} is out of reach for this model: its learning curve levels off at about "
            f"{_pct(fit.c, 1)} error ({_pct(fit.floor_accuracy, 1)} accuracy), so more data of this "
            f"kind will not get there with this model. Try {bigger_model(config)['text']}."
        )
    lo, hi = est["low"], est["high"]
    if lo is not None and hi is not None:
        rng = f"range {lo:,}–{hi:,}"
    elif lo is not None:
        rng = f"range {lo:,} or more: some refits never get there"
    else:
        rng = "the range is unknown"
    text = f"To reach {target} you need about {est['size']:,} labelled images ({rng}). You have {have:,}"
    if est["enough"]:
        text += ": enough."
    else:
        text += f": label about {_round_up(est['size'] - have):,} more."
    if est["extrapolation"] and est["extrapolation"] > 4:
        text += (
            f" That is {est['extrapolation']:.0f}× the largest measured size ({fit.max_size:,}), "
            "so treat it as a rough guess."
        )
    return text


# ================================================================ storage


def check_curves_dir(home: Path | None = None) -> Path:
    """The curves folder of `home`, checked writable (not created yet); CurveError otherwise."""
    from mnist_core.runs.files import StorageError, writable_folder

    try:
        return writable_folder(curves_dir(home), "curves", create=False)
    except StorageError as exc:
        raise CurveError(str(exc)) from exc


def curves_dir(home: Path | None = None) -> Path:
    return Path(home or studio_home()) / "curves"


def new_curve_id(config: TrainConfig) -> str:
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{config.model}-{uuid.uuid4().hex[:4]}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Curve:
    """A measured and fitted learning curve, as saved in `curves/<id>.json`."""

    id: str
    created: str
    status: str  # "finished" or "stopped" (fitted on the sizes done)
    message: str
    config: TrainConfig
    data: str  # the source key the split came from
    data_name: str
    n_train: int  # images in the training split (the largest possible size)
    n_val: int
    sizes: list[int]  # the sizes asked for (points may cover fewer when stopped)
    seeds: int
    points: list[dict[str, Any]]
    fit: Fit
    honesty: dict[str, Any] | None = None
    name: str = ""
    elapsed: float = 0.0
    schedule: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None

    @property
    def label(self) -> str:
        return (
            f"{self.name or self.config.summary()} · {self.data_name} · {self.created[:16].replace('T', ' ')}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created,
            "status": self.status,
            "message": self.message,
            "config": self.config.to_dict(),
            "data": self.data,
            "data_name": self.data_name,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "sizes": list(self.sizes),
            "seeds": self.seeds,
            "points": self.points,
            "fit": self.fit.to_dict(),
            "honesty": self.honesty,
            "name": self.name,
            "elapsed": self.elapsed,
            "schedule": self.schedule,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Path | None = None) -> Curve:
        from mnist_core.config import ConfigError

        try:
            points = [dict(p) for p in d["points"]]
            for p in points:
                p["size"], p["val_error"] = int(p["size"]), float(p["val_error"])
            return cls(
                id=str(d["id"]),
                created=str(d["created"]),
                status=str(d["status"]),
                message=str(d.get("message", "")),
                config=TrainConfig.from_dict(d["config"]),
                data=str(d["data"]),
                data_name=str(d.get("data_name", d["data"])),
                n_train=int(d["n_train"]),
                n_val=int(d["n_val"]),
                sizes=[int(s) for s in d["sizes"]],
                seeds=int(d["seeds"]),
                points=points,
                fit=Fit.from_dict(d["fit"]),
                honesty=d.get("honesty"),
                name=str(d.get("name", "")),
                elapsed=float(d.get("elapsed", 0.0)),
                schedule=list(d.get("schedule", [])),
                path=path,
            )
        except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
            raise CurveError(f"{path or 'The curve'} is not a valid learning-curve file ({exc}).") from exc


def save_curve(curve: Curve, home: Path | None = None) -> Path:
    """Write `curve` as curves/<id>.json (atomically) and set its path."""
    from mnist_core.runs.files import write_json

    path = curves_dir(home) / f"{curve.id}.json"
    write_json(path, curve.to_dict())  # atomic, NaN-free
    curve.path = path
    return path


def _curve_path(curve_id: str | Path, home: Path | None) -> Path:
    path = Path(curve_id)
    if path.suffix == ".json" and path.is_file():
        return path
    if path.name != str(curve_id) or str(curve_id).startswith("."):
        raise CurveError(f"No saved learning curve {curve_id!r}.")
    return curves_dir(home) / f"{curve_id}.json"


def load_curve(curve_id: str | Path, home: Path | None = None) -> Curve:
    """Open a saved curve by id (or by the path of its JSON file)."""
    path = _curve_path(curve_id, home)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise CurveError(f"No saved learning curve {str(curve_id)!r} in {path.parent}.") from exc
    except (OSError, ValueError) as exc:
        raise CurveError(f"{path} is damaged ({exc}): delete it.") from exc
    if not isinstance(data, dict):
        raise CurveError(f"{path} is not a valid learning-curve file.")
    return Curve.from_dict(data, path)


def list_curves(home: Path | None = None) -> list[Curve]:
    """Every readable saved curve, newest first; damaged files are skipped."""
    root = curves_dir(home)
    if not root.is_dir():
        return []
    curves = []
    for path in root.glob("*.json"):
        if path.name.startswith("."):
            continue
        try:
            curves.append(load_curve(path))
        except CurveError:
            continue
    return sorted(curves, key=lambda c: (c.created, c.id), reverse=True)


def delete_curve(curve: Curve | str, home: Path | None = None) -> None:
    """Remove a saved curve."""
    path = (
        curve.path
        if isinstance(curve, Curve) and curve.path
        else _curve_path(curve.id if isinstance(curve, Curve) else curve, home)
    )
    try:
        path.unlink()
    except FileNotFoundError as exc:
        raise CurveError(f"No saved learning curve at {path}.") from exc


# ================================================================ command line


def parse_sizes(text: str) -> list[int]:
    """'250,500,1_000' → [250, 500, 1000]; anything else is a CurveError."""
    try:
        return [int(part.strip().replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CurveError(
            f"--sizes takes whole numbers separated by commas, e.g. 250,500,1000; got {text!r}."
        ) from None


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The `curve` subcommand: measure, fit, save, and answer how many labels reach --target."""
    from mnist_core.cli.common import add_config_flags, add_preset_flag

    p = sub.add_parser(
        "curve",
        help="measure a learning curve: how many labelled images reach a "
        "target accuracy; progress on stderr, JSON on stdout",
    )
    p.add_argument(
        "--data", default="auto", help="sample | mnist | auto | PATH to a folder of IDX files (default: auto)"
    )
    add_preset_flag(p, f"start from a preset (default: {DEFAULT_PRESET}), then apply the flags below")
    p.add_argument(
        "--sizes",
        default=None,
        help="training-set sizes, comma-separated, e.g. 250,500,1000,2000 "
        "(default: 125, 250, … doubling, up to the whole training split)",
    )
    p.add_argument(
        "--seeds", type=int, default=2, help="trainings per size below half the largest size (default: 2)"
    )
    p.add_argument(
        "--target",
        type=float,
        default=DEFAULT_TARGET,
        help=f"target validation accuracy as a fraction (default: {DEFAULT_TARGET})",
    )
    p.add_argument("--name", default="", help="a name for the saved curve")
    p.add_argument(
        "--out",
        default=None,
        help="studio folder to save the curve in (curves go to "
        "OUT/curves; default: $MNIST_STUDIO_HOME or ./studio_data)",
    )
    add_config_flags(p)
    return p


def cmd_curve(args: argparse.Namespace) -> int:
    from mnist_core.cli.common import CliError, config_from_args
    from mnist_core.data.errors import DataError
    from mnist_core.runs.files import dumps

    args.preset = args.preset or DEFAULT_PRESET
    config = config_from_args(args)
    home = Path(args.out) if args.out else None
    stop = threading.Event()
    final: dict[str, Any] | None = None
    try:
        check_target(args.target)
        sizes = parse_sizes(args.sizes) if args.sizes is not None else None
        records = measure_curve(config, args.data, sizes, args.seeds, stop=stop, home=home, name=args.name)
        for rec in records:
            if rec["kind"] == "point":
                _err(
                    f"[{rec['index'] + 1}/{rec['total']}] {rec['size']:,} images, seed {rec['seed'] + 1}: "
                    f"val error {rec['val_error']:.2%} (acc {rec['val_acc']:.2%}), {rec['epochs']} epochs, "
                    f"{rec['seconds']:.1f} s"
                )
            elif rec["kind"] == "progress" and rec["index"] == 0 and rec["size"] is None:
                _err(rec["text"])
            elif rec["kind"] == "curve":
                final = rec
    except KeyboardInterrupt:
        stop.set()  # nothing is saved before the last record, so no half-written curve remains
        raise
    except (CurveError, DataError) as exc:
        raise CliError(str(exc)) from exc
    if final is None or final["fit"] is None:
        raise CliError(final["message"] if final else "the measurement ended without a curve")
    _err(final["text"])
    fit = Fit.from_dict(final["fit"])
    est = target_estimate(fit, args.target, final["n_train"])
    print(
        dumps(
            {
                "curve": final["id"],
                "path": final["path"],
                "status": final["status"],
                "data": args.data,
                "n_train": final["n_train"],
                "n_val": final["n_val"],
                "points": [
                    {k: p[k] for k in ("size", "seed", "val_error", "val_acc", "epochs", "seconds")}
                    for p in final["points"]
                ],
                "fit": {"a": fit.a, "b": fit.b, "c": fit.c, "rmse": fit.rmse},
                "target": est["target_accuracy"],
                "reachable": est["reachable"],
                "size_needed": est["size"],
                "size_range": [est["low"], est["high"]],
                "have": est["have"],
                "enough": est["enough"],
                "sentence": estimate_sentence(fit, args.target, final["n_train"], config),
                "honesty": final["honesty"],
                "elapsed_s": final["elapsed"],
            }
        ),
        flush=True,
    )
    return 0


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
