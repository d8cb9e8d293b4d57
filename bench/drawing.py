"""`python -m bench.drawing`: how long `drawing.prepare_digit` takes for one canvas drawing.

Printed, never asserted (moved out of tests/test_drawing.py). Target: under 10 ms per
drawing on the 2-core CPU, so the Deploy page answers while the user still draws
(about 0.2 ms was measured when the target was set).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.data.drawing import prepare_digit

TARGET_MS = 10.0


def ring_canvas(size: int = 280) -> np.ndarray:
    """A "0" as the transparent drawable canvas sends it: RGB all zero, ink only in alpha."""
    ink = Image.new("L", (size, size), 0)
    ImageDraw.Draw(ink).ellipse((80, 60, 200, 220), outline=255, width=18)
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    rgba[..., 3] = np.asarray(ink)
    return rgba


def run(n: int = 200) -> None:
    print("\n## prepare_digit: one 280x280 RGBA canvas drawing -> 28x28 MNIST-style input")
    canvas = ring_canvas()
    for _ in range(10):  # warm-up: first calls pay for imports and allocations
        prepare_digit(canvas)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        prepare_digit(canvas)
        times.append((time.perf_counter() - start) * 1000)
    q = statistics.quantiles(times, n=100)
    print(
        f"p50 {q[49]:.2f} ms   p95 {q[94]:.2f} ms   max {max(times):.2f} ms  ({n} drawings; "
        f"target < {TARGET_MS:g} ms)"
    )


if __name__ == "__main__":
    run()
