"""`python -m mnist_core`: every command, its JSON, and its one-line errors."""

import argparse
import dataclasses
import gzip
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_core.cli.main import build_parser, main
from mnist_core.config import TrainConfig
from mnist_core.data.sources import load_test
from mnist_core.runs import storage
from tests.fakes import fake_mnist, idx_bytes

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def trained(capsys):
    code, out, err = run_cli(
        capsys, "train", "--data", "sample", "--model", "logreg", "--epochs", "2", "--name", "cli test"
    )
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_train_prints_progress_and_json(trained, capsys):
    assert 0.5 < trained["val_accuracy"] <= 1
    assert trained["diagnosis"] == "too early to tell" and trained["diagnosis_kind"] == "too_early"
    assert Path(trained["run"]).is_dir()
    code, out, _ = run_cli(capsys, "runs", "--json")
    assert code == 0 and json.loads(out.splitlines()[0])["id"] == Path(trained["run"]).name
    code, out, _ = run_cli(capsys, "runs")
    assert "Logistic regression" in out


def test_train_out_folder(tmp_path, capsys):
    code, out, err = run_cli(
        capsys, "train", "--data", "sample", "--preset", "baseline", "--out", str(tmp_path / "elsewhere")
    )
    assert code == 0, err
    assert str(tmp_path / "elsewhere") in json.loads(out)["run"]
    assert "epoch 1/1" in err


def test_evaluate_val_and_test(trained, capsys):
    code, out, _ = run_cli(capsys, "evaluate", trained["run"])
    result = json.loads(out)
    assert code == 0 and result["split"] == "val"
    assert result["accuracy"] == pytest.approx(trained["val_accuracy"])
    assert len(result["confusion"]) == 10 and sum(map(sum, result["confusion"])) == result["n"]
    code, out, _ = run_cli(capsys, "evaluate", trained["run"], "--split", "test")
    result = json.loads(out)
    assert result["n"] == len(load_test("sample")) and result["test_evaluations"] == 1


def test_evaluate_test_on_a_folder_with_only_t10k_files(trained, tmp_path, capsys):
    test = load_test("sample")
    folder = tmp_path / "t10k"
    folder.mkdir()
    imgs, lbls = test.images.numpy(), test.labels.numpy().astype(np.uint8)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(
            bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in imgs.shape) + imgs.tobytes()
        )
    )
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(bytes([0, 0, 8, 1]) + len(lbls).to_bytes(4, "big") + lbls.tobytes())
    )
    code, out, err = run_cli(capsys, "evaluate", trained["run"], "--data", str(folder), "--split", "test")
    assert code == 0, err
    assert json.loads(out)["n"] == len(test)


def test_predict_images_and_blank(trained, tmp_path, capsys):
    test = load_test("sample")
    digit = Image.fromarray(test.images[0].numpy()).resize((280, 280))
    digit.save(tmp_path / "digit.png")
    Image.new("L", (200, 200), 255).save(tmp_path / "blank.png")  # white paper, no ink
    (tmp_path / "bad.png").write_bytes(b"not an image")
    code, out, _ = run_cli(
        capsys,
        "predict",
        trained["run"],
        str(tmp_path / "digit.png"),
        str(tmp_path / "blank.png"),
        str(tmp_path / "bad.png"),
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["digit"] in range(10) and len(lines[0]["probabilities"]) == 10
    assert sum(lines[0]["probabilities"]) == pytest.approx(1, abs=1e-3)
    assert lines[1]["digit"] is None
    assert "error" in lines[2]
    assert code == 2  # one file failed


@pytest.mark.parametrize(
    "args, words",
    [
        (["train", "--lr", "0"], "lr"),
        (["train", "--epochs", "1000000"], "epochs"),
        (["train", "--data", "/no/such/dir"], "not 'auto'"),
        (["evaluate", "nope"], "No saved run"),
        (["predict", "nope", "x.png"], "No saved run"),
    ],
)
def test_bad_input_is_one_line(capsys, args, words):
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and words in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_module_entry_point_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_core", "train", "--batch-size", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "batch_size" in proc.stderr and "Traceback" not in proc.stderr


def _subcommands() -> dict:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_help_of_every_subcommand(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    out, err = capsys.readouterr()
    assert exit_.value.code == 0 and out.startswith("usage: ") and err == ""


def test_train_help_lists_every_hyperparameter():
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_core", "train", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    text = " ".join(proc.stdout.split())
    assert "±10 %" in text  # the bare "%" that once crashed argparse
    for field in dataclasses.fields(TrainConfig):
        assert "--" + field.name.replace("_", "-") in text


def test_a_run_at_chance_level_is_not_reported_as_a_success(tmp_path, capsys):
    folder = tmp_path / "noise"  # random pixels: nothing to learn, so validation stays at chance
    folder.mkdir()
    for name, content in fake_mnist(n_train=2000, n_test=10).items():
        (folder / name).write_bytes(content)
    code, out, err = run_cli(capsys, "train", "--data", str(folder), "--model", "logreg", "--epochs", "1")
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"bare {c} in the JSON"))
    assert code == 0 and result["val_accuracy"] < 0.2
    assert result["diagnosis"] == "not learning"
    status = err.strip().splitlines()[-1]
    assert status.startswith("warning: ") and "not learning" in status and "guessing gives 10 %" in status


def test_test_evaluation_on_other_data_is_stored_apart(trained, tmp_path, capsys):
    test = load_test("sample")
    folder = tmp_path / "five"
    folder.mkdir()
    labels = (test.labels[:5].numpy() + 1) % 10  # 5 mislabelled images
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(test.images[:5].numpy()))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    code, out, err = run_cli(capsys, "evaluate", trained["run"], "--split", "test", "--data", str(folder))
    result = json.loads(out)
    assert code == 0 and result["n"] == 5 and result["own_data"] is False
    assert f"on folder {folder.resolve()}, 5 images" in err
    run = storage.load_run(trained["run"])
    assert "test_accuracy" not in run.meta and run.meta["test_evaluations"] == 0
    (other,) = run.meta["other_evaluations"]
    assert (other["split"], other["n"], other["accuracy"]) == ("test", 5, result["accuracy"])
    assert other["fingerprint"] == result["fingerprint"] and len(result["fingerprint"]) == 16
    for data in ([], ["--data", "sample"]):  # its own source, implied or named
        code, out, _ = run_cli(capsys, "evaluate", trained["run"], "--split", "test", *data)
        result = json.loads(out)
        assert code == 0 and result["own_data"] is True and result["n"] == len(test)
    run = storage.load_run(trained["run"])
    assert run.meta["test_accuracy"] == result["accuracy"] and run.meta["test_evaluations"] == 2
    assert run.meta["test_source"] == "sample" and run.meta["test_n"] == len(test)
    assert len(run.meta["other_evaluations"]) == 1


@pytest.mark.slow
def test_ctrl_c_keeps_the_best_epoch_as_a_stopped_run():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mnist_core",
            "train",
            "--data",
            "sample",
            "--model",
            "logreg",
            "--epochs",
            "200",
            "--name",
            "ctrl-c",
        ],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        for line in proc.stderr:
            if line.startswith("epoch 1/200"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "stopped"
    run = storage.load_run(result["run"])
    assert run.meta["status"] == "stopped" and run.meta["name"] == "ctrl-c" and run.history
