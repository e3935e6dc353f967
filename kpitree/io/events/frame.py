"""Back in Python: the query's small result as the aggregate :func:`kpitree.explain` takes.

What belongs here: :class:`Aggregate` (the frame, the same rows in exact cents, the definitions,
periods, currency and notes) and :func:`finish`, which turns the grouped rows of
:func:`kpitree.io.events.query.aggregation` into it — the errors only the aggregate shows
(events of users with no users row for their period, an empty segment value), the notes on
users outside the active filter and periods with no active users, and the one conversion from
integer cents to currency units (normalised to 30 days when the tree asks; :func:`in_units`,
which the bootstrap's replicate sums use too). What does not:
anything that runs on the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from kpitree.core.definitions import DataDefinition, PeriodWindow, is_money_measure
from kpitree.core.errors import DataError
from kpitree.io.events.plan import Plan


@dataclass(frozen=True)
class Aggregate:
    """The period × segment aggregate of raw events, with what was counted and what was not.

    Attributes:
        frame: ``period``, the segment dimensions, one column per measure the tree names —
            money in currency units (normalised to 30 days when the tree asks), counts as is.
            Feed it to :func:`kpitree.explain`.
        cents: the same rows with money in exact integer cents, before any normalisation.
        definition: the tree's ``data:`` definitions.
        periods: the periods aggregated.
        currency: the single currency of the counted events (None when not checked).
        notes: reported handling (revenue of inactive users left out, events outside every
            period, types present but not counted, …).
        engine: duckdb, postgres or spark.
        dims: the segment dimensions of ``frame`` and ``cents`` (the other columns beside
            ``period`` are the measures).
    """

    frame: pd.DataFrame = field(repr=False)
    cents: pd.DataFrame = field(repr=False)
    definition: DataDefinition
    periods: tuple[PeriodWindow, ...]
    currency: str | None
    notes: tuple[str, ...]
    engine: str
    dims: tuple[str, ...] = ()

    def describe(self) -> str:
        """The definitions and notes, for the output of every explanation."""
        lines = [f"Data: {self.definition.describe()}"]
        if self.currency:
            lines[0] += f"; currency {self.currency}"
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)

    def rolled_up(self, dims: Sequence[str]) -> Aggregate:
        """The same aggregate by fewer dimensions (``dims`` ⊆ this one's): the integer cents
        summed, then converted as :func:`finish` converts — equal to aggregating by ``dims``
        (the same rows, the same numbers to the last bit). So one pass over the events can
        serve two analyses by different dimensions (``kpitree report --drivers``).

        Raises:
            ValueError: a dimension this aggregate does not have, or a measure that does not add
                up over segments (``accounts``: distinct accounts).
        """
        measures = [c for c in self.cents.columns if c != "period" and c not in self.dims]
        kept = list(dims)
        missing = [d for d in kept if d not in self.dims]
        if missing:
            raise ValueError(f"the aggregate has no dimension {', '.join(missing)}")
        if "accounts" in measures:
            raise ValueError("distinct accounts do not add up over segments")
        cents = (self.cents.groupby(["period", *kept], sort=True, dropna=False)[measures]
                 .sum().reset_index())
        frame = _units(cents, measures, self.definition.per_30_days, self.periods)
        return replace(self, frame=frame, cents=cents, dims=tuple(kept))

    def to_dict(self) -> dict[str, Any]:
        """The ``data`` entry of ``kpitree explain --format json`` on a raw source."""
        return {"definitions": self.definition.describe(), "currency": self.currency,
                "engine": self.engine, "periods": [p.label for p in self.periods],
                "notes": list(self.notes)}


def finish(plan: Plan, frame: pd.DataFrame, windows: list[PeriodWindow], currency: str | None,
           notes: list[str]) -> Aggregate:
    """The :class:`Aggregate` of the grouped rows (``k_state`` active/inactive/orphan).

    Raises:
        DataError: events of users with no users row for their period, or an empty segment
            value among active users.
    """
    unit = currency or plan.tree.unit or ""
    _check_orphans(plan, frame[frame["k_state"] == "orphan"], unit)
    inactive = frame[frame["k_state"] == "inactive"]
    for period, rows in inactive.groupby("k_period", sort=True):
        cents = int(rows["m_revenue_all"].sum())
        notes.append(f"{period}: {int(rows['k_rows'].sum()):,} users outside the active "
                     f"filter, with {unit} {cents / 100:,.2f} revenue, are not counted")
    active = frame[frame["k_state"] == "active"].copy()
    dims = list(plan.dims)
    for dim in dims:
        empty = active[f"k_dim_{dim}"].isna()
        if empty.any():
            period = active.loc[empty, "k_period"].iloc[0]
            raise DataError(f"{plan.source.name}: the users table has an empty {dim} for "
                            f"{int(empty.sum())} segments of active users in {period}; "
                            "fill it in (e.g. 'unknown')")
    found = set(active["k_period"])
    for label in (w.label for w in windows):
        if label not in found:
            notes.append(f"{label}: no active users in this period")
    cents = pd.DataFrame({"period": active["k_period"].astype(str).to_numpy()})
    for dim in dims:
        cents[dim] = active[f"k_dim_{dim}"].astype(str).to_numpy()
    for measure in plan.measures:
        cents[measure] = active[f"m_{measure}"].astype("int64").to_numpy()
    cents = cents.sort_values(["period", *dims], kind="stable").reset_index(drop=True)
    return Aggregate(frame=in_units(plan, cents, windows), cents=cents,
                     definition=plan.definition, periods=tuple(windows), currency=currency,
                     notes=tuple(notes), engine=plan.source.engine, dims=tuple(dims))


def _check_orphans(plan: Plan, orphans: pd.DataFrame, unit: str) -> None:
    """Events whose user has no users row for the period cannot be placed in a segment."""
    if not len(orphans):
        return
    row = orphans.iloc[0]
    user = row["k_example_user"]
    if isinstance(user, float) and user.is_integer():
        user = int(user)
    cents = int(orphans["m_revenue_all"].sum())
    raise DataError(
        f"{plan.source.name}: events of users with no users row for their period — e.g. "
        f"{plan.definition.events.user} {user} in {row['k_period']} "
        f"({int(orphans['k_rows'].sum()):,} user-periods, {unit} {cents / 100:,.2f} "
        "counted revenue); add their users rows, or remove the events"
    )


def in_units(plan: Plan, cents: pd.DataFrame, windows: Sequence[PeriodWindow]) -> pd.DataFrame:
    """Money from integer cents to currency units (per 30 days when asked); counts as floats.

    ``cents`` has a ``period`` column and one column per measure of ``plan``; the other
    columns are kept as they are. The one conversion of every raw aggregate (the point
    aggregate here, the bootstrap's replicate sums in :mod:`kpitree.io.events.cells`).
    """
    return _units(cents, list(plan.measures), plan.definition.per_30_days, windows)


def _units(cents: pd.DataFrame, measures: Sequence[str], per_30_days: bool,
           windows: Sequence[PeriodWindow]) -> pd.DataFrame:
    frame = cents.copy()
    days = {w.label: w.days for w in windows}
    scale = frame["period"].map(lambda p: 30.0 / days[p]) if per_30_days else None
    for measure in measures:
        if is_money_measure(measure):
            values = cents[measure].astype(float) / 100.0
            frame[measure] = values * scale if scale is not None else values
        else:
            frame[measure] = cents[measure].astype(float)
    return frame
