"""The shared small helpers: percentages, HTML escaping, the finite-number check."""

import math

import numpy as np
import pytest

from mnist_core.config import finite_number
from mnist_core.text import escape, percent


def test_percent_has_the_given_decimals_and_the_prose_spacing_on_request():
    assert percent(0.98125) == "98.1%" and percent(0.5, 0) == "50%"
    assert percent(0.9, 0, spaced=True) == "90 %" and percent(0.98765, 2) == "98.77%"


def test_escape_makes_text_safe_in_html_and_attributes():
    assert escape("<b>'x' & \"y\"</b>") == "&lt;b&gt;&#x27;x&#x27; &amp; &quot;y&quot;&lt;/b&gt;"
    assert escape(3) == "3"


@pytest.mark.parametrize("value", [None, True, False, math.nan, math.inf, -math.inf, "1.0", [1]])
def test_finite_number_refuses_what_is_not_a_finite_number(value):
    assert finite_number(value) is None


def test_finite_number_gives_a_float():
    assert finite_number(3) == 3.0 and isinstance(finite_number(3), float)
    assert finite_number(np.float64(0.5)) == 0.5 and finite_number(-1e300) == -1e300
