"""AppTest of the Labels page: a saved audit's suspects in the grid, one relabelled, the top N
accepted, the counters; an audit run through the page's job to a saved, picked audit; the
honesty note. The job manager is process-wide: the autouse fixture of conftest stops any job left.
"""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

import ui
from mnist_core.config import TrainConfig
from mnist_core.data.sources import load_train_pool
from mnist_core.labels.audit import Audit, Suspect
from mnist_core.labels.store import DecisionStore, list_audits, save_audit
from tests.app.conftest import open_page, texts
from ui import state as keys

PAGE = "pages/Labels.py"
AUDIT_ID = "20261207-120000-abcdef"


def saved_audit(n: int = 5) -> Audit:
    """An audit of the offline sample whose suspects are its first `n` images, each 'suggested' +1."""
    labels = load_train_pool("sample").labels[:n].tolist()
    suspects = []
    for i, given in enumerate(labels):
        probs = [0.01] * 10
        probs[(given + 1) % 10], probs[given] = 0.85, 0.06
        suspects.append(Suspect(i, given, (given + 1) % 10, 0.06, "training", probs))
    audit = Audit(
        AUDIT_ID,
        "sample",
        "Offline sample",
        "quick CNN",
        5,
        4290,
        suspects,
        12.0,
        "2026-12-07T12:00:00+00:00",
    )
    save_audit(audit)
    return audit


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def decision_box(at: AppTest, index: int):
    return at.selectbox(key=keys.labels_decision(AUDIT_ID, "training", index))


def test_page_renders_after_data_with_the_honesty_note():
    at = open_page(PAGE, **{keys.APP_DATA_SPEC: "sample"})
    titles = [s.title for s in ui.STEPS]
    assert titles.index("Labels") == titles.index("Data") + 1
    text = texts(at)
    assert "The model can be the one that is wrong" in text and "out-of-sample" in text
    assert "No audit yet" in text


def test_a_saved_audit_shows_its_suspects_worst_first(isolated_home):
    audit = saved_audit()
    at = open_page(PAGE, **{keys.APP_DATA_SPEC: "sample"})
    text = texts(at)
    for rank, s in enumerate(audit.suspects, start=1):
        assert f"**#{rank}** · image {s.index} · given **{s.given}** → suggested **{s.suggested}**" in text
    assert len(at.get("image")) == len(audit.suspects)
    assert "85%" in text  # the model's probability for its suggestion
    assert (metric(at, "Reviewed"), metric(at, "Relabelled"), metric(at, "Excluded")) == ("0", "0", "0")


def test_relabel_exclude_and_accept_the_top_n_are_stored_at_once(isolated_home):
    audit = saved_audit()
    at = open_page(PAGE, **{keys.APP_DATA_SPEC: "sample"})
    decision_box(at, 4).set_value("relabel as 7").run()
    assert not at.exception, at.exception
    stored = DecisionStore().decisions("sample")
    assert stored[("training", 4)].action == "relabel" and stored[("training", 4)].label == 7
    assert (metric(at, "Reviewed"), metric(at, "Relabelled")) == ("1", "1")
    decision_box(at, 3).set_value("exclude").run()
    assert metric(at, "Excluded") == "1"
    at.number_input(key=keys.LABELS_TOP_N).set_value(2).run()
    at.button(key=keys.LABELS_ACCEPT).click().run()
    assert not at.exception, at.exception
    stored = DecisionStore().decisions("sample")
    assert [stored[("training", i)].label for i in (0, 1)] == [s.suggested for s in audit.suspects[:2]]
    assert (metric(at, "Reviewed"), metric(at, "Relabelled"), metric(at, "Excluded")) == ("4", "3", "1")
    assert (
        decision_box(at, 0).value == f"relabel as {audit.suspects[0].suggested}"
    )  # the grid shows the store
    decision_box(at, 4).set_value("undecided").run()
    assert ("training", 4) not in DecisionStore().decisions("sample") and metric(at, "Reviewed") == "3"


def test_an_audit_runs_as_a_job_and_is_picked_when_saved(isolated_home, monkeypatch):
    from mnist_core.jobs import audit as audit_job  # the app builds the folds' config, workers train it

    # a one-epoch small MLP per fold: the page's flow, not the audit's quality, is under test
    tiny = TrainConfig(model="mlp", mlp_width=32, epochs=1, batch_size=256, augment=False)
    monkeypatch.setattr(audit_job, "audit_preset", lambda preset="": ("quick CNN", tiny))
    at = open_page(PAGE, **{keys.APP_DATA_SPEC: "sample"})
    at.number_input(key=keys.LABELS_FOLDS).set_value(2).run()
    at.button(key=keys.LABELS_START).click().run()
    deadline, seen = time.monotonic() + 240, []
    while time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
        seen += [p.proto.text for p in at.get("progress")]
        job = ui.all_jobs().job_of("audit")
        if job is not None and not job.running and not at.get("progress"):
            break
    # the bar shows each fold while it runs (a fast job may end between two polls: its records say the same)
    records = [r.get("text", "") for r in ui.all_jobs().job_of("audit").snapshot().records]
    assert any("fold" in s.lower() and "of 2" in s for s in seen + records), (seen, records)
    audits = list_audits()
    assert len(audits) == 1 and audits[0].folds == 2
    assert at.session_state[keys.LABELS_AUDIT] == audits[0].id
    assert f"Audit {audits[0].id} saved" in texts(at)


def test_the_train_page_trains_on_reviewed_labels(isolated_home):
    from mnist_core.data.preprocess import make_split
    from mnist_core.runs.storage import load_run

    pool = load_train_pool("sample")
    split = make_split("sample", TrainConfig(val_fraction=0.2, split_seed=0))  # the app's default split
    t0, t1 = split.train_index[:2].tolist()
    v0 = int(split.val_index[0])
    store = DecisionStore()
    store.decide("sample", "training", t0, "relabel", int(pool.labels[t0]), (int(pool.labels[t0]) + 1) % 10)
    store.decide("sample", "training", t1, "exclude", int(pool.labels[t1]))
    store.decide("sample", "training", v0, "relabel", int(pool.labels[v0]), (int(pool.labels[v0]) + 1) % 10)
    at = open_page("pages/Train.py", **{keys.APP_DATA_SPEC: "sample"})
    box = at.checkbox(key=keys.TRAIN_REVIEWED_LABELS)
    assert "2 relabelled, 1 excluded" in box.label
    assert "1 of these decisions fall on validation images" in texts(at)
    box.check().run()
    at.selectbox(key=keys.train_control("model")).set_value("logreg").run()
    at.select_slider(key=keys.train_control("epochs")).set_value(1)
    at.number_input(key=keys.train_control("max_train_samples")).set_value(500).run()
    at.button(key=keys.TRAIN_START).click().run()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (ui.all_jobs().job is None or ui.all_jobs().job.running):
        time.sleep(0.3)
        at.run()
    assert not at.exception, at.exception
    (folder,) = (isolated_home / "runs").iterdir()
    meta = load_run(folder).meta
    assert (meta["labels"], meta["relabelled"], meta["excluded"], meta["decisions_on_validation"]) == (
        "reviewed",
        1,
        1,
        1,
    )
    assert meta["sizes"]["train"] == 499 and meta["sizes"]["val"] == len(split.val)
