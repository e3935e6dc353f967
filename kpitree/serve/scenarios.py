"""The explorer's what-if panel and trend: levers of a period, scenarios, goal seek, the series.

What belongs here: the questions the what-if and periods panels ask, each answered by the
analysis package — the levers of one period with their current values and the bounds the
Python API enforces (:func:`~kpitree.analysis.scenario.snapshot`, the lever grammar and
``lever_value``), a scenario by lever (:meth:`Snapshot.whatif`), goal seek
(:func:`~kpitree.analysis.scenario.goal_seek`) and the chained month-over-month series
(:func:`~kpitree.analysis.trend.trend`). What does not: any arithmetic of its own, HTTP
(:mod:`kpitree.serve.app`) or number formatting (:mod:`kpitree.serve.text`).

**Bounds** are those of the scenario package: a share and a driver shown as a percent stay
within 0 – 100 %; any other driver stays ≥ 0 (no upper bound: the page's slider spans twice the
current value and the input takes any value). A driver that is zero or undefined in a segment
cannot be moved there (a lever scales what is there), so it is listed as ``fixed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from kpitree.analysis.scenario import Scenario, Snapshot, goal_seek, snapshot
from kpitree.analysis.scenario.solve import lever_value
from kpitree.analysis.trend import Trend, trend
from kpitree.core.errors import ScenarioError, UsageError
from kpitree.core.formatting import value_kind
from kpitree.serve.session import Explorer

__all__ = ["goal", "levers", "period_snapshot", "scenario", "series"]


def period_snapshot(explorer: Explorer, period: object | None) -> Snapshot:
    """The snapshot of ``period`` (default: the compare period) by the outermost dimension."""
    chosen = explorer.compare if period is None else period
    first, _ = explorer.check_periods(chosen, explorer.compare)
    key = ("snapshot", first)
    cached = explorer.snapshots.get(key)
    if cached is None:
        cached = snapshot(explorer.tree, explorer.source, period=first,
                          by=list(explorer.tree.segments[:1]),
                          period_column=explorer.period_column)
        explorer.snapshots[key] = cached
    return cached


def levers(explorer: Explorer, period: object | None) -> dict[str, Any]:
    """Every driver lever (everywhere and per segment) and every share lever of a period."""
    snap = period_snapshot(explorer, period)
    tree = snap.tree
    items: list[dict[str, Any]] = []
    dims = list(snap.by)
    segments: list[tuple[tuple[str, str], ...]] = [()]
    if dims:
        segments += [((dims[0], value),) for value in sorted(snap.keys[dims[0]].astype(str)
                                                              .unique())]
    for segment in segments:
        where = ", ".join(f"{d}={v}" for d, v in segment)
        for driver in tree.drivers:
            node = driver.path[-1]
            key = f"{node}[{where}]" if where else node
            items.append(_lever(snap, key, "driver", node, segment, driver.label))
        if segment:
            items.append(_lever(snap, f"share[{where}]", "share", "share", segment,
                                f"Share of {tree.label(tree.weight).lower()}"))
    return {"period": snap.period, "by": dims, "levers": items}


def _lever(snap: Snapshot, key: str, kind: str, node: str, segment: tuple[tuple[str, str], ...],
           label: str) -> dict[str, Any]:
    tree = snap.tree
    current = lever_value(tree, snap.keys, snap.sums, snap.parse(key, "=0"))
    percent = kind == "share" or tree.format_of(node) == "percent"
    defined = math.isfinite(current) and current > 0
    return {
        "key": key, "kind": kind, "node": node, "label": label,
        "segment": dict(segment),
        "format": "percent" if percent else value_kind(tree.format_of(node), tree.unit),
        "current": current if math.isfinite(current) else None,
        "min": 0.0, "max": 1.0 if percent else None,
        "slider_max": 1.0 if percent else (2.0 * current if defined else None),
        "fixed": kind == "driver" and not defined,
    }


def parse_levers(raw: object) -> list[tuple[str, object]]:
    """``[{"key": …, "value": …}, …]`` (or ``[[key, value], …]``) from a request body."""
    if not isinstance(raw, list):
        raise UsageError("levers: give a list of {\"key\": \"attach[tier=pro]\", "
                         "\"value\": \"+5pp\"}")
    pairs: list[tuple[str, object]] = []
    for item in raw:
        if isinstance(item, dict) and "key" in item and "value" in item:
            pairs.append((str(item["key"]), item["value"]))
        elif isinstance(item, list | tuple) and len(item) == 2:
            pairs.append((str(item[0]), item[1]))
        else:
            raise UsageError(f"levers: {item!r} is not {{\"key\": …, \"value\": …}}")
    return pairs


def scenario(explorer: Explorer, period: object | None, pairs: Sequence[tuple[str, object]],
             *, method: str = "shapley") -> Scenario:
    """The levers applied in order to ``period``, explained against its actual."""
    snap = period_snapshot(explorer, period)
    if not pairs:
        raise ScenarioError("no levers: move a slider or add a lever such as "
                            "'base_pu[tier=pro]' '+10%'")
    return Scenario.build(snap, list(pairs), method=method)  # as Snapshot.whatif, in order


def goal(explorer: Explorer, period: object | None, lever: str, target: object, *,
         method: str = "shapley") -> Any:
    """Goal seek: the value of one lever at which the root reaches ``target``."""
    snap = period_snapshot(explorer, period)
    try:
        number = float(str(target))
    except ValueError:
        raise UsageError(f"target: '{target}' is not a number") from None
    if not math.isfinite(number):
        raise UsageError(f"target: '{target}' is not a finite number")
    return goal_seek(snap, lever, target=number, method=method)


def series(explorer: Explorer, *, start: object | None, end: object | None,
           by: Sequence[str] | None, method: str) -> Trend:
    """The chained month-over-month series from ``start`` to ``end``."""
    return trend(explorer.tree, explorer.source, start=start, end=end, by=by, method=method,
                 period_column=explorer.period_column)
