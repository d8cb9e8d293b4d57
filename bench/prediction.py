"""One drawn digit answered server-side: a 280x280 RGBA canvas through `predict.predict_digit`
(`drawing.prepare_digit`, then the default CNN in fp32 under inference mode, batch 1).

Target (issue 11): <= 0.5 ms p95. Printed with the share of the preprocessing, for the trained
model as saved and for its `models.for_inference` copy (batch norm folded, no dropout), which is
the one the Deploy page answers drawings with (`ui.answering_model`), on Deploy's single-threaded
answering thread (`predict.answering_thread`), the hop to it included.
Printed, never asserted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image, ImageDraw

from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.data.drawing import prepare_digit
from mnist_core.deploy.predict import answering_thread, predict_digit
from mnist_core.evaluation.inference import inference_device
from mnist_core.training.models import build_model, for_inference


def seven_canvas(size: int = 280) -> np.ndarray:
    """A "7" as the drawable canvas sends it: RGB all zero, the strokes in the alpha channel."""
    ink = Image.new("L", (size, size), 0)
    ImageDraw.Draw(ink).line([(70, 60), (210, 60), (120, 230)], fill=255, width=18, joint="curve")
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    rgba[..., 3] = np.asarray(ink)
    return rgba


def quantiles_ms(fn: Callable[[], object], n: int = 500, warmup: int = 30) -> tuple[float, float]:
    """(p50, p95) milliseconds of `fn()` over `n` calls after `warmup` calls."""
    times = []
    for i in range(warmup + n):
        t = time.perf_counter()
        fn()
        if i >= warmup:
            times.append((time.perf_counter() - t) * 1000)
    q = statistics.quantiles(times, n=100)
    return q[49], q[94]


def run() -> None:
    cfg = PRESETS[DEFAULT_PRESET]
    device = inference_device(cfg.device)  # where a saved run's model answers (runs.models.load_model)
    print(
        f"\n## One drawn digit server-side: 280x280 canvas -> prepare_digit -> default CNN "
        f"(fp32, batch 1, on {device.type}; this process has {torch.get_num_threads()} CPU threads)"
    )
    torch.manual_seed(0)
    model = build_model(cfg).to(device).eval()  # untrained weights take exactly as long as trained ones
    canvas = seven_canvas()
    prep50, prep95 = quantiles_ms(lambda: prepare_digit(canvas))
    print(f"prepare_digit alone       p50 {prep50:.3f} ms   p95 {prep95:.3f} ms")
    folded = for_inference(model)  # what Deploy answers with (`ui.answering_model`)
    for name, net in (("model as saved", model), ("folded, as Deploy answers", folded)):
        p50, p95 = quantiles_ms(lambda net=net: predict_digit(net, canvas))
        print(f"predict_digit, {name:26} p50 {p50:.3f} ms   p95 {p95:.3f} ms   target p95 <= 0.5 ms")
    thread = answering_thread()  # Deploy's single-threaded answering thread: the hop to it added
    p50, p95 = quantiles_ms(lambda: thread.submit(predict_digit, folded, canvas).result())
    print(f"the same on Deploy's answering thread, hop included: p50 {p50:.3f} ms   p95 {p95:.3f} ms")
    thread.shutdown()
