"""Imported by every worker as it starts (`dask worker ... --preload mnist_core.jobs.warm`; the
app's local cluster preloads it through jobs.local_worker): torch and the trainer load before the
worker takes a job.

A task's function is unpickled on the worker's event loop, so a first job that had to import
torch there would freeze the worker for seconds (tens of seconds on a busy machine): the job
would sit "queued" although a worker had taken it, and Stop could not reach it.
"""

import torch  # noqa: F401

import mnist_core.jobs.remote  # noqa: F401
import mnist_core.training.pipeline  # noqa: F401
