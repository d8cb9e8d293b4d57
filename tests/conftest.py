"""Shared fixtures: every test gets its own empty studio home and data cache."""

from __future__ import annotations

import pytest
import torch

from mnist_core.config import TrainConfig
from mnist_core.data.preprocess import DataSplit, make_split
from mnist_core.data.sources import load_train_pool
from tests.fakes import serve_mirror


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Runs, drawings and downloads go to a temporary folder, never the user's."""
    home = tmp_path / "studio"
    monkeypatch.setenv("MNIST_STUDIO_HOME", str(home))
    monkeypatch.setenv("MNIST_STUDIO_CACHE", str(tmp_path / "cache"))
    return home


@pytest.fixture
def small_split() -> DataSplit:
    """800 train / 200 validation images of the real offline sample: enough to learn something."""
    pool = load_train_pool("sample")
    idx = torch.randperm(len(pool), generator=torch.Generator().manual_seed(0))[:1000]
    cfg = TrainConfig(val_fraction=0.2)
    return make_split("sample", cfg, pool=pool.subset(idx))


@pytest.fixture
def fast_config() -> TrainConfig:
    """A small CNN for a couple of quick epochs."""
    return TrainConfig(cnn_channels=8, epochs=2, batch_size=64, augment=False)


@pytest.fixture
def mirror(tmp_path):
    """A loopback HTTP server holding fake MNIST files; yields (url, files)."""
    with serve_mirror(tmp_path / "mirror") as served:
        yield served
