"""Step 2 · Data: choose where the images come from, then look at them before training anything."""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

import ui
from mnist_core.charts import data as data_charts
from mnist_core.data import explore, images
from mnist_core.data import sources as core_data
from mnist_core.data.errors import DataError
from ui import state as keys

SOURCES = {
    "auto": "Auto: full MNIST if it is downloaded, otherwise the offline sample",
    "sample": "Offline sample: 5,000 real MNIST images, always available",
    "mnist": "Full MNIST: 70,000 images (a one-time download of about 11 MB)",
    "folder": "A local folder of MNIST IDX files",
}


# ---------------------------------------------------------------- choosing the source


def current_choice() -> str:
    spec = ui.data_spec()
    return spec if spec in ("auto", "sample", "mnist") else "folder"


def apply(spec: str) -> None:
    """Make `spec` the app-wide source and rerun, so the sidebar shows it at once."""
    if ui.data_spec() != spec:
        ui.set_data_spec(spec)
        st.rerun()


def download_with_progress() -> None:
    """Download full MNIST in a worker thread while this script draws its progress.

    The downloader reports from its own watcher thread, which cannot touch Streamlit, so the
    callback only records numbers and this loop draws them.
    """
    state: dict = {"done": 0, "total": 1, "message": "Starting the download…", "error": None}
    lock = threading.Lock()

    def progress(done: int, total: int, message: str) -> None:
        with lock:
            state.update(done=done, total=max(total, 1), message=message)

    def work() -> None:
        try:
            core_data.download_mnist(progress=progress)
        except DataError as exc:
            state["error"] = str(exc)

    worker = threading.Thread(target=work, name="mnist-download", daemon=True)
    worker.start()
    bar = st.progress(0.0, text=state["message"])
    while worker.is_alive():
        with lock:
            bar.progress(min(state["done"] / state["total"], 1.0), text=state["message"])
        worker.join(0.2)
    if state["error"]:
        bar.empty()
        st.error(state["error"])
        return
    bar.progress(1.0, text="Full MNIST downloaded.")
    ui.clear_data_caches()
    apply("mnist")


def use_folder(path: str) -> None:
    """Check a folder holds loadable IDX files before making it the source."""
    if not path.strip():
        st.error("Type the path of a folder that holds the MNIST IDX files.")
        return
    try:
        info = core_data.resolve_source(ui.allowed_folder(path))
        pool = core_data.load_train_pool(info.key)
    except DataError as exc:
        st.error(str(exc))
        return
    try:
        core_data.load_test(info.key)
    except DataError as exc:
        st.warning(
            f"{len(pool):,} training images found, but no usable test set: {exc} "
            "The final test on the Evaluate page will not be possible."
        )
    ui.clear_data_caches()
    apply(info.key)


def source_section() -> None:
    st.header("Data source")
    choice = st.radio(
        "Where the images come from",
        list(SOURCES),
        format_func=SOURCES.get,
        index=list(SOURCES).index(current_choice()),
        help="The choice applies to every page of the app for this browser session.",
    )
    if choice in ("auto", "sample"):
        apply(choice)
    elif choice == "mnist":
        if core_data.mnist_available():
            apply("mnist")
        else:
            st.info(
                "Full MNIST is not on this computer yet. Download it once (it is cached for "
                "later, offline use); until then the current source stays active."
            )
            if st.button("Download full MNIST", icon="⬇️"):
                download_with_progress()
    else:
        folder_picker()
    info = ui.or_stop(ui.source_info)
    st.success(f"Active: **{info.name}**" + (f" — {info.note}" if info.note else ""))
    st.caption(
        "**Auto** picks full MNIST when it has been downloaded and the offline sample "
        "otherwise, so the app always works without a network."
    )


def folder_picker() -> None:
    spec = ui.data_spec()
    if keys.DATA_FOLDER not in st.session_state:
        st.session_state[keys.DATA_FOLDER] = spec if Path(spec).is_dir() else ""
    path = st.text_input(
        "Folder with the IDX files",
        key=keys.DATA_FOLDER,
        placeholder="/path/to/mnist",
        help="train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte (each may be .gz).",
    )
    if st.button("Use this folder"):
        use_folder(path)


# ---------------------------------------------------------------- cached statistics


@st.cache_data(show_spinner=False)
def grid_image(key: str, digit: int, seed: int) -> tuple:
    pool = ui.pool_for(key)
    picks = explore.digit_samples(pool, digit, 40, seed)
    return images.upscale(images.tile(picks, 10), 3), len(picks)


@st.cache_data(show_spinner="Averaging images…")
def pixel_stats(key: str) -> dict:
    pool = ui.pool_for(key)
    return {
        "mean_strip": images.upscale(explore.mean_image_strip(pool), 3),
        "histogram": explore.intensity_histogram(pool.images, 32),
        "zero_fraction": explore.zero_fraction(pool.images),
        "ink": explore.ink_rows(pool),
    }


# ---------------------------------------------------------------- what the data looks like


def balance_section(key: str) -> None:
    st.header("Class balance")
    split = ui.split_settings()
    test_counts = tuple(ui.or_stop(ui.test_label_counts))
    rows = ui.split_count_rows(key, split["val_fraction"], split["split_seed"], test_counts)
    totals = {s: sum(r["count"] for r in rows if r["split"] == s) for s in ("train", "validation", "test")}
    cols = st.columns(3)
    for col, (name, n) in zip(cols, totals.items()):
        col.metric(f"{name.capitalize()} images", f"{n:,}")
    st.altair_chart(data_charts.split_bars(rows, "count"), width="stretch")
    train_counts = [r["count"] for r in rows if r["split"] == "train"]
    st.caption(
        f"Largest / smallest digit in train: {explore.imbalance(train_counts):.2f}× "
        f"(1.00 = perfectly balanced). Train and validation follow the split set on "
        f"Preprocess (validation {split['val_fraction']:.0%}, seed {split['split_seed']}). "
        "Only the **labels** of the test set are counted here: its images stay locked "
        "until the final check on Evaluate."
    )


def samples_section(key: str) -> None:
    st.header("Samples of one digit")
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    with left:
        digit = st.segmented_control("Digit", list(range(10)), default=3, key=keys.DATA_DIGIT, required=True)
    with right:
        if st.button("Shuffle", icon="🔀", width="stretch"):
            st.session_state[keys.DATA_GRID_SEED] = st.session_state.get(keys.DATA_GRID_SEED, 0) + 1
    digit = 3 if digit is None else int(digit)
    image, n = grid_image(key, digit, st.session_state.get(keys.DATA_GRID_SEED, 0))
    st.image(image, caption=f"{n} random training images labelled {digit}")
    st.caption(
        "Look for odd ones: a label can be wrong, and a digit can be written in very "
        "different styles (a 7 with or without a bar, a 4 open or closed)."
    )


def pixels_section(key: str) -> None:
    stats = pixel_stats(key)
    st.header("The average digit")
    st.image(stats["mean_strip"], caption="Mean image of each digit, 0 to 9")
    st.caption(
        "Sharp where writers agree, blurry where they differ. MNIST digits were scaled "
        "to fit a 20 × 20 box and centred by their centre of mass in the 28 × 28 frame: "
        "a model learns that framing too."
    )
    hist, ink = st.columns(2, gap="large")
    with hist:
        st.subheader("Pixel intensities")
        st.altair_chart(data_charts.intensity_chart(stats["histogram"]), width="stretch")
        st.caption(
            f"{stats['zero_fraction']:.1%} of all pixels are exactly 0 (background) and are "
            "left out above. Ink is mostly near 255, with grey anti-aliased edges."
        )
    with ink:
        st.subheader("Ink per digit")
        st.altair_chart(data_charts.ink_chart(stats["ink"]), width="stretch")
        ranked = sorted(stats["ink"], key=lambda r: r["ink_fraction"])
        st.caption(
            f"A {ranked[0]['digit']} uses the least ink, a {ranked[-1]['digit']} the most: "
            "even this one number says something about the digit, which is why simple "
            "models already beat chance."
        )


def representative_section() -> None:
    st.header("Does this data look like what users will draw?")
    st.markdown(
        "Not quite. MNIST digits were written **with pens on paper by US Census Bureau staff and "
        "US high-school students**, scanned, then **size-normalised and centred**. Digits drawn "
        "with a mouse or a finger on the canvas have different stroke widths, sizes and positions, "
        "and writers from elsewhere form some digits differently (a crossed 7, a 1 with a long flag). "
        "A high test score on MNIST therefore promises less on real drawings; the honest measure is "
        "the accuracy on drawings collected from real users."
    )
    ui.link("Deploy", "See the field accuracy on collected drawings")


def main() -> None:
    ui.page("Data", "Where the images come from, and what they look like: look before you train.")
    source_section()
    info = ui.or_stop(ui.source_info)
    ui.or_stop(ui.train_pool)
    balance_section(info.key)
    samples_section(info.key)
    pixels_section(info.key)
    representative_section()


main()
