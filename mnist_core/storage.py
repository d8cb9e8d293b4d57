"""Saved runs: one folder per run, written atomically, loaded without unpickling anything.

A run folder holds:
    config.json      the TrainConfig
    meta.json        data source, split sizes, status, best epoch, metrics, test-set counter...
    history.json     the epoch records (the loss curves)
    model.safetensors  the best-epoch weights (no pickle)
    eval_val.json / eval_test.json   evaluation results, when computed
    summary.txt      a few lines for humans

A new run is written into a hidden temporary folder and renamed into place, and every later
update replaces one file atomically, so a crash mid-save leaves the previous state whole.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .config import ConfigError, TrainConfig, studio_home
from .evaluate import EvalResult
from .models import build_model

WEIGHTS = "model.safetensors"


class StorageError(RuntimeError):
    """A run that cannot be read or written; the message names the folder and what to do."""


def runs_dir(home: Path | None = None) -> Path:
    return Path(home or studio_home()) / "runs"


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a file so that readers see either the old or the new content, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2, allow_nan=True))


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise StorageError(f"{path} is damaged ({exc}). Delete the run folder {Path(path).parent} "
                           "or restore the file.") from exc


@dataclass
class Run:
    """A saved run: its folder, config, metadata, curves and (loaded on demand) weights."""

    path: Path
    config: TrainConfig
    meta: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        acc = self.meta.get("val_accuracy")
        acc_s = f"{acc:.1%}" if isinstance(acc, (int, float)) else "n/a"
        return f"{self.meta.get('name') or self.id} · {self.config.summary()} · val {acc_s}"

    def load_model(self) -> nn.Module:
        return load_model(self.path, self.config)

    def evaluation(self, split: str) -> EvalResult | None:
        path = self.path / f"eval_{split}.json"
        return EvalResult.from_dict(read_json(path)) if path.is_file() else None


def new_run_id(config: TrainConfig) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{config.model}-{uuid.uuid4().hex[:4]}"


def save_run(model: nn.Module, config: TrainConfig, history: list[dict[str, Any]],
             meta: dict[str, Any], home: Path | None = None, run_id: str | None = None) -> Run:
    """Save a trained model as a new run folder (atomically: all of it or nothing)."""
    root = runs_dir(home)
    root.mkdir(parents=True, exist_ok=True)
    run_id = run_id or new_run_id(config)
    final = root / run_id
    if final.exists():
        raise StorageError(f"A run named {run_id} already exists in {root}.")
    meta = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "test_evaluations": 0, **meta, "id": run_id}
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{run_id}-"))
    try:
        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS), metadata={"config": json.dumps(config.to_dict())})
        write_json(tmp / "config.json", config.to_dict())
        write_json(tmp / "history.json", history)
        write_json(tmp / "meta.json", meta)
        write_atomic(tmp / "summary.txt", summary_text(config, meta))
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Run(final, config, meta, history)


def summary_text(config: TrainConfig, meta: dict[str, Any]) -> str:
    lines = [f"Run {meta.get('id')} ({meta.get('created')})",
             f"Model: {config.summary()}, {meta.get('parameters', '?')} parameters",
             f"Data: {meta.get('data_name', meta.get('data', '?'))}, sizes {meta.get('sizes', {})}",
             f"Status: {meta.get('status')} — {meta.get('message', '')}",
             f"Best epoch: {meta.get('best_epoch')}, validation accuracy: {meta.get('val_accuracy')}",
             f"Test evaluations: {meta.get('test_evaluations', 0)}"
             + (f", test accuracy {meta['test_accuracy']}" if "test_accuracy" in meta else ""),
             "Config: " + json.dumps(config.to_dict())]
    return "\n".join(lines) + "\n"


def load_run(path: Path | str, home: Path | None = None) -> Run:
    """Open a run by folder path or by id (looked up in the runs folder)."""
    path = Path(path)
    if not path.is_dir():
        path = runs_dir(home) / str(path)
    if not (path / "config.json").is_file():
        raise StorageError(f"No saved run at {path}: `python -m mnist_core runs` lists the runs.")
    try:
        config = TrainConfig.from_dict(read_json(path / "config.json"))
    except ConfigError as exc:
        raise StorageError(f"{path / 'config.json'} holds an invalid config: {exc}") from exc
    meta = read_json(path / "meta.json") if (path / "meta.json").is_file() else {}
    history = read_json(path / "history.json") if (path / "history.json").is_file() else []
    return Run(path, config, meta, history)


def load_model(path: Path, config: TrainConfig) -> nn.Module:
    """Build the model for `config` and fill it with the saved weights (safetensors: no pickle)."""
    weights = Path(path) / WEIGHTS
    try:
        state = load_file(str(weights))
    except FileNotFoundError as exc:
        raise StorageError(f"{weights} is missing: the run cannot predict. Train it again.") from exc
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise StorageError(f"{weights} is damaged ({exc}). Train the run again.") from exc
    model = build_model(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise StorageError(f"{weights} does not match its config.json ({str(exc)[:200]}).") from exc
    return model.eval()


def list_runs(home: Path | None = None) -> list[Run]:
    """All readable runs, newest first; damaged folders are skipped."""
    root = runs_dir(home)
    if not root.is_dir():
        return []
    runs = []
    for path in root.iterdir():
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            runs.append(load_run(path))
        except (StorageError, FileNotFoundError):
            continue
    return sorted(runs, key=lambda r: (r.meta.get("created", ""), r.id), reverse=True)


def latest_run(home: Path | None = None) -> Run | None:
    runs = list_runs(home)
    return runs[0] if runs else None


def delete_run(run: Run | Path | str, home: Path | None = None) -> None:
    """Remove a run: renamed away first (atomic), then deleted."""
    path = run.path if isinstance(run, Run) else Path(run)
    if not path.is_dir():
        path = runs_dir(home) / str(run)
    if not path.is_dir():
        raise StorageError(f"No run at {path}.")
    trash = path.parent / f".deleted-{path.name}-{int(time.time() * 1000)}"
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def update_meta(run: Run, **changes: Any) -> Run:
    """Change some metadata fields (atomically) and refresh the summary."""
    run.meta.update(changes)
    write_json(run.path / "meta.json", run.meta)
    write_atomic(run.path / "summary.txt", summary_text(run.config, run.meta))
    return run


def save_evaluation(run: Run, result: EvalResult) -> Run:
    """Store an evaluation; a test-set evaluation also bumps the run's test counter."""
    write_json(run.path / f"eval_{result.split}.json", result.to_dict())
    if result.split == "test":
        return update_meta(run, test_evaluations=int(run.meta.get("test_evaluations", 0)) + 1,
                           test_accuracy=result.accuracy, test_loss=result.loss)
    return update_meta(run, **{f"{result.split}_accuracy": result.accuracy,
                               f"{result.split}_loss": result.loss})


def export_weights(run: Run) -> bytes:
    """The safetensors file of a run (for download)."""
    return (run.path / WEIGHTS).read_bytes()


def state_to_cpu(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}
