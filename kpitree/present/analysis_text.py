"""Text and tables of the analyses beyond one explanation: what-if, goal seek, sensitivity, PVM.

What belongs here: the terminal text and the tidy tables the ``kpitree whatif`` and ``kpitree
explain --total`` commands print, and the report shows — a scenario's bridge by lever, a goal
seek's answer, the sensitivity ranking and the total's volume / mix / rate split — every figure
through :class:`~kpitree.present.wording.Numbers`. What does not: the analyses
(:mod:`kpitree.analysis.scenario`, :mod:`kpitree.analysis.totals`), charts
(:mod:`kpitree.present.charts`) or printing (the CLI).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from kpitree.core.formatting import format_change, format_value
from kpitree.present.wording import Numbers, segmented, total_parts

if TYPE_CHECKING:
    from kpitree.analysis.scenario import GoalSeek, Scenario
    from kpitree.analysis.totals import TotalExplanation

__all__ = ["format_goal", "format_sensitivity", "format_total", "format_whatif", "goal_text",
           "lever_table", "total_table"]


def lever_table(scenario: Scenario) -> pd.DataFrame:
    """The scenario's bridge by lever: one row per lever in the order applied (value after it,
    its change, its mix and rate), exactly adding up to the scenario's change."""
    return scenario.by_lever()


def format_whatif(scenario: Scenario) -> str:
    """``What-if on 2026-10: ARPU $55.43 → $56.89, +$1.46 (+2.6 %)`` and the bridge by lever."""
    numbers = Numbers.of(scenario.tree)
    base = scenario.explanation.base.value
    lines = [f"What-if on {scenario.actual.period} ({segmented(scenario.actual.by)}, method "
             f"{scenario.method}): {numbers.move(base, scenario.value, scenario.delta)}", ""]
    table = lever_table(scenario)
    width = max([len("actual"), *(len(str(t)) for t in table["lever"])]) + 2
    kinds = [k for k in ("mix", "interaction", "rate") if k in table.columns]
    head = f"  {'lever':<{width}}{'value':>12}{'change':>12}" + "".join(f"{k:>12}" for k in kinds)
    lines += [head, f"  {'actual':<{width}}{numbers.value(base):>12}"]
    for row in table.to_dict("records"):
        lines.append(f"  {row['lever']:<{width}}{numbers.value(row['value']):>12}"
                     f"{numbers.change(row['delta']):>12}"
                     + "".join(f"{numbers.change(row[k]):>12}" for k in kinds))
    totals = scenario.explanation.totals
    lines.append("  " + "─" * (len(head) - 2))
    lines.append(f"  {'scenario':<{width}}{numbers.value(scenario.value):>12}"
                 f"{numbers.change(scenario.delta):>12}"
                 + "".join(f"{numbers.change(totals.get(k, 0.0)):>12}" for k in kinds))
    return "\n".join(lines)


def _lever_kind(tree: Any, node: str, kind: str) -> Any:
    if kind == "share":
        return "percent"
    return Numbers.of(tree).kind_of(node)


def goal_text(goal: GoalSeek) -> str:
    """``share[tier=pro] = 14.6 % (now 13.6 %) brings ARPU to $56.00``."""
    scenario = goal.scenario
    numbers = Numbers.of(scenario.tree)
    lever = scenario.levers[0]
    kind = _lever_kind(scenario.tree, lever.node, lever.kind)
    unit = numbers.unit
    return (f"{goal.lever} = {format_value(goal.value, kind, unit)} (now "
            f"{format_value(goal.current, kind, unit)}, "
            f"{format_change(goal.value - goal.current, kind, unit)}) brings "
            f"{numbers.root_label} to {numbers.value(goal.target)}")


def format_goal(goal: GoalSeek) -> str:
    """The goal seek's answer, then the move it makes."""
    scenario = goal.scenario
    numbers = Numbers.of(scenario.tree)
    base = scenario.explanation.base.value
    return (f"Goal seek on {scenario.actual.period}: {goal_text(goal)}\n"
            f"  {numbers.move(base, scenario.value, scenario.delta)}")


def format_sensitivity(table: pd.DataFrame, tree: Any, *, top: int = 10) -> str:
    """The levers that move the root most: elasticity and the root at −/+ step."""
    numbers = Numbers.of(tree)
    step = table.attrs.get("step", 0.1)
    actual = float(table["actual"].iloc[0]) if len(table) else float("nan")
    lines = [f"Sensitivity of {numbers.root_label} {numbers.value(actual)} "
             f"({table.attrs.get('period', '')}): each lever −/+{step:.0%}, largest elasticity "
             "first (ε: % change of the root per 1 % of the lever)", ""]
    rows = table.head(top).to_dict("records")
    width = max([5, *(len(str(r["lever"])) for r in rows)]) + 2
    lines.append(f"  {'lever':<{width}}{'ε':>8}{'at −':>12}{'at +':>12}")
    for r in rows:
        lines.append(f"  {r['lever']:<{width}}{r['elasticity']:>8.3f}"
                     f"{numbers.change(r['low_value'] - actual):>12}"
                     f"{numbers.change(r['high_value'] - actual):>12}")
    if len(table) > top:
        lines.append(f"  … and {len(table) - top} more levers (--format json or csv for all)")
    return "\n".join(lines)


def total_table(total: TotalExplanation) -> pd.DataFrame:
    """The total's effects as CSV rows (path joined with ``/``), summing exactly to ΔT."""
    table = total.effects.copy()
    table["path"] = ["/".join(p) for p in table["path"]]
    return table


def format_total(total: TotalExplanation) -> str:
    """``Active users × ARPU $1.2M → …`` then volume, mix per level, rate per driver."""
    tree = total.tree
    numbers = Numbers.of(tree)
    label, parts = total_parts(total)
    lines = [f"{tree.title} — {tree.name} ({total.method}, {segmented(total.by)})",
             f"{numbers.move(total.base_value, total.compare_value, total.delta, label=label)}"
             f"   {total.base_period} → {total.compare_period}", ""]
    shown = dict(parts)
    width = max(len(k) for k in shown) + 4
    for name, value in shown.items():
        share = f"{format_value(value / total.delta, 'percent'):>9}" if total.delta else ""
        lines.append(f"  {name:<{width}}{numbers.change(value):>16}{share}")
    lines.append("  " + "─" * (width + 24))
    lines.append(f"  {'total':<{width}}{numbers.change(total.delta):>16}")
    rate = total.effects[total.effects["kind"] == "rate"]
    if len(rate):
        lines += ["", "Rate by driver"]
        by_driver = rate.groupby("label", sort=False)["value"].sum()
        for label_, value in by_driver.items():
            lines.append(f"  {label_:<{width}}{numbers.change(float(value)):>16}")
    return "\n".join(lines)
