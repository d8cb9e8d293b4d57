"""ONNX export of every model family, checked against PyTorch with onnxruntime."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import onnx
import pytest
import torch

from mnist_core.config import MODEL_FAMILIES, TrainConfig
from mnist_core.deploy import export
from mnist_core.training.models import build_model


def _model(family: str) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = TrainConfig(model=family, mlp_width=32, cnn_channels=8)
    model = build_model(cfg)
    if family == "baseline":
        model.fit(torch.tensor([3, 3, 3, 1, 7]))
    for module in model.modules():  # non-trivial batch-norm statistics, as after training
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_every_family_exports_and_matches_pytorch(family):
    model = _model(family)
    data = export.export_onnx(model)
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("image", "logits")
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [1, 28, 28]  # dynamic batch axis
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    diff = export.check_onnx(data, model, n=16)
    assert 0.0 <= diff <= export.TOLERANCE


def test_onnx_predicts_like_pytorch_for_any_batch_size():
    model = _model("cnn")
    session = export.onnx_session(export.export_onnx(model))
    for n in (1, 5, 33):
        x = export.sample_inputs(n, seed=n)
        got = session.run(["logits"], {"image": x.numpy()})[0]
        with torch.inference_mode():
            expected = model(x).numpy()
        assert got.shape == (n, 10)
        np.testing.assert_allclose(got, expected, atol=1e-4)
        assert (got.argmax(1) == expected.argmax(1)).all()


def test_export_leaves_the_served_model_untouched():
    model = _model("mlp")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export.export_onnx(model)
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_check_catches_a_file_that_computes_something_else():
    exported = _model("logreg")
    data = export.export_onnx(exported)
    other = _model("logreg")
    with torch.no_grad():
        other[1].bias.add_(0.5)
    with pytest.raises(export.ExportError, match="differs from PyTorch"):
        export.check_onnx(data, other, n=8)


def test_check_refuses_bad_inputs_and_bad_bytes():
    model = _model("logreg")
    data = export.export_onnx(model)
    with pytest.raises(export.ExportError, match="shape"):
        export.check_onnx(data, model, inputs=torch.zeros(4, 28, 28))
    with pytest.raises(export.ExportError, match="onnxruntime cannot load"):
        export.check_onnx(b"not an onnx file", model)


def test_trained_run_exports_from_its_saved_weights():
    from tests.helpers import train_to_run

    run = train_to_run(TrainConfig(cnn_channels=8, epochs=1, augment=False, max_train_samples=500), "sample")
    model = run.load_model()
    assert export.check_onnx(export.export_onnx(model), model) <= export.TOLERANCE


def test_zip_bytes_round_trips():
    blob = export.zip_bytes({"a.gz": b"\x00\x01", "config.json": '{"x": 1}'})
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        assert zf.read("a.gz") == b"\x00\x01"
        assert zf.read("config.json") == b'{"x": 1}'
