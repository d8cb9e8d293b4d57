"""`python -m bench`: epoch time per model family, time to 98 % on the sample, prediction
latency for one drawn digit, and full-MNIST load time from the cache.

Figures are printed, never asserted: timings belong to the machine, tests check behaviour.
Targets (2-core CPU): default CNN epoch over 48,000 images <= 4 s; default training on the
offline sample >= 98 % on its held-out test split in <= 30 s; one drawn digit <= 5 ms p95.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mnist_core import data
from mnist_core.config import PRESETS, DEFAULT_PRESET, TrainConfig
from mnist_core.data import Images, SourceInfo
from mnist_core.drawing import prepare_digit, to_model_input
from mnist_core.preprocess import DataSplit, make_split, to_float
from mnist_core.train import EpochRecord, Trainer, loss_and_accuracy


def synthetic_split(n_train: int = 48_000, n_val: int = 1_000) -> DataSplit:
    gen = torch.Generator().manual_seed(0)
    def images(n: int) -> Images:
        return Images(torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=gen),
                      torch.randint(0, 10, (n,), generator=gen))
    return DataSplit(images(n_train), images(n_val), SourceInfo("synthetic", "synthetic", "synthetic"))


def bench_epochs(epochs: int = 4) -> None:
    print(f"\n## Epoch over 48,000 images (synthetic tensors; median and fastest of epochs 2-{epochs}, "
          "batch size as configured)")
    split = synthetic_split()
    families = {"logreg": TrainConfig(model="logreg", augment=False),
                "mlp": TrainConfig(model="mlp"),
                "cnn (default)": PRESETS[DEFAULT_PRESET]}
    for name, cfg in families.items():
        trainer = Trainer(cfg.replace(epochs=epochs), split)
        # the first epoch pays one-off costs (imports, allocator warm-up); a shared VM's
        # speed drifts by +-20 %, hence the median and the fastest
        secs = [r.seconds for r in trainer.run() if isinstance(r, EpochRecord)][1:]
        med = statistics.median(secs)
        print(f"{name:15} {med:6.2f} s/epoch (fastest {min(secs):.2f})  {48_000 / med:9,.0f} img/s  "
              f"({trainer.n_parameters:,} params, batch {cfg.batch_size}, augment {cfg.augment})")


def bench_sample_training() -> None:
    print("\n## Default preset on the offline sample (train / val / held-out test)")
    cfg = PRESETS[DEFAULT_PRESET]
    split = make_split("sample", cfg)
    t0 = time.perf_counter()
    trainer = Trainer(cfg, split)
    reached = None
    for rec in trainer.run():
        if isinstance(rec, EpochRecord) and reached is None and rec.val_acc >= 0.98:
            reached = (rec.epoch, time.perf_counter() - t0)
    total = time.perf_counter() - t0
    test = data.load_test("sample")
    test_loss, test_acc = loss_and_accuracy(trainer.model, to_float(test.images), test.labels)
    print(f"sizes {split.sizes()}; {cfg.epochs} epochs in {total:.1f} s")
    print("98 % validation accuracy first reached: " +
          (f"epoch {reached[0]} after {reached[1]:.1f} s" if reached else "never"))
    print(f"best epoch {trainer.end.best_epoch}: val {trainer.end.best_val_acc:.2%}; "
          f"held-out test accuracy {test_acc:.2%} (n={len(test)}, loss {test_loss:.3f})")


def bench_prediction(n: int = 300) -> None:
    print("\n## One drawn digit: preprocessing (280x280 RGBA canvas) + default CNN, fp32, batch 1")
    model = Trainer(PRESETS[DEFAULT_PRESET], synthetic_split(64, 16)).model.eval()
    canvas = np.zeros((280, 280, 4), dtype=np.uint8)
    canvas[60:220, 130:150, 3] = 255  # a thick "1", ink in the alpha channel as the canvas sends it
    times = []
    with torch.inference_mode():
        for i in range(n + 20):
            t = time.perf_counter()
            prepared = prepare_digit(canvas)
            torch.softmax(model(to_model_input(prepared)), 1)
            if i >= 20:  # warm-up excluded
                times.append((time.perf_counter() - t) * 1000)
    q = statistics.quantiles(times, n=100)
    print(f"p50 {q[49]:.2f} ms   p95 {q[94]:.2f} ms   max {max(times):.2f} ms  ({n} predictions)")


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape) \
        + array.astype(np.uint8).tobytes()


def bench_full_mnist_load() -> None:
    print("\n## Full-MNIST-sized load (60,000 + 10,000 images, generated IDX files in a temp cache)")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "mnist" / "raw"
        raw.mkdir(parents=True)
        rng = np.random.default_rng(0)
        for prefix, n in (("train", 60_000), ("t10k", 10_000)):
            for kind, arr in (("images-idx3", rng.integers(0, 256, (n, 28, 28))),
                              ("labels-idx1", np.arange(n) % 10)):
                name = f"{prefix}-{kind}-ubyte"
                (raw / name).write_bytes(_idx(arr))
                (raw / f"{name}.gz").write_bytes(gzip.compress(_idx(arr), compresslevel=1))
        cache = Path(tmp)
        data._idx_part.cache_clear()
        t = time.perf_counter()
        pool = data.load_train_pool("mnist", cache)
        first = time.perf_counter() - t
        data._idx_part.cache_clear()  # simulate a new process: only the .npz cache helps
        t = time.perf_counter()
        data.load_train_pool("mnist", cache)
        second = time.perf_counter() - t
        t = time.perf_counter()
        data.load_train_pool("mnist", cache)
        third = time.perf_counter() - t
        t = time.perf_counter()
        to_float(pool.images)
        conv = time.perf_counter() - t
    print(f"first load (parse IDX, write .npz cache) {first:.3f} s; new process from cache {second:.3f} s; "
          f"same process (memory) {third * 1000:.2f} ms; uint8 -> float32 {conv:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=("epochs", "sample", "predict", "load"), action="append")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}")
    steps = {"epochs": bench_epochs, "sample": bench_sample_training,
             "predict": bench_prediction, "load": bench_full_mnist_load}
    for name, step in steps.items():
        if not args.only or name in args.only:
            step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (RSS) {peak:,.0f} MB")


if __name__ == "__main__":
    main()
