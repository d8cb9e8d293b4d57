"""charts: the frames behind each chart, valid Vega-Lite even with NaN/inf, the best-epoch marks,
and the run-history table built from real saved runs."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest

from mnist_core.charts import palette
from mnist_core.charts import training as charts
from mnist_core.config import TrainConfig
from mnist_core.runs.listing import scan_runs
from mnist_core.training.diagnose import best_record, diagnose
from tests.helpers import train_to_run


def epochs(n: int = 4, best: int = 2) -> list[dict]:
    return [
        {
            "epoch": i,
            "epochs": n,
            "train_loss": 1 / i,
            "val_loss": 0.5 + abs(i - best) * 0.1,
            "train_acc": 0.8 + i * 0.02,
            "val_acc": 0.8 + i * 0.01,
            "is_best": i <= best,
        }
        for i in range(1, n + 1)
    ]


def spec(chart) -> dict:
    """The Vega-Lite dict, checked to be strict JSON (no NaN: the browser would reject it)."""
    d = chart.to_dict()
    json.dumps(d, allow_nan=False)
    return d


def marks(d: dict) -> list[str]:
    layers = d.get("layer", [d])
    return [(layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]) for layer in layers]


def test_best_record_is_the_last_flagged():
    assert best_record(epochs(5, best=3))["epoch"] == 3
    assert best_record([]) is None
    assert best_record([{**e, "is_best": False} for e in epochs(3)]) is None
    unflagged = [{k: v for k, v in e.items() if k != "is_best"} for e in epochs(5, best=4)]
    assert best_record(unflagged)["epoch"] == 4  # hand-made records: the lowest validation loss


def test_the_kept_epoch_is_the_same_for_the_chart_and_the_diagnosis():
    h = epochs(6, best=3)
    marked = spec(charts.loss_chart(h))["datasets"]["best"]
    assert [r["epoch"] for r in marked] == [best_record(h)["epoch"]] == [3]
    assert "epoch 3" in diagnose(h, TrainConfig(model="mlp")).detail


def test_curves_use_the_palette():
    d = spec(charts.loss_chart(epochs(3)))
    colour = d["layer"][1]["encoding"]["color"]["scale"]
    assert colour == {"domain": ["train", "validation"], "range": [palette.TRAIN, palette.VALIDATION]}
    assert d["layer"][2]["mark"]["color"] == palette.KEPT


def test_curves_frame_is_long_with_nulls_for_nan():
    h = epochs(3)
    h[2]["val_loss"] = float("nan")
    frame = charts.curves_frame(h, "loss")
    assert len(frame) == 6 and set(frame["split"]) == {"train", "validation"}
    row = frame[(frame["epoch"] == 3) & (frame["split"] == "validation")]
    assert row["value"].isna().all()
    assert frame.loc[frame["split"] == "train", "value"].tolist() == pytest.approx([1, 0.5, 1 / 3])


def test_batches_sit_at_fractional_epochs():
    frame = charts.batches_frame([{"epoch": 2, "batch": 5, "batches": 10, "train_loss": 0.7}])
    assert frame["epoch"].tolist() == [1.5] and frame["value"].tolist() == [0.7]


def test_loss_chart_marks_the_best_epoch_and_draws_batches():
    h = epochs(4, best=2)
    h.append({**h[-1], "epoch": 5, "train_loss": float("inf"), "is_best": False})
    batches = [{"epoch": 5, "batch": 3, "batches": 10, "train_loss": float("nan")}]
    d = spec(charts.loss_chart(h, batches, total_epochs=10))
    assert marks(d) == ["line", "line", "rule", "point"]  # batch line, curves, best rule, best point
    assert [layer["data"]["name"] for layer in d["layer"]] == ["batches", "curves", "best", "best"]
    assert d["datasets"]["best"] == [{"epoch": 2.0, "value": pytest.approx(0.5), "label": "best epoch 2"}]
    assert d["datasets"]["batches"] == [{"epoch": 4.3, "value": None}]
    assert {"epoch": 5.0, "split": "train", "value": None} in d["datasets"]["curves"]
    assert d["layer"][1]["encoding"]["x"]["scale"]["domain"] == [0, 10]


def test_accuracy_chart_without_best_draws_no_best_marks():
    h = [{**e, "is_best": False} for e in epochs(3)]
    d = spec(charts.accuracy_chart(h))
    assert d["datasets"]["best"] == [] and d["datasets"]["batches"] == []
    assert len(d["datasets"]["curves"]) == 6


def test_empty_curves_still_make_a_chart():
    d = spec(charts.loss_chart([]))
    assert all(rows == [] for rows in d["datasets"].values())


def test_curves_spec_is_the_chart_with_fresh_data():
    h = epochs(4, best=3)
    fast = charts.curves_spec("loss", h, total_epochs=8)
    assert fast == spec(charts.loss_chart(h, total_epochs=8))
    json.dumps(fast, allow_nan=False)
    fast["datasets"].clear()  # a consumer (Streamlit) may mutate it: the template must not change
    again = charts.curves_spec("loss", h[:2], total_epochs=8)
    assert [r["epoch"] for r in again["datasets"]["curves"]] == [1.0, 1.0, 2.0, 2.0]
    assert again["datasets"]["best"][0]["epoch"] == 2.0


def test_overlay_has_each_run_and_split():
    frame = charts.overlay_frame({"run A": epochs(3), "run B": epochs(5)}, "loss")
    assert sorted(frame["run"].unique()) == ["run A", "run B"]
    assert len(frame) == 2 * (3 + 5)
    val_only = charts.overlay_frame({"a": epochs(3)}, "acc", splits=("validation",))
    assert set(val_only["split"]) == {"validation"}
    d = spec(charts.overlay_chart({"run A": epochs(3)}, "acc"))
    assert d["encoding"]["strokeDash"]["field"] == "split"
    assert charts.overlay_frame({}).empty


def test_accuracy_bars_keep_the_given_order():
    rows = [("Majority class", 0.11), ("Logistic regression", 0.9), ("CNN", float("nan"))]
    d = spec(charts.accuracy_bars(rows))
    data = d["datasets"][d["data"]["name"]] if "data" in d else next(iter(d["datasets"].values()))
    assert [r["model"] for r in data] == ["Majority class", "Logistic regression", "CNN"]
    assert data[2]["accuracy"] is None
    with_goal = spec(charts.accuracy_bars(rows, target=0.98))
    assert marks(with_goal) == ["bar", "text", "rule"]
    assert {"accuracy": 0.98, "label": "target 98%"} in [r for v in with_goal["datasets"].values() for r in v]


def test_runs_table_from_real_runs(small_split):
    config = TrainConfig(model="logreg", epochs=2, batch_size=64, augment=False, lr=0.005)
    run = train_to_run(config, "sample", split=small_split, name="tiny logreg")
    train_to_run(TrainConfig(model="baseline", epochs=1), "sample", split=small_split)
    frame = charts.runs_table(scan_runs().runs)
    assert len(frame) == 2
    row = frame[frame["id"] == run.id].iloc[0]
    assert row["name"] == "tiny logreg" and row["model"] == "Logistic regression"
    assert row["epochs"] == 2 and row["of"] == 2 and row["lr"] == 0.005
    assert row["val accuracy"] == pytest.approx(run.meta["val_accuracy"])
    assert row["train images"] == len(small_split.train)
    assert row["status"] == "finished"
    assert isinstance(row["created"], (datetime, pd.Timestamp))
    unnamed = frame[frame["id"] != run.id].iloc[0]
    assert unnamed["name"] == unnamed["id"] and "-baseline-" in unnamed["id"]


def test_runs_table_of_nothing_has_the_columns():
    frame = charts.runs_table([])
    assert frame.empty and {"name", "val accuracy", "status", "id"} <= set(frame.columns)
