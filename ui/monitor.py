"""The Deploy page's "Monitor" tab: is the field (the collected drawings) like the training data?

The check (`mnist_core.monitoring`) draws the run's validation images on a virtual canvas, which
takes seconds, so it runs as a background job (kind "monitor", `mnist_core.jobs.monitor`: the app
reads the run and the drawings, a worker compares) and the app keeps the result with the run
(monitor.json). The tab itself only reads that file and draws it with `mnist_core.charts.monitor`:
the verdict, what differs (traits, digit mix, confidence, the drawings least like any training
image), the windows over time, and what to do about it.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import streamlit as st

import ui
from mnist_core.charts import monitor as charts
from mnist_core.data import images
from mnist_core.deploy.collect import CollectError, DrawingStore
from mnist_core.jobs.job import Job, JobBusy, JobSnapshot, JobState
from mnist_core.jobs.monitor import MonitorJob
from mnist_core.monitoring.field import MIN_FIELD
from mnist_core.monitoring.job import KIND
from mnist_core.monitoring.saved import load_result
from mnist_core.monitoring.windows import BY_DAY
from mnist_core.runs import storage
from ui import state as keys
from ui.job_status import show_failed_or_running

WINDOWS = (BY_DAY, 20, 50, 100)  # the choices of window; "day" first: drawings come in by day
GALLERY = 8  # outliers shown; the report keeps them all
GALLERY_COLS = 8


def as_drawn(chart: alt.TopLevelMixin) -> alt.VConcatChart:
    """`chart` at its declared height: Streamlit fits a single-view chart with a legend into a
    squeezed height (its plot a few pixels tall); a concatenation of one keeps the size it declares."""
    return alt.vconcat(chart)


def window_words(window: Any) -> str:
    return "one window per day" if window == BY_DAY else f"windows of {window} drawings"


def _start(run_path: str, drawings: str, window: int | str, title: str) -> None:
    try:
        ui.job_manager().submit(MonitorJob(run_path, drawings, window, title=title))
    except JobBusy as exc:
        ui.flash("warning", str(exc))


def _stop() -> None:
    job = ui.job_manager().job_of(KIND)
    if job is not None:
        job.stop()


def _job_of(run: storage.Run) -> Job | None:
    """The latest monitor job when it checks `run` (or has not said which run yet)."""
    job = ui.job_manager().job_of(KIND)
    if job is None:
        return None
    first = next((r for r in job.snapshot().records if "run_id" in r), None)
    return job if first is None or first["run_id"] == run.id else None


def _error_text(error: str) -> str:
    kind, _, text = error.partition(": ")
    return text if kind in ("MonitorError", "DataError", "StorageError", "CollectError") and text else error


def _draw_job(snap: JobSnapshot, live: bool) -> None:
    failed = lambda error: f"The check failed: {_error_text(error)}"  # noqa: E731
    if show_failed_or_running(snap, live, failed, stopping="Stopping the check… "):
        return
    if snap.state == JobState.STOPPED:
        st.warning("The check was stopped before the end: nothing was saved.")


def controls(run: storage.Run, store: DrawingStore, running: bool) -> None:
    """Which windows over time, and the button that checks the field now (in the background)."""
    pick, start, stop = st.columns([1.6, 1.4, 0.8], vertical_alignment="bottom")
    window = pick.selectbox("Over time", WINDOWS, key=keys.DEPLOY_MONITOR_WINDOW, format_func=window_words)
    busy = ui.job_running()
    start.button(
        "📡 Check the field now",
        key=keys.DEPLOY_MONITOR_START,
        type="primary",
        on_click=_start,
        args=(str(run.path), str(store.path), window, f"Monitor of {run.label}"),
        disabled=busy,
        width="stretch",
        help="Draws 1,000 validation images on a virtual canvas and compares them with the drawings "
        "(about 10 s on two cores), in the background." + (" Another job is running." if busy else ""),
    )
    stop.button("■ Stop", key=keys.DEPLOY_MONITOR_STOP, on_click=_stop, disabled=not running, width="stretch")


def monitor_tab(store: DrawingStore | None, run: storage.Run) -> None:
    st.markdown(
        "#### Is the field like the training data?",
        help="A two-sample test (MMD) on the model's own features: are the drawings people make "
        "here like the images the model learned from, drawn on the same canvas? If not, the "
        "accuracy measured on MNIST does not hold for them.",
    )
    if store is None:
        return  # ui.drawing_store() has said why
    try:
        n = store.count()
        if n < MIN_FIELD:
            st.info(
                f"{'No drawings' if n == 0 else 'Only one drawing'} collected yet: the monitor compares at "
                f"least {MIN_FIELD} with the training data. Draw digits in the first tab and tell the "
                "model whether it was right."
            )
            return
        job = _job_of(run)
        running = job is not None and job.running
        controls(run, store, running)
        if job is not None:
            ui.follow_job(job, _draw_job, key=keys.DEPLOY_FOLLOW_MONITOR)
            if running:
                return
        saved = load_result(run)
        if saved is None:
            st.markdown(f"Not checked yet for **{run.label}**: {n:,} drawings are waiting.")
            return
        result_view(saved, store, n)
    except CollectError as exc:  # e.g. another session holds the database for a moment
        st.error(str(exc))


def result_view(saved: dict[str, Any], store: DrawingStore, n_now: int) -> None:
    verdict(saved, n_now)
    what_differs(saved)
    outlier_gallery(saved, store)
    over_time(saved)
    what_to_do(saved)


def verdict(saved: dict[str, Any], n_now: int) -> None:
    p = saved["p_value"]
    if saved["drift"]:
        st.error(
            f"**The field has drifted: p = {p:.2g}.** The drawings differ from the training data.", icon="🚨"
        )
    else:
        st.success(f"**The field looks like the training data** (p = {p:.2g}).", icon="✅")
    cols = st.columns(4)
    cols[0].metric("Field drawings", f"{saved['n_field']:,}")
    cols[1].metric(
        "Training images", f"{saved['n_reference']:,}", help="Validation images drawn on a virtual canvas"
    )
    acc = saved.get("field_accuracy")
    ref = saved.get("reference_accuracy")
    cols[2].metric(
        "Accuracy on the field",
        "—" if acc is None else f"{acc:.1%}",
        delta=None if acc is None or ref is None else f"{acc - ref:+.1%} vs training",
        help="On the labelled drawings; 'vs training' is the training images as drawn.",
    )
    cols[3].metric("Alarm since", saved.get("drift_since") or "—", help="The first window that drifted")
    new = n_now - saved["n_field"]
    measured = str(saved.get("measured", "?")).replace("T", " ")[:16]
    st.caption(
        f"Checked {measured} UTC on {saved['n_field']:,} drawings, {window_words(saved.get('window'))}"
        + (f"; {new:,} more collected since: check again." if new > 0 else ".")
        + ("" if new >= 0 else " Some were deleted since: check again.")
    )


def what_differs(saved: dict[str, Any]) -> None:
    st.markdown("##### What differs")
    findings = [line for line in saved.get("summary", [])[1:] if not line.startswith("The alarm")]
    if findings:
        st.markdown("\n".join(f"- {line}" for line in findings))
    st.altair_chart(charts.traits_chart(saved["features"], columns=4, width=150))
    st.caption(
        "Each bar is the middle half of the images, the tick the median, the dot the mean; "
        "d is the difference of the means in pooled standard deviations (0.5 is medium, 0.8 large)."
    )
    mix, conf = st.columns([1.2, 1], gap="large")
    with mix:
        st.markdown("**Digit mix** (sampling bias)", help=saved["class_mix"]["sentence"])
        st.altair_chart(as_drawn(charts.class_mix_chart(saved["class_mix"], width=380, height=150)))
    with conf:
        st.markdown("**Model confidence**", help=saved["confidence"]["sentence"])
        st.altair_chart(as_drawn(charts.confidence_chart(saved["confidence"], width=300)))
        c = saved["confidence"]
        st.caption(
            f"Below 50 %: {c['field_unsure']:.0%} of the field, {c['training_unsure']:.0%} of training."
        )


def outlier_gallery(saved: dict[str, Any], store: DrawingStore) -> None:
    """The field drawings farthest from any training image, as the model sees them."""
    shown = []
    for o in saved.get("outliers", []):
        if not str(o["name"]).startswith("#"):
            continue  # a folder's image: not in the store
        try:
            shown.append((o, store.get(int(o["name"][1:]))))
        except CollectError:
            continue  # deleted since the check
        if len(shown) == GALLERY:
            break
    if not shown:
        return
    st.markdown(
        "##### Least like any training image",
        help="Distance to the nearest training image in the model's features, over the training "
        "images' own typical distance: 1× is typical. ⚠️ marks one farther than 99 % of training images are.",
    )
    cols = st.columns(GALLERY_COLS)
    for i, (o, d) in enumerate(shown):
        mark = "⚠️ " if o["unusual"] else ""
        cols[i % GALLERY_COLS].image(
            images.upscale_to(d.image28, 84), caption=f"{mark}#{d.id} · is {d.true_label} · {o['score']:.1f}×"
        )


def over_time(saved: dict[str, Any]) -> None:
    windows = saved.get("windows") or []
    st.markdown("##### Over time")
    if len(windows) < 2:
        st.caption(
            f"All drawings fall in one window ({window_words(saved.get('window'))}): pick shorter "
            "windows above and check again to follow the field over time."
        )
        return
    st.altair_chart(charts.windows_chart(windows, saved["alpha"], width=620, height=120))
    level = charts.alarm_level(saved["alpha"], len(windows))
    alarmed = [w["label"] for w in windows if w["alarm"]]
    st.caption(
        f"A window raises the alarm when its p-value falls below {level:.2g} (α = {saved['alpha']:g} "
        f"shared by {len(windows)} windows). "
        + (f"Alarm in: {', '.join(alarmed)}." if alarmed else "No window raised the alarm.")
    )


def what_to_do(saved: dict[str, Any]) -> None:
    st.markdown("##### What to do")
    if saved["drift"]:
        st.markdown(
            "- **Collect and label more drawings like these** (the ones above, the windows in red): "
            "the model has seen too few of them.\n"
            "- **Retrain with the collected drawings**: the Train page adds them in one click, "
            "then check the field again with the new model."
        )
    else:
        st.markdown(
            "- Keep collecting and check again as drawings come in: drift shows in a window first.\n"
            "- Retraining with the collected drawings still helps the digits the model gets wrong."
        )
    ui.link("Train", "Train with the collected drawings")
