"""The labeling-cost calculator's arithmetic."""

import pytest

from mnist_core.planning import costs
from mnist_core.planning.costs import CostError, LabelingInputs


def test_mnist_defaults_take_97_hours_and_about_4_days():
    est = costs.estimate(LabelingInputs())
    assert est.samples == 70_000
    assert est.hours == pytest.approx(97.22, abs=0.01)  # 70,000 × 5 s
    assert est.days == pytest.approx(4.05, abs=0.01)  # / (3 annotators × 8 h)
    assert costs.describe_days(est.days) == "about 4 days"
    assert est.in_house_cost == pytest.approx(97.222 * 25, rel=1e-4)


def test_outsourcing_adds_in_house_review_of_a_share():
    est = costs.estimate(
        LabelingInputs(
            price_per_sample=0.05, review_share=0.1, review_seconds_per_sample=3.0, hourly_wage=20.0
        )
    )
    assert est.vendor_fee == pytest.approx(3_500.0)
    assert est.review_hours == pytest.approx(7_000 * 3 / 3600)  # 10 % of 70,000, 3 s each
    assert est.review_cost == pytest.approx(est.review_hours * 20.0)
    assert est.outsourced_cost == pytest.approx(3_500.0 + est.review_cost)


def test_no_review_means_vendor_fee_only():
    est = costs.estimate(LabelingInputs(review_share=0.0))
    assert est.review_hours == 0 and est.outsourced_cost == est.vendor_fee


def test_scenarios_put_the_proof_of_concept_first_and_cap_it():
    names = list(costs.scenarios(LabelingInputs()))
    assert names == ["Proof of concept (10,000)", "Full data set (70,000)"]
    poc = costs.scenarios(LabelingInputs())[names[0]]
    assert poc.hours == pytest.approx(10_000 * 5 / 3600)
    small = costs.scenarios(LabelingInputs(samples=500, poc_samples=10_000))
    assert [e.samples for e in small.values()] == [500, 500]


def test_cost_rows_sum_to_the_estimates():
    inputs = LabelingInputs()
    rows = costs.cost_rows(inputs)
    assert len(rows) == 6
    full = costs.estimate(inputs)
    full_name = "Full data set (70,000)"
    in_house = sum(r["cost"] for r in rows if r["scenario"] == full_name and r["option"] == "In house")
    outsourced = sum(r["cost"] for r in rows if r["scenario"] == full_name and r["option"] == "Outsourced")
    assert in_house == pytest.approx(full.in_house_cost, abs=0.01)
    assert outsourced == pytest.approx(full.outsourced_cost, abs=0.02)


@pytest.mark.parametrize(
    "days, words",
    [
        (0, "no time"),
        (0.3, "less than a day"),
        (1.0, "about 1 day"),
        (4.05, "about 4 days"),
        (12, "about 2 weeks"),
        (130, "about 6 months"),
    ],
)
def test_describe_days(days, words):
    assert costs.describe_days(days) == words


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"annotators": 0}, "annotators"),
        ({"seconds_per_sample": -1}, "seconds_per_sample"),
        ({"review_share": 1.5}, "review_share"),
        ({"hours_per_day": 25}, "24"),
        ({"samples": -5}, "negative"),
        ({"price_per_sample": float("nan")}, "number"),
    ],
)
def test_bad_inputs_are_refused_with_a_reason(bad, words):
    with pytest.raises(CostError, match=words):
        LabelingInputs(**bad)


def test_labeler_options_compare_the_same_aspects():
    keys = {tuple(o) for o in costs.LABELER_OPTIONS}
    assert len(keys) == 1 and "Review still needed" in next(iter(keys))
    assert [o["Who labels"] for o in costs.LABELER_OPTIONS] == [
        "In-house team",
        "Crowdsourcing platform",
        "Labeling vendor",
    ]
