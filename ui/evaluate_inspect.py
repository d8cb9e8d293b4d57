"""The Evaluate page's look inside the model (issue 14), one function per section, in three tabs
below the matrix: where do its validation images sit, can we trust its confidence, where does
it break.

- `tabs()` makes the tabs lazy (`on_change="rerun"`): only the open one runs, so arriving on the
  page never pays for a map or a sweep nobody looks at.
- `embedding_map`: penultimate-layer features of the validation images (`mnist_core.evaluation.embedding`),
  PCA at once or t-SNE as a background job (kind "tsne"); an interval selection lists its images
  below; the Deploy page's last prepared drawing (`DRAWING_KEY`) is the star.
- `calibration`: reliability diagram and ECE before/after the run's temperature; "Fit the
  temperature" saves one with the run (`calibration.calibrate_run`), which Deploy and the CLI's
  predict then apply (`calibration.predict_options`).
- `coverage`: the "not sure" threshold on validation, saved as the run's own line.
- `robustness`: accuracy as the validation images are perturbed, measured as a background job
  (kind "robustness") and kept with the run (robustness.json); a second run on the same chart.

Everything derived from a run is cached per `ui.run_version` (finished t-SNE maps per weights
file: a temperature fit rewrites meta.json but moves no point). `report_extras` hands
the same figures to the stakeholder report.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import streamlit as st

import ui
from mnist_core.charts import inspect as inspect_charts
from mnist_core.data.images import upscale
from mnist_core.deploy import predict
from mnist_core.evaluation import calibration as cal
from mnist_core.evaluation import embedding
from mnist_core.evaluation import robustness as rob
from mnist_core.runs import storage
from mnist_core.training.jobs import Job, JobBusy, JobSnapshot, JobState, job_progress
from ui import evaluate as views

TAB_KEY = "evaluate.inspect"  # which of the three tabs is open
METHOD_KEY = "evaluate.map_method"  # "PCA" or "t-SNE"
MAP_KEY = "evaluate.map"  # the map's interval selection
THRESHOLD_KEY = "evaluate.threshold"  # the coverage slider
THRESHOLD_RUN_KEY = "_evaluate.threshold_run"  # the run the slider was set for
OTHER_KEY = "evaluate.robust_other"  # the second run on the robustness chart
# The Deploy page writes the last prepared drawing here: 28×28, uint8 (or floats in 0..1).
DRAWING_KEY = "deploy.last_input28"
TABS = ("🗺️ Where do its images sit?", "🎯 Can we trust its confidence?", "🧪 Where does it break?")
METHODS = ("PCA", "t-SNE")
MAP_POINTS = embedding.TSNE_MAX_POINTS  # a bigger map would ship megabytes of thumbnails
SELECTION_LIMIT = 40  # images listed under the map for a selection
THUMB_SCALE = 2  # 28 px → 56 px under the map
ROBUSTNESS_N = rob.DEFAULT_N  # validation images perturbed
ROBUSTNESS_PERTURBATIONS: tuple[str, ...] | None = None  # None: all of them
ss = st.session_state


def tabs() -> tuple[Any, Any, Any]:
    """The three look-inside tabs under one heading; each section draws only in its open tab."""
    st.subheader("Look inside the model")
    ui.teach(
        "Three questions stakeholders ask: where do its images sit in what it has learned, how far "
        "can its confidence be trusted, and what happens when people write differently."
    )
    where, trust, breaks = st.tabs(list(TABS), key=TAB_KEY, on_change="rerun")
    return where, trust, breaks


# ================================================================ where do its images sit?


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
    value = ss.get(DRAWING_KEY)
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
            **ui.persistent(METHOD_KEY, METHODS[0]),
            help="PCA: the two directions along which the features vary most; exact and instant. "
            f"t-SNE: keeps neighbours together, so clusters stand out; on up to {MAP_POINTS:,} "
            "images, computed in the background (tens of seconds).",
        )
        if ss.get(METHOD_KEY) == "t-SNE":
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
            chart = inspect_charts.embedding_chart(points, star=star[0] if star else None, title=title)
            event = st.altair_chart(
                chart, key=MAP_KEY, on_select="rerun", selection_mode=inspect_charts.BRUSH
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
        _selection(ev, points, inspect_charts.selection_box(event))

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


def _tsne_work(features: np.ndarray, key: tuple[str, float], store: dict) -> Any:
    def work(stop: threading.Event) -> Iterator[dict]:
        yield {"kind": "tsne", "key": key, "progress": 0.0, "text": "starting t-SNE…"}
        for rec in embedding.tsne_records(features, stop=stop):
            if rec.kind == "done":
                store[key] = rec.projection  # plain dict, no st.*: safe from the job's thread
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
            Job(_tsne_work(features, key, _tsne_maps()), kind="tsne", title=f"t-SNE map of {label}")
        )
    except JobBusy as exc:
        ui.flash("warning", f"{exc} Only one job runs at a time (two would share the same CPU).")


def _on_stop(kind: str) -> None:
    job = ui.job_manager().job_of(kind)
    if job is not None:
        job.stop()


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
        st.button("Stop", key="evaluate.tsne_stop", on_click=_on_stop, args=("tsne",), icon="⏹️")
        ui.follow_job(job, _tsne_drawer(ev.table), key="tsne")
        return None
    if job is not None and job.snapshot().state in (JobState.FAILED, JobState.STOPPED):
        snap = job.snapshot()
        st.warning(f"The last t-SNE run {snap.error and 'failed: ' + snap.error or 'was stopped'}.")
    n = min(len(features), MAP_POINTS)
    st.button(
        f"Compute the t-SNE map ({n:,} images)",
        type="primary",
        key="evaluate.tsne_start",
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
            st.altair_chart(inspect_charts.embedding_chart(rows, title="t-SNE so far"))

    return draw


# ================================================================ can we trust its confidence?


def calibration_figures(probs: np.ndarray, labels: np.ndarray, temperature: float) -> cal.CalibrationReport:
    """`calibrate`'s figures for a temperature already chosen, from probabilities: softmax(log p / T)
    equals softmax(logits / T) (`calibration.apply_temperature`), so no logits are needed."""
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float32)
    logp = np.log(np.maximum(p.astype(np.float64), 1e-300))
    before, after = cal.reliability_bins(p, y), cal.reliability_bins(cal.apply_temperature(p, temperature), y)
    accuracy = float((p.argmax(1) == y).mean()) if len(y) else 0.0
    return cal.CalibrationReport(
        float(temperature),
        int(len(y)),
        accuracy,
        cal.ece_from_bins(before),
        cal.ece_from_bins(after),
        cal.nll(logp, y),
        cal.nll(logp, y, temperature),
        before,
        after,
        0.0,
    )


@st.cache_data(max_entries=8, show_spinner=False)
def _figures(run_path: str, version: float, temperature: float, _table: Any) -> cal.CalibrationReport:
    return calibration_figures(_table.probs, _table.labels, temperature)


def _fit(run: storage.Run) -> None:
    try:
        with st.spinner("Fitting the temperature on the validation set…"):
            rep = cal.calibrate_run(storage.load_run(run.path))
    except (cal.CalibrationError, *views.KNOWN_ERRORS) as exc:
        st.error(f"The temperature could not be fitted: {exc}")
        return
    ui.flash(
        "success",
        f"Saved T = {rep.temperature:.3f} with the run: ECE {rep.ece_before:.2%} → {rep.ece_after:.2%}. "
        "Deploy and `python -m mnist_core predict` use it from now on.",
    )
    st.rerun()


def calibration(ev: views.Evaluation, tab: Any) -> None:
    """Reliability diagram and ECE before and after temperature scaling (fitted on validation)."""
    if not tab.open:
        return
    with tab:
        st.markdown(
            "#### Calibration",
            help="A model is calibrated when, of the answers it gives with 80 % confidence, 80 % are "
            "right. Temperature scaling divides every logit by one number T fitted on validation: "
            "T > 1 softens an over-confident model; the answers never change.",
        )
        ui.show_flash()
        if ev.table is None:
            st.info("Calibration needs the validation images, which cannot be rebuilt here (see above).")
            return
        t = cal.run_temperature(ev.run)
        fitted = isinstance(ev.run.meta.get("calibration"), dict)
        rep = _figures(str(ev.run.path), ui.run_version(ev.run), t, ev.table)
        left, right = st.columns([3, 2], gap="medium")
        with left:
            st.altair_chart(
                inspect_charts.reliability_chart(rep if fitted else None, bins_before=rep.bins_before)
            )
        with right:
            c1, c2 = st.columns(2)
            c1.metric(
                "ECE before scaling",
                f"{rep.ece_before:.2%}",
                help="Expected calibration error: the count-weighted gap between confidence and "
                f"accuracy over {len(rep.bins_before)} confidence bins. 0 = perfectly calibrated.",
            )
            if fitted:
                c2.metric(
                    "ECE after scaling",
                    f"{rep.ece_after:.2%}",
                    f"{(rep.ece_after - rep.ece_before) * 100:+.2f} pts",
                    delta_color="inverse",
                )
                st.markdown(
                    f"Temperature **T = {t:.3f}** (saved with the run): validation NLL "
                    f"{rep.nll_before:.4f} → {rep.nll_after:.4f}, accuracy unchanged at {rep.accuracy:.2%}. "
                    "Deploy and the CLI's `predict` apply it."
                )
            else:
                c2.metric("ECE after scaling", "not fitted")
                st.markdown("No temperature saved yet: the model's probabilities are used as they are.")
            label = "Fit the temperature again" if fitted else "Fit the temperature"
            if st.button(
                label,
                type="secondary" if fitted else "primary",
                key="evaluate.fit_temperature",
                icon="🌡️",
                help=f"One number fitted on the {rep.n:,} validation images (~1 s).",
            ):
                _fit(ev.run)
            ui.teach(
                "Points under the dashed diagonal: over-confident (it is right less often than it "
                "claims). The bars below count the images in each bin: most sit near 100 %."
            )


def _threshold_options() -> list[float]:
    return [round(float(v), 3) for v in cal.default_thresholds()]


def _on_save_threshold(run: storage.Run, row: dict) -> None:
    try:
        cal.save_threshold(
            storage.load_run(run.path), row["threshold"], coverage=row["coverage"], accuracy=row["accuracy"]
        )
    except (cal.CalibrationError, *views.KNOWN_ERRORS) as exc:
        ui.flash("error", f"The threshold was not saved: {exc}")
        return
    ui.flash("success", f"Saved: Deploy says “not sure” for this run below {row['threshold']:.3f}.")


def _on_clear_threshold(run: storage.Run) -> None:
    try:
        cal.clear_threshold(storage.load_run(run.path))
    except views.KNOWN_ERRORS as exc:
        ui.flash("error", f"The threshold was not cleared: {exc}")
        return
    ui.flash("info", "This run is back to the default “not sure” rule.")


def _on_suggest(value: float) -> None:
    ss[THRESHOLD_KEY] = value


def _default_rule() -> str:
    return (
        f"not sure when the top probability is under {predict.UNSURE_BELOW:.0%} or the runner-up "
        f"is within {predict.CLOSE_MARGIN * 100:.0f} points"
    )


def coverage(ev: views.Evaluation, tab: Any) -> None:
    """Coverage vs accuracy: answer only when the top probability ≥ t; save t as the run's line."""
    if not tab.open:
        return
    with tab:
        st.markdown(
            "#### Coverage vs accuracy: when should it say “not sure”?",
            help="On validation, with the run's temperature applied: the share of images the model "
            "would answer at each threshold, and its accuracy on those.",
        )
        if ev.table is None:
            return
        options = _threshold_options()
        current = cal.run_threshold(ev.run)
        if ss.get(THRESHOLD_RUN_KEY) != ev.run.id or ss.get(THRESHOLD_KEY) not in options:
            start = current if current is not None else predict.UNSURE_BELOW
            ss[THRESHOLD_KEY] = min(options, key=lambda v: abs(v - start))
            ss[THRESHOLD_RUN_KEY] = ev.run.id
        probs = cal.apply_temperature(ev.table.probs, cal.run_temperature(ev.run))
        curve = cal.coverage_curve(probs, ev.table.labels, options)
        _coverage_view(ev, curve, current)


def _coverage_view(ev: views.Evaluation, curve: list[dict], current: float | None) -> None:
    @st.fragment
    def view() -> None:  # moving the slider redraws only this section
        by_t = {r["threshold"]: r for r in curve}
        left, right = st.columns([3, 2], gap="medium")
        with right:
            t = st.select_slider(
                "Answer only when the top probability is at least",
                list(by_t),
                key=THRESHOLD_KEY,
                format_func=lambda v: f"{v:.3f}",
            )
            row = by_t[t]
            c1, c2 = st.columns(2)
            c1.metric(
                "Answered",
                f"{row['coverage']:.1%}",
                help=f"{row['answered']:,} of {len(ev.table.labels):,} "
                "validation images; the rest get “not sure”.",
            )
            acc = row["accuracy"]
            c2.metric(
                "Accuracy on them",
                "—" if acc is None else f"{acc:.2%}",
                help="The share of the answered images that were read right.",
            )
            try:
                best = cal.choose_threshold(curve, ev.target)
            except cal.CalibrationError:
                best = None
            if best is not None and best["met"]:
                st.caption(
                    f"The lowest threshold reaching the target of {ev.target:.0%}: "
                    f"{best['threshold']:.3f} (answers {best['coverage']:.1%})."
                )
                st.button(
                    "Use it",
                    key="evaluate.threshold_suggest",
                    on_click=_on_suggest,
                    args=(best["threshold"],),
                )
            elif best is not None:
                st.caption(
                    f"No threshold reaches the target of {ev.target:.0%}; the most accurate "
                    f"is {best['threshold']:.3f} ({best['accuracy']:.2%} on {best['coverage']:.1%})."
                )
            st.button(
                f"Save {t:.3f} as this run's “not sure” line",
                type="primary",
                key="evaluate.threshold_save",
                on_click=_on_save_threshold,
                args=(ev.run, row),
                disabled=acc is None,
                icon="💾",
            )
        with left:
            chart = inspect_charts.coverage_chart(curve, chosen=t, target=ev.target, width=380, height=220)
            st.altair_chart(chart.configure_legend(orient="top"))  # a legend beside it would not fit
        ui.show_flash()
        fresh = storage.load_run(ev.run.path)  # a save from this fragment's button is already on disk
        _current_line(fresh)

    view()


def _current_line(run: storage.Run) -> None:
    current = cal.run_threshold(run)
    if current is None:
        st.caption(
            f"This run has no “not sure” line of its own: Deploy uses the default rule ({_default_rule()})."
        )
        return
    entry = run.meta.get("unsure_threshold") or {}
    figures = ""
    if isinstance(entry.get("coverage"), float) and isinstance(entry.get("accuracy"), float):
        figures = (
            f": it answered {entry['coverage']:.1%} of validation, {entry['accuracy']:.2%} of them right"
        )
    st.info(
        f"This run's “not sure” line: **{current:.3f}**{figures}. Deploy says “not sure” below it "
        f"(runs without a line keep the default rule: {_default_rule()}).",
        icon="📏",
    )
    if cal.threshold_is_stale(run):
        st.warning("It was chosen under another temperature than the one saved now: choose it again.")
    st.button(
        "Back to the default rule", key="evaluate.threshold_clear", on_click=_on_clear_threshold, args=(run,)
    )


# ================================================================ where does it break?


def _sweep_work(run_path: str, n: int, names: tuple[str, ...] | None) -> Any:
    """Sweep a run perturbation by perturbation (so Stop takes effect between curves) and save it."""

    def work(stop: threading.Event) -> Iterator[dict]:
        run = storage.load_run(run_path)
        todo = list(names or rob.ORDER)
        yield {
            "kind": "robustness",
            "run_id": run.id,
            "progress": 0.0,
            "text": "rebuilding the validation set…",
        }
        val = run.split().val
        k = min(n, len(val))
        if k == 0:
            raise rob.RobustnessError("The run's validation set is empty: there is nothing to perturb.")
        model, parts = run.load_model(), []
        for i, name in enumerate(todo):
            if stop.is_set():
                return
            parts.append(
                rob.sweep(
                    model,
                    val.images[:k],
                    val.labels[:k],
                    [name],
                    label=str(run.meta.get("name") or run.id),
                    run_id=run.id,
                )
            )
            yield {
                "kind": "robustness",
                "run_id": run.id,
                "progress": (i + 1) / len(todo),
                "text": f"{rob.PERTURBATIONS[name].label} measured ({i + 1} of {len(todo)})",
            }
        whole = dataclasses.replace(
            parts[0], curves=[p.curves[0] for p in parts], seconds=sum(p.seconds for p in parts)
        )
        whole = dataclasses.replace(whole, summary=rob.weakest(whole)["sentence"])
        rob.save_sweep(run, whole)
        yield {"kind": "robustness", "run_id": run.id, "progress": 1.0, "text": "saved", "done": True}

    return work


def _on_sweep(run: storage.Run) -> None:
    try:
        ui.job_manager().submit(
            Job(
                _sweep_work(str(run.path), ROBUSTNESS_N, ROBUSTNESS_PERTURBATIONS),
                kind="robustness",
                title=f"Robustness of {run.label}",
            )
        )
    except JobBusy as exc:
        ui.flash("warning", f"{exc} Only one job runs at a time (two would share the same CPU).")


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
                    "Stop", key="evaluate.sweep_stop", on_click=_on_stop, args=("robustness",), icon="⏹️"
                )
            ui.follow_job(job, _draw_sweep, key="robustness")
            if job.running:
                return
        mine = rob.load_sweep(ev.run)
        if mine is None:
            st.markdown("Not measured yet for this run.")
            _sweep_button(ev.run, "Measure robustness", "evaluate.sweep_start")
            return
        second = _second_sweep(ev, runs, job, job_run)
        # three panels a row fit the page's column at 1280 px
        st.altair_chart(
            inspect_charts.robustness_chart([mine, second] if second else mine, columns=3, panel=160)
        )
        st.markdown(f"**{rob.weakest(mine)['sentence']}**")
        if second is not None:
            st.markdown(rob.compare(mine, second)["sentence"])
        st.caption(
            f"On {mine.n:,} validation images: {mine.accuracy:.1%} as they are, "
            f"{mine.app_accuracy:.1%} through the app's preprocessing (where the curves start). "
            "An image the app finds blank counts as wrong."
        )
        _sweep_button(ev.run, "Measure again", "evaluate.sweep_again", primary=False)


def _second_sweep(
    ev: views.Evaluation, runs: list[storage.Run], job: Job | None, job_run: str | None
) -> rob.Sweep | None:
    """The picked second run's saved sweep, or the button to measure it."""
    by_id = {r.id: r for r in runs if r.id != ev.run.id}
    if not by_id:
        return None
    if ss.get(OTHER_KEY) not in by_id:
        ss.pop(OTHER_KEY, None)
    other_id = st.selectbox(
        "Compare with",
        list(by_id),
        index=None,
        key=OTHER_KEY,
        format_func=lambda i: by_id[i].label,
        placeholder="Pick a second run…",
        help="e.g. the same model trained with and without augmentation.",
    )
    if other_id is None:
        return None
    other = by_id[other_id]
    if job is not None and job_run == other.id and job.running:
        ui.follow_job(job, _draw_sweep, key="robustness_other")
        return None
    found = rob.load_sweep(other)
    if found is None:
        st.caption("That run has not been measured yet.")
        _sweep_button(other, "Measure the second run", "evaluate.sweep_other", primary=False)
    return found


# ================================================================ the stakeholder report


def report_extras(run: storage.Run, table: Any) -> dict[str, Any]:
    """Keyword arguments of `report.build_report` for the charts of what the run has saved: the
    reliability diagram once a temperature is fitted, the coverage curve once a "not sure" line is
    chosen (no st.*: the report is built on the download's thread)."""
    extras: dict[str, Any] = {}
    if table is None:
        return extras
    t = cal.run_temperature(run)
    if isinstance(run.meta.get("calibration"), dict):
        extras["calibration"] = calibration_figures(table.probs, table.labels, t)
    if cal.run_threshold(run) is not None:
        extras["coverage"] = cal.coverage_curve(cal.apply_temperature(table.probs, t), table.labels)
    return extras
