"""Evaluating a tree on data: sums per period × segment, then every node as a ratio of sums.

What belongs here: aggregation (additive column nodes are summed over rows) and the vectorised
evaluation of formula nodes on those sums, with errors that name the node, the segment and the
period. What does not: attribution (see :mod:`kpitree.core.attribution`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from kpitree.core.data import DataSource, check_period, load_data
from kpitree.core.errors import DataError
from kpitree.core.expr import BinOp, ZeroDenominator, to_text
from kpitree.core.expr import evaluate as evaluate_expr
from kpitree.core.tree import Tree

Describe = Callable[[int], str]


def aggregate(
    frame: pd.DataFrame, tree: Tree, *, by: Sequence[str], period_column: str = "period"
) -> pd.DataFrame:
    """Sum every column node per period × segment (repeated rows are summed).

    ``frame`` is a checked frame from :func:`kpitree.core.data.load_data`. The result has one row
    per
    period × segment combination present, sorted by those keys.
    """
    keys = [period_column, *by]
    measures = list(tree.columns)
    return frame.groupby(keys, sort=True, observed=True)[measures].sum().reset_index()


def node_values(
    tree: Tree, sums: Mapping[str, np.ndarray], describe: Describe
) -> dict[str, np.ndarray]:
    """Evaluate every node element-wise from the sums of its column nodes.

    Raises:
        DataError: a non-zero number over zero, naming the node and ``describe(row)``.
    """
    values: dict[str, np.ndarray] = {}
    shape = np.shape(next(iter(sums.values()))) if sums else ()
    for name in tree.order:
        if name in tree.columns:
            values[name] = np.asarray(sums[name], dtype=float)
            continue
        try:
            # a constant node (the unit weight of a tree without one) has every group's shape
            with np.errstate(over="ignore"):  # an overflow is reported below, in one line
                values[name] = np.broadcast_to(evaluate_expr(tree.expressions[name], values),
                                               shape)
        except ZeroDenominator as exc:
            raise _zero_denominator_error(tree, name, exc, values, describe) from None
        overflow = np.isinf(values[name])
        if overflow.any():
            raise DataError(
                f"{tree.where(name)}: node '{name}' = {to_text(tree.expressions[name])} is too "
                f"large for a number (it overflows) in {describe(int(np.flatnonzero(overflow)[0]))}"
                "; rescale the data (e.g. revenue in thousands)")
    return values


def _zero_denominator_error(
    tree: Tree, name: str, exc: ZeroDenominator, values: Mapping[str, np.ndarray],
    describe: Describe,
) -> DataError:
    row = int(np.flatnonzero(exc.mask)[0])
    expr = exc.expr
    detail = ""
    if isinstance(expr, BinOp):
        numerator = np.broadcast_to(evaluate_expr(expr.left, values), exc.mask.shape)[row]
        detail = f" ({to_text(expr.left)} = {numerator:,.6g}, {to_text(expr.right)} = 0)"
    return DataError(
        f"{tree.where(name)}: node '{name}' = {to_text(tree.expressions[name])} divides a "
        f"non-zero number by zero{detail} in {describe(row)}; a segment with revenue needs "
        "users (check that row of the data)"
    )


def describe_rows(keys: pd.DataFrame) -> Describe:
    """Build a row describer like ``segment tier=pro, region=EU in period 2026-10``."""
    columns = list(keys.columns)

    def describe(row: int) -> str:
        record = keys.iloc[row]
        parts = [f"{c}={record[c]}" for c in columns if c != "__period__"]
        segment = f"segment {', '.join(parts)}" if parts else "the total"
        period = record["__period__"] if "__period__" in columns else None
        return f"{segment}, period {period}" if period is not None else segment

    return describe


def evaluate(
    tree: Tree,
    data: DataSource,
    *,
    by: Sequence[str] | None = None,
    periods: Sequence[object] | None = None,
    period_column: str = "period",
) -> pd.DataFrame:
    """Evaluate every node of ``tree`` for each period and segment.

    Args:
        tree: a loaded tree.
        data: a DataFrame, or the path of a CSV/Parquet file.
        by: segment dimensions (default: the tree's ``segments``; ``[]`` for totals only).
        periods: restrict to these periods (default: all).
        period_column: the name of the period column.

    Returns:
        A tidy DataFrame: the period, the segment dimensions, then one column per node.
        Undefined ratios (0/0) are NaN.

    Example:
        >>> values = evaluate(tree, "data/saas_monthly.csv", by=[])  # tree: trees/saas_arpu.yaml
        >>> values.loc[values["period"] == "2026-10", "arpu"].round(2).tolist()
        [55.43]
    """
    dims = list(tree.segments if by is None else by)
    frame = load_data(data, tree, by=dims, period_column=period_column)
    if periods is not None:
        name = data if not isinstance(data, pd.DataFrame) else "data"
        wanted = [check_period(frame, p, str(name), period_column) for p in periods]
        frame = frame[frame[period_column].isin(wanted)]
    sums = aggregate(frame, tree, by=dims, period_column=period_column)
    keys = sums[[period_column, *dims]].rename(columns={period_column: "__period__"})
    values = node_values(
        tree, {n: sums[n].to_numpy() for n in tree.columns}, describe_rows(keys)
    )
    result = sums[[period_column, *dims]].copy()
    for name in tree.order:
        result[name] = values[name]
    return result
