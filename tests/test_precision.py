"""Training uses bf16 autocast only where the hardware has native bf16 (it is 10x slower elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mnist_core.config import TrainConfig
from mnist_core.training import precision
from mnist_core.training.precision import cpu_has_native_bf16, precision_name, uses_bf16
from tests.helpers import train_to_run

CPU = torch.device("cpu")


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(
        f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t: {flags}\n"
    )
    return path


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ("fpu sse2 avx2 fma", False),  # AVX2 only: emulated bf16
        ("avx2 avx512f avx512bw", False),  # AVX-512 without its BF16 extension
        ("avx2 avx512f avx512_bf16", True),  # e.g. AMD Zen 4, Intel Cooper Lake
        ("avx2 avx512f amx_bf16 amx_tile", True),  # Intel Sapphire Rapids
    ],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    assert cpu_has_native_bf16.__wrapped__(_cpuinfo(tmp_path, flags)) is native


def test_arm_features_line_counts_too(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n")
    assert cpu_has_native_bf16.__wrapped__(path) is True


def test_no_cpuinfo_means_float32(tmp_path):
    assert cpu_has_native_bf16.__wrapped__(tmp_path / "missing") is False


def test_config_decides_first_then_the_hardware(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert uses_bf16(TrainConfig(), CPU) is True
    assert precision_name(TrainConfig(), CPU) == "bfloat16"
    assert uses_bf16(TrainConfig(mixed_precision=False), CPU) is False
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert uses_bf16(TrainConfig(), CPU) is False
    assert precision_name(TrainConfig(), CPU) == "float32"


def test_a_saved_run_records_its_device_and_precision(small_split):
    cfg = TrainConfig(model="logreg", epochs=1, batch_size=64)
    run = train_to_run(cfg, split=small_split)
    assert run.meta["device"] == "cpu"
    assert run.meta["precision"] == precision_name(cfg, CPU)
