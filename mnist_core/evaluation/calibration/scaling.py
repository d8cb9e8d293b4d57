"""Temperature scaling and the figures that judge it: reliability bins, ECE and NLL.

- `reliability_bins` / `expected_calibration_error`: confidence (top probability) in equal-width
  bins against the accuracy in each bin, with counts; ECE is the count-weighted mean gap.
- `fit_temperature`: one scalar T with softmax(logits / T), fitted by L-BFGS on log T (so T
  stays positive) minimising the validation NLL, in float64 (12,000 × 10 logits: ~20 ms).
  Dividing all logits by one positive number never changes the top digit, so accuracy is
  untouched; T > 1 softens an over-confident model. One parameter fitted on thousands of
  images barely overfits, so the figures after scaling are reported on the same validation set.
- `calibrate` fits T and reports the figures before and after; `calibration_figures` reports
  them for a T already chosen, from probabilities alone (the Evaluate page and the report).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

N_BINS = 15
T_MIN, T_MAX = 0.05, 20.0  # beyond these a fit has gone wrong (or the model is constant)
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
    from mnist_core.evaluation.inference import inference_copy  # a channels_last copy of a CNN: ~1.7× faster

    model = inference_copy(model)
    device = next((t.device for t in (*model.parameters(), *model.buffers())), torch.device("cpu"))

    def scaled(chunk: torch.Tensor) -> torch.Tensor:
        # a batch at a time: a float copy of the whole set is four times its uint8 size
        return (
            chunk.to(torch.float32).div(255.0).unsqueeze(1) if chunk.dtype == torch.uint8 else chunk.float()
        )

    out = torch.empty(len(x), 10)  # one tensor made up front, as in inference.predict_proba
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            out[i : i + batch] = model(scaled(x[i : i + batch]).to(device)).float()
    return out


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


def calibration_figures(probs: np.ndarray, labels: Any, temperature: float) -> CalibrationReport:
    """`calibrate`'s figures for a temperature already chosen, from probabilities: softmax(log p / T)
    equals softmax(logits / T) (`apply_temperature`), so no logits are needed."""
    y = _labels(labels)
    p = np.asarray(probs, dtype=np.float32)
    logp = np.log(np.maximum(p.astype(np.float64), 1e-300))
    before, after = reliability_bins(p, y), reliability_bins(apply_temperature(p, temperature), y)
    accuracy = float((p.argmax(1) == y).mean()) if len(y) else 0.0
    return CalibrationReport(
        float(temperature),
        int(len(y)),
        accuracy,
        ece_from_bins(before),
        ece_from_bins(after),
        nll(logp, y),
        nll(logp, y, temperature),
        before,
        after,
        0.0,
    )
