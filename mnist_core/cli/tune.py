"""`tune`: run one hyperparameter search worker on a study (several workers with the same
--storage and --study share its trials), or list the studies of a storage.

Progress lines go to stderr; the search's result is one JSON line on stdout. Bad input raises
the domain's TuneError (exit status 2, mapped in cli/main.py); what is wrong with the flags
themselves is a CliError.
"""

from __future__ import annotations

import argparse
import threading
from dataclasses import replace
from typing import Any

from mnist_core.cli.common import CliError, add_preset_flag, err, print_json
from mnist_core.config import DEFAULT_PRESET, PRESETS, TrainConfig
from mnist_core.planning.tune.params import EPOCHS_HELP, PARAM_SPECS
from mnist_core.planning.tune.space import TUNABLE_FAMILIES, SearchSpace, default_space, family_base
from mnist_core.planning.tune.storage import GRACE_FACTOR, HEARTBEAT_S
from mnist_core.planning.tune.study import OBJECTIVES
from mnist_core.planning.tune.worker import PRUNERS


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "tune",
        help="search hyperparameters with Optuna (one worker; run several to share a study)",
        description="Run a search worker: trials are shared through the study in --storage, so "
        "several workers (on this or other machines) with the same --storage and "
        "--study cooperate. Progress goes to stderr; the last line on stdout is JSON.",
    )
    p.add_argument("--study", help="study name (created if it does not exist, else joined)")
    p.add_argument(
        "--storage",
        default=None,
        help="SQLAlchemy URL Optuna accepts, e.g. postgresql://USER@HOST/DB, or a path "
        "to a SQLite file (default: $MNIST_STUDIO_STORAGE, else studies.db in "
        "$MNIST_STUDIO_HOME or ./studio_data)",
    )
    p.add_argument("--list", action="store_true", help="list the studies in --storage and exit")
    p.add_argument("--json", action="store_true", help="with --list: one JSON line per study")
    p.add_argument("--trials", type=int, default=None, help="trials this worker runs")
    p.add_argument(
        "--timeout", type=float, default=None, help="seconds after which this worker starts no new trial"
    )
    p.add_argument(
        "--data",
        default=None,
        help="sample | mnist | auto | PATH to IDX files (default: the study's, or auto for a new study)",
    )
    p.add_argument(
        "--objective",
        choices=sorted(OBJECTIVES),
        default=None,
        help="val_acc (maximize validation accuracy, the default) or val_loss (minimize)",
    )
    add_preset_flag(p, f"base settings of a new study (default: {DEFAULT_PRESET})")
    p.add_argument(
        "--model",
        choices=TUNABLE_FAMILIES,
        default=None,
        help="model family to search (default: the preset's)",
    )
    p.add_argument("--space", default=None, help="JSON file holding a search space (as the app saves it)")
    p.add_argument(
        "--search",
        default=None,
        help=f"comma-separated parameters to search, from the family's default space: "
        f"{', '.join(PARAM_SPECS)}",
    )
    p.add_argument(
        "--range",
        action="append",
        default=[],
        metavar="NAME=LOW:HIGH",
        help="set (and turn on) a parameter's range, e.g. lr=0.001:0.02, or its choices, "
        "e.g. batch_size=128,256",
    )
    p.add_argument("--epochs", type=int, default=None, help=EPOCHS_HELP)
    p.add_argument(
        "--pruner",
        choices=PRUNERS,
        default="median",
        help="stop hopeless trials early: median (default), halving (successive halving) or none",
    )
    p.add_argument(
        "--sampler-seed",
        type=int,
        default=None,
        help="seed of the TPE sampler (give each worker its own, or none)",
    )
    p.add_argument(
        "--heartbeat",
        type=int,
        default=HEARTBEAT_S,
        help=f"seconds between this worker's 'still alive' marks; a trial silent for "
        f"{GRACE_FACTOR}x as long is marked failed by the next worker (default {HEARTBEAT_S})",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args)
    if not args.study:
        raise CliError("--study NAME is required (or --list to see the studies).")
    if args.trials is None and args.timeout is None:
        raise CliError("Give a budget: --trials N, --timeout SECONDS, or both.")
    return _search(args)


def _search(args: argparse.Namespace) -> int:
    from mnist_core.planning.tune.storage import storage_label
    from mnist_core.planning.tune.worker import run_search

    base = _base_from_args(args)
    space = _space_from_args(args, base)
    stop = threading.Event()
    end: dict[str, Any] | None = None
    try:
        for rec in run_search(
            args.study,
            args.storage,
            base,
            space,
            args.trials,
            args.timeout,
            args.data,
            args.objective,
            stop,
            pruner=args.pruner,
            seed=args.sampler_seed,
            heartbeat=args.heartbeat,
        ):
            err(rec["text"])
            if rec["kind"] == "search_end":
                end = rec
    except KeyboardInterrupt:
        stop.set()
        raise CliError("interrupted (the running trial was marked failed)") from None
    assert end is not None
    print_json(
        {
            "study": end["study"],
            "storage": storage_label(args.storage),
            "objective": end["objective"],
            "best_value": end["best_value"],
            "best_params": end["best_params"],
            "best_trial": end["best_number"],
            "n_complete": end["n_complete"],
            "n_pruned": end["n_pruned"],
            "n_failed": end["n_failed"],
            "this_worker": end["this_worker"],
        }
    )
    return 0


def _base_from_args(args: argparse.Namespace) -> TrainConfig | None:
    if args.preset is None and args.model is None:
        return None  # the study's own, or the default for a new study
    if args.preset is None:
        return family_base(args.model)
    base = PRESETS[args.preset]
    return base.replace(model=args.model) if args.model else base


def _space_from_args(args: argparse.Namespace, base: TrainConfig | None) -> SearchSpace | None:
    from mnist_core.planning.tune.space_text import apply_range, read_space, search_only

    if args.space is None and args.search is None and not args.range and args.epochs is None:
        return None  # the study's own, or the family's default for a new study
    if args.space is not None:
        space = read_space(args.space)
    else:
        space = default_space(args.model or (base.model if base else PRESETS[DEFAULT_PRESET].model))
    if args.search is not None:
        space = search_only(space, args.search)
    for item in args.range:
        space = apply_range(space, item)
    if args.epochs is not None:
        space = replace(space, epochs=args.epochs)
    return space


def _list(args: argparse.Namespace) -> int:
    from mnist_core.planning.tune.results import list_studies
    from mnist_core.planning.tune.storage import storage_label

    rows = list_studies(args.storage)
    if args.json:
        for row in rows:
            print_json(row)
        return 0
    if not rows:
        print(
            f"No studies in {storage_label(args.storage)} yet: python -m mnist_core tune --study NAME --trials N"
        )
        return 0
    print(
        f"{'study':24} {'objective':9} {'model':7} {'trials':>6} {'done':>5} {'pruned':>6} "
        f"{'failed':>6} {'best':>9}  started"
    )
    for r in rows:
        best = r["best_value"]
        shown = "-" if best is None else (f"{best:.2%}" if r["objective"] == "val_acc" else f"{best:.4f}")
        print(
            f"{r['name'][:24]:24} {str(r['objective']):9} {str(r['model']):7} {r['n_trials']:6d} "
            f"{r['n_complete']:5d} {r['n_pruned']:6d} {r['n_failed']:6d} {shown:>9}  {r['started'] or ''}"
        )
    return 0
