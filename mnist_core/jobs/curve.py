"""A learning-curve measurement as a cluster job: one task per (strategy, seed) chain, in parallel.

The points of one seed depend on each other (uncertainty sampling picks a size's images with the
model of the size before), but different seeds and strategies do not (planning.curve.chain), so
a cluster with more workers finishes the curve sooner. Every point is trained with the seeds a
sequential `measure_strategies` uses, so the points are the same; a point every strategy trains
alike (a seed set, the whole pool) is trained by one chain only (planning.curve.sharing) and
copied to the other strategies' curves, as `measure_strategies` reuses it. The app plans (which checks
the request before anything runs), follows the chains' records as one progress bar, then puts
each strategy's points back in plan order, fits them and saves the curve in its studio home
(`final_record`): workers need no shared disk. Its records are those `measure_strategies`
yields: "progress", "point", one "curve" per strategy, one "comparison".
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Generator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from mnist_core.config import TrainConfig
from mnist_core.jobs.job import Job
from mnist_core.jobs.remote import relay
from mnist_core.planning.curve.chain import ChainEnd, chain_seeds, measure_chain, start_record
from mnist_core.planning.curve.measure import final_record
from mnist_core.planning.curve.schedule import CurvePlan, plan_curve
from mnist_core.planning.curve.sharing import skipped_points
from mnist_core.planning.curve.store import check_curves_dir
from mnist_core.planning.curve.strategies import STRATEGIES, parse_strategies, sampler_for


def chain_work(
    config: TrainConfig,
    data: str,
    sizes: Sequence[int] | None,
    seeds: int,
    strategy: str,
    seed: int,
    skip: frozenset[int],
    stop: threading.Event,
) -> Generator[dict[str, Any], None, ChainEnd]:
    """On a worker: plan the curve again from the app's arguments (the same plan: loading the data
    here costs less than sending the split), run `strategy`'s chain of `seed`, leaving the plan
    indices in `skip` to another strategy's chain; its records are tagged with the strategy."""
    plan = plan_curve(config, data, sizes, seeds)
    chain = measure_chain(plan, seed, sampler_for(strategy), stop, skip=skip)
    return (yield from relay(chain, lambda record: {**record, "strategy": strategy}))


class CurveJob(Job):
    """Measure `config`'s learning curve for each of `strategies` (one group when several) with
    the chains in parallel, and save each curve in `home`."""

    def __init__(
        self,
        config: TrainConfig,
        data: str,
        sizes: Sequence[int] | None,
        seeds: int,
        strategies: Sequence[str] = ("random",),
        *,
        name: str = "",
        home: Path | None = None,
    ) -> None:
        self.strategies = parse_strategies(",".join(strategies))
        check_curves_dir(home)  # CurveError now: a curve must never be measured for nothing
        self.plan: CurvePlan | None = plan_curve(config, data, sizes, seeds)  # CurveError/DataError now
        self.args = (config, data, list(sizes) if sizes is not None else None, seeds)
        self.name, self.home = name, home
        self.group = uuid.uuid4().hex[:8] if len(self.strategies) > 1 else ""
        self.chains = [(s, seed) for s in self.strategies for seed in chain_seeds(self.plan)]
        # the points every strategy trains alike are trained by one chain (sharing.py)
        self.skips = {s: skipped_points(self.plan, s, self.strategies) for s in self.strategies}
        self._shares: dict[tuple[str, int], float] = {}  # chain -> its share of its curve's cost done
        super().__init__(None, kind="curve", title=f"Learning curve of {config.summary()}")

    def _run(self) -> None:
        # a finished job stays listed in the queue: it must not keep the split's images
        plan, self.plan = self.plan, None
        started, n = time.perf_counter(), len(self.strategies)
        text = f"Measuring the learning curve: {plan.describe()}"
        if n > 1:
            text += f", with {' and '.join(STRATEGIES[s] for s in self.strategies)} side by side"
        self._append({**start_record(plan, text), "strategy": self.strategies[0], "strategies": n})
        works = [
            partial(chain_work, *self.args, strategy, seed, self.skips[strategy])
            for strategy, seed in self.chains
        ]
        ends = self._remote_all(works)
        if all(end is None for end in ends):
            return  # stopped while queued: nothing measured, nothing to say beyond "stopped"
        ended = [(s, end or ChainEnd(status="stopped")) for (s, _), end in zip(self.chains, ends)]
        finals: dict[str, dict[str, Any]] = {}
        for strategy in self.strategies:
            final = self._curve(plan, strategy, ended, started)
            # 1.0: every chain is done (measure_strategies' (j + 1) / n would step the bar back)
            tagged = {**final, "strategy": strategy, "strategies": n, "progress": 1.0}
            if n > 1:
                tagged["text"] = f"{STRATEGIES[strategy]}: {final['text']}"
            finals[strategy] = tagged
            self._append(tagged)
        statuses = [f["status"] for f in finals.values()]
        status = (
            "failed" if "failed" in statuses else "finished" if set(statuses) == {"finished"} else "stopped"
        )
        self._append(
            {"kind": "comparison", "group": self.group, "status": status, "curves": finals, "progress": 1.0}
        )

    def _curve(
        self, plan: CurvePlan, strategy: str, ended: list[tuple[str, ChainEnd]], started: float
    ) -> dict[str, Any]:
        """One strategy's "curve" record: its chains' points, and those it left to another
        strategy's chain, in plan order, fitted and saved here.

        A failure ends a sequential measurement at the failing point: the points measured after
        it in plan order (by the other chains, meanwhile) are left out, so the record is the
        one a sequential run gives. Unlike `measure_strategies`, which stops at a failed or
        stopped strategy, every strategy ran at once here, so each gets its own curve.
        """
        skip = self.skips[strategy]
        index = {(p.size, p.seed): i for i, p in enumerate(plan.points)}
        ends = [e for s, e in ended if s == strategy]
        ends += [e for s, e in ended if s != strategy and e.failed_at in skip]  # it failed for us too
        failed = min((e for e in ends if e.status == "failed"), key=lambda e: e.failed_at, default=None)
        measured = {
            (p["size"], p["seed"]): p
            for s, end in ended
            for p in end.points
            if s == strategy or index[(p["size"], p["seed"])] in skip
        }
        points = [
            measured[(p.size, p.seed)]
            for i, p in enumerate(plan.points)
            if (p.size, p.seed) in measured and (failed is None or i < failed.failed_at)
        ]
        if failed is not None:
            status, message = "failed", failed.message
        else:
            status = "finished" if len(points) == len(plan.points) else "stopped"
            message = ""
        saving = (self.home, self.name, strategy, self.group)
        return final_record(plan, points, status, message, saving, started)

    def _add(self, record: dict[str, Any]) -> None:
        if record["kind"] not in ("progress", "point"):
            super()._add(record)
            return
        # each chain's progress is its share of its curve's cost: their sum over all the chains
        # is the progress of the whole comparison, times the number of strategies
        strategy, n = record["strategy"], len(self.strategies)
        self._shares[(strategy, record["seed"])] = record["progress"]
        tagged = {**record, "strategies": n, "progress": sum(self._shares.values()) / n}
        if n > 1:
            tagged["text"] = f"{STRATEGIES[strategy]}: {record['text']}"
        self._append(tagged)
        if record["kind"] == "point":  # the strategies that left this point to this chain get it live
            for other in self.strategies:
                if other != strategy and record["index"] in self.skips[other]:
                    words = f"{record['text']} (the same images as {STRATEGIES[strategy]}: trained once)"
                    self._append({**tagged, "strategy": other, "text": f"{STRATEGIES[other]}: {words}"})
