"""Why a job cannot start or be stopped: each in one line a page flashes or the CLI prints."""

from __future__ import annotations


class JobBusy(RuntimeError):
    """A job cannot be started or stopped by this session (limit reached, someone else's)."""


class SchedulerUnreachable(JobBusy):
    """The configured Dask scheduler does not answer: no job can start until it is back."""


class ClusterError(ValueError):
    """A cluster setting that makes no sense (e.g. MNIST_STUDIO_WORKERS=zero)."""
