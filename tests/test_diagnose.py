"""diagnose: each situation from synthetic (and one real) epoch histories, the thresholds' edges,
suggestions that are valid configs."""

from __future__ import annotations

import math

import pytest

from mnist_core.config import PRESETS, TrainConfig
from mnist_core.training import diagnose
from mnist_core.training.advice import describe_changes, nice_number
from mnist_core.training.diagnose import diagnose as diag

MLP_NO_REG = TrainConfig(
    model="mlp",
    dropout=0.0,
    weight_decay=0.0,
    augment=False,
    patience=0,
    optimizer="adam",
    lr=0.002,
    epochs=20,
)


def history(train_loss, val_loss, train_acc, val_acc) -> list[dict]:
    """Epoch records shaped like EpochRecord.to_dict(), is_best as the trainer sets it."""
    rows, best = [], math.inf
    for i, (tl, vl, ta, va) in enumerate(zip(train_loss, val_loss, train_acc, val_acc), start=1):
        is_best = vl < best
        best = min(best, vl)
        rows.append(
            {
                "epoch": i,
                "epochs": len(train_loss),
                "train_loss": tl,
                "val_loss": vl,
                "train_acc": ta,
                "val_acc": va,
                "is_best": is_best,
                "partial": False,
                "kind": "epoch",
            }
        )
    return rows


def flat(value, n):
    return [value] * n


def test_no_epochs_yet_is_waiting_and_preliminary():
    d = diag([], TrainConfig(), None)
    assert d.kind == "waiting" and d.preliminary and not d.changes


@pytest.mark.parametrize("lr, expected", [(0.01, 0.001), (1.0, 0.1), (0.005, 0.0005)])
def test_diverged_status_suggests_ten_times_lower_lr(lr, expected):
    h = history([2.0, 1.5], [2.0, 1.6], [0.3, 0.5], [0.3, 0.5])
    d = diag(h, TrainConfig(lr=lr), "diverged")
    assert d.kind == "diverged" and d.level == "error"
    assert d.changes == {"lr": pytest.approx(expected)}


def test_nan_in_history_is_diverged_even_without_status():
    h = history([2.0, float("nan")], [2.0, float("inf")], [0.3, 0.1], [0.3, 0.1])
    assert diag(h, TrainConfig(), None).kind == "diverged"
    assert diag(h, None, None).changes == {}  # without a config there is no lr to lower


def test_baseline_points_to_logistic_regression():
    h = history([2.30], [2.31], [0.11], [0.10])
    config = TrainConfig(model="baseline", epochs=1)
    d = diag(h, config, "finished")
    assert d.kind == "baseline" and "10.0%" in d.detail
    assert config.replace(**d.changes).model == "logreg"


def test_too_early_while_running_and_after_a_short_run():
    h = history([0.5, 0.3], [0.4, 0.3], [0.85, 0.9], [0.88, 0.91])
    running = diag(h, TrainConfig(epochs=10), None)
    assert running.kind == "too_early" and running.preliminary and not running.changes
    done = diag(h, TrainConfig(epochs=2), "finished")
    assert done.kind == "too_early" and not done.preliminary
    assert done.changes == {"epochs": 10}


@pytest.mark.parametrize(
    "optimizer, lr, change",
    [
        ("adam", 0.5, {"lr": 0.05}),  # too high: bounces around
        ("adamw", 0.0001, {"lr": 0.001}),  # too low: weights hardly move
        ("sgd", 0.1, {"epochs": 20}),  # reasonable lr: just slow
    ],
)
def test_stuck_near_chance_fixes_the_learning_rate(optimizer, lr, change):
    h = history(flat(2.29, 5), flat(2.30, 5), flat(0.12, 5), flat(0.11, 5))
    d = diag(h, TrainConfig(optimizer=optimizer, lr=lr, epochs=10), "finished")
    assert d.kind == "stuck" and d.level == "error"
    assert {k: pytest.approx(v) for k, v in d.changes.items()} == change


def test_rising_validation_loss_is_overfitting_and_suggests_regularization():
    h = history(
        [1.0, 0.5, 0.3, 0.15, 0.08, 0.04, 0.02],
        [0.9, 0.6, 0.45, 0.42, 0.46, 0.52, 0.58],
        [0.70, 0.85, 0.90, 0.93, 0.95, 0.96, 0.97],
        [0.72, 0.84, 0.88, 0.90, 0.90, 0.91, 0.91],
    )
    d = diag(h, MLP_NO_REG, "finished")
    assert d.kind == "overfitting" and d.level == "warning"
    assert "epoch 4" in d.detail  # names the best epoch whose weights are kept
    assert d.changes == {"dropout": 0.5, "weight_decay": 5e-4, "augment": True, "patience": 5}
    fixed = MLP_NO_REG.replace(**d.changes)
    assert fixed.dropout == 0.5 and fixed.augment and fixed.patience == 5


def test_accuracy_gap_alone_is_overfitting():
    h = history(
        [0.3, 0.1, 0.05, 0.04], [0.35, 0.3, 0.3, 0.3], [0.90, 0.97, 0.99, 1.0], [0.88, 0.92, 0.93, 0.93]
    )
    d = diag(h, MLP_NO_REG, "finished")
    assert d.kind == "overfitting" and "7.0 points" in d.detail


def test_overfitting_edges_gap_and_rise():
    # 4.9 points of accuracy gap, close losses, no rise: not overfitting.
    base = dict(train_loss=[0.3, 0.2, 0.15, 0.12], val_loss=[0.3, 0.22, 0.18, 0.16])
    below = history(base["train_loss"], base["val_loss"], [0.9, 0.95, 0.98, 0.989], [0.9, 0.93, 0.94, 0.94])
    assert diag(below, MLP_NO_REG, "finished").kind == "good"
    above = history(base["train_loss"], base["val_loss"], [0.9, 0.95, 0.98, 0.991], [0.9, 0.93, 0.94, 0.94])
    assert diag(above, MLP_NO_REG, "finished").kind == "overfitting"


def test_small_wiggles_of_a_good_cnn_are_not_overfitting():
    """A real default-CNN run on the offline sample: val loss 0.072 at epoch 9, 0.084 at the end."""
    h = history(
        [0.163, 0.128, 0.109, 0.064, 0.058, 0.051, 0.046, 0.036, 0.039],
        [0.106, 0.113, 0.072, 0.104, 0.081, 0.091, 0.087, 0.084, 0.084],
        [0.952, 0.960, 0.966, 0.979, 0.980, 0.982, 0.983, 0.989, 0.989],
        [0.971, 0.974, 0.973, 0.978, 0.979, 0.977, 0.978, 0.978, 0.978],
    )
    d = diag(h, TrainConfig(), "finished")
    assert d.kind == "good" and d.level == "success" and not d.changes


def test_confident_on_train_only_is_overfitting():
    """100 % train accuracy, 95.6 % validation, val loss 24x train loss: memorising."""
    h = history(
        [0.062, 0.032, 0.015, 0.011, 0.008],
        [0.228, 0.197, 0.196, 0.192, 0.190],
        [0.982, 0.992, 0.998, 0.999, 0.999],
        [0.931, 0.956, 0.945, 0.952, 0.956],
    )
    d = diag(h, TrainConfig(model="mlp", augment=False), "finished")
    assert d.kind == "overfitting" and "× the training loss" in d.detail


def test_early_stopped_overfitting_says_early_stopping_worked():
    h = history(
        [0.5, 0.3, 0.2, 0.1, 0.05],
        [0.5, 0.35, 0.40, 0.45, 0.50],
        [0.85, 0.9, 0.94, 0.97, 0.99],
        [0.85, 0.89, 0.89, 0.89, 0.89],
    )
    d = diag(h, MLP_NO_REG.replace(patience=3), "early_stopped")
    assert d.kind == "overfitting" and "Early stopping" in d.detail
    assert "patience" not in d.changes  # already on


def test_flat_high_losses_are_underfitting_and_suggest_capacity():
    """A real logistic-regression run: train accuracy stuck near 94.5 %."""
    h = history(
        [0.297, 0.265, 0.246, 0.229, 0.222, 0.219],
        [0.383, 0.383, 0.367, 0.357, 0.357, 0.357],
        [0.921, 0.931, 0.938, 0.943, 0.945, 0.946],
        [0.892, 0.893, 0.897, 0.899, 0.899, 0.897],
    )
    config = TrainConfig(model="logreg", optimizer="adam", epochs=6, augment=False, dropout=0.0)
    d = diag(h, config, "finished")
    assert d.kind == "underfitting"
    assert config.replace(**d.changes).model == "mlp"


@pytest.mark.parametrize(
    "config, key, value",
    [
        (TrainConfig(model="mlp", mlp_width=256), "mlp_width", 512),
        (TrainConfig(model="mlp", mlp_width=1024), "model", "cnn"),
        (TrainConfig(model="cnn", cnn_channels=8), "cnn_channels", 16),
        (TrainConfig(model="mlp", dropout=0.6), "dropout", 0.1),
        (
            TrainConfig(model="mlp", dropout=0.5, weight_decay=0.05, max_train_samples=1000),
            "max_train_samples",
            0,
        ),
    ],
)
def test_underfitting_suggestion_depends_on_the_model(config, key, value):
    h = history(flat(0.4, 5), flat(0.35, 5), flat(0.88, 5), flat(0.9, 5))
    d = diag(h, config, "finished")
    assert d.kind == "underfitting" and d.changes[key] == value
    config.replace(**d.changes)


def test_high_but_still_falling_is_still_learning():
    h = history([1.0, 0.8, 0.6, 0.5], [0.9, 0.7, 0.55, 0.45], [0.7, 0.8, 0.85, 0.88], [0.72, 0.8, 0.85, 0.88])
    d = diag(h, TrainConfig(epochs=4), "finished")
    assert d.kind == "still_learning" and d.changes == {"epochs": 8}


def test_good_fit_while_running_is_preliminary():
    h = history([0.3, 0.1, 0.05], [0.25, 0.08, 0.06], [0.9, 0.97, 0.985], [0.92, 0.975, 0.98])
    d = diag(h, TrainConfig(), None)
    assert d.kind == "good" and d.preliminary and d.title.endswith("so far")


def test_a_partial_epoch_is_ignored_when_full_ones_exist():
    h = history(
        [0.3, 0.1, 0.05, 2.0], [0.25, 0.08, 0.06, 2.0], [0.9, 0.97, 0.985, 0.1], [0.92, 0.975, 0.98, 0.1]
    )
    h[-1]["partial"] = True
    assert diag(h, TrainConfig(), "stopped").kind == "good"


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("shape", ["overfit", "underfit", "stuck", "diverged"])
def test_every_suggestion_is_a_valid_config(preset, shape):
    curves = {
        "overfit": (
            [0.3, 0.1, 0.02, 0.01],
            [0.3, 0.3, 0.4, 0.5],
            [0.9, 0.97, 1.0, 1.0],
            [0.9, 0.9, 0.9, 0.9],
        ),
        "underfit": (flat(0.5, 4), flat(0.5, 4), flat(0.85, 4), flat(0.85, 4)),
        "stuck": (flat(2.3, 4), flat(2.3, 4), flat(0.1, 4), flat(0.1, 4)),
        "diverged": (flat(2.3, 4), flat(2.3, 4), flat(0.1, 4), flat(0.1, 4)),
    }[shape]
    config = PRESETS[preset]
    d = diag(history(*curves), config, "diverged" if shape == "diverged" else "finished")
    changed = config.replace(**d.changes)
    assert isinstance(changed, TrainConfig)


@pytest.mark.parametrize(
    "value, nice", [(0.001, 0.001), (0.003, 0.002), (0.0007, 0.0005), (0.04, 0.05), (7.0, 5.0), (0.3, 0.2)]
)
def test_nice_number_rounds_to_the_1_2_5_series(value, nice):
    assert nice_number(value) == pytest.approx(nice)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_nice_number_refuses_non_positive(bad):
    with pytest.raises(ValueError):
        nice_number(bad)


def test_describe_changes_is_readable():
    text = describe_changes({"lr": 0.001, "augment": True, "weight_decay": 0.0})
    assert text == "lr = 0.001, augment = on, weight decay = 0"


def test_tiny_losses_are_not_shown_as_zero():
    h = history(
        [0.05, 0.001, 1e-5, 1.2e-5], [0.5, 0.55, 0.6, 0.62], [0.99, 1.0, 1.0, 1.0], [0.9, 0.9, 0.9, 0.9]
    )
    d = diag(h, MLP_NO_REG, "finished")
    assert "1.2e-05" in d.detail and "more than 100×" in d.detail
    assert diagnose.fmt_loss(0.6192) == "0.619"
