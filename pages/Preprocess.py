"""Step 3 · Preprocess: scale pixels to 0–1, split the pool into train and validation, lock the test set away."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from mnist_core.charts import data as data_charts
from mnist_core.config import field_info
from mnist_core.data import explore
from mnist_core.data.preprocess import split_sizes
from ui import state as keys

CROP = 7  # rows and columns of the pixel-value tables


# ---------------------------------------------------------------- scaling


def crop_table(rows: list[dict], field: str, top: int, left: int, size: int = CROP) -> pd.DataFrame:
    """A window of pixel values (rows × columns of the image)."""
    table = pd.DataFrame(rows).pivot(index="row", columns="col", values=field)
    return table.iloc[top : top + size, left : left + size]


def show_table(table: pd.DataFrame, fmt: str) -> None:
    config = {str(c): st.column_config.NumberColumn(str(c), format=fmt, width=48) for c in table.columns}
    table = table.rename(columns=str)
    st.dataframe(table, column_config=config, width="content")


def scaling_section() -> None:
    st.header("Scaling: 0–255 becomes 0–1")
    pool = ui.or_stop(ui.train_pool)
    if st.session_state.get(keys.PREPROCESS_IMAGE_INDEX, 0) >= len(pool):
        st.session_state[keys.PREPROCESS_IMAGE_INDEX] = 0  # the data source changed to a smaller pool
    index = int(
        st.number_input(
            "Image number",
            0,
            len(pool) - 1,
            key=keys.PREPROCESS_IMAGE_INDEX,
            help="Any image of the training pool.",
        )
    )
    image = pool.images[index]
    rows = explore.pixel_rows(image)
    summary = explore.scaling_summary(image)
    top, left = explore.ink_window(image, CROP)
    raw_col, scaled_col = st.columns(2, gap="large")
    for col, name, fmt, title in (
        (raw_col, "raw", "%d", "Stored: integers 0–255"),
        (scaled_col, "scaled", "%.2f", "Model input: value / 255"),
    ):
        with col:
            st.altair_chart(
                data_charts.pixel_heatmap(rows, name, title, "d" if name == "raw" else ".2f"), width="content"
            )
            s = summary[name]
            m1, m2, m3 = st.columns(3)
            digits = 0 if name == "raw" else 2
            m1.metric("min", f"{s['min']:.{digits}f}")
            m2.metric("max", f"{s['max']:.{digits}f}")
            m3.metric("mean", f"{s['mean']:.{digits + 1}f}")
            show_table(crop_table(rows, name, top, left), fmt)
    st.caption(
        f"Label: {int(pool.labels[index])}. The tables show rows {top}–{top + CROP - 1} and "
        f"columns {left}–{left + CROP - 1}, where the stroke is. Same picture, same "
        "proportions: only the unit changes."
    )
    st.markdown(
        "**Why scale?** Networks start with small random weights that assume inputs of about "
        "unit size; raw values up to 255 make the first layer's outputs huge and training "
        "unstable. **The same scaling is applied everywhere** — training, evaluation, and every "
        "drawing on the Deploy page — because a model only understands inputs prepared the way "
        "it was trained."
    )


# ---------------------------------------------------------------- the split


def split_widgets() -> tuple[float, int]:
    settings = ui.split_settings()
    st.session_state.setdefault(keys.PREPROCESS_VAL_FRACTION, float(settings["val_fraction"]))
    st.session_state.setdefault(keys.PREPROCESS_SPLIT_SEED, int(settings["split_seed"]))
    frac_info, seed_info = field_info("val_fraction"), field_info("split_seed")
    a, b = st.columns([2, 1])
    frac = a.slider(
        "Validation fraction",
        float(frac_info["min"]),
        float(frac_info["max"]),
        step=0.05,
        key=keys.PREPROCESS_VAL_FRACTION,
        help=frac_info["help"],
    )
    seed = b.number_input(
        "Split seed",
        int(seed_info["min"]),
        int(seed_info["max"]),
        key=keys.PREPROCESS_SPLIT_SEED,
        help=seed_info["help"],
    )
    ui.set_split_settings(frac, int(seed))
    return frac, int(seed)


def split_section() -> None:
    st.header("Train / validation split")
    st.markdown(
        "The training pool is shuffled with a fixed **seed** and cut in two: the model "
        "learns from **train**; **validation** judges it while you try settings. The same "
        "seed always gives the same split, so runs are compared on the same images."
    )
    frac, seed = split_widgets()
    info = ui.or_stop(ui.source_info)
    pool = ui.or_stop(ui.train_pool)
    test_counts = tuple(ui.or_stop(ui.test_label_counts))
    n_train, n_val = split_sizes(len(pool), frac)
    sizes = {"train": n_train, "validation": n_val, "test": sum(test_counts)}
    st.altair_chart(data_charts.split_bar(sizes), width="stretch")
    st.caption(
        f"{info.name}: {len(pool):,} pool images → {n_train:,} train / {n_val:,} validation, "
        f"plus {sizes['test']:,} test images kept apart. These settings are used by the Train page."
    )
    rows = ui.split_count_rows(info.key, frac, seed, test_counts)
    st.subheader("Is every split balanced?")
    st.altair_chart(data_charts.split_bars(rows, "share"), width="stretch")
    gap = max_share_gap(rows)
    st.caption(
        f"Each bar is a digit's share of its split. The largest difference between train "
        f"and validation for any digit is {gap * 100:.2f} percentage points: a random split "
        "of this many images keeps the proportions."
    )


def max_share_gap(rows: list[dict]) -> float:
    share = {(r["split"], r["digit"]): r["share"] for r in rows}
    return max(abs(share[("train", str(d))] - share[("validation", str(d))]) for d in range(10))


# ---------------------------------------------------------------- the test set


def test_section() -> None:
    st.header("The test set stays apart")
    st.markdown(
        "Every time you look at a score and change something, that score stops being an honest "
        "estimate: you have tuned to it. Validation absorbs all of that tuning. The **test set** "
        "is touched **once**, at the end, to estimate how the chosen model does on images nobody "
        "has tuned against. That is why no page shows test images before Evaluate, and why "
        "each run counts how often it has been tested."
    )
    ui.link("Evaluate", "Evaluate: the final test")


def main() -> None:
    ui.page(
        "Preprocess",
        "What happens to the images before a model sees them, and which images it may learn from.",
    )
    scaling_section()
    split_section()
    test_section()


main()
