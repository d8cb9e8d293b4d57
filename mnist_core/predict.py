"""One digit in, one honest answer out: what the Deploy page and the CLI's `predict` run.

`predict_digit` takes a canvas drawing, a photo or an already prepared digit, runs it
through `drawing.prepare_digit` (the same MNIST-style preprocessing for every input) and
the model in fp32 under `torch.inference_mode`, and returns a `Prediction`: no digit at
all for a blank input, otherwise the ten probabilities, the top digit and whether the
model is unsure (top probability low, or the runner-up close behind).
The rest of the module serves the deployed model's life after training: the quick demo
model trained when none exists, small image helpers for display and storage, and the
comparison of field accuracy (users' drawings) with validation accuracy (MNIST).
"""

from __future__ import annotations

import hashlib
import io
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from .config import PRESETS, TrainConfig
from .drawing import BLANK_MESSAGE, PreparedDigit, load_image_file, prepare_digit, to_model_input

UNSURE_BELOW = 0.6  # top probability under this: the model is guessing
CLOSE_MARGIN = 0.3  # top minus runner-up under this: two digits compete
QUICK_EPOCHS = 6  # the demo model: ~5 s on the offline sample with 2 CPU cores
QUICK_MAX_TRAIN = 12_000  # caps full MNIST so the demo model still trains in seconds
PNG_MAX_SIDE = 560  # stored originals of uploads are shrunk to this; canvases are 280 px anyway


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


def _device(model: nn.Module) -> torch.device:
    # the majority baseline has only a buffer, no parameters
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _prepare(image: Any) -> PreparedDigit:
    if isinstance(image, PreparedDigit):
        return image
    if image is None:
        return PreparedDigit(True, None, {}, BLANK_MESSAGE)
    return prepare_digit(image)


def predict_digit(model: nn.Module, image: Any, *, unsure_below: float = UNSURE_BELOW,
                  close_margin: float = CLOSE_MARGIN) -> Prediction:
    """Predict one digit from a canvas array, a PIL image, a PreparedDigit or None (= blank).

    Raises drawing.ImageError for arrays that are not images at all.
    """
    prepared = _prepare(image)
    if prepared.is_blank:
        return Prediction(prepared, None, None, 0.0, None, 0.0, False)
    model.eval()  # idempotent; guards against a model left in training mode (dropout, batch norm)
    with torch.inference_mode():
        x = to_model_input(prepared).to(_device(model), torch.float32)
        probs = F.softmax(model(x).float(), dim=1)[0].cpu().numpy()
    top2 = np.argsort(probs)[::-1][:2]
    top, second = float(probs[top2[0]]), float(probs[top2[1]])
    unsure = top < unsure_below or top - second < close_margin
    return Prediction(prepared, int(top2[0]), probs, top, int(top2[1]), second, unsure)


def prepare_upload(data: bytes, *, max_bytes: int = 5_000_000) -> PreparedDigit:
    """Uploaded file bytes → prepared digit; ImageError (a user-facing message) for bad files."""
    return prepare_digit(load_image_file(data, max_bytes=max_bytes))


def percent(p: float) -> str:
    """A probability as a whole percentage that never claims certainty: 0.998 is ">99%", not "100%"."""
    if p >= 0.995:
        return ">99%"
    if 0 < p < 0.005:
        return "<1%"
    return f"{p:.0%}"


def verdict(prediction: Prediction) -> str:
    """One sentence saying what the model thinks, hedged when it is unsure."""
    if prediction.is_blank:
        return prediction.prepared.message or BLANK_MESSAGE
    p = prediction
    if p.is_unsure:
        return (f"Not sure: maybe a {p.digit} ({percent(p.confidence)}), "
                f"but it could be a {p.runner_up} ({percent(p.runner_up_probability)}).")
    return f"A {p.digit}, with {percent(p.confidence)} confidence."


def quick_config() -> TrainConfig:
    """The default preset, shortened so a demo that starts with no model has one within seconds."""
    preset = PRESETS["fast CNN"]
    cap = preset.max_train_samples or QUICK_MAX_TRAIN
    return preset.replace(epochs=min(preset.epochs, QUICK_EPOCHS), max_train_samples=min(cap, QUICK_MAX_TRAIN))


# ---------------------------------------------------------------- images for display and storage


def enlarge(image: np.ndarray, size: int = 140) -> np.ndarray:
    """A small uint8 or [0, 1] float image scaled up with hard pixel edges, so 28×28 stays readable."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    h, w = arr.shape[:2]
    scale = size / max(h, w, 1)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(arr).resize(new, Image.Resampling.NEAREST))


def png_bytes(image: np.ndarray | Image.Image, *, max_side: int = PNG_MAX_SIDE) -> bytes:
    """PNG bytes of an image array or PIL image, shrunk (aspect kept) to at most `max_side`."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if img.mode not in {"L", "LA", "RGB", "RGBA"}:
        img = img.convert("RGBA")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def fingerprint(data: bytes) -> str:
    """A short content hash: the same drawing gives the same value, so it is stored only once."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


# ---------------------------------------------------------------- field accuracy vs validation


def digit_gaps(field_entry: dict, val_per_class: list | None) -> list[dict]:
    """Per digit: drawings, field accuracy, validation accuracy (recall) and their gap.

    `field_entry` is one item of `DrawingStore.field_accuracy()`; `val_per_class` the
    `per_class` of the run's validation EvalResult (None when unknown). Missing values are None.
    """
    val = {c.digit: c.recall for c in (val_per_class or [])}
    rows = []
    for digit in range(10):
        d = field_entry["per_digit"][digit]
        field_acc, val_acc = d["accuracy"], val.get(digit)
        gap = None if field_acc is None or val_acc is None else field_acc - val_acc
        rows.append({"digit": digit, "drawings": d["n"], "field_accuracy": field_acc,
                     "val_accuracy": val_acc, "gap": gap})
    return rows


def field_summary(field: list[dict], runs: dict[str, Any]) -> list[dict]:
    """One row per model that predicted collected drawings, with its MNIST accuracies next to it.

    `runs` maps run id → storage.Run for the runs that still exist; a deleted run keeps its
    field numbers but has no validation/test accuracy.
    """
    rows = []
    for entry in field:
        run = runs.get(entry["model"]) if entry["model"] else None
        meta = run.meta if run is not None else {}
        val_acc, test_acc = meta.get("val_accuracy"), meta.get("test_accuracy")
        rows.append({
            "model": run.label if run is not None else f"{entry['model'] or 'unknown'} (deleted)",
            "run_id": entry["model"], "drawings": entry["n"], "field_accuracy": entry["accuracy"],
            "val_accuracy": val_acc, "test_accuracy": test_acc,
            "gap": None if entry["accuracy"] is None or val_acc is None else entry["accuracy"] - val_acc,
        })
    return rows
