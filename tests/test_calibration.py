"""Reliability, ECE, temperature scaling, coverage vs accuracy, and the run's saved calibration
as used by predict_digit and the CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_core.charts import calibration as calibration_charts
from mnist_core.cli.main import main
from mnist_core.data.drawing import PreparedDigit
from mnist_core.deploy.predict import predict_digit
from mnist_core.evaluation import calibration as cal
from mnist_core.evaluation.inference import predict_proba
from mnist_core.report.svg import chart_svg
from mnist_core.runs.storage import load_run
from tests.helpers import vega_spec
from tests.tiny_model import tiny_run


def synthetic(n: int = 6000, sharpen: float = 3.0, seed: int = 0):
    """Logits whose softmax is the true label distribution, then multiplied by `sharpen`:
    an over-confident model whose right temperature is `sharpen`."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, 10))
    z[np.arange(n), rng.integers(0, 10, n)] += 2.5
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    labels = np.array([rng.choice(10, p=row) for row in p])
    return z * sharpen, labels


@pytest.fixture(scope="module")
def val_logits(tmp_path_factory):
    run = tiny_run(tmp_path_factory)
    return cal.validation_logits(run)


def test_temperature_scaling_lowers_validation_nll_and_keeps_accuracy(val_logits):
    z, y = val_logits
    report = cal.calibrate(z, y)
    assert report.nll_after < report.nll_before
    assert report.temperature != pytest.approx(1.0, abs=1e-3)
    before, after = cal.softmax(z), cal.softmax(z, report.temperature)
    np.testing.assert_array_equal(before.argmax(1), after.argmax(1))
    assert report.accuracy == pytest.approx(float((before.argmax(1) == y).mean()))
    assert report.n == len(y) and sum(b["count"] for b in report.bins_after) == len(y)


def test_the_fit_finds_the_true_temperature_and_the_nll_minimum():
    z, y = synthetic(sharpen=3.0)
    t = cal.fit_temperature(z, y)
    assert t == pytest.approx(3.0, rel=0.1)
    for other in (t * 0.9, t * 1.1):
        assert cal.nll(z, y, t) < cal.nll(z, y, other)
    report = cal.calibrate(z, y)
    assert report.ece_after < report.ece_before / 2


def test_a_calibrated_model_keeps_temperature_one_and_a_small_ece():
    z, y = synthetic(sharpen=1.0, n=20000)
    assert cal.fit_temperature(z, y) == pytest.approx(1.0, abs=0.05)
    assert cal.expected_calibration_error(cal.softmax(z), y) < 0.02


def test_reliability_bins():
    probs = np.zeros((4, 10))
    probs[0, 3], probs[1, 3], probs[2, 5], probs[3, 1] = 1.0, 0.55, 0.95, 0.32
    probs[1, 4], probs[2, 0], probs[3, 2] = 0.45, 0.05, 0.68  # row 3's top is digit 2 (0.68)
    bins = cal.reliability_bins(probs, [3, 4, 5, 2], n_bins=10)
    assert [b["count"] for b in bins] == [0, 0, 0, 0, 0, 1, 1, 0, 0, 2]  # 1.0 lands in the last bin
    assert bins[5] == {"lower": 0.5, "upper": 0.6, "count": 1, "confidence": 0.55, "accuracy": 0.0}
    assert bins[9]["accuracy"] == 1.0 and bins[0]["confidence"] is None
    expected = (1 * 0.55 + 1 * abs(1 - 0.68) + 2 * abs(1 - 0.975)) / 4
    assert cal.ece_from_bins(bins) == pytest.approx(expected)
    json.dumps(bins, allow_nan=False)


def test_apply_temperature_equals_softmax_of_scaled_logits():
    z, _ = synthetic(n=50)
    for t in (0.5, 1.0, 2.7):
        np.testing.assert_allclose(cal.apply_temperature(cal.softmax(z), t), cal.softmax(z, t), atol=1e-6)


def test_coverage_curve_and_choosing_a_threshold():
    z, y = synthetic(sharpen=1.0)
    probs = cal.softmax(z)
    curve = cal.coverage_curve(probs, y)
    assert curve[0]["threshold"] == 0.0 and curve[0]["coverage"] == 1.0
    assert curve[0]["accuracy"] == pytest.approx(float((probs.argmax(1) == y).mean()))
    coverages = [r["coverage"] for r in curve]
    assert all(a >= b for a, b in zip(coverages, coverages[1:]))
    conf = probs.max(1)
    row = next(r for r in curve if r["threshold"] == 0.8)
    assert row["answered"] == int((conf >= 0.8).sum())
    assert row["accuracy"] == pytest.approx(float((probs.argmax(1) == y)[conf >= 0.8].mean()))
    chosen = cal.choose_threshold(curve, 0.95)
    assert chosen["met"] and chosen["accuracy"] >= 0.95
    lower = [r for r in curve if r["threshold"] < chosen["threshold"] and r["accuracy"] is not None]
    assert all(r["accuracy"] < 0.95 for r in lower)  # the most answers that keep the promise
    impossible = cal.choose_threshold(curve, 1.01)
    assert not impossible["met"]


def test_calibration_is_saved_with_the_run_and_read_back(tmp_path_factory):
    run = tiny_run(tmp_path_factory)
    assert cal.run_temperature(run) == 1.0 and cal.predict_options(run) == {"temperature": 1.0}
    report = cal.calibrate_run(run)
    again = load_run(run.path)
    assert cal.run_temperature(again) == pytest.approx(report.temperature)
    assert again.meta["calibration"]["ece_after"] == pytest.approx(report.ece_after)
    cal.save_threshold(again, 0.85, coverage=0.9, accuracy=0.97)
    again = load_run(run.path)
    assert cal.run_threshold(again) == 0.85 and not cal.threshold_is_stale(again)
    assert cal.predict_options(again) == {
        "temperature": pytest.approx(report.temperature),
        "unsure_below": 0.85,
        "close_margin": 0.0,
    }
    # a new temperature makes the threshold's figures stale
    changed = cal.CalibrationReport(**{**report.to_dict(), "temperature": report.temperature * 2})
    cal.save_calibration(again, changed)
    assert cal.threshold_is_stale(load_run(run.path))
    cal.clear_threshold(again)
    assert cal.run_threshold(load_run(run.path)) is None
    with pytest.raises(cal.CalibrationError):
        cal.save_threshold(again, 1.5)


def test_damaged_calibration_entries_fall_back_to_the_defaults():
    for meta in (
        {"calibration": {"temperature": "hot"}},
        {"calibration": {"temperature": -1}},
        {"calibration": 3},
        {"unsure_threshold": {"threshold": 7}},
        {},
    ):
        assert cal.run_temperature(meta) == 1.0 and cal.run_threshold(meta) is None


def test_predict_digit_uses_the_run_temperature_and_threshold(tmp_path_factory):
    run = tiny_run(tmp_path_factory)
    model = run.load_model()
    # already prepared, so predict_digit sees exactly the validation image
    image = PreparedDigit(False, run.split().val.images[0].numpy().astype(np.float32) / 255, {}, "")
    raw = predict_proba(model, torch.from_numpy(image.image[None, None]))[0].numpy()
    plain = predict_digit(model, image)
    np.testing.assert_allclose(plain.probabilities, raw, atol=1e-6)
    scaled = predict_digit(model, image, temperature=2.0)
    assert scaled.digit == plain.digit and scaled.confidence < plain.confidence
    assert predict_digit(model, image, unsure_below=0.0, close_margin=0.0).is_unsure is False
    assert predict_digit(model, image, unsure_below=1.01, close_margin=0.0).is_unsure is True


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def test_cli_calibrate_then_predict_uses_it(tmp_path_factory, tmp_path, capsys):
    run = tiny_run(tmp_path_factory)
    cal.clear_threshold(run)
    assert main(["calibrate", str(run.path)]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("ece_before", "ece_after", "nll_before", "nll_after", "temperature", "accuracy"):
        assert isinstance(out[key], float)
    assert out["nll_after"] <= out["nll_before"] and out["saved"] is True
    assert cal.run_temperature(load_run(run.path)) == pytest.approx(out["temperature"])

    image = run.split().val.images[0].numpy()
    path = tmp_path / "digit.png"
    path.write_bytes(_png(image))
    assert main(["predict", str(run.path), str(path)]) == 0
    first = json.loads(capsys.readouterr().out)
    model = run.load_model()
    expected = predict_digit(model, image, temperature=out["temperature"])
    np.testing.assert_allclose(first["probabilities"], expected.probabilities, atol=1e-5)
    cal.save_threshold(load_run(run.path), 0.9999)  # almost nothing is sure enough now
    assert main(["predict", str(run.path), str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["unsure"] is True
    cal.clear_threshold(load_run(run.path))


def test_cli_calibrate_errors_are_one_line(capsys):
    assert main(["calibrate", "no-such-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_calibration_charts_and_svg(val_logits):
    z, y = val_logits
    report = cal.calibrate(z, y)
    vega_spec(calibration_charts.reliability_chart(report))
    curve = cal.coverage_curve(cal.softmax(z, report.temperature), y)
    chosen = cal.choose_threshold(curve, 0.9)
    vega_spec(calibration_charts.coverage_chart(curve, chosen=chosen["threshold"], target=0.9))
    for svg in (  # the report's pictures are these very charts, rendered offline
        chart_svg(calibration_charts.reliability_chart(report), "reliability"),
        chart_svg(calibration_charts.coverage_chart(curve, chosen=0.5, target=0.9), "coverage"),
    ):
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert "<script" not in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")
        assert "nan" not in svg.lower()
