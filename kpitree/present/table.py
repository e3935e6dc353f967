"""The terminal tables of ``kpitree explain`` (totals, segments, top effects) and ``kpitree trend``.

What belongs here: laying out an explanation or a trend as plain text for ``--format table``.
Rendering only formats: every number goes through :mod:`kpitree.core.formatting`. What does
not: printing (the CLI does that, :mod:`kpitree.cli.output`), the driver search's table
(:mod:`kpitree.present.drivers_table`), or choosing which effects matter (the results do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from kpitree.core.formatting import (
    Kind,
    format_change,
    format_pct_change,
    format_value,
    value_kind,
)

if TYPE_CHECKING:
    from kpitree.analysis.trend import Trend
    from kpitree.core.result import Explanation


def metric_kind(result: Explanation) -> Kind:
    """The kind the explained metric's values are shown as in the terminal tables.

    The metric's own ``format``, else money when the tree has a unit. Unlike
    :func:`~kpitree.core.formatting.value_kind`, an explicit ``format: currency`` stays currency
    without a unit (two decimals, no symbol), as these tables have always shown it.
    """
    kind = result.tree.format_of(result.metric)
    return cast(Kind, kind) if kind else ("currency" if result.tree.unit else "number")


def _segment_text(segment: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items() if v is not None) or "total"


def format_table(result: Explanation, *, top: int = 10) -> str:
    """A readable plain-text summary of an explanation."""
    unit, kind = result.tree.unit, metric_kind(result)
    base, compare = result.base, result.compare
    lines = [
        f"{result.tree.title} — {result.tree.name} ({result.method})",
        f"{result.tree.label(result.metric)}  {base.period} {format_value(base.value, kind, unit)}"
        f" → {compare.period} {format_value(compare.value, kind, unit)}   "
        f"{format_change(result.delta, kind, unit)} "
        f"({format_pct_change(base.value, compare.value)})",
        "",
    ]
    dims = ", ".join(result.by) or "no segments"
    names = {"mix": f"mix (between {dims})", "rate": "rate (within segments)",
             "interaction": "interaction (mix × rate)"}
    width = 34
    for name, value in result.totals.items():
        share = f"{format_value(value / result.delta, 'percent'):>9}" if result.delta else ""
        lines.append(f"  {names[name]:<{width}}{format_change(value, kind, unit):>12}  {share}")
    lines.append("  " + "─" * (width + 21))
    lines.append(f"  {'total':<{width}}{format_change(result.delta, kind, unit):>12}")

    if result.by:
        outer = result.segments[result.segments["level"] == result.by[0]]
        lines += ["", f"Segments by {result.by[0]}", (
            f"  {'segment':<18}{'share ' + base.period:>14}{'→ ' + compare.period:>12}"
            f"{'value ' + base.period:>18}{'→ ' + compare.period:>14}{'mix':>12}{'rate':>12}"
        )]
        for row in outer.itertuples(index=False):
            flag = {"entered": " (new)", "exited": " (gone)", "empty": " (empty)"}.get(
                row.status, "")
            name = (_segment_text(row.segment).split("=", 1)[-1] + flag)[:18]
            share0 = row.base_share if row.base_weight > 0 else None
            share1 = row.compare_share if row.compare_weight > 0 else None
            lines.append(
                f"  {name:<18}{format_value(share0, 'percent'):>14}"
                f"{format_value(share1, 'percent'):>12}"
                f"{format_value(row.base_value, kind, unit):>18}"
                f"{format_value(row.compare_value, kind, unit):>14}"
                f"{format_change(row.mix, kind, unit):>12}{format_change(row.rate, kind, unit):>12}"
            )

    lines += ["", f"Top {min(top, len(result.effects))} effects"]
    for row in result.top_effects(top).itertuples(index=False):
        segment = {d: getattr(row, d) for d in result.by}
        what = row.label if row.kind == "rate" else row.kind
        lines.append(f"  {row.kind:<12}{_segment_text(segment):<32}{what:<28}"
                     f"{format_change(row.value, kind, unit):>12}")
    return "\n".join(lines)


def format_trend(trend: Trend) -> str:
    """The trend as text: each period's value and step split, then chained vs direct totals."""
    tree = trend.tree
    kind = value_kind(tree.format_of(tree.root), tree.unit)
    weight_kind = value_kind(tree.format_of(tree.weight), None)
    kinds = [k for k in ("mix", "rate", "interaction") if k in trend.values.columns]
    label = tree.label(tree.root)
    lines = [
        f"{tree.title} — {tree.name} ({trend.method}, chain-linked month over month)",
        f"{label}  {trend.periods[0]} {format_value(trend.first, kind, tree.unit)} → "
        f"{trend.periods[-1]} {format_value(trend.last, kind, tree.unit)}   "
        f"{format_change(trend.delta, kind, tree.unit)}",
        "",
        f"  {'period':<10}{tree.label(tree.weight):>14}{label:>12}{'change':>11}"
        + "".join(f"{k:>12}" for k in kinds),
    ]
    for row in trend.values.itertuples(index=False):
        cells = [format_change(getattr(row, k), kind, tree.unit) for k in ("delta", *kinds)]
        lines.append(f"  {row.period:<10}{format_value(row.weight, weight_kind):>14}"
                     f"{format_value(row.value, kind, tree.unit):>12}"
                     + "".join(f"{c:>{11 if i == 0 else 12}}" for i, c in enumerate(cells)))
    lines += ["", f"  {'':<12}{'chained':>12}{'direct':>12}{'difference':>12}"]
    for row in trend.comparison().itertuples(index=False):
        lines.append(f"  {row.kind:<12}" + "".join(
            f"{format_change(v, kind, tree.unit):>12}"
            for v in (row.chained, row.direct, row.difference)))
    lines.append("")
    lines.append("  chained = sum of the month-over-month effects; direct = "
                 f"{trend.periods[0]} against {trend.periods[-1]} in one step")
    return "\n".join(lines)
