"""Attribution maps, feature maps, first-layer filters and hidden units of one digit."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from mnist_core.charts import explain as explain_charts
from mnist_core.config import TrainConfig
from mnist_core.data.drawing import PreparedDigit, prepare_digit
from mnist_core.evaluation import explain
from mnist_core.evaluation.inference import predict_proba
from mnist_core.training.models import MajorityClass, build_model
from tests.helpers import vega_spec
from tests.tiny_model import TINY, tiny_run


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_run(tmp_path_factory).load_model()


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    val = tiny_run(tmp_path_factory).split().val
    return val.images[:6].numpy(), val.labels[:6].numpy()


@pytest.mark.parametrize("method", explain.METHODS)
def test_attribution_has_the_input_shape_and_is_finite(model, digits, method):
    images, _ = digits
    for image in images[:3]:
        attr = explain.attribution(model, image, method=method)
        assert attr.values.shape == (28, 28) and attr.values.dtype == np.float32
        assert np.isfinite(attr.values).all() and attr.scale > 0
        probs = predict_proba(model, torch.from_numpy(image[None]))[0].numpy()
        assert attr.target == attr.predicted == int(probs.argmax())  # default: explain the answer
        assert attr.probability == pytest.approx(float(probs.max()), abs=1e-5)
        assert 0 < attr.display_scale <= attr.scale


def test_integrated_gradients_add_up_to_the_change_in_log_probability(model, digits):
    """Completeness: the map is a budget of log p(target | input) − log p(target | blank)."""
    image = digits[0][0]
    for target in (None, 7):
        attr = explain.attribution(model, image, target, method="integrated_gradients")
        x = explain.model_input(image)
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.cat([x, torch.zeros_like(x)])), 1)[:, attr.target]
        expected = float(lp[0] - lp[1])
        assert attr.total == pytest.approx(expected, abs=0.05 * abs(expected) + 0.02)


def test_ink_free_pixels_get_no_integrated_gradient(model, digits):
    image = digits[0][0]
    attr = explain.attribution(model, image, method="integrated_gradients")
    assert np.all(attr.values[image == 0] == 0)


def test_why_not_another_digit(model, digits):
    image = digits[0][0]
    other = (explain.attribution(model, image).predicted + 1) % 10
    attr = explain.attribution(model, image, other, method="occlusion")
    assert attr.target == other != attr.predicted
    assert attr.probability < 0.5


def test_inputs_in_every_form_give_the_same_map(model, digits):
    image = digits[0][0]
    reference = explain.attribution(model, image).values
    prepared = PreparedDigit(False, image.astype(np.float32) / 255, {}, "")
    for form in (
        image.astype(np.float32) / 255,
        torch.from_numpy(image),
        prepared,
        torch.from_numpy(image).float().div(255).reshape(1, 1, 28, 28),
    ):
        np.testing.assert_allclose(explain.attribution(model, form).values, reference, atol=1e-6)


def test_inputs_made_under_inference_mode_can_be_explained(model, digits):
    with torch.inference_mode():
        x = torch.from_numpy(digits[0][0]).float().div(255)
    assert np.isfinite(explain.attribution(model, x).values).all()


def test_what_cannot_be_explained_says_why(model):
    with pytest.raises(explain.ExplainError, match="draw"):
        explain.attribution(model, prepare_digit(np.zeros((280, 280, 4), np.uint8)))
    with pytest.raises(explain.ExplainError, match="28×28"):
        explain.attribution(model, np.zeros((10, 10)))
    with pytest.raises(explain.ExplainError, match="method"):
        explain.attribution(model, np.zeros((28, 28)), method="saliency")
    with pytest.raises(explain.ExplainError, match="digit 0-9"):
        explain.attribution(model, np.zeros((28, 28)), 10)
    with pytest.raises(explain.ExplainError, match="baseline"):
        explain.attribution(MajorityClass(), np.zeros((28, 28)))


def test_feature_maps_of_each_conv_block_strongest_first(model, digits):
    image = digits[0][0]
    acts = explain.activations(model, image)
    assert [fm.maps.shape for fm in acts.conv] == [(8, 14, 14), (16, 7, 7)]  # TINY: 8 then 16 channels
    for fm in acts.conv:
        assert np.all(np.diff(fm.strength) <= 0)
        assert sorted(fm.channels.tolist()) == list(range(len(fm.channels)))
        np.testing.assert_allclose(fm.maps.mean(axis=(1, 2)), fm.strength, rtol=1e-5, atol=1e-7)
        assert fm.maps.min() >= 0  # after the ReLU
    assert [h.values.shape for h in acts.hidden] == [(TINY.cnn_hidden,)]
    probs = predict_proba(model, torch.from_numpy(image[None]))[0].numpy()
    np.testing.assert_allclose(acts.probabilities, probs, atol=1e-6)


def test_feature_maps_match_the_layers_themselves(model, digits):
    x = explain.model_input(digits[0][0])
    with torch.no_grad():
        first_block = model[1](model[0](x))[0].numpy()  # conv → ReLU
    fm = explain.activations(model, x).conv[0]
    np.testing.assert_allclose(fm.maps, first_block[fm.channels], atol=1e-6)


def test_hooks_are_removed_after_each_call(model, digits):
    explain.activations(model, digits[0][0])
    assert all(not m._forward_hooks for m in model.modules())


def test_hooks_ignore_other_threads_sharing_the_model(model, digits):
    images = digits[0]
    expected = [explain.activations(model, im).conv[0].maps for im in images]
    results: dict[int, list] = {}

    def worker(k: int) -> None:
        results[k] = [explain.activations(model, im).conv[0].maps for im in images]

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(3):
        for got, want in zip(results[k], expected):
            np.testing.assert_array_equal(got, want)


def test_mlp_hidden_units_and_filters():
    mlp = build_model(
        TrainConfig(model="mlp", mlp_depth=2, mlp_width=32, batch_norm=False, dropout=0.0)
    ).eval()
    acts = explain.activations(mlp, np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8))
    assert acts.conv == [] and [h.values.shape for h in acts.hidden] == [(32,), (32,)]
    assert explain.first_layer_filters(mlp).shape == (32, 28, 28)
    logreg = build_model(TrainConfig(model="logreg"))
    assert explain.activations(logreg, np.zeros((28, 28))).hidden == []
    assert explain.first_layer_filters(logreg).shape == (10, 28, 28)
    assert explain.first_layer_filters(MajorityClass()) is None


def test_first_layer_filters_of_a_cnn(model):
    filters = explain.first_layer_filters(model)
    np.testing.assert_array_equal(filters, model[0].weight.detach()[:, 0].numpy())
    assert filters.shape == (8, 5, 5)


def test_pictures(model, digits):
    image = digits[0][0]
    attr = explain.attribution(model, image)
    overlay = explain.overlay_image(image, attr, scale=10)
    assert overlay.shape == (280, 280, 3) and overlay.dtype == np.uint8
    # ink that matters is coloured: red and blue channels differ somewhere on the strokes
    assert np.abs(overlay[..., 0].astype(int) - overlay[..., 2]).max() > 40
    acts = explain.activations(model, image)
    grid = explain.feature_maps_image(acts.conv[0], max_channels=8, cols=4, scale=2)
    assert grid.ndim == 2 and grid.dtype == np.uint8 and grid.max() == 255
    rgb = explain.filters_image(explain.first_layer_filters(model))
    assert rgb.ndim == 3 and rgb.shape[2] == 3
    assert explain.diverging_rgb(np.array([1.0, 0.0, -1.0])).tolist() == [
        [214, 39, 40],
        [255, 255, 255],
        [31, 119, 180],
    ]


def test_attribution_heatmap_and_hidden_units_charts(model, digits):
    image = digits[0][0]
    attr = explain.attribution(model, image)
    spec = vega_spec(explain_charts.attribution_heatmap(image, attr))
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 784 and max(abs(r["shown"]) for r in rows) <= attr.display_scale + 1e-9
    assert spec["title"] == f"Why a {attr.target}?"
    hidden = explain.activations(model, image).hidden[0]
    vega_spec(explain_charts.hidden_units_chart(hidden))


def test_one_thread_limits_only_the_calling_thread():
    before = torch.get_num_threads()
    seen: dict[str, int] = {}
    with explain.one_thread():
        seen["inside"] = torch.get_num_threads()
        other = threading.Thread(target=lambda: seen.setdefault("other", torch.get_num_threads()))
        other.start()
        other.join()
    assert seen["inside"] == 1 and seen["other"] == before
    assert torch.get_num_threads() == before
