"""Listing the saved runs: the readable ones newest first, the damaged folders named with a short
reason (for the "damaged run folder skipped" note), and the temporary folders killed writers left
behind removed on the way (a temporary folder's name carries its writer's PID)."""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from mnist_core.files import is_dir
from mnist_core.runs.files import DamagedRun, StorageError
from mnist_core.runs.storage import Run, load_run, runs_dir

# A temporary run folder older than this is an orphan whatever its PID says (PIDs get reused).
STALE_TMP_S = 3600
# A temporary folder whose writer PID is gone is removed once it is this old: a writer in another
# PID namespace (a container sharing the folder) shows as "gone" but is never disturbed mid-save.
DEAD_WRITER_GRACE_S = 60
_TMP_PID = re.compile(r"\.pid(\d+)\.[^.]*$")


@dataclass(frozen=True)
class RunListing:
    """The readable runs (newest first) and the skipped damaged folders as (id, reason)."""

    runs: list[Run]
    damaged: list[tuple[str, str]] = field(default_factory=list)

    @property
    def note(self) -> str:
        """ "1 damaged run folder skipped: <id> (<reason>)", or "" when none was."""
        return damaged_note(self.damaged)


def damaged_note(damaged: list[tuple[str, str]]) -> str:
    """The one-line note listings show for skipped folders; "" when there are none."""
    if not damaged:
        return ""
    n = len(damaged)
    items = ", ".join(f"{run_id} ({reason})" for run_id, reason in damaged)
    return f"{n} damaged run folder{'s' * (n != 1)} skipped: {items}"


def scan_runs(home: Path | None = None) -> RunListing:
    """All readable runs, newest first, and the damaged folders skipped on the way.

    Also removes temporary folders that killed writers left behind (see `remove_stale_temp`).
    """
    root = runs_dir(home)
    if not root.is_dir():
        return RunListing([])
    remove_stale_temp(root)
    runs, damaged = [], []
    for path in sorted(root.iterdir()):
        if path.name.startswith("."):
            continue
        kind = is_dir(path)  # None: a symlink loop or an entry that cannot be followed
        if kind is None:
            damaged.append((path.name, "cannot be opened (a symlink loop or no access)"))
        if not kind:
            continue
        try:
            runs.append(load_run(path))
        except DamagedRun as exc:
            damaged.append((path.name, exc.reason))
        except (StorageError, OSError) as exc:  # e.g. removed while listing, unreadable folder
            damaged.append((path.name, str(exc).split(":")[0][:100]))
    runs.sort(key=lambda r: (r.meta.get("created", ""), r.id), reverse=True)
    return RunListing(runs, damaged)


def remove_stale_temp(root: Path, now: float | None = None) -> list[str]:
    """Delete orphaned `.tmp-*` run folders and leftover `.deleted-*` ones; returns their names.

    A temporary folder is an orphan when it is older than STALE_TMP_S, or when the PID in its name
    is no longer running (and it is older than DEAD_WRITER_GRACE_S).
    """
    now = time.time() if now is None else now
    removed = []
    for path in list(Path(root).glob(".tmp-*")) + list(Path(root).glob(".deleted-*")):
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue  # already gone: another lister or the writer's own rename
        if path.name.startswith(".deleted-") or _orphaned(path.name, age):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def _orphaned(name: str, age: float) -> bool:
    if age > STALE_TMP_S:
        return True
    match = _TMP_PID.search(name)
    return bool(match) and age > DEAD_WRITER_GRACE_S and not _pid_alive(int(match.group(1)))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True
