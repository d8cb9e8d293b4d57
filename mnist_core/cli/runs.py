"""`runs`: the saved runs as a table or JSON lines (damaged runs are skipped with a note)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mnist_core.cli.common import CliError, err, print_json


def add_parser(sub: Any) -> None:
    runs = sub.add_parser("runs", help="list saved runs")
    runs.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    runs.add_argument(
        "--out", default=None, help="studio folder to list (default: $MNIST_STUDIO_HOME or ./studio_data)"
    )
    runs.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mnist_core.runs.listing import scan_runs

    home = Path(args.out).expanduser() if args.out else None
    if home is not None and home.exists() and not home.is_dir():
        raise CliError(f"--out {args.out} is a file, not a studio folder")
    listing = scan_runs(home)
    if listing.note:
        err(listing.note)
    runs = listing.runs
    if args.json:
        for r in runs:
            print_json(
                {
                    "id": r.id,
                    "path": str(r.path),
                    "model": r.config.summary(),
                    "status": r.meta.get("status"),
                    "val_accuracy": r.meta.get("val_accuracy"),
                    "created": r.meta.get("created"),
                }
            )
        return 0
    if not runs:
        print("No saved runs yet: python -m mnist_core train")
        return 0
    print(f"{'run':34} {'model':28} {'status':13} {'val acc':>8}  created")
    for r in runs:
        acc = r.meta.get("val_accuracy")
        print(
            f"{r.id:34} {r.config.summary():28} {r.meta.get('status') or '-':13} "
            f"{(f'{acc:.2%}' if isinstance(acc, float) else '-'):>8}  {r.meta.get('created') or ''}"
        )
    return 0
