"""The label audit: folds, cleanlab's ranking, planted flips found, decisions stored durably."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mnist_core.cli.main import main
from mnist_core.config import TrainConfig
from mnist_core.data.sources import load_train_pool
from mnist_core.labels.audit import Audit, AuditError, Suspect, fold_indices, rank_suspects, run_audit
from mnist_core.labels.store import DecisionStore, list_audits, load_audit, save_audit


def test_folds_cover_every_image_once_and_are_seeded():
    parts = fold_indices(103, 5, seed=1)
    assert sorted(np.concatenate(parts).tolist()) == list(range(103))
    assert {len(p) for p in parts} <= {20, 21}
    assert all((a == b).all() for a, b in zip(parts, fold_indices(103, 5, seed=1)))
    with pytest.raises(AuditError, match="folds"):
        fold_indices(100, 1)
    with pytest.raises(AuditError, match="too few"):
        fold_indices(7, 5)


def test_a_confidently_contradicted_label_ranks_first():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20)
    probs = np.full((200, 10), 0.01)
    probs[np.arange(200), labels] = 0.91
    probs += rng.uniform(0, 0.001, probs.shape)
    labels_noisy = labels.copy()
    labels_noisy[[5, 77]] = [3, 8]  # image 5 is a 0 called 3; image 77 a 3 called 8
    ranked = rank_suspects(labels_noisy, probs)
    assert {r[0] for r in ranked[:2]} == {5, 77}
    assert dict((i, s) for i, s, _ in ranked)[5] == 0
    assert all(0 <= score <= 1 for _, _, score in ranked)


def _noisy_pool(n: int = 700, flips: int = 35, seed: int = 0):
    pool = load_train_pool("sample")
    idx = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:n]
    images, labels = pool.images[idx], pool.labels[idx].clone()
    rng = np.random.default_rng(seed)
    flipped = rng.choice(n, flips, replace=False)
    for i in flipped:
        labels[i] = int((labels[i] + rng.integers(1, 10)) % 10)
    return images, labels, set(int(i) for i in flipped)


@pytest.mark.slow
def test_the_audit_finds_planted_flips():
    images, labels, flipped = _noisy_pool()
    config = TrainConfig(model="mlp", mlp_width=128, epochs=8, batch_size=64, augment=False)
    records = list(
        run_audit(
            images,
            labels,
            origins=[("training", i) for i in range(len(labels))],
            data="sample",
            source_name="sample",
            preset="test",
            config=config,
            folds=3,
        )
    )
    progress = [r for r in records if r["kind"] == "progress"]
    assert progress[-1]["images_done"] == len(labels) and progress[-1]["fold"] == 3
    audit = records[-1]["audit"]
    top = {s.index for s in audit.suspects[: len(flipped)]}
    assert len(top & flipped) / len(flipped) >= 0.6
    first = audit.suspects[0]
    assert first.given == int(labels[first.index]) and first.source == "training"
    assert len(first.probabilities) == 10


def test_a_stopped_audit_yields_no_result():
    images, labels, _ = _noisy_pool(200, 5)
    import threading

    stop = threading.Event()
    stop.set()
    records = list(
        run_audit(
            images,
            labels,
            origins=[("training", i) for i in range(200)],
            data="sample",
            source_name="sample",
            preset="test",
            config=TrainConfig(model="mlp", epochs=1),
            folds=2,
            stop=stop,
        )
    )
    assert records[-1]["kind"] == "stopped"


def _audit(home, suspects=((3, 1, 7), (9, 4, 9))) -> Audit:
    audit = Audit(
        id="20261207-120000-abcdef",
        data="sample",
        source_name="sample",
        preset="quick CNN",
        folds=5,
        n_images=100,
        suspects=[Suspect(i, g, s, 0.1, "training", [0.1] * 10) for i, g, s in suspects],
        seconds=1.0,
        created="2026-12-07T12:00:00+00:00",
    )
    save_audit(audit, home)
    return audit


def test_audits_round_trip_and_unknown_ids_are_one_line(isolated_home):
    audit = _audit(isolated_home)
    assert load_audit(audit.id).to_json() == audit.to_json()
    assert [a.id for a in list_audits()] == [audit.id]
    with pytest.raises(AuditError, match="no audit"):
        load_audit("20261207-120000-000000")
    with pytest.raises(AuditError, match="audit ids look like"):
        load_audit("../../etc/passwd")


def test_decisions_survive_a_restart_and_a_reaudit(isolated_home):
    store = DecisionStore()
    store.decide("sample", "training", 3, "relabel", given=1, label=7)
    store.decide("sample", "training", 9, "exclude", given=4)
    _audit(isolated_home, suspects=((9, 4, 9), (12, 2, 3)))  # a re-audit: new suspects, same data
    again = DecisionStore()
    decisions = again.decisions("sample")
    assert decisions[("training", 3)].label == 7 and decisions[("training", 9)].action == "exclude"
    assert again.counts("sample") == {"reviewed": 2, "relabelled": 1, "excluded": 1, "kept": 0}


def test_bad_decisions_are_refused(isolated_home):
    store = DecisionStore()
    with pytest.raises(AuditError, match="0-9"):
        store.decide("sample", "training", 3, "relabel", given=1, label=12)
    with pytest.raises(AuditError, match="out of range"):
        store.decide("sample", "training", -1, "exclude", given=1)
    with pytest.raises(AuditError, match="unknown action"):
        store.decide("sample", "training", 1, "burn", given=1)


def test_a_damaged_decisions_database_is_refused_and_left_untouched(isolated_home):
    isolated_home.mkdir(parents=True, exist_ok=True)
    db = isolated_home / "labels.db"
    db.write_bytes(b"not a database at all" * 100)
    before = db.read_bytes()
    with pytest.raises(AuditError, match="damaged|not a decisions database"):
        DecisionStore().decide("sample", "training", 1, "exclude", given=1)
    assert db.read_bytes() == before


def test_cli_apply_records_the_top_suspects(isolated_home, capsys):
    audit = _audit(isolated_home)
    assert main(["labels", "apply", audit.id, "--top", "5", "--action", "relabel"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["applied"] == 2 and out["relabelled"] == 2
    assert DecisionStore().decisions("sample")[("training", 3)].label == 7


@pytest.mark.parametrize(
    "argv, words",
    [
        (["labels", "show", "20990101-000000-000000"], "no audit"),
        (["labels", "apply", "nope", "--top", "1", "--action", "exclude"], "audit ids look like"),
        (["labels", "audit", "--data", "sample", "--folds", "1"], "folds must be between"),
        (["labels", "audit", "--data", "/no/such/folder"], ""),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(isolated_home, capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and words in err
