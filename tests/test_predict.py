"""Single-image prediction: blank inputs, real digits through the full preprocessing, the unsure flag."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_core.config import TrainConfig
from mnist_core.data.drawing import ImageError, prepare_digit
from mnist_core.data.sources import load_test
from mnist_core.deploy import predict
from mnist_core.evaluation.inference import predict_proba
from tests.helpers import train_to_run


def as_canvas(digit28: np.ndarray, side: int = 280) -> np.ndarray:
    """A 28×28 MNIST digit as the canvas sends it: RGBA, RGB zero, ink in alpha, 10× bigger."""
    alpha = np.asarray(Image.fromarray(digit28).resize((side, side), Image.Resampling.BILINEAR))
    canvas = np.zeros((side, side, 4), dtype=np.uint8)
    canvas[..., 3] = alpha
    return canvas


class FixedLogits(torch.nn.Module):
    """A model that answers the same logits whatever the input: a controllable test double."""

    def __init__(self, probs: list[float]) -> None:
        super().__init__()
        self.register_buffer("logits", torch.log(torch.tensor(probs, dtype=torch.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], 10)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = train_to_run(
        TrainConfig(model="logreg", epochs=2, augment=False), "sample", home=tmp_path_factory.mktemp("home")
    )
    return run.load_model()


@pytest.fixture(scope="module")
def test_images():
    test = load_test("sample")
    return test.images[:60].numpy(), test.labels[:60].numpy()


def probs(top: int, p_top: float, second: int, p_second: float) -> list[float]:
    rest = (1.0 - p_top - p_second) / 8
    out = [rest] * 10
    out[top], out[second] = p_top, p_second
    return out


def test_blank_inputs_get_no_digit():
    model = FixedLogits(probs(3, 0.9, 5, 0.05))
    for blank in (None, np.zeros((280, 280, 4), np.uint8)):
        p = predict.predict_digit(model, blank)
        assert p.is_blank and p.digit is None and p.probabilities is None
        assert p.confidence == 0.0 and not p.is_unsure
        assert "draw" in predict.answer_text(p).lower()


def test_real_digits_are_read_correctly(trained, test_images):
    images, labels = test_images
    direct = predict_proba(trained, torch.from_numpy(images)).argmax(1).numpy()
    canvas = [predict.predict_digit(trained, as_canvas(img)) for img in images]
    digits = np.array([p.digit for p in canvas])
    assert (digits == labels).mean() >= 0.8  # logistic regression after 2 epochs: ~88 % on raw MNIST
    # a digit the model reads right as MNIST stores it is read right when drawn 10× bigger
    agree = (digits == direct)[direct == labels].mean()
    assert agree >= 0.85
    first_right = next(p for p, y, d in zip(canvas, labels, direct) if d == y and not p.is_unsure)
    assert first_right.probabilities.shape == (10,)
    assert first_right.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert first_right.confidence == pytest.approx(float(first_right.probabilities.max()))
    assert first_right.prepared.image.shape == (28, 28)


def test_accepts_a_prepared_digit_and_a_pil_image(trained, test_images):
    images, labels = test_images
    pil = Image.fromarray(255 - images[0])  # dark ink on white paper, like a scan
    from_pil = predict.predict_digit(trained, pil)
    prepared = prepare_digit(images[0])
    from_prepared = predict.predict_digit(trained, prepared)
    assert from_prepared.prepared is prepared
    assert from_pil.digit == from_prepared.digit


@pytest.mark.parametrize(
    "p_top, p_second, unsure",
    [
        (0.95, 0.03, False),
        (0.55, 0.10, True),  # top below 0.6
        (0.62, 0.36, True),  # top-2 close
        (0.70, 0.20, False),
    ],
)
def test_unsure_flag_names_the_runner_up(p_top, p_second, unsure):
    p = predict.predict_digit(FixedLogits(probs(4, p_top, 9, p_second)), np.eye(28, dtype=np.uint8) * 255)
    assert p.digit == 4 and p.runner_up == 9
    assert p.confidence == pytest.approx(p_top, abs=1e-5)
    assert p.runner_up_probability == pytest.approx(p_second, abs=1e-5)
    assert p.is_unsure is unsure
    text = predict.answer_text(p)
    assert ("Not sure" in text and "9" in text) if unsure else text.startswith("A 4")


def test_baseline_is_always_unsure():
    from mnist_core.training.models import build_model

    baseline = build_model(TrainConfig(model="baseline"))
    baseline.fit(torch.arange(10).repeat(5))
    p = predict.predict_digit(baseline, np.eye(28, dtype=np.uint8) * 255)
    assert p.is_unsure and p.confidence < 0.2


def test_a_model_left_in_training_mode_predicts_deterministically(trained, test_images):
    images, _ = test_images
    trained.train()
    first = predict.predict_digit(trained, images[0])
    assert not trained.training  # prediction switched dropout / batch norm to inference
    assert np.array_equal(first.probabilities, predict.predict_digit(trained, images[0]).probabilities)


def test_uploads_read_or_refused_with_a_message(trained, test_images):
    images, labels = test_images
    buf = io.BytesIO()
    Image.fromarray(255 - images[1]).resize((200, 200)).save(buf, format="JPEG")
    prepared = predict.prepare_upload(buf.getvalue())
    assert not prepared.is_blank
    with pytest.raises(ImageError, match="not a readable image"):
        predict.prepare_upload(b"this is a text file, not a picture")
    with pytest.raises(ImageError, match="MB"):
        predict.prepare_upload(buf.getvalue(), max_bytes=100)


def test_percent_never_claims_certainty():
    assert predict.percent(0.9996) == ">99%"
    assert predict.percent(0.004) == "<1%"
    assert predict.percent(0.0) == "0%"
    assert predict.percent(0.64) == "64%"


def test_the_answering_thread_runs_torch_single_threaded_and_leaves_the_process_default():
    import threading

    before = torch.get_num_threads()
    pool = predict.answering_thread()
    try:
        assert pool.submit(torch.get_num_threads).result() == 1
        seen = []
        other = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        other.start(), other.join()
        assert torch.get_num_threads() == before and seen == [before]  # new threads keep the default
    finally:
        pool.shutdown()
