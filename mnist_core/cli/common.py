"""What every subcommand shares: the user-error type, config flags, run arguments, output helpers."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from mnist_core.config import TrainConfig, all_fields


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def bool_arg(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("hyperparameters (TrainConfig)")
    for info in all_fields():
        kind = {"int": int, "float": float, "bool": bool_arg, "str": str}[info["type"]]
        flag = "--" + info["name"].replace("_", "-")
        extra: dict[str, Any] = {"choices": info["choices"]} if info["choices"] else {}
        group.add_argument(
            flag,
            dest=info["name"],
            type=kind,
            default=None,
            help=help_text(f"{info['help']} (default: {info['default']})"),
            **extra,
        )


def help_text(text: str) -> str:
    # argparse %-formats help texts: a bare "%" (as in "±10 %") would crash --help
    return text.replace("%", "%%")


def add_preset_flag(parser: argparse.ArgumentParser, help_text: str) -> None:
    """`--preset NAME`, one of config.PRESETS; None when not given (the command picks its default)."""
    from mnist_core.config import PRESETS

    parser.add_argument("--preset", choices=sorted(PRESETS), default=None, help=help_text)


def add_run_command(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand whose first argument is a saved run, by id or folder."""
    parser = sub.add_parser(name, help=help_text)
    parser.add_argument("run", help="run id or folder")
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    from mnist_core.config import PRESETS

    base = PRESETS[args.preset] if args.preset else TrainConfig()
    changes = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if getattr(args, f.name, None) is not None
    }
    return base.replace(**changes)


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def print_json(obj: Any) -> None:
    """One JSON line on stdout; NaN and infinities become null (JSON has no NaN)."""
    from mnist_core.runs.files import dumps

    print(dumps(obj), flush=True)


@contextlib.contextmanager
def ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """While training, the first Ctrl-C sets `stop` (the trainer ends, the pipeline saves the best
    epoch as a "stopped" run); a second one aborts as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers live in the main thread only
        return

    def first(signum: int, frame: Any) -> None:
        stop.set()
        err("stopping after this batch; the best epoch so far will be saved (Ctrl-C again to abort)")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
