"""The one prepared-data type: column-node sums per period × finest segment.

What belongs here: :class:`Cells` — what every attribution, trend, scenario, driver search and
bootstrap starts from — and the ways to make one: from a checked table
(:func:`load_cells`, :func:`cells_from_sums`), from coded rows (:func:`kpitree.core.rows.
cells_from_rows`), or by hand (:meth:`Cells.two`); the argument checks every entry point shares
(:func:`check_options`, :func:`check_total_weights`). What does not: reading files
(:mod:`kpitree.core.data`), the maths (:mod:`kpitree.core.levels` and the modules after it).

A :class:`Cells` holds one row per finest segment (the combinations of the dimensions present in
any of its periods), sorted by the dimensions, and per period the sum of every column node
aligned with those rows (0 where a segment is absent). Sums, never means: every ratio is then a
ratio of sums.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from kpitree.core.data import DataSource, check_period, load_data, periods_in
from kpitree.core.errors import DataError, MethodError, did_you_mean
from kpitree.core.evaluate import aggregate, describe_rows, node_values
from kpitree.core.period_labels import roll_up as roll_up_frame
from kpitree.core.tree import Tree

METHODS = ("shapley", "sequential", "lmdi")

Sums = dict[str, np.ndarray]


@dataclass(frozen=True)
class Cells:
    """Column-node sums per finest segment, aligned across periods.

    Attributes:
        keys: one column per dimension, one row per segment (an empty frame with one row when
            there are no dimensions).
        periods: the periods, in order (``(base, compare)`` for an attribution).
        sums: per period, the sums of every column node aligned with ``keys``.
        source: the data's name, for messages.
        present: per period, whether each segment had rows in the data (None: all did);
            :meth:`select` keeps the segments present in one of the periods it selects.
    """

    keys: pd.DataFrame
    periods: tuple[str, ...]
    sums: tuple[Sums, ...]
    source: str = "data"
    present: tuple[np.ndarray, ...] | None = None
    # Rolled-up periods (``--period quarter``) that miss months: {period: missing months}.
    partial: Mapping[str, Sequence[str]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if len(self.periods) != len(self.sums):
            raise ValueError("Cells needs one set of sums per period")

    @classmethod
    def two(cls, keys: pd.DataFrame, base: Mapping[str, np.ndarray],
            compare: Mapping[str, np.ndarray], *, periods: tuple[str, str] = ("base", "compare"),
            source: str = "data") -> Cells:
        """Cells of two periods from aligned sums (the shape :func:`attribute` takes)."""
        return cls(keys, (str(periods[0]), str(periods[1])), (dict(base), dict(compare)), source)

    @property
    def base(self) -> Sums:
        """The first period's sums."""
        return self.sums[0]

    @property
    def compare(self) -> Sums:
        """The last period's sums."""
        return self.sums[-1]

    def of(self, period: str) -> Sums:
        """The sums of one period (by its label)."""
        return self.sums[self.periods.index(period)]

    def select(self, *periods: str, source: str | None = None) -> Cells:
        """Only ``periods`` (in that order; a period may repeat), and only the segments with
        data in one of them."""
        index = [self.periods.index(p) for p in periods]
        sums = [self.sums[i] for i in index]
        present = None
        if self.present is not None:
            present = tuple(self.present[i] for i in index)
            keep = np.logical_or.reduce(present)
            if not keep.all():
                sums = [{m: v[keep] for m, v in side.items()} for side in sums]
                present = tuple(p[keep] for p in present)
                keys = self.keys[keep].reset_index(drop=True)
                return Cells(keys, tuple(periods), tuple(sums),
                             self.source if source is None else source, present)
        return Cells(self.keys, tuple(periods), tuple(sums),
                     self.source if source is None else source, present)

    def check_period(self, period: object) -> str:
        """The period as it appears in these cells, or a :class:`DataError` listing them."""
        return check_period(pd.DataFrame({"period": list(self.periods)}), period, self.source,
                            "period")

    def values(self, tree: Tree, period: str | int) -> dict[str, np.ndarray]:
        """Every node of ``tree`` per segment in one period (its label, or its index)."""
        index = period if isinstance(period, int) else self.periods.index(period)
        label = self.periods[index]
        keys = self.keys.assign(__period__=label) if len(self.keys.columns) else \
            pd.DataFrame({"__period__": [label] * len(self.keys)})
        return node_values(tree, self.sums[index], describe_rows(keys))

    def grouped(self, dims: Sequence[str]) -> tuple[Cells, np.ndarray]:
        """The cells summed to the segments of ``dims`` (a prefix or subset of the dimensions).

        Returns the coarser cells (sorted by ``dims``) and, for each of these cells, the index
        of its coarser segment.
        """
        dims = list(dims)
        if not dims:
            codes = np.zeros(len(self.keys), dtype=np.int64)
            keys = pd.DataFrame(index=pd.RangeIndex(1))
        else:
            frame = self.keys[dims].reset_index(drop=True)
            codes = frame.groupby(dims, sort=True, observed=True).ngroup().to_numpy()
            keys = frame.drop_duplicates().sort_values(dims).reset_index(drop=True)
        size = len(keys)
        sums = tuple({m: np.bincount(codes, weights=v, minlength=size) for m, v in side.items()}
                     for side in self.sums)
        present = None if self.present is None else tuple(
            np.bincount(codes, weights=p, minlength=size) > 0 for p in self.present)
        return Cells(keys, self.periods, sums, self.source, present), codes


def canonical(cells: Cells, dims: Sequence[str]) -> Cells:
    """One row per segment of ``dims``, sorted (``cells`` itself when it already is)."""
    dims = list(dims)
    if not dims:
        if len(cells.keys) == 1 and not len(cells.keys.columns):
            return cells
        return cells.grouped([])[0]
    keys = cells.keys[dims].reset_index(drop=True)
    codes = keys.groupby(dims, sort=True, observed=True).ngroup().to_numpy()
    if np.array_equal(codes, np.arange(len(keys))) and list(cells.keys.columns) == dims:
        return cells
    return cells.grouped(dims)[0]


def cells_from_sums(
    sums: pd.DataFrame, tree: Tree, *, dims: Sequence[str], periods: Sequence[str],
    period_column: str = "period", source: str = "data",
) -> Cells:
    """:class:`Cells` of ``periods`` from :func:`kpitree.core.evaluate.aggregate` sums.

    The entry point for callers that attribute many pairs of one data set (trend, scenarios)
    without loading it again.
    """
    dims = list(dims)
    measures = list(tree.columns)
    chosen = sums[sums[period_column].isin(list(periods))]
    if dims:
        keys = chosen[dims].drop_duplicates().sort_values(dims).reset_index(drop=True)
    else:
        keys = pd.DataFrame(index=pd.RangeIndex(1))

    def side(period: str) -> tuple[Sums, np.ndarray]:
        rows = chosen[chosen[period_column] == period]
        if not dims:
            if rows.empty:
                return {m: np.zeros(1) for m in measures}, np.zeros(1, dtype=bool)
            return ({m: rows[m].to_numpy(dtype=float) for m in measures},
                    np.ones(1, dtype=bool))
        aligned = keys.merge(rows, on=dims, how="left", indicator=True)
        return ({m: aligned[m].fillna(0.0).to_numpy(dtype=float) for m in measures},
                (aligned["_merge"] == "both").to_numpy())

    periods = tuple(str(p) for p in periods)
    sides = [side(p) for p in periods]
    return Cells(keys, periods, tuple(s for s, _ in sides), source,
                 tuple(p for _, p in sides))


def load_cells(
    tree: Tree, data: DataSource, *, by: Sequence[str] | None = None, method: str = "shapley",
    period_column: str = "period", periods: Sequence[object] | None = None,
    roll_up: str | None = None, allow_partial: bool = False,
) -> Cells:
    """Load and check ``data`` once; sum every column node per period × finest segment.

    ``periods`` keeps only those (checked, in that order); by default every period in the
    data, sorted. ``roll_up`` (``quarter``/``year``) first relabels monthly rows by their
    quarter or year (:func:`kpitree.core.period_labels.roll_up`); a compared period missing
    months is refused unless ``allow_partial`` (with every period, the caller checks the ones
    it uses: :attr:`Cells.partial`).

    Raises:
        DataError, MethodError: as :func:`check_options` and :func:`kpitree.core.data.
            load_data`, and an unknown period (listing those present).
    """
    dims = check_options(tree, by=by, method=method, period_column=period_column)
    name = "data" if isinstance(data, pd.DataFrame) else str(data)
    frame = load_data(data, tree, by=dims, period_column=period_column)
    partial: dict[str, list[str]] = {}
    if roll_up is not None and roll_up != "month":
        frame, partial = roll_up_frame(
            frame, to=roll_up, period_column=period_column, name=name, periods=periods,
            allow_partial=allow_partial or periods is None)
    if periods is None:
        chosen = [str(p) for p in periods_in(frame, period_column)]
    else:
        chosen = [check_period(frame, p, name, period_column) for p in periods]
        frame = frame[frame[period_column].isin(chosen)]
    sums = aggregate(frame, tree, by=dims, period_column=period_column)
    cells = cells_from_sums(sums, tree, dims=dims, periods=chosen, period_column=period_column,
                            source=name)
    return replace(cells, partial=partial) if partial else cells


def check_options(
    tree: Tree, *, by: Sequence[str] | None, method: str, period_column: str
) -> list[str]:
    """Check the method and the segment dimensions; return the dimensions to use.

    Raises:
        MethodError: unknown method (with a suggestion).
        DataError: a dimension repeats or is the period column.
    """
    if method not in METHODS:
        raise MethodError(
            f"unknown method '{method}'.{did_you_mean(method, METHODS)} "
            f"Methods: {', '.join(METHODS)}"
        )
    dims = list(tree.segments if by is None else by)
    check_dims(dims, period_column)
    tree.check_segments(dims)
    return dims


def check_dims(dims: Sequence[str], period_column: str) -> None:
    """Raise :class:`DataError` when a dimension repeats or is the period column."""
    if len(set(dims)) != len(dims):
        raise DataError(f"segment dimensions repeat: {', '.join(dims)}")
    if period_column in dims:
        raise DataError(f"'{period_column}' is the period column; it cannot also be a segment")


def check_total_weights(
    tree: Tree, totals: Sequence[float], periods: Sequence[str], source: str
) -> None:
    """Raise :class:`DataError` when the total weight of a period is zero (root undefined)."""
    for period, total in zip(periods, totals, strict=True):
        if total <= 0:
            raise DataError(
                f"{source}: the total of '{tree.weight}' "
                f"(column '{tree.columns.get(tree.weight, '?')}') is zero in period "
                f"{period}; {tree.root} is undefined there: choose another period"
            )
