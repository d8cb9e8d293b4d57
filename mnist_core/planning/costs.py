"""Labeling-cost calculator: how long and how much it takes to label a data set like MNIST.

Plain arithmetic, kept here (not in a page) so it is tested: 70,000 images at 5 s each are
97.2 hours of work; three annotators working 8-hour days need about 4 days. Outsourcing
is priced per sample, but somebody in house still re-checks a share of the labels, so that
review time is part of its cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from mnist_core.config import finite_number

SECONDS_PER_HOUR = 3600.0


class CostError(ValueError):
    """An input of the calculator that makes no sense; the message says which and why."""


@dataclass(frozen=True)
class LabelingInputs:
    """Everything the calculator needs; the defaults describe MNIST labelled in house."""

    samples: int = 70_000
    seconds_per_sample: float = 5.0
    annotators: int = 3
    hours_per_day: float = 8.0
    hourly_wage: float = 25.0  # what an in-house annotator hour costs, in currency units
    poc_samples: int = 10_000  # a proof of concept labels only this many first
    price_per_sample: float = 0.05  # a vendor's or crowd platform's price per label
    review_share: float = 0.10  # share of outsourced labels re-checked in house
    review_seconds_per_sample: float = 3.0  # re-checking a label is quicker than making it

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if finite_number(value) is None:
                raise CostError(f"{f.name} must be a number, got {value!r}.")
        positive = ("seconds_per_sample", "annotators", "hours_per_day")
        for name in positive:
            if getattr(self, name) <= 0:
                raise CostError(f"{name} must be greater than 0, got {getattr(self, name)!r}.")
        for name in (
            "samples",
            "poc_samples",
            "hourly_wage",
            "price_per_sample",
            "review_seconds_per_sample",
        ):
            if getattr(self, name) < 0:
                raise CostError(f"{name} cannot be negative, got {getattr(self, name)!r}.")
        if not 0 <= self.review_share <= 1:
            raise CostError(f"review_share is a share between 0 and 1, got {self.review_share!r}.")
        if self.hours_per_day > 24:
            raise CostError(f"hours_per_day cannot exceed 24, got {self.hours_per_day!r}.")


@dataclass(frozen=True)
class Estimate:
    """Time and money to label `samples` images, in house and outsourced."""

    samples: int
    hours: float  # annotator hours to label everything in house
    days: float  # calendar working days for the in-house team
    in_house_cost: float
    vendor_fee: float  # what the vendor or platform charges
    review_hours: float  # in-house hours re-checking the outsourced labels
    review_cost: float
    review_days: float

    @property
    def outsourced_cost(self) -> float:
        return self.vendor_fee + self.review_cost


def labeling_hours(samples: int, seconds_per_sample: float) -> float:
    """Annotator hours to label `samples` images at `seconds_per_sample` each."""
    return samples * seconds_per_sample / SECONDS_PER_HOUR


def working_days(hours: float, annotators: int, hours_per_day: float) -> float:
    """Working days for `annotators` people doing `hours_per_day` each to get through `hours`."""
    return hours / (annotators * hours_per_day)


def describe_days(days: float) -> str:
    """Working days in words a presenter can say: 'about 4 days', 'about 3 weeks'."""
    if days <= 0:
        return "no time"
    if days < 0.5:
        return "less than a day"
    if days < 10:
        n = round(days)
        return f"about {n} day" + ("s" if n != 1 else "")
    if days < 60:
        n = round(days / 5)  # working weeks
        return f"about {n} week" + ("s" if n != 1 else "")
    n = round(days / 21)  # working months
    return f"about {n} month" + ("s" if n != 1 else "")


def estimate(inputs: LabelingInputs, samples: int | None = None) -> Estimate:
    """The estimate for `samples` images (default: all of `inputs.samples`)."""
    n = inputs.samples if samples is None else samples
    if n < 0:
        raise CostError(f"samples cannot be negative, got {n!r}.")
    hours = labeling_hours(n, inputs.seconds_per_sample)
    review_hours = labeling_hours(round(n * inputs.review_share), inputs.review_seconds_per_sample)
    return Estimate(
        samples=n,
        hours=hours,
        days=working_days(hours, inputs.annotators, inputs.hours_per_day),
        in_house_cost=hours * inputs.hourly_wage,
        vendor_fee=n * inputs.price_per_sample,
        review_hours=review_hours,
        review_cost=review_hours * inputs.hourly_wage,
        review_days=working_days(review_hours, inputs.annotators, inputs.hours_per_day),
    )


def scenarios(inputs: LabelingInputs) -> dict[str, Estimate]:
    """The proof of concept first, then the full data set."""
    poc = min(inputs.poc_samples, inputs.samples)
    return {
        f"Proof of concept ({poc:,})": estimate(inputs, poc),
        f"Full data set ({inputs.samples:,})": estimate(inputs, inputs.samples),
    }


def curve_estimates(
    inputs: LabelingInputs,
    size: int | None,
    low: int | None = None,
    high: int | None = None,
    already: int = 0,
) -> dict[str, Estimate]:
    """Cost of a learning-curve answer ("about `size` images, range `low`–`high`") when `already`
    images are labelled: only the rest still has to be labelled. Keys "low", "estimate", "high";
    an end that is None (out of reach, unbounded) is left out."""
    if already < 0:
        raise CostError(f"already cannot be negative, got {already!r}.")
    wanted = {"low": low, "estimate": size, "high": high}
    return {
        key: estimate(inputs, max(int(math.ceil(n)) - already, 0))
        for key, n in wanted.items()
        if n is not None
    }


def cost_rows(inputs: LabelingInputs) -> list[dict]:
    """Long-format rows (scenario, option, part, cost) for a stacked bar chart: per scenario,
    one row for in house (annotator time) and two for outsourced (vendor fee, in-house review)."""
    rows = []
    for scenario, est in scenarios(inputs).items():
        parts = {
            "In house": {"Annotator time": est.in_house_cost},
            "Outsourced": {"Vendor fee": est.vendor_fee, "In-house review": est.review_cost},
        }
        for option, items in parts.items():
            for part, cost in items.items():
                rows.append({"scenario": scenario, "option": option, "part": part, "cost": round(cost, 2)})
    return rows


# Who labels: the trade-offs a team weighs (qualitative, from common practice).
LABELER_OPTIONS: list[dict[str, str]] = [
    {
        "Who labels": "In-house team",
        "Cost": "Highest per label (salaried experts)",
        "Speed": "Slow: limited by a few people",
        "Control": "Full: you write, train and adjust the guidelines daily",
        "Label quality": "High and consistent once trained",
        "Review still needed": "Spot checks and double-labelling of hard cases",
    },
    {
        "Who labels": "Crowdsourcing platform",
        "Cost": "Lowest per label",
        "Speed": "Fast: many workers in parallel",
        "Control": "Low: anonymous workers, short instructions",
        "Label quality": "Variable; needs redundancy (3+ labels per image, majority vote)",
        "Review still needed": "Gold-standard test questions, agreement checks, in-house re-check of a share",
    },
    {
        "Who labels": "Labeling vendor",
        "Cost": "Middle: priced per label or per hour",
        "Speed": "Fast once set up; onboarding takes weeks",
        "Control": "Medium: contract, guidelines and feedback rounds",
        "Label quality": "Good with a clear spec and a QA clause",
        "Review still needed": "Acceptance sampling: re-check a share in house before paying",
    },
]
