"""Loading a saved run's weights into its model (safetensors: nothing is unpickled); non-finite
or mismatched weights are refused with a message saying to train the run again."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from torch import nn

from mnist_core import files
from mnist_core.config import TrainConfig
from mnist_core.evaluation.inference import inference_device
from mnist_core.runs.files import WEIGHTS, WEIGHTS_LIMIT, StorageError
from mnist_core.training.models import build_model


def load_model(path: Path, config: TrainConfig, device: str | None = None) -> nn.Module:
    """Build the model for `config` and fill it with the saved weights (safetensors: no pickle),
    on `device` (default `inference.inference_device`: the GPU when there is one)."""
    weights = Path(path) / WEIGHTS
    if not weights.exists() and not weights.is_symlink():
        raise StorageError(f"{weights} is missing: the run cannot predict. Train it again.")
    try:  # through the guarded opener: a link to a device, a FIFO or a huge file is refused unread
        state = load_safetensors(files.read_bytes(weights, limit=WEIGHTS_LIMIT, what="weights file"))
    except files.FileRefused as exc:
        raise StorageError(f"{exc}. Train the run again.") from exc
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise StorageError(f"{weights} is damaged ({exc}). Train the run again.") from exc
    if not all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point()):
        raise StorageError(
            f"The model is damaged: non-finite weights (NaN or infinity) in {weights}. Train the run again."
        )
    model = build_model(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise StorageError(f"{weights} does not match its config.json ({str(exc)[:200]}).") from exc
    return model.to(device or inference_device(config.device)).eval()
