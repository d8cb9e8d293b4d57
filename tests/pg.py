"""A throw-away PostgreSQL server for tests: initdb in a temporary folder, pg_ctl start on a free
loopback port with its unix socket in the same folder, stopped and deleted afterwards.

It needs Debian's `postgresql` binaries (scripts/install_postgres.sh, run by `make test`).
initdb refuses to run as root, so as root the server runs as the `postgres` user (which the
package creates) through `runuser`, in a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVER_USER = "postgres"


def pg_bin() -> Path | None:
    """The folder holding initdb and pg_ctl (Debian keeps them off PATH), newest version first."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    found.sort(key=lambda p: [int(n) for n in re.findall(r"\d+", p)], reverse=True)
    return Path(found[0]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(root: Path) -> list[str]:
    """The command prefix that runs the server binaries as a user allowed to (never root)."""
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam(SERVER_USER)  # KeyError: no such user, reported by the caller
    os.chown(root, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", SERVER_USER, "--"]


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:5])}… failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-800:]}"
        )


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yield its base URL, postgresql://postgres@127.0.0.1:PORT (trust auth)."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed: bash scripts/install_postgres.sh")
    root = Path(tempfile.mkdtemp(prefix="mnist-pg-"))
    data, log = root / "data", root / "server.log"
    try:
        prefix = _as_server_user(root)
        _run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ]
        )
        port = _start(prefix, bindir, data, log, root)
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}"
        finally:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _start(prefix: list[str], bindir: Path, data: Path, log: Path, root: Path) -> int:
    """pg_ctl start on a free port; another process may grab the port first, so try a few."""
    error: Exception | None = None
    for _ in range(3):
        port = _free_port()
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        try:
            _run(
                [
                    *prefix,
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    options,
                    "start",
                ]
            )
            return port
        except RuntimeError as exc:
            error = RuntimeError(f"{exc}\n{log.read_text()[-800:] if log.exists() else ''}")
    raise error  # type: ignore[misc]


def create_database(base_url: str, name: str) -> str:
    """A new, empty database on the server; returns its URL."""
    import psycopg

    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}"')
        con.execute(f'CREATE DATABASE "{name}"')
    return f"{base_url}/{name}"
