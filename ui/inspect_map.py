"""The Evaluate page's "Where do its images sit?" tab: the validation set in the model's
penultimate layer (`mnist_core.evaluation.embedding`), in 2-D.

PCA at once, or t-SNE as a background job (kind "tsne") whose finished maps are kept per
weights file (a temperature fit rewrites meta.json but moves no point); an interval selection
lists its images below; the Deploy page's last prepared drawing (`keys.DEPLOY_LAST_INPUT`) is the star.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import streamlit as st

import ui
from mnist_core.charts import embedding as embedding_charts
from mnist_core.data.images import upscale
from mnist_core.evaluation import embedding
from mnist_core.jobs.job import Job, JobBusy, JobSnapshot, JobState
from mnist_core.jobs.progress import job_progress
from mnist_core.runs import storage
from ui import evaluate as views
from ui import state as keys
from ui.evaluate_inspect import stop_job

# The Deploy page writes the last prepared drawing here: 28×28, uint8 (or floats in 0..1).
METHODS = ("PCA", "t-SNE")
MAP_POINTS = embedding.TSNE_MAX_POINTS  # a bigger map would ship megabytes of thumbnails
SELECTION_LIMIT = 40  # images listed under the map for a selection
THUMB_SCALE = 2  # 28 px → 56 px under the map
ss = st.session_state


@st.cache_resource(max_entries=4, show_spinner="Reading the penultimate layer of every validation image…")
def _features(run_path: str, version: float, _images: np.ndarray) -> embedding.FeatureSet:
    return embedding.features(ui.load_model(storage.load_run(run_path)), _images)


@st.cache_resource(max_entries=4, show_spinner=False)
def _pca(run_path: str, version: float, _feats: embedding.FeatureSet) -> embedding.Projection:
    return embedding.pca_2d(_feats)


@st.cache_resource(max_entries=6, show_spinner="Drawing the map…")
def _points(
    run_path: str, version: float, method: str, _proj: embedding.Projection, _table: Any
) -> list[dict]:
    """Chart rows with thumbnails for at most MAP_POINTS images (the t-SNE sample, for PCA too)."""
    if method == "pca":
        idx = embedding.sample_indices(len(_proj.indices), MAP_POINTS)
        _proj = dataclasses.replace(_proj, coords=_proj.coords[idx], indices=_proj.indices[idx])
    return embedding.embedding_points(_proj, _table.labels, _table.probs, _table.images)


@st.cache_resource
def _tsne_maps() -> dict[tuple[str, float], embedding.Projection]:
    """Finished t-SNE maps by (run folder, weights version), for every session (the job writes here)."""
    return {}


def _drawing() -> np.ndarray | None:
    """The Deploy page's last prepared drawing as uint8 28×28, or None."""
    value = ss.get(keys.DEPLOY_LAST_INPUT)
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    if arr.size != 28 * 28 or not np.isfinite(arr).all():
        return None
    arr = arr.reshape(28, 28)
    arr = arr * 255.0 if arr.max() <= 1.0 else arr
    return arr.clip(0, 255).round().astype(np.uint8)


def _star(ev: views.Evaluation, proj: embedding.Projection) -> tuple[tuple[float, float], str] | None:
    """Where the current drawing lands on the map, and what the model reads in it."""
    image = _drawing()
    if image is None:
        return None
    feats = embedding.features(ui.load_model(ev.run), image[None])
    x, y = embedding.place(proj, feats.features)[0]
    digit, conf = int(feats.predicted[0]), float(feats.probs[0].max())
    return (float(x), float(y)), f"★ Your drawing from Deploy: the model reads a {digit} ({conf:.0%})."


def embedding_map(ev: views.Evaluation, tab: Any) -> None:
    """Where do its images sit? The validation set in the model's penultimate layer, in 2-D."""
    if not tab.open:
        return
    with tab:
        if ev.table is None:
            st.info("The map needs the validation images, which cannot be rebuilt here (see above).")
            return
        version = ui.run_version(ev.run)
        try:
            feats = _features(str(ev.run.path), version, ev.table.images)
        except embedding.EmbeddingError as exc:
            st.info(str(exc))
            return
        st.radio(
            "Projection",
            METHODS,
            horizontal=True,
            **ui.persistent(keys.EVALUATE_MAP_METHOD, METHODS[0]),
            help="PCA: the two directions along which the features vary most; exact and instant. "
            f"t-SNE: keeps neighbours together, so clusters stand out; on up to {MAP_POINTS:,} "
            "images, computed in the background (tens of seconds).",
        )
        if ss.get(keys.EVALUATE_MAP_METHOD) == "t-SNE":
            proj = _tsne_section(ev, feats.features)
            if proj is None:
                return
        else:
            proj = _pca(str(ev.run.path), version, feats)
        _map_view(ev, proj, version)


def _map_view(ev: views.Evaluation, proj: embedding.Projection, version: float) -> None:
    @st.fragment
    def view() -> None:  # a new selection redraws only the map and its list
        points = _points(str(ev.run.path), version, proj.method, proj, ev.table)
        star = _star(ev, proj)
        if proj.method == "pca":
            a, b = proj.explained or (0.0, 0.0)
            title = f"PCA of the penultimate layer ({a:.0%} + {b:.0%} of the variance)"
        else:
            title = "t-SNE of the penultimate layer"
        left, right = st.columns([3, 2], gap="medium")
        with left:
            chart = embedding_charts.embedding_chart(points, star=star[0] if star else None, title=title)
            event = st.altair_chart(
                chart, key=keys.EVALUATE_MAP, on_select="rerun", selection_mode=embedding_charts.BRUSH
            )
        with right:
            wrong = sum(not p["correct"] for p in points)
            shown = (
                f"{len(points):,} of {len(ev.table.labels):,}"
                if len(points) < len(ev.table.labels)
                else (f"all {len(points):,}")
            )
            st.markdown(
                f"**{shown} validation images**, coloured by their true digit; the {wrong:,} "
                "mistakes are outlined. Hover a point to see the image and the answer; drag a box "
                "to list its images below."
            )
            ui.teach(
                "Each point is what the last layer sees of one image. Tight, separate clusters: the "
                "model tells those digits apart easily. Mistakes sit where clusters touch, or deep "
                "inside another digit's cluster (a strange or mislabelled image)."
            )
            if star:
                st.caption(star[1])
            else:
                st.caption("Draw a digit on the Deploy page: it appears here as a star.")
        _selection(ev, points, embedding_charts.selection_box(event))

    view()


def _selection(ev: views.Evaluation, points: list[dict], box: Any) -> None:
    """The images inside the map's interval selection, mistakes first."""
    if box is None:
        return
    inside = embedding.points_in_box(points, *box)
    if not inside:
        st.caption("No image in the selected box.")
        return
    wrong = [p for p in inside if not p["correct"]]
    digits = np.bincount([p["true"] for p in inside], minlength=10)
    mix = ", ".join(f"{d}s: {n}" for d, n in sorted(enumerate(digits), key=lambda x: -x[1]) if n)
    st.markdown(f"**{len(inside):,} images selected**, {len(wrong):,} of them mistakes · {mix}")
    order = sorted(
        inside, key=lambda p: (p["correct"], -p["confidence"] if not p["correct"] else p["confidence"])
    )
    shown = order[:SELECTION_LIMIT]
    st.image(
        [upscale(ev.table.images[p["index"]], THUMB_SCALE) for p in shown],
        caption=[_caption(p) for p in shown],
        width=28 * THUMB_SCALE,
    )
    if len(inside) > len(shown):
        st.caption(f"{len(shown)} of {len(inside):,} shown: mistakes first, then the least confident.")


def _caption(p: dict) -> str:
    if p["correct"]:
        return f"{p['true']} ✓ {p['confidence']:.0%}"
    return f"{p['true']}, said {p['predicted']} ({p['confidence']:.0%})"


# ---------------------------------------------------------------- t-SNE in the background


def _tsne_work(features: np.ndarray, key: tuple[str, float]) -> Any:
    """The t-SNE as a job's work (it runs on a cluster worker: plain data in, records out)."""

    def work(stop: threading.Event) -> Iterator[dict]:
        yield {"kind": "tsne", "key": key, "progress": 0.0, "text": "starting t-SNE…"}
        for rec in embedding.tsne_records(features, stop=stop):
            yield {
                **rec.to_dict(),
                "kind": "tsne",
                "key": key,
                "done": rec.kind == "done",
                "projection": rec.projection,
                "progress": rec.fraction,
                "text": f"t-SNE: {rec.iteration:,} of {rec.iterations:,} iterations",
            }

    return work


def _keep_map(store: dict) -> Any:
    """Runs in the app's process for every record: the finished map goes into the cache."""

    def keep(record: dict) -> None:
        if record.get("done"):
            store[record["key"]] = record["projection"]  # plain dict, no st.*: safe from a thread

    return keep


def _tsne_job(key: tuple[str, float]) -> Job | None:
    """The latest t-SNE job if it maps this run (or has not said yet which run it maps)."""
    job = ui.job_manager().job_of("tsne")
    if job is None:
        return None
    first = next((r for r in job.snapshot().records if "key" in r), None)
    return job if first is None or first["key"] == key else None


def _on_tsne(features: np.ndarray, key: tuple[str, float], label: str) -> None:
    try:
        ui.job_manager().submit(
            Job(
                _tsne_work(features, key),
                kind="tsne",
                title=f"t-SNE map of {label}",
                on_record=_keep_map(_tsne_maps()),
            )
        )
    except JobBusy as exc:
        ui.flash("warning", str(exc))


def _weights_version(run: storage.Run) -> float:
    weights = run.path / storage.WEIGHTS
    return weights.stat().st_mtime if weights.exists() else 0.0


def _tsne_section(ev: views.Evaluation, features: np.ndarray) -> embedding.Projection | None:
    """The run's finished t-SNE map, or the button / the live progress that leads to one."""
    # keyed by the weights alone: fitting a temperature or saving a threshold rewrites meta.json
    # (a new run_version) but moves no point, and a t-SNE map costs tens of seconds
    key = (str(ev.run.path), _weights_version(ev.run))
    done = _tsne_maps().get(key)
    if done is not None:
        return done
    job = _tsne_job(key)
    ui.show_flash()
    if job is not None and job.running:
        st.button("Stop", key=keys.EVALUATE_TSNE_STOP, on_click=stop_job, args=("tsne",), icon="⏹️")
        ui.follow_job(job, _tsne_drawer(ev.table), key=keys.EVALUATE_FOLLOW_TSNE)
        return None
    if job is not None and job.snapshot().state in (JobState.FAILED, JobState.STOPPED):
        snap = job.snapshot()
        st.warning(f"The last t-SNE run {snap.error and 'failed: ' + snap.error or 'was stopped'}.")
    n = min(len(features), MAP_POINTS)
    st.button(
        f"Compute the t-SNE map ({n:,} images)",
        type="primary",
        key=keys.EVALUATE_TSNE_START,
        on_click=_on_tsne,
        args=(features, key, ev.run.label),
        disabled=ui.job_running(),
        help="Runs in the background with a progress bar; the map sharpens as it goes. "
        + ("Another job is running: wait for it to end." if ui.job_running() else ""),
    )
    return None


def _tsne_drawer(table: Any) -> Any:
    def draw(snap: JobSnapshot, live: bool) -> None:
        """The progress bar and the layout so far (no thumbnails while it moves)."""
        if not live:
            return  # the page reruns once and draws the finished map
        bar = job_progress(snap)
        st.progress(bar.fraction, text=("Stopping… " if snap.stop_requested else "") + bar.text)
        latest = next((r for r in reversed(snap.records) if "projection" in r), None)
        if latest is not None:
            rows = embedding.embedding_points(latest["projection"], table.labels, table.probs)
            st.altair_chart(embedding_charts.embedding_chart(rows, title="t-SNE so far"))

    return draw
