"""Train-then-save in one stream, and evaluate-then-save for a saved run.

`train_and_save` (what the CLI and tests run) yields the trainer's records unchanged, then
evaluates the kept weights on the validation set, saves the run folder and yields one
`SavedRecord`. It is two halves a cluster job runs apart: `train_only` (on a worker: records,
then a `Trained` holding the weights as safetensors bytes) and `save_trained` (in the app, so
workers need no shared disk). `evaluate_run` evaluates a saved run on its own
validation or test set and saves the result. Consumers decide what to print or draw; this
module decides nothing about presentation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from torch import nn

from mnist_core.config import TrainConfig
from mnist_core.data.preprocess import DataSplit, make_split
from mnist_core.data.sources import Images, SourceInfo
from mnist_core.evaluation.evaluate import EvalResult, evaluate
from mnist_core.runs.evaluations import save_evaluation
from mnist_core.runs.storage import Run, check_home, save_run
from mnist_core.training.models import build_model
from mnist_core.training.precision import precision_name
from mnist_core.training.train import Record, Trainer


@dataclass(frozen=True)
class SavedRecord:
    """The run was saved: where, and its validation accuracy."""

    run_id: str
    path: str
    status: str
    val_accuracy: float | None
    kind: str = "saved"

    def to_dict(self) -> dict:
        return asdict(self)


PipelineRecord = Record | SavedRecord
# Changes a split before training and says what it changed, for meta.json: e.g. reviewed labels
# (mnist_core.labels.apply.review_split), which this layer must not import. It travels to a
# worker with the task, so it must pickle (a partial over plain data, not a closure over a UI).
SplitReview = Callable[[DataSplit], tuple[DataSplit, dict[str, Any]]]


@dataclass(frozen=True)
class Trained:
    """A finished training, not yet saved: what a worker sends back to the app."""

    config: TrainConfig
    weights: bytes  # safetensors of the kept state dict
    history: list[dict[str, Any]]
    meta: dict[str, Any]  # everything of meta.json but the name
    val: EvalResult
    val_images: Images  # for the evaluation's fingerprint
    source: SourceInfo


def train_only(
    config: TrainConfig,
    data: str = "auto",
    *,
    stop: threading.Event | None = None,
    extra: Images | None = None,
    split: DataSplit | None = None,
    report_every: int = 10,
    review: SplitReview | None = None,
) -> Generator[Record, None, Trained | None]:
    """Train `config`, yield the trainer's records, return the weights and what meta.json
    needs (None when stopped before anything was learned: nothing worth saving); `review`
    changes the split first and its account goes into the run's meta."""
    from safetensors.torch import save

    split = split or make_split(data, config, extra)
    reviewed: dict[str, Any] = {}
    if review is not None:
        split, reviewed = review(split)
    trainer = Trainer(config, split)
    yield from trainer.run(stop, report_every)
    end = trainer.end
    if end is None or not trainer.history:
        return None
    val = evaluate(trainer.model, split.val, "val")
    meta = {
        "data": split.source.key,
        "data_kind": split.source.kind,
        "data_name": split.source.name,
        "sizes": split.sizes(),
        "status": end.status,
        "message": end.message,
        "best_epoch": end.best_epoch,
        "epochs_run": len([h for h in trainer.history if not h.partial]),
        "train_seconds": round(end.elapsed, 2),
        "parameters": trainer.n_parameters,
        "device": trainer.device.type,
        "precision": precision_name(config, trainer.device),
        "val_accuracy": val.accuracy,
        "val_loss": val.loss,
        "used_collected": split.extra_train,
        **reviewed,
    }
    state = {k: v.detach().to("cpu").contiguous() for k, v in trainer.model.state_dict().items()}
    history = [h.to_dict() for h in trainer.history]
    return Trained(config, save(state), history, meta, val, split.val, split.source)


def save_trained(trained: Trained, name: str = "", home: Path | None = None, **meta: Any) -> SavedRecord:
    """Save a `Trained` as a run folder (atomically) with its validation evaluation; `meta`
    adds fields to meta.json (e.g. who started it)."""
    from safetensors.torch import load

    model = build_model(trained.config)
    model.load_state_dict(load(trained.weights))
    run = save_run(model, trained.config, trained.history, {"name": name, **trained.meta, **meta}, home)
    run = save_evaluation(run, trained.val, data=trained.val_images, source=trained.source)
    return SavedRecord(run.id, str(run.path), trained.meta["status"], trained.val.accuracy)


def train_and_save(
    config: TrainConfig,
    data: str = "auto",
    *,
    stop: threading.Event | None = None,
    extra: Images | None = None,
    name: str = "",
    home: Path | None = None,
    split: DataSplit | None = None,
    report_every: int = 10,
    review: SplitReview | None = None,
) -> Iterator[PipelineRecord]:
    """Train `config` on `data` (+ `extra` training images), save the run, yield progress;
    `review` changes the split first (see `train_only`).

    The runs folder is checked before any data is loaded, so a run never trains to the end
    only to find it cannot be saved (StorageError).
    """
    check_home(home)
    trained = yield from train_only(
        config, data, stop=stop, extra=extra, split=split, report_every=report_every, review=review
    )
    if trained is not None:
        yield save_trained(trained, name, home)


def evaluate_run(
    run: Run, split: str, *, model: nn.Module | None = None, data: Images | None = None
) -> EvalResult:
    """Evaluate a saved run on its own validation ("val") or test ("test") set and save the result
    with it (every test evaluation is counted). `model` and `data` reuse what the caller already
    holds (a cached model, the validation images it predicted); otherwise the run rebuilds them."""
    model = model if model is not None else run.load_model()
    if data is None:
        data = run.split().val if split == "val" else run.test_set()
    result = evaluate(model, data, split)
    save_evaluation(run, result, data=data)
    return result
