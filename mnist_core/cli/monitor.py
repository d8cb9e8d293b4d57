"""`monitor RUN`: is the field (collected drawings or a folder of images) like the run's training data?

Progress goes to stderr; the last stdout line is the report as JSON (`MonitorReport.to_json()`):
drift and its p-value, field accuracy (null without labels), what differs per trait, the digit mix
and the windows over time.
"""

from __future__ import annotations

import argparse
from typing import Any

from mnist_core.cli.common import add_run_command, err, help_text, print_json


def add_parser(sub: Any) -> None:
    from mnist_core.monitoring.mmd import DEFAULT_PERMUTATIONS
    from mnist_core.monitoring.windows import DEFAULT_WINDOW

    parser = add_run_command(sub, "monitor", "is the field like the training data? prints JSON")
    parser.add_argument(
        "--field",
        default="drawings",
        help="'drawings' (collected on the Deploy page, the default) or a folder of images, "
        "optionally with labels.json {file name: digit} beside them",
    )
    parser.add_argument(
        "--window",
        default=str(DEFAULT_WINDOW),
        help=f"windows over time: a number of images, or 'day' (drawings only); default {DEFAULT_WINDOW}",
    )
    parser.add_argument(
        "--permutations",
        type=int,
        default=DEFAULT_PERMUTATIONS,
        help=help_text(f"permutations of the two-sample test (default {DEFAULT_PERMUTATIONS})"),
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mnist_core.cli.common import CliError
    from mnist_core.config import studio_home
    from mnist_core.monitoring.field import load_field
    from mnist_core.monitoring.monitor import monitor
    from mnist_core.monitoring.windows import parse_window
    from mnist_core.runs.storage import load_run

    if args.permutations < 1:
        raise CliError(f"--permutations must be at least 1, not {args.permutations}.")
    window = parse_window(args.window)  # every argument is checked before any work
    run = load_run(args.run)
    field_set = load_field(args.field, studio_home())
    err(f"field: {len(field_set)} images from {field_set.source}")
    if field_set.skipped:
        err(f"skipped {len(field_set.skipped)} image(s) with no digit: {', '.join(field_set.skipped[:5])}")
    report = monitor(run, field_set, window=window, permutations=args.permutations, progress=err)
    for line in report.summary():
        err(line)
    print_json(report.to_json())
    return 0
