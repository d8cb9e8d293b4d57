"""Training on reviewed labels: decisions change the training part only, validation ones are counted apart."""

from __future__ import annotations

import json

import pytest
import torch

from mnist_core.config import TrainConfig
from mnist_core.data.preprocess import make_split, split_indices, split_train_val
from mnist_core.data.sources import load_train_pool
from mnist_core.labels.apply import apply_decisions
from mnist_core.labels.audit import AuditError
from mnist_core.labels.store import DecisionStore


def test_the_split_knows_its_pool_positions():
    pool = load_train_pool("sample")
    cfg = TrainConfig(val_fraction=0.2, split_seed=3, max_train_samples=500)
    split = make_split("sample", cfg)
    assert len(split.train_index) == 500 and len(split.train) == 500
    assert torch.equal(split.train.labels, pool.labels[split.train_index])
    assert torch.equal(split.val.images, pool.images[split.val_index])
    train, val = split_train_val(pool, 0.2, 3)  # the one permutation, whoever asks
    assert torch.equal(train.labels[:500], split.train.labels) and torch.equal(val.labels, split.val.labels)
    tr, va = split_indices(len(pool), 0.2, 3)
    assert set(tr.tolist()).isdisjoint(va.tolist()) and len(tr) + len(va) == len(pool)


def _decide(split):
    """Two train decisions, one on validation, one keep, one stale; returns the positions used."""
    pool = load_train_pool("sample")
    t0, t1, t2, t3 = split.train_index[:4].tolist()
    v0 = int(split.val_index[0])
    label = lambda i: int(pool.labels[i])  # noqa: E731
    store = DecisionStore()
    store.decide("sample", "training", t0, "relabel", label(t0), (label(t0) + 1) % 10)
    store.decide("sample", "training", t1, "exclude", label(t1))
    store.decide("sample", "training", t2, "keep", label(t2))
    store.decide("sample", "training", t3, "exclude", (label(t3) + 5) % 10)  # recorded for other data
    store.decide("sample", "training", v0, "relabel", label(v0), (label(v0) + 1) % 10)
    return store.decisions("sample"), (t0, t1, t2, t3, v0)


def test_decisions_change_the_training_part_only():
    split = make_split("sample", TrainConfig())
    decisions, (t0, t1, _, t3, _) = _decide(split)
    reviewed, summary = apply_decisions(split, decisions)
    assert (summary.relabelled, summary.excluded, summary.decisions_on_validation, summary.stale) == (
        1,
        1,
        1,
        1,
    )
    assert len(reviewed.train) == len(split.train) - 1 and t1 not in reviewed.train_index.tolist()
    pos = reviewed.train_index.tolist().index(t0)
    assert int(reviewed.train.labels[pos]) == (int(split.train.labels[0]) + 1) % 10
    assert t3 in reviewed.train_index.tolist()  # a stale decision changes nothing
    assert torch.equal(reviewed.val.labels, split.val.labels) and reviewed.val is split.val
    assert summary.to_meta() == {
        "labels": "reviewed",
        "relabelled": 1,
        "excluded": 1,
        "decisions_on_validation": 1,
        "decisions_stale": 1,
        "drawings_relabelled": 0,
        "drawings_excluded": 0,
    }


def test_decisions_on_collected_drawings_apply_to_the_appended_drawings():
    from mnist_core.data.sources import Images

    extra = Images(torch.zeros((3, 28, 28), dtype=torch.uint8), torch.tensor([4, 7, 1]))
    split = make_split("sample", TrainConfig(max_train_samples=200), extra)
    store = DecisionStore()
    store.decide("sample", "drawings", 11, "relabel", 4, 9)  # drawing 11 is the first appended
    store.decide("sample", "drawings", 12, "exclude", 7)
    store.decide("sample", "drawings", 13, "relabel", 3, 5)  # recorded when it was labelled 3: stale
    store.decide("sample", "drawings", 99, "exclude", 1)  # a drawing not in this training set
    reviewed, summary = apply_decisions(split, store.decisions("sample"), drawing_ids=[11, 12, 13])
    assert len(reviewed.train) == len(split.train) - 1
    assert reviewed.train.labels[-2:].tolist() == [9, 1]  # 11 relabelled, 12 gone, 13 unchanged
    assert torch.equal(reviewed.train.labels[:200], split.train.labels[:200])  # the pool part as it was
    assert (summary.relabelled, summary.excluded, summary.stale) == (1, 1, 1)
    assert (summary.drawings_relabelled, summary.drawings_excluded) == (1, 1)
    assert "collected drawings: 1 relabelled, 1 excluded" in summary.sentence()
    _, without_ids = apply_decisions(split, store.decisions("sample"))  # ids unknown: nothing applied
    assert (without_ids.relabelled, without_ids.excluded) == (0, 0)


def test_a_split_without_pool_positions_is_refused(small_split):
    from dataclasses import replace

    with pytest.raises(AuditError, match="pool positions"):
        apply_decisions(replace(small_split, train_index=None), {})


def test_cli_train_with_reviewed_labels_records_them(isolated_home, capsys):
    from mnist_core.cli.main import main
    from mnist_core.runs.storage import load_run

    cfg = TrainConfig()
    split = make_split("sample", cfg)
    _decide(split)
    argv = ["train", "--data", "sample", "--labels", "reviewed", "--model", "mlp", "--epochs", "1"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    run = load_run(json.loads(captured.out.strip().splitlines()[-1])["run"])
    assert run.meta["labels"] == "reviewed"
    assert (run.meta["relabelled"], run.meta["excluded"], run.meta["decisions_on_validation"]) == (1, 1, 1)
    assert run.meta["sizes"]["train"] == len(split.train) - 1
    assert "1 decisions fall on validation images" in captured.err
    from mnist_core.report import document as report

    page = report.build_report(run, 0.98)
    assert "reviewed: 1 training labels changed, 1 training images excluded" in page
    assert "1 decisions on validation images not applied" in page


def test_cli_train_reviewed_without_decisions_is_one_line(isolated_home, capsys):
    from mnist_core.cli.main import main

    assert main(["train", "--data", "sample", "--labels", "reviewed", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "no review decisions" in err


def test_cli_train_with_collected_drawings_applies_their_decisions(isolated_home, capsys):
    import numpy as np

    from mnist_core.cli.main import main
    from mnist_core.deploy.collect import DrawingStore
    from mnist_core.runs.storage import load_run

    drawings = DrawingStore(isolated_home / "drawings.db")
    ink = np.zeros((28, 28), dtype=np.uint8)
    ink[8:20, 12:16] = 255
    kept, dropped = (drawings.add(image28=ink, true_label=1) for _ in range(2))
    DecisionStore().decide("sample", "drawings", dropped, "exclude", 1)
    argv = ["train", "--data", "sample", "--with-collected", "--labels", "reviewed", "--model", "logreg"]
    assert main([*argv, "--epochs", "1"]) == 0
    captured = capsys.readouterr()
    run = load_run(json.loads(captured.out.strip().splitlines()[-1])["run"])
    assert (run.meta["drawings_excluded"], run.meta["excluded"], run.meta["used_collected"]) == (1, 1, 2)
    assert run.meta["sizes"]["train"] == len(make_split("sample", TrainConfig()).train) + 1
    assert "of them collected drawings: 0 relabelled, 1 excluded" in captured.err
