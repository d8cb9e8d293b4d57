"""Every colour the studio draws with, named once: the app's charts and the HTML report share them.

Plain strings and arithmetic only (no Altair, no Streamlit), so the report can colour its SVG
and tables without importing a chart library. Hues are defined once at the top; the names
below them say what a colour means (train, validation, a sure answer...), so two meanings may
share a hue without sharing a name.
"""

from __future__ import annotations

# ---------------------------------------------------------------- hues (each literal once)

_BLUE = "#3b6ea8"
_AMBER = "#e0a458"
_SLATE = "#9aa9bb"
_SEA_GREEN = "#2e8b57"
_LEAF_GREEN = "#4f9d69"
_PINE_GREEN = "#2f855a"
_OCHRE = "#c77d0a"
_GOLD = "#e8b04a"
_MIST = "#b8c2cf"
_SKY = "#9fb7d4"
_INK = "#222222"
_STEEL = "#55606e"
_GREY = "#555555"
_ROYAL = "#1f4e9e"
_GOOD_GREEN = "#2ca02c"
_BAD_RED = "#d62728"
_BLUES = ("#9ecae1", "#4292c6", "#08306b")  # light to dark

# ---------------------------------------------------------------- data sets

TRAIN = _BLUE
VALIDATION = _AMBER
TEST = _SLATE
SPLIT_COLOURS = {"train": TRAIN, "validation": VALIDATION, "test": TEST}  # in display order

# ---------------------------------------------------------------- training and evaluation

KEPT = _SEA_GREEN  # the epoch whose weights a run keeps, and the target line next to accuracies
BASELINE = _SLATE  # a model that learned nothing: chance, majority class, an untrained output
TARGET = _BLUE  # the accuracy (or one-hot output) a model should reach
MODEL = _LEAF_GREEN  # a trained model's own figure
INK_BARS = _LEAF_GREEN  # ink per digit on the Data page
PIXEL_BARS = _BLUE  # pixel-intensity histogram of the training pool
LEGEND_STROKE = _STEEL  # line samples in a legend that stand for several colours
SELECTED = _ROYAL  # outline of the selected confusion cell
BETTER, WORSE = _GOOD_GREEN, _BAD_RED  # run B against run A, per digit
ZERO_RULE = _GREY  # the zero line of a change chart
METRIC_COLOURS = _BLUES  # precision, recall, F1
# the parts of `costs.cost_rows`, in display order
LABELING_COLOURS = {"Annotator time": _BLUE, "Vendor fee": _AMBER, "In-house review": _SLATE}

# ---------------------------------------------------------------- one prediction, the field

SURE = _PINE_GREEN  # a confident answer
UNSURE = _OCHRE  # an answer the model hedges
RUNNER_UP = _GOLD  # the digit competing with an unsure answer
OTHER = _MIST  # every other digit
PEN = "#1f2a37"  # the drawing canvas' stroke
DRAWINGS = _BLUE  # collected drawings per digit
FIELD = _SKY  # accuracy on users' drawings
MNIST_SET = _OCHRE  # validation accuracy on MNIST, next to the field's

# ---------------------------------------------------------------- text, tables and the report page

PAPER = "#ffffff"  # the page background: a border in it reads as a gap (heatmap cells)
TEXT = _INK
TEXT_ON_DARK = PAPER
MUTED_TEXT = "#666666"
RULE = "#e3e7ee"  # under headings
BORDER = "#dde2ea"  # table cells
HEADER_FILL = "#f5f7fa"
IMAGE_BORDER = "#cccccc"
BAR = _BLUES[1]  # inline bars in report tables
PASS, PASS_FILL = "#31a354", "#e5f5e0"
FAIL, FAIL_FILL = _BAD_RED, "#fdecea"
WARN, WARN_FILL = "#f0a020", "#fff4e5"

# ---------------------------------------------------------------- the confusion matrix

EMPTY_CELL = (247, 247, 247)
CORRECT_RAMP = ((229, 245, 224), (0, 109, 44))  # light → dark: share of the digit predicted right
MISTAKE_RAMP = ((254, 230, 206), (179, 0, 0))  # light → dark: size relative to the worst mistake
DARK_BELOW = 140  # a fill darker than this luminance needs white text


def hex_colour(rgb: tuple[int, int, int]) -> str:
    """ "#rrggbb" of an RGB triple."""
    r, g, b = rgb
    return f"#{r:02x}{g:02x}{b:02x}"


def mix(lo: tuple[int, int, int], hi: tuple[int, int, int], t: float) -> tuple[str, bool]:
    """Hex colour a fraction `t` of the way from `lo` to `hi`, and whether it needs white text."""
    t = min(max(t, 0.0), 1.0)
    rgb = tuple(round(a + (b - a) * t) for a, b in zip(lo, hi))
    luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return hex_colour(rgb), luminance < DARK_BELOW


def cell_colour(true: int, predicted: int, count: int, share: float, worst_mistake: int) -> tuple[str, bool]:
    """Fill colour and white-text flag of one confusion cell.

    Correct cells (the diagonal) are green by the share of the digit recognised, mistakes
    orange-red on their own scale: with one shared scale the diagonal (hundreds) would wash
    every mistake (a handful) out to white, exactly the cells a learner needs to see.
    """
    if count == 0:
        return hex_colour(EMPTY_CELL), False
    if true == predicted:
        return mix(*CORRECT_RAMP, share)
    # Square root: a mistake made once should still show, a mistake made often should stand out.
    return mix(*MISTAKE_RAMP, (count / max(worst_mistake, 1)) ** 0.5)
