"""data_charts: the Data, Preprocess and Define pages' charts of the data, coloured by the palette."""

from __future__ import annotations

import pytest
import torch

from mnist_core.charts import data as data_charts
from mnist_core.charts import palette
from mnist_core.data import explore
from mnist_core.data.sources import Images
from mnist_core.planning import costs
from tests.helpers import dataset_rows, vega_spec


@pytest.fixture
def pool() -> Images:
    gen = torch.Generator().manual_seed(0)
    return Images(
        torch.randint(0, 256, (60, 28, 28), dtype=torch.uint8, generator=gen), torch.arange(60) % 10
    )


@pytest.mark.parametrize(
    "measure, y_title, height", [("count", "images", 260), ("share", "share of the split", 240)]
)
def test_split_bars(pool, measure, y_title, height):
    rows = explore.count_rows({**explore.split_counts(pool, 0.2, 0), "test": [5] * 10})
    d = vega_spec(data_charts.split_bars(rows, measure))
    enc = d["encoding"]
    assert enc["y"]["field"] == measure and enc["y"]["title"] == y_title and d["height"] == height
    assert enc["color"]["scale"] == {
        "domain": ["train", "validation", "test"],
        "range": [palette.TRAIN, palette.VALIDATION, palette.TEST],
    }
    assert len(dataset_rows(d)) == 30


def test_split_bar_labels_each_part():
    d = vega_spec(data_charts.split_bar({"train": 3000, "validation": 750, "test": 800}))
    data = dataset_rows(d)
    assert [r["label"] for r in data] == ["train: 3,000", "validation: 750", "test: 800"]
    assert [r["middle"] for r in data] == [1500, 3375, 4150]


def test_pixel_charts(pool):
    hist = vega_spec(data_charts.intensity_chart(explore.intensity_histogram(pool.images, 16)))
    assert hist["mark"]["color"] == palette.PIXEL_BARS and len(dataset_rows(hist)) == 16
    ink = vega_spec(data_charts.ink_chart(explore.ink_rows(pool)))
    assert ink["mark"]["color"] == palette.INK_BARS and ink["encoding"]["y"]["axis"]["format"] == "%"
    heat = vega_spec(data_charts.pixel_heatmap(explore.pixel_rows(pool.images[0]), "scaled", "t", ".2f"))
    assert heat["width"] == heat["height"] == 28 * 9 and len(dataset_rows(heat)) == 784
    assert heat["encoding"]["color"]["field"] == "scaled"


def test_cost_chart_stacks_the_parts_of_each_option():
    d = vega_spec(data_charts.cost_chart(costs.cost_rows(costs.LabelingInputs())))
    bars = {r["bar"] for r in dataset_rows(d)}
    assert len(bars) == 4 and all(" · " in b for b in bars)
    scale = d["encoding"]["color"]["scale"]
    assert dict(zip(scale["domain"], scale["range"])) == palette.LABELING_COLOURS
    assert {r["part"] for r in dataset_rows(d)} == set(palette.LABELING_COLOURS)  # every part coloured
