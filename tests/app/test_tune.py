"""AppTest of the Tune page: it renders right after Train with the family's default space, a tiny
logistic-regression search runs through the job to a filled trials table (and resumes), stop,
the best trial loaded into the Train page's controls or saved as a run, another worker's trials
read from the storage, importances once ten trials are complete, deleting a study, and bad
input explained in one line.

Studies go to the embedded store of the test's own studio home (`isolated_home`); the job
manager is process-wide: the autouse fixture of conftest stops any job a test leaves.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace

import optuna
import pytest
import torch
from streamlit.testing.v1 import AppTest

import ui
from mnist_core.config import TrainConfig, nearest_option
from mnist_core.data.preprocess import make_split
from mnist_core.data.sources import load_train_pool
from mnist_core.jobs.job import Job
from mnist_core.planning.tune import TuneError
from mnist_core.planning.tune.best import best_config
from mnist_core.planning.tune.params import Param
from mnist_core.planning.tune.results import importances, list_studies
from mnist_core.planning.tune.space import SearchSpace, default_space
from mnist_core.planning.tune.storage import STORAGE_ENV, default_storage_url, normalize_url
from mnist_core.planning.tune.study import load_study, open_study
from mnist_core.planning.tune.worker import run_search
from mnist_core.runs.listing import scan_runs
from tests.app.conftest import open_page, texts
from ui import state as keys

PAGE = "pages/Tune.py"
LOGREG = TrainConfig(
    model="logreg",
    optimizer="adam",
    lr=0.01,
    batch_size=64,
    epochs=2,
    augment=False,
    dropout=0.0,
    weight_decay=1e-4,
)


@pytest.fixture(scope="module")
def tiny_split():
    """300 train / 100 validation images of the real sample: a logistic regression trial takes
    a fraction of a second."""
    pool = load_train_pool("sample")
    idx = torch.randperm(len(pool), generator=torch.Generator().manual_seed(1))[:400]
    return make_split("sample", TrainConfig(val_fraction=0.25), pool=pool.subset(idx))


def make_study(
    name: str, split, n_trials: int = 2, epochs: int = 2, objective: str = "val_acc"
) -> list[dict]:
    """A study written straight to the default storage, as another worker would."""
    space = replace(default_space("logreg"), epochs=epochs)
    return list(
        run_search(
            name,
            None,
            LOGREG,
            space,
            n_trials=n_trials,
            data=split,
            seed=0,
            objective=objective,
            pruner="none",
        )
    )


def table(at: AppTest):
    [frame] = at.dataframe
    return frame.value


def chart_specs(at: AppTest) -> list[str]:
    return [c.proto.spec for c in at.get("vega_lite_chart")]


def poll(at: AppTest, until, timeout: float = 240) -> None:
    """Re-run the page (the fragments only advance on at.run()) until `until(at)`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
        assert not at.exception, at.exception
        if until(at):
            return
    raise AssertionError(f"timed out:\n{texts(at)}")


def job_over(at: AppTest) -> bool:
    job = ui.all_jobs().job
    return job is not None and not job.running and not at.get("progress")


def tiny_search(at: AppTest, trials: int = 3, epochs: int = 2, images: int = 500) -> AppTest:
    """Logistic regression on a few hundred images, chosen through the page's own widgets."""
    at.selectbox(key=keys.TUNE_MODEL).set_value("logreg").run()
    at.select_slider(key="tune.logreg.epochs").set_value(epochs)
    at.number_input(key=keys.TUNE_TRIALS).set_value(trials)
    at.number_input(key=keys.TUNE_MAX_TRAIN).set_value(images)
    return at.run()


def param(space: SearchSpace, name: str) -> Param:
    return next(p for p in space.params if p.name == name)


def test_page_renders_right_after_train_with_the_default_space(isolated_home):
    at = open_page(PAGE)
    titles = [s.title for s in ui.STEPS]
    assert titles.index("Tune") == titles.index("Train") + 1
    assert [s.number for s in ui.STEPS] == list(range(1, len(ui.STEPS) + 1))
    assert ui.step("Tune").url_path == "Tune" and at.title[0].value == "🎛️ Tune"
    cnn = default_space("cnn")
    for p in cnn.params:
        assert at.checkbox(key=f"tune.cnn.{p.name}.on").value == p.enabled
    assert at.select_slider(key="tune.cnn.lr.range").value == (param(cnn, "lr").low, param(cnn, "lr").high)
    assert at.slider(key="tune.cnn.dropout.range").value == (0.0, 0.5)
    assert at.text_input(key=keys.TUNE_STUDY).value == "cnn-1"
    page = texts(at)
    assert f"Studies are kept in `sqlite:///{(isolated_home / 'studies.db').resolve()}`" in page
    assert "embedded store" in page and "No study yet" in page and cnn.describe() in page
    assert not at.button(key=keys.TUNE_START).disabled and at.button(key=keys.TUNE_STOP).disabled


def test_the_shared_storage_from_the_environment_is_named(tmp_path, monkeypatch):
    db = tmp_path / "shared.db"
    monkeypatch.setenv(STORAGE_ENV, f"sqlite:///{db}")
    page = texts(open_page(PAGE))
    assert f"Studies are kept in `sqlite:///{db}`: $MNIST_STUDIO_STORAGE, shared with every worker" in page


def test_changing_the_family_loads_its_space():
    at = open_page(PAGE)
    at.selectbox(key=keys.TUNE_MODEL).set_value("logreg").run()
    logreg = default_space("logreg")
    assert at.select_slider(key="tune.logreg.lr.range").value == (
        param(logreg, "lr").low,
        param(logreg, "lr").high,
    )
    assert at.select_slider(key="tune.logreg.epochs").value == logreg.epochs
    assert at.text_input(key=keys.TUNE_STUDY).value == "logreg-1"
    assert not at.checkbox(key="tune.logreg.batch_size.on").value
    assert "tune.logreg.dropout.on" not in [c.key for c in at.checkbox]  # not in a linear model
    at.selectbox(key=keys.TUNE_MODEL).set_value("cnn").run()  # each family keeps its own space
    assert at.select_slider(key="tune.cnn.lr.range").value == (0.001, 0.02)


@pytest.mark.slow
def test_a_tiny_search_runs_through_the_job_fills_the_table_and_resumes(isolated_home):
    at = tiny_search(open_page(PAGE))
    at.button(key=keys.TUNE_START).click().run()
    assert not at.exception, at.exception
    assert at.button(key=keys.TUNE_START).disabled and not at.button(key=keys.TUNE_STOP).disabled
    poll(at, job_over)
    rows = table(at)
    assert list(rows["Trial"]) == [2, 1, 0] and all(s.startswith("✅ complete") for s in rows["State"])
    assert {"Learning rate", "Weight decay", "Best val acc (%)", "Epochs", "Seconds"} <= set(rows.columns)
    assert list(rows["Epochs"]) == [2, 2, 2] and rows["Best val acc (%)"].between(0, 100).all()
    [summary] = list_studies(None)
    assert summary["name"] == "logreg-1" and summary["n_complete"] == 3
    assert summary["best_trial"] in list(rows["Trial"]) and "★" in rows["State"][2 - summary["best_trial"]]
    page = texts(at)
    assert "Search finished: best trial" in page and "Study “logreg-1”" in page
    assert "**logreg-1** · Logistic regression · validation accuracy · 3 trials (3 complete" in page
    specs = chart_specs(at)
    assert any("Best validation accuracy so far" in s for s in specs)
    assert any("after every epoch of every trial" in s for s in specs)
    assert "appear once 10 trials are complete (3 so far)" in page
    assert at.text_input(key=keys.TUNE_STUDY).value == "logreg-2"  # the next search gets a new name

    at.number_input(key=keys.TUNE_TRIALS).set_value(1).run()  # resume: one more trial, its own space
    at.button(key=keys.tune_more("logreg-1")).click().run()
    poll(at, job_over)
    rows = table(at)
    assert list(rows["Trial"]) == [3, 2, 1, 0] and rows["State"][0].split()[1] in ("complete", "pruned")
    assert list_studies(None)[0]["n_trials"] == 4  # the median pruner may cut the new one short


def first_epoch_in(at: AppTest) -> bool:
    """A trial has finished an epoch, and the page drawn by this run already shows it running
    (records reach the app in batches, so the job may move on between the run and this check)."""
    job = ui.all_jobs().job_of("tune")
    shown = at.get("progress")
    return (
        job is not None
        and bool(job.snapshot().of_kind("epoch"))
        and bool(shown)
        and "trial 0" in shown[0].proto.text
    )


@pytest.mark.slow
def test_stop_ends_the_search_and_marks_the_running_trial_failed():
    # logistic regression on every image for 50 epochs a trial, 100 trials: far longer than the test
    at = tiny_search(open_page(PAGE), trials=100, epochs=50, images=0)
    at.button(key=keys.TUNE_START).click().run()
    poll(at, first_epoch_in, timeout=180)
    at.switch_page("pages/Train.py").run()  # leave and come back: the search runs on, shown again
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.get("progress") and "Study “logreg-1”" in texts(at) and at.button(key=keys.TUNE_START).disabled
    at.button(key=keys.TUNE_STOP).click().run()
    poll(at, job_over, timeout=60)
    snap = ui.all_jobs().job.snapshot()
    assert snap.state == "stopped" and snap.latest("search_end")["stopped"]
    assert "Search stopped" in texts(at)
    rows = table(at)
    assert list(rows["State"]) == ["❌ failed"] and rows["Epochs"][0] >= 1
    assert not at.button(key=keys.TUNE_START).disabled and at.button(key=keys.TUNE_STOP).disabled


def test_use_the_best_sets_the_train_controls(tiny_split):
    records = make_study("made-here", tiny_split)
    end = records[-1]
    at = open_page(PAGE)
    assert "Study “made-here”" in texts(at) and len(table(at)) == 2
    at.button(key=keys.TUNE_USE_BEST).click().run()
    assert not at.exception, at.exception
    best = best_config(load_study("made-here"))
    for name in ("model", "lr", "weight_decay", "batch_size", "epochs", "optimizer"):
        assert at.session_state[f"train.{name}"] == nearest_option(name, getattr(best, name)), name
    assert at.session_state[keys.TRAIN_RUN_NAME] == f"made-here trial {end['best_number']}"
    [message] = [s.value for s in at.success]
    assert message.startswith(f"Loaded trial {end['best_number']} of “made-here” into Train")
    assert f"learning rate {best.lr:g}" in message
    assert "Open Train" in [link.value for link in at.page_link]

    at.switch_page("pages/Train.py").run()  # the Train page's widgets show them
    assert not at.exception, at.exception
    assert at.selectbox(key="train.model").value == "logreg"
    assert at.select_slider(key="train.lr").value == nearest_option("lr", best.lr)
    assert at.select_slider(key="train.weight_decay").value == nearest_option(
        "weight_decay", best.weight_decay
    )
    assert at.text_input(key=keys.TRAIN_RUN_NAME).value == f"made-here trial {end['best_number']}"


def test_use_the_best_without_a_complete_trial_says_so():
    open_study("empty", None, space=default_space("logreg"), base_config=LOGREG, data="sample")
    at = open_page(PAGE)
    at.button(key=keys.TUNE_USE_BEST).click().run()
    assert [e.value for e in at.error] == ["Study 'empty' has no complete trial yet."]
    assert "train.lr" not in at.session_state


def test_another_workers_trials_are_read_from_the_storage(tiny_split):
    make_study("shared", tiny_split, n_trials=1)
    study = load_study("shared")
    with warnings.catch_warnings():  # Optuna: heartbeats are "supposed to be used with optimize"
        warnings.simplefilter("ignore")
        trial = study.ask()  # another worker's trial, still running
    trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    at = open_page(PAGE)
    rows = table(at)
    assert list(rows["State"]) == ["⏳ running", "✅ complete ★"]
    assert "Live: 1 trial(s) running" in texts(at)
    study.tell(trial, 0.5)
    at.button(key=keys.TUNE_REFRESH_BUTTON).click().run()
    assert list(table(at)["State"]) == ["✅ complete", "✅ complete ★"] or list(table(at)["State"]) == [
        "✅ complete ★",
        "✅ complete",
    ]
    assert "Live:" not in texts(at)


def test_a_loss_study_and_one_made_outside_the_app_are_shown(tiny_split):
    make_study("by-loss", tiny_split, objective="val_loss")
    at = open_page(PAGE)
    rows = table(at)
    assert "Validation loss" in rows.columns and rows["Validation loss"].between(0, 10).all()
    best = load_study("by-loss").best_value
    assert [m.value for m in at.metric if m.label == "Best validation loss"] == [f"{best:.4f}"]

    time.sleep(1.1)  # studies are ordered by their start time, kept to the second: make "foreign" newer
    foreign = optuna.create_study(study_name="foreign", storage=default_storage_url(), direction="minimize")
    foreign.optimize(
        lambda t: (t.suggest_float("lr", 1e-3, 1e-1, log=True) - 0.01) ** 2 + t.suggest_float("x", 0, 1),
        n_trials=2,
    )
    at.button(key=keys.TUNE_REFRESH_BUTTON).click().run()  # the newest study is shown unless one was picked
    assert not at.exception, at.exception
    page = texts(at)
    assert "**foreign** · a study made elsewhere · validation loss · 2 trials" in page
    assert "Searches made outside this app." in page and list(table(at)["Trial"]) == [1, 0]
    at.button(key=keys.TUNE_USE_BEST).click().run()
    assert any("was not created by this app" in e.value for e in at.error)


@pytest.mark.slow
def test_save_the_best_as_a_run(tiny_split, isolated_home):
    records = make_study("keep", tiny_split)
    at = open_page(PAGE)
    at.button(key=keys.TUNE_SAVE_BEST).click().run()
    poll(at, job_over)
    [run] = scan_runs(isolated_home).runs
    number = records[-1]["best_number"]
    assert run.meta["study"] == "keep" and run.meta["trial"] == number and run.config.model == "logreg"
    page = texts(at)
    assert f"Trial {number} of “keep”: saved as run `{run.id}`" in page
    assert {"Evaluate", "Deploy"} <= {link.value for link in at.page_link}


@pytest.mark.slow
def test_importances_and_slices_once_ten_trials_are_complete(tiny_split):
    make_study("ten", tiny_split, n_trials=10, epochs=1)
    at = open_page(PAGE)
    specs = chart_specs(at)
    assert any("Parameter importance" in s for s in specs) and any(
        "Slices: the objective against each parameter" in s for s in specs
    )
    [ranking] = [c.value for c in at.caption if c.value.startswith("Most important first: ")]
    found = importances(load_study("ten"))
    assert set(found) == {"lr", "weight_decay"} and f"learning rate {found['lr']:.0%}" in ranking


def test_delete_a_study_after_confirming(tiny_split):
    make_study("old", tiny_split, n_trials=1)
    make_study("new", tiny_split, n_trials=1)
    at = open_page(PAGE)
    assert "**old**" in texts(at) and "**new**" in texts(at)
    at.button(key=keys.tune_delete("old")).click().run()
    assert not at.exception, at.exception
    assert [s["name"] for s in list_studies(None)] == ["new"]
    page = texts(at)
    assert "Deleted the study “old” and all its trials." in page and "**old**" not in page


def set_widgets(at: AppTest, **values) -> AppTest:
    for key, value in values.items():
        at.session_state[key] = value
    return at.run()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"tune.cnn.dropout.range": (0.6, 0.1)}, "dropout's minimum 0.6 is above its maximum 0.1"),
        ({f"tune.cnn.{p}.on": False for p in ("lr", "dropout", "weight_decay")}, "The search space is empty"),
        ({keys.TUNE_TRIALS: 0, keys.TUNE_MINUTES: 0.0}, "Give a budget"),
        ({keys.TUNE_STUDY: "  "}, "Give the study a name."),
        (
            {"tune.cnn.batch_size.on": True, "tune.cnn.batch_size.range": []},
            "batch_size is on but has no choices",
        ),
    ],
)
def test_bad_input_is_explained_and_blocks_the_start(change, message):
    at = set_widgets(open_page(PAGE), **change)
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and message in errors[0] and "\n" not in errors[0], errors
    assert at.button(key=keys.TUNE_START).disabled


def test_a_taken_study_name_and_an_unknown_storage_are_refused(tiny_split):
    make_study("cnn-1", tiny_split, n_trials=1)
    at = set_widgets(open_page(PAGE), **{keys.TUNE_STUDY: "cnn-1"})
    assert any("A study named “cnn-1” already exists" in e.value for e in at.error)
    assert at.button(key=keys.TUNE_START).disabled
    at = set_widgets(at, **{keys.TUNE_STORAGE: "mongodb://db/studies"})
    with pytest.raises(TuneError) as info:
        normalize_url("mongodb://db/studies")
    assert [e.value for e in at.error] == [str(info.value)]
    assert keys.TUNE_START not in [b.key for b in at.button]  # nothing below a storage that cannot open


def test_a_job_over_the_session_limit_is_refused_with_a_message(monkeypatch):
    """Each session may have MNIST_STUDIO_JOB_LIMIT jobs queued or running (issue 25): one more is
    refused in one line, and nothing of it (here: no study) is created."""

    def work(stop):
        yield {"kind": "busy", "progress": 0.0, "text": "busy"}
        stop.wait(60)

    monkeypatch.setenv("MNIST_STUDIO_JOB_LIMIT", "1")
    at = open_page(PAGE)  # Start is enabled: then this session's job starts elsewhere
    ui.job_queue().view(at.session_state[keys.APP_JOB_OWNER]).submit(Job(work, kind="curve", title="mine"))
    at.button(key=keys.TUNE_START).click().run()
    assert [w.value for w in at.warning][0].startswith("You already have a learning-curve measurement")
    assert ui.all_jobs().job_of("curve") is not None and list_studies(None) == []
