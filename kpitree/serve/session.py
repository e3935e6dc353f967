"""The explorer's session: one tree and one data source, and the change drilled into.

What belongs here: :class:`Explorer` — the tree, the data as given (a CSV/Parquet path or a
DataFrame), its periods and dimensions — and the questions the drill-down tree asks of the
engine: the explanation of two periods (:func:`kpitree.explain` on the same source, so the JSON
is exactly the CLI's), a *drill* (one node of the decomposition tree split by one dimension,
or by the dimension the driver search ranks first) and the driver search itself. Every number
comes from :func:`~kpitree.core.attribution.explain` on the filtered rows or from
:func:`~kpitree.analysis.drivers.drivers`; this module only filters rows, chains explanations
and scales them. What does not: what-if levers and trends (:mod:`kpitree.serve.scenarios`),
HTTP (:mod:`kpitree.serve.app`), number formatting (:mod:`kpitree.core.formatting`, through
:mod:`kpitree.serve.text`).

**A drill is exact.** A node is a segment given by conditions ``dim=value`` from the root down.
Splitting node ``n`` by a dimension is :func:`kpitree.explain` on ``n``'s rows by that
dimension: each child's local mix and rate add up exactly to ``n``'s own change (its metric
``r1 − r0``). To compare nodes across the tree the page shows *contributions to the root's
change*: a child's local effects times its parent's *factor*, where the root's factor is 1 and
a child's factor is its contribution's rate part over its own change (for ``shapley`` this is
the parent's factor times the child's mean share ``(w0 + w1)/2`` — exactly the nested scaling of
DESIGN.md §3, so drilling ``tier`` then ``region`` gives the numbers of ``explain --by tier
region``). Hence a node's contribution is its own mix plus its children's contributions, which
add up exactly to its rate part — checked every time a drill is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kpitree.analysis.drivers import drivers
from kpitree.core.attribution import explain
from kpitree.core.cells import check_dims
from kpitree.core.data import (
    DataSource,
    check_period,
    load_data,
    periods_in,
    read_for_tree,
    read_table,
)
from kpitree.core.errors import UsageError, did_you_mean, listing
from kpitree.core.result import Explanation, check_adds_up
from kpitree.core.tree import Tree, load_tree

__all__ = ["AUTO", "Condition", "Explorer"]

AUTO = "auto"  # ``by=auto``: split by the dimension the driver search ranks first
CACHE_SIZE = 512  # explanations kept per session before the cache starts again
MAX_NUMERIC_VALUES = 24  # a numeric column with more distinct values is a measure, not a dimension
Condition = tuple[str, str]


@dataclass
class Explorer:
    """A tree and its data, ready to be explained, drilled and tried (see the module notes).

    Build one with :meth:`open`. Explanations are cached per question (the session is
    read-only: the data never changes under it).
    """

    tree: Tree
    source: DataSource
    period_column: str
    frame: pd.DataFrame = field(repr=False)  # checked: period, every dimension as text, nodes
    raw: pd.DataFrame = field(repr=False)  # the table as read, for filtered explanations
    dimensions: tuple[str, ...]
    periods: tuple[str, ...]
    base: str
    compare: str
    _cache: dict[tuple[Any, ...], Explanation] = field(default_factory=dict, repr=False)
    snapshots: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, tree: Tree | str | Path, data: DataSource, *, base: object | None = None,
             compare: object | None = None, dims: Sequence[str] | None = None,
             period_column: str = "period") -> Explorer:
        """Load the tree and the data, find the dimensions, check the default periods.

        The dimensions offered are ``dims`` or, by default, the data's columns other than the
        period and the measures the tree names, leaving out other numeric columns with more
        than :data:`MAX_NUMERIC_VALUES` values (a measure the tree does not use). ``base`` and
        ``compare`` default to the last two periods.

        Raises:
            TreeError, DataError: as :func:`kpitree.load_tree` and :func:`kpitree.load_data`;
                a period not in the data; data with a single period.
        """
        loaded = tree if isinstance(tree, Tree) else load_tree(tree)
        raw, name, _ = read_table(data)
        if dims is None:
            measures = set(loaded.columns.values())
            dims = tuple(str(c) for c in raw.columns if c != period_column
                         and c not in measures and not _numeric_measure(raw[c]))
        dims = tuple(dims)
        check_dims(dims, period_column)
        read_for_tree(data, loaded, dims=dims, period_column=period_column)
        frame = load_data(data, loaded, by=dims, period_column=period_column)
        periods = tuple(str(p) for p in periods_in(frame, period_column))
        if len(periods) < 2:
            raise UsageError(f"{name}: only one period ({listing(periods)}); the explorer "
                             "compares two: add the rows of another period")
        chosen = [periods[-2] if base is None else base, periods[-1] if compare is None
                  else compare]
        base_text, compare_text = (check_period(frame, p, name, period_column) for p in chosen)
        for dim in dims:  # labels as load_data reads them (stripped text), for filtering
            raw[dim] = frame[dim]
        return cls(loaded, data, period_column, frame, raw, dims, periods, base_text,
                   compare_text)

    # --- checks --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The data's name in messages (its path, or ``data`` for a DataFrame)."""
        return "data" if isinstance(self.source, pd.DataFrame) else str(self.source)

    def check_periods(self, base: object | None, compare: object | None) -> tuple[str, str]:
        """The two periods (default: the session's), with the CLI's message for one not in
        the data."""
        chosen = (self.base if base is None else base, self.compare if compare is None
                  else compare)
        first, second = (check_period(self.frame, p, self.name, self.period_column)
                         for p in chosen)
        return first, second

    def check_dimension(self, dim: str) -> str:
        """A dimension of the data, or the CLI's message for a column that is not there."""
        if dim in self.dimensions:
            return dim
        if dim == self.period_column or dim in self.tree.columns.values():
            role = "the period" if dim == self.period_column else "a measure"
            raise UsageError(f"'{dim}' is {role} column, not a dimension. Dimensions: "
                             f"{listing(self.dimensions)}")
        read_for_tree(self.source, self.tree, dims=[dim], period_column=self.period_column)
        raise UsageError(f"unknown dimension '{dim}'")  # pragma: no cover - read_for_tree raised

    def check_where(self, where: Sequence[Condition]) -> tuple[Condition, ...]:
        """Conditions from the root down: known dimensions, each once, values present."""
        seen: list[str] = []
        for dim, value in where:
            self.check_dimension(dim)
            if dim in seen:
                raise UsageError(f"where: {dim} is given twice; a node names each dimension once")
            seen.append(dim)
            present = sorted(self.frame[dim].unique().tolist())
            if value not in present:
                raise UsageError(f"where: {dim} '{value}' is not in the data."
                                 f"{did_you_mean(value, present)} Present: {listing(present)}")
        return tuple(where)

    # --- explanations --------------------------------------------------------------------

    def remember(self, key: tuple[Any, ...], result: Explanation) -> Explanation:
        """Keep ``result`` for ``key``; the cache is emptied past :data:`CACHE_SIZE` entries."""
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = result
        return result

    def explain(self, *, base: object | None = None, compare: object | None = None,
                by: Sequence[str] | None = None, method: str = "shapley") -> Explanation:
        """:func:`kpitree.explain` on the whole source, exactly as ``kpitree explain`` runs it."""
        first, second = self.check_periods(base, compare)
        key = ("all", first, second, None if by is None else tuple(by), method)
        if key in self._cache:
            return self._cache[key]
        return self.remember(key, explain(self.tree, self.source, base=first, compare=second,
                                          by=by, method=method,
                                          period_column=self.period_column))

    def rows(self, where: Sequence[Condition]) -> pd.DataFrame:
        """The data's rows in the segment ``where`` (all rows for the root)."""
        mask = pd.Series(True, index=self.raw.index)
        for dim, value in where:
            mask &= self.raw[dim] == value
        return self.raw[mask]

    def explain_where(self, where: Sequence[Condition], by: Sequence[str], *, base: str,
                      compare: str, method: str) -> Explanation:
        """:func:`kpitree.explain` on the rows of ``where`` by ``by`` (cached)."""
        if not where:
            return self.explain(base=base, compare=compare, by=by, method=method)
        key = ("where", tuple(where), tuple(by), base, compare, method)
        if key in self._cache:
            return self._cache[key]
        return self.remember(key, explain(self.tree, self.rows(where), base=base,
                                          compare=compare, by=by, method=method,
                                          period_column=self.period_column))

    def biggest_mover(self, where: Sequence[Condition], *, base: str, compare: str
                      ) -> tuple[str, list[dict[str, Any]]]:
        """The dimension the driver search ranks first inside ``where``, and its ranking."""
        used = {d for d, _ in where}
        candidates = [d for d in self.dimensions if d not in used]
        if not candidates:
            raise UsageError(f"{describe(where)} is already split by every dimension "
                             f"({listing(self.dimensions)}); there is nothing left to split by")
        found = drivers(self.tree, self.rows(where), base=base, compare=compare,
                        dims=candidates, depth=1, max_segments=1,
                        period_column=self.period_column)
        ranking = [{"dimension": str(r.dimension), "score": float(r.score)}
                   for r in found.ranking.itertuples(index=False)]
        return str(ranking[0]["dimension"]), ranking

    def drill(self, where: Sequence[Condition], by: str, *, base: object | None = None,
              compare: object | None = None, method: str = "shapley") -> Drill:
        """Split the node ``where`` by the dimension ``by`` (or :data:`AUTO`).

        Raises:
            DataError, MethodError, UsageError: a period not in the data, an unknown method,
                dimension or segment, a dimension already used on the path, or a node that is
                new or gone (its whole effect is mix: there is no change within it to split).
        """
        first, second = self.check_periods(base, compare)
        self.explain(base=first, compare=second, by=[], method=method)  # the method's checks
        conditions = self.check_where(where)
        node = self.node(conditions, base=first, compare=second, method=method)
        ranking: list[dict[str, Any]] = []
        if by == AUTO:
            by, ranking = self.biggest_mover(conditions, base=first, compare=second)
        self.check_dimension(by)
        if by in {d for d, _ in conditions}:
            raise UsageError(f"{describe(conditions)} is already split by {by}; choose another "
                             f"dimension ({listing([d for d in self.dimensions if d != by])})")
        split = self.explain_where(conditions, [by], base=first, compare=second, method=method)
        children = [child_of(row, by, node.factor) for row in
                    split.segments.itertuples(index=False)]
        drivers_of(split, children, node.factor)
        check_adds_up(pd.DataFrame({"value": [c["total"]["contribution"] for c in children]}),
                      node.rate, (node.rate, *(c["total"]["contribution"] for c in children)),
                      f"the children of {describe(conditions)}")
        return Drill(node, by, ranking, split, children)

    def node(self, where: Sequence[Condition], *, base: str, compare: str, method: str) -> Node:
        """A node's own numbers: its values, its change, and its contribution to the root's."""
        factor, mix, rate, status = 1.0, 0.0, 0.0, "both"
        for depth, (dim, value) in enumerate(where):
            parent = self.explain_where(where[:depth], [dim], base=base, compare=compare,
                                        method=method)
            row = next((r for r in parent.segments.itertuples(index=False)
                        if r.segment == {dim: value}), None)
            if row is None:
                raise UsageError(f"{describe(where[:depth + 1])} has no rows in {base} or "
                                 f"{compare}; choose other periods or another segment")
            status = str(row.status)
            if status != "both":
                raise UsageError(
                    f"{describe(where[:depth + 1])} is {'new' if status == 'entered' else 'gone'}"
                    f" in {compare if status == 'entered' else base}: its whole effect is mix, "
                    "so there is no change within it to split")
            local = self.explain_where(where[:depth + 1], [], base=base, compare=compare,
                                       method=method)
            mix, rate = factor * (row.mix + row.interaction), factor * row.rate
            mean_share = (row.base_share + row.compare_share) / 2
            factor = rate / local.delta if local.delta else factor * mean_share
        own = self.explain_where(where, [], base=base, compare=compare, method=method)
        if not where:
            rate = own.delta
        return Node(tuple(where), own, mix, rate, factor, status)


@dataclass(frozen=True)
class Node:
    """A node of the drill-down tree: its own explanation and its place in the root's change.

    ``mix`` and ``rate`` are its contribution to the root's change (the root: 0 and the
    change); ``factor`` turns its children's local effects into contributions.
    """

    where: tuple[Condition, ...]
    own: Explanation
    mix: float
    rate: float
    factor: float
    status: str

    @property
    def contribution(self) -> float:
        return self.mix + self.rate


@dataclass(frozen=True)
class Drill:
    """One node split by one dimension: the node, the split explanation, the children."""

    node: Node
    by: str
    ranking: list[dict[str, Any]]
    split: Explanation
    children: list[dict[str, Any]]


def _numeric_measure(column: pd.Series) -> bool:
    """Whether a column the tree does not name looks like a measure: numbers, many values."""
    numbers = pd.to_numeric(column, errors="coerce")
    return bool(numbers.notna().all()) and column.nunique() > MAX_NUMERIC_VALUES


def describe(where: Sequence[Condition]) -> str:
    """``tier=pro, region=EU`` (``the total`` for the root)."""
    return ", ".join(f"{d}={v}" for d, v in where) or "the total"


def child_of(row: Any, dim: str, factor: float) -> dict[str, Any]:
    """One child of a split: its shares and values, local effects and contribution."""
    local = {"mix": float(row.mix), "interaction": float(row.interaction),
             "rate": float(row.rate)}
    local["contribution"] = local["mix"] + local["interaction"] + local["rate"]
    total = {k: factor * v for k, v in local.items()}
    return {
        "value": str(row.segment[dim]), "status": str(row.status),
        "base": {"share": float(row.base_share), "value": _plain(row.base_value),
                 "weight": float(row.base_weight)},
        "compare": {"share": float(row.compare_share), "value": _plain(row.compare_value),
                    "weight": float(row.compare_weight)},
        "local": local, "total": total, "drillable": str(row.status) == "both",
    }


def drivers_of(split: Explanation, children: list[dict[str, Any]], factor: float) -> None:
    """Each child's rate effect by driver (a contribution, largest first)."""
    effects = split.effects[split.effects["kind"] == "rate"]
    dim = split.by[0]
    for child in children:
        rows = effects[effects[dim] == child["value"]]
        table = rows.groupby("label", sort=False)["value"].sum()
        child["drivers"] = [{"label": str(label), "value": factor * float(value)}
                            for label, value in table.sort_values(key=abs,
                                                                  ascending=False).items()]


def _plain(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return None if number != number else number
