"""The explorer API's JSON documents: drills, scenarios, goal seek, levers, series.

What belongs here: turning the session's results into plain JSON-ready dicts — the raw numbers
at full precision, and beside them a ``text`` block with every figure as kpitree shows it,
formatted by the one number formatter (:mod:`kpitree.core.formatting`, through
:class:`kpitree.present.wording.Numbers`), so the page never formats a number itself. What does
not: any computation (:mod:`kpitree.serve.session`, :mod:`kpitree.serve.scenarios`), HTTP
(:mod:`kpitree.serve.app`). ``explain`` needs no document here: it is
:meth:`Explanation.to_dict`, exactly the CLI's JSON.
"""

from __future__ import annotations

import math
from typing import Any

from kpitree.analysis.scenario import Lever, Scenario, Snapshot
from kpitree.analysis.scenario.goal import GoalSeek
from kpitree.analysis.scenario.levers import describe_lever
from kpitree.analysis.scenario.solve import lever_value
from kpitree.analysis.trend import Trend
from kpitree.core.formatting import format_change, format_pct_change, format_value
from kpitree.present.wording import Numbers, status_word
from kpitree.serve.session import Drill, Explorer, describe

__all__ = ["drill_document", "goal_document", "levers_text", "meta_document",
           "scenario_document", "trend_document"]


def _share(value: float | None) -> str:
    return format_value(value, "percent")


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value) + 0.0


def meta_document(explorer: Explorer) -> dict[str, Any]:
    """What the page needs to start: the tree, its drivers, the periods and dimensions."""
    tree = explorer.tree
    return {
        "tree": tree.name, "title": tree.title, "metric": tree.root,
        "metric_label": tree.label(tree.root), "unit": tree.unit, "weight": tree.weight,
        "weight_label": tree.label(tree.weight), "segments": list(tree.segments),
        "dimensions": list(explorer.dimensions), "periods": list(explorer.periods),
        "base": explorer.base, "compare": explorer.compare,
        "methods": ["shapley", "sequential", "lmdi"],
        "drivers": [{"node": d.path[-1], "path": list(d.path), "label": d.label}
                    for d in tree.drivers],
        "exports": export_formats(),
    }


def export_formats() -> list[str]:
    """The export formats this installation can write (PPTX only with the deck writer)."""
    import importlib.util

    formats = ["json", "html"]
    if importlib.util.find_spec("kpitree.present.deck") is not None:
        formats.append("pptx")
    return formats


def drill_document(explorer: Explorer, drill: Drill) -> dict[str, Any]:
    """One node split by one dimension, with local and total numbers and their text."""
    numbers = Numbers.of(explorer.tree)
    node, own = drill.node, drill.node.own
    children = []
    for child in drill.children:
        mark = status_word(child["status"]) if child["status"] != "both" else ""
        total, local = child["total"], child["local"]
        child["mark"] = mark
        child["text"] = {
            "base_share": _share(child["base"]["share"]),
            "compare_share": _share(child["compare"]["share"]),
            "base_value": numbers.value(child["base"]["value"]),
            "compare_value": numbers.value(child["compare"]["value"]),
            "mix": numbers.change(total["mix"] + total["interaction"]),
            "rate": numbers.change(total["rate"]),
            "contribution": numbers.change(total["contribution"]),
            "local_contribution": numbers.change(local["contribution"]),
        }
        for driver in child["drivers"]:
            driver["text"] = numbers.change(driver["value"])
        children.append(child)
    children_total = math.fsum(c["total"]["contribution"] for c in children)
    # The node's change within it, split as `explain --by <path> <by>` splits it: the mix
    # between its children (the inner mix) and the rate within them.
    split_mix = math.fsum(c["total"]["mix"] + c["total"]["interaction"] for c in children)
    split_rate = math.fsum(c["total"]["rate"] for c in children)
    return {
        "where": [{"dim": d, "value": v} for d, v in node.where],
        "label": describe(node.where), "by": drill.by,
        "chosen": "biggest mover" if drill.ranking else "you", "ranking": drill.ranking,
        "method": own.method, "base": own.base.period, "compare": own.compare.period,
        "node": {
            "base": {"value": own.base.value, "weight": own.base.weight},
            "compare": {"value": own.compare.value, "weight": own.compare.weight},
            "delta": own.delta, "mix": node.mix, "rate": node.rate,
            "contribution": node.contribution, "factor": node.factor,
            "split": {"mix": split_mix, "rate": split_rate},
            "text": {"base_value": numbers.value(own.base.value),
                     "compare_value": numbers.value(own.compare.value),
                     "delta": numbers.change(own.delta),
                     "pct": format_pct_change(own.base.value, own.compare.value),
                     "mix": numbers.change(node.mix), "rate": numbers.change(node.rate),
                     "contribution": numbers.change(node.contribution),
                     "split_mix": numbers.change(split_mix),
                     "split_rate": numbers.change(split_rate)},
        },
        "children": children,
        "check": {"children": children_total, "node_rate": node.rate,
                  "local_children": math.fsum(c["local"]["contribution"] for c in children),
                  "local_delta": own.delta},
    }


def levers_text(explorer: Explorer, document: dict[str, Any]) -> dict[str, Any]:
    """The levers document with each current value as text."""
    numbers = Numbers.of(explorer.tree)
    for lever in document["levers"]:
        if lever["kind"] == "share":
            lever["text"] = _share(lever["current"])
        else:
            lever["text"] = numbers.node_value(lever["node"], lever["current"])
    return document


def scenario_document(explorer: Explorer, scenario: Scenario) -> dict[str, Any]:
    """A scenario: actual → what-if, the bridge by lever, and the explanation's JSON."""
    numbers = Numbers.of(explorer.tree)
    rows = scenario.by_lever().to_dict("records")
    before = (scenario.actual, *scenario.snapshots[:-1])
    bridge = []
    for r, lever, old, new in zip(rows, scenario.levers, before, scenario.snapshots,
                                  strict=True):
        raw = [_lever_number(lever, snap) for snap in (old, new)]
        values = [_lever_text(numbers, lever, number) for number in raw]
        label = (f"{lever.text}: {values[0]} → {values[1]}" if None not in values
                 else describe_lever(lever))
        bridge.append({
            "lever": str(r["lever"]), "change": describe_lever(lever),
            "value": float(r["value"]), "delta": float(r["delta"]),
            "mix": float(r.get("mix", 0.0)), "rate": float(r.get("rate", 0.0)),
            "before": raw[0], "after": raw[1],
            "text": {"value": numbers.value(r["value"]), "delta": numbers.change(r["delta"]),
                     "before": values[0], "after": values[1], "label": label}})
    explanation = scenario.explanation
    return {
        "scenario": scenario.name, "period": scenario.actual.period,
        "levers": [lv.text for lv in scenario.levers],
        "actual": explanation.base.value, "value": scenario.value, "delta": scenario.delta,
        "totals": explanation.totals, "bridge": bridge,
        "text": {"actual": numbers.value(explanation.base.value),
                 "value": numbers.value(scenario.value),
                 "delta": numbers.change(scenario.delta),
                 "pct": format_pct_change(explanation.base.value, scenario.value),
                 **{k: numbers.change(v) for k, v in explanation.totals.items()}},
        "explanation": explanation.to_dict(),
    }


def _lever_number(lever: Lever, snap: Snapshot) -> float | None:
    """A driver or share lever's value in ``snap`` (``None`` for a move, which has none)."""
    if lever.kind == "move":
        return None
    return _finite(lever_value(snap.tree, snap.keys, snap.sums, lever))


def _lever_text(numbers: Numbers, lever: Lever, value: float | None) -> str | None:
    """A lever's value as text, in its node's kind (a share as a percent)."""
    if value is None:
        return None
    kind = "percent" if lever.kind == "share" else numbers.kind_of(lever.node)
    return format_value(value, kind, numbers.unit)


def goal_document(explorer: Explorer, found: GoalSeek) -> dict[str, Any]:
    """Goal seek: the lever's current value and the value that reaches the target."""
    numbers = Numbers.of(explorer.tree)
    lever = found.scenario.levers[0]
    kind = "percent" if lever.kind == "share" else numbers.kind_of(lever.node)
    return {
        "lever": found.lever, "target": found.target, "current": found.current,
        "value": found.value,
        "text": {"target": numbers.value(found.target),
                 "current": format_value(found.current, kind, numbers.unit),
                 "value": format_value(found.value, kind, numbers.unit),
                 "change": format_change(found.value - found.current, kind, numbers.unit)},
        "scenario": scenario_document(explorer, found.scenario),
    }


def trend_document(explorer: Explorer, series: Trend) -> dict[str, Any]:
    """The series: :meth:`Trend.to_dict` plus each step's figures as text."""
    numbers = Numbers.of(explorer.tree)
    document = series.to_dict()
    for row in document["values"]:
        row["text"] = {"value": numbers.value(row["value"]),
                       **{k: numbers.change(_finite(row.get(k))) if row.get(k) is not None
                          else "" for k in ("delta", "mix", "rate", "interaction")
                          if k in row}}
    document["text"] = {"delta": numbers.change(series.delta),
                        **{f"chained_{k}": numbers.change(v)
                           for k, v in series.chained_totals.items()}}
    return document
