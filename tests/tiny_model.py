"""One tiny CNN trained on the offline sample, shared by the look-inside tests (explain,
embedding, calibration, robustness): it trains once per test process, in a few seconds."""

from __future__ import annotations

from pathlib import Path

from mnist_core.config import TrainConfig
from mnist_core.runs.storage import Run, load_run
from tests.helpers import train_to_run

# Two stride-2 blocks of 8 and 16 channels, 1,500 training images, 2 epochs: ~85 % on the
# sample's 858 validation images, and the run's own split can be rebuilt (run.split()).
TINY = TrainConfig(
    model="cnn",
    cnn_blocks=2,
    cnn_channels=8,
    epochs=2,
    batch_size=128,
    augment=False,
    max_train_samples=1500,
    lr=0.01,
)
_RUNS: dict[str, Path] = {}


def tiny_run(tmp_path_factory) -> Run:
    """The shared run (a fresh Run object each call, so tests may change its meta freely)."""
    if "cnn" not in _RUNS:
        home = tmp_path_factory.mktemp("tiny-home")
        run = train_to_run(TINY, "sample", home=home, name="tiny cnn")
        assert run is not None
        _RUNS["cnn"] = run.path
    return load_run(_RUNS["cnn"])
