"""Preloaded by every worker of the app's own local cluster (`start_local`), also when its nanny
restarts one after a crash: the worker yields the CPU to the app (jobs.priority), then loads
torch and the trainer (jobs.warm) before it takes a job. Workers of a configured scheduler preload
only `mnist_core.jobs.warm`, as the README says: their priority is their operator's business."""

from __future__ import annotations

from mnist_core.jobs.priority import lower_priority


def dask_setup(worker) -> None:
    """Dask calls this as the worker starts."""
    lower_priority()
    import mnist_core.jobs.warm  # noqa: F401
