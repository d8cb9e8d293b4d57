"""Labelling strategies for the learning curve: uncertainty sampling picks the most ambiguous
images, the diversity guard spreads a batch, seeds repeat, strategies are compared at the target,
and the `curve --strategy` JSON contract and its bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mnist_core.charts import curve as curve_charts
from mnist_core.cli.main import main
from mnist_core.data.sources import Images
from mnist_core.planning.curve.compare import compare_at_target, saving_sentence
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import Fit
from mnist_core.planning.curve.sampling import Labelled, random_sample
from mnist_core.planning.curve.store import Curve, load_curve, save_curve
from mnist_core.planning.curve.strategies import (
    diverse_batch,
    entropy_uncertainty,
    margin_uncertainty,
    parse_strategies,
    sampler_for,
)
from tests.helpers import vega_spec
from tests.test_curve import TINY_FLAGS
from tests.test_curve_views import synthetic_curve


def two_way_model() -> nn.Module:
    """A fixed model torn between 0 and 1: its penultimate features are the ink in the left and
    right halves of an image, and it says 0 for left ink, 1 for right ink; equal ink is a tie."""
    first, last = nn.Linear(784, 2), nn.Linear(2, 10)
    with torch.no_grad():
        left = torch.zeros(28, 28)
        left[:, :14] = 1
        first.weight.copy_(torch.stack([left.flatten(), (1 - left).flatten()]) / 500)
        first.bias.zero_()
        last.weight.zero_()
        last.bias.fill_(-20.0)
        last.weight[0, 0] = last.weight[1, 1] = 10.0
        last.bias[:2] = 0.0
    return nn.Sequential(nn.Flatten(), first, last)


def split_ink_pool(n: int = 200, seed: int = 0) -> tuple[Images, np.ndarray]:
    """Images with some ink on the left and some on the right; returns how even each is (1: a tie)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    share = rng.uniform(0, 1, n)  # the left half's share of the ink
    for i, s in enumerate(share):
        images[i, 5:25, 2:12] = int(255 * s)
        images[i, 5:25, 16:26] = int(255 * (1 - s))
    return Images(torch.from_numpy(images), torch.zeros(n, dtype=torch.int64)), 1 - np.abs(2 * share - 1)


def test_margin_and_entropy_rank_a_tie_above_a_sure_answer():
    sure = [0.97] + [1 / 300] * 9
    tie = [0.49, 0.49] + [0.0025] * 8
    probs = np.array([sure, tie])
    assert margin_uncertainty(probs)[1] > margin_uncertainty(probs)[0]
    assert margin_uncertainty(probs)[1] == pytest.approx(1.0)
    assert entropy_uncertainty(probs)[1] > entropy_uncertainty(probs)[0]


def test_uncertainty_labels_the_most_ambiguous_images_first():
    pool, evenness = split_ink_pool()
    seed_set = torch.arange(10)
    labelled = Labelled(seed_set, two_way_model())
    picked = sampler_for("uncertainty")(pool, 30, 0, labelled)
    assert len(picked) == 30 and torch.equal(picked[:10], seed_set)  # the earlier ones are kept
    new = picked[10:].numpy()
    rest = np.arange(10, len(pool))
    most_even = rest[np.argmax(evenness[rest])]
    assert most_even in new  # the closest tie of the unlabelled pool is labelled
    # every pick comes from the most ambiguous CANDIDATES × batch; their mean beats the pool's
    assert evenness[new].min() >= np.sort(evenness[rest])[-80] - 1e-6
    assert evenness[new].mean() > evenness[rest].mean() + 0.3


def test_the_diversity_guard_spreads_a_batch_over_distinct_images():
    # 30 copies of one ambiguous image, then 170 different, slightly less ambiguous ones: the
    # 10 most uncertain are all copies, the batch of 10 takes one and spreads over the rest
    rng = np.random.default_rng(0)
    feats = np.vstack([np.zeros((30, 8)), rng.normal(5, 3, (170, 8))])
    uncertainty = np.concatenate([np.full(30, 0.99), rng.uniform(0.8, 0.95, 170)])
    batch = diverse_batch(uncertainty, feats, 10, seed=0)
    assert len(batch) == 10 and len(set(batch.tolist())) == 10
    assert (batch < 30).sum() == 1  # one cluster of copies gives its most uncertain, once
    assert np.argsort(-uncertainty, kind="stable")[0] in batch  # the most uncertain of all is in


def test_identical_seeds_give_identical_picks_and_the_seed_set_is_random():
    pool, _ = split_ink_pool(300, seed=3)
    labelled = Labelled(random_sample(pool, 20, 7, None), two_way_model())
    for name in ("uncertainty", "entropy"):
        sample = sampler_for(name)
        assert torch.equal(sample(pool, 20, 7, None), random_sample(pool, 20, 7, None))
        first, again = sample(pool, 60, 7, labelled), sample(pool, 60, 7, labelled)
        assert torch.equal(first, again)
        assert len(set(first.tolist())) == 60


def test_strategy_names_are_checked():
    assert parse_strategies(" random, Uncertainty ,random") == ["random", "uncertainty"]
    with pytest.raises(CurveError, match="Unknown labelling strategy 'nonsense'"):
        parse_strategies("random,nonsense")
    with pytest.raises(CurveError, match="at least one"):
        parse_strategies(" , ")


def fit_of(a: float, b: float = 0.7, c: float = 0.005) -> Fit:
    return Fit(a, b, c, np.empty((0, 3)), 10, 125, 3432)


def test_the_saving_at_the_target_is_measured_and_said():
    result = compare_at_target({"random": (fit_of(3.9), 3432), "uncertainty": (fit_of(2.0), 3432)}, 0.98)
    r, u = result["strategies"]["random"], result["strategies"]["uncertainty"]
    assert result["best"] == "uncertainty" and result["baseline"] == "random"
    assert result["labels_saved"] == pytest.approx(1 - u["size"] / r["size"]) and result["labels_saved"] > 0.5
    sentence = saving_sentence(result, seconds_per_label=5)
    hours = (r["size"] - u["size"]) * 5 / 3600
    assert sentence.startswith(f"Uncertainty sampling reaches 98 % with ~{u['size']:,} labels instead of ")
    assert f"~{r['size']:,}: {result['labels_saved']:.0%} fewer, {hours:,.1f} h" in sentence
    worse = compare_at_target({"random": (fit_of(2.0), 3432), "uncertainty": (fit_of(3.9), 3432)}, 0.98)
    assert worse["labels_saved"] < 0 and "did not help on this data" in saving_sentence(worse)
    floor = compare_at_target(
        {"random": (fit_of(2.0), 3432), "uncertainty": (fit_of(2.0, c=0.05), 3432)}, 0.98
    )
    assert floor["labels_saved"] is None and "did not help on this data" in saving_sentence(floor)


def group_pair(home: Path) -> tuple[Curve, Curve]:
    """A random curve and an uncertainty curve measured together (the second needs fewer labels)."""
    rand = synthetic_curve(home, name="r", a=3.9)
    unc = synthetic_curve(home, name="u", a=2.0, created="2024-05-01T12:00:01+00:00")
    rand, unc = (
        dataclasses.replace(rand, group="g1"),
        dataclasses.replace(unc, strategy="uncertainty", group="g1"),
    )
    save_curve(rand, home)
    save_curve(unc, home)
    return rand, unc


def test_a_curve_saved_before_strategies_loads_as_random(tmp_path):
    curve = synthetic_curve(tmp_path)
    data = json.loads(curve.path.read_text())
    del data["strategy"], data["group"]
    curve.path.write_text(json.dumps(data))
    old = load_curve(curve.id, tmp_path)
    assert old.strategy == "random" and old.group == ""
    _, unc = group_pair(tmp_path)
    assert load_curve(unc.id, tmp_path).strategy == "uncertainty" and "uncertainty labelling" in unc.label


def test_the_strategies_chart_draws_each_curve_its_band_and_needed_size(tmp_path):
    rand, unc = group_pair(tmp_path)
    spec = vega_spec(
        curve_charts.strategies_chart(
            {"random labelling": (rand.points, rand.fit), "uncertainty sampling": (unc.points, unc.fit)},
            0.02,
            {"random labelling": 3000, "uncertainty sampling": 1500},
        )
    )
    text = json.dumps(spec, ensure_ascii=False)
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks.count("area") == 2 and marks.count("line") == 2 and marks.count("point") == 2
    assert marks.count("rule") == 2 and "random labelling" in text and "uncertainty sampling" in text


# ---------------------------------------------------------------- the command


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_compares_two_strategies_in_one_json_line(capsys, isolated_home):
    code, out, err = run_cli(
        capsys, "curve", *TINY_FLAGS, "--sizes", "20,40,80", "--seeds", "1", "--target", "0.5",
        "--strategy", "random,uncertainty",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert list(result["strategies"]) == ["random", "uncertainty"]
    first = result["strategies"]["random"]
    for key in ("curve", "points", "fit", "target", "size_needed", "size_range", "have", "sentence"):
        assert result[key] == first[key]  # a single curve's keys: the first strategy's answer
    u = result["strategies"]["uncertainty"]
    assert [p["size"] for p in u["points"]] == [20, 40, 80] and u["strategy"] == "uncertainty"
    assert u["points"][0]["val_error"] == first["points"][0]["val_error"]  # the same seed set
    if first["reachable"] and u["reachable"]:
        assert result["labels_saved"] == pytest.approx(1 - u["size_needed"] / first["size_needed"])
    else:
        assert result["labels_saved"] is None
    assert result["saving"]
    saved = {
        load_curve(result["strategies"][s]["curve"], isolated_home).group for s in ("random", "uncertainty")
    }
    assert len(saved) == 1 and saved != {""}  # saved as one group
    assert "uncertainty: [3/3] 80 images" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (("--strategy", "nonsense"), "Unknown labelling strategy 'nonsense'"),
        (("--strategy", "random,uncertainty", "--sizes", "20,40,99999"), "larger than the training split"),
    ],
)
def test_cli_bad_strategy_input_is_one_line_and_exit_2(capsys, isolated_home, args, message):
    code, out, err = run_cli(capsys, "curve", "--data", "sample", "--sizes", "20,40,80", *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (isolated_home / "curves").exists()
