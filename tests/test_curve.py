"""Learning curves: the power-law fit, sizes and subsets, measuring, saving, the `curve` command."""

import json
import math
import threading

import numpy as np
import pytest
import torch

from mnist_core.cli.main import main
from mnist_core.config import DEFAULT_PRESET, PRESETS, TrainConfig
from mnist_core.planning import costs
from mnist_core.planning.curve.advice import (
    bigger_model,
    check_target,
    curve_estimate,
    estimate_sentence,
    target_estimate,
)
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import Fit, fit_learning_curve, power_law, provisional_fit
from mnist_core.planning.curve.honesty import honesty_check
from mnist_core.planning.curve.measure import measure_curve
from mnist_core.planning.curve.sampling import nested_order, random_sample
from mnist_core.planning.curve.schedule import (
    MIN_STEPS,
    check_sizes,
    default_sizes,
    measurable_configs,
    plan_curve,
    point_schedule,
)
from mnist_core.planning.curve.store import (
    curves_signature,
    delete_curve,
    list_curves,
    load_curve,
    save_curve,
)
from tests.helpers import diverging_trainer

A, B, C = 2.0, 0.5, 0.01  # error(n) = 2·n^-0.5 + 1 %: 13.6 % at 250, 1.9 % at 48,000
# Full-MNIST-like sizes, two seeds each: far enough out for the floor c to show.
SIZES = np.repeat([125, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 48000], 2)
# Two logistic-regression trainings of a few dozen steps each: seconds, not minutes.
TINY = TrainConfig(
    model="logreg",
    optimizer="adam",
    lr=0.01,
    epochs=2,
    batch_size=32,
    dropout=0.0,
    augment=False,
    weight_decay=0.0,
)
TINY_SIZES = [20, 40, 80, 160]


def noisy_errors(n_val=12_000, seed=1):
    """The power law plus the binomial noise of measuring each error on `n_val` validation images."""
    rng = np.random.default_rng(seed)
    exact = power_law(SIZES, A, B, C)
    return rng.binomial(n_val, exact) / n_val


@pytest.fixture(scope="module")
def noisy_fit():
    return fit_learning_curve(SIZES, noisy_errors())


# ---------------------------------------------------------------- the fit


def test_fit_recovers_a_known_power_law_exactly():
    fit = fit_learning_curve(SIZES, power_law(SIZES, A, B, C), resamples=0)
    assert (fit.a, fit.b, fit.c) == pytest.approx((A, B, C), rel=1e-4)
    assert fit.rmse < 1e-8 and (fit.min_size, fit.max_size, fit.n_points) == (125, 48_000, 20)


def test_fit_recovers_a_b_c_from_noisy_points(noisy_fit):
    assert noisy_fit.b == pytest.approx(B, abs=0.05)
    assert noisy_fit.c == pytest.approx(C, abs=0.003)
    assert noisy_fit.a == pytest.approx(A, rel=0.25)
    assert noisy_fit.predict(1000) == pytest.approx(power_law(1000, A, B, C), rel=0.05)
    assert len(noisy_fit.boot) > 190  # nearly every resample refits


def test_size_for_inverts_predict(noisy_fit):
    for error in (0.2, 0.05, 0.02, noisy_fit.c + 1e-3):
        n = noisy_fit.size_for(error)
        assert n is not None and noisy_fit.predict(n) == pytest.approx(error, rel=1e-6)
    for n in (50, 700, 30_000):
        assert noisy_fit.size_for(noisy_fit.predict(n)) == pytest.approx(n, rel=1e-6)
    assert noisy_fit.size_for(noisy_fit.c) is None  # the floor itself: never reached
    assert noisy_fit.size_for(noisy_fit.c / 2) is None


def test_range_and_band_bracket_the_estimate(noisy_fit):
    n = noisy_fit.size_for(0.03)
    lo, hi = noisy_fit.size_range_for(0.03)
    assert lo < n < hi
    ns = np.array([100, 1000, 10_000])
    low, high = noisy_fit.band(ns)
    mid = noisy_fit.predict(ns)
    assert (low <= mid).all() and (mid <= high).all() and (low < high).all()
    _, hi_far = noisy_fit.size_range_for(noisy_fit.c / 2)
    assert hi_far is None  # below the fitted floor: many refits never get there, no upper end
    rows = noisy_fit.rows(100, 10_000, count=5)
    assert [r["size"] for r in rows] == pytest.approx([100, 316.2, 1000, 3162.3, 10_000], rel=1e-3)
    assert all(r["low"] <= r["error"] <= r["high"] for r in rows)


def test_fit_round_trips_through_json(noisy_fit):
    again = Fit.from_dict(json.loads(json.dumps(noisy_fit.to_dict(), allow_nan=False)))
    assert again.predict(777) == pytest.approx(noisy_fit.predict(777))
    assert again.size_range_for(0.03) == pytest.approx(noisy_fit.size_range_for(0.03))
    with pytest.raises(CurveError, match="malformed"):
        Fit.from_dict({"a": 1.0, "b": "x", "c": 0.0})


@pytest.mark.parametrize(
    "sizes, errors, message",
    [
        ([100, 100, 200, 200], [0.2, 0.21, 0.1, 0.11], "at least 3 different sizes"),
        ([100, 200, 400], [0.2, 0.1], "one error per size"),
        ([100, 200, 400], [0.2, float("nan"), 0.05], "finite"),
        ([0, 200, 400], [0.2, 0.1, 0.05], "positive"),
        ([100, 200, 400], [20, 10, 5], "fractions between 0 and 1"),
        ([100, 200, 400], [0, 0, 0], "zero validation error"),
    ],
)
def test_fit_rejects_degenerate_input(sizes, errors, message):
    with pytest.raises(CurveError, match=message):
        fit_learning_curve(sizes, errors)


def test_fit_that_does_not_converge_is_a_curve_error(monkeypatch):
    import scipy.optimize

    def never(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found: maxfev exceeded")

    monkeypatch.setattr(scipy.optimize, "curve_fit", never)
    with pytest.raises(CurveError, match="did not converge"):
        fit_learning_curve(SIZES, noisy_errors())


def test_errors_that_do_not_fall_fit_a_flat_curve():
    fit = fit_learning_curve([100, 200, 400, 800], [0.10, 0.11, 0.10, 0.11], resamples=20)
    assert fit.c <= 0.10 + 1e-9
    assert fit.size_for(0.05) is None  # more data of this kind does not help


def test_honesty_check_predicts_the_largest_size_from_the_smaller_ones():
    points = [{"size": int(s), "val_error": float(e)} for s, e in zip(SIZES, noisy_errors())]
    check = honesty_check(points)
    assert check["max_fit_size"] == 16_000 and check["fit_sizes"] == [
        125,
        250,
        500,
        1000,
        2000,
        4000,
        8000,
        16_000,
    ]
    assert check["at_size"] == 48_000
    assert check["predicted_error"] == pytest.approx(power_law(48_000, A, B, C), rel=0.1)
    assert check["measured_error"] == pytest.approx(np.mean(noisy_errors()[-2:]))
    assert check["text"].startswith("The curve fitted on ≤ 16,000 images predicted ")
    assert honesty_check(points, max_fit_size=2000)["fit_sizes"][-1] == 2000
    with pytest.raises(CurveError, match="at least 4 sizes"):
        honesty_check(points[:6])


def test_provisional_fit_waits_for_three_sizes_and_a_power_law():
    points = [{"size": int(s), "val_error": float(e)} for s, e in zip(SIZES, noisy_errors())]
    assert provisional_fit(points[:4]) is None  # two sizes: nothing to draw yet
    fit = provisional_fit(points[:6])
    assert fit is not None and len(fit.boot) == 0 and fit.max_size == 500
    assert provisional_fit([{"size": s, "val_error": 0.0} for s in (20, 40, 80)]) is None


# ---------------------------------------------------------------- the answer in words


@pytest.mark.parametrize("target", [1.0, 1.2, 98.5, 0.1, 0.05, float("nan")])
def test_targets_at_or_beyond_100_percent_or_at_chance_are_refused(target):
    with pytest.raises(CurveError):
        check_target(target)


def test_sentence_states_size_range_and_what_we_have(noisy_fit):
    est = target_estimate(noisy_fit, 0.97, 3432)
    assert est["reachable"] and est["low"] <= est["size"] <= est["high"]
    assert est["size"] >= noisy_fit.size_for(0.03)  # rounded up, never down
    text = estimate_sentence(noisy_fit, 0.97, 3432)
    assert text.startswith(
        f"To reach 97 % you need about {est['size']:,} labelled images (range "
        f"{est['low']:,}–{est['high']:,}). You have 3,432"
    )
    assert "label about" in text
    enough = estimate_sentence(noisy_fit, 0.9, 3432)
    assert enough.endswith("You have 3,432: enough.")


def test_target_below_the_floor_says_more_data_will_not_get_there(noisy_fit):
    logreg = TrainConfig(model="logreg")
    text = estimate_sentence(noisy_fit, 0.995, 3432, logreg)
    assert "99.5 % is out of reach" in text and "will not get there with this model" in text
    assert f"“{DEFAULT_PRESET}”" in text
    assert not target_estimate(noisy_fit, 0.995, 3432)["reachable"]


def test_curve_estimate_is_the_target_estimate_of_a_saved_curve(measured):
    home, _ = measured
    [saved] = list_curves(home)
    est = curve_estimate(saved, 0.9)
    plain = target_estimate(saved.fit, 0.9, saved.n_train)
    assert est["curve_id"] == saved.id and est["label"] == saved.label and est["target"] == 0.9
    assert {k: est[k] for k in ("size", "low", "high", "have", "reachable", "enough")} == {
        k: plain[k] for k in ("size", "low", "high", "have", "reachable", "enough")
    }
    with pytest.raises(CurveError):
        curve_estimate(saved, 1.5)


def test_bigger_model_suggestions_are_valid_configs():
    assert bigger_model(TrainConfig(model="logreg"))["preset"] == DEFAULT_PRESET
    cnn = bigger_model(PRESETS[DEFAULT_PRESET])
    assert cnn["preset"] is None and cnn["changes"]["cnn_channels"] > PRESETS[DEFAULT_PRESET].cnn_channels
    PRESETS[DEFAULT_PRESET].replace(**cnn["changes"])  # applies cleanly


def test_curve_estimates_cost_only_the_images_still_to_label():
    inputs = costs.LabelingInputs()
    out = costs.curve_estimates(inputs, 12_000, low=8_000, high=None, already=3_000)
    assert set(out) == {"low", "estimate"}
    assert out["estimate"].samples == 9_000 and out["low"].samples == 5_000
    assert out["estimate"].hours == pytest.approx(9_000 * 5 / 3600)
    assert costs.curve_estimates(inputs, 2_000, already=3_000)["estimate"].samples == 0
    with pytest.raises(costs.CostError):
        costs.curve_estimates(inputs, 100, already=-1)


# ---------------------------------------------------------------- sizes, subsets, schedule


def test_default_sizes_are_log_spaced_up_to_the_whole_split():
    assert default_sizes(3432) == [125, 250, 500, 1000, 2000, 3432]
    full = default_sizes(48_000)
    assert full[0] == 125 and full[-1] == 48_000 and len(full) >= 5
    small = default_sizes(400)
    assert len(small) == 5 and small[-1] == 400 and small == sorted(set(small))


def test_measurable_configs_are_the_presets_and_rungs_that_learn():
    configs = measurable_configs()
    assert f"preset:{DEFAULT_PRESET}" in configs and "preset:baseline" not in configs
    assert all(c.model != "baseline" for c in configs.values())
    uncapped = [c.replace(max_train_samples=0) for c in PRESETS.values()]
    ladder = [c for key, c in configs.items() if key.startswith("ladder:")]
    assert ladder and not any(c in uncapped for c in ladder)


@pytest.mark.parametrize(
    "sizes, message",
    [
        ([100, 200, 5000], "larger than the training split"),
        ([100, 200, 200, 100], "at least 3 different sizes"),
        ([5, 100, 200], "at least 10 images"),
        ([100.5, 200, 300], "whole numbers"),
    ],
)
def test_bad_sizes_are_refused(sizes, message):
    with pytest.raises(CurveError, match=message):
        check_sizes(sizes, 3432)


def test_nested_order_gives_stratified_nested_seeded_subsets():
    labels = torch.arange(2000) % 10
    labels[:300] = 3  # unbalanced: digit 3 is a fifth of the pool
    order = nested_order(labels, seed=5)
    assert sorted(order.tolist()) == list(range(2000))
    share = torch.bincount(labels, minlength=10).double() / len(labels)
    for n in (20, 125, 500):
        counts = torch.bincount(labels[order[:n]], minlength=10).double()
        assert (counts - n * share).abs().max() <= 2
    assert torch.equal(order, nested_order(labels, seed=5))
    assert not torch.equal(order, nested_order(labels, seed=6))


def test_schedule_trains_the_largest_size_as_configured_and_small_ones_comparably():
    cfg = PRESETS[DEFAULT_PRESET]
    plans = [point_schedule(cfg, n, 3432, 858) for n in (125, 500, 2000, 3432)]
    top = plans[-1]
    assert (top.repeats, top.epochs) == (1, cfg.epochs)
    assert top.steps == cfg.epochs * math.ceil(3432 / cfg.batch_size)
    for p in plans[:-1]:
        assert MIN_STEPS <= p.steps <= top.steps and p.epochs <= cfg.epochs
        assert p.cost < top.cost
    assert plans[0].repeats > 1  # 125 images are repeated within an epoch
    # comparable: steps shrink with √size (or stop at MIN_STEPS), never much faster (whole epochs)
    assert plans[0].steps >= 0.9 * top.steps * math.sqrt(125 / 3432)


def test_plan_measures_smaller_sizes_with_every_seed_and_the_largest_once():
    plan = plan_curve(PRESETS[DEFAULT_PRESET], "sample", seeds=2)
    assert plan.sizes == [125, 250, 500, 1000, 2000, 3432] and plan.n_train == 3432
    per_size = {s: sum(p.size == s for p in plan.points) for s in plan.sizes}
    assert per_size == {125: 2, 250: 2, 500: 2, 1000: 2, 2000: 1, 3432: 1}
    with pytest.raises(CurveError, match="baseline"):
        plan_curve(PRESETS["baseline"], "sample")
    with pytest.raises(CurveError, match="seeds"):
        plan_curve(TINY, "sample", TINY_SIZES, seeds=0)


# ---------------------------------------------------------------- measuring and saving


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    home = tmp_path_factory.mktemp("curve-home")
    records = list(measure_curve(TINY, "sample", TINY_SIZES, seeds=2, home=home, name="tiny"))
    return home, records


@pytest.mark.slow
def test_measurement_yields_progress_points_and_a_saved_curve(measured):
    home, records = measured
    kinds = [r["kind"] for r in records]
    assert kinds[-1] == "curve" and "progress" in kinds and kinds.count("curve") == 1
    points = [r for r in records if r["kind"] == "point"]
    # 80 is half of 160: measured once, like the largest size
    assert [(p["size"], p["seed"]) for p in points] == [(20, 0), (20, 1), (40, 0), (40, 1), (80, 0), (160, 0)]
    progress = [r["progress"] for r in records]
    assert progress == sorted(progress) and progress[-1] == 1.0
    for p in points:
        assert p["val_error"] == pytest.approx(1 - p["val_acc"]) and 0 < p["val_acc"] < 1
        assert p["epochs"] >= 1 and p["seconds"] > 0 and p["text"]
    final = records[-1]
    assert final["status"] == "finished" and final["saved"] and final["fit"]["n_points"] == 6
    assert final["honesty"]["at_size"] == 160 and final["n_val"] == 858
    json.dumps(records, allow_nan=False)  # every record is plain, NaN-free JSON


@pytest.mark.slow
def test_saved_curve_lists_loads_and_deletes(measured, tmp_path):
    home, records = measured
    final = records[-1]
    listed = list_curves(home)
    assert [c.id for c in listed] == [final["id"]]
    loaded = load_curve(final["id"], home)
    assert loaded.name == "tiny" and loaded.config == TINY and loaded.n_train == 3432
    assert [p["size"] for p in loaded.points] == [p["size"] for p in final["points"]]
    assert loaded.fit.predict(100) == pytest.approx(Fit.from_dict(final["fit"]).predict(100))
    assert "tiny" in loaded.label
    # a copy elsewhere: deleting it leaves the module's curve alone
    other = tmp_path / "copy"
    save_curve(loaded, other)
    (other / "curves" / "garbage.json").write_text("{not json")
    (other / "curves" / "wrong.json").write_text(json.dumps({"id": "x"}))
    assert [c.id for c in list_curves(other)] == [loaded.id]  # damaged files skipped
    with pytest.raises(CurveError, match="damaged"):
        load_curve("garbage", other)
    delete_curve(loaded.id, other)
    assert list_curves(other) == []
    with pytest.raises(CurveError, match="No saved learning curve"):
        load_curve(loaded.id, other)
    with pytest.raises(CurveError):
        delete_curve(loaded.id, other)


def test_curves_signature_changes_when_a_curve_is_saved_or_deleted(measured, tmp_path):
    home, _ = measured
    assert curves_signature(tmp_path) == ()  # no curves folder yet
    [saved] = list_curves(home)
    save_curve(saved, tmp_path)
    after_save = curves_signature(tmp_path)
    assert [name for name, _ in after_save] == [f"{saved.id}.json"]
    delete_curve(saved.id, tmp_path)
    assert curves_signature(tmp_path) == ()


def test_each_point_trains_on_the_images_its_sampler_picks(tmp_path):
    calls = []

    def recording(pool, size, seed, labelled):
        picked = random_sample(pool, size, seed, labelled)
        calls.append((size, seed - TINY.seed, labelled, picked))
        return picked

    records = list(measure_curve(TINY, "sample", [20, 40, 100], seeds=2, home=tmp_path, sample=recording))
    assert records[-1]["status"] == "finished"
    assert [(size, seed) for size, seed, _, _ in calls] == [(20, 0), (20, 1), (40, 0), (40, 1), (100, 0)]
    previous: dict[int, torch.Tensor] = {}
    for size, seed, labelled, picked in calls:
        if seed not in previous:
            assert labelled is None  # the seed's first point: nothing labelled yet
        else:  # what the same seed labelled at its previous size, and the model trained on it
            assert torch.equal(labelled.indices, previous[seed])
            assert isinstance(labelled.model, torch.nn.Module)
            assert set(previous[seed].tolist()) <= set(picked.tolist())  # nested
        assert len(picked) == size
        previous[seed] = picked


def test_stopped_after_two_sizes_saves_nothing(tmp_path):
    stop = threading.Event()
    records = []
    for rec in measure_curve(TINY, "sample", [20, 40, 80], seeds=1, stop=stop, home=tmp_path):
        records.append(rec)
        if rec["kind"] == "progress" and rec.get("size") == 80:
            stop.set()  # mid-way through the third size: that point is dropped
    points = [r for r in records if r["kind"] == "point"]
    assert [p["size"] for p in points] == [20, 40]
    final = records[-1]
    assert final["kind"] == "curve" and final["status"] == "stopped" and not final["saved"]
    assert final["id"] is None and final["fit"] is None
    assert "at least 3 sizes" in final["message"] and "nothing was saved" in final["message"]
    assert not (tmp_path / "curves").exists() or not any((tmp_path / "curves").iterdir())


def test_stopped_after_three_sizes_saves_a_curve_fitted_on_those(tmp_path):
    stop = threading.Event()
    records = []
    for rec in measure_curve(TINY, "sample", TINY_SIZES, seeds=1, stop=stop, home=tmp_path):
        records.append(rec)
        if rec["kind"] == "progress" and rec.get("size") == 160:
            stop.set()
    final = records[-1]
    assert final["status"] == "stopped" and final["saved"] and final["fit"]["max_size"] == 80
    assert final["honesty"] is None  # three sizes fit, none is left over to predict
    saved = load_curve(final["id"], tmp_path)
    assert saved.status == "stopped" and saved.sizes == TINY_SIZES and len(saved.points) == 3
    assert "Stopped after 3 of 4 sizes" in saved.message


def test_a_diverged_training_fails_the_curve_and_saves_nothing(tmp_path, monkeypatch):
    from mnist_core.training import train

    monkeypatch.setattr(train, "Trainer", diverging_trainer())
    final = list(measure_curve(TINY, "sample", [20, 40, 80], seeds=1, home=tmp_path))[-1]
    assert final["status"] == "failed" and not final["saved"] and final["fit"] is None
    assert final["message"].startswith("Training on 20 images failed: Training diverged")
    assert not (tmp_path / "curves").exists()


# ---------------------------------------------------------------- the command line


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


TINY_FLAGS = (
    "--data",
    "sample",
    "--model",
    "logreg",
    "--optimizer",
    "adam",
    "--lr",
    "0.01",
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--dropout",
    "0",
    "--augment",
    "false",
    "--weight-decay",
    "0",
)


def test_cli_prints_progress_and_one_json_line(capsys, isolated_home):
    code, out, err = run_cli(
        capsys, "curve", *TINY_FLAGS, "--sizes", "20,40,80,160", "--seeds", "1", "--target", "0.9"
    )
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert [p["size"] for p in result["points"]] == TINY_SIZES
    assert set(result["fit"]) >= {"a", "b", "c"} and result["target"] == 0.9
    assert result["have"] == 3432 and len(result["size_range"]) == 2
    assert result["reachable"] == (result["size_needed"] is not None)
    assert result["sentence"] and result["honesty"]["at_size"] == 160
    assert (isolated_home / "curves" / f"{result['curve']}.json").is_file()
    assert "[4/4] 160 images" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (("--sizes", "20,40"), "at least 3 different sizes"),
        (("--sizes", "20,40,99999"), "larger than the training split"),
        (("--sizes", "20,forty,80"), "whole numbers separated by commas"),
        (("--target", "1.0"), "not below 100 %"),
        (("--target", "0.05"), "no better than guessing"),
        (("--seeds", "0"), "seeds must be"),
        (("--model", "baseline"), "baseline does not learn"),
        (("--data", "/no/such/folder"), "existing folder"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(capsys, isolated_home, args, message):
    code, out, err = run_cli(capsys, "curve", "--data", "sample", "--sizes", "20,40,80", *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (isolated_home / "curves").exists()
