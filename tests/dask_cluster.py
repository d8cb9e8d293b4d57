"""A throw-away Dask cluster for tests: a real `dask scheduler` and two `dask worker` processes
(one thread each, with their nannies) on a free loopback port, stopped afterwards.

The workers run from the repository root with it on PYTHONPATH, so they import mnist_core (and
the tests' own module-level work functions) as the app does.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).parent / "dask"
PRELOAD = ["--preload", "mnist_core.jobs.warm"]  # as the README tells whoever starts workers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_workers(address: str, n: int, timeout: float = 90) -> None:
    from distributed import Client

    with Client(address, timeout=timeout, set_as_default=False) as client:
        client.wait_for_workers(n, timeout=timeout)


@contextmanager
def dask_cluster(workers: int = 2) -> Iterator[str]:
    """Start a scheduler and `workers` workers; yield the scheduler's tcp://127.0.0.1:PORT."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    common = ["--no-dashboard", "--host", "127.0.0.1"]
    procs = [
        subprocess.Popen(
            [str(DASK), "scheduler", "--port", str(port), *common],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    try:
        time.sleep(1.0)
        for i in range(workers):
            procs.append(
                subprocess.Popen(
                    [str(DASK), "worker", address, "--nthreads", "1", "--name", f"w{i}", *common, *PRELOAD],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        _wait_for_workers(address, workers)
        yield address
    finally:
        for proc in reversed(procs):  # workers first, then the scheduler
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
