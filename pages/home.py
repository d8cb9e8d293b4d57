"""Home: the workflow as a map, the guided demo, and where things stand right now."""

from __future__ import annotations

import streamlit as st

import ui
from mnist_core.data.errors import DataError
from mnist_core.jobs.progress import queued_text
from ui import state as keys


def demo_start() -> None:
    """The guided demo for an audience: six steps, one headline each, about three minutes."""
    left, right = st.columns([1, 3], vertical_alignment="center")
    if left.button("🎬 Start the 3-minute demo", type="primary", key=keys.HOME_DEMO, width="stretch"):
        st.session_state[keys.DEMO_STEP] = 0
        st.switch_page(ui.DEMO.file)
    right.caption(
        "Walks the six steps with real data: labeling cost, digits, the split, a live "
        "training, its confusion matrix, the canvas — and ends with the stakeholder report."
    )


def workflow_map() -> None:
    """One card per workflow step, in order, each linking to its page."""
    st.subheader("The workflow")
    st.markdown(" → ".join(f"{s.icon} **{s.title}**" for s in ui.STEPS))
    per_row = 4
    for start in range(0, len(ui.STEPS), per_row):
        for col, s in zip(st.columns(per_row), ui.STEPS[start : start + per_row]):
            with col.container(border=True, height="stretch"):
                st.markdown(f"##### Step {s.number} · {s.icon} {s.title}")
                st.caption(s.blurb)
                ui.link(s.title, f"Open {s.title}")


def data_state() -> None:
    try:
        info = ui.source_info()
        pool_counts, test_counts = ui.pool_label_counts(), ui.test_label_counts()
    except DataError as exc:
        st.metric("Data", "unavailable")
        st.caption(str(exc))
        return
    short = (
        "Full MNIST" if info.kind == "mnist" else "Offline sample" if info.kind == "sample" else "IDX folder"
    )
    st.metric("Data source", short, help=info.name)
    st.caption(f"{sum(pool_counts):,} training-pool images · {sum(test_counts):,} test images (locked)")


def model_state() -> None:
    runs = ui.runs()
    if not runs:
        st.metric("Latest model", "none yet")
        st.caption("Train one on the Train page.")
        return
    latest = runs[0]
    acc = latest.meta.get("val_accuracy")
    st.metric("Latest model · validation accuracy", f"{acc:.1%}" if isinstance(acc, (int, float)) else "n/a")
    st.caption(f"{latest.label} · {len(runs)} saved run" + ("s" if len(runs) != 1 else ""))


def job_state() -> None:
    """This session's jobs and their place in the server's queue; how busy the server is."""
    mine = [j for j in ui.job_manager().jobs() if j.running]
    everyone = [j for j in ui.all_jobs().jobs() if j.running]
    running = sum(1 for j in everyone if not j.queued)
    st.metric("Background job", f"{len(mine)} of yours queued or running" if mine else "idle")
    for job in mine:
        snap = job.snapshot()
        where = queued_text(snap.place) if snap.state == "queued" else "running"
        st.caption(f"{snap.title or snap.kind}: {where}")
    st.caption(f"On this server: {running} running, {len(everyone) - running} queued.")


def target_state() -> None:
    st.metric("Target accuracy", f"{ui.target_accuracy():.1%}")
    st.caption("Set on Define the task; checked on Evaluate.")


def main() -> None:
    ui.page(
        "Home",
        "The whole machine-learning workflow on handwritten digits, step by step: "
        "offline, live, and honest about what the model can and cannot do.",
        heading=ui.APP_NAME,
    )
    demo_start()
    workflow_map()
    st.subheader("Where things stand")
    for col, show in zip(st.columns(4), (data_state, model_state, job_state, target_state)):
        with col.container(border=True, height="stretch"):
            show()
    ui.warm_up()


main()
