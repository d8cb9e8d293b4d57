"""Measuring a robustness sweep: accuracy of a model at every strength of every perturbation.

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

`sweep_records` is the one implementation: it yields a `SweepStep` after each curve and stops
early when its `stop` event is set (the app's background job streams and stops it); `sweep` and
`sweep_run` run it to the end. A saved run's sweep starts from a `SweepInput` (`sweep_input`: the
model and validation images as plain data), so the app's job can load it where the run lives and
measure it on a worker that sees neither the run folder nor the data. The full sweep on 2,000
images calls `prepare_digit` ~85,000 times (~80 µs each on a 56-pixel canvas) while a second
thread perturbs and predicts (see `_measure`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mnist_core.data.drawing import prepare_digit
from mnist_core.evaluation.explain import one_thread
from mnist_core.evaluation.inference import inference_copy, inference_device
from mnist_core.evaluation.robustness.perturbations import (
    CANVAS,
    ORDER,
    PERTURBATIONS,
    SEED,
    RobustnessError,
    perturb,
)
from mnist_core.evaluation.robustness.results import Curve, Sweep, weakest

if TYPE_CHECKING:
    from mnist_core.runs.storage import Run

DEFAULT_N = 2000
Progress = Callable[[str, int, int], None]
Measured = tuple[dict[str, dict[float, tuple[float, float]]], float, float]


@dataclass(frozen=True)
class SweepStep:
    """A sweep in progress: `done` of `total` curves measured, `name` the latest; the last step
    carries the finished `sweep` instead (and no name)."""

    done: int
    total: int
    name: str | None = None
    sweep: Sweep | None = None


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


def sweep_records(
    model: nn.Module,
    images: Any,
    labels: Any,
    perturbations: Sequence[str] | None = None,
    *,
    label: str = "model",
    run_id: str | None = None,
    seed: int = SEED,
    stop: threading.Event | None = None,
) -> Iterator[SweepStep]:
    """Accuracy curves of `model` on uint8 (N, 28, 28) validation `images` for each perturbation
    (all when None), one `SweepStep` per curve, then the `Sweep`. Setting `stop` ends it after
    the strength being measured, without a sweep. Bad input raises at once, before any work."""
    names = list(ORDER if not perturbations else dict.fromkeys(perturbations))
    unknown = [p for p in names if p not in PERTURBATIONS]
    if unknown:
        raise RobustnessError(f"Unknown perturbation {unknown[0]!r}: use one of {', '.join(ORDER)}.")
    imgs = np.asarray(images.numpy() if isinstance(images, torch.Tensor) else images, dtype=np.uint8)
    y = np.asarray(labels.numpy() if isinstance(labels, torch.Tensor) else labels, dtype=np.int64)
    if imgs.ndim != 3 or imgs.shape[1:] != (28, 28) or len(imgs) == 0 or len(imgs) != len(y):
        raise RobustnessError(f"Expected N 28×28 images with N labels, got {imgs.shape} and {y.shape}.")
    return _steps(model, imgs, y, names, label, run_id, seed, stop)


def _steps(
    model: nn.Module,
    imgs: np.ndarray,
    y: np.ndarray,
    names: list[str],
    label: str,
    run_id: str | None,
    seed: int,
    stop: threading.Event | None,
) -> Iterator[SweepStep]:
    start = time.perf_counter()
    model = inference_copy(model)
    with one_thread():
        measured = yield from _measure(model, imgs, y, names, seed, stop)
    if measured is None:
        return  # stopped: no sweep
    curves, plain_acc, app_acc = measured
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
    yield SweepStep(len(names), len(names), sweep=replace(result, summary=weakest(result)["sentence"]))


def sweep(
    model: nn.Module,
    images: Any,
    labels: Any,
    perturbations: Sequence[str] | None = None,
    *,
    label: str = "model",
    run_id: str | None = None,
    seed: int = SEED,
    progress: Progress | None = None,
) -> Sweep:
    """`sweep_records` to the end: `progress(name, done, total)` is called after each curve."""
    steps = sweep_records(model, images, labels, perturbations, label=label, run_id=run_id, seed=seed)
    return _to_the_end(steps, progress)


def _to_the_end(steps: Iterator[SweepStep], progress: Progress | None) -> Sweep:
    """The last step's sweep (with no stop event, there always is one), reporting the others."""
    last = None
    for last in steps:
        if progress is not None and last.name is not None:
            progress(last.name, last.done, last.total)
    return last.sweep


@dataclass(frozen=True)
class SweepInput:
    """What a sweep of a saved run needs, as plain data: the model (on the CPU), its first `n`
    validation images and labels, and the run's names. Loaded where the run lives (the app, or
    the CLI), it can be measured in another process that sees neither the run nor its data."""

    model: nn.Module
    images: np.ndarray  # (n, 28, 28) uint8, a copy (a view would send its whole set along)
    labels: np.ndarray  # (n,) int64
    label: str
    run_id: str
    trained_on: str  # the run's TrainConfig.device: where the sweep predicts (inference_device)


def sweep_input(run: Run, n: int = DEFAULT_N) -> SweepInput:
    """The model and the first `n` images of `run`'s own validation set, rebuilt here."""
    if n < 1:
        raise RobustnessError(f"--n must be at least 1, got {n}.")
    val = run.split().val
    if len(val) == 0:
        raise RobustnessError("The run's validation set is empty: there is nothing to perturb.")
    k = min(n, len(val))
    return SweepInput(
        run.load_model("cpu"),
        val.images[:k].numpy().copy(),
        val.labels[:k].numpy().astype(np.int64),
        str(run.meta.get("name") or run.id),
        run.id,
        run.config.device,
    )


def sweep_input_records(
    given: SweepInput, perturbations: Sequence[str] | None = None, *, stop: threading.Event | None = None
) -> Iterator[SweepStep]:
    """`sweep_records` of a loaded `SweepInput`, its model moved to where the run predicts."""
    model = given.model.to(inference_device(given.trained_on))
    return sweep_records(
        model, given.images, given.labels, perturbations, label=given.label, run_id=given.run_id, stop=stop
    )


def sweep_run_records(
    run: Run,
    perturbations: Sequence[str] | None = None,
    *,
    n: int = DEFAULT_N,
    stop: threading.Event | None = None,
) -> Iterator[SweepStep]:
    """`sweep_records` of a saved run on the first `n` images of its own validation set."""
    return sweep_input_records(sweep_input(run, n), perturbations, stop=stop)


def sweep_run(
    run: Run,
    perturbations: Sequence[str] | None = None,
    *,
    n: int = DEFAULT_N,
    progress: Progress | None = None,
) -> Sweep:
    """The sweep of a saved run on the first `n` images of its own validation set, to the end."""
    return _to_the_end(sweep_run_records(run, perturbations, n=n), progress)


def _measure(
    model: nn.Module,
    imgs: np.ndarray,
    y: np.ndarray,
    names: list[str],
    seed: int,
    stop: threading.Event | None,
) -> Generator[SweepStep, None, Measured | None]:
    """(accuracy, blank share) per curve and strength, plain and through-the-app accuracy,
    yielding a step after each curve; None when `stop` was set before the end.

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
            if stop is not None and stop.is_set():
                for fut in [*ahead, *(p[2] for p in predictions)]:
                    fut.cancel()  # leaving the pool waits for the work it has not cancelled
                return None
            batch = ahead.popleft().result()
            if i + lookahead < len(jobs):
                ahead.append(pool.submit(in_one_thread, moved, jobs[i + lookahead]))
            if PERTURBATIONS[name].through_app:
                x, blank = _prepare_moved(name, canvas, batch, base_x, base_blank)
            else:
                x, blank = batch / 255.0, np.zeros(n, bool)
            predictions.append((name, value, pool.submit(in_one_thread, _predict, model, x), blank))
            last_of_curve = i + 1 == len(jobs) or jobs[i + 1][0] != name
            if last_of_curve:
                yield SweepStep(names.index(name) + 1, len(names), name)
        for name, value, fut, blank in predictions:
            right = (fut.result() == y) & ~blank
            curves[name][value] = (float(right.mean()), float(blank.mean()))
    for name in names:  # curves with no job of their own (a single identity strength)
        if not any(job[0] == name for job in jobs):
            yield SweepStep(names.index(name) + 1, len(names), name)
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
