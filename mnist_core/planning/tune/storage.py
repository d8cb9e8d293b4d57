"""Where studies live: an Optuna RDB storage named by a SQLAlchemy URL (a SQLite file in the
studio home by default, $MNIST_STUDIO_STORAGE when set, e.g. a shared PostgreSQL database),
opened once per process with a heartbeat so that dead workers' trials can be failed."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_core.config import studio_home
from mnist_core.planning.tune import TuneError

if TYPE_CHECKING:  # optuna costs ~0.5 s to import; only the functions that use it import it
    from optuna.storages import RDBStorage

STUDIES_FILE = "studies.db"
STORAGE_ENV = "MNIST_STUDIO_STORAGE"  # where the app and workers find studies when no URL is given
HEARTBEAT_S = 10  # a trial silent for GRACE_FACTOR x this long is marked failed
GRACE_FACTOR = 3
MAX_HEARTBEAT_S = (
    3600  # a beat an hour apart still tells a dead worker; far beyond, the thread's wait overflows
)


def default_storage_url(home: Path | None = None) -> str:
    """$MNIST_STUDIO_STORAGE (e.g. a shared PostgreSQL database) when set and no `home` is
    given, else the embedded study store: a SQLite file in the studio home."""
    shared = os.environ.get(STORAGE_ENV, "").strip()
    if shared and home is None:
        return normalize_url(shared)
    return "sqlite:///" + str((Path(home or studio_home()) / STUDIES_FILE).expanduser().resolve())


def normalize_url(storage: str | None, home: Path | None = None) -> str:
    """None → the embedded store; a plain path → a SQLite file; else a checked SQLAlchemy URL."""
    if storage is None or not str(storage).strip():
        return default_storage_url(home)
    text = str(storage).strip()
    if "\x00" in text:
        raise TuneError("The study storage names a path with a NUL character: give a file path or a URL.")
    if "://" not in text:
        return "sqlite:///" + str(Path(text).expanduser().resolve())
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = sqlalchemy.engine.make_url(text)
        url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        scheme = text.split("://", 1)[0]
        raise TuneError(
            f"Unknown study storage {scheme!r}: give a SQLAlchemy URL such as "
            "sqlite:///PATH/studies.db or postgresql://USER@HOST/DATABASE "
            "(or a plain path for a SQLite file)."
        ) from None
    return text


def storage_label(storage: str | None) -> str:
    """The storage URL with any password hidden, for messages and tables."""
    url = normalize_url(storage)
    import sqlalchemy

    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # a label must never fail
        return url.split("@")[-1]


_STORAGES: dict[tuple[str, int], RDBStorage] = {}
_STORAGES_LOCK = threading.Lock()


def open_storage(storage: str | None = None, heartbeat: int = HEARTBEAT_S) -> RDBStorage:
    """Optuna's RDB storage for `storage` (cached per process: opening checks the schema)."""
    url = normalize_url(storage)
    if not 1 <= heartbeat <= MAX_HEARTBEAT_S:
        raise TuneError(f"The heartbeat must be 1 to {MAX_HEARTBEAT_S} seconds, got {heartbeat}.")
    key = (url, int(heartbeat))
    with _STORAGES_LOCK:
        if key not in _STORAGES:
            _STORAGES[key] = _connect(url, int(heartbeat))
        return _STORAGES[key]


def _connect(url: str, heartbeat: int) -> RDBStorage:
    import optuna
    import sqlalchemy

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # Optuna logs to stderr; keep it quiet
    backend = sqlalchemy.engine.make_url(url).get_backend_name()
    engine: dict[str, Any] = {"pool_pre_ping": True}
    if backend == "sqlite":
        _prepare_sqlite(url)
        engine["connect_args"] = {"timeout": 60}  # wait for another worker's write, never fail
    elif backend == "postgresql":
        engine["connect_args"] = {"connect_timeout": 10}
    for attempt in range(4):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeat
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=heartbeat,
                    grace_period=GRACE_FACTOR * heartbeat,
                )
        except ImportError as exc:
            raise TuneError(f"The database driver for {backend} is not installed ({exc}).") from exc
        except Exception as exc:  # SQLAlchemy's OperationalError and friends: unreachable, refused
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            if attempt < 3 and _schema_race(exc):
                time.sleep(0.2 + attempt * 0.5)  # the other worker finishes creating the tables
                continue
            raise TuneError(f"Cannot open the study storage {storage_label(url)}: {reason}") from exc
    raise AssertionError("unreachable")


def storage_exists(storage: str | None) -> bool:
    """Whether there can be studies to read: False for a SQLite file not yet created (reading
    must not create it, nor its folder); a server database is asked when opened."""
    import sqlalchemy

    url = sqlalchemy.engine.make_url(normalize_url(storage))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return True
    return Path(url.database).is_file()


def _schema_race(exc: Exception) -> bool:
    """Two workers creating the tables of a new database at once: one of them loses."""
    import sqlalchemy

    text = str(exc).lower()
    return isinstance(exc, sqlalchemy.exc.IntegrityError) or "already exists" in text or "duplicate" in text


def _prepare_sqlite(url: str) -> None:
    """Create the folder, and put a new database in WAL mode (readers never block the writer)."""
    import sqlalchemy

    database = sqlalchemy.engine.make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            with sqlite3.connect(path, timeout=60) as con:
                con.execute("PRAGMA journal_mode=WAL")
    except (OSError, sqlite3.Error) as exc:
        raise TuneError(f"Cannot create the study database {path}: {exc}") from exc
