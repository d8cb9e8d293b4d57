"""AppTest of the Deploy page: quick training, draw → predict → label → database, uploads, export,
the run's calibration in the answer, and "why did it say that?" (attribution, feature maps)."""

from __future__ import annotations

import base64
import io
import json
import time

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import ui
from mnist_core.config import TrainConfig, quick_config
from mnist_core.data.sources import load_test
from mnist_core.deploy.collect import DrawingStore
from mnist_core.deploy.predict import predict_digit
from mnist_core.runs import storage
from mnist_core.training.models import build_model
from tests.app.conftest import open_page
from tests.helpers import train_to_run
from ui import state as keys

PAGE = "pages/Deploy.py"
CANVAS = keys.DEPLOY_CANVAS  # ui/deploy.py: the st_canvas key
COLLECTED, EXPORT = "🗂️ Collected data", "📦 Export"


def canvas_png(digit28: np.ndarray) -> bytes:
    """A real MNIST digit as the canvas sends it: 280×280 RGBA PNG with the ink in alpha."""
    alpha = np.asarray(Image.fromarray(digit28).resize((280, 280), Image.Resampling.BILINEAR))
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = alpha
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


def draw(at: AppTest, png: bytes) -> AppTest:
    """Send `png` as streamlit-drawable-canvas does after a stroke (AppTest cannot run its frontend)."""
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    at.session_state[CANVAS] = {"drawing": {"raw": {"objects": [{}]}, "data": url}, "backgroundFit": None}
    return at.run()


def reset_canvas(at: AppTest) -> AppTest:
    """What the canvas' toolbar reset sends: no objects and an all-transparent picture, not None."""
    url = "data:image/png;base64," + base64.b64encode(canvas_png(np.zeros((28, 28), np.uint8))).decode()
    at.session_state[CANVAS] = {"drawing": {"raw": {"objects": []}, "data": url}, "backgroundFit": None}
    return at.run()


def texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "success", "warning", "info", "error")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def store() -> DrawingStore:
    return DrawingStore(ui.drawings_path())


@pytest.fixture
def run():
    return train_to_run(TrainConfig(model="logreg", epochs=2, augment=False), "sample")


@pytest.fixture
def digit(run):
    """A test image this model reads correctly through the canvas path, with its label."""
    test = load_test("sample")
    model = run.load_model()
    for img, label in zip(test.images.numpy(), test.labels.numpy()):
        png = canvas_png(img)
        p = predict_digit(model, np.asarray(Image.open(io.BytesIO(png))))
        if p.digit == label:
            return png, int(label)
    pytest.fail("the model reads no test digit correctly")


def page() -> AppTest:
    return open_page(PAGE)


@pytest.fixture
def tiny_quick_model(monkeypatch):
    """The quick-train button trains a tiny model here (the real preset is unit-tested); the job is
    stopped and joined afterwards so no thread outlives the test's temporary home."""
    import mnist_core.config

    monkeypatch.setattr(
        mnist_core.config, "quick_config", lambda: TrainConfig(model="logreg", epochs=2, augment=False)
    )
    yield
    job = ui.all_jobs().job
    if job is not None:
        job.stop()
        job.join(timeout=60)


def test_no_model_offers_quick_training_that_ends_with_a_model(tiny_quick_model):
    at = page()
    assert not at.exception
    assert "No trained model yet" in texts(at)
    assert not at.selectbox  # no model picker, no canvas without a model
    at.button(key=keys.DEPLOY_QUICK_TRAIN).click().run()
    assert not at.exception
    deadline = time.monotonic() + 120
    while not at.selectbox and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()  # AppTest never fires run_every by itself: poll
        assert not at.exception
        assert "Training failed" not in texts(at)
    assert at.selectbox(key=keys.DEPLOY_RUN).value  # the quick model is there and selected
    assert "validation accuracy" in texts(at)


def test_drawing_is_predicted_and_stored_once_with_its_label(run, digit):
    png, label = digit
    at = page()
    assert "Draw a digit" in texts(at)
    draw(at, png)
    assert not at.exception
    assert f">{label}" in texts(at)  # the big answer
    assert at.get("vega_lite_chart"), "the probability chart is missing"
    wrong = (label + 1) % 10
    at.button(key=keys.deploy_label(wrong)).click().run()  # "It was a …" another digit
    assert not at.exception
    entries = store().list()
    assert len(entries) == 1
    saved = entries[0]
    assert (saved.true_label, saved.predicted, saved.model, saved.source) == (wrong, label, run.id, "canvas")
    assert 0.0 < saved.confidence <= 1.0
    assert saved.image28.shape == (28, 28) and saved.image28.max() > 0
    assert store().original_png(saved.id) == png
    assert any(f"Saved as a {wrong}" in t.value for t in at.toast)
    at.run()
    draw(at, png)  # the same drawing again: still one entry, and no label buttons
    assert store().count() == 1
    assert not [b for b in at.button if b.key == keys.DEPLOY_CORRECT]
    at.button(key=keys.DEPLOY_UNDO).click().run()
    assert store().count() == 0
    at.button(key=keys.DEPLOY_CORRECT).click().run()
    assert [(d.true_label, d.predicted) for d in store().list()] == [(label, label)]


def test_blank_canvas_asks_for_a_digit_and_offers_no_labels(run):
    at = page()
    draw(at, canvas_png(np.zeros((28, 28), np.uint8)))
    assert not at.exception
    assert "Draw a digit" in texts(at)
    assert not [b for b in at.button if b.key and b.key.startswith(keys.DEPLOY_LABEL_PREFIX)]
    assert not at.get("vega_lite_chart")


def test_the_canvas_reset_takes_the_answer_away(run, digit):
    png, label = digit
    at = page()
    assert "Edit" in texts(at)  # the cue to the canvas' edit mode (move, scale, rotate)
    draw(at, png)
    assert f">{label}" in texts(at)
    reset_canvas(at)
    assert not at.exception
    assert "Draw a digit" in texts(at) and f">{label}" not in texts(at)
    assert not [b for b in at.button if b.key and b.key.startswith("deploy_label_")]
    assert not at.get("vega_lite_chart")


def test_uploads_are_predicted_and_bad_files_explained(run, digit):
    png, label = digit
    at = page()
    at.session_state[keys.DEPLOY_MODE] = "Upload"
    at.run()
    assert "Upload a digit" in texts(at) and not at.get("vega_lite_chart")
    at.file_uploader(key=keys.DEPLOY_UPLOAD).set_value(
        ("notes.png", b"definitely not a picture", "image/png")
    ).run()
    assert not at.exception
    assert any("not a readable image" in e.value for e in at.error)
    photo = io.BytesIO()
    Image.open(io.BytesIO(png)).getchannel("A").point(lambda v: 255 - v).save(photo, format="JPEG")
    at.file_uploader(key=keys.DEPLOY_UPLOAD).set_value(("digit.jpg", photo.getvalue(), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert f">{label}" in texts(at)
    at.button(key=keys.DEPLOY_CORRECT).click().run()
    (saved,) = store().list()
    assert saved.source == "upload" and saved.true_label == label
    assert Image.open(io.BytesIO(store().original_png(saved.id))).format == "PNG"


def test_collected_data_view_counts_measures_and_deletes(run):
    s = store()
    img = np.zeros((28, 28), np.uint8)
    img[5:23, 13:15] = 255
    ids = [
        s.add(image28=img, true_label=1, predicted=1, confidence=0.9, model=run.id),
        s.add(image28=img, true_label=1, predicted=7, confidence=0.6, model=run.id),
        s.add(image28=img, true_label=4, predicted=4, confidence=0.8, model=run.id),
    ]
    at = page()
    at.session_state[keys.DEPLOY_TAB] = COLLECTED
    at.run()
    assert not at.exception
    assert at.metric[0].value == "3"
    assert len(at.get("vega_lite_chart")) == 2  # counts per digit, field vs validation per digit
    table = at.dataframe[0].value
    assert table["drawings"].tolist() == [3]
    assert table["field_accuracy"].iloc[0] == pytest.approx(2 / 3)
    assert table["val_accuracy"].iloc[0] == pytest.approx(run.meta["val_accuracy"])
    assert "data drift" in texts(at)
    downloads = [d.label for d in at.get("download_button")]
    assert any("IDX" in d for d in downloads) and any("npz" in d for d in downloads)
    at.button(key=keys.deploy_delete(ids[1])).click().run()
    assert not at.exception
    assert s.count() == 2 and ids[1] not in [d.id for d in s.list()]
    assert at.metric[0].value == "2"


def test_collected_view_is_friendly_when_empty(run):
    at = page()
    at.session_state[keys.DEPLOY_TAB] = COLLECTED
    at.run()
    assert not at.exception
    assert "No drawings collected yet" in texts(at)


def test_export_tab_offers_weights_config_and_a_checked_onnx(run):
    at = page()
    at.session_state[keys.DEPLOY_TAB] = EXPORT
    at.run()
    labels = [d.label for d in at.get("download_button")]
    assert any("safetensors" in d for d in labels) and any("json" in d for d in labels)
    at.button(key=keys.DEPLOY_BUILD_ONNX).click().run()
    assert not at.exception
    assert any("ONNX" in d.label for d in at.get("download_button"))
    assert "match PyTorch within" in texts(at)


def test_export_tab_offers_nothing_from_a_damaged_run_and_says_why(run):
    from safetensors.torch import save_file

    other = TrainConfig(model="mlp", mlp_depth=1, mlp_width=32)  # weights of another model
    save_file(
        {k: v.contiguous() for k, v in build_model(other).state_dict().items()},
        str(run.path / storage.WEIGHTS),
    )
    at = page()
    at.session_state[keys.DEPLOY_TAB] = EXPORT
    at.run()
    assert not at.exception
    assert not at.get("download_button") and not [b for b in at.button if b.key == keys.DEPLOY_BUILD_ONNX]
    (error,) = at.error
    assert error.value.startswith("Nothing to export from this run:") and run.id in error.value


# ---------------------------------------------------------------- calibration and "why did it say that?"

EXPLAIN, EXPLAIN_TAB, EXPLAIN_DIGIT = keys.DEPLOY_EXPLAIN, keys.DEPLOY_EXPLAIN_TAB, keys.DEPLOY_EXPLAIN_DIGIT
WHERE, INSIDE = "🎯 Where it looked", "🧠 Inside the network"


def confident_digit(run) -> tuple[bytes, int]:
    """A test image the run's model reads correctly and surely (no "not sure") through the canvas."""
    test = load_test("sample")
    model = run.load_model()
    for img, label in zip(test.images.numpy(), test.labels.numpy()):
        png = canvas_png(img)
        p = predict_digit(model, np.asarray(Image.open(io.BytesIO(png))))
        if p.digit == label and not p.is_unsure:
            return png, int(label)
    pytest.fail("the model reads no test digit surely")


def explain_box(at: AppTest):
    (box,) = [e for e in at.expander if e.label.startswith("🔍")]
    return box


def captions(node) -> list[str]:
    """The captions of every picture under `node`."""
    return [c for image in node.get("image") for c in image.captions]


def chart_titles(at: AppTest) -> str:
    return "\n".join(chart.proto.spec for chart in at.get("vega_lite_chart"))


def chart_marks(at: AppTest) -> dict[str, str]:
    """Title → mark type of every titled single-view chart on the page."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    marks = {}
    for spec in specs:
        mark = spec.get("mark")
        if "title" in spec and mark is not None:
            marks[str(spec["title"])] = mark["type"] if isinstance(mark, dict) else mark
    return marks


@pytest.fixture
def counted(monkeypatch):
    """How often the explain view computed an attribution and a pass through the network."""
    from ui import deploy_explain

    calls = {"where": 0, "inside": 0}

    def counting(name, real):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(deploy_explain, "where_it_looked", counting("where", deploy_explain.where_it_looked))
    monkeypatch.setattr(deploy_explain, "inside", counting("inside", deploy_explain.inside))
    return calls


@pytest.mark.parametrize(
    "meta",
    [{"unsure_threshold": {"threshold": 1.0}}, {"calibration": {"temperature": 20.0}}],
    ids=["own threshold", "own temperature"],
)
def test_the_answer_uses_the_runs_own_threshold_and_temperature(run, meta):
    png, label = confident_digit(run)
    at = page()
    draw(at, png)
    assert f">{label}<" in texts(at) and "Not sure" not in texts(at)
    storage.update_meta(run, **meta)  # as the Evaluate page saves them
    at.run()
    draw(at, png)  # the same drawing: the cached answer must not survive the new calibration
    assert not at.exception
    assert f">{label}?<" in texts(at), "the run's calibration did not reach the answer"
    assert any(w.value.startswith("Not sure") for w in at.warning)


@pytest.mark.slow
def test_explain_view_computes_only_when_open_and_shows_attribution_and_feature_maps(counted):
    cnn = train_to_run(quick_config(), "sample")  # the default CNN, a few epochs
    png, label = confident_digit(cnn)
    at = page()
    draw(at, png)
    assert not at.exception
    seen = at.session_state[keys.DEPLOY_LAST_INPUT]  # for the Evaluate page's embedding map
    assert np.asarray(seen).shape == (28, 28) and np.asarray(seen).dtype == np.uint8 and seen.max() > 0
    assert explain_box(at) is not None
    assert counted == {"where": 0, "inside": 0}, "the closed explain view computed something"
    assert not captions(explain_box(at))

    at.session_state[EXPLAIN] = True  # the user opens it
    at.run()
    assert not at.exception
    box = explain_box(at)
    assert f"Why a {label}?" in captions(box)  # the overlay
    assert "Integrated Gradients" in texts(at)  # the method, named
    assert counted == {"where": 1, "inside": 0}  # the other tab waits until it is opened

    other = (label + 3) % 10
    at.segmented_control(key=EXPLAIN_DIGIT).set_value(other).run()  # "why not a …?"
    assert not at.exception
    assert f"Why not a {other}?" in captions(explain_box(at))
    assert f"Why not a {other}" in texts(at)
    assert counted["where"] == 2

    at.session_state[EXPLAIN_TAB] = INSIDE
    at.run()
    assert not at.exception
    shown = captions(explain_box(at))
    for block in (1, 2, 3):  # the default CNN's three blocks, each a grid
        assert any(c.startswith(f"Feature maps, block {block}:") for c in shown), shown
    assert any(c.startswith("First-layer filters (") for c in shown), shown
    assert f"hidden layer 1: {quick_config().cnn_hidden} units" in chart_titles(at)
    at.run()  # a rerun (a label click) repeats no work
    assert counted == {"where": 2, "inside": 1}

    reset_canvas(at)  # a blank canvas draws no explain view…
    assert not [e for e in at.expander if e.label.startswith("🔍")]
    draw(at, png)  # …and the next drawing finds it as it was left
    assert not at.exception
    assert any(c.startswith("Feature maps, block 1:") for c in captions(explain_box(at)))
    at.session_state[EXPLAIN_TAB] = WHERE
    at.run()
    assert f"Why a {label}?" in captions(explain_box(at))  # a new drawing explains its answer again


@pytest.mark.slow
def test_mlp_shows_its_hidden_units_as_a_bar_strip():
    mlp = train_to_run(TrainConfig(model="mlp", mlp_depth=2, mlp_width=32, epochs=2, augment=False), "sample")
    png, label = confident_digit(mlp)
    at = page()
    draw(at, png)
    at.session_state[EXPLAIN] = True
    at.session_state[EXPLAIN_TAB] = INSIDE
    at.run()
    assert not at.exception
    marks = chart_marks(at)
    assert marks.get("hidden layer 1: 32 units") == "bar", marks
    assert marks.get("hidden layer 2: 32 units") == "bar", marks
    shown = captions(explain_box(at))
    assert any(c.startswith("First-layer weights of 32 of 32 hidden units") for c in shown), shown
    assert not any(c.startswith("Feature maps") for c in shown)


def test_logistic_regression_and_the_baseline_say_what_applies(run):
    png, label = confident_digit(run)
    at = page()
    draw(at, png)
    at.session_state[EXPLAIN] = True
    at.run()
    assert f"Why a {label}?" in captions(explain_box(at))  # a linear model still has an attribution
    at.session_state[EXPLAIN_TAB] = INSIDE
    at.run()
    assert not at.exception
    assert "The ten digit templates, 0 to 9 (red +, blue −)" in captions(explain_box(at))
    assert "no hidden layers" in texts(at)

    baseline = train_to_run(TrainConfig(model="baseline"), "sample")
    at = page()
    at.session_state[EXPLAIN] = True
    at.selectbox(key=keys.DEPLOY_RUN).set_value(baseline.id).run()
    draw(at, png)
    assert not at.exception
    assert "there is nothing in the drawing it looked at" in texts(at)
    assert not captions(explain_box(at))


def test_drawings_are_answered_by_the_folded_copy_of_the_model():
    import torch

    config = TrainConfig(epochs=1)
    torch.manual_seed(0)
    model = build_model(config)
    with torch.no_grad():  # batch norms with statistics of their own, so folding changes weights
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
    run = storage.save_run(model, config, [], {"name": "fold"})
    answering, saved = ui.answering_model(run), ui.load_model(run)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in answering.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in saved.modules())  # explanations see these
    canvas = np.asarray(Image.open(io.BytesIO(canvas_png(load_test("sample").images[0].numpy()))))
    a, b = predict_digit(answering, canvas), predict_digit(saved, canvas)
    assert a.digit == b.digit and np.allclose(a.probabilities, b.probabilities, atol=1e-4)
    assert ui.answering_model(run) is answering  # cached
