"""The Evaluate page's "Where does it break?" tab: accuracy as the validation images are perturbed.

The sweep (`mnist_core.evaluation.robustness`) runs as a background job (kind "robustness",
`mnist_core.jobs.robustness`), streaming a record per curve and stopping on request; the app
keeps it with the run (robustness.json); a second run's sweep can join the same chart.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

import ui
from mnist_core.charts import robustness as robustness_charts
from mnist_core.evaluation import robustness as rob
from mnist_core.jobs.job import Job, JobBusy, JobSnapshot, JobState
from mnist_core.jobs.progress import job_progress
from mnist_core.jobs.robustness import RobustnessJob
from mnist_core.runs import storage
from ui import evaluate as views
from ui import state as keys
from ui.evaluate_inspect import stop_job

ROBUSTNESS_N = rob.DEFAULT_N  # validation images perturbed
ROBUSTNESS_PERTURBATIONS: tuple[str, ...] | None = None  # None: all of them
ss = st.session_state


def _on_sweep(run: storage.Run) -> None:
    try:
        ui.job_manager().submit(
            RobustnessJob(
                run.path, ROBUSTNESS_N, ROBUSTNESS_PERTURBATIONS, title=f"Robustness of {run.label}"
            )
        )
    except JobBusy as exc:
        ui.flash("warning", str(exc))


def _sweep_job() -> tuple[Job | None, str | None]:
    """The latest robustness job and the run it measures (None until its first record)."""
    job = ui.job_manager().job_of("robustness")
    if job is None:
        return None, None
    first = next((r for r in job.snapshot().records if "run_id" in r), None)
    return job, first["run_id"] if first else None


def _draw_sweep(snap: JobSnapshot, live: bool) -> None:
    if live:
        bar = job_progress(snap)
        st.progress(bar.fraction, text=("Stopping… " if snap.stop_requested else "") + bar.text)
    elif snap.error:
        st.error(f"The sweep failed: {snap.error}")
    elif snap.state == JobState.STOPPED:
        st.warning("The sweep was stopped before the end: nothing was saved.")


def _sweep_button(run: storage.Run, label: str, key: str, primary: bool = True) -> None:
    n = ROBUSTNESS_N
    st.button(
        label,
        key=key,
        type="primary" if primary else "secondary",
        icon="🧪",
        on_click=_on_sweep,
        args=(run,),
        disabled=ui.job_running(),
        help=f"Up to {n:,} validation images, each perturbation step by step (~20 s on two "
        "cores), in the background." + (" Another job is running." if ui.job_running() else ""),
    )


def robustness(ev: views.Evaluation, runs: list[storage.Run], tab: Any) -> None:
    """Accuracy as the validation images are rotated, scaled, shifted, thickened, noised, blurred,
    inverted; the weakest direction in a sentence; a second run on the same chart."""
    if not tab.open:
        return
    with tab:
        st.markdown(
            "#### Robustness: accuracy as the images change",
            help="Each perturbed image goes through the Deploy page's own preprocessing (crop, fit to "
            "20×20, centre), as a drawing would, except “shift after centring”, which moves the "
            "model's own input: the curves show what a canvas user meets.",
        )
        ui.show_flash()
        job, job_run = _sweep_job()
        if job is not None and job_run in (None, ev.run.id):
            if job.running:
                st.button(
                    "Stop", key=keys.EVALUATE_SWEEP_STOP, on_click=stop_job, args=("robustness",), icon="⏹️"
                )
            ui.follow_job(job, _draw_sweep, key=keys.EVALUATE_FOLLOW_SWEEP)
            if job.running:
                return
        mine = rob.load_sweep(ev.run)
        if mine is None:
            st.markdown("Not measured yet for this run.")
            _sweep_button(ev.run, "Measure robustness", keys.EVALUATE_SWEEP_START)
            return
        second = _second_sweep(ev, runs, job, job_run)
        # three panels a row fit the page's column at 1280 px
        st.altair_chart(
            robustness_charts.robustness_chart([mine, second] if second else mine, columns=3, panel=160)
        )
        st.markdown(f"**{rob.weakest(mine)['sentence']}**")
        if second is not None:
            st.markdown(rob.compare(mine, second)["sentence"])
        st.caption(
            f"On {mine.n:,} validation images: {mine.accuracy:.1%} as they are, "
            f"{mine.app_accuracy:.1%} through the app's preprocessing (where the curves start). "
            "An image the app finds blank counts as wrong."
        )
        _sweep_button(ev.run, "Measure again", keys.EVALUATE_SWEEP_AGAIN, primary=False)


def _second_sweep(
    ev: views.Evaluation, runs: list[storage.Run], job: Job | None, job_run: str | None
) -> rob.Sweep | None:
    """The picked second run's saved sweep, or the button to measure it."""
    by_id = {r.id: r for r in runs if r.id != ev.run.id}
    if not by_id:
        return None
    if ss.get(keys.EVALUATE_ROBUST_OTHER) not in by_id:
        ss.pop(keys.EVALUATE_ROBUST_OTHER, None)
    other_id = st.selectbox(
        "Compare with",
        list(by_id),
        index=None,
        key=keys.EVALUATE_ROBUST_OTHER,
        format_func=lambda i: by_id[i].label,
        placeholder="Pick a second run…",
        help="e.g. the same model trained with and without augmentation.",
    )
    if other_id is None:
        return None
    other = by_id[other_id]
    if job is not None and job_run == other.id and job.running:
        ui.follow_job(job, _draw_sweep, key=keys.EVALUATE_FOLLOW_SWEEP_OTHER)
        return None
    found = rob.load_sweep(other)
    if found is None:
        st.caption("That run has not been measured yet.")
        _sweep_button(other, "Measure the second run", keys.EVALUATE_SWEEP_OTHER, primary=False)
    return found
