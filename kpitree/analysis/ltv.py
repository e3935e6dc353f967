"""Derived business metrics from the same tree: a next-period projection and LTV.

What belongs here: a naive next-period projection of the total ``T = W · A`` from a
:class:`~kpitree.analysis.trend.Trend`, and LTV = ARPU ÷ churn, with churn given or computed
from data. What does not: explaining a change of the total (:mod:`kpitree.analysis.totals`) or
of the root (:mod:`kpitree.core.attribution`).

* projection: ``W_next = W_last·(1 + g)`` with ``g = (W_last/W_first)^(1/n) − 1`` over the
  ``n`` steps of the window, ``A_next = A_last + (A_last − A_first)/n``,
  ``T_next = W_next·A_next``.
* LTV ``= A / c`` for a monthly churn rate ``c`` (expected lifetime ``1/c`` months), with
  ``c`` given, or computed from data as churned users in the period ÷ the weight of the
  previous period (a ratio of sums per segment).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kpitree.core.cells import load_cells
from kpitree.core.data import DataSource, read_table
from kpitree.core.errors import DataError, did_you_mean, listing

if TYPE_CHECKING:
    from kpitree.analysis.trend import Trend
    from kpitree.core.tree import Tree


# --- Projection ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Projection:
    """A naive next-period projection of the total (see :func:`project_next`)."""

    last_period: str
    window: tuple[str, str]
    steps: int
    weight_last: float
    weight_growth: float
    root_last: float
    root_step: float
    weight_next: float
    root_next: float
    total_last: float
    total_next: float
    formula: str


def project_next(trend: Trend, *, window: int | None = None) -> Projection:
    """Project the next period's total ``T = W·A`` from user growth and the root's trend.

    ``W_next = W_last·(1 + g)``, ``g = (W_last/W_first)^(1/n) − 1`` (compound growth per
    period over the last ``n`` steps); ``A_next = A_last + (A_last − A_first)/n`` (the mean
    change per period); ``T_next = W_next · A_next``. ``window`` is ``n`` (default: the whole
    trend). Naive by design: no seasonality, launches or churn model.
    """
    values = trend.values
    steps = len(values) - 1 if window is None else int(window)
    if not 1 <= steps <= len(values) - 1:
        raise DataError(f"window must be between 1 and {len(values) - 1} periods, got {window}")
    first, last = values.iloc[-1 - steps], values.iloc[-1]
    if first["weight"] <= 0:
        raise DataError(f"the total weight is zero in {first['period']}; growth is undefined")
    growth = (last["weight"] / first["weight"]) ** (1 / steps) - 1
    root_step = (last["value"] - first["value"]) / steps
    weight_next = last["weight"] * (1 + growth)
    root_next = last["value"] + root_step
    tree = trend.tree
    formula = (f"{tree.weight}_next = {tree.weight}_last × (1 + g), g = ({tree.weight}_last / "
               f"{tree.weight}_first)^(1/{steps}) − 1; {tree.root}_next = {tree.root}_last + "
               f"({tree.root}_last − {tree.root}_first)/{steps}; total_next = "
               f"{tree.weight}_next × {tree.root}_next ({first['period']} → {last['period']})")
    return Projection(
        last_period=str(last["period"]), window=(str(first["period"]), str(last["period"])),
        steps=steps, weight_last=float(last["weight"]), weight_growth=float(growth),
        root_last=float(last["value"]), root_step=float(root_step),
        weight_next=float(weight_next), root_next=float(root_next),
        total_last=float(last["weight"] * last["value"]),
        total_next=float(weight_next * root_next), formula=formula,
    )


# --- LTV ----------------------------------------------------------------------------------------

LTV_FORMULA = "LTV = ARPU / churn (monthly churn c; expected lifetime 1/c periods)"


def ltv(arpu: float, churn: float) -> float:
    """``arpu / churn``: lifetime value for a per-period churn rate in (0, 1].

    >>> ltv(50.0, 0.02)
    2500.0
    """
    _check_churn(churn, "churn")
    return float(arpu) / float(churn)


def _check_churn(churn: float, what: str) -> None:
    if not isinstance(churn, int | float) or isinstance(churn, bool) or not math.isfinite(churn):
        raise DataError(f"{what} must be a number between 0 and 1, got {churn!r}")
    if churn <= 0:
        raise DataError(f"{what} is {churn:g}: LTV = ARPU / churn needs a churn rate above 0 "
                        "(a churn of 0 means customers never leave: LTV is unbounded)")
    if churn > 1:
        raise DataError(f"{what} is {churn:g}: a churn rate is a fraction per period, at most 1 "
                        "(write 2 % as 0.02)")


def lifetime_value(
    tree: Tree,
    data: DataSource,
    *,
    period: object,
    churn: float | Mapping[str, float] | None = None,
    churned_column: str | None = None,
    by: Sequence[str] | None = None,
    period_column: str = "period",
) -> pd.DataFrame:
    """LTV = ARPU ÷ churn per segment of the outermost dimension and in total.

    Args:
        churn: one rate for all, or a rate per segment (``{"pro": 0.02, …}``); or None to
            compute it from ``churned_column``: churned in ``period`` ÷ the weight in the
            previous period (ratio of sums).

    Returns:
        Columns: the dimension (``"total"`` on the last row), ``arpu``, ``churn``,
        ``lifetime`` (1/churn periods), ``ltv``; ``attrs["formula"]`` states the formula.

    Raises:
        DataError: churn ≤ 0 or > 1, a segment without a churn rate, the churned column
            missing, no previous period to compute churn from.
    """
    cells = load_cells(tree, data, by=by, period_column=period_column)
    name = cells.check_period(period)
    dim = str(cells.keys.columns[0]) if len(cells.keys.columns) else None

    def per_segment(p: str) -> pd.DataFrame:
        chosen = cells.select(p)
        grouped = chosen.grouped([dim] if dim else [])[0]
        values = grouped.values(tree, p)
        total = chosen.grouped([])[0].values(tree, p)
        n = len(grouped.keys) if dim else 0
        labels = [*(grouped.keys[dim].astype(str) if dim else []), "total"]
        return pd.DataFrame({
            "segment": labels,
            "arpu": [*values[tree.root][:n], total[tree.root][0]],
            "weight": [*values[tree.weight][:n], total[tree.weight][0]],
        })

    table = per_segment(name)
    if churn is None:
        if churned_column is None:
            raise DataError("give churn= (a rate, or one per segment) or churned_column= (a "
                            "data column of churned users) to compute LTV")
        periods = list(cells.periods)
        index = periods.index(name)
        if index == 0:
            raise DataError(f"churn for {name} needs the previous period's "
                            f"'{tree.weight}', but {name} is the first period in the data")
        previous = per_segment(periods[index - 1]).set_index("segment")["weight"]
        churned = _churned(data, churned_column, name, dim, period_column)
        rates = []
        for segment in table["segment"]:
            lost = churned.sum() if segment == "total" else churned.get(segment, 0.0)
            before = previous.get(segment, 0.0)
            if before <= 0:
                raise DataError(f"churn of {dim}={segment} in {name}: no '{tree.weight}' in "
                                f"{periods[index - 1]} to divide by")
            rates.append(lost / before)
        table["churn"] = rates
    elif isinstance(churn, Mapping):
        missing = [s for s in table["segment"][:-1] if s not in churn]
        if missing:
            raise DataError(f"no churn rate for {dim} {listing(missing)}; give one per segment")
        rates = [float(churn[s]) for s in table["segment"][:-1]]
        weights = table["weight"].to_numpy()[:-1]
        # total churn: users lost over users, i.e. the weight-averaged rate
        rates.append(float(np.dot(rates, weights) / weights.sum()))
        table["churn"] = rates
    else:
        table["churn"] = float(churn)
    for segment, rate in zip(table["segment"], table["churn"], strict=True):
        _check_churn(float(rate), f"churn of {segment}")
    table["lifetime"] = 1.0 / table["churn"]
    table["ltv"] = table["arpu"] / table["churn"]
    table = table.rename(columns={"segment": dim or "segment"}).drop(columns="weight")
    table.attrs["formula"] = LTV_FORMULA
    return table


def _churned(data: DataSource, column: str, period: str, dim: str | None,
             period_column: str) -> pd.Series:
    frame, name, _ = read_table(data)
    if column not in frame.columns:
        raise DataError(f"{name}: no column '{column}' for churned users."
                        f"{did_you_mean(column, frame.columns)} Columns: {listing(frame.columns)}")
    rows = frame[frame[period_column].astype(str) == period]
    values = pd.to_numeric(rows[column], errors="coerce")
    if values.isna().any() or (values < 0).any():
        raise DataError(f"{name}: column '{column}' needs non-negative numbers in {period}")
    if dim is None:
        return pd.Series({"total": float(values.sum())})
    return values.groupby(rows[dim].astype(str)).sum()
