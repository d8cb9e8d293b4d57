"""The Plan page's comparison of labelling strategies: the curves measured together (one group)
drawn on one chart with their bands, the measured saving at the target in one sentence, each
strategy's answer in a table, and the live chart of a comparison while it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from mnist_core.charts import curve as curve_charts
from mnist_core.planning.curve.compare import compare_at_target, saving_sentence
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import Fit
from mnist_core.planning.curve.store import Curve
from mnist_core.planning.curve.strategies import STRATEGIES


def group_of(curve: Curve, curves: Sequence[Curve]) -> dict[str, Curve]:
    """The curves measured together with `curve` (itself included), by strategy in STRATEGIES
    order; just `curve` when it was measured alone."""
    if not curve.group:
        return {curve.strategy: curve}
    mates = {c.strategy: c for c in curves if c.group == curve.group}
    mates.setdefault(curve.strategy, curve)
    return {s: mates[s] for s in STRATEGIES if s in mates}


def comparison(group: dict[str, Curve], target: float) -> dict[str, Any]:
    """`compare_at_target` of a group's fits (each with its own training-split size)."""
    return compare_at_target({s: (c.fit, c.n_train) for s, c in group.items()}, target)


def show_comparison(group: dict[str, Curve], target: float) -> None:
    """The saving in words, both (all) curves on one chart, and each strategy's answer."""
    try:
        result = comparison(group, target)
    except CurveError as exc:
        st.error(str(exc))
        return
    ests = result["strategies"]
    sentence = saving_sentence(result)  # the saving in words first, the curves it was read off below
    saved = result["labels_saved"]
    (st.success if saved is not None and saved > 0 else st.info)(sentence)
    st.altair_chart(
        curve_charts.strategies_chart(
            {STRATEGIES[s]: (c.points, c.fit) for s, c in group.items()},
            1 - target,
            {STRATEGIES[s]: ests[s]["size"] if ests[s]["reachable"] else None for s in group},
        ),
        width="stretch",
    )
    st.dataframe(strategy_table(result), hide_index=True, width="stretch")
    st.caption(
        "Every strategy starts from the same random images and is measured on the same sizes, "
        "seeds and validation set. At the largest size a strategy has labelled the whole "
        "training split, so the curves meet there; the saving is read off the fitted curves."
    )


def strategy_table(result: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for s, est in result["strategies"].items():
        saved = est["labels_saved"]
        rows.append(
            {
                "Strategy": STRATEGIES[s],
                "Labels for the target": f"{est['size']:,}" if est["reachable"] else "out of reach",
                "Range": f"{est['low']:,}–{est['high']:,}" if est["low"] and est["high"] else "open-ended",
                "Levels off at": f"{est['floor_accuracy']:.1%}",
                f"Fewer than {STRATEGIES[result['baseline']]}": "—" if saved is None else f"{saved:.0%}",
            }
        )
    return pd.DataFrame(rows)


def live_chart(points: Sequence[dict[str, Any]], fits: dict[str, dict | None], target: float) -> None:
    """The points of a running comparison so far, one colour per strategy, with provisional fits."""
    by_strategy: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        by_strategy.setdefault(p.get("strategy", "random"), []).append(p)
    st.altair_chart(
        curve_charts.strategies_chart(
            {
                STRATEGIES[s]: (pts, Fit.from_dict(fits[s]) if fits.get(s) else None)
                for s, pts in by_strategy.items()
            },
            1 - target,
            band=False,
        ),
        width="stretch",
    )
