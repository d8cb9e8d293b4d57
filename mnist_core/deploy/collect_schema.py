"""The drawings database's schema, and its migration from older versions, in one transaction.

Version 2 lets a drawing be saved without a label ("label later": `true_label` NULL). SQLite
cannot drop a NOT NULL constraint in place, so a version-1 file is migrated by copying its
table into a new one with the same rows and ids, inside the write transaction that checks the
version, so racing sessions migrate it once and a reader never sees it half done.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

APPLICATION_ID = 0x4D4E4457  # "MNDW": marks a file as ours, so we never write into someone else's SQLite file
SCHEMA_VERSION = 2

_TABLE = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    true_label INTEGER CHECK (true_label BETWEEN 0 AND 9),
    predicted INTEGER CHECK (predicted BETWEEN 0 AND 9),
    confidence REAL,
    model TEXT,
    source TEXT NOT NULL,
    image28 BLOB NOT NULL CHECK (length(image28) = 784),
    original_png BLOB
)"""
_INDEX = "CREATE INDEX IF NOT EXISTS drawings_by_label ON drawings (true_label)"
_FIELDS = "id, created, true_label, predicted, confidence, model, source, image28, original_png"


def app_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA application_id").fetchone()[0])


def journal_mode(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def ensure_schema(conn: sqlite3.Connection, foreign: Callable[[], Exception]) -> None:
    """Create the schema in a fresh file, migrate an older one, switch to WAL; `foreign()` is
    raised for an SQLite file of some other program."""
    if app_id(conn) == APPLICATION_ID and _version(conn) == SCHEMA_VERSION and journal_mode(conn) == "wal":
        return  # the usual case: nothing to create, no lock taken
    # One write transaction decides and creates: every racer sees either no schema or all of
    # it with our application_id, never the half-way state that looks like a foreign file.
    conn.execute("BEGIN IMMEDIATE")
    try:
        ours = app_id(conn)
        n_tables = conn.execute("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").fetchone()[0]
        if ours != APPLICATION_ID and (ours != 0 or n_tables > 0):
            raise foreign()
        if ours != APPLICATION_ID:
            conn.execute(_TABLE.format(name="drawings"))
            conn.execute(_INDEX)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        elif _version(conn) < 2:
            _label_later(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    # WAL (readers never block the writer) persists in the file; it cannot be switched inside
    # a transaction, and SQLite reports the old mode when another connection is in the way
    if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
        raise sqlite3.OperationalError("database is locked (switching to WAL)")


def _label_later(conn: sqlite3.Connection) -> None:
    """Version 1 → 2: the same rows and ids in a table whose label may be NULL."""
    conn.execute(_TABLE.format(name="drawings_v2"))
    conn.execute(f"INSERT INTO drawings_v2 ({_FIELDS}) SELECT {_FIELDS} FROM drawings")
    conn.execute("DROP TABLE drawings")  # its index goes with it
    conn.execute("ALTER TABLE drawings_v2 RENAME TO drawings")
    conn.execute(_INDEX)
