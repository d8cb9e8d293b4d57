"""Why did the model say that? Attribution maps, feature maps, first-layer filters, hidden units.

Everything here works on one 28×28 input (a `PreparedDigit`, or the array the model sees) and
a saved model, computes with forward hooks and Captum, and returns plain numpy data; nothing
retrains and nothing draws (pictures: the `*_image` helpers here, charts: `inspect_charts`).

Attribution (Captum) explains the *log-probability* of one target digit, so "why a 3?" and
"why not a 7?" use one scale: red pixels raise log p(target), blue ones lower it. Log-softmax
rather than a raw logit because a logit ignores the other nine digits (ink that makes a 3 and an
8 equally likely would look "for 3"), and rather than the probability because a probability of
0.999 is saturated and has almost no gradient left. The baseline is a blank input (all zeros):
"no ink" is what the canvas starts from.

Default method: Integrated Gradients. Both were tried on the default CNN trained on the offline
sample (150 validation images; bench/inspect.py repeats the comparison):
- Faithfulness (deletion test: delete the digit's ink pixel by pixel in the order a map ranks
  them and average the predicted digit's probability over 11 steps; lower = the map found what
  matters): Integrated Gradients 0.21, Occlusion 4×4 stride 2 0.25, Occlusion 3×3 stride 1
  0.22 (ten times slower), a random order 0.61; on the 6-epoch demo model 0.20, 0.27 and 0.58.
  The two are close and the order can flip: a later quiet `make bench` (its own model) measured
  Integrated Gradients 0.273, Occlusion 0.254, random 0.611. Faithfulness does not separate
  them, so the choice rests on reading and cost, below.
- Reading: for the predicted digit, Occlusion lights up one blob. A confident answer keeps
  log p ≈ 0 when almost any single patch is removed, so only the one patch that breaks the
  digit shows, and its 4-pixel patches are a fifth of a 20-pixel digit. Integrated Gradients
  integrates along the path from the blank input, so it still shows how the whole stroke
  carries the answer, pixel by pixel, and its values add up to
  log p(target | drawing) − log p(target | blank): the map is a budget that can be read. Zero
  ink gets zero attribution by construction, so the colours sit exactly on the drawn strokes.
  Its weakness is speckle (neighbouring pixels of opposite sign, from ReLU gradients);
  `Attribution.display_scale` clips the colour scale at the 98th percentile so the stroke,
  not three hot pixels, sets the contrast.
- Occlusion reads well for "why not a 7?": broad blue regions where the drawing contradicts a
  7. It is kept as the second method (no gradients needed).
Both take a few milliseconds for the default CNN on a CPU (run on one OpenMP thread: `one_thread`).

Hooks are registered for the length of one call and only record the thread that registered
them, so a model shared by several Streamlit sessions (cached once) stays safe to use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mnist_core.data.drawing import PreparedDigit

METHODS = ("integrated_gradients", "occlusion")
METHOD_LABELS = {"integrated_gradients": "Integrated Gradients", "occlusion": "Occlusion"}
DEFAULT_METHOD = "integrated_gradients"
IG_STEPS = 32  # Gauss-Legendre points: completeness error < 1 % of the total on the default CNN
OCCLUSION_WINDOW = 4
OCCLUSION_STRIDE = 2
_ACTIVATIONS = (nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.SiLU, nn.ELU)


class ExplainError(ValueError):
    """An input or model that cannot be explained; the message is meant for the user."""


@dataclass(frozen=True)
class Attribution:
    """How much each pixel moved log p(target): > 0 for the target (red), < 0 against it (blue)."""

    values: np.ndarray  # (28, 28) float32
    target: int
    method: str  # one of METHODS
    probability: float  # the model's probability of `target` for this input
    predicted: int  # the model's top digit for this input

    @property
    def scale(self) -> float:
        """The largest |value|: the colour scale runs from -scale (blue) to +scale (red)."""
        return float(np.abs(self.values).max(initial=0.0))

    @property
    def display_scale(self) -> float:
        """The colour scale for pictures: the 98th percentile of the non-zero |values| (max if few)."""
        nonzero = np.abs(self.values[self.values != 0])
        if nonzero.size < 50:
            return self.scale
        return float(np.percentile(nonzero, 98)) or self.scale

    @property
    def total(self) -> float:
        """Sum of the map; for Integrated Gradients ≈ log p(target | input) − log p(target | blank)."""
        return float(self.values.sum(dtype=np.float64))


@dataclass(frozen=True)
class FeatureMaps:
    """The output of one convolutional block for one input, strongest channel first."""

    block: int  # 1-based
    name: str  # e.g. "block 1: 24 channels, 14×14"
    maps: np.ndarray  # (C, H, W) float32, sorted by `strength`, descending
    channels: np.ndarray  # (C,) int: each map's channel index in the layer
    strength: np.ndarray  # (C,) float32: mean activation of each map


@dataclass(frozen=True)
class HiddenLayer:
    """The activations of one hidden fully connected layer, in unit order."""

    layer: int  # 1-based
    name: str  # e.g. "hidden layer 1: 256 units"
    values: np.ndarray  # (units,) float32


@dataclass(frozen=True)
class Activations:
    """What one input does inside the network, from a single forward pass."""

    conv: list[FeatureMaps]  # one per convolutional block (empty for MLPs and the others)
    hidden: list[HiddenLayer]  # one per hidden dense layer (a CNN's has its 128-unit layer here)
    probabilities: np.ndarray  # (10,) float32


# ---------------------------------------------------------------- inputs and plumbing


def model_input(image: Any) -> torch.Tensor:
    """(1, 1, 28, 28) float32 in [0, 1] from a PreparedDigit, a 28×28 array/tensor (uint8 or 0-1 float)."""
    if isinstance(image, PreparedDigit):
        if image.is_blank or image.image is None:
            raise ExplainError(image.message or "There is no digit to explain: draw one first.")
        image = image.image
    if image is None:
        raise ExplainError("There is no digit to explain: draw one first.")
    x = image if isinstance(image, torch.Tensor) else torch.from_numpy(np.asarray(image))
    if x.numel() != 784:
        raise ExplainError(f"Expected a 28×28 image, got shape {tuple(x.shape)}.")
    # clone: a tensor made under inference_mode cannot take part in autograd (Integrated Gradients)
    x = x.detach().reshape(1, 1, 28, 28).clone()
    return x.to(torch.float32).div_(255.0) if x.dtype == torch.uint8 else x.to(torch.float32)


def _device(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _layers(model: nn.Module) -> list[nn.Module]:
    """The leaf modules in forward order (every model of models.py is one nn.Sequential)."""
    return [m for m in model.modules() if not list(m.children())]


def _block_outputs(model: nn.Module, kind: type[nn.Module]) -> list[tuple[nn.Module, nn.Module]]:
    """(layer, module whose output is the block's output) for each `kind` layer.

    A block ends at the first activation after the layer, before the next weight layer; the
    last Linear (the logits) is no hidden layer and is left out.
    """
    leaves = _layers(model)
    weights = [i for i, m in enumerate(leaves) if isinstance(m, (nn.Conv2d, nn.Linear))]
    out = []
    for k, i in enumerate(weights):
        if not isinstance(leaves[i], kind) or (kind is nn.Linear and k == len(weights) - 1):
            continue
        end = weights[k + 1] if k + 1 < len(weights) else len(leaves)
        acts = [m for m in leaves[i + 1 : end] if isinstance(m, _ACTIVATIONS)]
        out.append((leaves[i], acts[0] if acts else leaves[i]))
    return out


@contextmanager
def _recording(modules: list[nn.Module], *, inputs: bool = False) -> Iterator[dict[int, torch.Tensor]]:
    """Forward hooks on `modules` for the duration of the block: store[i] = output (or input) of i."""
    owner = threading.get_ident()
    store: dict[int, torch.Tensor] = {}

    def make(i: int):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            if threading.get_ident() == owner:  # another session's forward pass on a shared model
                value = args[0] if inputs else output
                store[i] = value.detach().float().clone()  # clone: ReLU(inplace=True) outputs are reused

        return hook

    handles = [m.register_forward_hook(make(i)) for i, m in enumerate(modules)]
    try:
        yield store
    finally:
        for h in handles:
            h.remove()


_CONTROLLER: Any = None


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch's OpenMP work of the calling thread on one thread for the block.

    One drawing is too small to share: on a busy 2-core machine, two OpenMP threads spinning
    against the other jobs made attribution + feature maps take 70-130 ms instead of 6-14 ms.
    OpenMP's thread count is per calling thread, so other sessions and a training job keep theirs.
    """
    global _CONTROLLER
    from threadpoolctl import ThreadpoolController  # scikit-learn's dependency, pinned with it

    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="openmp"):
        yield


def _log_softmax_model(model: nn.Module):
    def forward(x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(model(x).float(), dim=1)

    return forward


# ---------------------------------------------------------------- attribution


def attribution(
    model: nn.Module, image: Any, target: int | None = None, *, method: str = DEFAULT_METHOD
) -> Attribution:
    """Captum attribution of log p(target) over the 28×28 input; target None = the predicted digit.

    Raises ExplainError for a blank input, a bad target or method, or the majority baseline
    (it ignores its input, so there is nothing to attribute).
    """
    if method not in METHODS:
        raise ExplainError(f"Unknown attribution method {method!r}: use one of {', '.join(METHODS)}.")
    if not any(True for _ in model.parameters()):
        raise ExplainError(
            "This model ignores its input (majority-class baseline): there is nothing to attribute."
        )
    model.eval()
    x = model_input(image).to(_device(model))
    forward = _log_softmax_model(model)
    with one_thread():
        return _attribute(forward, x, target, method)


def _attribute(forward: Any, x: torch.Tensor, target: int | None, method: str) -> Attribution:
    from captum.attr import IntegratedGradients, Occlusion  # ~0.3 s import, paid on first use

    with torch.inference_mode():
        probs = forward(x).exp()[0].cpu().numpy()
    predicted = int(probs.argmax())
    target = predicted if target is None else int(target)
    if not 0 <= target <= 9:
        raise ExplainError(f"The target must be a digit 0-9, got {target}.")
    with torch.enable_grad():  # the caller may sit in a no_grad block
        if method == "integrated_gradients":
            values = IntegratedGradients(forward).attribute(
                x,
                baselines=torch.zeros_like(x),
                target=target,
                n_steps=IG_STEPS,
                internal_batch_size=IG_STEPS,
            )
        else:
            values = Occlusion(forward).attribute(
                x,
                sliding_window_shapes=(1, OCCLUSION_WINDOW, OCCLUSION_WINDOW),
                strides=(1, OCCLUSION_STRIDE, OCCLUSION_STRIDE),
                baselines=0.0,
                target=target,
                perturbations_per_eval=64,
            )
    values = values.detach()[0, 0].cpu().numpy().astype(np.float32)
    return Attribution(np.nan_to_num(values), target, method, float(probs[target]), predicted)


# ---------------------------------------------------------------- inside the network


def activations(model: nn.Module, image: Any) -> Activations:
    """Feature maps of every conv block (strongest channel first) and every hidden dense layer."""
    model.eval()
    convs = _block_outputs(model, nn.Conv2d)
    dense = _block_outputs(model, nn.Linear)
    x = model_input(image).to(_device(model))
    with _recording([out for _, out in convs + dense]) as store, torch.inference_mode(), one_thread():
        probs = F.softmax(model(x).float(), dim=1)[0].cpu().numpy()
    conv_maps = []
    for i, (layer, _) in enumerate(convs):
        maps = store[i][0].cpu().numpy()  # (C, H, W)
        strength = maps.mean(axis=(1, 2))
        order = np.argsort(-strength, kind="stable")
        c, h, w = maps.shape
        conv_maps.append(
            FeatureMaps(
                i + 1,
                f"block {i + 1}: {c} channels, {h}×{w}",
                maps[order],
                order.astype(np.int64),
                strength[order].astype(np.float32),
            )
        )
    hidden = []
    for j, _ in enumerate(dense):
        values = store[len(convs) + j][0].cpu().numpy().reshape(-1)
        hidden.append(HiddenLayer(j + 1, f"hidden layer {j + 1}: {values.size} units", values))
    return Activations(conv_maps, hidden, probs)


def first_layer_filters(model: nn.Module) -> np.ndarray | None:
    """The first weight layer as pictures: (C, k, k) conv kernels, or (units, 28, 28) for a dense
    first layer (an MLP's or logistic regression's pixel templates); None for the baseline."""
    for layer in _layers(model):
        if isinstance(layer, nn.Conv2d):
            w = layer.weight.detach().float().cpu()
            return w.mean(dim=1).numpy() if w.shape[1] > 1 else w[:, 0].numpy()
        if isinstance(layer, nn.Linear):
            w = layer.weight.detach().float().cpu()
            return w.reshape(-1, 28, 28).numpy() if w.shape[1] == 784 else None
    return None


# ---------------------------------------------------------------- pictures (numpy, for st.image)


def diverging_rgb(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Signed values → RGB uint8: red for positive, blue for negative, white for zero."""
    v = np.asarray(values, dtype=np.float32)
    s = float(np.abs(v).max(initial=0.0)) if scale is None else float(scale)
    t = np.clip(v / s, -1.0, 1.0) if s > 0 else np.zeros_like(v)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    # white → red (214, 39, 40) for positive, white → blue (31, 119, 180) for negative
    r = 255 - neg * (255 - 31) - pos * (255 - 214)
    g = 255 - neg * (255 - 119) - pos * (255 - 39)
    b = 255 - neg * (255 - 180) - pos * (255 - 40)
    return np.clip(np.rint(np.stack([r, g, b], -1)), 0, 255).astype(np.uint8)


def overlay_image(image: Any, attr: Attribution, *, scale: int = 10, strength: float = 0.85) -> np.ndarray:
    """The input in grey with the attribution on top (red for, blue against), enlarged `scale`×.

    A pixel's colour weight grows with |value| / attr.display_scale, so pixels that do not matter
    show the plain input.
    """
    x = model_input(image)[0, 0].numpy()
    grey = 40 + x * 120  # a dim digit under the colours, so ink that matters stands out
    top = attr.display_scale
    colour = diverging_rgb(attr.values, top).astype(np.float32)
    weight = np.clip(np.abs(attr.values) / top, 0, 1) if top > 0 else np.zeros_like(x)
    alpha = (strength * weight)[..., None]
    rgb = (1 - alpha) * grey[..., None] + alpha * colour
    out = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(out, scale, axis=0), scale, axis=1)


def feature_maps_image(
    fm: FeatureMaps, *, max_channels: int = 16, cols: int = 8, scale: int = 4
) -> np.ndarray:
    """The strongest `max_channels` maps of a block tiled into one greyscale picture.

    All maps share one brightness scale (the block's largest activation), so a faint map is a
    weak channel, not a stretched one.
    """
    from mnist_core.data.images import tile

    maps = fm.maps[:max_channels]
    top = float(maps.max(initial=0.0))
    low = float(min(maps.min(initial=0.0), 0.0))  # tanh/GELU blocks go negative
    norm = (maps - low) / (top - low) if top > low else np.zeros_like(maps)
    return tile((norm * 255).round().astype(np.uint8), cols, scale=scale)


def filters_image(
    filters: np.ndarray, *, max_filters: int = 32, cols: int = 8, scale: int | None = None
) -> np.ndarray:
    """First-layer filters tiled into one RGB picture, each on its own red/blue scale."""
    f = np.asarray(filters, dtype=np.float32)[:max_filters]
    n, h, w = f.shape
    scale = scale or max(1, 40 // max(h, w))
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    gap = 2
    out = np.full((rows * (h * scale + gap) + gap, cols * (w * scale + gap) + gap, 3), 60, np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        y, x = gap + r * (h * scale + gap), gap + c * (w * scale + gap)
        rgb = diverging_rgb(f[k])
        out[y : y + h * scale, x : x + w * scale] = np.repeat(np.repeat(rgb, scale, 0), scale, 1)
    return out
