"""Training speed and accuracy: the 48,000-image epoch, where a step's time goes, the default preset
on the offline sample (three seeds) and the pytorch/examples reference CNN side by side.

Targets (issue 11, 2-core CPU): default CNN epoch over 48,000 images <= 1.5 s (median of epochs
2-4); default preset >= 98.5 % on the sample's held-out test split (mean of 3 seeds), >= 98 %
validation accuracy within 4 s of training and the whole run within 8 s; >= 25x faster per
epoch than the reference CNN at equal or better accuracy. Printed, never asserted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from bench.examples_reference import ExamplesNet, run_in_own_process
from mnist_core.config import DEFAULT_PRESET, PRESETS, TrainConfig
from mnist_core.data import sources as data
from mnist_core.data.preprocess import DataSplit, make_split
from mnist_core.data.sources import Images, SourceInfo
from mnist_core.training.augment import augment_batch
from mnist_core.training.models import build_model, uses_channels_last
from mnist_core.training.optim import make_optimizer
from mnist_core.training.precision import uses_bf16
from mnist_core.training.train import (
    BatchRecord,
    EpochRecord,
    Trainer,
    as_batch,
    loss_and_accuracy,
    resolve_device,
)

EPOCH_IMAGES = 48_000


def synthetic_split(n_train: int = EPOCH_IMAGES, n_val: int = 1_000) -> DataSplit:
    """Random images and labels: the speed of an epoch does not depend on what the pixels show."""
    gen = torch.Generator().manual_seed(0)

    def images(n: int) -> Images:
        return Images(
            torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=gen),
            torch.randint(0, 10, (n,), generator=gen),
        )

    return DataSplit(images(n_train), images(n_val), SourceInfo("synthetic", "synthetic", "synthetic"))


def _median_epoch(cfg: TrainConfig, split: DataSplit, epochs: int = 4) -> tuple[float, float, int]:
    """(median, fastest) seconds of epochs 2..epochs (the first pays one-off costs), parameters."""
    trainer = Trainer(cfg.replace(epochs=epochs), split)
    secs = [r.seconds for r in trainer.run() if isinstance(r, EpochRecord)][1:]
    return statistics.median(secs), min(secs), trainer.n_parameters


def bench_epochs(epochs: int = 4) -> float:
    """Seconds per 48,000-image epoch for each model family; returns the default CNN's median."""
    print(f"\n## Epoch over {EPOCH_IMAGES:,} images (synthetic; median and fastest of epochs 2-{epochs})")
    split = synthetic_split()
    families = {
        "logreg": TrainConfig(model="logreg", augment=False),
        "mlp": TrainConfig(model="mlp"),
        "cnn (default)": PRESETS[DEFAULT_PRESET],
    }
    default = 0.0
    for name, cfg in families.items():
        med, fastest, params = _median_epoch(cfg, split, epochs)
        target = "   target <= 1.5 s" if name.startswith("cnn") else ""
        print(
            f"{name:14} {med:6.2f} s/epoch (fastest {fastest:.2f})  {EPOCH_IMAGES / med:9,.0f} img/s  "
            f"({params:,} params, batch {cfg.batch_size}, augment {cfg.augment}){target}"
        )
        default = med if name.startswith("cnn") else default
    return default


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_shares(cfg: TrainConfig | None = None, steps: int = 60, warmup: int = 10) -> dict[str, float]:
    """Milliseconds per training step spent in each phase of the trainer's step, measured on
    synthetic batches with the trainer's own building blocks (a GPU is synchronised per phase)."""
    cfg = cfg or PRESETS[DEFAULT_PRESET]
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    fmt = torch.channels_last if uses_channels_last(cfg) else torch.contiguous_format
    model.to(memory_format=fmt).train()
    opt, schedule = make_optimizer(cfg, model, warmup + steps)
    gen = torch.Generator(device=device).manual_seed(0)
    pool = torch.randint(0, 256, (4096, 28, 28), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (4096,), device=device)
    autocast = uses_bf16(cfg, device)
    phases = {"batch": 0.0, "augment": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}

    def timed(name: str, fn: Callable[[], object], count: bool) -> object:
        _sync(device)
        t = time.perf_counter()
        out = fn()
        _sync(device)
        if count:
            phases[name] += time.perf_counter() - t
        return out

    for i in range(warmup + steps):
        count = i >= warmup
        idx = torch.randint(0, len(labels), (cfg.batch_size,), generator=gen, device=device)
        x = timed("batch", lambda: as_batch(pool[idx]), count)
        y = labels[idx]
        if cfg.augment:
            x = timed("augment", lambda: augment_batch(x, gen), count)

        def forward() -> torch.Tensor:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                logits = model(x.contiguous(memory_format=fmt))
            return F.cross_entropy(logits.float(), y)

        loss = timed("forward", forward, count)
        timed("backward", lambda: (opt.zero_grad(), loss.backward()), count)
        timed("optimizer", lambda: (opt.step(), schedule.step()), count)
    return {k: v / steps * 1000 for k, v in phases.items()}


def bench_step_shares() -> None:
    cfg = PRESETS[DEFAULT_PRESET]
    print(
        f"\n## Where a training step goes (default CNN, batch {cfg.batch_size}, {resolve_device(cfg.device)})"
    )
    ms = step_shares(cfg)
    total = sum(ms.values())
    print(
        "   ".join(f"{k} {v:.2f} ms ({v / total:.0%})" for k, v in ms.items()) + f"   = {total:.2f} ms/step"
    )


def _test_accuracy(model: nn.Module, test: Images) -> float:
    return loss_and_accuracy(model, test.images, test.labels)[1]


def bench_sample(seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    """The default preset on the offline sample, once per seed: held-out test accuracy, when
    98 % validation accuracy was first reached and how long the whole run trained."""
    cfg = PRESETS[DEFAULT_PRESET]
    print(
        f"\n## Default preset on the offline sample ({cfg.epochs} epochs; seeds {', '.join(map(str, seeds))})"
    )
    test = data.load_test("sample")
    accs, reach, totals = [], [], []
    for seed in seeds:
        run_cfg = cfg.replace(seed=seed)
        split = make_split("sample", run_cfg)
        trainer = Trainer(run_cfg, split)
        first = None
        for rec in trainer.run():
            if isinstance(rec, EpochRecord) and first is None and rec.val_acc >= 0.98:
                first = (rec.epoch, rec.elapsed)
        accs.append(_test_accuracy(trainer.model, test))
        totals.append(trainer.end.elapsed)
        reach.append(first[1] if first else None)
        print(
            f"seed {seed}: test {accs[-1]:.2%}  best val {trainer.end.best_val_acc:.2%} (epoch "
            f"{trainer.end.best_epoch})  98 % val "
            + (f"at epoch {first[0]} after {first[1]:.1f} s" if first else "never")
            + f"  finished in {totals[-1]:.1f} s  (sizes {split.sizes()})"
        )
    reached = [r for r in reach if r is not None]
    wrong = sum(round((1 - a) * len(test)) for a in accs)
    print(
        f"mean held-out test accuracy {statistics.mean(accs):.3%} ({wrong} of {len(test) * len(seeds):,} "
        f"answers wrong over the {len(seeds)} seeds; n={len(test)})   target >= 98.5 %"
    )
    print(
        "98 % validation accuracy after "
        + (
            f"{statistics.median(reached):.1f} s (median; reached in {len(reached)} of {len(seeds)} runs)"
            if reached
            else "never"
        )
        + "   target <= 4 s"
    )
    print(f"whole run {statistics.median(totals):.1f} s (median)   target <= 8 s")


# ---------------------------------------------------------------- the reference CNN


def _epoch_data() -> tuple[DataSplit, Images, str]:
    """48,000 training images and a test set: full MNIST's 48k/12k split when it is on disk,
    otherwise the offline sample's training images repeated up to 48,000."""
    cfg = PRESETS[DEFAULT_PRESET]
    if data.mnist_available():
        split = make_split("mnist", cfg)
        return split, data.load_test("mnist"), "full MNIST (48,000 training images, 10,000 test)"
    split = make_split("sample", cfg)
    idx = torch.arange(EPOCH_IMAGES) % len(split.train)
    idx = idx[torch.randperm(EPOCH_IMAGES, generator=torch.Generator().manual_seed(0))]
    test = data.load_test("sample")
    what = (
        f"the sample's {len(split.train):,} training images repeated to {EPOCH_IMAGES:,}; "
        f"its {len(test)} held-out test images"
    )
    return DataSplit(split.train.subset(idx), split.val, split.source), test, what


def train_reference(
    train: Images, device: torch.device, batch_size: int = 64, max_images: int | None = None
) -> tuple[nn.Module, float]:
    """One epoch of the examples' recipe (Adadelta lr 1.0, StepLR gamma 0.7, batch 64, their
    normalisation, fp32) inside this process: batches from one in-memory tensor and this
    process's allocator settings, both in its favour. Returns the model and the epoch's seconds."""
    torch.manual_seed(1)
    model = ExamplesNet().to(device)
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    n = min(len(train), max_images or len(train))
    x_all = ((train.images[:n].unsqueeze(1).float() / 255 - 0.1307) / 0.3081).to(device)
    y_all = train.labels[:n].to(device)
    order = torch.randperm(n, device=device)
    model.train()
    _sync(device)
    t0 = time.perf_counter()
    for i in range(0, n, batch_size):
        idx = order[i : i + batch_size]
        opt.zero_grad()
        loss = F.nll_loss(model(x_all[idx]), y_all[idx])
        loss.backward()
        opt.step()
    sched.step()
    _sync(device)
    return model, (time.perf_counter() - t0) * len(train) / n


@torch.inference_mode()
def _reference_accuracy(model: nn.Module, test: Images, device: torch.device) -> float:
    model.eval()
    x = ((test.images.unsqueeze(1).float() / 255 - 0.1307) / 0.3081).to(device)
    pred = torch.cat([model(x[i : i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return (pred.cpu() == test.labels).float().mean().item()


def _our_epochs(split: DataSplit, n: int) -> tuple[list[float], list[float], Trainer]:
    """`n` one-epoch runs of the default preset: seconds over the training batches, seconds with
    the validation pass, and the last trainer (its model is the same every time: same seed)."""
    runs, whole = [], []
    for _ in range(n):
        trainer = Trainer(PRESETS[DEFAULT_PRESET].replace(epochs=1), split)
        records = list(trainer.run())
        runs.append(next(r.elapsed for r in reversed(records) if isinstance(r, BatchRecord)))
        whole.append(next(r.seconds for r in records if isinstance(r, EpochRecord)))
    return runs, whole, trainer


def bench_reference(max_images: int | None = None) -> None:
    """Ours (the default preset's recipe, one epoch) against the reference CNN on the same 48,000
    images: run as pytorch/examples runs it (own process, its DataLoader, stock allocator: the
    target's figure), and again inside this tuned process on in-memory batches, to show how much
    of the gap the process settings alone close. `max_images` shortens the second (quick runs)."""
    split, test, what = _epoch_data()
    device = resolve_device("auto")
    print(f"\n## Side by side with the pytorch/examples CNN: one epoch each on {what}")
    # Identical one-epoch runs (same seed, same result), three before the reference and three
    # after it: a 1-s figure on this noisy host needs a median, and a slow minute of the host
    # must not fall on our few seconds alone while the reference's 30-s epoch averages it out.
    # Both are timed over their training batches only: the reference's clock stops before its
    # test pass, ours at the last batch's record, before the validation pass of a trainer's epoch.
    before, whole, trainer = _our_epochs(split, 3)
    as_run = run_in_own_process(split.train, test)
    after, whole_after, _ = _our_epochs(split, 3)
    runs = before + after
    ours = statistics.median(runs)
    ours_acc = _test_accuracy(trainer.model, test)
    print(
        f"default CNN:   {ours:6.2f} s/epoch of training (median of 6 one-epoch runs, 3 before the "
        f"reference: {', '.join(f'{r:.2f}' for r in before)}, 3 after: {', '.join(f'{r:.2f}' for r in after)}; "
        f"{statistics.median(whole + whole_after):.2f} s with the validation pass), test accuracy "
        f"{ours_acc:.2%} ({trainer.n_parameters:,} params, its own recipe and augmentation, one-cycle "
        "over this epoch)"
    )
    print(
        f"reference CNN as pytorch/examples runs it: {as_run['seconds']:6.1f} s/epoch, test accuracy "
        f"{as_run['accuracy']:.2%} ({as_run['parameters']:,} params, Adadelta, batch 64, fp32, "
        f"torchvision MNIST + DataLoader, {as_run['threads']} threads, stock allocator, {as_run['device']})"
    )
    ratio = as_run["seconds"] / ours
    fair = "equal or better accuracy" if ours_acc >= as_run["accuracy"] else "LOWER accuracy"
    print(f"ours is {ratio:.0f}x faster per epoch, at {fair}   target >= 25x at equal or better accuracy")
    model, ref = train_reference(split.train, device, max_images=max_images)
    ref_acc = _reference_accuracy(model, test, device) if not max_images else float("nan")
    scaled = f" (timed on {max_images:,} images and scaled)" if max_images else ""
    print(
        f"reference CNN in this process (in-memory batches, tuned allocator): {ref:6.1f} s/epoch{scaled}, "
        f"test accuracy {ref_acc:.2%}: ours is {ref / ours:.0f}x faster per epoch"
    )


def run() -> None:
    print(f"device: {resolve_device('auto')}")
    bench_epochs()
    bench_step_shares()
    bench_sample()
    bench_reference()
