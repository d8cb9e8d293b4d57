"""The training stream: records, stop flag, divergence, early stopping, determinism, best weights."""

import math
import threading

import pytest
import torch
from torch.nn import functional as F

import mnist_core.training.train as train_module
from mnist_core.config import ConfigError, TrainConfig
from mnist_core.data.preprocess import to_float
from mnist_core.evaluation.evaluate import evaluate
from mnist_core.training.augment import augment, augment_batch, clean_epochs, sampling_grid
from mnist_core.training.models import (
    Dropout,
    Dropout2d,
    Flatten,
    build_model,
    count_parameters,
    for_inference,
    parameter_count,
)
from mnist_core.training.optim import current_lr, make_optimizer
from mnist_core.training.train import (
    BatchRecord,
    EndRecord,
    EpochRecord,
    Trainer,
    loss_and_accuracy,
)


def run_all(trainer, stop=None):
    return list(trainer.run(stop, report_every=2))


def test_stream_has_batches_epochs_and_one_end(small_split, fast_config):
    trainer = Trainer(fast_config, small_split)
    records = run_all(trainer)
    kinds = [r.kind for r in records]
    assert kinds[-1] == "end" and kinds.count("end") == 1
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert [e.epoch for e in epochs] == [1, 2]
    assert any(isinstance(r, BatchRecord) for r in records)
    progress = [r.progress for r in records if isinstance(r, BatchRecord)]
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    e = epochs[-1]
    assert 0 <= e.val_acc <= 1 and e.samples_per_s > 0 and math.isfinite(e.val_loss)
    assert records[-1].status == "finished"
    # it learned something real: far above chance on held-out validation images
    assert evaluate(trainer.model, small_split.val).accuracy > 0.5


@pytest.mark.parametrize("model", ["logreg", "mlp", "cnn"])
def test_every_family_trains(small_split, model):
    cfg = TrainConfig(model=model, epochs=1, batch_size=64, cnn_channels=8, mlp_width=32)
    records = run_all(Trainer(cfg, small_split))
    assert records[-1].status == "finished"


def test_baseline_predicts_the_majority(small_split):
    trainer = Trainer(TrainConfig(model="baseline"), small_split)
    records = run_all(trainer)
    assert records[-1].status == "finished"
    majority = int(torch.bincount(small_split.train.labels).argmax())
    assert (trainer.model(torch.zeros(3, 1, 28, 28)).argmax(1) == majority).all()


def test_stop_flag_ends_run_and_keeps_what_was_learned(small_split):
    stop = threading.Event()
    trainer = Trainer(TrainConfig(cnn_channels=8, epochs=50, batch_size=32, augment=False), small_split)
    records = []
    for r in trainer.run(stop, report_every=1):
        records.append(r)
        if isinstance(r, BatchRecord) and r.epoch == 2 and r.batch == 3:
            stop.set()
    end = records[-1]
    assert end.status == "stopped"
    assert len([r for r in records if isinstance(r, EpochRecord)]) == 1  # the stopped epoch is not counted
    assert end.best_epoch == 1
    assert evaluate(trainer.model, small_split.val).accuracy == pytest.approx(end.best_val_acc)


def test_stop_in_first_epoch_still_reports_validation(small_split):
    stop = threading.Event()
    trainer = Trainer(TrainConfig(cnn_channels=8, epochs=5, batch_size=16), small_split)
    records = []
    for r in trainer.run(stop, report_every=1):
        records.append(r)
        if isinstance(r, BatchRecord) and r.batch == 5:
            stop.set()
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert len(epochs) == 1 and epochs[0].partial
    assert records[-1].status == "stopped"


def test_divergence_is_a_message_not_a_crash(small_split):
    cfg = TrainConfig(
        model="mlp",
        optimizer="sgd",
        lr=10.0,
        batch_norm=False,
        dropout=0.0,
        epochs=3,
        batch_size=128,
        augment=False,
        weight_decay=0.0,
        mixed_precision=False,
    )
    records = run_all(Trainer(cfg, small_split))
    end = records[-1]
    assert isinstance(end, EndRecord) and end.status == "diverged"
    assert "learning rate" in end.message


def test_early_stopping_by_patience(small_split):
    # tiny data + big MLP, no regularization: validation loss turns up quickly
    cfg = TrainConfig(
        model="mlp",
        mlp_width=256,
        dropout=0.0,
        weight_decay=0.0,
        augment=False,
        batch_norm=False,
        optimizer="adam",
        lr=0.003,
        epochs=60,
        patience=3,
        max_train_samples=100,
        batch_size=32,
    )
    records = run_all(Trainer(cfg, small_split))
    end = records[-1]
    assert end.status == "early_stopped"
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert epochs[-1].epoch - end.best_epoch == 3
    assert min(e.val_loss for e in epochs) == pytest.approx(end.best_val_loss)


def test_same_seed_same_result(small_split, fast_config):
    def final():
        trainer = Trainer(fast_config.replace(augment=True), small_split)
        recs = run_all(trainer)
        return [r.val_loss for r in recs if isinstance(r, EpochRecord)], trainer.model.state_dict()

    (losses_a, state_a), (losses_b, state_b) = final(), final()
    assert losses_a == losses_b
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    other = Trainer(fast_config.replace(seed=1), small_split)
    losses_c = [r.val_loss for r in run_all(other) if isinstance(r, EpochRecord)]
    assert losses_c != losses_a


def test_missing_device_is_a_config_error(small_split):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="cuda"):
        Trainer(TrainConfig(device="cuda"), small_split)


def test_augment_keeps_shape_and_ink():
    x = torch.zeros(4, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 1.0
    y = augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert (y.sum((1, 2, 3)) > 0.7 * x.sum((1, 2, 3))).all()
    assert not torch.equal(x, y)


def test_augment_batch_warps_three_in_four_images_and_keeps_the_rest():
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 1.0
    before = x.clone()
    y = augment_batch(x, torch.Generator().manual_seed(0))
    assert y is x  # in place: no second copy of the batch
    assert all(not torch.equal(y[i], before[i]) for i in range(6))
    assert torch.equal(y[6:], before[6:])


def test_the_last_twelfth_of_the_epochs_trains_on_unwarped_images(small_split, monkeypatch):
    assert [clean_epochs(n) for n in (1, 4, 10, 12, 60)] == [0, 0, 1, 1, 5]
    warped_in: list[int] = []
    real = train_module.augment_batch

    def recording(x, gen):
        warped_in.append(trainer.history[-1].epoch + 1 if trainer.history else 1)
        return real(x, gen)

    monkeypatch.setattr(train_module, "augment_batch", recording)
    cfg = TrainConfig(cnn_channels=4, epochs=12, batch_size=400, augment=True)
    trainer = Trainer(cfg, small_split)
    run_all(trainer)
    assert sorted(set(warped_in)) == list(range(1, 12))  # epochs 1-11 warp, epoch 12 does not
    assert len(warped_in) == 11 * 2  # 800 images in batches of 400


def test_sampling_grid_is_torchs_affine_grid():
    theta = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(0))
    expected = F.affine_grid(theta, (5, 1, 28, 28), align_corners=False)
    assert torch.allclose(sampling_grid(theta.view(5, 6)), expected, atol=1e-6)


def test_augment_moves_ink_by_at_most_two_pixels_and_ten_degrees():
    # one bright pixel at the centre: a shift of ±2 px keeps its centre of mass within ~2.3 px
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 13:15, 13:15] = 1.0
    y = augment(x, torch.Generator().manual_seed(1))
    coords = torch.arange(28, dtype=torch.float32) + 0.5
    mass = y.sum((1, 2, 3))
    cy = (y.sum((1, 3)).squeeze(1) * coords).sum(1) / mass
    cx = (y.sum((1, 2)).squeeze(1) * coords).sum(1) / mass
    shift = torch.sqrt((cx - 14) ** 2 + (cy - 14) ** 2)
    assert shift.max() <= 2 * 2**0.5 + 0.2 and shift.max() > 0.5
    # a long horizontal bar turns by ±10° at most: the ends of its ink stay within tan(10°)
    bar = torch.zeros(64, 1, 28, 28)
    bar[:, :, 13:15, 4:24] = 1.0
    out = augment(bar, torch.Generator().manual_seed(2))
    rows = (out[:, 0] > 0.5).any(2).sum(1)  # rows the bar covers after the turn
    assert rows.max() <= 2 + math.ceil(22 * math.tan(math.radians(10))) + 1


@pytest.mark.parametrize(
    "cfg",
    [
        TrainConfig(model="baseline"),
        TrainConfig(model="logreg"),
        TrainConfig(model="mlp", mlp_depth=3),
        TrainConfig(),
        TrainConfig(cnn_blocks=1, batch_norm=False),
    ],
)
def test_parameter_count_matches_the_built_model(cfg):
    assert parameter_count(cfg) == count_parameters(build_model(cfg))


@pytest.mark.parametrize("model", ["baseline", "logreg", "mlp", "cnn"])
def test_models_map_images_to_ten_logits(model):
    net = build_model(TrainConfig(model=model, cnn_blocks=4)).eval()
    assert net(torch.rand(5, 1, 28, 28)).shape == (5, 10)


def _old_one_cycle(step: int, total_steps: int, max_lr: float) -> tuple[float, float]:
    """The hand-written schedule the trainer used before torch.optim (issue 21), kept as the
    reference: (learning rate, momentum) of 0-based `step`."""
    phases = (
        (0.3 * total_steps - 1, max_lr / 25, max_lr, 0.95, 0.85),
        (total_steps - 1, max_lr, max_lr / 25e4, 0.85, 0.95),
    )
    begin = 0.0
    for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end or i == len(phases) - 1:
            pct = (step - begin) / max(end - begin, 1e-9)
            w = (math.cos(math.pi * pct) + 1) / 2
            return lr1 + (lr0 - lr1) * w, m1 + (m0 - m1) * w
        begin = end
    raise AssertionError("unreachable")


def _schedule(kind: str, total: int, lr: float = 0.01) -> list[tuple[float, float]]:
    """(lr, momentum) that each of `total` optimizer steps uses under the trainer's optimizer."""
    model = torch.nn.Linear(4, 3)
    opt, sched = make_optimizer(TrainConfig(model="mlp", optimizer=kind, lr=lr), model, total)
    out = []
    for _ in range(total):
        group = opt.param_groups[0]
        out.append((current_lr(opt), group["momentum"] if kind == "sgd" else group["betas"][0]))
        model(torch.ones(1, 4)).sum().backward()
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize("kind", ["adamw", "adam", "sgd"])
@pytest.mark.parametrize("total", [1, 7, 100, 1130])
def test_schedule_is_the_old_one_cycle_step_for_step(kind, total):
    ours = _schedule(kind, total)
    old = [_old_one_cycle(s, total, 0.01) for s in range(total)]
    flat = [v for pair in ours for v in pair]
    assert flat == pytest.approx([v for pair in old for v in pair], rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("kind", ["adamw", "adam", "sgd"])
def test_optimizer_is_fused_torch_optim_on_the_cpu(kind):
    cfg = TrainConfig(model="mlp", optimizer=kind, lr=0.05, weight_decay=0.01)
    opt, _ = make_optimizer(cfg, torch.nn.Linear(10, 3), 12)
    expected = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    assert type(opt) is expected and opt.defaults["fused"]
    assert opt.defaults["weight_decay"] == 0.01
    assert kind != "sgd" or opt.defaults["nesterov"]


def test_one_cycle_warms_up_then_anneals():
    lrs = [lr for lr, _ in _schedule("adamw", 100)]
    assert lrs[0] == pytest.approx(0.01 / 25) and max(lrs) == pytest.approx(0.01, rel=1e-3)
    assert lrs.index(max(lrs)) in (28, 29, 30) and lrs[-1] < 1e-5
    assert _schedule("adamw", 1)[0][0] > 0  # a one-step run still gets a usable learning rate


def test_an_epoch_records_the_rate_of_its_last_step(small_split, fast_config):
    trainer = Trainer(fast_config, small_split)
    run_all(trainer)
    batches = math.ceil(len(small_split.train) / fast_config.batch_size)
    total = fast_config.epochs * batches
    expected = [_old_one_cycle(e * batches - 1, total, fast_config.lr)[0] for e in (1, 2)]
    assert [e.lr for e in trainer.history] == pytest.approx(expected, rel=1e-9)


def test_flatten_sends_the_gradient_back_channels_last():
    conv = torch.nn.Conv2d(1, 4, 3, 2, 1).to(memory_format=torch.channels_last)
    x = torch.rand(3, 1, 8, 8)

    def run(flatten):
        feats = conv(x)
        out = flatten(feats)
        grads = []  # the gradient that reaches the layers below (hooks run in order, after Flatten's)
        feats.register_hook(grads.append)
        out.pow(2).sum().backward()
        return out, grads[0]

    (ours, ours_grad), (plain, plain_grad) = run(Flatten()), run(torch.nn.Flatten())
    assert torch.equal(ours, plain)  # same values in the same (channel-major) order
    assert torch.equal(ours_grad, plain_grad)
    assert ours_grad.is_contiguous(memory_format=torch.channels_last)
    assert not plain_grad.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize(
    "cfg",
    [
        TrainConfig(),
        TrainConfig(model="mlp", mlp_depth=2),
        TrainConfig(model="logreg"),
        TrainConfig(model="baseline"),
    ],
)
def test_for_inference_answers_like_the_model(cfg):
    torch.manual_seed(0)
    model = build_model(cfg).train()
    for _ in range(3):  # batch norms learn running statistics that differ from the initial ones
        model(torch.rand(32, 1, 28, 28))
    model.eval()
    fast = for_inference(model)
    x = torch.rand(6, 1, 28, 28)
    with torch.inference_mode():
        assert torch.allclose(fast(x), model(x), atol=1e-5)
    left = (torch.nn.Dropout, torch.nn.Dropout2d, torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)
    assert not any(isinstance(m, left) for m in fast.modules())


@pytest.mark.parametrize("make, shape", [(Dropout, (4000, 50)), (Dropout2d, (400, 50, 2, 2))])
def test_dropout_keeps_one_minus_p_and_rescales_like_torchs(make, shape):
    torch.manual_seed(0)
    layer = make(0.3).train()
    y = layer(torch.ones(shape))
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.01
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    if y.dim() == 4:  # whole feature maps go together
        assert (kept.all((2, 3)) | ~kept.any((2, 3))).all()
    x = torch.rand(shape)
    assert torch.equal(layer.eval()(x), x)


def test_loss_and_accuracy_takes_uint8_or_float(small_split):
    torch.manual_seed(0)
    model = build_model(TrainConfig(cnn_channels=8)).eval()
    val = small_split.val
    assert loss_and_accuracy(model, val.images, val.labels) == pytest.approx(
        loss_and_accuracy(model, to_float(val.images), val.labels)
    )


def test_the_cnn_dense_layer_has_cnn_hidden_units():
    for units in (64, 128):
        linears = [m for m in build_model(TrainConfig(cnn_hidden=units)) if isinstance(m, torch.nn.Linear)]
        assert [(m.in_features, m.out_features) for m in linears] == [(1024, units), (units, 10)]
