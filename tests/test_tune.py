"""Hyperparameter search (mnist_core/planning/tune/): the space as data, the trial loop and its records,
pruning and stopping, study helpers, the `tune` CLI, and several workers on one study —
in an embedded SQLite file and on a real PostgreSQL server — including a worker killed mid-trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
import torch

from mnist_core.cli.main import main
from mnist_core.config import TrainConfig
from mnist_core.data.preprocess import make_split
from mnist_core.data.sources import load_train_pool
from mnist_core.planning.tune import TuneError
from mnist_core.planning.tune.best import best_config, train_best
from mnist_core.planning.tune.results import importances, list_studies, trials_table
from mnist_core.planning.tune.space import TUNABLE_FAMILIES, SearchSpace, default_space, family_base
from mnist_core.planning.tune.storage import GRACE_FACTOR, STORAGE_ENV, default_storage_url, open_storage
from mnist_core.planning.tune.study import StudySettings, delete_study, load_study, open_study, space_has_base
from mnist_core.planning.tune.worker import run_search
from mnist_core.runs.listing import scan_runs
from tests import pg
from tests.fakes import fake_mnist

ROOT = Path(__file__).resolve().parents[1]
LOGREG = TrainConfig(
    model="logreg",
    optimizer="adam",
    lr=0.01,
    batch_size=64,
    epochs=3,
    augment=False,
    dropout=0.0,
    weight_decay=1e-4,
)


def logreg_space(epochs: int = 3) -> SearchSpace:
    return replace(default_space("logreg"), epochs=epochs)


def search(name: str, storage: str, split, n_trials: int = 3, **kwargs) -> list[dict]:
    kwargs.setdefault("base_config", LOGREG)
    kwargs.setdefault("space", logreg_space())
    return list(run_search(name, storage, n_trials=n_trials, data=split, seed=0, **kwargs))


@pytest.fixture(scope="module")
def tiny_split():
    """300 train / 100 validation images of the real sample: logistic regression learns them in
    a few steps (this module trains dozens of trials)."""
    pool = load_train_pool("sample")
    idx = torch.randperm(len(pool), generator=torch.Generator().manual_seed(1))[:400]
    return make_split("sample", TrainConfig(val_fraction=0.25), pool=pool.subset(idx))


@pytest.fixture
def storage(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


@pytest.fixture
def fake_data(tmp_path) -> str:
    """A folder of MNIST-shaped IDX files with random images (fast to train on, not learnable)."""
    folder = tmp_path / "fake_idx"
    folder.mkdir()
    for name, content in fake_mnist(n_train=1500, n_test=20).items():
        (folder / name).write_bytes(content)
    return str(folder)


# ------------------------------------------------------------------ the space as data


@pytest.mark.parametrize("family", TUNABLE_FAMILIES)
def test_default_spaces_validate_and_round_trip_through_json(family):
    space = default_space(family)
    assert space.model == family and space.enabled
    again = SearchSpace.from_dict(json.loads(json.dumps(space.to_dict())))
    assert again == space
    for p in space.params:
        spec = p.spec
        assert spec.help and family in spec.families
        assert spec.kind == "choice" or spec.slider[0] <= p.low <= p.high <= spec.slider[1]
    # a family's base settings lie inside its default space, so a new study tries them first;
    # not logistic regression's: its weight decay is 0, which a log-uniform range cannot hold
    settings = StudySettings(space, family_base(family), "val_acc", "sample")
    assert space_has_base(settings) == (family != "logreg")


BAD_SPACES = [
    (lambda s: replace(s, params=tuple(replace(p, enabled=False) for p in s.params)), "empty"),
    (lambda s: s.with_param("lr", low=0.1, high=0.01), "above its maximum"),
    (lambda s: s.with_param("lr", high=20.0), "too large"),
    (lambda s: s.with_param("weight_decay", low=0.0), "above 0"),
    (lambda s: s.with_param("dropout", low=-0.1), "too small"),
    (lambda s: s.with_param("dropout", low=float("nan")), "finite"),
    (lambda s: s.with_param("cnn_channels", enabled=True, low=8.5, high=16), "whole numbers"),
    (lambda s: s.with_param("mlp_width", enabled=True, low=64, high=128), "does not apply"),
    (lambda s: s.with_param("batch_size", enabled=True, choices=()), "no choices"),
    (lambda s: s.with_param("batch_size", enabled=True, choices=(0, 64)), "too small"),
    (lambda s: s.with_param("batch_size", enabled=True, choices=(64, 64)), "twice"),
    (lambda s: replace(s, epochs=0), "epochs"),
    (lambda s: replace(s, model="baseline"), "nothing to tune"),
    (lambda s: s.with_param("momentum", low=0.1, high=0.9), "Unknown search parameter"),
]


@pytest.mark.parametrize("change, message", BAD_SPACES)
def test_bad_spaces_raise_one_clear_error(change, message):
    with pytest.raises(TuneError, match=message) as info:
        change(default_space("cnn"))
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


def test_from_dict_rejects_what_is_not_a_space():
    with pytest.raises(TuneError, match="Not a search space"):
        SearchSpace.from_dict({"model": "cnn"})
    with pytest.raises(TuneError, match="Unknown search parameter"):
        SearchSpace.from_dict({"model": "cnn", "epochs": 5, "params": [{"name": "x", "low": 1, "high": 2}]})


def test_suggestions_become_a_trial_config():
    space = default_space("cnn").with_param("batch_size", enabled=True).with_param("augment", enabled=True)
    values = {"lr": 0.005, "dropout": 0.2, "weight_decay": 1e-4, "batch_size": 128, "augment": False}
    assert space.suggest(optuna.trial.FixedTrial(values)) == values
    config = space.config_for(family_base("cnn"), values)
    assert (config.lr, config.batch_size, config.augment, config.epochs) == (0.005, 128, False, space.epochs)
    assert space.contains(config) and not space.contains(config.replace(lr=0.5))


# ------------------------------------------------------------------ the trial loop


def test_tiny_logreg_search_records_and_study(tiny_split, storage):
    records = search("tiny", storage, tiny_split, n_trials=4, pruner="none")
    json.dumps(records, allow_nan=False)  # plain, NaN-free records a page can keep and draw
    kinds = [r["kind"] for r in records]
    assert kinds[-1] == "search_end" and kinds.count("trial_start") == kinds.count("trial_end") == 4
    assert all("text" in r and 0 <= r["progress"] <= 1 for r in records)
    progress = [r["progress"] for r in records]
    assert progress == sorted(progress) and progress[-1] == 1.0
    starts = [r for r in records if r["kind"] == "trial_start"]
    assert [r["number"] for r in starts] == [0, 1, 2, 3]
    # trial 0 is the base config itself, then the sampler's choices inside the space
    assert starts[0]["params"] == {"lr": LOGREG.lr, "weight_decay": LOGREG.weight_decay}
    for r in starts[1:]:
        assert 1e-3 <= r["params"]["lr"] <= 1e-1 and 1e-6 <= r["params"]["weight_decay"] <= 1e-2
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert [(r["trial"], r["epoch"]) for r in epochs] == [(t, e) for t in range(4) for e in (1, 2, 3)]
    end = records[-1]
    assert end["n_complete"] == 4 and end["n_pruned"] == 0 and end["this_worker"]["complete"] == 4
    assert 0.5 < end["best_value"] <= 1  # logistic regression learns the real digits

    study = load_study("tiny", storage)
    table = trials_table(study)
    assert [row["state"] for row in table] == ["complete"] * 4
    best_row = next(row for row in table if row["is_best"])
    assert best_row["value"] == end["best_value"] and best_row["params"] == end["best_params"]
    assert all(row["epochs"] == 3 and len(row["curve"]) == 3 and row["worker"] for row in table)
    assert table[0]["enqueued"] == "base config"
    config = best_config(study)
    assert config.lr == end["best_params"]["lr"] and config.epochs == 3 and config.model == "logreg"
    assert importances(study) is None  # fewer than 10 complete trials

    [summary] = list_studies(storage)
    assert (summary["name"], summary["n_trials"], summary["objective"], summary["model"]) == (
        "tiny",
        4,
        "val_acc",
        "logreg",
    )
    delete_study("tiny", storage)
    assert list_studies(storage) == []
    with pytest.raises(TuneError, match="No study named"):
        load_study("tiny", storage)


def test_val_loss_objective_minimizes(tiny_split, storage):
    end = search("loss", storage, tiny_split, n_trials=2, objective="val_loss")[-1]
    study = load_study("loss", storage)
    assert study.direction.name == "MINIMIZE"
    assert end["best_value"] == min(row["value"] for row in trials_table(study))


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def test_pruning_stops_a_trial_early(tiny_split, storage):
    records = search(
        "pruned", storage, tiny_split, n_trials=2, space=logreg_space(epochs=6), pruner=AlwaysPrune()
    )
    ends = [r for r in records if r["kind"] == "trial_end"]
    assert [(r["state"], r["epochs"]) for r in ends] == [("pruned", 1), ("pruned", 1)]
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 1]  # training really stopped
    table = trials_table(load_study("pruned", storage))
    assert [(row["state"], row["epochs"]) for row in table] == [("pruned", 1), ("pruned", 1)]
    assert records[-1]["n_pruned"] == 2 and records[-1]["best_value"] is None


def test_median_pruner_prunes_a_hopeless_trial(tiny_split, storage):
    # three good complete trials, then one with a learning rate far too small to learn in time
    space = logreg_space(epochs=4).with_param("lr", low=1e-6, high=0.05)
    study, *_ = open_study("median", storage, space=space, base_config=LOGREG, enqueue_base=False)
    for lr in (0.01, 0.02, 0.03):
        study.enqueue_trial({"lr": lr, "weight_decay": 1e-4})
    study.enqueue_trial({"lr": 1e-6, "weight_decay": 1e-4})
    ends = [
        r
        for r in search("median", storage, tiny_split, n_trials=4, space=space, pruner="median")
        if r["kind"] == "trial_end"
    ]
    assert [r["state"] for r in ends] == ["complete"] * 3 + ["pruned"]
    assert ends[3]["epochs"] < 4


def test_a_diverging_trial_is_pruned_not_complete(tiny_split, storage, monkeypatch):
    from mnist_core.training import train

    class Diverging(train.Trainer):
        def run(self, stop=None, report_every=10):
            for rec in super().run(stop, report_every):
                yield replace(rec, val_loss=float("inf")) if rec.kind == "epoch" else rec

    monkeypatch.setattr(train, "Trainer", Diverging)
    records = search("diverge", storage, tiny_split, n_trials=1)
    json.dumps(records, allow_nan=False)
    [end] = [r for r in records if r["kind"] == "trial_end"]
    assert (end["state"], end["status"], end["value"]) == ("pruned", "diverged", None)


def test_stop_event_stops_the_running_trial_and_marks_it_failed(tiny_split, storage):
    stop = threading.Event()
    records = []
    for record in run_search(
        "stopped", storage, LOGREG, logreg_space(epochs=50), n_trials=5, data=tiny_split, stop=stop
    ):
        records.append(record)
        if record["kind"] == "epoch" and record["epoch"] == 2:
            stop.set()
    end = [r for r in records if r["kind"] == "trial_end"]
    assert len(end) == 1 and end[0]["state"] == "failed" and end[0]["status"] == "stopped"
    assert end[0]["epochs"] < 50
    assert records[-1]["kind"] == "search_end" and records[-1]["stopped"]
    [row] = trials_table(load_study("stopped", storage))
    assert row["state"] == "failed"


def test_an_abandoned_search_leaves_no_running_trial(tiny_split, storage):
    records = run_search("closed", storage, LOGREG, logreg_space(epochs=20), n_trials=3, data=tiny_split)
    for record in records:
        if record["kind"] == "epoch":
            break
    records.close()  # the page's job thread died, or the consumer simply stopped reading
    [row] = trials_table(load_study("closed", storage))
    assert row["state"] == "failed"


def test_resuming_uses_the_stored_settings_and_rejects_others(tiny_split, storage, fake_data):
    search("resume", storage, tiny_split, n_trials=2)
    # nothing but the name: the stored space, base config and objective are used
    records = list(run_search("resume", storage, n_trials=1, data=tiny_split))
    assert records[-1]["n_complete"] + records[-1]["n_pruned"] == 3
    start = next(r for r in records if r["kind"] == "trial_start")
    assert start["number"] == 2 and set(start["params"]) == {"lr", "weight_decay"}
    with pytest.raises(TuneError, match="maximizes"):
        next(run_search("resume", storage, n_trials=1, data=tiny_split, objective="val_loss"))
    with pytest.raises(TuneError, match="another space"):
        next(run_search("resume", storage, space=logreg_space(epochs=4), n_trials=1, data=tiny_split))
    with pytest.raises(TuneError, match="other base settings"):
        next(run_search("resume", storage, base_config=LOGREG.replace(lr=0.02), n_trials=1, data=tiny_split))
    records = list(run_search("resume", storage, n_trials=1, data=fake_data))
    assert records[0]["kind"] == "note" and "not comparable" in records[0]["text"]


def test_a_study_made_elsewhere_with_another_direction_is_refused(tiny_split, storage):
    optuna.create_study(study_name="foreign", storage=open_storage(storage), direction="minimize")
    with pytest.raises(TuneError, match="minimizes"):
        next(
            run_search(
                "foreign", storage, LOGREG, logreg_space(), n_trials=1, data=tiny_split, objective="val_acc"
            )
        )
    # without an objective, the study's own direction decides it
    end = list(run_search("foreign", storage, LOGREG, logreg_space(), n_trials=1, data=tiny_split))[-1]
    assert end["objective"] == "val_loss"


def test_data_that_cannot_load_leaves_no_study_behind(storage, tmp_path):
    from mnist_core.data.errors import DataError

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError):
        next(run_search("nodata", storage, LOGREG, logreg_space(), n_trials=1, data=str(tmp_path / "empty")))
    assert list_studies(storage) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "budget"),
        ({"n_trials": 0}, "at least 1"),
        ({"timeout": -1}, "above 0"),
        ({"n_trials": 1, "objective": "accuracy"}, "Unknown objective"),
        ({"n_trials": 1, "pruner": "sometimes"}, "Unknown pruner"),
    ],
)
def test_bad_search_arguments(tiny_split, storage, kwargs, message):
    with pytest.raises(TuneError, match=message):
        next(run_search("bad", storage, LOGREG, logreg_space(), data=tiny_split, **kwargs))


def test_default_storage_is_a_sqlite_file_in_the_studio_home(
    isolated_home, tiny_split, monkeypatch, tmp_path
):
    monkeypatch.delenv(STORAGE_ENV, raising=False)
    assert default_storage_url() == f"sqlite:///{isolated_home.resolve() / 'studies.db'}"
    search("home", None, tiny_split, n_trials=1)
    assert (isolated_home / "studies.db").is_file()
    assert [s["name"] for s in list_studies()] == ["home"]
    # the app and workers can share another store without passing a URL around
    monkeypatch.setenv(STORAGE_ENV, str(tmp_path / "shared.db"))
    assert default_storage_url() == f"sqlite:///{(tmp_path / 'shared.db').resolve()}"
    assert list_studies() == []


@pytest.mark.parametrize(
    "url, message",
    [
        ("redis://localhost/0", "Unknown study storage 'redis'"),
        ("nonsense://", "Unknown study storage"),
    ],
)
def test_unknown_storage_schemes(url, message):
    with pytest.raises(TuneError, match=message):
        open_storage(url)


@pytest.mark.slow
def test_importances_once_ten_trials_are_complete(tiny_split, storage):
    space = logreg_space(epochs=1)
    search("imp", storage, tiny_split, n_trials=10, space=space, pruner="none")
    result = importances(load_study("imp", storage))
    assert set(result) == {"lr", "weight_decay"} and sum(result.values()) == pytest.approx(1.0)


@pytest.mark.slow
def test_best_trial_saved_as_a_normal_run(tiny_split, storage, isolated_home):
    search("keep", storage, tiny_split, n_trials=2)
    study = load_study("keep", storage)
    records = list(train_best(study))
    assert records[-1].kind == "saved"
    [run] = scan_runs().runs
    best = study.best_trial
    assert (run.meta["study"], run.meta["trial"]) == ("keep", best.number)
    assert run.config.lr == best.params["lr"] and run.meta["name"] == f"keep trial {best.number}"


# ------------------------------------------------------------------ the CLI


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_runs_a_worker_and_lists_studies(capsys, storage, fake_data):
    code, out, err = run_cli(
        capsys,
        "tune",
        "--study",
        "cli",
        "--storage",
        storage,
        "--trials",
        "2",
        "--data",
        fake_data,
        "--model",
        "logreg",
        "--epochs",
        "2",
        "--range",
        "lr=0.001:0.05",
        "--search",
        "lr,batch_size",
    )
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result) >= {"study", "best_value", "best_params", "n_complete", "n_pruned"}
    assert result["study"] == "cli" and result["n_complete"] + result["n_pruned"] == 2
    assert set(result["best_params"]) == {"lr", "batch_size"}
    assert "trial 0 started" in err and "trial 1" in err
    code, out, _ = run_cli(capsys, "tune", "--list", "--storage", storage, "--json")
    [listed] = [json.loads(line) for line in out.splitlines()]
    assert listed["name"] == "cli" and listed["n_trials"] == 2 and listed["model"] == "logreg"
    code, out, _ = run_cli(capsys, "tune", "--list", "--storage", storage)
    assert code == 0 and "cli" in out and "val_acc" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--storage", "foo://bar"], "Unknown study storage 'foo'"),
        (["--storage", "postgresql://nobody@127.0.0.1:{port}/db"], "Cannot open the study storage"),
        (["--search", ""], "search space is empty"),
        (["--range", "lr=0.1:0.01"], "above its maximum"),
        (["--range", "lr=fast"], "LOW:HIGH"),
        (["--search", "lr,momentum"], "unknown parameter"),
        (["--model", "mlp", "--search", "cnn_channels"], "cannot be searched for the mlp model"),
        (["--epochs", "0"], "epochs"),
        (["--space", "missing.json"], "Cannot read the search space file"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(capsys, storage, fake_data, args, message):
    port = _closed_port()
    args = [a.format(port=port) for a in args]
    if "--storage" not in args:
        args += ["--storage", storage]
    code, out, err = run_cli(capsys, "tune", "--study", "bad", "--trials", "1", "--data", fake_data, *args)
    assert code == 2 and message in err and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")


def test_cli_refuses_a_study_with_another_direction(capsys, storage, fake_data):
    common = [
        "tune",
        "--study",
        "dir",
        "--storage",
        storage,
        "--data",
        fake_data,
        "--model",
        "logreg",
        "--epochs",
        "1",
        "--trials",
        "1",
    ]
    assert run_cli(capsys, *common, "--objective", "val_loss")[0] == 0
    code, out, err = run_cli(capsys, *common, "--objective", "val_acc")
    assert code == 2 and "minimizes" in err and len(err.strip().splitlines()) == 1


def test_cli_needs_a_study_and_a_budget(capsys, storage):
    assert "--study NAME is required" in run_cli(capsys, "tune", "--trials", "1")[2]
    assert "Give a budget" in run_cli(capsys, "tune", "--study", "x", "--storage", storage)[2]


@pytest.mark.slow
def test_cli_errors_print_no_traceback_in_a_real_process(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_core",
            "tune",
            "--study",
            "x",
            "--trials",
            "1",
            "--storage",
            "foo://bar",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ several workers

WORKER_ARGS = ["--model", "logreg", "--epochs", "4", "--pruner", "none", "--heartbeat", "1"]


def start_worker(study: str, storage: str, data: str, trials: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}  # 2 cores, 2 workers
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mnist_core",
            "tune",
            "--study",
            study,
            "--storage",
            storage,
            "--data",
            data,
            "--trials",
            str(trials),
            *WORKER_ARGS,
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def check_shared_study(storage: str, study: str, expected: int) -> list[dict]:
    table = trials_table(load_study(study, storage))
    assert sorted(row["number"] for row in table) == list(range(expected))  # none lost, none twice
    assert all(row["state"] in ("complete", "pruned") for row in table)
    return table


def two_workers(storage: str, data: str) -> None:
    a = start_worker("shared", storage, data, 4, "--sampler-seed", "1")
    b = start_worker("shared", storage, data, 4, "--sampler-seed", "2")
    results = [finish(a), finish(b)]
    assert [r["this_worker"]["complete"] + r["this_worker"]["pruned"] for r in results] == [4, 4]
    assert max(r["n_complete"] + r["n_pruned"] for r in results) == 8
    table = check_shared_study(storage, "shared", 8)
    assert len({row["worker"] for row in table}) == 2
    params = [tuple(sorted(row["params"].items())) for row in table]
    assert len(set(params)) == len(params)  # each worker samples its own points


@pytest.mark.slow
def test_two_workers_share_an_embedded_sqlite_study(storage, fake_data):
    two_workers(storage, fake_data)


@pytest.fixture(scope="module")
def pg_server():
    if pg.pg_bin() is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("PostgreSQL binaries are missing on CI: run bash scripts/install_postgres.sh")
        pytest.skip(
            "PostgreSQL is not installed here (bash scripts/install_postgres.sh installs Debian's postgresql)"
        )
    with pg.postgres_server() as url:
        yield url


@pytest.mark.slow
def test_two_workers_share_a_postgresql_study(pg_server, fake_data):
    url = pg.create_database(pg_server, "two_workers")
    two_workers(url, fake_data)
    [summary] = list_studies(url)
    assert summary["n_trials"] == 8


@pytest.mark.slow
def test_a_worker_killed_mid_trial_leaves_a_usable_study(storage, fake_data):
    victim = start_worker("crash", storage, fake_data, 50, "--epochs", "30")
    try:
        _wait_for_running_trial(storage, "crash", victim)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
    table = trials_table(load_study("crash", storage))
    [running] = [row["number"] for row in table if row["state"] == "running"]  # killed mid-trial
    time.sleep(GRACE_FACTOR * 1 + 1)  # the dead worker's heartbeat goes stale
    result = finish(start_worker("crash", storage, fake_data, 2, "--epochs", "30"))
    assert result["this_worker"]["complete"] + result["this_worker"]["pruned"] == 2
    table = trials_table(load_study("crash", storage))
    states = {row["number"]: row["state"] for row in table}
    assert states[running] == "failed" and "running" not in states.values()
    assert sorted(states) == list(range(len(states)))
    assert sum(s in ("complete", "pruned") for s in states.values()) == running + 2


def _wait_for_running_trial(storage: str, study: str, proc: subprocess.Popen) -> int:
    """The number of a trial that is running and has reported at least one epoch."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        try:
            rows = trials_table(load_study(study, storage))
        except TuneError:  # the worker has not created the study yet
            rows = []
        for row in rows:
            if row["state"] == "running" and row["curve"]:
                return row["number"]
        time.sleep(0.05)
    raise AssertionError("the worker never got a trial going")
