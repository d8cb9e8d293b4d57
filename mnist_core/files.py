"""The one guarded way the core opens a file a user named: images, IDX files, space files, run files.

Every reader goes through here, so the CLI, the pages and the jobs share one behaviour:
- only regular files are read: a FIFO would block forever, a device such as /dev/zero never ends,
  a directory or a socket is not data; the check is made on the opened descriptor (`fstat`), so a
  file swapped between a check and the open cannot slip past it;
- the real path (symlinks resolved) can be required to lie under given roots, so a link inside an
  allowed folder cannot lead out of it;
- the size is checked before reading and the read is capped, so a huge or growing file costs at
  most the cap, never what it claims;
- a symlink loop is reported as damage, not raised as a bare OSError.

Each refusal is a `FileRefused` whose text is one line a person can act on.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


class FileRefused(ValueError):
    """A user-supplied path that is not a readable regular file where it may be (one line)."""


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def real_path(path: str | os.PathLike[str], *, what: str = "file") -> Path:
    """The path with every symlink resolved; a loop or a missing target is a `FileRefused`."""
    p = Path(path).expanduser()
    try:
        return p.resolve(strict=True)
    except FileNotFoundError:
        raise FileRefused(f"{what} {p} does not exist") from None
    except (RuntimeError, OSError) as exc:  # RuntimeError: symlink loop on older Pythons
        if isinstance(exc, OSError) and exc.errno not in (errno.ELOOP, None):
            raise FileRefused(f"{what} {p} cannot be read: {exc.strerror or exc}") from None
        raise FileRefused(f"{what} {p} is damaged: its symlinks form a loop") from None


def is_within(path: Path, roots: Iterable[str | os.PathLike[str]]) -> bool:
    """Whether the real path lies under one of the roots' real paths."""
    for root in roots:
        try:
            real_root = Path(root).expanduser().resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if path == real_root or path.is_relative_to(real_root):
            return True
    return False


def check_within(
    path: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]] | None, *, what: str = "file"
) -> Path:
    """The real path, refused when `roots` is given and it lies outside all of them."""
    real = real_path(path, what=what)
    if roots is not None and not is_within(real, list(roots)):
        raise FileRefused(f"{what} {Path(path)} leads outside the folders it may be read from")
    return real


@contextmanager
def open_regular(
    path: str | os.PathLike[str],
    *,
    roots: Iterable[str | os.PathLike[str]] | None = None,
    limit: int | None = None,
    what: str = "file",
) -> Iterator[IO[bytes]]:
    """Open a regular file for binary reading (refusing anything else, or one over `limit` bytes).

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer; the descriptor
    is then checked with fstat, and blocking mode restored for an ordinary file.
    """
    real = check_within(path, roots, what=what)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except IsADirectoryError:
        raise FileRefused(f"{what} {Path(path)} is a folder, not a file") from None
    except OSError as exc:
        raise FileRefused(f"{what} {Path(path)} cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{what} {Path(path)} is {_describe(info.st_mode)}, not a regular file")
        if limit is not None and info.st_size > limit:
            raise FileRefused(
                f"{what} {Path(path)} is {info.st_size:,} bytes; at most {limit:,} are accepted"
            )
        os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def read_bytes(
    path: str | os.PathLike[str],
    *,
    limit: int,
    roots: Iterable[str | os.PathLike[str]] | None = None,
    what: str = "file",
) -> bytes:
    """The file's bytes, at most `limit` of them (a file that grows past it while read is refused)."""
    with open_regular(path, roots=roots, limit=limit, what=what) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise FileRefused(f"{what} {Path(path)} is over {limit:,} bytes; at most {limit:,} are accepted")
    return data


def read_text(
    path: str | os.PathLike[str],
    *,
    limit: int,
    roots: Iterable[str | os.PathLike[str]] | None = None,
    what: str = "file",
) -> str:
    """The file as UTF-8 text, size-capped like `read_bytes`."""
    data = read_bytes(path, limit=limit, roots=roots, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileRefused(f"{what} {Path(path)} is not UTF-8 text") from None


def read_json(
    path: str | os.PathLike[str],
    *,
    limit: int,
    roots: Iterable[str | os.PathLike[str]] | None = None,
    what: str = "file",
) -> Any:
    """The file parsed as JSON, size-capped like `read_bytes`."""
    text = read_text(path, limit=limit, roots=roots, what=what)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FileRefused(f"{what} {Path(path)} is not valid JSON: {str(exc).splitlines()[0]}") from None


def is_dir(path: str | os.PathLike[str]) -> bool | None:
    """Whether `path` is a folder: True, False, or None when it cannot be told (a symlink loop, no access)."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
    except OSError:  # ELOOP, EACCES: the entry is there but cannot be followed
        return None
