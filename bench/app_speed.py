"""The app's overhead on training: a job watched the way the Train page watches it, against the
same training run headless; and the staying power of many trainings in one server process.

- Watched vs headless (issue 11, target <= 1.15x): the default preset on the offline sample,
  once through `pipeline.train_and_save` directly and once through the job queue (on the local Dask cluster) while a
  poller thread does what the Train page's live fragment does twice a second: `job.snapshot()`,
  the progress text, the diagnosis, both live chart specs (`charts.curves_spec`) serialised to
  JSON as Streamlit sends them. Each run is a fresh process (as the CLI and the app server
  are); runs alternate (headless, watched, ...) because a shared machine's speed drifts, and
  the medians are compared.
- Staying power (issue 10, target: RSS growth after the 5th training <= 50 MB): 20 default
  trainings back to back through one job manager with the same 2 Hz poller, in a fresh process;
  RSS after the 1st, 5th, 10th and 20th.
Printed, never asserted.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from mnist_core.charts import training as charts
from mnist_core.config import TrainConfig
from mnist_core.jobs import cluster
from mnist_core.jobs.job import JobSnapshot
from mnist_core.jobs.progress import training_progress
from mnist_core.jobs.queue import SessionJobs
from mnist_core.jobs.training import TrainingJob
from mnist_core.training import diagnose
from mnist_core.training.pipeline import train_and_save

POLL_S = 0.5  # the Train page's refresh interval


def draw_like_the_page(snapshot: JobSnapshot, config: TrainConfig) -> int:
    """The core work of one refresh of the Train page's live view; returns the bytes it would send."""
    run = min(snapshot.current, len(snapshot.names) - 1)
    epochs = snapshot.epochs(run)
    batches = snapshot.of_kind("batch", run)
    end = snapshot.latest("end", run)
    training_progress(snapshot, [config.summary()])
    diagnose.diagnose(epochs, config, end["status"] if end else None)
    size = 0
    if epochs or batches:
        size += len(json.dumps(charts.curves_spec("loss", epochs, batches, config.epochs)))
    if epochs:
        size += len(json.dumps(charts.curves_spec("acc", epochs, (), config.epochs)))
    return size


class Poller:
    """A thread that redraws `job` every POLL_S seconds while it runs, as a browser tab would."""

    def __init__(self, job: TrainingJob, config: TrainConfig) -> None:
        self.job, self.config = job, config
        self.polls, self.busy_s = 0, 0.0
        self._thread = threading.Thread(target=self._loop, name="bench-poller", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while self.job.running:
            t = time.perf_counter()
            draw_like_the_page(self.job.snapshot(), self.config)
            self.busy_s += time.perf_counter() - t
            self.polls += 1
            time.sleep(POLL_S)

    def join(self) -> None:
        self._thread.join()


def headless(config: TrainConfig, home: Path, data: str = "sample") -> float:
    t = time.perf_counter()
    for _ in train_and_save(config, data, home=home):
        pass
    return time.perf_counter() - t


def watched(
    config: TrainConfig, home: Path, manager: SessionJobs, data: str = "sample"
) -> tuple[float, Poller]:
    cluster.cluster()  # a cluster is started once per server, not per training: not timed
    t = time.perf_counter()
    job = manager.start([config], ["bench"], data=data, home=home)
    poller = Poller(job, config)
    job.join()
    elapsed = time.perf_counter() - t
    poller.join()
    if job.snapshot().error:
        raise RuntimeError(job.snapshot().error)
    return elapsed, poller


_ONE_RUN = """
import sys, tempfile
from pathlib import Path
from bench.app_speed import headless, watched
from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.jobs.queue import JobQueue

cfg = PRESETS[DEFAULT_PRESET]
with tempfile.TemporaryDirectory() as tmp:
    if sys.argv[1] == "headless":
        print(headless(cfg, Path(tmp)), 0, 0.0)
    else:
        seconds, poller = watched(cfg, Path(tmp), JobQueue(limit=1).view("bench"))
        print(seconds, poller.polls, poller.busy_s)
"""


def _one_run(mode: str) -> tuple[float, int, float]:
    """(seconds, redraws, seconds spent redrawing) of one training in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _ONE_RUN, mode],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip()[-2000:])
    seconds, polls, busy = out.stdout.split()[-3:]
    return float(seconds), int(polls), float(busy)


def bench_watched(rounds: int = 3) -> None:
    """Each run in a fresh process, as the CLI and the app server are: in one long-lived process,
    a thread that ever ran parallel torch work keeps its OpenMP team, and two teams on two cores
    make libgomp stop spin-waiting, which slows every later training ~1.5x (measured here)."""
    print(
        f"\n## The app's overhead: default preset on the sample, watched at {1 / POLL_S:g} Hz vs headless "
        f"({rounds} rounds, alternating, each run in a fresh process)"
    )
    plain, live, polls, busy = [], [], 0, 0.0
    for _ in range(rounds):
        plain.append(_one_run("headless")[0])
        seconds, n, b = _one_run("watched")
        live.append(seconds)
        polls, busy = polls + n, busy + b
    h, w = statistics.median(plain), statistics.median(live)
    print(
        f"headless {h:.2f} s (runs {', '.join(f'{s:.2f}' for s in plain)}); "
        f"through the job manager, watched {w:.2f} s (runs {', '.join(f'{s:.2f}' for s in live)})"
    )
    print(
        f"ratio {w / h:.2f}x   target <= 1.15x   (a redraw took {busy / max(polls, 1) * 1000:.1f} ms "
        f"on average, {polls} redraws)"
    )


_STAYING = """
import resource, sys, tempfile
from pathlib import Path
from bench.app_speed import watched
from mnist_core.config import DEFAULT_PRESET, PRESETS
from mnist_core.jobs.queue import JobQueue

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

manager, cfg = JobQueue(limit=1).view("bench"), PRESETS[DEFAULT_PRESET]
with tempfile.TemporaryDirectory() as tmp:
    for i in range(1, int(sys.argv[1]) + 1):
        seconds, _ = watched(cfg, Path(tmp), manager)
        print(i, round(rss_mb(), 1), round(seconds, 2), flush=True)
"""


def bench_staying_power(trainings: int = 20, marks: tuple[int, ...] = (1, 5, 10, 20)) -> None:
    print(
        f"\n## Staying power: {trainings} default trainings in a row through one job manager, "
        f"watched at {1 / POLL_S:g} Hz (fresh process)"
    )
    out = subprocess.run(
        [sys.executable, "-c", _STAYING, str(trainings)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if out.returncode != 0:
        print(f"failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
        return
    rows = {
        int(i): (float(rss), float(s)) for i, rss, s in (line.split() for line in out.stdout.splitlines())
    }
    print("   ".join(f"after #{m}: {rows[m][0]:,.0f} MB" for m in marks if m in rows))
    if 5 in rows and trainings in rows:
        times = [s for _, s in rows.values()]
        print(
            f"growth after the 5th: {rows[trainings][0] - rows[5][0]:+.0f} MB   target <= 50 MB   "
            f"(each training {min(times):.1f}-{max(times):.1f} s)"
        )


def run() -> None:
    bench_watched()
    bench_staying_power()


if __name__ == "__main__":
    run()
