"""Running a trained model for answers: where a saved model predicts, the fast layout for a CNN,
and class probabilities for a batch of images.

Predictions are made in float32 under `torch.inference_mode` (bf16 helps training throughput but
slows single-image prediction), in large batches for whole sets, on the device the model sits on.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from mnist_core.data.preprocess import to_float

PREDICT_BATCH = 512  # images per forward pass: bigger batches are no faster, only hold more memory


def inference_device(trained_on: str = "auto") -> torch.device:
    """Where a saved model predicts: the CUDA GPU when there is one, unless its run asked for the
    CPU (`TrainConfig.device = "cpu"`); otherwise the CPU. Apple's MPS trains with device "auto"
    but predicts on the CPU, where one drawing takes under a millisecond anyway."""
    if trained_on != "cpu" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


@torch.inference_mode()
def predict_proba(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Class probabilities (N, 10) for uint8 (N, 28, 28) or float (N, 1, 28, 28) images."""
    if any(m.training for m in model.modules()):  # eval() itself costs ~20 µs of a 0.3 ms answer
        model.eval()
    device = next(iter(model.buffers()), next(iter(model.parameters()), torch.empty(0))).device

    def batch(i: int) -> torch.Tensor:
        # scaled a batch at a time: a float copy of a whole set is four times its uint8 size
        chunk = images[i : i + PREDICT_BATCH].to(device)
        return to_float(chunk) if chunk.dtype == torch.uint8 else chunk

    # written into one tensor made up front: a small result kept per batch lands in the hole the
    # batch's freed float copy left, so the next copy no longer fits there and the heap grew by
    # one batch per batch in some runs (+4x the set's uint8 size over 200,000 images)
    probs = torch.empty(len(images), 10)
    for i in range(0, len(images), PREDICT_BATCH):
        probs[i : i + PREDICT_BATCH] = F.softmax(model(batch(i)).float(), dim=1)
    return probs


def inference_copy(model: nn.Module) -> nn.Module:
    """The model itself, or for a CNN an eval-mode channels_last copy: oneDNN's convolutions run
    ~1.7× faster in that layout on a CPU (the caller's model, maybe shared, is left alone)."""
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return model.eval()
    return copy.deepcopy(model).eval().to(memory_format=torch.channels_last)
