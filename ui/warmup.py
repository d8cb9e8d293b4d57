"""Heavy imports in the background, once per server process.

Home needs no torch and renders at once; after it has rendered, torch and the rest load in a
thread, so the visitor's next page does not wait for them.
"""

from __future__ import annotations

import importlib
import logging
import threading

# What the other pages import: torch alone takes about a second, Altair a few tenths.
WARM_MODULES = (
    "torch",
    "mnist_core.training.pipeline",
    "mnist_core.data.explore",
    "mnist_core.evaluation.evaluate",
    "altair",
)
_warmed: set[str] = set()  # modules a warm-up thread has been started for, in this process
_warm_lock = threading.Lock()


def warm_up(modules: tuple[str, ...] | None = None) -> None:
    """Import `modules` in a background thread, each once per server process, so the page or
    view that needs them next finds them loaded. Home calls it after it has rendered (torch and
    the rest, `WARM_MODULES`); Deploy for Captum, before its "why?" view is first opened."""
    with _warm_lock:
        todo = tuple(m for m in (modules or WARM_MODULES) if m not in _warmed)
        _warmed.update(todo)
    if todo:
        threading.Thread(target=_import_all, args=(todo,), name="warm-up", daemon=True).start()


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # a page that needs it reports the failure where it is used
            logging.getLogger(__name__).exception("warming up %s failed", name)
