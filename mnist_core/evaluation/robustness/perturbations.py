"""The perturbations of a robustness sweep: what each one changes, at which strengths, in torch.

Each is applied to a whole batch at once (grid_sample, shifted maxima, matrix products): a
float (N, 1, S, S) batch of 0-255 pixels, S being 56 for the curves drawn on the app's
"canvas" (`CANVAS` × the MNIST size) and 28 for "shift after centring". Strengths are given
in MNIST pixels whatever the size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from mnist_core.training.augment import sampling_grid

CANVAS = 2  # the "canvas" is 2× the MNIST resolution: 56×56
SEED = 0


class RobustnessError(ValueError):
    """A sweep that cannot run (unknown perturbation, no images); the message is for the user."""


@dataclass(frozen=True)
class Perturbation:
    """One family of changes: its strengths (identity first in each direction) and its wording."""

    name: str
    label: str
    unit: str
    values: tuple[float, ...]
    identity: float
    through_app: bool
    help: str


_ALL: tuple[Perturbation, ...] = (  # in the order pages and the CLI list them (ORDER)
    Perturbation(
        "rotate",
        "rotation",
        "°",
        tuple(range(0, 50, 5)),
        0,
        True,
        "turned by up to 45° (left and right, alternating)",
    ),
    Perturbation(
        "scale",
        "scale",
        "%",
        tuple(range(50, 160, 10)),
        100,
        True,
        "drawn 50-150 % as big (the biggest run off the canvas)",
    ),
    Perturbation(
        "shift_before",
        "shift before centring",
        "px",
        tuple(range(0, 9)),
        0,
        True,
        "moved 0-8 px off-centre on the canvas, then centred by the app",
    ),
    Perturbation(
        "shift_after",
        "shift after centring",
        "px",
        tuple(range(0, 9)),
        0,
        False,
        "the model's 28×28 input moved 0-8 px",
    ),
    Perturbation(
        "thickness",
        "stroke thickness",
        "px",
        (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0),
        0.0,
        True,
        "strokes eroded (−) or dilated (+), pixels per side",
    ),
    Perturbation(
        "noise",
        "Gaussian noise",
        "% σ",
        (0, 10, 20, 30, 40, 50),
        0,
        True,
        "pixel noise, σ as a share of white",
    ),
    Perturbation("blur", "blur", "px σ", (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0), 0.0, True, "Gaussian blur"),
    Perturbation("invert", "inverted colours", "", (0, 1), 0, True, "a dark digit on a light background"),
)
PERTURBATIONS: dict[str, Perturbation] = {p.name: p for p in _ALL}
ORDER = tuple(PERTURBATIONS)


def rotate(x: torch.Tensor, degrees: float, signs: torch.Tensor) -> torch.Tensor:
    """Turn each image about its centre by ±degrees (sign per image).

    28×28 images get their sampling grid from `train.sampling_grid` (one matrix product, as the
    training augmentation does): F.affine_grid's batched 3-wide matmul is slower on a CPU than the
    sampling itself. Other sizes use F.affine_grid.
    """
    n, _, h, w = x.shape
    a = math.radians(degrees) * signs.to(device=x.device, dtype=torch.float32)
    cos, sin, zero = torch.cos(a), torch.sin(a), torch.zeros_like(a)
    theta = torch.stack([cos, -sin, zero, sin, cos, zero], 1)
    if (h, w) == (28, 28):
        grid = sampling_grid(theta)
    else:
        grid = F.affine_grid(theta.view(n, 2, 3), [n, 1, h, w], align_corners=False)
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)


def scale(x: torch.Tensor, percent: float) -> torch.Tensor:
    """Resize about the centre (antialiased), padding with black or cropping to the same size."""
    size = x.shape[-1]
    new = max(1, int(round(size * percent / 100)))
    if new == size:
        return x
    y = F.interpolate(x, size=(new, new), mode="bilinear", align_corners=False, antialias=True)
    if new < size:
        lo = (size - new) // 2
        return F.pad(y, (lo, size - new - lo, lo, size - new - lo))
    lo = (new - size) // 2
    return y[..., lo : lo + size, lo : lo + size]


def shift(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Move each image by whole pixels (dx, dy per image); what leaves the frame is lost."""
    n, _, h, w = x.shape
    out = torch.zeros_like(x)
    for ux, uy in {(int(a), int(b)) for a, b in zip(dx.tolist(), dy.tolist())}:
        sel = ((dx == ux) & (dy == uy)).nonzero().flatten()
        src = x[sel]
        ys, yd = (slice(0, h - uy), slice(uy, h)) if uy >= 0 else (slice(-uy, h), slice(0, h + uy))
        xs, xd = (slice(0, w - ux), slice(ux, w)) if ux >= 0 else (slice(-ux, w), slice(0, w + ux))
        if abs(ux) < w and abs(uy) < h:
            out[sel, :, yd, xd] = src[:, :, ys, xs]
    return out


def _directions(n: int, distance: float, gen_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    angles = torch.rand(n, generator=torch.Generator().manual_seed(gen_seed)) * (2 * math.pi)
    return (
        torch.round(distance * torch.cos(angles)).to(torch.int64),
        torch.round(distance * torch.sin(angles)).to(torch.int64),
    )


def thickness(x: torch.Tensor, px: float) -> torch.Tensor:
    """Grey-scale dilation (px > 0) or erosion (px < 0) by |px| pixels per side, with an
    octagonal element (3×3 square and cross steps alternating: close to a round pen)."""
    steps = int(round(abs(px)))
    sign = 1.0 if px > 0 else -1.0
    y = x * sign  # erosion is a dilation of the negative
    for i in range(steps):
        rows = _max3(y, -2)
        # square (rows then columns) and cross (rows or columns) steps alternate
        y = _max3(rows, -1) if i % 2 == 0 else torch.maximum(rows, _max3(y, -1))
    return y * sign if steps else x


def _max3(y: torch.Tensor, dim: int) -> torch.Tensor:
    """Max of each pixel and its two neighbours along `dim` (outside the image never wins).

    Shifted slices: 6-10× faster on a CPU than max_pool2d with stride 1 on one channel.
    """
    edge = torch.full_like(y.narrow(dim, 0, 1), -math.inf)
    before = torch.cat([edge, y.narrow(dim, 0, y.shape[dim] - 1)], dim)
    after = torch.cat([y.narrow(dim, 1, y.shape[dim] - 1), edge], dim)
    return torch.maximum(y, torch.maximum(before, after))


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur with standard deviation `sigma` pixels (zero outside the image).

    Separable, as two matrix products G·X·Gᵀ: a one-channel conv2d with a long kernel takes
    a slow path on a CPU, a 56×56 matrix product does not.
    """
    if sigma <= 0:
        return x
    size = x.shape[-1]
    t = torch.arange(size, dtype=torch.float32)
    g = torch.exp(-0.5 * ((t[:, None] - t[None, :]) / sigma) ** 2)
    radius = max(1, int(math.ceil(3 * sigma)))
    g = g * ((t[:, None] - t[None, :]).abs() <= radius)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = (g / torch.exp(-0.5 * (offsets / sigma) ** 2).sum()).to(x.dtype)  # the full kernel sums to 1
    return g @ x @ g.T


def noise(x: torch.Tensor, percent: float, seed: int) -> torch.Tensor:
    """Add Gaussian noise with σ = percent % of white (seeded), clipped to the pixel range."""
    if percent <= 0:
        return x
    gen = torch.Generator().manual_seed(seed)
    return (x + torch.randn(x.shape, generator=gen, dtype=x.dtype) * (percent / 100 * 255)).clamp(0, 255)


def perturb(name: str, canvas: torch.Tensor, value: float, *, seed: int = SEED) -> torch.Tensor:
    """Apply one perturbation at strength `value` to a float batch (N, 1, S, S) of 0-255 pixels
    (S = 28 · `CANVAS` for the curves through the app, 28 for "shift after centring")."""
    k = canvas.shape[-1] / 28  # canvas pixels per MNIST pixel
    n = canvas.shape[0]
    if name == "rotate":
        signs = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0)
        return rotate(canvas, value, signs) if value else canvas
    if name == "scale":
        return scale(canvas, value)
    if name in ("shift_before", "shift_after"):
        dx, dy = _directions(n, value * k, seed)
        return shift(canvas, dx, dy) if value else canvas
    if name == "thickness":
        return thickness(canvas, value * k)
    if name == "noise":
        return noise(canvas, value, seed + int(value))
    if name == "blur":
        return blur(canvas, value * k)
    if name == "invert":
        return 255.0 - canvas if value else canvas
    raise RobustnessError(f"Unknown perturbation {name!r}: use one of {', '.join(ORDER)}.")
