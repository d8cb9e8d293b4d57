"""Command line: `python -m mnist_core COMMAND` (train, evaluate, predict, runs, tune, curve, calibrate, robustness).

Progress goes to stderr as plain lines; results go to stdout as JSON (never NaN), so scripts
can pipe them. Bad input exits with status 2 and a one-line reason, never a traceback: every
path argument is checked before any work starts. Each subcommand is one module of this package
with `add_parser(sub)` (which sets `handler=run` as the parser's defaults) and `run(args) -> int`; the
domain errors that mean "bad input" are mapped to exit status 2 here, in one place.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mnist_core.cli import calibrate, curve, evaluate, labels, monitor, predict, robustness, runs, train, tune
from mnist_core.cli.common import CliError, err
from mnist_core.config import ConfigError

COMMANDS = (train, evaluate, predict, runs, calibrate, robustness, labels, monitor, tune, curve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_core", description="Train, evaluate and use MNIST digit classifiers."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """Every error type the core raises for bad input: printed as one line, exit status 2."""
    from mnist_core.data.drawing import ImageError
    from mnist_core.data.errors import DataError
    from mnist_core.deploy.collect import CollectError
    from mnist_core.deploy.export import ExportError
    from mnist_core.evaluation.calibration.scaling import CalibrationError
    from mnist_core.evaluation.robustness.perturbations import RobustnessError
    from mnist_core.files import FileRefused
    from mnist_core.jobs.errors import ClusterError, JobBusy, SchedulerUnreachable
    from mnist_core.labels.audit import AuditError
    from mnist_core.monitoring.errors import MonitorError
    from mnist_core.planning.costs import CostError
    from mnist_core.planning.curve.errors import CurveError
    from mnist_core.planning.tune import TuneError
    from mnist_core.runs.files import StorageError

    # OSError: disk full, permission denied; MemoryError: an input too large for this machine
    return (
        CliError,
        ConfigError,
        DataError,
        StorageError,
        CollectError,
        ImageError,
        ExportError,
        CostError,
        JobBusy,
        OSError,
        MemoryError,
        CalibrationError,
        RobustnessError,
        FileRefused,
        AuditError,
        MonitorError,
        TuneError,
        CurveError,
        SchedulerUnreachable,
        ClusterError,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.handler
    try:
        return command(args)
    except user_errors() as exc:
        err(f"error: {' '.join(str(exc).split()) or type(exc).__name__}")
        return 2
    except KeyboardInterrupt:
        err("error: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
