"""The learning curve's fit: the inverse power law error(n) = a·n^(−b) + c, fitted with scipy.

a, b, c ≥ 0 and c, the floor, at most the smallest measured error. A bootstrap over the points
gives the uncertainty: the band drawn around the line and the range of the size a target needs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from mnist_core.planning.curve.errors import CurveError
from mnist_core.text import percent

MIN_SIZES = 3  # distinct sizes a fit needs (it has three parameters)
RESAMPLES = 200  # bootstrap refits behind the uncertainty range
INTERVAL = 0.8  # the range covers the central 80 % of the bootstrap fits
MAX_EXPONENT = 4.0  # b above this is a fit chasing noise, not a learning curve


def power_law(n: Any, a: float, b: float, c: float) -> Any:
    """error(n) = a·n^(−b) + c."""
    return a * np.power(np.asarray(n, dtype=float), -b) + c


def pct(fraction: float, digits: int = 2) -> str:
    """0.985 → '98.5 %' (trailing zeros dropped; a space before % as in the app's texts)."""
    return percent(fraction, digits, spaced=True, trim=True)


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
        return f"error(n) = {self.a:.3g}·n^(−{self.b:.3g}) + {pct(self.c)}"

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


def provisional_fit(points: Sequence[dict[str, Any]]) -> Fit | None:
    """A quick fit (no bootstrap) of the points measured so far, for the live chart; None until
    three sizes are in, or while the points do not fit a power law yet."""
    if len({p["size"] for p in points}) < MIN_SIZES:
        return None
    try:
        return fit_points(points, resamples=0)
    except CurveError:
        return None
