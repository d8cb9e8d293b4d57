"""Penultimate-layer features, the deterministic PCA map, t-SNE with progress, chart rows."""

from __future__ import annotations

import base64
import io
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_core.charts import embedding as embedding_charts
from mnist_core.config import TrainConfig
from mnist_core.evaluation import embedding as emb
from mnist_core.evaluation.inference import predict_proba
from mnist_core.training.models import MajorityClass, build_model
from tests.helpers import vega_spec
from tests.tiny_model import TINY, tiny_run


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_run(tmp_path_factory).load_model()


@pytest.fixture(scope="module")
def val(tmp_path_factory):
    v = tiny_run(tmp_path_factory).split().val
    return v.images[:300], v.labels[:300].numpy()


@pytest.fixture(scope="module")
def feats(model, val):
    return emb.features(model, val[0])


def test_features_are_the_input_of_the_last_layer(model, val, feats):
    images, _ = val
    assert feats.features.shape == (300, TINY.cnn_hidden) and feats.features.dtype == np.float32
    np.testing.assert_allclose(feats.probs, predict_proba(model, images).numpy(), atol=1e-6)
    # the last layer applied to the features gives the logits back
    last = model[-1]
    with torch.no_grad():
        logits = last(torch.from_numpy(feats.features))
    np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), feats.probs, atol=1e-5)
    assert all(not m._forward_pre_hooks for m in model.modules())


def test_features_in_batches_equal_features_at_once(model, val):
    images, _ = val
    np.testing.assert_allclose(
        emb.features(model, images, batch=64).features, emb.features(model, images).features, atol=1e-5
    )


def test_features_of_other_models():
    logreg = build_model(TrainConfig(model="logreg"))
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    pixels = emb.features(logreg, images).features
    np.testing.assert_allclose(pixels, images.reshape(5, -1).float().numpy() / 255, atol=1e-6)
    with pytest.raises(emb.EmbeddingError, match="baseline"):
        emb.features(MajorityClass(), images)
    with pytest.raises(emb.EmbeddingError, match="28×28"):
        emb.features(logreg, torch.zeros(2, 10, 10))


def test_pca_is_deterministic_and_sign_fixed(feats):
    a, b = emb.pca_2d(feats), emb.pca_2d(feats.features.copy())
    np.testing.assert_array_equal(a.coords, b.coords)
    np.testing.assert_array_equal(a.components, b.components)
    for row in a.components:  # the largest loading of each axis is positive
        assert row[np.abs(row).argmax()] > 0
    # reordering the images reorders the points and changes nothing else
    order = np.random.default_rng(0).permutation(len(feats.features))
    c = emb.pca_2d(feats.features[order])
    np.testing.assert_allclose(c.coords, a.coords[order], atol=1e-3)
    assert a.coords.shape == (300, 2) and a.coords.dtype == np.float32
    var = a.coords.var(axis=0)
    assert var[0] >= var[1] and 0 < sum(a.explained) <= 1
    assert a.explained[0] == pytest.approx(var[0] / feats.features.var(axis=0, ddof=0).sum(), rel=1e-3)


def test_pca_places_new_points_with_the_same_map(feats):
    proj = emb.pca_2d(feats)
    np.testing.assert_allclose(emb.place(proj, feats.features[:4]), proj.coords[:4], atol=1e-4)
    assert emb.place(proj, feats.features[0]).shape == (1, 2)


def test_pca_needs_two_points():
    with pytest.raises(emb.EmbeddingError):
        emb.pca_2d(np.zeros((1, 5)))


def test_sample_indices():
    assert emb.sample_indices(10, 3000).tolist() == list(range(10))
    picked = emb.sample_indices(5000, 3000, seed=1)
    assert len(picked) == 3000 and len(set(picked.tolist())) == 3000 and np.all(np.diff(picked) > 0)
    np.testing.assert_array_equal(picked, emb.sample_indices(5000, 3000, seed=1))


@pytest.mark.slow
def test_tsne_reports_progress_and_ends_done(feats):
    records = list(emb.tsne_records(feats, max_points=120, iterations=500, seed=0))
    assert [r.kind for r in records] == ["progress", "done"]
    assert [r.iteration for r in records] == [250, 500] and records[-1].fraction == 1.0
    last = records[-1].projection
    assert last.coords.shape == (120, 2) and np.isfinite(last.coords).all()
    assert len(set(last.indices.tolist())) == 120 and last.indices.max() < 300
    # the map separates digits better than chance: nearest neighbours often share the label
    labels = feats.predicted[last.indices]
    d = ((last.coords[:, None] - last.coords[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(1)] == labels).mean() > 0.5
    # a new point lands among its neighbours
    spot = emb.place(last, feats.features[last.indices[:1]])
    assert np.linalg.norm(spot - last.coords[:1]) < np.ptp(last.coords, axis=0).max() / 4
    assert records[0].to_dict()["points"] == 120


@pytest.mark.slow
def test_tsne_stops_when_asked(feats):
    stop = threading.Event()
    stop.set()
    records = list(emb.tsne_records(feats, max_points=60, iterations=1000, stop=stop))
    assert len(records) == 1 and records[0].kind == "progress"
    seen = []
    final = emb.tsne_2d(feats.features[:60], iterations=250, progress=seen.append)
    assert [r.kind for r in seen] == ["done"] and final.coords.shape == (60, 2)


def test_tsne_needs_a_few_points():
    with pytest.raises(emb.EmbeddingError):
        next(emb.tsne_records(np.zeros((3, 4))))


def test_chart_rows_thumbnails_and_selection(val, feats):
    images, labels = val
    proj = emb.pca_2d(feats)
    points = emb.embedding_points(proj, labels, feats.probs, images.numpy())
    assert len(points) == 300
    p = points[7]
    assert set(p) == {"index", "x", "y", "true", "predicted", "confidence", "correct", "image"}
    assert p["correct"] == (p["true"] == p["predicted"]) and p["index"] == 7
    png = base64.b64decode(p["image"].split(",", 1)[1])
    thumb = np.asarray(Image.open(io.BytesIO(png)))
    np.testing.assert_array_equal(thumb[::2, ::2], images[7].numpy())
    box = (min(q["x"] for q in points[:10]), max(q["x"] for q in points[:10]))
    inside = emb.points_in_box(points, box, None)
    assert {q["index"] for q in points[:10]} <= {q["index"] for q in inside}
    assert emb.points_in_box(points, None, None) == points


def test_embedding_chart_has_image_tooltips_and_a_brush(val, feats):
    images, labels = val
    proj = emb.pca_2d(feats)
    points = emb.embedding_points(proj, labels, feats.probs, images.numpy())
    spec = vega_spec(embedding_charts.embedding_chart(points[:50], star=(0.0, 1.0)))
    layer = spec["layer"][0]
    assert any(t["field"] == "image" for t in layer["encoding"]["tooltip"])
    assert any(
        p.get("name") == embedding_charts.BRUSH for p in spec.get("params", []) + layer.get("params", [])
    )
    event = {"selection": {embedding_charts.BRUSH: {"x": [-1.0, 2.0], "y": [0.5, 3.0]}}}
    assert embedding_charts.selection_box(event) == ((-1.0, 2.0), (0.5, 3.0))
    assert embedding_charts.selection_box({"selection": {embedding_charts.BRUSH: {}}}) is None
    assert embedding_charts.selection_box(None) is None
