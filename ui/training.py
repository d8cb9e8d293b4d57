"""The live view of a training job, shared by the Train page, Deploy's quick model and the demo.

`show_job(snapshot, live, configs)` draws what `ui.follow_job` hands it: a progress bar, the
metric row, the loss and accuracy curves side by side, how the run ended and the diagnosis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import streamlit as st

import ui
from mnist_core.charts import training as charts
from mnist_core.config import TrainConfig
from mnist_core.jobs.job import JobSnapshot
from mnist_core.jobs.progress import training_progress
from mnist_core.runs import storage
from mnist_core.training import diagnose
from mnist_core.training.advice import describe_changes
from mnist_core.training.train import RunStatus
from ui import state as keys

LIVE_HEIGHT = 190  # the live curves' plot height: progress, metrics and both curves fit a 720-px screen

# A callback applying config changes (a diagnosis's suggestion); None: show no button.
Apply = Callable[[dict[str, Any], str], None] | None


def show_job(
    snapshot: JobSnapshot,
    live: bool,
    configs: list[TrainConfig],
    on_apply: Apply = None,
    compact: bool = False,
) -> None:
    """A training job: progress while live, the ladder's comparison, the current run's view."""
    labels = [name or config.summary() for name, config in zip(snapshot.names, configs)]
    bar = training_progress(snapshot, labels)
    if snapshot.error:
        st.error(f"Training failed: {snapshot.error}")
    elif live:
        st.progress(bar.fraction, text=("Stopping… " if snapshot.stop_requested else "") + bar.text)
    if len(snapshot.names) > 1:
        show_ladder(snapshot, labels)
    run = min(snapshot.current, len(configs) - 1)
    if live or len(snapshot.names) == 1:
        show_run(
            snapshot,
            run,
            configs[run],
            labels[run],
            live,
            key=keys.train_apply(f"job_{snapshot.id}_{run}"),
            on_apply=on_apply,
            compact=compact,
        )


def show_run(
    snapshot: JobSnapshot,
    run: int,
    config: TrainConfig,
    label: str,
    live: bool,
    key: str,
    on_apply: Apply = None,
    compact: bool = False,
) -> None:
    """One run of a job: metric row, both curves, how it ended, the diagnosis."""
    epochs = snapshot.epochs(run)
    batches = snapshot.of_kind("batch", run)
    end, saved = snapshot.latest("end", run), snapshot.latest("saved", run)
    if not (live or compact):  # while live, the progress bar above already names the run
        st.markdown(f"#### {label}")
    metrics(epochs)
    curves(epochs, batches, config.epochs, height=LIVE_HEIGHT if live or compact else 280)
    if end is not None:
        show_end(end["status"], end["message"])
        if saved is None and not (live and snapshot.state == "running"):
            st.warning("Nothing was saved: the run stopped before it had learned anything.")
    if saved is not None:
        st.caption(f"Saved as run `{saved['run_id']}`.")
    if epochs or (live and not snapshot.error):
        status = end["status"] if end else None
        show_diagnosis(
            diagnose.diagnose(epochs, config, status),
            key=key,
            on_apply=on_apply if end is not None and not live else None,
        )


def metrics(epochs: list[dict]) -> None:
    """Epoch, losses, accuracy and the kept epoch, with changes since the previous epoch."""
    if not epochs:
        return
    last, prev = epochs[-1], (epochs[-2] if len(epochs) > 1 else None)
    best = diagnose.best_record(epochs) or last

    def delta(key: str) -> str | None:
        if prev is None or not math.isfinite(last[key] - prev[key]):
            return None
        d = last[key] - prev[key]
        return f"{d * 100:+.1f} pts" if key.endswith("acc") else f"{d:+.2g}"

    cols = st.columns(5)
    cols[0].metric("Epoch", f"{last['epoch']} / {last['epochs']}")
    cols[1].metric(
        "Train loss", diagnose.fmt_loss(last["train_loss"]), delta("train_loss"), delta_color="inverse"
    )
    cols[2].metric(
        "Validation loss", diagnose.fmt_loss(last["val_loss"]), delta("val_loss"), delta_color="inverse"
    )
    cols[3].metric(
        "Validation accuracy", f"{last['val_acc']:.1%}", delta("val_acc"), help="Of the latest epoch."
    )
    cols[4].metric(
        "Kept: best epoch",
        f"{best['epoch']} · {best['val_acc']:.1%}",
        help="The epoch with the lowest validation loss: its weights are the ones saved.",
    )


def curves(epochs: list[dict], batches: list[dict], total_epochs: int | None, height: int = 280) -> None:
    """Loss (with the running batch loss) and accuracy curves, side by side."""
    if not epochs and not batches:
        return
    left, right = st.columns(2)
    # Specs with only the data swapped: redrawn twice a second while training, they must be cheap.
    left.vega_lite_chart(charts.curves_spec("loss", epochs, batches, total_epochs, height), width="stretch")
    if epochs:
        right.vega_lite_chart(charts.curves_spec("acc", epochs, (), total_epochs, height), width="stretch")
    else:
        right.info(
            "The accuracy curves start when the first epoch ends; the faint line on the left "
            "is the running training loss of this epoch."
        )


def show_end(status: str, message: str) -> None:
    show = {RunStatus.FINISHED: st.success, RunStatus.DIVERGED: st.error}.get(status, st.info)
    show(message or status)


def show_diagnosis(d: diagnose.Diagnosis, key: str, on_apply: Apply = None) -> None:
    """The diagnosis box; with `on_apply`, a button that applies its suggested changes."""
    box = {"success": st.success, "warning": st.warning, "error": st.error}.get(d.level, st.info)
    heading = (
        f"**{'So far: ' if d.preliminary and d.kind not in ('waiting', 'too_early') else ''}{d.title}.**"
    )
    text = f"{heading} {d.detail}" + (f"\n\n**Try this:** {d.advice}" if d.advice else "")
    box(text, icon="🩺")
    if d.changes and on_apply is not None:
        st.button(
            f"Try this: {describe_changes(d.changes)}",
            key=key,
            on_click=on_apply,
            args=(d.changes, "Applied the suggestion"),
        )


def show_ladder(snapshot: JobSnapshot, labels: list[str]) -> None:
    st.markdown("#### Baseline ladder: the same split, ever more capable models")
    done = {r["run"]: r["val_accuracy"] for r in snapshot.of_kind("saved")}
    if done:
        rows = [(labels[i], done[i]) for i in sorted(done)]
        histories = {labels[i]: snapshot.epochs(i) for i in sorted(done)}
        bars, overlay = ladder_specs(snapshot.id, tuple(sorted(done)), ui.target_accuracy(), rows, histories)
        left, right = st.columns(2)
        left.vega_lite_chart(bars, width="stretch")
        right.vega_lite_chart(overlay, width="stretch")
        st.caption(
            f"Each rung should clear the one below it; a model that cannot beat logistic "
            f"regression is not worth its extra complexity. Dashed line: your target "
            f"({ui.target_accuracy():.0%}, set on Define the task)."
        )


@st.cache_data(max_entries=16, show_spinner=False)
def ladder_specs(
    job_id: str, done: tuple[int, ...], target: float, _rows: list, _histories: dict
) -> tuple[dict, dict]:
    """Built once per finished rung (keyed by job and rungs), not on every poll."""
    return (
        charts.accuracy_bars(_rows, target).to_dict(),
        charts.overlay_chart(_histories, "loss", height=240).to_dict(),
    )


def show_saved_run(run: storage.Run, on_apply: Apply = None) -> None:
    """Without a job in this server (e.g. after a restart): the latest saved run."""
    st.markdown(f"#### Latest run: {run.label}")
    metrics(run.history)
    curves(run.history, [], None)
    show_end(run.meta.get("status", ""), run.meta.get("message", ""))
    show_diagnosis(
        diagnose.diagnose(run.history, run.config, run.meta.get("status", RunStatus.FINISHED)),
        key=keys.train_apply(f"run_{run.id}"),
        on_apply=on_apply,
    )
