"""Run folders: round trip, atomic saves, damaged files, delete, no pickle anywhere, orphaned
temporary folders, and where each evaluation's images came from."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mnist_core.config import TrainConfig
from mnist_core.data.sources import Images, SourceInfo, images_fingerprint, load_test
from mnist_core.evaluation.evaluate import evaluate
from mnist_core.runs import storage
from mnist_core.runs.evaluations import evaluation_note, save_evaluation
from mnist_core.runs.files import StorageError
from mnist_core.runs.listing import scan_runs
from mnist_core.training.models import build_model


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
    assert [r.id for r in scan_runs().runs] == [run.id]


def test_a_saved_model_loads_where_prediction_runs(monkeypatch):
    """On a machine with a GPU, saved models predict there: `load_model` places them on
    `inference.inference_device()` ("meta" stands in for the GPU this CPU machine lacks)."""
    from mnist_core.runs import models as ev  # where load_model looks the device up

    run, _, _ = saved_run()
    asked = []
    monkeypatch.setattr(
        ev, "inference_device", lambda trained_on: asked.append(trained_on) or torch.device("meta")
    )
    assert {p.device.type for p in run.load_model().parameters()} == {"meta"}
    assert asked == [run.config.device]
    assert {p.device.type for p in run.load_model("cpu").parameters()} == {"cpu"}  # an explicit device wins


@pytest.mark.parametrize(
    ("has_cuda", "trained_on", "expected"),
    [
        (True, "auto", "cuda"),
        (True, "cuda", "cuda"),
        (True, "cpu", "cpu"),
        (False, "auto", "cpu"),
        (False, "mps", "cpu"),
    ],
)
def test_inference_device_is_the_gpu_unless_there_is_none_or_the_run_asked_for_the_cpu(
    monkeypatch, has_cuda, trained_on, expected
):
    from mnist_core.evaluation.inference import inference_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: has_cuda)
    assert inference_device(trained_on) == torch.device(expected)


def test_weights_are_safetensors_not_pickle():
    run, _, _ = saved_run()
    raw = (run.path / storage.WEIGHTS).read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])
    assert "__metadata__" in header and not raw.startswith(b"\x80")  # no pickle protocol marker


def test_interrupted_save_leaves_nothing_half_written(monkeypatch):
    first, _, _ = saved_run()

    def boom(*a, **k):
        raise OSError("disk full")

    import safetensors.torch  # save_run imports its writer when it writes

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(OSError):
        saved_run()
    root = storage.runs_dir()
    assert sorted(p.name for p in root.iterdir()) == [first.id]  # no temp folder left behind
    assert [r.id for r in scan_runs().runs] == [first.id]


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
    assert scan_runs().runs == []  # damaged runs are skipped, not fatal
    with pytest.raises(StorageError, match="No saved run"):
        storage.load_run("missing")


def test_delete_and_evaluations(small_split):
    run, model, _ = saved_run()
    result = evaluate(model, small_split.val, "test")
    save_evaluation(run, result)
    save_evaluation(run, result)
    loaded = storage.load_run(run.id)
    assert loaded.meta["test_evaluations"] == 2
    assert loaded.evaluation("test").confusion == result.confusion
    storage.delete_run(loaded)
    assert scan_runs().runs == [] and not run.path.exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize(
    "name, age_s, removed",
    [
        (".tmp-r.pid{dead}.abc123", 120, True),  # its writer was killed
        (".tmp-r.pid{dead}.abc123", 5, False),  # just made: the writer may live in another PID namespace
        (".tmp-r.pid{me}.abc123", 120, False),  # a live writer
        (".tmp-r.pid{me}.abc123", 7200, True),  # older than an hour, whatever the PID says
        (".tmp-r-abc123", 120, False),  # older format without a PID: the hour rule only
        (".tmp-r-abc123", 7200, True),
        (".deleted-r-1700000000000", 0, True),  # a delete that was cut short
    ],
)
def test_orphaned_temporary_folders_are_removed_when_runs_are_listed(name, age_s, removed):
    run, _, _ = saved_run()
    orphan = storage.runs_dir() / name.format(dead=_dead_pid(), me=os.getpid())
    orphan.mkdir()
    (orphan / "model.safetensors").write_bytes(b"half")
    then = time.time() - age_s
    os.utime(orphan, (then, then))
    assert [r.id for r in scan_runs().runs] == [run.id]
    assert orphan.exists() is not removed
    assert scan_runs().damaged == []  # hidden folders are never reported as damaged runs


def test_a_run_being_written_names_its_writer(monkeypatch):
    import safetensors.torch  # save_run imports its writer when it writes

    seen = []
    real = safetensors.torch.save_file
    monkeypatch.setattr(
        safetensors.torch, "save_file", lambda state, path, **kw: (seen.append(path), real(state, path, **kw))
    )
    run, _, _ = saved_run()
    assert re.fullmatch(rf"\.tmp-{run.id}\.pid{os.getpid()}\.\w+", Path(seen[0]).parent.name)


def test_test_evaluations_record_their_data_and_other_data_stays_apart():
    run, model, _ = saved_run(
        {"status": "finished", "data": "sample", "data_kind": "sample", "data_name": "Offline sample"}
    )
    own = load_test("sample")
    other = Images(own.images[:5], (own.labels[:5] + 1) % 10)  # 5 mislabelled images
    folder = SourceInfo("/data/five", "folder", "IDX folder /data/five")
    save_evaluation(run, evaluate(model, other, "test"), data=other, source=folder)
    loaded = storage.load_run(run.id)
    assert "test_accuracy" not in loaded.meta and loaded.meta["test_evaluations"] == 0
    assert loaded.evaluation("test") is None
    (entry,) = loaded.meta["other_evaluations"]
    assert entry["source"] == "/data/five" and entry["n"] == 5 and entry["accuracy"] == 0.0
    assert entry["fingerprint"] == images_fingerprint(other) and len(entry["fingerprint"]) == 16
    assert evaluation_note(entry) == "on folder /data/five, 5 images"
    result = evaluate(model, own, "test")
    save_evaluation(loaded, result, data=own, source=SourceInfo("sample", "sample", "Offline sample"))
    loaded = storage.load_run(run.id)
    assert loaded.meta["test_accuracy"] == result.accuracy and loaded.meta["test_evaluations"] == 1
    assert (loaded.meta["test_source"], loaded.meta["test_n"]) == ("sample", len(own))
    assert loaded.meta["test_fingerprint"] == images_fingerprint(own) != entry["fingerprint"]
    assert (
        evaluation_note({"source_kind": "sample", "source_name": "Offline sample", "n": 1})
        == "on Offline sample, 1 image"
    )


def test_old_runs_without_fingerprints_still_load_and_evaluate():
    run, model, _ = saved_run(
        {"status": "finished", "test_accuracy": 0.9, "test_evaluations": 1, "val_loss": float("nan")}
    )
    loaded = storage.load_run(run.id)
    assert loaded.meta["test_accuracy"] == 0.9 and loaded.meta["val_loss"] is None
    save_evaluation(loaded, evaluate(model, load_test("sample"), "test"))  # no data, no source
    assert storage.load_run(run.id).meta["test_evaluations"] == 2


def test_check_home_refuses_files_before_anything_is_trained(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(StorageError, match="is a file, not a folder"):
        storage.check_home(tmp_path / "f")
    with pytest.raises(StorageError, match="Cannot create the runs folder"):
        storage.check_home(tmp_path / "f" / "below")
    assert storage.check_home(tmp_path / "new") == tmp_path / "new" / "runs"
    assert (tmp_path / "new" / "runs").is_dir()


def test_a_cnn_saved_before_cnn_hidden_existed_still_loads_with_its_128_units(isolated_home):
    old = TrainConfig(cnn_channels=4, cnn_hidden=128, epochs=1)
    torch.manual_seed(0)
    model = build_model(old).eval()
    run = storage.save_run(model, old, [{"epoch": 1, "val_loss": 0.5}], {"status": "finished"})
    stored = json.loads((run.path / "config.json").read_text())
    del stored["cnn_hidden"]  # as every run saved before the field was written
    (run.path / "config.json").write_text(json.dumps(stored))
    loaded = storage.load_run(run.path)
    assert loaded.config.cnn_hidden == 128
    x = torch.rand(3, 1, 28, 28)
    with torch.inference_mode():
        assert torch.allclose(loaded.load_model()(x), model(x))
