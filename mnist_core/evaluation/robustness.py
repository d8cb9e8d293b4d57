"""Where does it break? Accuracy on validation images as a perturbation grows.

Each curve perturbs the validation images step by step (rotation, scale, shift, stroke
thickness, noise, blur, inverted colours) and measures accuracy. Perturbations are applied
to whole batches with torch (grid_sample, shifted maxima, matrix products); what follows depends on
where a user's drawing meets the change:

- "through the app" (every curve but one): the perturbed image is treated as a drawing and
  goes through `drawing.prepare_digit`, the Deploy page's own preprocessing (crop to the ink,
  fit to 20×20, centre of mass to the centre), then the model. This is what a canvas user
  meets: the app re-centres a shifted digit and resizes a small one, but cannot undo a rotation,
  and a noisy photo's specks stretch the crop. So that the app's resizing is not judged on a
  28-pixel image shrunk to 10 pixels (a canvas is 280 pixels wide), each image is first drawn
  on a 56×56 "canvas" (2× bilinear) and perturbed there; sizes are given in MNIST pixels.
- "shift after centring": the shift is applied to the 28×28 input the model sees, after the
  app's centring step, i.e. the model's own tolerance of an off-centre digit.

Strength 0 is the unperturbed image, so the "after centring" curve starts at the plain
validation accuracy, and the "through the app" curves start at the accuracy on the
validation images passed through the app's preprocessing (`Sweep.app_accuracy`; within half
a point of the plain figure on the sample). An input the app finds blank counts as wrong (the
app says "no digit"). Shifts move whole pixels, so a shifted digit that stays on the canvas
gives exactly the unshifted crop, and `prepare_digit` is only called for digits pushed over the
edge (likewise an inverted image with a black border is flipped straight back).

`weakest` names the perturbation that breaks the model earliest ("accuracy falls below 90 %
at 25° of rotation"); `compare` sets two runs' sweeps side by side. The full sweep on 2,000
images calls `prepare_digit` ~85,000 times (~80 µs each on a 56-pixel canvas) while a second
thread perturbs and predicts (see `_measure`).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mnist_core.deploy.drawing import prepare_digit
from mnist_core.evaluation.explain import one_thread
from mnist_core.evaluation.inference import inference_copy
from mnist_core.training.augment import sampling_grid

if TYPE_CHECKING:
    from mnist_core.runs.storage import Run

CANVAS = 2  # the "canvas" is 2× the MNIST resolution: 56×56
DEFAULT_N = 2000
SEED = 0
RESULT_FILE = "robustness.json"


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


@dataclass(frozen=True)
class Curve:
    """Accuracy at each strength of one perturbation."""

    name: str
    label: str
    unit: str
    values: list[float]
    accuracy: list[float]
    blank: list[float]  # share of inputs the app found blank (counted as wrong)
    through_app: bool
    identity: float


@dataclass(frozen=True)
class Sweep:
    """All curves of one model on one set of validation images."""

    label: str  # the run's label (or what the caller named it)
    run_id: str | None
    n: int
    accuracy: float  # plain validation accuracy on these n images (the model alone)
    app_accuracy: float  # the same images through the app's preprocessing
    curves: list[Curve]
    seconds: float
    images: str = ""  # fingerprint of the images used: two sweeps compare only on the same ones
    summary: str = ""  # the weakest-direction sentence

    def curve(self, name: str) -> Curve:
        for c in self.curves:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sweep:
        return cls(**{**d, "curves": [Curve(**c) for c in d["curves"]]})


# ---------------------------------------------------------------- perturbations (torch, batched)


def rotate(x: torch.Tensor, degrees: float, signs: torch.Tensor) -> torch.Tensor:
    """Turn each image about its centre by ±degrees (sign per image).

    28×28 images get their sampling grid from `augment.sampling_grid` (one matrix product, as the
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


# ---------------------------------------------------------------- the sweep


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return x[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()


def _prepare_all(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """prepare_digit on each image: (N, 28, 28) float32 inputs (zeros where blank) and the blank mask."""
    out = np.zeros((len(images), 28, 28), np.float32)
    blank = np.zeros(len(images), bool)
    for i, img in enumerate(images):
        prepared = prepare_digit(img)
        if prepared.is_blank:
            blank[i] = True
        else:
            out[i] = prepared.image
    return out, blank


def _predict(model: nn.Module, x: np.ndarray | torch.Tensor, batch: int = 2048) -> np.ndarray:
    t = torch.as_tensor(x, dtype=torch.float32)
    if t.ndim == 3:
        t = t.unsqueeze(1)
    device = next((p.device for p in (*model.parameters(), *model.buffers())), torch.device("cpu"))
    with torch.inference_mode():
        return torch.cat(
            [model(t[i : i + batch].to(device)).argmax(1).cpu() for i in range(0, len(t), batch)]
        ).numpy()


def _fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=10)
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(np.ascontiguousarray(labels).astype(np.int64).tobytes())
    return h.hexdigest()


def sweep(
    model: nn.Module,
    images: Any,
    labels: Any,
    perturbations: Sequence[str] | None = None,
    *,
    label: str = "model",
    run_id: str | None = None,
    seed: int = SEED,
    progress: Callable[[str, int, int], None] | None = None,
) -> Sweep:
    """Accuracy curves of `model` on uint8 (N, 28, 28) validation `images` for each perturbation
    (all when None). `progress(name, done, total)` is called after each curve."""
    names = list(ORDER if not perturbations else dict.fromkeys(perturbations))
    unknown = [p for p in names if p not in PERTURBATIONS]
    if unknown:
        raise RobustnessError(f"Unknown perturbation {unknown[0]!r}: use one of {', '.join(ORDER)}.")
    imgs = np.asarray(images.numpy() if isinstance(images, torch.Tensor) else images, dtype=np.uint8)
    y = np.asarray(labels.numpy() if isinstance(labels, torch.Tensor) else labels, dtype=np.int64)
    if imgs.ndim != 3 or imgs.shape[1:] != (28, 28) or len(imgs) == 0 or len(imgs) != len(y):
        raise RobustnessError(f"Expected N 28×28 images with N labels, got {imgs.shape} and {y.shape}.")
    start = time.perf_counter()
    model = inference_copy(model)
    with one_thread():
        curves, plain_acc, app_acc = _measure(model, imgs, y, names, seed, progress)
    out = []
    for name in names:
        spec = PERTURBATIONS[name]
        vals = list(spec.values)
        out.append(
            Curve(
                name,
                spec.label,
                spec.unit,
                [float(v) for v in vals],
                [curves[name][v][0] for v in vals],
                [curves[name][v][1] for v in vals],
                spec.through_app,
                float(spec.identity),
            )
        )
    result = Sweep(
        label, run_id, len(y), plain_acc, app_acc, out, time.perf_counter() - start, _fingerprint(imgs, y)
    )
    return replace(result, summary=weakest(result)["sentence"])


def _measure(
    model: nn.Module,
    imgs: np.ndarray,
    y: np.ndarray,
    names: list[str],
    seed: int,
    progress: Callable[[str, int, int], None] | None,
) -> tuple[dict[str, dict[float, tuple[float, float]]], float, float]:
    """(accuracy, blank share) per curve and strength, plain and through-the-app accuracy.

    Two threads, one OpenMP thread each: a worker perturbs the next batches (torch) and runs
    the model, while this thread calls prepare_digit (Python, holding the GIL; torch releases
    it). On two cores this overlaps the halves of the work, where two OpenMP threads per torch
    call would spin against prepare_digit and against each other.
    """
    n = len(y)
    plain = torch.from_numpy(imgs).to(torch.float32).unsqueeze(1)  # 0-255
    canvas = F.interpolate(plain, scale_factor=CANVAS, mode="bilinear", align_corners=False)
    canvas = torch.from_numpy(_to_uint8(canvas)).to(torch.float32).unsqueeze(1)  # a drawn, uint8 canvas
    base_x, base_blank = _prepare_all(_to_uint8(canvas))
    plain_acc = float((_predict(model, plain / 255.0) == y).mean())
    app_acc = float(((_predict(model, base_x) == y) & ~base_blank).mean())

    curves: dict[str, dict[float, tuple[float, float]]] = {p: {} for p in names}
    jobs = []
    for name in names:
        spec = PERTURBATIONS[name]
        for value in spec.values:
            if value != spec.identity:
                jobs.append((name, value))
            elif spec.through_app:
                curves[name][value] = (app_acc, float(base_blank.mean()))
            else:
                curves[name][value] = (plain_acc, 0.0)

    def in_one_thread(fn: Callable, *args: Any) -> Any:
        with one_thread():
            return fn(*args)

    def moved(job: tuple[str, float]) -> torch.Tensor:
        name, value = job
        source = canvas if PERTURBATIONS[name].through_app else plain
        return perturb(name, source, value, seed=seed)

    lookahead = 2  # perturbed batches waiting (a 2,000-image canvas batch is 25 MB)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="robustness") as pool:
        ahead = deque(pool.submit(in_one_thread, moved, job) for job in jobs[:lookahead])
        predictions = []
        for i, (name, value) in enumerate(jobs):
            batch = ahead.popleft().result()
            if i + lookahead < len(jobs):
                ahead.append(pool.submit(in_one_thread, moved, jobs[i + lookahead]))
            if PERTURBATIONS[name].through_app:
                x, blank = _prepare_moved(name, canvas, batch, base_x, base_blank)
            else:
                x, blank = batch / 255.0, np.zeros(n, bool)
            predictions.append((name, value, pool.submit(in_one_thread, _predict, model, x), blank))
            last_of_curve = i + 1 == len(jobs) or jobs[i + 1][0] != name
            if progress is not None and last_of_curve:
                progress(name, names.index(name) + 1, len(names))
        for name, value, fut, blank in predictions:
            right = (fut.result() == y) & ~blank
            curves[name][value] = (float(right.mean()), float(blank.mean()))
    if progress is not None:  # curves with no job of their own (a single identity strength)
        for name in names:
            if not any(job[0] == name for job in jobs):
                progress(name, names.index(name) + 1, len(names))
    return curves, plain_acc, app_acc


def _prepare_moved(
    name: str, canvas: torch.Tensor, moved: torch.Tensor, base_x: np.ndarray, base_blank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """prepare_digit on the perturbed canvases, skipping the calls whose answer is known exactly:
    a whole-pixel shift that kept all the ink gives the unshifted crop, and an inverted canvas
    whose border was black is flipped straight back (its border turns white), so both give the
    unperturbed result."""
    if name == "shift_before":
        same = (moved.sum(dim=(1, 2, 3)) == canvas.sum(dim=(1, 2, 3))).numpy()
    elif name == "invert":
        c = canvas[:, 0]
        border = torch.cat([c[:, 0], c[:, -1], c[:, :, 0], c[:, :, -1]], 1)
        same = (border.amax(1) == 0).numpy()
    else:
        return _prepare_all(_to_uint8(moved))
    x, blank = base_x.copy(), base_blank.copy()
    redo = np.flatnonzero(~same)
    if len(redo):
        x[redo], blank[redo] = _prepare_all(_to_uint8(moved[torch.from_numpy(redo)]))
    return x, blank


# ---------------------------------------------------------------- reading the curves


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 0.05 or abs(v) >= 10 else f"{v:.1f}"


def pct(x: float, digits: int = 0) -> str:
    """0.9 → "90 %" (the studio's spacing)."""
    return f"{x * 100:.{digits}f} %"


def describe(name: str, value: float) -> str:
    """A strength in words: "at 25° of rotation", "when strokes are 1 px thinner per side"."""
    v = _fmt(abs(value))
    return {
        "rotate": f"at {v}° of rotation",
        "scale": f"at {v} % of the original size",
        "shift_before": f"at a {v} px shift before the app's centring",
        "shift_after": f"at a {v} px shift after the app's centring",
        "thickness": f"when strokes are {v} px {'thinner' if value < 0 else 'thicker'} per side",
        "noise": f"at Gaussian noise of σ = {v} % of full ink",
        "blur": f"at a blur of σ = {v} px",
        "invert": "with inverted colours",
    }[name]


def _sides(curve: Curve) -> list[tuple[list[float], list[float]]]:
    """(values from the identity outwards, accuracies) for each side of a curve: scale and
    thickness go two ways (smaller/bigger, thinner/thicker), the others one."""
    vals, accs = curve.values, curve.accuracy
    if curve.identity not in vals:
        return [(vals, accs)]
    i = vals.index(curve.identity)
    sides = []
    if i > 0:
        sides.append((vals[i::-1], accs[i::-1]))
    if i < len(vals) - 1:
        sides.append((vals[i:], accs[i:]))
    return sides


def default_bar(sweep_: Sweep) -> float:
    """90 %, or 5 points under the model's own unperturbed accuracy when that is below 95 %."""
    base = min(sweep_.accuracy, sweep_.app_accuracy)
    return 0.9 if base >= 0.95 else max(0.0, math.floor((base - 0.05) * 100) / 100)


def weakest(sweep_: Sweep, below: float | None = None) -> dict[str, Any]:
    """The direction that falls below `below` (default `default_bar`) earliest: the first
    measured strength under the bar, as a share of its range (ties: the lower accuracy); if none
    does, the one that loses most. Keys: perturbation, value, accuracy, crossed, below, sentence.

    Measured strengths, not interpolated ones: between two measured points the curve is unknown.
    """
    bar = default_bar(sweep_) if below is None else below
    first: tuple | None = None  # (share of the range, accuracy, name, strength)
    worst: tuple | None = None  # (drop, name, strength, accuracy)
    for curve in sweep_.curves:
        for vals, accs in _sides(curve):
            span = abs(vals[-1] - vals[0]) or 1.0
            j = next((j for j in range(1, len(vals)) if accs[j] < bar), None)
            if j is not None and accs[0] >= bar:
                key = (abs(vals[j] - vals[0]) / span, accs[j], curve.name, vals[j])
                first = key if first is None or key[:2] < first[:2] else first
            k = int(np.argmin(accs))
            if worst is None or accs[0] - accs[k] > worst[0]:
                worst = (accs[0] - accs[k], curve.name, vals[k], accs[k])
    if worst is None:
        return _weakness(bar, None, None, None, False, "No perturbation was measured.")
    if first is not None:
        _, acc, name, v = first
        sentence = f"Accuracy falls below {pct(bar)} {describe(name, v)} ({pct(acc, 1)})."
        return _weakness(bar, name, v, acc, True, sentence)
    _, name, v, acc = worst
    sentence = (
        f"Accuracy stays at or above {pct(bar)} under every perturbation tested; "
        f"it drops most {describe(name, v)} (to {pct(acc, 1)})."
    )
    return _weakness(bar, name, v, acc, False, sentence)


def _weakness(
    bar: float, name: str | None, value: float | None, accuracy: float | None, crossed: bool, sentence: str
) -> dict[str, Any]:
    """The answer of `weakest`, in its documented key order."""
    return {
        "perturbation": name,
        "value": None if value is None else float(value),
        "accuracy": accuracy,
        "crossed": crossed,
        "below": bar,
        "sentence": sentence,
    }


def compare(a: Sweep, b: Sweep) -> dict[str, Any]:
    """Two sweeps side by side: rows (perturbation, label, value, a, b, difference) and a sentence
    naming where they differ most; `same_images` False when measured on different images."""
    rows = []
    biggest: tuple | None = None
    names_b = {c.name for c in b.curves}
    for ca in a.curves:
        if ca.name not in names_b:
            continue
        cb = b.curve(ca.name)
        for v, acc_a, acc_b in zip(ca.values, ca.accuracy, cb.accuracy):
            rows.append(
                {
                    "perturbation": ca.name,
                    "label": ca.label,
                    "value": v,
                    "a": acc_a,
                    "b": acc_b,
                    "difference": acc_b - acc_a,
                }
            )
            if v != ca.identity and (biggest is None or abs(acc_b - acc_a) > abs(biggest[0])):
                biggest = (acc_b - acc_a, ca.name, v, acc_a, acc_b)
    same = bool(a.images) and a.images == b.images
    if biggest is None:
        sentence = "The two sweeps share no perturbation."
    elif abs(biggest[0]) < 0.005:
        sentence = "The two models are equally robust: within half a point at every strength."
    else:
        diff, name, v, acc_a, acc_b = biggest
        better, worse = (b.label, a.label) if diff > 0 else (a.label, b.label)
        sentence = (
            f"{better} holds up better than {worse} {describe(name, v)}: "
            f"{pct(max(acc_a, acc_b), 1)} against {pct(min(acc_a, acc_b), 1)}."
        )
    if not same:
        sentence += " They were measured on different validation images: compare with care."
    return {"rows": rows, "same_images": same, "sentence": sentence}


# ---------------------------------------------------------------- runs


def sweep_run(
    run: Run,
    perturbations: Sequence[str] | None = None,
    *,
    n: int = DEFAULT_N,
    progress: Callable[[str, int, int], None] | None = None,
) -> Sweep:
    """The sweep of a saved run on the first `n` images of its own validation set."""
    if n < 1:
        raise RobustnessError(f"--n must be at least 1, got {n}.")
    val = run.split().val
    if len(val) == 0:
        raise RobustnessError("The run's validation set is empty: there is nothing to perturb.")
    k = min(n, len(val))
    return sweep(
        run.load_model(),
        val.images[:k],
        val.labels[:k],
        perturbations,
        label=str(run.meta.get("name") or run.id),
        run_id=run.id,
        progress=progress,
    )


def save_sweep(run: Run, result: Sweep) -> None:
    """Keep the sweep with the run (robustness.json), for the Evaluate page and the report."""
    from mnist_core.runs.files import write_json

    write_json(run.path / RESULT_FILE, result.to_dict())


def load_sweep(run: Run) -> Sweep | None:
    """The run's saved sweep, or None (none yet, or a file from an older layout)."""
    from mnist_core.runs.files import read_json

    path = run.path / RESULT_FILE
    if not path.is_file():
        return None
    try:
        return Sweep.from_dict(read_json(path))
    except (TypeError, KeyError, ValueError):
        return None


# ---------------------------------------------------------------- command line


def add_parser(sub: Any) -> None:
    """`python -m mnist_core robustness RUN [--perturbation rotate ...] [--n 2000] [--compare RUN2]`."""
    from mnist_core.cli.common import add_run_command

    p = add_run_command(
        sub,
        "robustness",
        "accuracy as the validation images are rotated, scaled, "
        "shifted, thickened, noised, blurred, inverted; prints JSON",
    )
    p.add_argument(
        "--perturbation",
        nargs="+",
        default=None,
        metavar="NAME",
        help="only these (default: all): " + ", ".join(ORDER),
    )
    p.add_argument(
        "--n",
        type=int,
        default=DEFAULT_N,
        help=f"validation images to use (default {DEFAULT_N}, fewer if the set is smaller)",
    )
    p.add_argument("--compare", default=None, metavar="RUN2", help="a second run to compare with")
    p.add_argument("--no-save", action="store_true", help="do not keep the sweep in the run folder")


def cmd_robustness(args: Any) -> int:
    import sys

    from mnist_core.runs.files import dumps
    from mnist_core.runs.storage import load_run

    def progress(name: str, done: int, total: int) -> None:
        print(f"{done}/{total} {PERTURBATIONS[name].label}", file=sys.stderr, flush=True)

    unknown = [p for p in args.perturbation or [] if p not in PERTURBATIONS]
    if unknown:  # checked here, not by argparse, so the error is one line like every other
        raise RobustnessError(f"Unknown perturbation {unknown[0]!r}: use one of {', '.join(ORDER)}.")
    if args.n < 1:
        raise RobustnessError(f"--n must be at least 1, got {args.n}.")
    run = load_run(args.run)
    other = load_run(args.compare) if args.compare else None  # all checked before the work
    result = sweep_run(run, args.perturbation, n=args.n, progress=progress)
    if not args.no_save and not args.perturbation:
        save_sweep(run, result)
    out: dict[str, Any] = {"run": str(run.path), **result.to_dict(), "weakest": weakest(result)}
    if other is not None:
        second = sweep_run(other, args.perturbation, n=args.n, progress=progress)
        out["compare"] = {
            "run": str(other.path),
            **second.to_dict(),
            "weakest": weakest(second),
            **compare(result, second),
        }
    print(dumps(out), flush=True)
    return 0
