"""Peak memory of training the default preset on a full-MNIST-sized split, in a fresh process.

Target (issue 11): peak RSS <= 1.0 GB. The process reads 60,000 + 10,000 generated images from
IDX files in a temporary cache (as full MNIST would be read), splits them 48,000 / 12,000, trains
the default preset for a few epochs (the peak comes in the first: later epochs allocate nothing
new), evaluates on validation and saves the run. It prints its RSS after each stage, so the
share of torch itself, the data and the training is visible. Printed, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

EPOCHS = 3

_CHILD = """
import sys, time
from pathlib import Path

def status(key):  # MB; VmHWM, not ru_maxrss: that one keeps the parent's peak across fork + exec
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":")) / 1024

def rss():
    return f"{status('VmRSS'):,.0f} MB now, peak {status('VmHWM'):,.0f} MB"

import torch
print("after import torch:        ", rss())
from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.training.pipeline import train_and_save
from mnist_core.data.preprocess import make_split
cfg = PRESETS[DEFAULT_PRESET].replace(epochs=int(sys.argv[1]))
split = make_split("mnist", cfg)
print(f"after loading + splitting:  {rss()}  (sizes {split.sizes()})")
t = time.perf_counter()
for rec in train_and_save(cfg, "mnist", home=Path(sys.argv[2]), split=split):
    if rec.kind == "epoch" and rec.epoch == 1:
        print("after the first epoch:     ", rss())
print(f"after training + saving:    {rss()}  ({cfg.epochs} epochs in {time.perf_counter() - t:.1f} s)")
print(f"PEAK {status('VmHWM'):.0f}")
"""


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fake_mnist(cache: Path) -> None:
    """Full-MNIST-sized IDX files (random pixels, balanced labels) where the loader looks for them."""
    raw = cache / "mnist" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60_000), ("t10k", 10_000)):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            _idx(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(np.arange(n) % 10))


def peak_training_rss(epochs: int = EPOCHS) -> float:
    """Peak RSS (MB) of a fresh process training the default preset on 48,000 / 12,000 images."""
    with tempfile.TemporaryDirectory() as tmp:
        cache, home = Path(tmp) / "cache", Path(tmp) / "home"
        write_fake_mnist(cache)
        env = {**os.environ, "MNIST_STUDIO_CACHE": str(cache)}
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(epochs), str(home)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        raise RuntimeError(f"the training process failed:\n{out.stderr[-2000:]}")
    lines = out.stdout.splitlines()
    for line in lines[:-1]:
        print(line)
    return float(lines[-1].split()[1])


def run() -> None:
    print(f"\n## Peak memory: default preset on a full-MNIST-sized split (fresh process, {EPOCHS} epochs)")
    peak = peak_training_rss()
    print(
        f"peak RSS {peak:,.0f} MB   target <= 1,000 MB "
        f"(MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')})"
    )


if __name__ == "__main__":
    run()
