"""Whether a training runs in bfloat16 autocast: only where the hardware does bf16 natively.

`TrainConfig.mixed_precision` asks for bf16 "where it helps". On a CPU it helps only with native
bf16 instructions (AVX-512 BF16 or AMX on x86, the BF16 extension on Arm): there the default CNN
trains about 1.15-2x faster at the same accuracy. Without them PyTorch emulates bf16, and the
same epoch took 10x longer on an AVX2-only AMD EPYC here (39 ms per 512-image batch in float32,
411 ms in bf16), so such machines train in float32 whatever the config says. GPUs use bf16 from
Ampere on; older ones would need loss scaling, so they too stay in float32.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from mnist_core.config import TrainConfig

CPUINFO = Path("/proc/cpuinfo")
# /proc/cpuinfo flag names of native bf16 arithmetic (x86 "flags", Arm "Features")
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


@functools.cache
def cpu_has_native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """True when the processor lists a native bf16 instruction set. Where the kernel does not say
    (no /proc/cpuinfo, as on macOS), False: float32 is never the slow choice."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features") and NATIVE_BF16_FLAGS & set(value.split()):
            return True
    return False


def uses_bf16(config: TrainConfig, device: torch.device) -> bool:
    """Whether `config` trains in bf16 autocast on `device`."""
    if not config.mixed_precision:
        return False
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def precision_name(config: TrainConfig, device: torch.device) -> str:
    """ "bfloat16" or "float32": what a run records and the pages show."""
    return "bfloat16" if uses_bf16(config, device) else "float32"
