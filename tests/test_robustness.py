"""Robustness curves: the perturbations themselves, the sweep (strength 0 = plain accuracy,
the app's preprocessing in the loop), the weakest-direction sentence, run comparison, CLI."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from mnist_core.charts import robustness as robustness_charts
from mnist_core.cli.main import main
from mnist_core.data.drawing import prepare_digit
from mnist_core.data.sources import Images
from mnist_core.evaluation import robustness as rb
from mnist_core.evaluation.evaluate import evaluate
from mnist_core.evaluation.robustness import measure
from mnist_core.report.svg import chart_svg
from tests.helpers import vega_spec
from tests.tiny_model import tiny_run

N = 120  # validation images per sweep in these tests


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory)


@pytest.fixture(scope="module")
def val(run):
    v = run.split().val
    return v.images[:N], v.labels[:N]


@pytest.fixture(scope="module")
def full_sweep(run, val):
    return rb.sweep(run.load_model(), *val, label="tiny", run_id=run.id)


def dot(size: int = 9, at: tuple[int, int] = (4, 4)) -> torch.Tensor:
    x = torch.zeros(1, 1, size, size)
    x[0, 0, at[0], at[1]] = 255.0
    return x


# ---------------------------------------------------------------- perturbations


def test_identity_strengths_change_nothing():
    x = torch.rand(3, 1, 56, 56) * 255
    for name, spec in rb.PERTURBATIONS.items():
        torch.testing.assert_close(rb.perturb(name, x, spec.identity), x, msg=name)


def test_shift_moves_whole_pixels_and_drops_what_leaves():
    x = dot()
    moved = rb.shift(x, torch.tensor([2]), torch.tensor([-1]))
    assert moved[0, 0, 3, 6] == 255 and moved.sum() == 255
    gone = rb.shift(x, torch.tensor([5]), torch.tensor([0]))
    assert gone.sum() == 0


def test_rotation_turns_about_the_centre():
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 4:6, 13:15] = 255.0  # near the top, centred
    turned = rb.rotate(x, 90, torch.tensor([1.0]))
    ys, xs = np.nonzero(turned[0, 0].numpy() > 100)
    assert abs(ys.mean() - 13.5) < 1 and (xs.mean() < 7 or xs.mean() > 20)  # now at a side
    assert float(turned.sum()) == pytest.approx(float(x.sum()), rel=0.05)


def test_scale_and_thickness_and_blur_and_noise():
    x = torch.zeros(1, 1, 56, 56)
    x[0, 0, 18:38, 26:30] = 255.0  # a "1"
    small, big = rb.scale(x, 50), rb.scale(x, 150)
    assert float(small.sum()) == pytest.approx(float(x.sum()) / 4, rel=0.1) and small.shape == x.shape
    assert (big > 0).sum() > (x > 0).sum() * 2
    p = dot()
    assert int((rb.thickness(p, 1) > 0).sum()) == 9  # a 3×3 square
    assert int((rb.thickness(p, 2) > 0).sum()) == 21  # an octagon: 5×5 without its corners
    assert rb.thickness(rb.thickness(x, 2), -2).sum() == x.sum()  # closing a solid bar restores it
    assert rb.thickness(x, -2).sum() == 0  # a 4-px stroke eroded 2 px per side is gone
    blurred = rb.blur(x, 2.0)
    assert float(blurred.sum()) == pytest.approx(float(x.sum()), rel=1e-3) and blurred.max() < 255
    a, b = rb.noise(x, 20, seed=3), rb.noise(x, 20, seed=3)
    torch.testing.assert_close(a, b)
    assert a.min() >= 0 and a.max() <= 255 and not torch.equal(a, x)
    torch.testing.assert_close(rb.perturb("invert", x, 1), 255 - x)


# ---------------------------------------------------------------- the sweep


def test_strength_zero_equals_plain_validation_accuracy(run, val, full_sweep):
    images, labels = val
    plain = evaluate(run.load_model(), Images(images, labels), "val", max_mistakes=0).accuracy
    assert full_sweep.accuracy == pytest.approx(plain)
    after = full_sweep.curve("shift_after")
    assert after.values[0] == 0 and after.accuracy[0] == pytest.approx(plain)
    for curve in full_sweep.curves:
        at_identity = curve.accuracy[curve.values.index(curve.identity)]
        assert at_identity == pytest.approx(full_sweep.app_accuracy if curve.through_app else plain)
    assert abs(full_sweep.app_accuracy - plain) < 0.05  # the app's preprocessing barely changes MNIST


def test_the_app_preprocessing_is_in_the_loop(run, val, full_sweep):
    """The through-the-app accuracy is what prepare_digit + the model give, image by image."""
    images, labels = val
    model = run.load_model()
    canvas = (
        torch.nn.functional.interpolate(
            images[:, None].float(), scale_factor=2, mode="bilinear", align_corners=False
        )[:, 0]
        .round()
        .clamp(0, 255)
        .to(torch.uint8)
    )
    right = 0
    for img, y in zip(canvas.numpy(), labels.tolist()):
        prepared = prepare_digit(img)
        with torch.no_grad():
            right += int(
                not prepared.is_blank and model(torch.from_numpy(prepared.image)[None, None]).argmax() == y
            )
    assert full_sweep.app_accuracy == pytest.approx(right / len(labels))
    # the app re-centres a shifted digit: a small shift before centring costs (almost) nothing,
    # the same shift after centring is the model's own problem
    before, after = full_sweep.curve("shift_before"), full_sweep.curve("shift_after")
    assert before.accuracy[3] >= full_sweep.app_accuracy - 0.02
    assert after.accuracy[-1] < after.accuracy[0] - 0.3
    # and it flips a dark-on-light image back
    assert full_sweep.curve("invert").accuracy[1] == pytest.approx(full_sweep.app_accuracy)


def test_shortcuts_give_what_prepare_digit_gives(val):
    images, _ = val
    canvas = torch.nn.functional.interpolate(
        images[:40, None].float(), scale_factor=2, mode="bilinear", align_corners=False
    ).round()
    canvas[0, 0, 0, :10] = 90  # one image with ink on its border: the inversion shortcut skips it
    base_x, base_blank = measure._prepare_all(measure._to_uint8(canvas))
    for name, value in (("shift_before", 2), ("shift_before", 7), ("invert", 1)):
        moved = rb.perturb(name, canvas, value)
        fast, fast_blank = measure._prepare_moved(name, canvas, moved, base_x, base_blank)
        slow, slow_blank = measure._prepare_all(measure._to_uint8(moved))
        np.testing.assert_array_equal(fast, slow)
        np.testing.assert_array_equal(fast_blank, slow_blank)


def test_curves_shapes_and_json(full_sweep):
    assert [c.name for c in full_sweep.curves] == list(rb.ORDER)
    for c in full_sweep.curves:
        spec = rb.PERTURBATIONS[c.name]
        assert c.values == [float(v) for v in spec.values] and len(c.accuracy) == len(c.values)
        assert all(0 <= a <= 1 for a in c.accuracy) and all(0 <= b <= 1 for b in c.blank)
    assert full_sweep.curve("rotate").accuracy[-1] < full_sweep.curve("rotate").accuracy[0]
    data = json.loads(json.dumps(full_sweep.to_dict(), allow_nan=False))
    assert rb.Sweep.from_dict(data) == full_sweep
    assert full_sweep.summary.startswith("Accuracy ")


def test_unknown_perturbations_and_bad_images_are_refused(run, val):
    with pytest.raises(rb.RobustnessError, match="Unknown perturbation"):
        rb.sweep(run.load_model(), *val, ["twist"])
    with pytest.raises(rb.RobustnessError, match="28×28"):
        rb.sweep(run.load_model(), np.zeros((2, 10, 10), np.uint8), [1, 2])


def test_the_sweep_streams_a_step_per_curve_and_stops_on_request(run, val, full_sweep):
    steps = list(rb.sweep_records(run.load_model(), *val, ["rotate", "invert"], label="tiny"))
    assert [(s.name, s.done, s.total, s.sweep) for s in steps[:-1]] == [
        ("rotate", 1, 2, None),
        ("invert", 2, 2, None),
    ]
    assert steps[-1].sweep.curve("rotate") == full_sweep.curve("rotate")
    stop = threading.Event()
    seen = []
    for step in rb.sweep_records(run.load_model(), *val, ["rotate", "invert"], stop=stop):
        seen.append(step)
        stop.set()  # as the app's Stop button does, after the first curve
    assert [s.name for s in seen] == ["rotate"]  # no further curve, and no sweep


# ---------------------------------------------------------------- reading and comparing


def made_up(label: str, rotate_acc: list[float], *, images: str = "same") -> rb.Sweep:
    spec = rb.PERTURBATIONS
    curves = [
        rb.Curve(
            "rotate",
            "rotation",
            "°",
            [float(v) for v in spec["rotate"].values],
            rotate_acc,
            [0.0] * 10,
            True,
            0.0,
        ),
        rb.Curve(
            "scale",
            "scale",
            "%",
            [float(v) for v in spec["scale"].values],
            [0.93, 0.96, 0.97, 0.98, 0.98, 0.98, 0.98, 0.98, 0.97, 0.96, 0.95],
            [0.0] * 11,
            True,
            100.0,
        ),
    ]
    return rb.Sweep(label, None, 100, 0.98, 0.98, curves, 1.0, images)


def test_the_weakest_direction_in_one_sentence():
    sweep = made_up("A", [0.98, 0.97, 0.96, 0.94, 0.92, 0.85, 0.7, 0.6, 0.5, 0.4])
    w = rb.weakest(sweep)
    assert w["perturbation"] == "rotate" and w["value"] == 25 and w["crossed"]
    assert w["sentence"] == "Accuracy falls below 90 % at 25° of rotation (85.0 %)."
    # with rotation holding up, nothing crosses the bar: the sentence names the largest drop
    robust = made_up("B", [0.98] * 10)
    w = rb.weakest(robust)
    assert not w["crossed"] and w["perturbation"] == "scale" and w["value"] == 50
    assert w["sentence"] == (
        "Accuracy stays at or above 90 % under every perturbation tested; "
        "it drops most at 50 % of the original size (to 93.0 %)."
    )
    assert rb.weakest(robust, below=0.95)["sentence"].startswith("Accuracy falls below 95 % at 50 %")


def test_a_weak_model_is_judged_against_its_own_level():
    sweep = made_up("weak", [0.8] * 10)
    sweep = rb.Sweep(**{**sweep.__dict__, "accuracy": 0.8, "app_accuracy": 0.8})
    assert rb.default_bar(sweep) == 0.75


def test_comparing_two_runs():
    a = made_up("no augmentation", [0.98, 0.97, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    b = made_up("augmented", [0.98, 0.98, 0.97, 0.96, 0.95, 0.93, 0.9, 0.85, 0.8, 0.7])
    result = rb.compare(a, b)
    assert result["same_images"]
    assert result["sentence"] == (
        "augmented holds up better than no augmentation at 40° of rotation: 80.0 % against 30.0 %."
    )
    row = next(r for r in result["rows"] if r["perturbation"] == "rotate" and r["value"] == 40)
    assert row["difference"] == pytest.approx(0.5)
    other = rb.compare(a, made_up("elsewhere", [0.98] * 10, images="other"))
    assert not other["same_images"] and "different validation images" in other["sentence"]


def test_robustness_charts_and_svg(full_sweep):
    second = rb.Sweep(**{**full_sweep.__dict__, "label": "second"})
    spec = vega_spec(robustness_charts.robustness_chart([full_sweep, second]))
    assert len(spec["concat"]) == len(rb.ORDER)
    svg = chart_svg(robustness_charts.robustness_chart([full_sweep, second]), "robustness")
    assert svg.startswith("<svg") and "second" in svg and "nan" not in svg.lower()
    assert svg.count('aria-roledescription="line mark"') >= 2 * len(rb.ORDER)


# ---------------------------------------------------------------- runs and the CLI


@pytest.mark.slow
def test_cli_robustness_prints_the_curves_and_compares(run, capsys):
    assert (
        main(
            [
                "robustness",
                str(run.path),
                "--perturbation",
                "rotate",
                "invert",
                "--n",
                "60",
                "--compare",
                str(run.path),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert [c["name"] for c in out["curves"]] == ["rotate", "invert"] and out["n"] == 60
    assert out["weakest"]["sentence"] == out["summary"]
    assert out["compare"]["same_images"] and "equally robust" in out["compare"]["sentence"]
    assert "rotation" in captured.err  # progress on stderr
    assert rb.load_sweep(run) is None  # a partial sweep is not kept


@pytest.mark.slow
def test_full_sweep_of_a_run_is_kept_with_it(run):
    result = rb.sweep_run(run, n=40)
    rb.save_sweep(run, result)
    assert rb.load_sweep(run) == result


def test_cli_robustness_errors_are_one_line(run, capsys):
    assert main(["robustness", str(run.path), "--n", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert main(["robustness", "no-such-run"]) == 2
    capsys.readouterr()
    assert main(["robustness", str(run.path), "--perturbation", "twist"]) == 2
    err = capsys.readouterr().err
    assert "Unknown perturbation 'twist'" in err and err.count("\n") == 1
