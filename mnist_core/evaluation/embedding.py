"""Where do the validation images sit? Penultimate-layer features projected to 2-D.

`features` runs a set of images through the model once and records, with a forward hook, the
input of the last linear layer (what the classifier's final step sees: the CNN's 128 units, an
MLP's last hidden layer, raw pixels for logistic regression) together with the probabilities.

Two projections:
- `pca_2d`, the default: exact, instant (a D×D eigendecomposition, D ≤ 784) and deterministic:
  the covariance (one float32 matrix product) is decomposed in float64 and each axis's sign is
  fixed (its largest loading is positive), because eigenvectors are only defined up to sign
  and LAPACK may flip them.
  New points (the drawing on the Deploy page) are placed with the same linear map.
- `tsne_records`, on request: scikit-learn's t-SNE on at most 3,000 images, as a generator of
  progress records for a background job. scikit-learn has no progress callback, so the run is
  split into 250-iteration legs (its smallest `max_iter`), each starting from the previous
  layout: the first leg is the early-exaggeration phase, later legs run without exaggeration
  and one learning rate throughout. Every leg yields the layout so far, so the map can sharpen
  on screen. It runs on one OpenMP thread: on a busy 2-core machine scikit-learn's two
  threads spun against the training job and took 20 s for a leg that one thread ends in 1.5 s.
  t-SNE has no transform: a new point is placed at the mean of its nearest neighbours'
  positions (in feature space).
`embedding_points` turns a projection into chart rows (with a thumbnail PNG per point for the
tooltip); `points_in_box` answers an interval selection.
"""

from __future__ import annotations

import base64
import contextlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from mnist_core.evaluation.explain import one_thread

TSNE_MAX_POINTS = 3000
TSNE_LEG = 250  # scikit-learn's smallest max_iter, and its early-exaggeration phase
TSNE_ITERATIONS = 1000
BATCH = 2048


class EmbeddingError(ValueError):
    """A model or input that cannot be embedded; the message is meant for the user."""


@dataclass(frozen=True)
class FeatureSet:
    """Penultimate-layer features and the model's probabilities for a set of images."""

    features: np.ndarray  # (N, D) float32
    probs: np.ndarray  # (N, 10) float32

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(1)


@dataclass(frozen=True)
class Projection:
    """A 2-D map of N images (rows `indices` of the embedded set) and how to place new points."""

    method: str  # "pca" or "tsne"
    coords: np.ndarray  # (n, 2) float32
    indices: np.ndarray  # (n,) int64: which rows of the feature set the coords belong to
    explained: tuple[float, float] | None = None  # PCA: share of variance on each axis
    mean: np.ndarray | None = None  # PCA: (D,)
    components: np.ndarray | None = None  # PCA: (2, D)
    reference: np.ndarray | None = field(default=None, repr=False)  # t-SNE: (n, D) features of the points


@dataclass(frozen=True)
class TsneRecord:
    """One step of a t-SNE run: the layout so far (`kind` "progress") or the final one ("done")."""

    kind: str
    iteration: int
    iterations: int
    seconds: float
    projection: Projection

    @property
    def fraction(self) -> float:
        return min(1.0, self.iteration / self.iterations) if self.iterations else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the layout itself stays in `projection`)."""
        return {
            "kind": self.kind,
            "iteration": self.iteration,
            "iterations": self.iterations,
            "seconds": round(self.seconds, 3),
            "points": int(len(self.projection.indices)),
        }


# ---------------------------------------------------------------- features


def _last_linear(model: nn.Module) -> nn.Linear:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise EmbeddingError(
            "This model has no layers to look inside (majority-class baseline): "
            "train a real model to see its embedding."
        )
    return linears[-1]


def _as_float_batch(images: Any) -> torch.Tensor:
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.asarray(images))
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise EmbeddingError(f"Expected 28×28 images, got shape {tuple(x.shape)}.")
    return x.to(torch.float32).div(255.0) if x.dtype == torch.uint8 else x.to(torch.float32)


def features(model: nn.Module, images: Any, *, batch: int = BATCH) -> FeatureSet:
    """Penultimate features (input of the last Linear) and probabilities of uint8 (N, 28, 28) or
    float (N, 1, 28, 28) images, in batches, under inference mode.

    The hook records only the calling thread's forward passes, so a model cached for several
    sessions can be used while another session predicts with it; a CNN runs as a channels_last
    copy (`inference.inference_copy`), ~1.7× faster on a CPU.
    """
    from mnist_core.evaluation.inference import inference_copy

    _last_linear(model)  # the baseline has none: say so before copying anything
    model = inference_copy(model)
    layer = _last_linear(model)
    x = _as_float_batch(images)
    device = next(iter(model.parameters())).device
    owner = threading.get_ident()
    captured: list[torch.Tensor] = []

    def hook(module: nn.Module, args: tuple) -> None:
        if threading.get_ident() == owner:
            captured.append(args[0].detach().float().reshape(args[0].shape[0], -1).cpu())

    handle = layer.register_forward_pre_hook(hook)
    probs = []
    # one drawing (the star on the map) is too small to share between OpenMP threads
    threads = one_thread() if len(x) <= 64 else contextlib.nullcontext()
    try:
        with torch.inference_mode(), threads:
            for i in range(0, len(x), batch):
                probs.append(F.softmax(model(x[i : i + batch].to(device)).float(), dim=1).cpu())
    finally:
        handle.remove()
    if not probs:
        return FeatureSet(np.zeros((0, layer.in_features), np.float32), np.zeros((0, 10), np.float32))
    return FeatureSet(torch.cat(captured).numpy(), torch.cat(probs).numpy())


# ---------------------------------------------------------------- PCA


def _fix_signs(components: np.ndarray) -> np.ndarray:
    """Each row's largest-magnitude entry made positive: the same axes on every machine and run."""
    idx = np.abs(components).argmax(axis=1)
    signs = np.sign(components[np.arange(len(components)), idx])
    signs[signs == 0] = 1.0
    return components * signs[:, None]


def pca_2d(feats: np.ndarray | FeatureSet) -> Projection:
    """The two principal axes of the features; deterministic (float64, sign-fixed)."""
    x = np.asarray(feats.features if isinstance(feats, FeatureSet) else feats, dtype=np.float32)
    if x.ndim != 2 or len(x) < 2:
        raise EmbeddingError(f"PCA needs at least two feature vectors, got shape {x.shape}.")
    mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    centred = x - mean
    # float32 product: 12,000 × 784 pixel features take 0.1 s instead of 1.6 s in float64
    cov = (centred.T @ centred).astype(np.float64) / (len(x) - 1)
    values, vectors = np.linalg.eigh(cov)  # ascending eigenvalues
    top = vectors[:, ::-1][:, :2].T
    if top.shape[0] < 2:  # one feature dimension: the second axis is flat
        top = np.vstack([top, np.zeros_like(top)])
    components = _fix_signs(top)
    total = float(values.clip(min=0).sum())
    explained = tuple(float(v) / total if total > 0 else 0.0 for v in values[::-1][:2].clip(min=0))
    components = components.astype(np.float32)
    coords = centred @ components.T
    return Projection(
        "pca", coords, np.arange(len(x), dtype=np.int64), (explained + (0.0, 0.0))[:2], mean, components
    )


# ---------------------------------------------------------------- t-SNE


def sample_indices(n: int, max_points: int = TSNE_MAX_POINTS, seed: int = 0) -> np.ndarray:
    """All of 0..n-1 when n ≤ max_points, else a seeded random subset in ascending order."""
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_points, replace=False)).astype(np.int64)


def tsne_records(
    feats: np.ndarray | FeatureSet,
    *,
    max_points: int = TSNE_MAX_POINTS,
    iterations: int = TSNE_ITERATIONS,
    perplexity: float = 30.0,
    seed: int = 0,
    stop: threading.Event | None = None,
) -> Iterator[TsneRecord]:
    """t-SNE of at most `max_points` feature vectors, one record per 250-iteration leg.

    The last record has kind "done". Setting `stop` ends the run after the current leg (its
    last record is then "progress": the layout so far). Run it in a background thread: a leg
    takes ~1-2 s for 3,000 points on two cores.
    """
    from sklearn.manifold import TSNE  # ~1 s import: only when a t-SNE is asked for
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    x_all = np.asarray(feats.features if isinstance(feats, FeatureSet) else feats, dtype=np.float32)
    if x_all.ndim != 2 or len(x_all) < 5:
        raise EmbeddingError(f"t-SNE needs at least five feature vectors, got shape {x_all.shape}.")
    max_points = min(max_points, TSNE_MAX_POINTS)
    indices = sample_indices(len(x_all), max_points, seed)
    x = x_all[indices]
    n = len(x)
    perplexity = min(perplexity, (n - 1) / 3.0)  # scikit-learn needs perplexity < n
    learning_rate = max(n / 12.0 / 4.0, 50.0)  # scikit-learn's "auto", kept for every leg
    legs = max(1, -(-iterations // TSNE_LEG))
    start = time.perf_counter()
    layout: np.ndarray | str = "pca"
    for leg in range(legs):
        tsne = TSNE(
            n_components=2,
            perplexity=perplexity,
            learning_rate=learning_rate,
            early_exaggeration=12.0 if leg == 0 else 1.0,
            max_iter=TSNE_LEG,
            init=layout,
            random_state=seed,
            method="barnes_hut",
        )
        # OpenMP's thread count is per calling thread, so this limits this job only
        with threadpool_limits(limits=1, user_api="openmp"):
            layout = tsne.fit_transform(x).astype(np.float32)
        done = leg == legs - 1
        projection = Projection("tsne", layout.copy(), indices, reference=x)
        yield TsneRecord(
            "done" if done else "progress",
            (leg + 1) * TSNE_LEG,
            legs * TSNE_LEG,
            time.perf_counter() - start,
            projection,
        )
        if stop is not None and stop.is_set():
            return


def tsne_2d(
    feats: np.ndarray | FeatureSet, *, progress: Callable[[TsneRecord], None] | None = None, **kwargs: Any
) -> Projection:
    """`tsne_records` run to the end; `progress` is called with every record."""
    last = None
    for record in tsne_records(feats, **kwargs):
        if progress is not None:
            progress(record)
        last = record
    assert last is not None  # tsne_records always yields at least one leg
    return last.projection


# ---------------------------------------------------------------- placing points, chart rows


def place(projection: Projection, new_features: np.ndarray, *, k: int = 5) -> np.ndarray:
    """Coordinates (M, 2) of new feature vectors on an existing map (e.g. the current drawing)."""
    f = np.atleast_2d(np.asarray(new_features, dtype=np.float32))
    if projection.method == "pca":
        return ((f - projection.mean) @ projection.components.T).astype(np.float32)
    ref = projection.reference
    d = ((f[:, None, :] - ref[None, :, :]) ** 2).sum(-1)  # (M, n): n ≤ 3,000, so small
    nearest = np.argsort(d, axis=1)[:, : min(k, len(ref))]
    return projection.coords[nearest].mean(axis=1).astype(np.float32)


def thumbnail_uri(image: np.ndarray, scale: int = 2) -> str:
    """A small PNG `data:` URL of one uint8 28×28 image (Vega's tooltip shows it as a picture)."""
    img = np.asarray(image, dtype=np.uint8)
    if scale > 1:
        img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)  # speed over bytes: thousands of them
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def embedding_points(
    projection: Projection,
    labels: np.ndarray,
    probs: np.ndarray,
    images: np.ndarray | None = None,
    *,
    thumbnail_scale: int = 2,
) -> list[dict]:
    """One chart row per mapped image: index (row of the embedded set), x, y, true, predicted,
    confidence, correct, and image (a PNG data URL) when `images` (uint8 (N, 28, 28)) are given.

    `labels`, `probs` and `images` are those of the whole embedded set; the projection's
    `indices` pick its rows.
    """
    idx = projection.indices
    true = np.asarray(labels)[idx]
    p = np.asarray(probs)[idx]
    pred, conf = p.argmax(1), p.max(1)
    rows = []
    for k, i in enumerate(idx):
        row = {
            "index": int(i),
            "x": float(projection.coords[k, 0]),
            "y": float(projection.coords[k, 1]),
            "true": int(true[k]),
            "predicted": int(pred[k]),
            "confidence": float(conf[k]),
            "correct": bool(true[k] == pred[k]),
        }
        if images is not None:
            row["image"] = thumbnail_uri(np.asarray(images[i]), thumbnail_scale)
        rows.append(row)
    return rows


def points_in_box(
    points: list[dict], x_range: tuple[float, float] | None, y_range: tuple[float, float] | None
) -> list[dict]:
    """The rows inside an interval selection (either range None = unbounded on that axis)."""

    def inside(v: float, r: tuple[float, float] | None) -> bool:
        return r is None or min(r) <= v <= max(r)

    return [p for p in points if inside(p["x"], x_range) and inside(p["y"], y_range)]
