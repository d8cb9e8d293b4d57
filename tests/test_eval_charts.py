"""The Evaluate page's chart builders (eval_charts), the images behind an evaluation (gallery),
a run's own data sets (Run.split / Run.test_set) and evaluating a saved run (pipeline.evaluate_run)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from mnist_core.charts import evaluation as eval_charts
from mnist_core.charts import palette
from mnist_core.config import TrainConfig
from mnist_core.data.errors import DataError
from mnist_core.evaluation import gallery
from mnist_core.evaluation.evaluate import EvalResult, evaluate
from mnist_core.runs import storage
from mnist_core.training.pipeline import evaluate_run
from tests.helpers import result_from, train_to_run


@pytest.fixture
def cm_result() -> EvalResult:
    cm = np.diag([50, 60, 40, 45, 55, 35, 48, 52, 44, 47])
    cm[3, 5] = 9  # the worst mistake
    cm[8, 3] = 1  # a rare one
    cm[9, 4] = 4
    return result_from(cm)


# ------------------------------------------------------------------ confusion heatmap


def test_confusion_frame_counts_shares_and_colours(cm_result):
    df = eval_charts.confusion_frame(cm_result)
    assert len(df) == 100
    cell = df[(df["true"] == 3) & (df["predicted"] == 5)].iloc[0]
    assert cell["count"] == 9 and cell["text"] == "9"
    assert cell["share"] == pytest.approx(9 / 54)
    assert df.groupby("true")["share"].sum().round(9).tolist() == [1.0] * 10
    # diagonal green, mistakes red, empty cells grey and unlabeled
    diag = df[(df["true"] == 0) & (df["predicted"] == 0)].iloc[0]
    r, g, b = (int(diag["fill"][i : i + 2], 16) for i in (1, 3, 5))
    assert g > r and g > b
    r, g, b = (int(cell["fill"][i : i + 2], 16) for i in (1, 3, 5))
    assert r > g and r > b
    empty = df[(df["true"] == 0) & (df["predicted"] == 1)].iloc[0]
    assert empty["text"] == "" and empty["fill"] == "#f7f7f7"


def test_rare_mistake_still_visible_and_worst_darkest(cm_result):
    df = eval_charts.confusion_frame(cm_result).set_index(["true", "predicted"])
    rare, worst = df.loc[(8, 3), "fill"], df.loc[(3, 5), "fill"]
    assert rare != "#f7f7f7" and rare != worst
    # the worst mistake is the darkest red and gets white text
    assert df.loc[(3, 5), "ink"] == palette.TEXT_ON_DARK
    assert sum(int(worst[i : i + 2], 16) for i in (1, 3, 5)) < sum(
        int(rare[i : i + 2], 16) for i in (1, 3, 5)
    )


def test_normalized_frame_shows_percentages(cm_result):
    df = eval_charts.confusion_frame(cm_result, normalized=True).set_index(["true", "predicted"])
    assert df.loc[(3, 5), "text"] == "17%"
    assert df.loc[(0, 0), "text"] == "100%"


def test_heatmap_spec_has_click_selection_and_highlight(cm_result):
    spec = eval_charts.confusion_heatmap(cm_result, selected=(3, 5)).to_dict()
    params = spec["params"]
    assert params[0]["name"] == eval_charts.CELL_PARAM
    assert params[0]["select"]["type"] == "point"
    assert params[0]["select"]["fields"] == ["true", "predicted"]
    assert len(spec["layer"]) == 2
    rows = next(iter(spec["datasets"].values()))
    selected = [(r["true"], r["predicted"]) for r in rows if r["selected"]]
    assert selected == [(3, 5)]
    still = eval_charts.confusion_heatmap(cm_result, selectable=False).to_dict()
    assert "params" not in still and still["layer"][0]["mark"]["cursor"] == "default"


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"selection": {"cell": [{"true": 3, "predicted": 5}]}}, (3, 5)),
        ({"selection": {"cell": [{"true": "7", "predicted": "1", "unit": "view_1"}]}}, (7, 1)),
        ({"selection": {"cell": []}}, None),
        ({"selection": {}}, None),
        ({"selection": {"cell": [{"true": 12, "predicted": 1}]}}, None),
        ({"selection": {"cell": [{"x": 1}]}}, None),
        (None, None),
        ("garbage", None),
    ],
)
def test_selected_cell_parses_streamlit_state(event, expected):
    assert eval_charts.selected_cell(event) == expected


# ------------------------------------------------------------------ per-class and comparison


def test_per_class_frame_and_chart(cm_result):
    df = eval_charts.per_class_frame(cm_result)
    assert list(df.columns) == ["digit", "precision", "recall", "f1", "support"]
    assert df.loc[3, "recall"] == pytest.approx(45 / 54)
    assert df.loc[5, "precision"] == pytest.approx(35 / 44)
    spec = eval_charts.per_class_chart(cm_result).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 30 and {r["metric"] for r in rows} == {"Precision", "Recall", "F1"}
    low, high = spec["encoding"]["y"]["scale"]["domain"]
    assert high == 1.0 and low <= min(r["value"] for r in rows)


def test_f1_delta_frame_and_chart(cm_result):
    better = result_from(np.diag([50, 60, 40, 54, 55, 35, 48, 52, 45, 51]))
    df = eval_charts.f1_delta_frame(cm_result, better)
    assert df.loc[3, "delta"] > 0 and df.loc[0, "delta"] == pytest.approx(0.0)
    assert df["delta"].tolist() == pytest.approx((df["f1_b"] - df["f1_a"]).tolist())
    spec = eval_charts.f1_delta_chart(cm_result, better, "old", "new").to_dict()
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == ["new better", "old better"]


# ------------------------------------------------------------------ gallery: picking images


@pytest.fixture
def table() -> tuple[np.ndarray, np.ndarray]:
    labels = np.array([3, 3, 3, 3, 5, 5])
    probs = np.full((6, 10), 0.01, dtype=np.float32)
    probs[0, 5], probs[0, 3] = 0.60, 0.30  # 3 read as 5, unsure
    probs[1, 5], probs[1, 3] = 0.95, 0.02  # 3 read as 5, very sure
    probs[2, 3] = 0.90  # right, sure
    probs[3, 3], probs[3, 8] = 0.50, 0.40  # right, hesitant
    probs[4, 5] = 0.90
    probs[5, 5] = 0.91
    return probs, labels


def test_cell_examples_orders_mistakes_and_near_misses(table):
    probs, labels = table
    mistakes, total = gallery.cell_examples(probs, labels, 3, 5)
    assert total == 2 and [e.index for e in mistakes] == [1, 0]
    assert mistakes[0].confidence == pytest.approx(0.95) and mistakes[0].true_prob == pytest.approx(0.02)
    right, total = gallery.cell_examples(probs, labels, 3, 3)
    assert total == 2 and [e.index for e in right] == [3, 2]  # least confident first
    none, total = gallery.cell_examples(probs, labels, 5, 3)
    assert none == [] and total == 0
    limited, total = gallery.cell_examples(probs, labels, 3, 5, limit=1)
    assert len(limited) == 1 and total == 2


def test_confident_mistakes_and_captions(table):
    probs, labels = table
    worst = gallery.confident_mistakes(probs, labels)
    assert [e.index for e in worst] == [1, 0]
    assert worst[0].caption() == "3, said 5 (95%)"
    assert worst[0].probabilities() == "5: 95% · 3: 2%"
    assert gallery.confident_mistakes(probs, labels, limit=1)[0].index == 1
    right = gallery.cell_examples(probs, labels, 3, 3)[0][0]
    assert right.correct and right.caption() == "3 ✓ 50%"


def test_examples_sheet_tiles_the_examples_enlarged(table):
    probs, labels = table
    images = np.zeros((len(labels), 28, 28), np.uint8)
    images[1, 0, 0] = 255
    full = gallery.PredictionTable(images, labels, probs)
    worst = gallery.confident_mistakes(probs, labels)  # indices 1, 0
    sheet = gallery.examples_sheet(full, worst, cols=8)
    assert sheet.shape == (58 + 2, 2 * 58 + 2)  # 2× digits with 2 px gutters
    assert sheet[2:4, 2:4].min() == 255 and sheet[0, 0] == gallery.SHEET_BACKGROUND


# ------------------------------------------------------------------ gallery: a run's own images


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    home = tmp_path_factory.mktemp("charts-home")
    return train_to_run(TrainConfig(model="logreg", epochs=2, augment=False), "sample", home=home)


def clone(run: storage.Run, **meta) -> storage.Run:
    """A copy of the run folder (so a test can change its metadata freely)."""
    path = run.path.parent / f"{run.id}-copy-{len(list(run.path.parent.iterdir()))}"
    shutil.copytree(run.path, path)
    return storage.update_meta(storage.load_run(path), **meta)


def test_validation_set_is_rebuilt_exactly(run):
    val, train_counts = gallery.run_validation_set(run)
    assert len(val) == run.meta["sizes"]["val"]
    assert sum(train_counts) == run.meta["sizes"]["train"]
    # Same images, same model -> the very confusion matrix the pipeline saved.
    table = gallery.predictions(run.load_model(), val)
    saved = run.evaluation("val")
    again = evaluate(run.load_model(), gallery.table_images(table), "val")
    assert again.confusion == saved.confusion
    assert table.probs.shape == (len(val), 10) and table.images.dtype == np.uint8


def test_test_set_is_the_runs_own(run):
    test = run.test_set()
    assert len(test) > 0 and test.images.shape[1:] == (28, 28)
    assert isinstance(test.labels, torch.Tensor)


def test_unavailable_sources_give_clear_messages(run):
    with pytest.raises(DataError, match="not downloaded"):
        gallery.run_validation_set(clone(run, data="mnist"))
    with pytest.raises(DataError, match="not downloaded"):
        clone(run, data="mnist").test_set()
    with pytest.raises(DataError, match="does not record"):
        gallery.run_validation_set(clone(run, data=""))
    with pytest.raises(DataError, match="folder"):
        gallery.run_validation_set(clone(run, data=str(run.path / "no-such-folder")))
    with pytest.raises(DataError, match="changed since training"):
        gallery.run_validation_set(clone(run, sizes={**run.meta["sizes"], "val": 3}))


def test_disagreements_with_saved_evaluation(run):
    val, _ = gallery.run_validation_set(run)
    table = gallery.predictions(run.load_model(), val)
    saved = run.evaluation("val")
    assert gallery.disagreements(table, saved) == 0
    probs = table.probs.copy()
    flip = int(np.nonzero(probs.argmax(1) == table.labels)[0][0])
    probs[flip] = np.roll(probs[flip], 1)  # one right answer becomes a wrong one
    moved = gallery.PredictionTable(table.images, table.labels, probs)
    assert gallery.disagreements(moved, saved) == 1


def test_evaluate_run_saves_and_counts_test_looks(run):
    r = clone(run)
    (r.path / "eval_val.json").unlink()
    val = evaluate_run(r, "val")
    assert storage.load_run(r.path).evaluation("val").confusion == val.confusion
    assert val.confusion == run.evaluation("val").confusion  # the same images, rebuilt
    table = gallery.predictions(r.load_model(), gallery.run_validation_set(r)[0])
    again = evaluate_run(r, "val", model=r.load_model(), data=gallery.table_images(table))
    assert again.confusion == val.confusion
    evaluate_run(r, "test")
    evaluate_run(r, "test")
    assert storage.load_run(r.path).meta["test_evaluations"] == 2


# ------------------------------------------------------------------ accuracy against the baselines


def test_baseline_rows_and_chart():
    rows = eval_charts.baseline_rows(0.98, 0.11)
    assert [r["kind"] for r in rows] == ["baseline", "baseline", "target"]
    assert rows[0]["accuracy"] == 0.1 and rows[1]["accuracy"] == 0.11
    rows = eval_charts.baseline_rows(0.98, 0.11, model_accuracy=0.97)
    assert rows[-1] == {"what": "Latest model (validation)", "accuracy": 0.97, "kind": "model"}
    spec = eval_charts.baseline_chart(rows).to_dict()
    scale = spec["layer"][0]["encoding"]["color"]["scale"]
    assert scale["range"] == [palette.BASELINE, palette.TARGET, palette.MODEL]
    assert spec["height"] == 190
