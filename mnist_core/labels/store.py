"""Where audits and review decisions live: `<home>/audits/<id>.json` and `<home>/labels.db`.

Audits are written atomically as JSON, one file each. Decisions (keep / relabel / exclude, per
image) are rows in SQLite keyed by (data source, image source, index): a re-audit of the same data
finds the earlier decisions by that key, so nothing reviewed is lost when the suspects change.
A damaged database is refused with one line and left as it is, never overwritten.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mnist_core.config import studio_home
from mnist_core.files import FileRefused, read_json
from mnist_core.labels.audit import SOURCES, Audit, AuditError
from mnist_core.runs.files import write_json

ACTIONS = ("keep", "relabel", "exclude")
AUDIT_LIMIT = 64 * 1024 * 1024  # a full-MNIST audit with every suspect is a few MB
_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
_APP_ID = 0x4D4C4244  # "MLBD": PRAGMA application_id of our decisions database


def audits_dir(home: Path | None = None) -> Path:
    return (home or studio_home()) / "audits"


def save_audit(audit: Audit, home: Path | None = None) -> Path:
    folder = audits_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{audit.id}.json"
    write_json(path, audit.to_json())
    return path


def load_audit(audit_id: str, home: Path | None = None) -> Audit:
    if not _ID.match(audit_id or ""):
        raise AuditError(f"no audit {audit_id!r}: audit ids look like 20261207-134500-a1b2c3 (labels list)")
    path = audits_dir(home) / f"{audit_id}.json"
    if not path.exists():
        raise AuditError(f"no audit {audit_id!r} in {audits_dir(home)} (labels list shows the saved ones)")
    try:
        obj = read_json(path, limit=AUDIT_LIMIT, roots=[audits_dir(home)], what="audit")
    except FileRefused as exc:
        raise AuditError(str(exc)) from None
    if not isinstance(obj, dict):
        raise AuditError(f"audit {audit_id} is damaged: not a JSON object")
    return Audit.from_json(obj)


def list_audits(home: Path | None = None) -> list[Audit]:
    """Saved audits, newest first; damaged files are skipped."""
    folder = audits_dir(home)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json"), reverse=True):
        try:
            out.append(load_audit(path.stem, home))
        except AuditError:
            continue
    return out


@dataclass(frozen=True)
class Decision:
    """What a person decided about one image's label."""

    data: str  # the data source's key
    source: str  # "training" or "drawings"
    index: int
    action: str  # keep | relabel | exclude
    label: int | None  # the new label, for relabel
    given: int  # the label the image had when decided
    decided: str  # UTC, ISO 8601


class DecisionStore:
    """Review decisions in SQLite (one row per image; a later decision replaces an earlier one)."""

    def __init__(self, home: Path | None = None) -> None:
        self.path = (home or studio_home()) / "labels.db"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        try:
            conn = sqlite3.connect(self.path, timeout=5.0)
        except sqlite3.Error as exc:
            raise AuditError(f"the decisions database {self.path} cannot be opened: {exc}") from None
        try:
            with conn:
                if fresh:
                    conn.execute(f"PRAGMA application_id = {_APP_ID}")
                    conn.execute(
                        "CREATE TABLE decisions (data TEXT NOT NULL, source TEXT NOT NULL, idx INTEGER NOT NULL,"
                        " action TEXT NOT NULL, label INTEGER, given INTEGER NOT NULL, decided TEXT NOT NULL,"
                        " PRIMARY KEY (data, source, idx))"
                    )
                elif conn.execute("PRAGMA application_id").fetchone()[0] != _APP_ID:
                    raise AuditError(
                        f"{self.path} is not a decisions database (left untouched; move it away to start afresh)"
                    )
                yield conn
        except sqlite3.DatabaseError as exc:
            raise AuditError(
                f"the decisions database {self.path} is damaged ({exc}); it was left untouched"
            ) from None
        finally:
            conn.close()

    def decide(
        self, data: str, source: str, index: int, action: str, given: int, label: int | None = None
    ) -> None:
        if source not in SOURCES:
            raise AuditError(f"unknown image source {source!r} (one of {', '.join(SOURCES)})")
        if action not in ACTIONS:
            raise AuditError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        if action == "relabel" and (label is None or not 0 <= int(label) <= 9):
            raise AuditError("relabel needs a digit 0-9")
        if index < 0:
            raise AuditError(f"image index {index} is out of range")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    data,
                    source,
                    int(index),
                    action,
                    None if action != "relabel" else int(label),
                    int(given),
                    now,
                ),
            )

    def decide_many(self, rows: list[tuple[str, str, int, str, int, int | None]]) -> None:
        """Several decisions in one transaction: all are stored or none."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for data, source, index, action, given, label in rows:
            if action not in ACTIONS or source not in SOURCES or index < 0:
                raise AuditError(f"bad decision for image {index}: {action} on {source}")
        with self._connect() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (d, s, int(i), a, int(lbl) if a == "relabel" and lbl is not None else None, int(g), now)
                    for d, s, i, a, g, lbl in rows
                ],
            )

    def undo(self, data: str, source: str, index: int) -> None:
        with self._connect() as conn:
            conn.execute(
                "DELETE FROM decisions WHERE data = ? AND source = ? AND idx = ?", (data, source, index)
            )

    def decisions(self, data: str, source: str | None = None) -> dict[tuple[str, int], Decision]:
        """{(source, index): Decision} for one data source."""
        if not self.path.exists():
            return {}
        query = "SELECT data, source, idx, action, label, given, decided FROM decisions WHERE data = ?"
        args: tuple = (data,)
        if source is not None:
            query += " AND source = ?"
            args += (source,)
        with self._connect() as conn:
            rows = conn.execute(query, args).fetchall()
        return {(r[1], int(r[2])): Decision(r[0], r[1], int(r[2]), r[3], r[4], int(r[5]), r[6]) for r in rows}

    def counts(self, data: str) -> dict[str, int]:
        """reviewed / relabelled / excluded / kept for one data source."""
        decisions = self.decisions(data)
        actions = [d.action for d in decisions.values()]
        return {
            "reviewed": len(actions),
            "relabelled": actions.count("relabel"),
            "excluded": actions.count("exclude"),
            "kept": actions.count("keep"),
        }
