"""The app's local cluster: its workers yield the CPU to the app (every thread niced), load torch
before their first job, and get the allocator settings a training needs (not Dask's own)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from mnist_core.jobs.priority import NICENESS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_thread_of_the_process_is_lowered_and_new_threads_inherit():
    # in a child process: a niceness cannot be raised back, and the test process must keep its own
    script = textwrap.dedent(
        """
        import os, threading
        from mnist_core.jobs.priority import lower_priority
        seen = {}
        ready, go = threading.Event(), threading.Event()
        def older():
            ready.set(); go.wait()
            seen["older"] = os.getpriority(os.PRIO_PROCESS, 0)
        t = threading.Thread(target=older); t.start(); ready.wait()
        before = os.getpriority(os.PRIO_PROCESS, 0)
        after = lower_priority()
        go.set(); t.join()
        newer = threading.Thread(target=lambda: seen.__setitem__("newer", os.getpriority(os.PRIO_PROCESS, 0)))
        newer.start(); newer.join()
        print(before, after, seen["older"], seen["newer"])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT, timeout=60
    )
    before, after, older, newer = map(int, out.stdout.split())
    expected = min(19, before + NICENESS)
    assert (after, older, newer) == (expected, expected, expected)


@pytest.mark.slow
def test_a_local_cluster_runs_its_tasks_below_the_app():
    from mnist_core.jobs.cluster import ALLOCATOR_DEFAULT, ALLOCATOR_ENV, Layout, start_local

    app = os.getpriority(os.PRIO_PROCESS, 0)
    cluster = start_local(Layout(1, 1, 1))
    try:
        task = cluster.client.submit(os.getpriority, os.PRIO_PROCESS, 0, pure=False).result(timeout=120)
        loop = next(iter(cluster.client.run(os.getpriority, os.PRIO_PROCESS, 0).values()))
        warmed = next(iter(cluster.client.run(lambda: "torch" in sys.modules).values()))
        env = next(iter(cluster.client.run(lambda: {k: os.environ.get(k) for k in ALLOCATOR_ENV}).values()))
    finally:
        cluster.close()
    assert task == loop == min(19, app + NICENESS)
    assert warmed  # torch was loaded before the first job, not on its way in
    assert env == {k: os.environ.get(k, ALLOCATOR_DEFAULT) for k in ALLOCATOR_ENV}
    assert env["MALLOC_TRIM_THRESHOLD_"] != "65536"  # Dask's nanny default
    assert os.getpriority(os.PRIO_PROCESS, 0) == app  # the app itself is untouched
