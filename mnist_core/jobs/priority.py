"""The local cluster's workers run at a lower CPU priority than the app: pages first, batches second.

On one machine the workers and the Streamlit server share the cores. A training uses every core
it is given, so without this a page render waits its turn behind the batches of two trainings;
niced, the render gets the cores the moment it needs them and the trainings lose only that time.
A worker that has the machine to itself trains exactly as fast as before (priority only decides
who waits when both want a core). A configured scheduler's workers are left as their operator
started them.
"""

from __future__ import annotations

import os
from pathlib import Path

NICENESS = 10  # added to the worker's; 19 is the lowest priority

TASKS = Path("/proc/self/task")


def lower_priority(step: int = NICENESS) -> int:
    """Lower this process's priority by `step` and return its new niceness.

    Linux keeps a niceness per thread and `os.nice` changes only the calling one, so every thread
    the worker already has is set (threads started later inherit their creator's); elsewhere
    `os.nice` acts on the whole process."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    target = min(19, current + step)
    if TASKS.is_dir():
        for tid in os.listdir(TASKS):
            try:
                os.setpriority(os.PRIO_PROCESS, int(tid), target)
            except (ProcessLookupError, PermissionError):  # a thread that just ended
                continue
    else:
        os.nice(target - current)
    return os.getpriority(os.PRIO_PROCESS, 0)
