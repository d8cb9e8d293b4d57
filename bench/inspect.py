"""Look-inside figures: attribution + feature maps for one drawing, the PCA map of a validation
set, the temperature fit, the full robustness sweep, t-SNE, and the attribution methods'
faithfulness (the deletion test behind explain.DEFAULT_METHOD).

Printed, never asserted (timings belong to the machine). Targets (2-core CPU): attribution +
feature maps for one drawing <= 150 ms; PCA map of the validation set (12,000 images) <= 1 s;
full robustness sweep on 2,000 validation images <= 20 s; temperature fit <= 1 s. Wall and
CPU seconds are both printed: on a shared machine the wall time mostly measures the others.
The offline sample has 858 validation images, so the 12,000- and 2,000-image figures repeat
them to full-MNIST size (the work per image is the same).

    python -m bench.inspect        (not `python bench/inspect.py`: that would shadow the
                                    standard library's `inspect` module)
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mnist_core.config import quick_config
from mnist_core.data.drawing import prepare_digit
from mnist_core.evaluation import calibration, embedding, explain, robustness
from mnist_core.runs.storage import Run, load_run
from mnist_core.training.pipeline import SavedRecord, train_and_save


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def _train(home: Path) -> Run:
    """The demo model (default CNN architecture, a few epochs on the sample): ~5 s on 2 cores."""
    saved = None
    for rec in train_and_save(quick_config(), "sample", home=home, name="bench"):
        if isinstance(rec, SavedRecord):
            saved = rec
    assert saved is not None, "the bench model did not train"
    return load_run(saved.path)


def _canvas(digit: np.ndarray, side: int = 280) -> np.ndarray:
    """A 28×28 digit as the canvas sends it: RGBA, ink in alpha, 10× bigger."""
    from PIL import Image

    alpha = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR))
    canvas = np.zeros((side, side, 4), np.uint8)
    canvas[..., 3] = alpha
    return canvas


def _repeat(x: torch.Tensor, n: int) -> torch.Tensor:
    return x.repeat((-(-n // len(x)),) + (1,) * (x.ndim - 1))[:n]


def bench_drawing(model: torch.nn.Module, digits: np.ndarray, n: int = 40) -> None:
    print(
        "\n## One drawing: attribution (log p of the answer) + feature maps of every block (target <= 150 ms)"
    )
    canvases = [_canvas(d) for d in digits[:n]]
    for method in explain.METHODS:
        for c in canvases[:3]:  # warm-up: Captum's import and first allocations
            explain.attribution(model, prepare_digit(c), method=method)
        times, cpu = [], []
        for c in canvases:
            start = _clock()
            prepared = prepare_digit(c)
            explain.attribution(model, prepared, method=method)
            explain.activations(model, prepared)
            wall, proc = _since(start)
            times.append(wall * 1000)
            cpu.append(proc * 1000)
        q = statistics.quantiles(times, n=20)
        print(
            f"{explain.METHOD_LABELS[method]:22} p50 {statistics.median(times):6.1f} ms  p95 {q[18]:6.1f} ms  "
            f"(CPU p50 {statistics.median(cpu):.1f} ms){'  <- default' if method == explain.DEFAULT_METHOD else ''}"
        )


def deletion_score(
    model: torch.nn.Module, image: np.ndarray, values: np.ndarray, predicted: int, steps: int = 11
) -> float:
    """Mean probability of the predicted digit while its ink is deleted in the map's order."""
    x = torch.from_numpy(image).float().div(255).reshape(-1)
    ink = int((x > 0).sum())
    order = torch.from_numpy(np.argsort(-values.reshape(-1), kind="stable").copy())
    batch = []
    for frac in np.linspace(0, 1, steps):
        z = x.clone()
        z[order[: int(round(frac * ink))]] = 0
        batch.append(z.reshape(1, 28, 28))
    with torch.inference_mode():
        return float(torch.softmax(model(torch.stack(batch)), 1)[:, predicted].mean())


def bench_faithfulness(model: torch.nn.Module, digits: np.ndarray, n: int = 150) -> None:
    print(f"\n## Faithfulness: deletion test on {n} validation images (lower = the map found what matters)")
    rng = np.random.default_rng(0)
    scores: dict[str, list[float]] = {m: [] for m in (*explain.METHODS, "random order")}
    for image in digits[:n]:
        for method in explain.METHODS:
            a = explain.attribution(model, image, method=method)
            scores[method].append(deletion_score(model, image, a.values, a.predicted))
        noise = rng.random((28, 28)) * (image > 0)
        scores["random order"].append(deletion_score(model, image, noise, a.predicted))
    for name, s in scores.items():
        label = explain.METHOD_LABELS.get(name, name)
        print(f"{label:22} {np.mean(s):.3f}")


def bench_pca(model: torch.nn.Module, images: torch.Tensor, n: int = 12_000) -> None:
    print(f"\n## PCA map of a {n:,}-image validation set: features (forward + hook) + PCA (target <= 1 s)")
    big = _repeat(images, n)
    embedding.pca_2d(embedding.features(model, big[:500]))  # warm-up
    start = _clock()
    feats = embedding.features(model, big)
    mid = _since(start)
    proj = embedding.pca_2d(feats)
    wall, cpu = _since(start)
    print(
        f"features {mid[0]:.2f} s + PCA {wall - mid[0]:.3f} s = {wall:.2f} s  (CPU {cpu:.2f} s; "
        f"{feats.features.shape[1]} features, axes explain {proj.explained[0]:.0%} + {proj.explained[1]:.0%})"
    )
    start = _clock()
    points = embedding.embedding_points(proj, np.zeros(n, np.int64), feats.probs, big.numpy())
    wall, _ = _since(start)
    print(
        f"chart rows with a thumbnail PNG each: {wall:.2f} s for {len(points):,} points "
        f"({sum(len(p['image']) for p in points) / 1e6:.1f} MB of data URLs)"
    )


def bench_temperature(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, n: int = 12_000
) -> None:
    print(f"\n## Temperature fit on {n:,} validation logits (target <= 1 s)")
    z = calibration.logits(model, _repeat(images, n))
    y = _repeat(labels, n).numpy()
    calibration.fit_temperature(z[:100], y[:100])  # warm-up: scipy.optimize's import
    start = _clock()
    report = calibration.calibrate(z, y)
    wall, cpu = _since(start)
    print(
        f"fit {report.seconds * 1000:.0f} ms (with ECE and bins {wall * 1000:.0f} ms, CPU {cpu * 1000:.0f} ms): "
        f"T = {report.temperature:.3f}, ECE {report.ece_before:.2%} -> {report.ece_after:.2%}, "
        f"NLL {report.nll_before:.4f} -> {report.nll_after:.4f}"
    )


def bench_robustness(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, n: int = 2000
) -> None:
    print(f"\n## Full robustness sweep on {n:,} validation images (target <= 20 s)")
    start = _clock()
    result = robustness.sweep(model, _repeat(images, n), _repeat(labels, n), label="bench")
    wall, cpu = _since(start)
    points = sum(len(c.values) for c in result.curves)
    print(
        f"{wall:.1f} s (CPU {cpu:.1f} s) for {len(result.curves)} curves, {points} strengths; "
        f"accuracy {result.accuracy:.2%}, through the app {result.app_accuracy:.2%}"
    )
    print(result.summary)


def bench_tsne(model: torch.nn.Module, images: torch.Tensor, n: int = 3000) -> None:
    print(f"\n## t-SNE of {n:,} images (background job; no target)")
    feats = embedding.features(model, _repeat(images, n))
    noisy = feats.features + np.random.default_rng(0).normal(0, 1e-3, feats.features.shape).astype(np.float32)
    start = _clock()
    for rec in embedding.tsne_records(noisy, max_points=n):
        print(f"  {rec.iteration}/{rec.iterations} iterations after {rec.seconds:.1f} s")
    wall, cpu = _since(start)
    print(f"{wall:.1f} s (CPU {cpu:.1f} s)")


def run(tsne: bool = True) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_ = _train(Path(tmp))
        print(
            f"\n(bench model: {run_.config.summary()}, {run_.meta.get('epochs_run')} epochs on the sample in "
            f"{time.perf_counter() - start:.0f} s, validation accuracy {run_.meta.get('val_accuracy', 0):.2%})"
        )
        model = run_.load_model()
        val = run_.split().val
        digits = val.images.numpy()
        bench_drawing(model, digits)
        bench_faithfulness(model, digits)
        bench_pca(model, val.images)
        bench_temperature(model, val.images, val.labels)
        bench_robustness(model, val.images, val.labels)
        if tsne:
            bench_tsne(model, val.images)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-tsne", action="store_true", help="skip the t-SNE figure (~10-20 s)")
    run(tsne=not parser.parse_args().no_tsne)
