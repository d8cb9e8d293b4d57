"""What a visitor may reach when the app is shared on a network: data folders and the demo password.

By default the app listens on loopback only, and then the user at the keyboard owns the disk.
Once it is shared (`make run HOST=0.0.0.0`), a visitor's folder path must lie under an allowed
data root (`MNIST_STUDIO_DATA_ROOTS`, os.pathsep-separated; default: the studio's data cache and
the home folder), and every refusal reads the same, whether the folder is missing, is a file or
lies elsewhere: the message never tells a visitor anything about the disk outside those roots.
`MNIST_STUDIO_PASSWORD`, when set, is the password every session must give once
(`password_ok` compares in constant time). The CLI's --data folders belong to the user running
it and are not restricted.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mnist_core.config import cache_dir
from mnist_core.data.errors import DataError
from mnist_core.data.idx import IDX_FILES, find_idx
from mnist_core.files import FileRefused, check_within

ROOTS_ENV = "MNIST_STUDIO_DATA_ROOTS"
PASSWORD_ENV = "MNIST_STUDIO_PASSWORD"
# One message for "missing", "not a folder" and "not allowed": telling them apart would let a
# visitor map the server's disk.
REFUSED = (
    "That data folder is not available: give an existing folder inside the data folders "
    f"this app may read (set by its operator in {ROOTS_ENV})."
)


def allowed_data_roots() -> list[Path]:
    """The folders a shared app may read data from, resolved (symlinks and .. removed)."""
    raw = os.environ.get(ROOTS_ENV, "")
    if raw.strip():
        candidates = [Path(part.strip()).expanduser() for part in raw.split(os.pathsep) if part.strip()]
    else:
        candidates = [cache_dir(), Path.home()]
    roots: list[Path] = []
    for root in candidates:
        resolved = root.resolve()
        if resolved not in roots:
            roots.append(resolved)
    return roots


def check_data_folder(text: str) -> Path:
    """The resolved folder `text` names, if it lies inside an allowed root; DataError(REFUSED) if not.

    Relative paths are taken relative to each root in turn. The check runs on the fully resolved
    path, so neither `..` nor a symlink leads outside a root.
    """
    text = (text or "").strip()
    if not text or "\x00" in text:
        raise DataError(REFUSED)
    roots = allowed_data_roots()
    try:
        given = Path(text).expanduser()
    except RuntimeError:  # "~user" that does not exist
        raise DataError(REFUSED) from None
    for candidate in [given] if given.is_absolute() else [root / given for root in roots]:
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):  # missing, unreadable, a symlink loop
            continue
        if (
            resolved.is_dir()
            and any(resolved.is_relative_to(root) for root in roots)
            and _files_inside(resolved, roots)
        ):
            return resolved
    raise DataError(REFUSED)


def _files_inside(folder: Path, roots: list[Path]) -> bool:
    """Whether every IDX file the folder offers really lies inside a root: a file symlink in an
    allowed folder must not lead out of it either."""
    for stem in (name for pair in IDX_FILES.values() for name in pair):
        found = find_idx(folder, stem)
        if found is None:
            continue
        try:
            check_within(found, roots, what="IDX file")
        except FileRefused:
            return False
    return True


def demo_password() -> str | None:
    """The password a shared demo asks for ($MNIST_STUDIO_PASSWORD), or None when there is none."""
    return os.environ.get(PASSWORD_ENV) or None


def password_ok(given: str | None, expected: str | None) -> bool:
    """Whether `given` is the password, compared in constant time (no timing hint on the prefix)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class PasswordBackoff:
    """Wrong passwords slow down whoever gives them: each failure of a key (a browser session, a
    client address) makes that key's next wrong answer wait twice as long, from FIRST_DELAY_S up
    to MAX_DELAY_S, so guessing runs at a few tries a minute instead of one a second. A right
    password clears the session's count; the address keeps its own until its failures are
    FORGET_S old. Thread-safe: the app's sessions share one instance."""

    FIRST_DELAY_S = 0.5
    MAX_DELAY_S = 30.0
    FORGET_S = 3600.0
    MAX_KEYS = 10_000  # a flood of addresses cannot grow the table without bound

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # key → (count, time of the last)
        self._lock = threading.Lock()

    def failed(self, keys: Iterable[str]) -> float:
        """Count one wrong password for each key; the delay (s) to wait before answering it."""
        now = self._clock()
        with self._lock:
            self._forget(now)
            counts = []
            for key in keys:
                count = self._failures.get(key, (0, now))[0] + 1
                self._failures[key] = (count, now)
                counts.append(count)
        worst = max(counts, default=1)
        return min(self.MAX_DELAY_S, self.FIRST_DELAY_S * 2 ** min(worst - 1, 32))

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _forget(self, now: float) -> None:
        stale = [k for k, (_, at) in self._failures.items() if now - at > self.FORGET_S]
        for key in stale:
            del self._failures[key]
        while len(self._failures) >= self.MAX_KEYS:  # oldest first
            del self._failures[min(self._failures, key=lambda k: self._failures[k][1])]


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to `address` (Streamlit's server.address) is reachable only locally.

    None or "" means every interface, so not loopback.
    """
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve to a public interface
        return False
