"""The training loop: a generator of small progress records that knows nothing of its consumer.

A page, the CLI and a test all do the same thing:

    trainer = Trainer(config, split)
    for record in trainer.run(stop_event):
        ...                       # BatchRecord, EpochRecord, then one EndRecord
    trainer.model                 # the best-validation-loss weights, restored

Stopping is a `threading.Event` checked every batch; a stopped run keeps what it learned.
The whole dataset sits on the training device as one uint8 tensor and each batch is sliced
from it and scaled to float there: per-item Dataset/DataLoader conversion would cost more than
training a small model, and a float copy of the whole set would quadruple its memory.
On a GPU nothing waits for the device inside an epoch except the loss read every few batches.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum

import torch
from torch import nn
from torch.nn import functional as F

from mnist_core.config import ConfigError, TrainConfig
from mnist_core.data.preprocess import DataSplit
from mnist_core.training.augment import augment_batch, clean_epochs
from mnist_core.training.models import MajorityClass, build_model, count_parameters, uses_channels_last
from mnist_core.training.optim import current_lr, make_optimizer
from mnist_core.training.precision import uses_bf16

EVAL_BATCH = 512  # validation images per forward pass (bigger: more memory, no faster)
SYNC_EVERY = 10  # batches between reads of the running loss (each read waits for a GPU)
# Label smoothing, part of augmentation (`augment`, as random shifts are for the images): a tenth of
# each target is spread evenly over all ten digits, so training minimises cross-entropy against
# 0.91/0.01 targets instead of one-hot ones and models do not grow over-confident on small data
# (the default CNN on the offline sample, with 50 epochs instead of 30: 98.7 % validation accuracy
# instead of 98.1 %, mean of 12 seeds). The training and validation losses such a run records are
# this smoothed loss (a uniform guess still scores ln 10 = 2.30; a perfect answer 0.50, not 0):
# the weights kept are those with the lowest one, where the plain cross-entropy, lowest for
# sharper answers, would pick mid-schedule epochs instead of the annealed end. A run without
# augmentation (the overfitting demo) trains and records the plain cross-entropy, as `evaluate`
# always reports.
LABEL_SMOOTHING = 0.1


class RunStatus(StrEnum):
    """How a training run ended (EndRecord.status, meta.json "status"); plain strings on disk."""

    FINISHED = "finished"
    STOPPED = "stopped"
    EARLY_STOPPED = "early_stopped"
    DIVERGED = "diverged"


@dataclass(frozen=True)
class BatchRecord:
    """Every few batches: how far along, and the running train loss of this epoch."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    train_loss: float
    progress: float  # 0..1 over the whole run
    elapsed: float
    kind: str = "batch"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EpochRecord:
    """After every epoch: train and validation loss/accuracy and speed."""

    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    seconds: float
    samples_per_s: float
    lr: float
    is_best: bool
    elapsed: float
    partial: bool = False  # stopped before the epoch ended
    kind: str = "epoch"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EndRecord:
    """Once, last: how the run ended and which epoch's weights it kept."""

    status: str  # "finished", "stopped", "early_stopped" or "diverged"
    message: str
    best_epoch: int | None
    best_val_loss: float | None
    best_val_acc: float | None
    elapsed: float
    kind: str = "end"

    def to_dict(self) -> dict:
        return asdict(self)


Record = BatchRecord | EpochRecord | EndRecord


def resolve_device(name: str) -> torch.device:
    """ "auto" → CUDA, then MPS, then CPU; an explicit device that is missing is a ConfigError."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise ConfigError("device = cuda, but no CUDA GPU is available here: use auto or cpu.")
    if name == "mps" and not mps:
        raise ConfigError("device = mps, but Apple's MPS backend is not available here: use auto or cpu.")
    return torch.device(name)


def model_device(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _input_format(model: nn.Module) -> torch.memory_format:
    """channels_last when the model's convolutions are (input and weights in one layout)."""
    for p in model.parameters():
        if p.dim() == 4:
            cl = p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
            return torch.channels_last if cl else torch.contiguous_format
    return torch.contiguous_format


def as_batch(
    images: torch.Tensor, memory_format: torch.memory_format = torch.contiguous_format
) -> torch.Tensor:
    """A slice of uint8 (N, 28, 28) images → the float (N, 1, 28, 28) batch a model takes (float passes)."""
    if images.dtype == torch.uint8:
        images = images.unsqueeze(1).to(torch.float32).div_(255.0)
    return images.contiguous(memory_format=memory_format)


@torch.inference_mode()
def loss_and_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    autocast: bool = False,
    label_smoothing: float = 0.0,
) -> tuple[float, float]:
    """Mean cross-entropy (label-smoothed when asked) and accuracy of `model` (in eval mode) on
    uint8 or float images `x`, converted and moved to the model's device a batch at a time (no
    float copy of the whole set)."""
    model.eval()
    device = model_device(model)
    fmt = _input_format(model)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for i in range(0, len(y), EVAL_BATCH):
        xb = as_batch(x[i : i + EVAL_BATCH].to(device, non_blocking=True), fmt)
        yb = y[i : i + EVAL_BATCH].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(xb).float()
        total_loss += F.cross_entropy(logits, yb, reduction="sum", label_smoothing=label_smoothing)
        correct += (logits.argmax(1) == yb).sum()
    n = max(len(y), 1)
    return total_loss.item() / n, correct.item() / n


def _copy_state(model: nn.Module, into: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """The model's weights copied into `into` (the previous best's tensors, reused: a run keeps
    one spare copy of its weights however often it improves) or into new tensors."""
    with torch.no_grad():
        state = model.state_dict()
        if into is None:
            return {k: v.detach().clone() for k, v in state.items()}
        for k, v in state.items():
            into[k].copy_(v)
        return into


class Trainer:
    """Trains one model on one split; `run()` yields progress records as it goes."""

    def __init__(self, config: TrainConfig, split: DataSplit) -> None:
        if len(split.train) == 0 or len(split.val) == 0:
            raise ConfigError("Training needs at least one training and one validation image.")
        self.config = config
        self.split = split
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.model = build_model(config).to(self.device)
        self.history: list[EpochRecord] = []
        self.end: EndRecord | None = None
        self.n_parameters = count_parameters(self.model)

    # ------------------------------------------------------------ public

    def run(self, stop: threading.Event | None = None, report_every: int = 10) -> Iterator[Record]:
        stop = stop or threading.Event()
        torch.set_flush_denormal(True)  # denormals slow late one-cycle epochs on CPU
        start = time.perf_counter()
        if isinstance(self.model, MajorityClass):
            yield from self._fit_baseline(start)
            return
        yield from self._train(stop, report_every, start)

    # ------------------------------------------------------------ internals

    def _tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Train and validation images (uint8: a quarter of float32's memory) and labels on the device.

        On the CPU these are the split's own tensors, not copies."""
        if uses_channels_last(self.config):
            self.model.to(memory_format=torch.channels_last)
        train, val = self.split.train, self.split.val
        return tuple(
            t.to(self.device, non_blocking=True)  # type: ignore[return-value]
            for t in (train.images, train.labels, val.images, val.labels)
        )

    def _fit_baseline(self, start: float) -> Iterator[Record]:
        model: MajorityClass = self.model  # type: ignore[assignment]
        model.fit(self.split.train.labels.to(self.device))
        xt, yt, xv, yv = self._tensors()
        smoothing = self._label_smoothing()
        train_loss, train_acc = loss_and_accuracy(model, xt, yt, label_smoothing=smoothing)
        val_loss, val_acc = loss_and_accuracy(model, xv, yv, label_smoothing=smoothing)
        elapsed = time.perf_counter() - start
        rec = EpochRecord(
            1,
            1,
            train_loss,
            train_acc,
            val_loss,
            val_acc,
            elapsed,
            len(yt) / max(elapsed, 1e-9),
            0.0,
            True,
            elapsed,
        )
        self.history.append(rec)
        yield rec
        self.end = EndRecord(
            "finished",
            "The majority-class baseline needs no training: it always predicts the most common digit.",
            1,
            val_loss,
            val_acc,
            elapsed,
        )
        yield self.end

    def _label_smoothing(self) -> float:
        return LABEL_SMOOTHING if self.config.augment else 0.0

    def _train(self, stop: threading.Event, report_every: int, start: float) -> Iterator[Record]:
        cfg = self.config
        smoothing = self._label_smoothing()
        xt, yt, xv, yv = self._tensors()
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed batch shapes: pick the fastest kernels once
        # On the device, so neither shuffling nor augmentation copies random numbers to a GPU.
        gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        fmt = torch.channels_last if uses_channels_last(cfg) else torch.contiguous_format
        batches = math.ceil(len(yt) / cfg.batch_size)
        warp_until = cfg.epochs - clean_epochs(cfg.epochs) if cfg.augment else 0  # last warped epoch
        opt, schedule = make_optimizer(cfg, self.model, cfg.epochs * batches)
        lr = current_lr(opt)
        autocast = uses_bf16(cfg, self.device)
        sync_every = max(1, min(report_every, SYNC_EVERY))
        best: tuple[float, int, float, dict] | None = None  # val loss, epoch, val acc, weights
        status, message = "finished", ""
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            self.model.train()
            order = torch.randperm(len(yt), generator=gen, device=self.device)
            # running sums stay on the device; reading them is what waits for a GPU
            loss_sum = torch.zeros((), device=self.device)
            correct = torch.zeros((), dtype=torch.int64, device=self.device)
            seen, mean_loss = 0, math.nan
            for b in range(batches):
                if stop.is_set():
                    status = "stopped"
                    break
                idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                x, y = as_batch(xt[idx]), yt[idx]
                if epoch <= warp_until:
                    x = augment_batch(x, gen)
                x = x.contiguous(memory_format=fmt)
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
                    logits = self.model(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=smoothing)
                opt.zero_grad()
                loss.backward()
                lr = current_lr(opt)  # the rate this step uses: an epoch records its last step's
                opt.step()
                schedule.step()
                loss_sum += loss.detach() * len(y)
                correct += (logits.argmax(1) == y).sum()
                seen += len(y)
                if (b + 1) % sync_every and b + 1 != batches:
                    continue
                mean_loss = loss_sum.item() / seen
                if not math.isfinite(mean_loss):
                    status = "diverged"
                    message = (
                        f"Training diverged in epoch {epoch}, by batch {b + 1}: the loss became "
                        f"{mean_loss}. The learning rate ({cfg.lr:g}) is probably too high: "
                        "try a lower one, e.g. ten times smaller."
                    )
                    break
                if (b + 1) % report_every == 0 or b + 1 == batches:
                    yield BatchRecord(
                        epoch,
                        cfg.epochs,
                        b + 1,
                        batches,
                        mean_loss,
                        ((epoch - 1) * batches + b + 1) / (cfg.epochs * batches),
                        time.perf_counter() - start,
                    )
            complete = status == "finished"
            if status == "diverged" or (not complete and (self.history or seen == 0)):
                break  # a partial epoch only counts when it is all a stopped run has
            if not complete:
                mean_loss = loss_sum.item() / seen
            # fp32, as evaluate() does; smoothed like the training loss
            val_loss, val_acc = loss_and_accuracy(self.model, xv, yv, label_smoothing=smoothing)
            seconds = time.perf_counter() - t0
            is_best = best is None or val_loss < best[0]
            if is_best:
                best = (val_loss, epoch, val_acc, _copy_state(self.model, best[3] if best else None))
            rec = EpochRecord(
                epoch,
                cfg.epochs,
                mean_loss,
                correct.item() / seen,
                val_loss,
                val_acc,
                seconds,
                seen / max(seconds, 1e-9),
                lr,
                is_best,
                time.perf_counter() - start,
                partial=not complete,
            )
            self.history.append(rec)
            yield rec
            if not complete:
                break
            if cfg.patience and epoch - best[1] >= cfg.patience:
                status = "early_stopped"
                message = (
                    f"Early stopping: validation loss has not improved for {cfg.patience} "
                    f"epochs since epoch {best[1]}."
                )
                break
        yield self._finish(status, message, best, start)

    def _finish(self, status: str, message: str, best: tuple | None, start: float) -> EndRecord:
        if best is not None:
            self.model.load_state_dict(best[3])
        self.model.to(memory_format=torch.contiguous_format).eval()
        if not message:
            message = {
                "finished": "Training finished.",
                "stopped": "Stopped by the user; the best weights so far are kept.",
                "diverged": "Training diverged.",
            }.get(status, "")
        if best is not None and status in ("finished", "stopped", "early_stopped"):
            message += f" Best epoch: {best[1]} (validation accuracy {best[2]:.2%})."
        self.end = EndRecord(
            status,
            message,
            best[1] if best else None,
            best[0] if best else None,
            best[2] if best else None,
            time.perf_counter() - start,
        )
        return self.end
