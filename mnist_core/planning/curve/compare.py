"""Comparing labelling strategies: one learning curve per strategy, measured on the same sizes,
seeds and validation set, and what the better strategy saves at the target.

`measure_strategies` runs `measure_curve` once per strategy, one after the other, under one group
id, training the points every strategy trains alike only once (sharing.py). Its records are
measure_curve's, each tagged with its "strategy" and the number of "strategies" (each measures
the same plan), with the progress spread over the whole comparison, and one final
{"kind": "comparison"} record. `compare_at_target` answers in numbers (labels needed by each, the
fraction saved) and `saving_sentence` in words. The app measures the same comparison as a cluster
job (`jobs.curve`), every seed's chain of every strategy a task of its own, with the same records.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mnist_core.config import TrainConfig
from mnist_core.planning.costs import LabelingInputs, labeling_hours
from mnist_core.planning.curve.advice import target_estimate
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import Fit, pct
from mnist_core.planning.curve.measure import measure_curve
from mnist_core.planning.curve.sharing import SharedPoints
from mnist_core.planning.curve.strategies import STRATEGIES, parse_strategies

BASELINE = "random"
SECONDS_PER_LABEL = LabelingInputs().seconds_per_sample  # the cost calculator's default


def measure_strategies(
    config: TrainConfig,
    data: str,
    sizes: Sequence[int] | None,
    seeds: int,
    strategies: Sequence[str],
    stop: threading.Event | None = None,
    home: Path | None = None,
    name: str = "",
) -> Iterator[dict[str, Any]]:
    """measure_curve for each of `strategies` in turn (saved as one group when there are several),
    then {"kind": "comparison", "group", "status", "curves": {strategy: its "curve" record}}.

    A stop, or a curve that fails, ends the comparison: the strategies after it are not measured.
    """
    names = parse_strategies(",".join(strategies))
    stop = stop or threading.Event()
    group = uuid.uuid4().hex[:8] if len(names) > 1 else ""
    finals: dict[str, dict[str, Any]] = {}
    shared = SharedPoints()  # the seed sets and the whole pool: trained by the first strategy only
    for j, strategy in enumerate(names):
        runs = measure_curve(
            config,
            data,
            sizes,
            seeds,
            stop=stop,
            home=home,
            name=name,
            strategy=strategy,
            group=group,
            shared=shared,
        )
        for rec in runs:
            tagged = {
                **rec,
                "strategy": strategy,
                "strategies": len(names),
                "progress": (j + rec["progress"]) / len(names),
            }
            if len(names) > 1 and "text" in rec:
                tagged["text"] = f"{STRATEGIES[strategy]}: {rec['text']}"
            if rec["kind"] == "curve":
                finals[strategy] = tagged
            yield tagged
        if stop.is_set() or finals[strategy]["status"] == "failed":
            break
    statuses = [f["status"] for f in finals.values()]
    status = (
        "failed"
        if "failed" in statuses
        else "finished"
        if len(finals) == len(names) and set(statuses) == {"finished"}
        else "stopped"
    )
    yield {"kind": "comparison", "group": group, "status": status, "curves": finals, "progress": 1.0}


def compare_at_target(fits: Mapping[str, tuple[Fit, int]], target_accuracy: float) -> dict[str, Any]:
    """Each strategy's `target_estimate` at the target, plus how many fewer labels than the
    baseline (random when measured, else the first) it needs: {"baseline", "strategies": {name:
    estimate + "labels_saved"}, "best", "labels_saved"}. `fits`: strategy → (fit, images at hand).

    A saving is 1 − needed / baseline's needed (the rounded sizes the sentences show); None
    unless both reach the target. "best" is the other strategy with the largest saving.
    """
    if not fits:
        raise CurveError("No learning curve to compare.")
    baseline = BASELINE if BASELINE in fits else next(iter(fits))
    ests = {s: target_estimate(fit, target_accuracy, have) for s, (fit, have) in fits.items()}
    base = ests[baseline]
    for s, est in ests.items():
        both = est["reachable"] and base["reachable"] and s != baseline
        est["labels_saved"] = 1.0 - est["size"] / base["size"] if both else None
    others = [s for s in ests if s != baseline]
    scored = [s for s in others if ests[s]["labels_saved"] is not None]
    best = max(scored, key=lambda s: ests[s]["labels_saved"]) if scored else (others[0] if others else None)
    return {
        "baseline": baseline,
        "strategies": ests,
        "best": best,
        "labels_saved": ests[best]["labels_saved"] if best else None,
    }


def saving_sentence(comparison: Mapping[str, Any], seconds_per_label: float = SECONDS_PER_LABEL) -> str:
    """The comparison in one sentence: how many labels the best strategy saves at the target, and
    the labelling hours that is; or plainly that it did not help, or could not be told."""
    best, baseline = comparison["best"], comparison["baseline"]
    if best is None:
        return "Only one labelling strategy was measured: there is nothing to compare."
    b, o = comparison["strategies"][baseline], comparison["strategies"][best]
    target = pct(o["target_accuracy"])
    name, base_name = STRATEGIES[best], STRATEGIES[baseline]
    if not o["reachable"] and not b["reachable"]:
        return f"Neither {name} nor {base_name} reaches {target} with this model: no saving to measure."
    if not o["reachable"]:
        return (
            f"{name.capitalize()} did not help on this data: its curve levels off below {target}, "
            f"which {base_name} reaches with ~{b['size']:,} labels."
        )
    if not b["reachable"]:
        return (
            f"{name.capitalize()} reaches {target} with ~{o['size']:,} labels; {base_name} "
            "does not reach it at all with this model."
        )
    saved = comparison["labels_saved"]
    if saved <= 0:
        return (
            f"{name.capitalize()} did not help on this data: it needs ~{o['size']:,} labels to reach "
            f"{target}, {base_name} ~{b['size']:,}."
        )
    hours = labeling_hours(b["size"] - o["size"], seconds_per_label)
    return (
        f"{name.capitalize()} reaches {target} with ~{o['size']:,} labels instead of "
        f"~{b['size']:,}: {saved:.0%} fewer, {hours:,.1f} h of labelling saved at "
        f"{seconds_per_label:g} s an image."
    )
