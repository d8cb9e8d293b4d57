"""Work functions for the cluster tests, in a module the workers import by its full name
(`tests.cluster_work`): pytest imports test files under a bare name that workers cannot."""

from __future__ import annotations

import time


def steps(stop, n=3000, pause=0.02):
    """A slow work (a minute) that stops when asked."""
    for i in range(n):
        if stop.is_set():
            return
        yield {"kind": "step", "progress": (i + 1) / n, "text": f"step {i + 1}"}
        time.sleep(pause)


def quick(stop):
    yield {"kind": "step", "progress": 1.0, "text": "done"}
