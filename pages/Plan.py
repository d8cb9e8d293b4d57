"""Step 4 · Plan: how many labelled images does the target need, and what will labelling them cost?

The page measures a learning curve: one model configuration trained on nested subsets of the
training split (125, 250, 500, … images, several seeds at the small sizes), each checked on
the same validation set, in a background job (`mnist_core.jobs.curve`: each seed's trainings
are a task of their own, in parallel on the cluster; stoppable, one job at a time, it survives
page switches). The inverse power law fitted to the points answers in words how many images
reach the target; the honesty check shows how well a fit on the smaller sizes predicted the
largest one. Several labelling strategies (random, uncertainty
sampling) can be measured together, on the same sizes, seeds and validation set, and compared
(`mnist_core.planning.curve.compare`). The answer flows into Define's cost calculator. While a
measurement runs, Stop, its progress and the live points come first and the settings fold into
an expander (as on Train), so the points are in view on a 1280×720 projector; once it ends, how
it ended and the answer come first and the settings follow, to measure again.
"""

from __future__ import annotations

import streamlit as st

import ui
from mnist_core.config import DEFAULT_PRESET, ConfigError, TrainConfig
from mnist_core.data.errors import DataError
from mnist_core.data.preprocess import split_sizes
from mnist_core.jobs.curve import CurveJob
from mnist_core.jobs.job import Job, JobBusy
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import MIN_SIZES
from mnist_core.planning.curve.schedule import (
    MIN_SIZE,
    check_sizes,
    default_sizes,
    measurable_configs,
    parse_sizes,
)
from mnist_core.planning.curve.store import Curve
from mnist_core.planning.curve.strategies import STRATEGIES
from mnist_core.training import models
from ui import plan as views
from ui import state as keys

TRAIN_OPTION = "train"
ss = st.session_state


# ---------------------------------------------------------------- what to measure


def option_label(key: str) -> str:
    """The selectbox label of a `measurable_configs()` key."""
    kind, name = key.split(":", 1)
    if kind == "ladder":
        return f"{name} (baseline ladder)"
    return f"{name} (preset{', the default' if name == DEFAULT_PRESET else ''})"


def config_options() -> dict[str, str]:
    """Option key → label: the presets and ladder rungs that learn, then the Train settings."""
    options = {key: option_label(key) for key in measurable_configs()}
    options[TRAIN_OPTION] = "The current Train page settings"
    return options


def chosen_config() -> TrainConfig:
    """The configuration picked (raises ConfigError for bad Train settings)."""
    key = ss.get(keys.PLAN_CONFIG, f"preset:{DEFAULT_PRESET}")
    if key == TRAIN_OPTION:
        return views.train_page_config()
    configs = measurable_configs()
    # a choice kept from an older version of the list falls back to the default
    base = configs.get(key, configs[f"preset:{DEFAULT_PRESET}"])
    return base.replace(**ui.split_settings())


def train_size() -> int:
    """Images in the training split: the largest size a curve can measure."""
    return split_sizes(len(ui.train_pool()), ui.split_settings()["val_fraction"])[0]


def requested_sizes() -> list[int] | None:
    """The sizes typed in (None: the default ladder of sizes); raises CurveError when unusable."""
    text = ss.get(keys.PLAN_SIZES, "").strip()
    return check_sizes(parse_sizes(text), train_size()) if text else None


def chosen_strategies() -> list[str]:
    """The strategies ticked, in STRATEGIES order (random alone when none is)."""
    ticked = set(ss.get(keys.PLAN_STRATEGIES) or ["random"])
    return [s for s in STRATEGIES if s in ticked]


def on_measure() -> None:
    try:
        config = chosen_config()
        sizes, seeds = requested_sizes(), int(ss.get(keys.PLAN_SEEDS, 2))
        name = ss.get(keys.PLAN_NAME, "").strip()
        # plans here: every check before anything is submitted
        job = CurveJob(config, ui.data_spec(), sizes, seeds, chosen_strategies(), name=name, home=ui.home())
    except (ConfigError, CurveError, DataError) as exc:
        ui.flash("error", f"Not started: {exc}")
        return
    try:
        ui.job_manager().submit(job)
    except JobBusy as exc:
        ui.flash("warning", str(exc))


def on_stop() -> None:
    job = ui.job_manager().job_of("curve")
    if job is not None:
        job.stop()


# ---------------------------------------------------------------- sections


def settings_section(running: bool, with_buttons: bool = True) -> None:
    st.subheader("Measure the learning curve")
    options = config_options()
    if ss.get(keys.PLAN_CONFIG) not in options:  # a choice kept from an older version of the list
        ss[keys.PLAN_CONFIG] = f"preset:{DEFAULT_PRESET}"
    left, right = st.columns([2, 3], gap="medium")
    left.selectbox(
        "Model configuration",
        list(options),
        format_func=options.get,
        **ui.persistent(keys.PLAN_CONFIG, f"preset:{DEFAULT_PRESET}"),
        help="The model whose learning curve is measured. Presets that cap the training "
        "images are measured without the cap: the curve picks the sizes itself.",
    )
    config, problem = None, None
    try:
        config = chosen_config()
        n = models.parameter_count(config)
        right.caption(
            f"**{config.summary()}** · {n:,} learned parameters · {config.optimizer}, "
            f"learning rate {config.lr:g}, {config.epochs} epochs at the largest size "
            "(smaller sizes train for fewer steps, with early stopping)."
        )
    except ConfigError as exc:
        problem = f"The Train page settings are not usable: {exc}"
    n_train = ui.or_stop(train_size)
    a, b, c = st.columns([3, 1, 2])
    a.text_input(
        "Training-set sizes (comma-separated; empty = the default)",
        **ui.persistent(keys.PLAN_SIZES, ""),
        placeholder=", ".join(str(s) for s in default_sizes(n_train)),
        help=f"Each between {MIN_SIZE} and {n_train:,} (the training split); at least "
        f"{MIN_SIZES} different ones.",
    )
    b.number_input(
        "Seeds",
        1,
        10,
        step=1,
        **ui.persistent(keys.PLAN_SEEDS, 2),
        help="Trainings per size below half the largest: the spread between seeds shows "
        "how noisy one point is.",
    )
    c.text_input("Name (optional)", **ui.persistent(keys.PLAN_NAME, ""), max_chars=60)
    st.multiselect(
        "Labelling strategies to compare",
        list(STRATEGIES),
        format_func=STRATEGIES.get,
        **ui.persistent(keys.PLAN_STRATEGIES, ["random"]),
        help="Which images get labelled at each size. Random: a class-balanced random pick. "
        "Uncertainty sampling starts from the same random images, then labels the images the "
        "model trained so far is least sure about (smallest margin between its top two digits), "
        "spread over k-means clusters of its features so a batch is not one ambiguous shape "
        "many times. Each strategy is a curve of its own: two take nearly twice as long (the "
        "random start and the whole pool are the same images for every strategy, so they are "
        "trained once).",
    )
    try:
        sizes = requested_sizes() or default_sizes(n_train)
        st.caption(
            f"{len(sizes)} sizes: {', '.join(f'{s:,}' for s in sizes)} of {n_train:,} training "
            f"images, each checked on the same validation set ({ui.source_info().name})."
        )
    except CurveError as exc:
        problem = problem or str(exc)
    if problem:
        st.error(problem)
    if with_buttons:
        buttons(running, ok=config is not None and problem is None)


def buttons(running: bool, ok: bool) -> None:
    curve_running = ui.job_manager().job_of("curve") is not None and running
    ui.start_stop_row(
        ("📈 Measure the learning curve", keys.PLAN_MEASURE, on_measure, ()),
        (
            keys.PLAN_STOP,
            on_stop,
            "Stops within a second; the curve is fitted on the sizes done (at least 3).",
        ),
        can_start=not running and ok,
        can_stop=curve_running,
        busy_note="A job is running; Measure is back when it ends or you stop it." if running else None,
    )
    ui.show_flash()


def adopt_finished(job: Job | None) -> None:
    """Once a measurement ends with a saved curve, show that curve (once per session)."""
    if job is None or job.running or ss.get(keys.PLAN_ADOPTED) == job.id:
        return
    ss[keys.PLAN_ADOPTED] = job.id
    saved = [r for r in job.snapshot().of_kind("curve") if r.get("id")]
    if saved:  # the first strategy measured: random, when it was among them
        ss[keys.PLAN_CURVE] = saved[0]["id"]


def answer_section(running: bool) -> Curve | None:
    st.subheader("How many labelled images reach the target?")
    if running:
        st.caption("The answer appears here when the measurement ends.")
        return None
    shown = views.shown_curve()
    if shown is None:
        st.info("No learning curve yet: pick a configuration and press **Measure the learning curve**.")
        return None
    ui.teach(f"Target: {ui.target_accuracy():.1%} accuracy (set on Define the task).")
    views.show_curve(shown)
    views.current_estimate()  # keeps the answer in session state for Define's calculator
    return shown


# ---------------------------------------------------------------- the page


def main() -> None:
    job = ui.job_manager().job_of("curve")
    running, measuring = ui.job_running(), job is not None and job.running
    ui.page(
        "Plan",
        None
        if measuring
        else "How many labelled images does the target need? Measure a learning curve: "
        "the same model trained on ever larger subsets, then read the answer off the fitted curve.",
    )
    adopt_finished(job)
    if measuring:  # as on Train: Stop, the progress and the live points first, the settings folded away
        buttons(running, ok=False)
        with st.container(key=keys.PLAN_LIVE):
            ui.follow_job(job, views.show_live, key=keys.PLAN_FOLLOW)
        with st.expander("Settings (they apply to the next measurement)", expanded=False):
            settings_section(running, with_buttons=False)
        shown = answer_section(measuring)
    elif job is not None:  # a measurement ended: how it ended and its answer first, then measure again
        ui.follow_job(job, views.show_live, key=keys.PLAN_FOLLOW)
        shown = answer_section(measuring)
        teach_curve()
        settings_section(running)
    else:
        teach_curve()
        settings_section(running)
        shown = answer_section(measuring)
    views.saved_section(shown)


def teach_curve() -> None:
    ui.teach(
        "Validation error falls with more training images, fast at first and then ever more "
        "slowly, towards a floor set by the model. A power law error(n) = a·n^(−b) + c fits "
        "that shape; extrapolating it says how many labels the target needs, and whether this "
        "model can reach it at all."
    )


main()
