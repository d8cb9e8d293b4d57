"""Can we trust its confidence? Reliability, expected calibration error, temperature scaling and
the "not sure" threshold, fitted on a run's validation set and saved with the run.

- `reliability_bins` / `expected_calibration_error`: confidence (top probability) in equal-width
  bins against the accuracy in each bin, with counts; ECE is the count-weighted mean gap.
- `fit_temperature`: one scalar T with softmax(logits / T), fitted by L-BFGS on log T (so T
  stays positive) minimising the validation NLL, in float64 (12,000 × 10 logits: ~20 ms).
  Dividing all logits by one positive number never changes the top digit, so accuracy is
  untouched; T > 1 softens an over-confident model. One parameter fitted on thousands of
  images barely overfits, so the figures after scaling are reported on the same validation set.
- `coverage_curve` / `choose_threshold`: "answer only when the top probability ≥ t, otherwise
  say *not sure*": the share of validation images answered and the accuracy on them, per t.
  A run's own threshold replaces the Deploy page's default rule (top < 0.6 or a runner-up
  within 0.3) and applies alone, so what the curve promises is what Deploy does.
- Saved in the run's meta.json (`storage.update_meta`): "calibration" {temperature, ECE and NLL
  before/after, n, bins, fitted} and "unsure_threshold" {threshold, coverage, accuracy,
  temperature it was chosen under}. `run_temperature`, `run_threshold` and `predict_options`
  read them back; runs without them keep T = 1 and the default rule.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from mnist_core.runs.storage import Run

N_BINS = 15
T_MIN, T_MAX = 0.05, 20.0  # beyond these a fit has gone wrong (or the model is constant)
DEFAULT_TARGET_ACCURACY = 0.99
BATCH = 2048


class CalibrationError(ValueError):
    """Logits, labels or a threshold that cannot be used; the message is meant for the user."""


@dataclass(frozen=True)
class CalibrationReport:
    """A temperature fit on one set: the figures before and after, and the reliability bins."""

    temperature: float
    n: int
    accuracy: float  # the same before and after: scaling never changes the top digit
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    bins_before: list[dict]
    bins_after: list[dict]
    seconds: float  # the fit alone

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The scalar figures (what the CLI prints and meta.json keeps)."""
        return {k: v for k, v in self.to_dict().items() if not k.startswith("bins")}


# ---------------------------------------------------------------- logits and probabilities


def logits(model: nn.Module, images: Any, *, batch: int = BATCH) -> torch.Tensor:
    """Raw float32 logits (N, 10) of uint8 (N, 28, 28) or float (N, 1, 28, 28) images."""
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.asarray(images))
    x = x.to(torch.float32).div(255.0).unsqueeze(1) if x.dtype == torch.uint8 else x.to(torch.float32)
    from mnist_core.evaluation.inference import inference_copy  # a channels_last copy of a CNN: ~1.7× faster

    model = inference_copy(model)
    device = next((t.device for t in (*model.parameters(), *model.buffers())), torch.device("cpu"))
    out = []
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            out.append(model(x[i : i + batch].to(device)).float().cpu())
    return torch.cat(out) if out else torch.empty(0, 10)


def _array(x: Any, dtype: type) -> np.ndarray:
    return np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=dtype)


def softmax(logit: Any, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T) as float32 numpy (computed in float64)."""
    z = _array(logit, np.float64)
    s = z / float(temperature)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def apply_temperature(probs: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities rescaled as if their logits had been divided by T.

    softmax(log p / T) equals softmax(logits / T) because log p differs from the logits by
    one constant per row; that lets `predict` keep using probabilities.
    """
    p = np.asarray(probs, dtype=np.float32)
    if temperature == 1.0:
        return p
    logp = np.log(np.maximum(p.astype(np.float64), 1e-300)) / float(temperature)
    logp -= logp.max(axis=-1, keepdims=True)
    e = np.exp(logp)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def _labels(labels: Any) -> np.ndarray:
    y = _array(labels, np.int64)
    if y.ndim != 1:
        raise CalibrationError(f"Expected one label per image, got shape {y.shape}.")
    return y


def nll(logit: Any, labels: Any, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (cross-entropy) of softmax(logits / T)."""
    z = _array(logit, np.float64)
    return _nll_and_slope(z, _labels(labels), math.log(float(temperature)))[0]


# ---------------------------------------------------------------- reliability


def reliability_bins(probs: np.ndarray, labels: Any, n_bins: int = N_BINS) -> list[dict]:
    """Equal-width confidence bins: lower, upper, count, confidence (mean top probability) and
    accuracy; an empty bin has None for both (JSON has no NaN)."""
    p = np.asarray(probs, dtype=np.float64)
    y = _labels(labels)
    if len(p) != len(y):
        raise CalibrationError(f"{len(p)} probability rows but {len(y)} labels.")
    conf, correct = p.max(axis=1), (p.argmax(axis=1) == y)
    # a confidence of exactly 1.0 belongs to the last bin, not to an extra one
    which = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    conf_sum = np.bincount(which, weights=conf, minlength=n_bins)
    right = np.bincount(which, weights=correct.astype(np.float64), minlength=n_bins)
    bins = []
    for b in range(n_bins):
        c = int(counts[b])
        bins.append(
            {
                "lower": b / n_bins,
                "upper": (b + 1) / n_bins,
                "count": c,
                "confidence": float(conf_sum[b] / c) if c else None,
                "accuracy": float(right[b] / c) if c else None,
            }
        )
    return bins


def ece_from_bins(bins: list[dict]) -> float:
    total = sum(b["count"] for b in bins)
    if not total:
        return 0.0
    return float(sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]) / total)


def expected_calibration_error(probs: np.ndarray, labels: Any, n_bins: int = N_BINS) -> float:
    """Count-weighted mean |accuracy − confidence| over the bins (0 = perfectly calibrated)."""
    return ece_from_bins(reliability_bins(probs, labels, n_bins))


# ---------------------------------------------------------------- temperature


def _nll_and_slope(z: np.ndarray, y: np.ndarray, log_t: float) -> tuple[float, float]:
    """NLL of softmax(z / T) and its derivative in log T (numpy, float64)."""
    beta = math.exp(-log_t)
    s = z * beta
    s -= s.max(axis=1, keepdims=True)
    e = np.exp(s)
    total = e.sum(axis=1)
    p = e / total[:, None]
    rows = np.arange(len(y))
    loss = float(np.mean(np.log(total) - s[rows, y]))
    # d/dβ = mean(E_p[z] − z_y); dβ/d(log T) = −β
    slope = float(np.mean((p * z).sum(axis=1) - z[rows, y])) * -beta
    return loss, slope


def fit_temperature(logit: Any, labels: Any) -> float:
    """The T minimising NLL of softmax(logits / T): L-BFGS(-B) on log T from T = 1, float64.

    scipy's L-BFGS-B with the loss and its slope in numpy: torch's LBFGS would import
    torch._dynamo on first use (1-4 s) and spread these tiny (N × 10) operations over OpenMP
    threads, whose spinning made a 0.1 s fit take 2 s on a busy 2-core machine.
    Bounded to [0.05, 20]; never worse than T = 1 on the fitted set (the start point).
    """
    from scipy.optimize import minimize

    z = _array(logit, np.float64)
    y = _labels(labels)
    if z.ndim != 2 or len(z) != len(y) or len(y) == 0:
        raise CalibrationError(f"Need logits (N, 10) and N labels, got {z.shape} and {len(y)}.")
    result = minimize(
        lambda u: _nll_and_slope(z, y, float(u[0])),
        x0=np.zeros(1),
        jac=True,
        method="L-BFGS-B",
        bounds=[(math.log(T_MIN), math.log(T_MAX))],
        options={"maxiter": 100, "ftol": 1e-15, "gtol": 1e-10},
    )
    t = math.exp(float(result.x[0]))
    if not math.isfinite(t):
        return 1.0
    return t if nll(z, y, t) <= nll(z, y, 1.0) else 1.0


def calibrate(logit: Any, labels: Any, n_bins: int = N_BINS) -> CalibrationReport:
    """Fit T on (logits, labels) and report ECE, NLL and the reliability bins before and after."""
    y = _labels(labels)
    z = _array(logit, np.float32)
    start = time.perf_counter()
    t = fit_temperature(z, y)
    seconds = time.perf_counter() - start
    before, after = softmax(z), softmax(z, t)
    bins_b, bins_a = reliability_bins(before, y, n_bins), reliability_bins(after, y, n_bins)
    accuracy = float((before.argmax(1) == y).mean()) if len(y) else 0.0
    return CalibrationReport(
        t,
        int(len(y)),
        accuracy,
        ece_from_bins(bins_b),
        ece_from_bins(bins_a),
        nll(z, y),
        nll(z, y, t),
        bins_b,
        bins_a,
        seconds,
    )


# ---------------------------------------------------------------- coverage vs accuracy


def default_thresholds() -> np.ndarray:
    """0.00, 0.01 ... 0.99, then 0.995 and 0.999: a good model's answers crowd the top end."""
    return np.concatenate([np.round(np.arange(100) / 100, 2), [0.995, 0.999]])


def coverage_curve(probs: np.ndarray, labels: Any, thresholds: Any = None) -> list[dict]:
    """Per threshold t: answered (count), coverage (share of images with top probability ≥ t)
    and accuracy on the answered ones (None when none is answered)."""
    p = np.asarray(probs, dtype=np.float64)
    y = _labels(labels)
    conf, correct = p.max(axis=1), (p.argmax(axis=1) == y)
    order = np.argsort(-conf, kind="stable")
    conf_sorted, right_cum = conf[order], np.cumsum(correct[order])
    n = len(y)
    rows = []
    for t in default_thresholds() if thresholds is None else np.asarray(thresholds, dtype=np.float64):
        answered = int(np.searchsorted(-conf_sorted, -t, side="right"))  # conf ≥ t
        rows.append(
            {
                "threshold": float(t),
                "answered": answered,
                "coverage": answered / n if n else 0.0,
                "accuracy": float(right_cum[answered - 1] / answered) if answered else None,
            }
        )
    return rows


def choose_threshold(curve: list[dict], target_accuracy: float = DEFAULT_TARGET_ACCURACY) -> dict:
    """The lowest threshold whose answered accuracy reaches the target (the most answers that
    keep the promise); if none does, the most accurate one. Returns its curve row plus "met"."""
    usable = [r for r in curve if r["answered"] > 0]
    if not usable:
        raise CalibrationError("No image is answered at any threshold: nothing to choose from.")
    meeting = [r for r in usable if r["accuracy"] >= target_accuracy]
    if meeting:
        best = min(meeting, key=lambda r: r["threshold"])
        return {**best, "met": True, "target_accuracy": target_accuracy}
    best = max(usable, key=lambda r: (r["accuracy"], r["coverage"]))
    return {**best, "met": False, "target_accuracy": target_accuracy}


# ---------------------------------------------------------------- saved with the run


def _meta(run_or_meta: Any) -> Mapping[str, Any]:
    meta = run_or_meta if isinstance(run_or_meta, Mapping) else getattr(run_or_meta, "meta", None)
    return meta if isinstance(meta, Mapping) else {}


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def run_temperature(run_or_meta: Any) -> float:
    """The run's fitted temperature, or 1.0 (no scaling) when it has none or it is unreadable."""
    cal = _meta(run_or_meta).get("calibration")
    t = _number(cal.get("temperature")) if isinstance(cal, Mapping) else None
    return t if t is not None and T_MIN <= t <= T_MAX else 1.0


def run_threshold(run_or_meta: Any) -> float | None:
    """The run's own "not sure" threshold, or None (the default rule applies)."""
    entry = _meta(run_or_meta).get("unsure_threshold")
    t = _number(entry.get("threshold")) if isinstance(entry, Mapping) else None
    return t if t is not None and 0.0 <= t <= 1.0 else None


def threshold_is_stale(run_or_meta: Any) -> bool:
    """True when the threshold was chosen under another temperature than the current one (its
    coverage figures no longer hold; choose it again)."""
    entry = _meta(run_or_meta).get("unsure_threshold")
    if not isinstance(entry, Mapping) or run_threshold(run_or_meta) is None:
        return False
    chosen_under = _number(entry.get("temperature"))
    return chosen_under is not None and abs(chosen_under - run_temperature(run_or_meta)) > 1e-9


def predict_options(run_or_meta: Any) -> dict[str, float]:
    """Keyword arguments for `predict.predict_digit` that apply the run's calibration:
    temperature, and its threshold as the only "not sure" rule (close_margin 0) when it has one."""
    options: dict[str, float] = {"temperature": run_temperature(run_or_meta)}
    threshold = run_threshold(run_or_meta)
    if threshold is not None:
        options.update(unsure_below=threshold, close_margin=0.0)
    return options


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def save_calibration(run: Run, report: CalibrationReport) -> Run:
    """Store the fitted temperature and its figures in the run's meta.json (atomically)."""
    from mnist_core.runs.storage import update_meta

    return update_meta(
        run, calibration={**report.summary(), "bins": len(report.bins_before), "fitted": _now()}
    )


def save_threshold(
    run: Run, threshold: float, *, coverage: float | None = None, accuracy: float | None = None
) -> Run:
    """Store the run's "not sure" threshold (on calibrated probabilities) in meta.json."""
    from mnist_core.runs.storage import update_meta

    t = _number(threshold)
    if t is None or not 0.0 <= t <= 1.0:
        raise CalibrationError(f"A threshold is a probability between 0 and 1, got {threshold!r}.")
    return update_meta(
        run,
        unsure_threshold={
            "threshold": t,
            "coverage": _number(coverage),
            "accuracy": _number(accuracy),
            "temperature": run_temperature(run),
            "chosen": _now(),
        },
    )


def clear_threshold(run: Run) -> Run:
    """Back to the default "not sure" rule for this run."""
    from mnist_core.runs.storage import update_meta

    return update_meta(run, unsure_threshold=None)


def validation_logits(run: Run, model: nn.Module | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """Logits and labels of the run's own validation set (rebuilt exactly; DataError if it cannot be)."""
    val = run.split().val
    model = model if model is not None else run.load_model()
    return logits(model, val.images), val.labels.numpy()


def calibrate_run(run: Run, *, n_bins: int = N_BINS, save: bool = True) -> CalibrationReport:
    """Fit the run's temperature on its validation set and (by default) save it with the run."""
    z, y = validation_logits(run)
    if len(y) == 0:
        raise CalibrationError("The run's validation set is empty: there is nothing to calibrate on.")
    report = calibrate(z, y, n_bins)
    if save:
        save_calibration(run, report)
    return report


# ---------------------------------------------------------------- command line


def add_parser(sub: Any) -> None:
    """`python -m mnist_core calibrate RUN`."""
    from mnist_core.cli.common import add_run_command

    p = add_run_command(
        sub,
        "calibrate",
        "fit and save a run's temperature on its validation set; prints ECE and NLL before/after as JSON",
    )
    p.add_argument("--bins", type=int, default=N_BINS, help=f"confidence bins for the ECE (default {N_BINS})")
    p.add_argument("--dry-run", action="store_true", help="report the fit without saving it")


def cmd_calibrate(args: Any) -> int:
    from mnist_core.runs.files import dumps
    from mnist_core.runs.storage import load_run

    if not 2 <= args.bins <= 100:
        raise CalibrationError(f"--bins must be between 2 and 100, got {args.bins}.")
    run = load_run(args.run)
    report = calibrate_run(run, n_bins=args.bins, save=not args.dry_run)
    out = {"run": str(run.path), **report.summary(), "bins": args.bins, "saved": not args.dry_run}
    if run_threshold(run) is not None:
        out["unsure_threshold"] = run_threshold(run)
        out["threshold_stale"] = threshold_is_stale(run)
    print(dumps(out), flush=True)
    return 0
