"""Take a trained model out of the studio: an ONNX file checked against PyTorch, and zip bundles.

`export_onnx` uses torch's dynamo exporter (`torch.onnx.export(..., dynamo=True)`, which
needs onnxscript and works offline) with a dynamic batch axis, fp32 throughout.
`check_onnx` runs the exported file in onnxruntime and compares its logits with
PyTorch's on the same inputs, so a download is never a file that silently computes
something else. The ONNX model's contract: input "image" float32 (N, 1, 28, 28) in [0, 1],
white digit on black, MNIST-centred (what `drawing.prepare_digit` produces); output
"logits" float32 (N, 10).
"""

from __future__ import annotations

import copy
import io
import json
import zipfile

import numpy as np
import torch
from torch import nn

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
TOLERANCE = 1e-4  # max |logit difference| accepted between onnxruntime and PyTorch (fp32 rounding is ~1e-6)
CHECK_SEED = 0


class ExportError(RuntimeError):
    """An export that failed or does not reproduce the PyTorch model; the message says which."""


def _cpu_fp32_copy(model: nn.Module) -> nn.Module:
    # a copy, so the cached model serving predictions is never moved, cast or traced
    return copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()


def export_onnx(model: nn.Module) -> bytes:
    """The model as ONNX bytes: input "image" (N, 1, 28, 28) float32, output "logits" (N, 10)."""
    model = _cpu_fp32_copy(model)
    example = (torch.zeros(2, 1, 28, 28),)  # batch 2: a batch of 1 would be specialised as a constant
    try:
        program = torch.onnx.export(
            model,
            example,
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False,
        )
    except Exception as exc:  # the exporter raises many types; all mean "this model did not export"
        raise ExportError(f"ONNX export failed: {type(exc).__name__}: {str(exc)[:300]}") from exc
    if program is None:
        raise ExportError("ONNX export returned nothing.")
    return program.model_proto.SerializeToString()


def sample_inputs(n: int = 64, seed: int = CHECK_SEED) -> torch.Tensor:
    """Seeded check inputs in [0, 1]: mostly-dark images with bright strokes, like MNIST's statistics."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)
    return torch.where(x > 0.8, x, torch.zeros(())).contiguous()  # ~20 % ink, the rest exact zeros


def onnx_session(onnx_bytes: bytes):
    """An onnxruntime CPU session for ONNX bytes (one thread: the demo machine has few cores)."""
    import onnxruntime as ort  # deferred: only export and its check need it

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings are noise for users
    try:
        return ort.InferenceSession(onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ExportError(f"onnxruntime cannot load the exported model: {str(exc)[:300]}") from exc


def check_onnx(
    onnx_bytes: bytes,
    model: nn.Module,
    n: int = 64,
    *,
    inputs: torch.Tensor | None = None,
    tolerance: float = TOLERANCE,
) -> float:
    """Max |logit difference| between onnxruntime and PyTorch; raises ExportError above `tolerance`.

    Runs the whole batch and a batch of one, so a batch axis that was frozen at export shows up.
    """
    x = (sample_inputs(n) if inputs is None else inputs).to(torch.float32).contiguous()
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28) or len(x) == 0:
        raise ExportError(f"Check inputs must have shape (N, 1, 28, 28) with N ≥ 1, got {tuple(x.shape)}.")
    session = onnx_session(onnx_bytes)
    reference = _cpu_fp32_copy(model)
    worst = 0.0
    for batch in (x, x[:1]):
        with torch.inference_mode():
            expected = reference(batch).float().numpy()
        try:
            got = session.run([OUTPUT_NAME], {INPUT_NAME: batch.numpy()})[0]
        except Exception as exc:
            raise ExportError(f"The ONNX model failed on a batch of {len(batch)}: {str(exc)[:300]}") from exc
        if got.shape != expected.shape:
            raise ExportError(f"The ONNX model returned shape {got.shape}, PyTorch {expected.shape}.")
        worst = max(worst, float(np.max(np.abs(got - expected))))
    if not worst <= tolerance:  # also catches NaN
        raise ExportError(
            f"The ONNX model differs from PyTorch by up to {worst:.2g} (tolerance {tolerance:g})."
        )
    return worst


def zip_bytes(files: dict[str, bytes | str]) -> bytes:
    """A zip archive of {name: content} (deflated), for one-click downloads of several files."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


def check_run_exportable(run) -> str | None:
    """Why a saved run's weights cannot be exported (they do not fit its config), or None if they can.

    Loads the weights strictly into `build_model(run.config)` (a missing, extra or resized tensor
    or a non-finite value is refused) and compares the config stored inside the weights file with
    config.json, so the Export tab offers nothing from a damaged run and can say why.
    """
    from safetensors import safe_open

    from mnist_core.config import ConfigError, TrainConfig
    from mnist_core.runs.files import WEIGHTS, StorageError

    try:
        run.load_model("cpu")  # a check only: no need to take GPU memory for it
    except StorageError as exc:
        return str(exc)
    try:
        with safe_open(str(run.path / WEIGHTS), framework="pt") as fh:
            stored = (fh.metadata() or {}).get("config")
        if stored is not None and TrainConfig.from_dict(json.loads(stored)) != run.config:
            return (
                f"{run.path / WEIGHTS} was saved with a different config than config.json: "
                "the weights would compute another model. Train the run again."
            )
    except (OSError, ValueError, TypeError, ConfigError) as exc:
        return f"{run.path / WEIGHTS} holds an unreadable config ({str(exc)[:200]})."
    return None
