"""Run folders: round trip, atomic saves, damaged files, delete, no pickle anywhere."""

import json
import os

import pytest
import torch

from mnist_core import storage
from mnist_core.config import TrainConfig
from mnist_core.evaluate import evaluate
from mnist_core.models import build_model
from mnist_core.storage import StorageError


def saved_run(meta=None):
    cfg = TrainConfig(model="mlp", mlp_width=16, mlp_depth=1)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    run = storage.save_run(model, cfg, [{"epoch": 1, "val_loss": 0.5}], meta or {"status": "finished"})
    return run, model, cfg


def test_round_trip():
    run, model, cfg = saved_run({"status": "finished", "val_accuracy": 0.9})
    loaded = storage.load_run(run.id)
    assert loaded.config == cfg and loaded.history == [{"epoch": 1, "val_loss": 0.5}]
    assert loaded.meta["val_accuracy"] == 0.9 and loaded.meta["test_evaluations"] == 0
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(loaded.load_model()(x), model(x))
    assert (run.path / "summary.txt").read_text().startswith("Run ")
    assert [r.id for r in storage.list_runs()] == [run.id]


def test_weights_are_safetensors_not_pickle():
    run, _, _ = saved_run()
    raw = (run.path / storage.WEIGHTS).read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])
    assert "__metadata__" in header and not raw.startswith(b"\x80")  # no pickle protocol marker


def test_interrupted_save_leaves_nothing_half_written(monkeypatch):
    first, _, _ = saved_run()
    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(storage, "save_file", boom)
    with pytest.raises(OSError):
        saved_run()
    root = storage.runs_dir()
    assert sorted(p.name for p in root.iterdir()) == [first.id]  # no temp folder left behind
    assert [r.id for r in storage.list_runs()] == [first.id]


def test_interrupted_meta_update_keeps_previous_file(monkeypatch):
    run, _, _ = saved_run({"status": "finished", "val_accuracy": 0.5})
    before = (run.path / "meta.json").read_text()
    real_replace = os.replace
    def crash(src, dst):
        raise OSError("power cut")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        storage.update_meta(run, val_accuracy=0.7)
    monkeypatch.setattr(os, "replace", real_replace)
    assert (run.path / "meta.json").read_text() == before
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]


def test_damaged_files_give_clear_errors():
    run, _, _ = saved_run()
    (run.path / storage.WEIGHTS).write_bytes(b"garbage")
    with pytest.raises(StorageError, match="damaged"):
        storage.load_run(run.id).load_model()
    (run.path / "config.json").write_text("{not json")
    with pytest.raises(StorageError, match="damaged"):
        storage.load_run(run.id)
    assert storage.list_runs() == []  # damaged runs are skipped, not fatal
    with pytest.raises(StorageError, match="No saved run"):
        storage.load_run("missing")


def test_delete_and_evaluations(small_split):
    run, model, _ = saved_run()
    result = evaluate(model, small_split.val, "test")
    storage.save_evaluation(run, result)
    storage.save_evaluation(run, result)
    loaded = storage.load_run(run.id)
    assert loaded.meta["test_evaluations"] == 2
    assert loaded.evaluation("test").confusion == result.confusion
    storage.delete_run(loaded)
    assert storage.list_runs() == [] and not run.path.exists()
