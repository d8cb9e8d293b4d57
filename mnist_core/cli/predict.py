"""`predict RUN IMAGES...`: the digit in image files, one JSON line each."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mnist_core.cli.common import add_run_command, print_json


def _cli_wording(message: str) -> str:
    """The Deploy page's blank-input sentences speak of drawing; a file has no canvas."""
    from mnist_core.data.drawing import BLANK_MESSAGE, TOO_SMALL_MESSAGE

    return {
        BLANK_MESSAGE: "No digit found: the image is blank.",
        TOO_SMALL_MESSAGE: "No digit found: the marks in the image are too small or faint to read.",
    }.get(message, message)


def add_parser(sub: Any) -> None:
    pr = add_run_command(sub, "predict", "predict the digit in image files; one JSON line each")
    pr.add_argument("images", nargs="+", help="PNG/JPEG files")
    pr.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mnist_core.data.drawing import ImageError
    from mnist_core.deploy.predict import answer_text, predict_digit, prepare_image_file
    from mnist_core.evaluation.calibration.saved import predict_options
    from mnist_core.files import FileRefused
    from mnist_core.runs.storage import load_run

    run = load_run(args.run)
    model, options = run.load_model(), predict_options(run)  # the run's temperature and "not sure" line
    failed = 0
    for name in args.images:
        try:
            prediction = predict_digit(model, prepare_image_file(name), **options)
        except (OSError, ImageError, FileRefused) as exc:
            print(json.dumps({"file": name, "error": str(exc)}))
            failed += 1
            continue
        probs = prediction.probabilities
        print_json(
            {
                "file": name,
                "digit": prediction.digit,
                "probabilities": None if probs is None else [round(float(p), 6) for p in probs],
                "unsure": prediction.is_unsure,
                "message": _cli_wording(answer_text(prediction)),
            }
        )
    return 2 if failed else 0
