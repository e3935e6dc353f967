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

from kpitree.core import views
from kpitree.core.attribution import attribute, cells_from_sums, check_options
from kpitree.core.data import DataSource, check_period, load_data, periods_in
from kpitree.core.errors import DataError
from kpitree.core.evaluate import aggregate, describe_rows, node_values
from kpitree.core.result import EFFECT_KINDS, RELATIVE_TOLERANCE, AttributionError, Explanation

if TYPE_CHECKING:  # charts are imported only when drawn
    from matplotlib.figure import Figure

    from kpitree.core.tree import Tree

KIND_ORDER = {kind: i for i, kind in enumerate(("mix", "interaction", "rate"))}


@dataclass(frozen=True)
class Loaded:
    """A data set loaded once for many attributions: checked dims and per-period sums."""

    dims: tuple[str, ...]
    sums: pd.DataFrame
    periods: tuple[str, ...]
    period_column: str
    name: str


def load_sums(
    tree: Tree, data: DataSource, *, by: Sequence[str] | None = None, method: str = "shapley",
    period_column: str = "period",
) -> Loaded:
    """Load and check ``data`` once; sum every column node per period × finest segment."""
    dims = check_options(tree, by=by, method=method, period_column=period_column)
    name = "data" if isinstance(data, pd.DataFrame) else str(data)
    frame = load_data(data, tree, by=dims, period_column=period_column)
    sums = aggregate(frame, tree, by=dims, period_column=period_column)
    periods = tuple(periods_in(frame, period_column))
    return Loaded(tuple(dims), sums, periods, period_column, name)


def pair(tree: Tree, loaded: Loaded, base: str, compare: str, method: str) -> Explanation:
    """Attribute ``base → compare`` on already loaded sums."""
    sums = loaded.sums[loaded.sums[loaded.period_column].isin([base, compare])]
    cells = cells_from_sums(sums, tree, dims=loaded.dims, base=base, compare=compare,
                            period_column=loaded.period_column, source=loaded.name)
    return attribute(tree, cells, dims=loaded.dims, method=method, periods=(base, compare))


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

    def __post_init__(self) -> None:
        first, last = self.values["value"].iloc[0], self.values["value"].iloc[-1]
        scale = max(1.0, float(self.values["value"].abs().max()))
        total = float(self.chained["value"].sum())
        if abs(total - (last - first)) > RELATIVE_TOLERANCE * scale:
            raise AttributionError(
                f"chained effects add up to {total!r}, not to {last - first!r}; a kpitree bug"
            )

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
        sums = self.chained.groupby("kind", sort=False)["value"].sum()
        kinds = [k for k in EFFECT_KINDS if k in sums.index or k != "interaction"]
        return {kind: float(sums.get(kind, 0.0)) for kind in kinds}

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
            "by": list(self.by), "periods": list(self.periods), "values": values,
            "delta": self.delta,
            "chained": self.chained_totals, "direct": self.direct.totals,
        }


def trend(
    tree: Tree,
    data: DataSource,
    *,
    start: object | None = None,
    end: object | None = None,
    by: Sequence[str] | None = None,
    method: str = "shapley",
    period_column: str = "period",
) -> Trend:
    """Evaluate the tree on every period from ``start`` to ``end`` and chain-link the changes.

    Args:
        tree: a loaded tree.
        data: a DataFrame or a CSV/Parquet path, one row per period × segment.
        start, end: first and last period (default: the first and last in the data).
        by: segment dimensions, outermost first (default: the tree's ``segments``).
        method: ``"shapley"`` (default), ``"sequential"`` or ``"lmdi"``.
        period_column: the period column's name.

    Returns:
        A :class:`Trend` whose chained effects add up exactly to ``A(end) − A(start)`` (and
        per kind to the sum of the steps), with the direct ``start → end`` explanation beside.

    Raises:
        DataError: bad data, unknown period, ``start`` after ``end``, fewer than two periods.

    Example:
        >>> t = trend(tree, "data/saas_monthly.csv")  # doctest: +SKIP
        >>> abs(t.chained["value"].sum() - t.delta) < 1e-9  # doctest: +SKIP
        True
    """
    loaded = load_sums(tree, data, by=by, method=method, period_column=period_column)
    periods = list(loaded.periods)
    frame = loaded.sums
    first = check_period(frame, start, loaded.name, period_column) if start is not None else None
    last = check_period(frame, end, loaded.name, period_column) if end is not None else None
    lo = periods.index(first) if first is not None else 0
    hi = periods.index(last) if last is not None else len(periods) - 1
    if lo > hi:
        raise DataError(f"start {periods[lo]} is after end {periods[hi]} (--from/--to); swap them")
    periods = periods[lo: hi + 1]
    if len(periods) < 2:
        raise DataError(
            f"{loaded.name}: a trend needs at least two periods, got {', '.join(periods)}"
        )
    steps = tuple(pair(tree, loaded, a, b, method) for a, b in pairwise(periods))
    direct = pair(tree, loaded, periods[0], periods[-1], method)
    return Trend(
        tree=tree, method=method, by=loaded.dims, periods=tuple(periods),
        values=_values(steps, method), segments=_segments(tree, loaded, periods),
        steps=steps, direct=direct, chained=chain(steps),
    )


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


def _segments(tree: Tree, loaded: Loaded, periods: list[str]) -> pd.DataFrame:
    """Every node per period × outermost segment, with the segment's share of the weight."""
    pc = loaded.period_column
    sums = loaded.sums[loaded.sums[pc].isin(periods)]
    outer = list(loaded.dims[:1])
    grouped = sums.groupby([pc, *outer], sort=True, observed=True)[list(tree.columns)]
    grouped = grouped.sum().reset_index()
    keys = grouped[[pc, *outer]].rename(columns={pc: "__period__"})
    values = node_values(tree, {n: grouped[n].to_numpy() for n in tree.columns},
                         describe_rows(keys))
    table = grouped[[pc, *outer]].rename(columns={pc: "period"}).copy()
    totals = table.assign(w=values[tree.weight]).groupby("period")["w"].transform("sum")
    table["share"] = values[tree.weight] / totals.to_numpy()
    for name in tree.order:
        table[name] = np.where(np.isfinite(values[name]), values[name], np.nan)
    return table.reset_index(drop=True)
