"""The optimizer and learning-rate schedule a run trains with: torch.optim's SGD (Nesterov),
Adam or AdamW under torch's OneCycleLR.

The one-cycle schedule is OneCycleLR's defaults: 30 % warm-up from lr/25 to lr, then cosine down
to lr/25e4, the momentum (Adam's beta1) moving from 0.95 to 0.85 and back against it. Fused
kernels (one kernel call per step for all the weights) where torch has them for the device,
otherwise the multi-tensor `foreach` path.

The first use of torch.optim imports torch._dynamo, a compiler this project never calls: measured
on the 2-core host (fresh processes, issue 21) it costs 1.7-4.3 s and ~170 MB of resident memory
once per process that trains. The private fused ops that avoided it are not a public API.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.lr_scheduler import OneCycleLR

from mnist_core.config import TrainConfig

SGD_MOMENTUM = 0.9  # SGD's momentum outside the schedule (OneCycleLR cycles it from the first step)


def _build(cfg: TrainConfig, params: list[nn.Parameter], **speed: bool) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=SGD_MOMENTUM, nesterov=True, weight_decay=cfg.weight_decay, **speed
        )
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **speed)


def make_optimizer(
    cfg: TrainConfig, model: nn.Module, total_steps: int
) -> tuple[torch.optim.Optimizer, OneCycleLR]:
    """The optimizer for `model`'s trainable weights and its one-cycle schedule over `total_steps`
    optimizer steps: call `optimizer.step()` then `schedule.step()` once per batch."""
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        opt = _build(cfg, params, fused=True)
    except RuntimeError:  # no fused kernels for this device (or dtype): torch says so at construction
        opt = _build(cfg, params, foreach=True)
    return opt, OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(total_steps, 1))


def current_lr(opt: torch.optim.Optimizer) -> float:
    """The learning rate the next `opt.step()` will use."""
    return float(opt.param_groups[0]["lr"])
