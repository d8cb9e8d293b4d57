"""`labels audit | list | show | apply`: find suspect labels, list and show audits, record decisions.

`labels audit` prints progress on stderr and, last on stdout, one JSON line with the suspects
(most suspect first). `labels apply AUDIT --top N --action relabel|exclude` records decisions for
the first N suspects without the UI (relabel takes each suspect's suggested label).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from mnist_core.cli.common import CliError, add_preset_flag, ctrl_c_stops, err, print_json

ACTIONS = ("relabel", "exclude")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("labels", help="audit labels for mistakes and record review decisions")
    verbs = parser.add_subparsers(dest="verb", required=True)
    audit = verbs.add_parser("audit", help="rank suspect labels by K-fold cross-validation and cleanlab")
    audit.add_argument("--data", default="auto", help="sample | mnist | auto | PATH to an IDX folder")
    add_preset_flag(audit, "the model each fold trains (default: the quick CNN)")
    audit.add_argument("--folds", type=int, default=5, help="K of the K-fold cross-validation (default 5)")
    audit.add_argument("--seed", type=int, default=0, help="seed of the fold split (default 0)")
    audit.add_argument(
        "--include-drawings", action="store_true", help="audit the labelled Deploy drawings too"
    )
    for verb in (audit, verbs.add_parser("list", help="list saved audits")):
        verb.add_argument(
            "--out", default=None, help="studio folder (default: $MNIST_STUDIO_HOME or ./studio_data)"
        )
    show = verbs.add_parser("show", help="print one audit as JSON")
    show.add_argument("audit", help="audit id (labels list)")
    apply = verbs.add_parser("apply", help="record decisions for the top N suspects of an audit")
    apply.add_argument("audit", help="audit id (labels list)")
    apply.add_argument("--top", type=int, required=True, help="how many suspects, most suspect first")
    apply.add_argument("--action", choices=ACTIONS, required=True)
    for verb in (show, apply):
        verb.add_argument(
            "--out", default=None, help="studio folder (default: $MNIST_STUDIO_HOME or ./studio_data)"
        )
    parser.set_defaults(handler=run)


def run(args: Any) -> int:
    home = Path(args.out).expanduser() if args.out else None
    return {"audit": _audit, "list": _list, "show": _show, "apply": _apply}[args.verb](args, home)


def _audit(args: Any, home: Path | None) -> int:
    from mnist_core.labels.job import audit_work
    from mnist_core.labels.store import load_audit

    stop = threading.Event()
    with ctrl_c_stops(stop):
        for rec in audit_work(
            stop,
            args.data,
            preset=args.preset or "",
            folds=args.folds,
            seed=args.seed,
            include_drawings=args.include_drawings,
            home=str(home) if home else None,
        ):
            err(rec["text"])
            if rec["kind"] == "saved":
                print_json(load_audit(rec["audit_id"], home).to_json())
                return 0
    raise CliError("the audit was stopped before its last fold: nothing was saved")


def _list(args: Any, home: Path | None) -> int:
    from mnist_core.labels.store import DecisionStore, list_audits

    audits = list_audits(home)
    if not audits:
        print("No audits yet: python -m mnist_core labels audit --data sample")
        return 0
    store = DecisionStore(home)
    for a in audits:
        counts = store.counts(a.data)
        print(
            f"{a.id}  {a.source_name[:40]:40}  {a.n_images:>7,} images  {a.n_flagged:>5} suspects"
            f"  {counts['reviewed']:>5} reviewed  {a.created}"
        )
    return 0


def _show(args: Any, home: Path | None) -> int:
    from mnist_core.labels.store import load_audit

    print_json(load_audit(args.audit, home).to_json())
    return 0


def _apply(args: Any, home: Path | None) -> int:
    from mnist_core.labels.store import DecisionStore, load_audit

    audit = load_audit(args.audit, home)
    if args.top < 1:
        raise CliError(f"--top must be at least 1, got {args.top}")
    chosen = audit.suspects[: args.top]
    rows = [(audit.data, s.source, s.index, args.action, s.given, s.suggested) for s in chosen]
    store = DecisionStore(home)
    store.decide_many(rows)
    counts = store.counts(audit.data)
    print_json({"audit": audit.id, "applied": len(rows), "action": args.action, **counts})
    if args.top > len(chosen):
        err(f"the audit has {len(chosen)} suspects; all of them were recorded")
    return 0
