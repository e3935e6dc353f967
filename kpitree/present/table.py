"""The terminal tables of ``kpitree explain`` (totals, segments, top effects) and ``kpitree trend``.

What belongs here: laying out an explanation or a trend as plain text for ``--format table``.
Rendering only formats: every number goes through :mod:`kpitree.core.formatting`. What does
not: printing (the CLI does that, :mod:`kpitree.cli.output`), the driver search's table
(:mod:`kpitree.present.drivers_table`), or choosing which effects matter (the results do).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

from kpitree.core.formatting import (
    Kind,
    format_change,
    format_pct_change,
    format_value,
    share_of_change,
    table_decimals,
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


@dataclass(frozen=True)
class Figures:
    """The figures of one table: its kind, unit and one number of decimals for all of them."""

    kind: Kind
    unit: str | None
    decimals: int | None = None

    @classmethod
    def of(cls, result: Explanation) -> Figures:
        """The figures of ``result``'s table: decimals from its own changes (the headline,
        the totals, every effect) unless the tree fixes ``decimals:``."""
        kind, unit = metric_kind(result), result.tree.unit
        # Only the largest defined change decides the decimals: the effects' largest is found
        # on the column at once (a result may hold 100,000 segments' effects).
        values = result.effects["value"].to_numpy(dtype=float, na_value=math.nan)
        values = np.abs(values[np.isfinite(values)])
        changes = [result.delta, *result.totals.values(), *([values.max()] if len(values) else [])]
        decimals = table_decimals(changes, kind, unit, fixed=result.tree.decimals)
        return cls(kind, unit, decimals)

    def value(self, value: float | None) -> str:
        return format_value(value, self.kind, self.unit, decimals=self.decimals, compact=True)

    def change(self, value: float | None) -> str:
        return format_change(value, self.kind, self.unit, decimals=self.decimals, compact=True)


def _segment_text(segment: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items() if v is not None) or "total"


def segment_columns(result: Explanation) -> list[tuple[str, str]]:
    """The effect columns of a segment table: ``(heading, segments column names)``.

    DESIGN.md §4a: a segment's whole change is its mix, the inner levels' mix inside it
    (nested dimensions only), [interaction, sequential only] and its cells' rate; their column
    totals are the headline's totals.
    """
    columns = [("mix", "mix")]
    if len(result.by) > 1:  # cross-classified: the other dimensions' composition inside it
        columns.append(("other mix" if result.method == "cross" else "inner mix", "inner_mix"))
    if result.method == "sequential":
        columns.append(("interaction", "interaction+inner_interaction"))
    columns.append(("rate", "rate"))
    return columns


def level_lines(result: Explanation, kind_name: str, *, width: int,
                figures: Figures) -> list[str]:
    """The headline's mix (or interaction) per level of nested dimensions, indented."""
    effects = result.effects[result.effects["kind"] == kind_name]
    by_level = effects.groupby("level", sort=False)["value"].sum()
    lines = []
    for depth, dim in enumerate(result.by):
        nested = depth and result.method != "cross"  # cross-classified: no nesting order
        name = f"{dim} within {' × '.join(result.by[:depth])}" if nested else dim
        value = float(by_level.get(dim, 0.0))
        lines.append(f"    {name:<{width - 2}}{figures.change(value):>12}")
    return lines


def segment_effect(row: object, names: str) -> float:
    """The sum of the segments columns ``names`` (``a+b``) of one segments row."""
    return float(sum(float(getattr(row, name)) for name in names.split("+")))


SEGMENTS_SHOWN = 20  # outer segments listed before the rest fold into one exact "other" line


def segment_lines(result: Explanation, *, kind: Kind, unit: str | None,
                  shown: int = SEGMENTS_SHOWN, decimals: int | None = None) -> list[str]:
    """The table of the outermost segments: shares, values and mix / inner mix / rate.

    Beyond ``shown`` segments, the largest ``shown`` by whole change (mix + inner mix + rate)
    are listed, largest first, and the rest fold into one ``other`` line whose shares and
    effects are their exact sums (its values are left blank: a pooled value is not theirs).
    """
    base, compare = result.base, result.compare
    figures = Figures(kind, unit, decimals)
    outer = result.segments[result.segments["level"] == result.by[0]]
    columns = segment_columns(result)
    folded = None
    if len(outer) > shown:
        names = [n for _, cols in columns for n in cols.split("+")]
        size = outer[names].sum(axis=1).abs()
        order = size.sort_values(ascending=False, kind="stable").index
        folded, outer = outer.loc[order[shown:]], outer.loc[order[:shown]]
    lines = [f"Segments by {result.by[0]}", (
        f"  {'segment':<18}{'share ' + base.period:>14}{'→ ' + compare.period:>12}"
        f"{'value ' + base.period:>18}{'→ ' + compare.period:>14}"
        + "".join(f"{heading:>13}" for heading, _ in columns))]
    for row in outer.itertuples(index=False):
        flag = {"entered": " (new)", "exited": " (gone)", "empty": " (empty)"}.get(
            row.status, "")
        name = (_segment_text(row.segment).split("=", 1)[-1] + flag)[:18]
        share0 = row.base_share if row.base_weight > 0 else None
        share1 = row.compare_share if row.compare_weight > 0 else None
        lines.append(
            f"  {name:<18}{format_value(share0, 'percent'):>14}"
            f"{format_value(share1, 'percent'):>12}"
            f"{figures.value(row.base_value):>18}"
            f"{figures.value(row.compare_value):>14}"
            + "".join(f"{figures.change(segment_effect(row, names)):>13}"
                      for _, names in columns))
    if folded is not None:
        name = f"other ({len(folded):,})"[:18]
        sums = [math.fsum(v for n in cols.split("+") for v in folded[n].tolist())
                for _, cols in columns]
        share0 = math.fsum(folded["base_share"].where(folded["base_weight"] > 0, 0.0).tolist())
        share1 = math.fsum(folded["compare_share"].where(folded["compare_weight"] > 0,
                                                         0.0).tolist())
        lines.append(
            f"  {name:<18}{format_value(share0, 'percent'):>14}"
            f"{format_value(share1, 'percent'):>12}{'':>18}{'':>14}"
            + "".join(f"{figures.change(value):>13}" for value in sums))
    return lines


def format_table(result: Explanation, *, top: int = 10) -> str:
    """A readable plain-text summary of an explanation.

    Every money figure has the same decimals, chosen from the table's own changes
    (:class:`Figures`), so its parts visibly add up; a total's share of the change is ``n/m``
    where mix and rate offset each other.
    """
    figures = Figures.of(result)
    base, compare = result.base, result.compare
    lines = [
        f"{result.tree.title} — {result.tree.name} ({result.method})",
        f"{result.tree.label(result.metric)}  {base.period} {figures.value(base.value)}"
        f" → {compare.period} {figures.value(compare.value)}   "
        f"{figures.change(result.delta)} "
        f"({format_pct_change(base.value, compare.value)})",
        "",
    ]
    dims = ", ".join(result.by) or "no segments"
    names = {"mix": f"mix (between {dims})", "rate": "rate (within segments)",
             "interaction": "interaction (mix × rate)"}
    width = 34
    totals = result.totals
    for name, value in totals.items():
        # "n/m" where mix and rate offset: their shares of the change would pass 100 %
        share = f"{share_of_change(value, result.delta, totals.values()):>9}"
        lines.append(f"  {names[name]:<{width}}{figures.change(value):>12}  {share}")
        if name in ("mix", "interaction") and len(result.by) > 1:
            lines += level_lines(result, name, width=width, figures=figures)
    lines.append("  " + "─" * (width + 21))
    lines.append(f"  {'total':<{width}}{figures.change(result.delta):>12}")

    if result.by:
        lines += ["", *segment_lines(result, kind=figures.kind, unit=figures.unit,
                                     decimals=figures.decimals)]

    lines += ["", f"Top {min(top, len(result.effects))} effects"]
    for record in result.top_effects(top).to_dict("records"):  # dimension names need not be
        segment = {d: record[d] for d in result.by}                # identifiers ("my tier")
        what = record["label"] if record["kind"] == "rate" else record["kind"]
        lines.append(f"  {record['kind']:<12}{_segment_text(segment):<32}{what:<28}"
                     f"{figures.change(record['value']):>12}")
    if result.notes:
        lines += ["", *(f"Note: {note}" for note in result.notes)]
    return "\n".join(lines)


def format_trend(trend: Trend) -> str:
    """The trend as text: each period's value and step split, then chained vs direct totals."""
    tree = trend.tree
    kind = value_kind(tree.format_of(tree.root), tree.unit)
    weight_kind = value_kind(tree.format_of(tree.weight), None)
    kinds = [k for k in ("mix", "rate", "interaction") if k in trend.values.columns]
    # year over year (same period a year earlier), when the data reaches back that far
    yoy = "yoy" in trend.values.columns and bool(trend.values["yoy"].notna().any())
    label = tree.label(tree.root)
    lines = [
        f"{tree.title} — {tree.name} ({trend.method}, chain-linked {trend.step_words})",
        f"{label}  {trend.periods[0]} {format_value(trend.first, kind, tree.unit)} → "
        f"{trend.periods[-1]} {format_value(trend.last, kind, tree.unit)}   "
        f"{format_change(trend.delta, kind, tree.unit)}",
        "",
        f"  {'period':<10}{tree.label(tree.weight):>14}{label:>12}{'change':>11}"
        + "".join(f"{k:>12}" for k in kinds) + (f"{'YoY':>12}" if yoy else ""),
    ]
    for row in trend.values.itertuples(index=False):
        cells = [format_change(getattr(row, k), kind, tree.unit)
                 for k in ("delta", *kinds, *(["yoy"] if yoy else []))]
        lines.append(f"  {row.period:<10}{format_value(row.weight, weight_kind):>14}"
                     f"{format_value(row.value, kind, tree.unit):>12}"
                     + "".join(f"{c:>{11 if i == 0 else 12}}" for i, c in enumerate(cells)))
    lines += ["", f"  {'':<12}{'chained':>12}{'direct':>12}{'difference':>12}"]
    for row in trend.comparison().itertuples(index=False):
        lines.append(f"  {row.kind:<12}" + "".join(
            f"{format_change(v, kind, tree.unit):>12}"
            for v in (row.chained, row.direct, row.difference)))
    lines.append("")
    lines.append(f"  chained = sum of the {trend.step_words.replace(' ', '-')} effects; direct = "
                 f"{trend.periods[0]} against {trend.periods[-1]} in one step")
    if yoy:
        lines.append(f"  YoY = change from the same {trend.kind or 'period'} a year earlier")
    lines += [f"  Note: {note}" for note in trend.notes]
    return "\n".join(lines)
