"""A learning curve's seed chains on their own (planning.curve.chain): each gives the points the
whole in-process measurement gives for its seed, with plan-wide indices and progress shares that
add up; a stop ends a chain after its last whole point; a diverged training fails it."""

import threading

import pytest

from mnist_core.planning.curve.chain import chain_seeds, measure_chain, point_of
from mnist_core.planning.curve.measure import measure_curve
from mnist_core.planning.curve.schedule import plan_curve
from mnist_core.planning.curve.strategies import sampler_for
from tests.helpers import diverging_trainer, drain
from tests.test_curve import TINY

SIZES = [20, 40, 80]  # 20 with both seeds; 40 and 80 (at least half the largest) with seed 0


def run_chain(plan, seed, strategy="random", stop=None):
    """A chain's records and its end."""
    return drain(measure_chain(plan, seed, sampler_for(strategy), stop or threading.Event()))


def without_time(points):
    return [{k: v for k, v in p.items() if k != "seconds"} for p in points]


@pytest.mark.parametrize("strategy", ["random", "uncertainty"])
def test_each_chain_gives_the_points_of_its_seed_in_the_whole_measurement(tmp_path, strategy):
    whole = list(measure_curve(TINY, "sample", SIZES, seeds=2, home=tmp_path, strategy=strategy))
    plan = plan_curve(TINY, "sample", SIZES, seeds=2)
    assert chain_seeds(plan) == [0, 1]
    shares = 0.0
    for seed in chain_seeds(plan):
        records, end = run_chain(plan, seed, strategy)
        assert end.status == "finished" and end.message == "" and end.failed_at is None
        expected = [point_of(r) for r in whole if r["kind"] == "point" and r["seed"] == seed]
        assert without_time(end.points) == without_time(expected)  # the same seeds: the same val_acc
        points = [r for r in records if r["kind"] == "point"]
        assert [r["index"] for r in points] == [i for i, p in enumerate(plan.points) if p.seed == seed]
        assert {r["total"] for r in records} == {len(plan.points)}
        progress = [r["progress"] for r in records]
        assert progress == sorted(progress)
        shares += points[-1]["progress"]
    assert shares == pytest.approx(1.0)  # the chains' shares make up the whole curve


def test_a_stop_ends_a_chain_after_its_last_whole_point():
    plan = plan_curve(TINY, "sample", SIZES, seeds=2)
    stop = threading.Event()
    chain, records = measure_chain(plan, 0, sampler_for("random"), stop), []
    while True:
        try:
            record = next(chain)
        except StopIteration as done:
            end = done.value
            break
        records.append(record)
        if record["kind"] == "progress" and record["size"] == 40:
            stop.set()  # mid-way through the second point: it is dropped
    assert end.status == "stopped" and [p["size"] for p in end.points] == [20]
    assert [r["size"] for r in records if r["kind"] == "point"] == [20]


def test_a_diverged_training_fails_the_chain_at_its_point(monkeypatch):
    from mnist_core.training import train

    monkeypatch.setattr(train, "Trainer", diverging_trainer())
    plan = plan_curve(TINY, "sample", SIZES, seeds=2)
    records, end = run_chain(plan, 1, "random")
    assert records == [] and end.status == "failed" and end.points == []
    assert end.failed_at == 1  # the plan index of (20 images, seed 1)
    assert end.message.startswith("Training on 20 images failed: Training diverged")
