"""AppTest of Plan comparing labelling strategies: two curves measured together through the page,
drawn on one chart with the saving in words, and either estimate costed on Define.

The job manager is process-wide: the autouse fixture of conftest stops any job a test leaves.
"""

from __future__ import annotations

import pytest

import ui
from mnist_core.planning.curve.compare import compare_at_target, saving_sentence
from mnist_core.planning.curve.store import list_curves
from tests.app.conftest import open_page, texts
from tests.app.test_plan import LOGREG, chart_specs, job_over, poll
from tests.test_active import group_pair
from ui import state as keys

PAGE = "pages/Plan.py"


def test_a_comparison_shows_both_curves_the_saving_and_either_estimate_on_define(isolated_home):
    rand, unc = group_pair(isolated_home)
    at = open_page(PAGE, **{keys.APP_TARGET_ACCURACY: 0.985})
    page = texts(at)
    result = compare_at_target({"random": (rand.fit, 3432), "uncertainty": (unc.fit, 3432)}, 0.985)
    assert result["labels_saved"] > 0
    assert saving_sentence(result) in page and "fewer" in page
    assert any("random labelling" in s and "uncertainty sampling" in s for s in chart_specs(at))
    est = at.session_state[keys.PLAN_ESTIMATE]
    assert set(est["alternatives"]) == {"random", "uncertainty"}

    at.switch_page("pages/Define_the_task.py").run()
    assert not at.exception, at.exception
    at.radio(key=keys.PLAN_COST_STRATEGY).set_value("random").run()
    at.button(key=keys.PLAN_COST_USE_PLAN).click().run()
    assert at.number_input(key=keys.PLAN_COST_SAMPLES).value == result["strategies"]["random"]["size"]
    at.radio(key=keys.PLAN_COST_STRATEGY).set_value("uncertainty").run()
    at.button(key=keys.PLAN_COST_USE_PLAN).click().run()
    assert at.number_input(key=keys.PLAN_COST_SAMPLES).value == result["strategies"]["uncertainty"]["size"]


@pytest.mark.slow
def test_two_strategies_are_measured_through_the_page_and_saved_as_one_group():
    at = open_page(PAGE, **{keys.APP_TARGET_ACCURACY: 0.6})
    at.selectbox(key=keys.PLAN_CONFIG).set_value(LOGREG)
    at.text_input(key=keys.PLAN_SIZES).set_value("20, 40, 80")
    at.number_input(key=keys.PLAN_SEEDS).set_value(1)
    at.multiselect(key=keys.PLAN_STRATEGIES).set_value(["random", "uncertainty"])
    at.run()
    at.button(key=keys.PLAN_MEASURE).click().run()
    assert not at.exception, at.exception
    poll(at, job_over)
    curves = list_curves(ui.home())
    assert sorted(c.strategy for c in curves) == ["random", "uncertainty"]
    assert len({c.group for c in curves}) == 1 and curves[0].group
    shown = at.session_state[keys.PLAN_CURVE]
    assert next(c for c in curves if c.id == shown).strategy == "random"  # the first measured
    assert any("random labelling" in s and "uncertainty sampling" in s for s in chart_specs(at))
    assert texts(at).count("Measured and fitted. Saved as") == 2
