"""Jobs on the Dask cluster (issue 25): what parallel jobs buy, what the cluster costs, and
what the app's process keeps.

- Two jobs at once vs one after the other: two default-preset trainings on the sample, on a
  local cluster of two single-threaded workers (one torch thread each), submitted together
  and then one after the other; wall time of each way. On 2 cores expect little speed-up.
- Overhead: the default preset on the sample through the default local cluster (warm: the
  cluster starts before the clock) vs in one process (`train_and_save`), alternating, each run
  in a fresh process; target <= 1.15x.
- Server RSS idle after 10 trainings: the app's process (the one that submits, follows and
  saves) after 10 default-preset trainings on the cluster, with the workers' memory apart;
  target <= 600 MB.
Printed, never asserted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SCRIPT = """
import os, resource, sys, tempfile, time
from pathlib import Path
from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.jobs import cluster
from mnist_core.jobs.queue import JobQueue
from mnist_core.training.pipeline import train_and_save

def rss_mb(pid=None):
    with open(f"/proc/{pid or 'self'}/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

def run_jobs(queue, n, together):
    jobs, t = [], time.perf_counter()
    for i in range(n):
        job = queue.view(f"s{i}").start([cfg], [f"bench {i}"], data="sample", home=home)
        jobs.append(job)
        if not together:
            job.join()
    for job in jobs:
        job.join()
        if job.snapshot().error:
            raise RuntimeError(job.snapshot().error)
    return time.perf_counter() - t

if __name__ == "__main__":
    mode, cfg = sys.argv[1], PRESETS[DEFAULT_PRESET]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        if mode == "headless":
            t = time.perf_counter()
            for _ in train_and_save(cfg, "sample", home=home):
                pass
            print(time.perf_counter() - t)
        else:
            workers = cluster.cluster().client  # started, torch loaded on each worker, before any clock
            workers.wait_for_workers(cluster.local_layout().workers)
            queue = JobQueue(limit=2)
            if mode == "cluster":
                print(run_jobs(queue, 1, True))
            elif mode == "pair":
                print(run_jobs(queue, 2, True), run_jobs(queue, 2, False))
            else:
                for _ in range(int(sys.argv[2])):
                    run_jobs(queue, 1, True)
                time.sleep(2)
                pids = workers.run(os.getpid).values()
                print(rss_mb(), sum(rss_mb(p) for p in pids))
            cluster.shutdown()
"""


def _run(*args: str, env: dict[str, str] | None = None) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip()[-2000:])
    return [float(x) for x in out.stdout.split()[-2:] if x.replace(".", "", 1).isdigit()]


def bench_pair() -> None:
    print("\n## Two default-preset trainings on the sample: at once vs one after the other")
    print("(a local cluster of 2 workers x 1 thread, 1 torch thread each; fresh process)")
    together, apart = _run("pair", env={"MNIST_STUDIO_WORKERS": "2", "MNIST_STUDIO_THREADS": "1"})
    print(
        f"at once {together:.1f} s, one after the other {apart:.1f} s: speed-up {apart / together:.2f}x "
        f"(target: report; {os.cpu_count()} cores here)"
    )


def bench_overhead(rounds: int = 3) -> None:
    print(f"\n## The cluster's overhead: default preset on the sample, {rounds} rounds alternating")
    plain, remote = [], []
    for _ in range(rounds):
        plain.append(_run("headless")[0])
        remote.append(_run("cluster")[0])
    h, c = statistics.median(plain), statistics.median(remote)
    print(
        f"in one process {h:.2f} s (runs {', '.join(f'{s:.2f}' for s in plain)}); through the local "
        f"cluster {c:.2f} s (runs {', '.join(f'{s:.2f}' for s in remote)})"
    )
    print(f"ratio {c / h:.2f}x   target <= 1.15x")


def bench_idle_rss(trainings: int = 10) -> None:
    print(f"\n## The app's process after {trainings} default-preset trainings on the cluster (idle)")
    server, workers = _run("rss", str(trainings))
    print(f"app process RSS {server:,.0f} MB   target <= 600 MB   (the workers hold {workers:,.0f} MB apart)")


def run() -> None:
    bench_pair()
    bench_overhead()
    bench_idle_rss()
