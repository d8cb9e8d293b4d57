"""The guided three-minute demo: the six workflow steps, one headline each, with real data and
real actions — a live training of the quick preset, the confusion matrix of that fresh run, the
canvas for the audience — and, at the end, the stakeholder report of the run it just trained.

Reached from Home ("Start the 3-minute demo"); Back / Next walk the steps and the position is
kept for the session, so a detour to another page resumes where it left off. Nothing is canned:
if the demo's training is stopped or fails, the demo says so and offers the latest saved run.
"""

from __future__ import annotations

import streamlit as st

import ui
from mnist_core.charts import data as data_charts
from mnist_core.charts import evaluation as eval_charts
from mnist_core.config import quick_config
from mnist_core.data import explore, images
from mnist_core.data.errors import DataError
from mnist_core.data.preprocess import split_sizes
from mnist_core.evaluation import gallery, judge
from mnist_core.jobs.job import JobBusy
from mnist_core.planning import costs
from mnist_core.report import document as report
from mnist_core.runs import storage
from mnist_core.runs.files import StorageError
from ui import demo_views, deploy, training
from ui import state as keys
from ui.evaluate import validation_table

TITLES = ("Define the task", "Data", "Preprocess", "Train", "Evaluate", "Deploy", "The report")
NOTES = {
    "Define the task": "Input: a 28×28 grey image. Output: a probability for each digit. Before any "
    "model, ask what labels cost: 70,000 images at 5 s each is about 97 hours — "
    "three people need about four days. So we prove the idea on ~10,000 first.",
    "Data": "Real MNIST digits (the offline sample: 500 per digit). Balanced classes; varied styles. "
    "Ask: do our users write like US census staff and students did in the 1990s?",
    "Preprocess": "Pixels /255. The training pool is split, seeded, into train and validation; the "
    "test set is locked away and used once, at the very end.",
    "Train": "A small CNN trains live on two CPU cores. Blue: train, orange: validation. The curves "
    "close together mean it generalises; a widening gap would mean overfitting.",
    "Evaluate": "The confusion matrix: rows are true digits, columns what the model said. The "
    "opened cell shows the images it confused most — usually ones people misread too.",
    "Deploy": "Hand the mouse to someone: draw a digit. The model sees the 28×28 version on the "
    "right. It says 'not sure' when its confidence is low — that honesty is the point.",
    "The report": "One offline HTML file with the task, the data, the curves and the verdict, for "
    "people who were not in the room.",
}
ss = st.session_state


# ---------------------------------------------------------------- the step machine


def step() -> int:
    """The current step, 0-based, clamped to the steps that exist."""
    return min(max(int(ss.get(keys.DEMO_STEP, 0)), 0), len(TITLES) - 1)


def go(delta: int) -> None:
    ss[keys.DEMO_STEP] = min(max(step() + delta, 0), len(TITLES) - 1)


def demo_run() -> storage.Run | None:
    """The run the demo trained (or the saved run it continues with), if it still exists."""
    runs = {r.id: r for r in ui.runs()}
    return runs.get(ss.get(keys.DEMO_RUN_ID))


def nav_bar() -> None:
    back, where, nxt = st.columns([1, 4, 1], vertical_alignment="center")
    back.button("◀ Back", key=keys.DEMO_BACK, on_click=go, args=(-1,), disabled=step() == 0, width="stretch")
    where.progress((step() + 1) / len(TITLES), text=f"Step {step() + 1} of {len(TITLES)} · {TITLES[step()]}")
    nxt.button(
        "Next ▶",
        key=keys.DEMO_NEXT,
        on_click=go,
        args=(1,),
        type="primary",
        disabled=step() == len(TITLES) - 1,
        width="stretch",
    )


def speaker_notes() -> None:
    with st.expander("🗣 Speaker notes"):
        st.markdown(NOTES[TITLES[step()]])


# ---------------------------------------------------------------- the steps


def task_step() -> None:
    inputs = costs.LabelingInputs()
    full, poc = costs.estimate(inputs), costs.estimate(inputs, inputs.poc_samples)
    st.subheader("28×28 pixels in, a probability for each of 10 digits out")
    cols = st.columns(4)
    cols[0].metric("Images to label", f"{full.samples:,}", help=f"{inputs.seconds_per_sample:g} s each")
    cols[1].metric("Labeling time", f"{full.hours:,.0f} h")
    cols[2].metric(
        f"{inputs.annotators} people × {inputs.hours_per_day:g} h/day", costs.describe_days(full.days)
    )
    cols[3].metric(
        f"Proof of concept ({poc.samples:,})",
        f"{poc.hours:,.0f} h",
        help=costs.describe_days(poc.days) + " for the same team",
    )
    st.caption(f"Target: {ui.target_accuracy():.0%} accuracy on images the model has never seen.")


def data_step() -> None:
    pool = ui.or_stop(ui.train_pool)
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.image(digit_columns(ui.source_info().key), caption=f"60 of the {len(pool):,} real digits")
    with right:
        split = ui.split_settings()
        rows = ui.split_count_rows(
            ui.source_info().key,
            split["val_fraction"],
            split["split_seed"],
            tuple(ui.or_stop(ui.test_label_counts)),
        )
        st.altair_chart(
            data_charts.split_bars([r for r in rows if r["split"] == "train"]).properties(
                height=260, title="Images per digit (train)"
            ),
            width="stretch",
        )


@st.cache_data(show_spinner=False)
def digit_columns(key: str, per_digit: int = 6) -> object:
    """A grid with one column per digit, 0 to 9, of real training images."""
    pool = ui.pool_for(key)
    return images.tile(explore.digit_columns(pool, per_digit), cols=10, scale=2)


def split_step() -> None:
    pool, tests = ui.or_stop(ui.train_pool), ui.or_stop(ui.test_label_counts)
    split = ui.split_settings()
    n_train, n_val = split_sizes(len(pool), split["val_fraction"])
    st.altair_chart(
        data_charts.split_bar({"train": n_train, "validation": n_val, "test": sum(tests)}), width="stretch"
    )
    cols = st.columns(3)
    cols[0].metric("Train: decides the weights", f"{n_train:,}")
    cols[1].metric("Validation: decides the settings", f"{n_val:,}")
    cols[2].metric("Test: used once, at the end", f"{sum(tests):,}")


def train_step() -> None:
    job = ui.job_manager().job_of("train")
    mine = job is not None and job.id == ss.get(keys.DEMO_JOB_ID)
    if mine:
        ui.follow_job(
            job, lambda snap, live: demo_views.training_outcome(snap, live, job.configs), key=keys.DEMO_FOLLOW
        )
        snap = job.snapshot()
        if snap.saved:
            ss[keys.DEMO_RUN_ID] = snap.saved[-1]
        elif not job.running:
            demo_views.offer_latest_run(
                keys.DEMO_RUN_ID, f"The demo's training {snap.state}: nothing was saved."
            )
        return
    run = demo_run()
    if run is not None:
        st.success(f"Trained in this demo: {run.label}.")
        training.metrics(run.history)
        training.curves(run.history, [], None)
    cfg = quick_config()
    st.button(
        f"▶ Train the quick model live ({cfg.summary()}, {cfg.epochs} epochs)",
        type="primary",
        key=keys.DEMO_TRAIN,
        on_click=start_training,
        disabled=ui.job_running(),
    )
    if ui.job_running():
        st.info("Another job is running; it must end first (see its page).")


def start_training() -> None:
    try:
        job = ui.job_manager().start([quick_config()], ["demo: quick model"], data=ui.data_spec())
    except JobBusy as exc:
        ui.flash("warning", str(exc))
        return
    ss[keys.DEMO_JOB_ID] = job.id
    ss.pop(keys.DEMO_RUN_ID, None)


def evaluate_step() -> None:
    run = demo_runs_or_offer()
    if run is None:
        return
    val = run.evaluation("val")
    if val is None:
        st.warning("This run has no validation result to show.")
        return
    top = judge.top_confusions(val, 1)
    cell = top[0][:2] if top else None
    left, right = st.columns([3, 2], gap="large")
    left.altair_chart(eval_charts.confusion_heatmap(val, selected=cell, size=360, selectable=False))
    with right:
        st.metric(
            "Validation accuracy",
            f"{val.accuracy:.1%}",
            f"{(val.accuracy - ui.target_accuracy()) * 100:+.1f} pts vs target",
        )
        if cell is None:
            st.success("No confusions at all on the validation set.")
            return
        try:
            table, _ = validation_table(run)
        except (DataError, StorageError) as exc:
            st.info(f"The images of this cell cannot be shown: {exc}")
            return
        examples, _ = gallery.cell_examples(table.probs, table.labels, cell[0], cell[1], limit=8)
        st.markdown(f"**True {cell[0]}, read as {cell[1]}** ({top[0][2]} times):")
        st.image(
            [images.upscale(table.images[e.index], 3) for e in examples],
            caption=[f"{e.confidence:.0%}" for e in examples],
        )


def deploy_step() -> None:
    run = demo_runs_or_offer()
    if run is not None:
        deploy.draw_view(run, None)  # the Deploy page's own canvas and answer; no labelling here


def report_step() -> None:
    run = demo_runs_or_offer()
    if run is None:
        return
    html = report.build_report(run, ui.target_accuracy())
    st.success(f"The stakeholder report of {run.label} is ready.")
    st.download_button(
        "⬇ Download the report (one offline HTML file)",
        html,
        type="primary",
        file_name=f"mnist-report-{run.id}.html",
        mime="text/html",
        key=keys.DEMO_REPORT,
    )
    ui.link("Home", "Back to the app", icon="🧭")


def demo_runs_or_offer() -> storage.Run | None:
    run = demo_run()
    if run is None:
        demo_views.offer_latest_run(keys.DEMO_RUN_ID, "No model from this demo yet: train it at step 4.")
    return run


STEP_VIEWS = (task_step, data_step, split_step, train_step, evaluate_step, deploy_step, report_step)


def main() -> None:
    ui.page("Demo", heading="The 3-minute demo")
    nav_bar()
    ui.show_flash()
    STEP_VIEWS[step()]()
    speaker_notes()


main()
