"""Points every labelling strategy trains alike (planning.curve.sharing): the seed sets and the
whole pool are picked the same by every strategy, a comparison trains each of them once, and its
curves hold the very points each strategy measures on its own."""

import threading

import pytest

from mnist_core.jobs.curve import CurveJob
from mnist_core.planning.curve.chain import ChainEnd, measure_chain
from mnist_core.planning.curve.compare import measure_strategies
from mnist_core.planning.curve.measure import measure_curve
from mnist_core.planning.curve.sampling import Labelled
from mnist_core.planning.curve.schedule import plan_curve
from mnist_core.planning.curve.sharing import owner, skipped_points, strategy_free
from mnist_core.planning.curve.strategies import sampler_for
from mnist_core.training import train as train_module
from mnist_core.training.models import build_model
from tests.helpers import drain
from tests.test_curve import TINY

SIZES = [20, 40, 80]  # 20 with both seeds; 40 and 80 with seed 0


@pytest.fixture(scope="module")
def plan():
    return plan_curve(TINY, "sample", SIZES, seeds=2)


@pytest.fixture(scope="module")
def whole_pool_plan():
    n = plan_curve(TINY, "sample", SIZES, seeds=2).n_train
    return plan_curve(TINY, "sample", [20, 40, n], seeds=1)


def test_the_seed_sets_and_the_whole_pool_are_strategy_free(plan, whole_pool_plan):
    free = [i for i in range(len(plan.points)) if strategy_free(plan, i)]
    assert [(plan.points[i].size, plan.points[i].seed) for i in free] == [(20, 0), (20, 1)]
    free = [i for i in range(len(whole_pool_plan.points)) if strategy_free(whole_pool_plan, i)]
    assert [whole_pool_plan.points[i].size for i in free] == [20, whole_pool_plan.n_train]


def test_every_strategy_picks_the_same_images_for_a_strategy_free_point(whole_pool_plan):
    pool, n = whole_pool_plan.split.train, whole_pool_plan.n_train
    random, uncertainty = sampler_for("random"), sampler_for("uncertainty")
    assert uncertainty(pool, 20, 7, None).tolist() == random(pool, 20, 7, None).tolist()
    have = Labelled(random(pool, 40, 7, None), build_model(TINY))
    # every image, in random's order: the same training batches, so the same point
    assert uncertainty(pool, n, 7, have).tolist() == random(pool, n, 7, None).tolist()


def test_on_a_cluster_one_chain_trains_each_strategy_free_point(plan, whole_pool_plan):
    both = ["random", "uncertainty"]
    # seed 0's seed set: uncertainty picks the next images with its model, so its chain trains it;
    # seed 1 has only its seed set, whose model nobody needs: the first strategy trains it
    assert owner(plan, 0, both) == "uncertainty" and owner(plan, 1, both) == "random"
    assert skipped_points(plan, "random", both) == {0} and skipped_points(plan, "uncertainty", both) == {1}
    # the whole pool, the last point: no strategy needs its model, the first one trains it
    last = len(whole_pool_plan.points) - 1
    assert owner(whole_pool_plan, last, both) == "random"
    assert skipped_points(whole_pool_plan, "uncertainty", both) == {last}
    # two strategies that both need a seed set's model both train it; alone, nothing is skipped
    assert 0 not in skipped_points(plan, "entropy", ["uncertainty", "entropy"])
    assert skipped_points(plan, "random", ["random"]) == set()


def test_a_skipped_point_is_left_out_and_counted_as_done(plan):
    records, end = drain(
        measure_chain(plan, 1, sampler_for("random"), threading.Event(), skip=frozenset({1}))
    )
    assert end.status == "finished" and end.points == []  # seed 1 has only its seed set
    assert [r["kind"] for r in records] == ["progress"] and records[0]["index"] == 1
    assert records[0]["progress"] == pytest.approx(plan.points[1].cost / sum(p.cost for p in plan.points))


def without_time(points):
    return [{k: v for k, v in p.items() if k != "seconds"} for p in points]


@pytest.mark.parametrize("plan_of", ["seed sets", "whole pool"])
def test_a_comparison_trains_each_shared_point_once_and_gives_each_strategys_own_points(
    tmp_path, monkeypatch, plan_of, whole_pool_plan
):
    sizes, seeds = (SIZES, 2) if plan_of == "seed sets" else ([p.size for p in whole_pool_plan.points], 1)
    alone = {
        s: list(measure_curve(TINY, "sample", sizes, seeds, home=tmp_path / s, strategy=s))[-1]
        for s in ("random", "uncertainty")
    }
    trained = []

    class Counting(train_module.Trainer):  # the chain imports Trainer when it runs
        def __init__(self, cfg, data):
            trained.append(len(data.train))
            super().__init__(cfg, data)

    monkeypatch.setattr(train_module, "Trainer", Counting)
    records = list(measure_strategies(TINY, "sample", sizes, seeds, ["random", "uncertainty"], home=tmp_path))
    together = records[-1]["curves"]
    plan = plan_curve(TINY, "sample", sizes, seeds)
    shared = sum(strategy_free(plan, i) for i in range(len(plan.points)))
    assert shared >= 1 and len(trained) == 2 * len(plan.points) - shared
    for s in ("random", "uncertainty"):
        assert without_time(together[s]["points"]) == without_time(alone[s]["points"]), s
    reused = [r for r in records if r["kind"] == "point" and "trained once" in r["text"]]
    assert len(reused) == shared and {r["strategy"] for r in reused} == {"uncertainty"}


def test_on_a_cluster_a_curve_takes_its_skipped_points_and_their_failures_from_the_owner(tmp_path):
    job = CurveJob(TINY, "sample", SIZES, 2, ["random", "uncertainty"], home=tmp_path)
    job_plan = job.plan
    point = {"val_acc": 0.5, "val_error": 0.5}

    def at(i):
        p = job_plan.points[i]
        return {**point, "size": p.size, "seed": p.seed}

    # uncertainty owns seed 0's seed set (index 0), random owns seed 1's (index 1)
    ok = [
        ("random", ChainEnd([at(2), at(3)])),
        ("random", ChainEnd([at(1)])),
        ("uncertainty", ChainEnd([at(0), at(2), at(3)])),
        ("uncertainty", ChainEnd([])),
    ]
    for strategy in ("random", "uncertainty"):
        record = job._curve(job_plan, strategy, ok, 0.0)
        assert [(p["size"], p["seed"]) for p in record["points"]] == [(20, 0), (20, 1), (40, 0), (80, 0)]
        assert record["status"] == "finished"
    # the owner's training of the seed set failed: the curve that left it to that chain fails too
    failed = [
        ("random", ChainEnd([at(2), at(3)])),
        ("random", ChainEnd([at(1)])),
        ("uncertainty", ChainEnd([], "failed", "Training on 20 images failed: diverged", 0)),
        ("uncertainty", ChainEnd([])),
    ]
    record = job._curve(job_plan, "random", failed, 0.0)
    assert record["status"] == "failed" and record["message"].startswith("Training on 20 images failed")
    assert record["points"] == [] and not record["saved"]
