"""`python -m bench` (`make bench`): every speed and memory figure, each printed with its target.

Figures are printed, never asserted: timings belong to the machine, tests check behaviour.
`--only NAME` (repeatable) runs a part; `--list` names them. On a shared machine the wall
times measure the other processes too: the header prints the load average to read them by.

Targets (issue 11, 2-core CPU): default CNN epoch over 48,000 images <= 1.5 s; default preset
on the offline sample >= 98.5 % held-out test accuracy (mean of 3 seeds), 98 % validation
within 4 s, whole run within 8 s; >= 25x faster than the pytorch/examples CNN; one drawn digit
<= 0.5 ms p95; peak RSS training on a full-MNIST-sized split <= 1.0 GB; training watched by the
app <= 1.15x headless; RSS growth over 20 trainings after the 5th <= 50 MB. Issue 25: training
through the local Dask cluster <= 1.15x in one process; the app's process idle after 10
trainings <= 600 MB; two jobs at once vs one after the other, reported; with two trainings
running, six browser sessions at once draw Train, Evaluate and Deploy in p95 <= 2 s.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bench import app_speed, memory, prediction, training
from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.data import sources as data
from mnist_core.data.preprocess import to_float
from mnist_core.training.precision import precision_name
from mnist_core.training.train import resolve_device


def _idx(array: np.ndarray) -> bytes:
    return (
        bytes([0, 0, 8, array.ndim])
        + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        + array.astype(np.uint8).tobytes()
    )


def bench_full_mnist_load() -> None:
    print("\n## Full-MNIST-sized load (60,000 + 10,000 images, generated IDX files in a temp cache)")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "mnist" / "raw"
        raw.mkdir(parents=True)
        rng = np.random.default_rng(0)
        for prefix, n in (("train", 60_000), ("t10k", 10_000)):
            for kind, arr in (
                ("images-idx3", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
                ("labels-idx1", np.arange(n) % 10),
            ):
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
    print(
        f"first load (parse IDX, write .npz cache) {first:.3f} s; new process from cache {second:.3f} s; "
        f"same process (memory) {third * 1000:.2f} ms; uint8 -> float32 {conv:.3f} s"
    )


def _module_run(name: str) -> Callable[[], None]:
    """The `run()` of bench/<name>.py, imported only when that part runs."""
    return lambda: importlib.import_module(f"bench.{name}").run()


PARTS: dict[str, Callable[[], None]] = {
    "epochs": training.bench_epochs,
    "steps": training.bench_step_shares,
    "sample": training.bench_sample,
    "reference": training.bench_reference,
    "predict": prediction.run,
    "memory": memory.run,
    "app": app_speed.bench_watched,
    "staying": app_speed.bench_staying_power,
    "load": bench_full_mnist_load,
    "drawing": _module_run("drawing"),
    "idx_memory": _module_run("idx_memory"),
    "curve": _module_run("curve"),
    "active": _module_run("active"),
    "tune": _module_run("tune"),
    "inspect": _module_run("inspect"),
    "app_server": _module_run("app_server"),
    "monitor": _module_run("monitor"),
    "labels": _module_run("labels"),
    "cluster": _module_run("cluster"),
    "sessions": _module_run("sessions"),
}


def header() -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"torch {torch.__version__}, device {resolve_device('auto')}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs ({torch.backends.cpu.get_cpu_capability()}), load average {load}, "
        f"default preset trains in {precision_name(PRESETS[DEFAULT_PRESET], resolve_device('auto'))}, "
        f"MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}"
    )
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print("(the machine is busy: more runnable processes than CPUs, so the times below are inflated)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=sorted(PARTS), action="append", help="run only this part")
    parser.add_argument("--list", action="store_true", help="name the parts and exit")
    args = parser.parse_args()
    if args.list:
        print(" ".join(PARTS))
        return
    torch.set_flush_denormal(True)
    header()
    for name, part in PARTS.items():
        if not args.only or name in args.only:
            part()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\npeak memory (RSS) of this bench process {peak:,.0f} MB (the training figure is the 'memory' part's)"
    )


if __name__ == "__main__":
    main()
