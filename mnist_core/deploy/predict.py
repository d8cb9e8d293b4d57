"""One digit in, one honest answer out: what the Deploy page and the CLI's `predict` run.

`predict_digit` takes a canvas drawing, a photo or an already prepared digit, runs it
through `drawing.prepare_digit` (the same MNIST-style preprocessing for every input) and
the model (`inference.predict_proba`: fp32 under `torch.inference_mode`), and returns a
`Prediction`: no digit at all for a blank input, otherwise the ten probabilities, the top
digit and whether the model is unsure (top probability low, or the runner-up close behind).
`answer_text` says that in one hedged sentence. Only prediction lives here: the quick demo
config is `config.quick_config`, pictures are `images`, field accuracy is `collect`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mnist_core import text
from mnist_core.data.drawing import (
    BLANK_MESSAGE,
    PreparedDigit,
    load_image_file,
    prepare_digit,
    to_model_input,
)
from mnist_core.evaluation.calibration.scaling import apply_temperature
from mnist_core.evaluation.inference import predict_proba
from mnist_core.files import read_bytes

UNSURE_BELOW = 0.6  # top probability under this: the model is guessing
CLOSE_MARGIN = 0.3  # top minus runner-up under this: two digits compete
MAX_UPLOAD_BYTES = 5_000_000


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one input; `digit` is None when there was nothing to read."""

    prepared: PreparedDigit
    digit: int | None
    probabilities: np.ndarray | None  # (10,) float32 softmax, None when blank
    confidence: float  # probability of `digit`; 0.0 when blank
    runner_up: int | None
    runner_up_probability: float
    is_unsure: bool

    @property
    def is_blank(self) -> bool:
        return self.digit is None


def _prepare(image: Any) -> PreparedDigit:
    if isinstance(image, PreparedDigit):
        return image
    if image is None:
        return PreparedDigit(True, None, {}, BLANK_MESSAGE)
    return prepare_digit(image)


def answering_thread() -> ThreadPoolExecutor:
    """A one-thread executor whose torch runs a single intra-op thread: where an app answers
    drawings one at a time (Deploy submits every `predict_digit` to it).

    A batch of one gains nothing from a second thread, and on a busy CPU (a training job, other
    programs) waking it took ~200 ms per answer against ~1 ms alone. Torch's thread count is per
    thread once a thread has used it, so the process default that new threads (training jobs)
    start from is put back at once.
    """
    default = torch.get_num_threads()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")

    def single_threaded() -> None:
        torch.get_num_threads()  # this thread's own setting first, so the restore cannot undo it
        torch.set_num_threads(1)

    pool.submit(single_threaded).result()
    torch.set_num_threads(default)
    return pool


def predict_digit(
    model: nn.Module,
    image: Any,
    *,
    unsure_below: float = UNSURE_BELOW,
    close_margin: float = CLOSE_MARGIN,
    temperature: float = 1.0,
) -> Prediction:
    """Predict one digit from a canvas array, a PIL image, a PreparedDigit or None (= blank).

    `temperature` is the run's calibration (softmax(logits / T)); `calibration.predict_options(run)`
    gives it and the run's own "not sure" threshold as keyword arguments.
    Raises drawing.ImageError for arrays that are not images at all.
    """
    prepared = _prepare(image)
    if prepared.is_blank:
        return Prediction(prepared, None, None, 0.0, None, 0.0, False)
    probs = apply_temperature(predict_proba(model, to_model_input(prepared))[0].numpy(), temperature)
    top2 = np.argsort(probs)[::-1][:2]
    top, second = float(probs[top2[0]]), float(probs[top2[1]])
    unsure = top < unsure_below or top - second < close_margin
    return Prediction(prepared, int(top2[0]), probs, top, int(top2[1]), second, unsure)


def prepare_upload(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> PreparedDigit:
    """Uploaded file bytes → prepared digit; ImageError (a user-facing message) for bad files."""
    return prepare_digit(load_image_file(data, max_bytes=max_bytes))


def prepare_image_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_UPLOAD_BYTES) -> PreparedDigit:
    """An image file → prepared digit: its size is checked before reading and the read capped,
    and only a regular file is read (FileRefused for a pipe, a device, a larger file)."""
    return prepare_upload(read_bytes(path, limit=max_bytes, what="image"), max_bytes=max_bytes)


def percent(p: float) -> str:
    """A probability as a whole percentage that never claims certainty: 0.998 is ">99%", not "100%"."""
    if p >= 0.995:
        return ">99%"
    if 0 < p < 0.005:
        return "<1%"
    return text.percent(p, 0)


def answer_text(prediction: Prediction) -> str:
    """One sentence saying what the model thinks, hedged when it is unsure."""
    if prediction.is_blank:
        return prediction.prepared.message or BLANK_MESSAGE
    p = prediction
    if p.is_unsure:
        return (
            f"Not sure: maybe a {p.digit} ({percent(p.confidence)}), "
            f"but it could be a {p.runner_up} ({percent(p.runner_up_probability)})."
        )
    return f"A {p.digit}, with {percent(p.confidence)} confidence."
