"""Multi-period series: the tree over every period, chain-linked and direct attribution.

What belongs here: evaluating a tree on each period of the data, the month-over-month
attributions and their chain-linked sum, and the direct first-vs-last attribution beside it.
What does not: the maths of one comparison (:mod:`kpitree.core.attribution` — a series is only many
calls of :func:`~kpitree.core.attribution.attribute`) or drawing (:mod:`kpitree.present.charts`,
imported only when a chart is asked for).

**Chain-linking.** For periods ``p0 … pn`` each step ``p(k−1) → pk`` is attributed on its own
(the two neighbouring months' shares and rates), and the chained effect of a segment × driver is
the sum of its step effects. Because each step adds up exactly to ``A(pk) − A(p(k−1))``, the
chained effects add up exactly to ``A(pn) − A(p0)`` (the steps telescope), per effect kind too.

**Direct** is one attribution of ``p0 → pn``. Both add up to the same total; the split differs
because mix and rate are path-dependent: the chain values each month's share shift at that
month's rates and each rate change at that month's shares, while the direct comparison values
the whole shift at the endpoints' averages. A tier whose share rises and falls back shows zero
direct mix but non-zero chained mix whenever the tier's rate moved in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kpitree.core import progress, views
from kpitree.core.attribution import attribute, period_notes
from kpitree.core.cells import Cells, load_cells
from kpitree.core.data import DataSource
from kpitree.core.errors import DataError
from kpitree.core.period_labels import period_kind, step_words, year_before
from kpitree.core.result import EFFECT_KINDS, Explanation, check_adds_up, kind_totals

if TYPE_CHECKING:  # charts are imported only when drawn
    from matplotlib.figure import Figure

    from kpitree.core.tree import Tree

KIND_ORDER = {kind: i for i, kind in enumerate(("mix", "interaction", "rate"))}


def load_sums(
    tree: Tree, data: DataSource, *, by: Sequence[str] | None = None, method: str = "shapley",
    period_column: str = "period",
) -> Cells:
    """Load and check ``data`` once: the cells of every period (see
    :func:`kpitree.core.cells.load_cells`)."""
    return load_cells(tree, data, by=by, method=method, period_column=period_column)


def pair(tree: Tree, cells: Cells, base: str, compare: str, method: str) -> Explanation:
    """Attribute ``base → compare`` on already loaded cells."""
    return attribute(tree, cells.select(base, compare), dims=list(cells.keys.columns),
                     method=method)


@dataclass(frozen=True)
class Trend:
    """A tree over consecutive periods: values, chained month-over-month and direct effects.

    Attributes:
        periods: the periods in order (text order of the period column).
        values: one row per period — ``period``, ``value`` (the root), ``weight``, and for each
            step from the previous period ``delta``, ``mix``, ``rate`` (and ``interaction`` for
            ``sequential``); the first period's step columns are NaN.
        segments: one row per period × segment of the outermost dimension — ``period``, the
            dimension, ``share`` of the total weight and the value of every node.
        steps: the month-over-month :class:`Explanation` of each consecutive pair.
        direct: the :class:`Explanation` of the first period against the last.
        chained: the steps' effects summed per kind, level, segment and driver (the effects
            table's columns); adds up exactly to ``last − first``.
    """

    tree: Tree = field(repr=False, compare=False)
    method: str
    by: tuple[str, ...]
    periods: tuple[str, ...]
    values: pd.DataFrame = field(repr=False, compare=False)
    segments: pd.DataFrame = field(repr=False, compare=False)
    steps: tuple[Explanation, ...] = field(repr=False, compare=False)
    direct: Explanation = field(repr=False, compare=False)
    chained: pd.DataFrame = field(repr=False, compare=False)
    # Conventions and caveats shown with the numbers (a rolled-up quarter's meaning, …).
    notes: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def kind(self) -> str | None:
        """``month``, ``quarter`` or ``year`` when every period label is one, else ``None``."""
        return period_kind(self.periods)

    @property
    def step_words(self) -> str:
        """How one step is named: ``month over month``, ``quarter over quarter``, …"""
        return step_words(self.kind)

    def __post_init__(self) -> None:
        check_adds_up(self.chained, self.delta, self.values["value"], "chained effects")

    @property
    def first(self) -> float:
        return float(self.values["value"].iloc[0])

    @property
    def last(self) -> float:
        return float(self.values["value"].iloc[-1])

    @property
    def delta(self) -> float:
        """``last − first`` of the root: what both the chain and the direct split explain."""
        return self.last - self.first

    @property
    def chained_totals(self) -> dict[str, float]:
        """Chained effect totals by kind (the sum of the steps' totals)."""
        return kind_totals(self.chained)

    def comparison(self) -> pd.DataFrame:
        """Chained against direct totals per kind, and the path dependence between them."""
        chained = self.chained_totals
        direct = self.direct.totals
        kinds = [k for k in EFFECT_KINDS if k in chained or k in direct]
        rows = [(k, chained.get(k, 0.0), direct.get(k, 0.0)) for k in kinds]
        rows.append(("total", self.delta, self.direct.delta))
        table = pd.DataFrame(rows, columns=["kind", "chained", "direct"])
        table["difference"] = table["chained"] - table["direct"]
        return table

    def by_segment(self) -> pd.DataFrame:
        """Chained mix and rate per segment of the outermost dimension (plus the direct ones)."""
        if not self.by:
            return pd.DataFrame(columns=["segment", "chained_mix", "chained_rate",
                                         "direct_mix", "direct_rate"])
        dim = self.by[0]
        rows = []
        for label, effects in (("chained", self.chained), ("direct", self.direct.effects)):
            mix = effects[(effects["kind"] != "rate") & (effects["level"] == dim)]
            inside = effects[~((effects["kind"] != "rate") & (effects["level"] == dim))]
            rows.append(mix.groupby(dim)["value"].sum().rename(f"{label}_mix"))
            rows.append(inside.groupby(dim)["value"].sum().rename(f"{label}_rate"))
        table = pd.concat(rows, axis=1).fillna(0.0)
        table.index.name = dim
        return table.reset_index()

    def __str__(self) -> str:
        """The trend as text (see :func:`kpitree.present.table.format_trend`)."""
        return views.show("trend_table", self)

    def _repr_html_(self) -> str:
        """Notebook display: the move, the chained split and the bridge
        (:mod:`kpitree.present.notebook`)."""
        return views.show("trend_html", self)

    def bridge_chart(self, path: str | None = None) -> Figure:
        """The cumulative bridge (see :func:`kpitree.present.charts.trend_bridge_chart`)."""
        return views.show("trend_bridge_chart", self, path)

    def trends_chart(self, path: str | None = None) -> Figure:
        """Small multiples of shares and per-segment rates (see :mod:`kpitree.present.charts`)."""
        return views.show("trend_multiples_chart", self, path)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python summary: per-period values and step totals, chained vs direct."""
        values = self.values.replace({np.nan: None}).to_dict("records")
        return {
            "tree": self.tree.name, "metric": self.tree.root, "method": self.method,
            "by": list(self.by), "periods": list(self.periods), "period_kind": self.kind,
            "values": values, "delta": self.delta,
            "chained": self.chained_totals, "direct": self.direct.totals,
            **({"notes": list(self.notes)} if self.notes else {}),
        }


def trend(
    tree: Tree, data: DataSource, *, start: object | None = None, end: object | None = None,
    by: Sequence[str] | None = None, method: str = "shapley", period_column: str = "period",
    period: str = "month", allow_partial: bool = False,
) -> Trend:
    """Evaluate the tree on every period from ``start`` to ``end`` and chain-link the changes.

    Args:
        tree: a loaded tree.
        data: a DataFrame or a CSV/Parquet path, one row per period × segment.
        start, end: first and last period (default: the first and last in the data).
        by: segment dimensions, outermost first (default: the tree's ``segments``).
        method: ``"shapley"`` (default), ``"sequential"`` or ``"lmdi"``.
        period_column: the period column's name.
        period: ``month`` (the data's own periods), or ``quarter``/``year`` to roll monthly
            rows up first (as :func:`kpitree.explain`).
        allow_partial: keep rolled-up periods that miss months (noted) instead of refusing.

    Returns:
        A :class:`Trend` whose chained effects add up exactly to ``A(end) − A(start)`` (and
        per kind to the sum of the steps), with the direct ``start → end`` explanation beside.
        ``values`` also carries ``yoy``: the change from the same period a year earlier
        (``2025-10`` for ``2026-10``, ``2025-Q3`` for ``2026-Q3``) when that is in the data.

    Raises:
        DataError: bad data, unknown period, ``start`` after ``end``, fewer than two periods,
            an incomplete quarter or year in the range (unless ``allow_partial``).

    Example:
        >>> t = trend(tree, "data/saas_monthly.csv")
        >>> abs(float(t.chained["value"].sum()) - t.delta) < 1e-9
        True
    """
    cells = load_cells(tree, data, by=by, method=method, period_column=period_column,
                       roll_up=period, allow_partial=True)
    periods = list(cells.periods)
    first = cells.check_period(start) if start is not None else None
    last = cells.check_period(end) if end is not None else None
    lo = periods.index(first) if first is not None else 0
    hi = periods.index(last) if last is not None else len(periods) - 1
    if lo > hi:
        raise DataError(f"start {periods[lo]} is after end {periods[hi]} (--from/--to); swap them")
    periods = periods[lo: hi + 1]
    if len(periods) < 2:
        raise DataError(
            f"{cells.source}: a trend needs at least two periods, got {', '.join(periods)}"
        )
    partial = [p for p in periods if p in cells.partial]
    if partial and not allow_partial:
        first = partial[0]
        raise DataError(
            f"{cells.source}: {period} {first} is incomplete (missing "
            f"{', '.join(cells.partial[first])}), so the trend would compare period lengths; "
            f"choose complete {period}s with --from/--to, or pass --allow-partial")
    steps = tuple(pair(tree, cells, a, b, method)
                  for a, b in progress.steps("trend", list(pairwise(periods))))
    direct = pair(tree, cells, periods[0], periods[-1], method)
    notes = period_notes(period, periods, cells.partial)
    return Trend(
        tree=tree, method=method, by=tuple(cells.keys.columns), periods=tuple(periods),
        values=_with_yoy(_values(steps, method), cells, tree),
        segments=_segments(tree, cells, periods),
        steps=steps, direct=direct, chained=chain(steps), notes=notes,
    )


def _with_yoy(values: pd.DataFrame, cells: Cells, tree: Tree) -> pd.DataFrame:
    """``yoy``: each period's root minus the same period a year earlier (NaN when absent).

    The year-earlier period may lie before the trend's range; it is read from ``cells``.
    """
    known = dict(zip(values["period"], values["value"], strict=True))
    yoy = []
    for label, value in zip(values["period"], values["value"], strict=True):
        before = year_before(str(label))
        if before is not None and before not in known and before in cells.periods:
            known[before] = float(cells.select(before).grouped([])[0].values(tree, before)
                                  [tree.root][0])
        yoy.append(value - known[before] if before in known else np.nan)
    return values.assign(yoy=yoy)


def chain(steps: Sequence[Explanation]) -> pd.DataFrame:
    """Sum the effects of consecutive explanations per kind, level, segment and driver."""
    stacked = pd.concat([s.effects for s in steps], ignore_index=True)
    keys = [c for c in stacked.columns if c not in ("value", "label", "driver")]
    key = pd.Series(["\x1f".join(map(str, row)) for row in stacked[keys].itertuples(index=False)],
                    index=stacked.index)
    sums = stacked.groupby(key, sort=False)["value"].sum()
    first = stacked.groupby(key, sort=False).head(1).copy()
    first["value"] = sums.loc[key.loc[first.index]].to_numpy()
    first["_order"] = first["kind"].map(KIND_ORDER)
    first = first.sort_values("_order", kind="stable").drop(columns="_order")
    return first.reset_index(drop=True)


def _values(steps: Sequence[Explanation], method: str) -> pd.DataFrame:
    kinds = ["mix", "rate"] + (["interaction"] if method == "sequential" else [])
    rows: list[dict[str, Any]] = [{
        "period": steps[0].base.period, "value": steps[0].base.value,
        "weight": steps[0].base.weight, "delta": np.nan, **{k: np.nan for k in kinds},
    }]
    for step in steps:
        totals = step.totals
        rows.append({"period": step.compare.period, "value": step.compare.value,
                     "weight": step.compare.weight, "delta": step.delta,
                     **{k: totals.get(k, 0.0) for k in kinds}})
    return pd.DataFrame(rows)


def _segments(tree: Tree, cells: Cells, periods: list[str]) -> pd.DataFrame:
    """Every node per period × outermost segment, with the segment's share of the weight."""
    outer = list(cells.keys.columns[:1])
    pieces = []
    for period in periods:
        grouped = cells.select(period).grouped(outer)[0]
        keys = grouped.keys if outer else pd.DataFrame(index=pd.RangeIndex(1))
        values = grouped.values(tree, period)
        table = pd.DataFrame({"period": [period] * len(keys)})
        for dim in outer:
            table[dim] = keys[dim].to_numpy()
        table["share"] = values[tree.weight] / values[tree.weight].sum()
        for name in tree.order:
            table[name] = np.where(np.isfinite(values[name]), values[name], np.nan)
        pieces.append(table)
    return pd.concat(pieces, ignore_index=True)
