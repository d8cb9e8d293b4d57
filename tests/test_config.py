"""TrainConfig: defaults are valid, nonsense is rejected with a message naming the field."""

import pytest

from mnist_core.config import (
    DEFAULT_PRESET,
    LADDER,
    PRESETS,
    QUICK_EPOCHS,
    QUICK_MAX_TRAIN,
    ConfigError,
    TrainConfig,
    all_fields,
    field_info,
    quick_config,
)


def test_defaults_and_presets_are_valid():
    assert TrainConfig().model == "cnn"
    for cfg in list(PRESETS.values()) + [c for _, c in LADDER]:
        assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"lr": 0.0}, "lr"),
        ({"lr": -1.0}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"epochs": 10**6}, "epochs"),
        ({"dropout": 1.5}, "dropout"),
        ({"model": "resnet"}, "model"),
        ({"lr": float("nan")}, "finite"),
        ({"epochs": 2.5}, "int"),
        ({"augment": "yes"}, "bool"),
        ({"epochs": True}, "int"),
    ],
)
def test_nonsense_is_rejected(changes, words):
    with pytest.raises(ConfigError, match=words):
        TrainConfig(**changes)


def test_replace_validates_and_from_dict_rejects_unknown():
    with pytest.raises(ConfigError):
        TrainConfig().replace(lr=100.0)
    with pytest.raises(ConfigError, match="Unknown setting"):
        TrainConfig.from_dict({"learning_rate": 0.1})
    assert TrainConfig.from_dict({"epochs": 3}).epochs == 3
    assert TrainConfig(lr=1).lr == 1.0  # an int where a float is expected is fine


def test_every_field_has_help():
    for info in all_fields():
        assert info["help"], info["name"]
    assert field_info("lr")["min"] > 0
    assert "cnn" in field_info("model")["choices"]


def test_summary_is_readable():
    assert TrainConfig(model="mlp", mlp_depth=2, mlp_width=64).summary() == "MLP 2×64 relu"
    assert "32-64" in TrainConfig(cnn_blocks=2, cnn_channels=32).summary()


def test_quick_config_is_the_default_preset_shortened():
    cfg = quick_config()
    assert cfg.model == PRESETS[DEFAULT_PRESET].model and cfg.epochs <= QUICK_EPOCHS
    assert 0 < cfg.max_train_samples <= QUICK_MAX_TRAIN
    assert cfg.replace(epochs=PRESETS[DEFAULT_PRESET].epochs, max_train_samples=0) == PRESETS[DEFAULT_PRESET]


def test_a_run_saved_before_a_field_existed_loads_with_the_value_it_was_built_with():
    stored = TrainConfig().to_dict()
    del stored["cnn_hidden"]  # runs saved before the field: 128 dense units
    assert TrainConfig.from_dict(stored).cnn_hidden == 128
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()
    assert TrainConfig().cnn_hidden == 64
