"""Points every labelling strategy trains alike, measured once in a comparison of strategies.

Every strategy starts a seed from the same random seed set (no model has picked anything yet),
and at the whole pool every strategy labels every image, in the seed's random order
(`strategies.sampler_for`). Those points train the same images in the same order with the same
seed, so they give the same result whichever strategy asks: training them once per strategy
would only repeat work (with random and uncertainty sampling, 3 of the default comparison's 20
trainings: two seed sets and the whole pool). A comparison therefore measures each of them once:

- in one process (`compare.measure_strategies`) the first strategy trains it, and later
  strategies take its point and model from `SharedPoints`;
- on a cluster (`jobs.curve`) every chain is a task of its own and chains cannot hand each other
  a model, so one chain trains the point (`owner`: a strategy that picks its next images with
  that model, else the first strategy) and the others skip it (`skipped_points`); the app copies
  the owner's point into their curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mnist_core.planning.curve.sampling import Labelled
from mnist_core.planning.curve.schedule import CurvePlan
from mnist_core.planning.curve.strategies import MODEL_STRATEGIES


def strategy_free(plan: CurvePlan, index: int) -> bool:
    """Whether the images of `plan.points[index]` are the same for every strategy: the first
    size of its seed (the seed set) or the whole pool."""
    p = plan.points[index]
    first = next(i for i, q in enumerate(plan.points) if q.seed == p.seed)
    return index == first or p.size >= plan.n_train


def needs_model(plan: CurvePlan, index: int, strategy: str) -> bool:
    """Whether `strategy`'s chain picks its next images with the model of this point."""
    seed = plan.points[index].seed
    later = any(q.seed == seed for q in plan.points[index + 1 :])
    return later and strategy in MODEL_STRATEGIES


def owner(plan: CurvePlan, index: int, strategies: Sequence[str]) -> str:
    """The strategy whose chain trains a strategy-free point on a cluster."""
    users = [s for s in strategies if needs_model(plan, index, s)]
    return users[0] if users else strategies[0]


def skipped_points(plan: CurvePlan, strategy: str, strategies: Sequence[str]) -> frozenset[int]:
    """Plan indices that `strategy`'s chains leave to another strategy's chain on a cluster (a
    chain that needs the point's model trains it itself, even if another does too)."""
    return frozenset(
        i
        for i in range(len(plan.points))
        if strategy_free(plan, i)
        and owner(plan, i, strategies) != strategy
        and not needs_model(plan, i, strategy)
    )


@dataclass
class SharedPoints:
    """The strategy-free points one process has trained so far in a comparison, by plan index:
    the point and what its chain labelled (its images and model)."""

    measured: dict[int, tuple[dict[str, Any], Labelled]] = field(default_factory=dict)

    def get(self, index: int) -> tuple[dict[str, Any], Labelled] | None:
        return self.measured.get(index)

    def keep(self, plan: CurvePlan, index: int, point: dict[str, Any], labelled: Labelled) -> None:
        if strategy_free(plan, index):
            self.measured[index] = (dict(point), labelled)
