"""Periods and time for raw events: which windows, which instants, which rows fall in each.

What belongs here: resolving the periods asked for (or every complete period the users table
covers) into :class:`~kpitree.core.definitions.PeriodWindow` values; the users table's month
column; whether event times carry a time zone, and the instant a window starts at in the tree's
zone; labelling rows with their period in one pass — a CASE for calendar periods; for
overlapping trailing windows a CASE over *slots* (the spans between window edges) and a join
with a small slot → window table, so a trend over twelve trailing windows still scans once.
What does not: the window arithmetic itself (``period_window`` and ``windows_between`` in
:mod:`kpitree.core.definitions`), or the naive-timestamp check (:mod:`kpitree.io.events.checks`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from kpitree.core.definitions import PeriodWindow, period_window, windows_between
from kpitree.core.errors import DataError, TreeError
from kpitree.core.periods import add_months
from kpitree.io.events.execute import execute
from kpitree.io.events.plan import Plan, event_column, user_column


def resolve_windows(plan: Plan, periods: Sequence[object] | None) -> list[PeriodWindow]:
    """The windows of the labels asked for, or every complete period of the users table.

    Raises:
        DataError: a label that does not fit ``data.period``, an empty users table, or one that
            covers no complete period.
    """
    definition = plan.definition
    if periods is not None:
        windows = []
        for label in periods:
            try:
                windows.append(period_window(definition.period, label))
            except TreeError as exc:
                raise DataError(str(exc)) from None
        return windows
    month = month_column(plan)
    bounds = execute(plan, plan.users.aggregate(lo=month.min(), hi=month.max()), "months")
    lo, hi = bounds["lo"].iloc[0], bounds["hi"].iloc[0]
    if pd.isna(lo):
        raise DataError(f"{plan.source.name}: the users table has no rows")
    lo, hi = pd.Timestamp(lo).date(), pd.Timestamp(hi).date()
    windows = windows_between(definition.period, lo, hi)
    if not windows:
        raise DataError(f"{plan.source.name}: the users table covers {lo:%Y-%m} … "
                        f"{hi:%Y-%m}, not one complete {definition.period.describe()}")
    return windows


def month_column(plan: Plan) -> Any:
    """The users table's month of each row, as a date (a timestamp is cast)."""
    name = plan.definition.users.month
    month = user_column(plan, name, "the month of each row")
    if month.type().is_date():
        return month
    if month.type().is_timestamp():
        return month.cast("date")
    raise DataError(f"{plan.source.name}: users.{name} holds "
                    f"{month.type()}, not dates; store the first day of each month")


def time_is_aware(plan: Plan) -> bool:
    """Whether the event time is an instant (has a time zone) rather than wall-clock time."""
    name = plan.definition.events.time
    column = event_column(plan, name, "the event time")
    dtype = column.type()
    if not dtype.is_timestamp():
        raise DataError(f"{plan.source.name}: events.{name} holds {dtype}, not "
                        "timestamps; store the event time as a timestamp")
    if plan.source.engine == "spark":
        # Spark's TIMESTAMP is an instant (shown in the session's UTC); _NTZ is naive.
        return plan.source.native_type(plan.events, name) != "TimestampNTZType"
    return dtype.timezone is not None


def instant(plan: Plan, day: dt.date, aware: bool) -> Any:
    """Midnight starting ``day`` in the tree's time zone (UTC), or as naive wall-clock time."""
    local = dt.datetime(day.year, day.month, day.day)
    if aware:
        zone = ZoneInfo(plan.definition.timezone)
        return plan.ibis.timestamp(local.replace(tzinfo=zone).astimezone(dt.timezone.utc))
    return plan.ibis.literal(local, type="timestamp")


def months_in(plan: Plan, month: Any, windows: list[PeriodWindow]) -> Any:
    """True for a month of the users table that lies in one of the windows."""
    test = None
    for w in windows:
        part = (month >= plan.ibis.date(w.first_month)) & \
            (month <= plan.ibis.date(w.last_month))
        test = part if test is None else test | part
    return test


def slot_edges(windows: list[PeriodWindow]) -> list[dt.date]:
    """The sorted starts and ends of the windows: consecutive edges bound one *slot*.

    Every window is a run of whole slots, so a row is labelled with its one slot in a single
    pass and the slot is then mapped to each window it lies in (:func:`slot_windows`).
    """
    return sorted({w.start for w in windows} | {w.end for w in windows})


def slot_windows(plan: Plan, windows: list[PeriodWindow], edges: list[dt.date],
                 key: str) -> Any:
    """A small table: slot index ``key`` → each label of a window holding that slot."""
    pairs = [(index, w.label) for index in range(len(edges) - 1) for w in windows
             if w.start <= edges[index] and edges[index + 1] <= w.end]
    frame = pd.DataFrame({key: [i for i, _ in pairs], "k_period": [label for _, label in pairs]})
    return plan.ibis.memtable(frame.astype({key: "int64"}))


def slotted(plan: Plan, table: Any, edges: list[dt.date],
            bounds: Callable[[dt.date, dt.date], Any], key: str) -> Any:
    """Rows labelled with their slot index ``key`` (one CASE, one pass); rows in none dropped."""
    ibis = plan.ibis
    slot = ibis.cases(*[(bounds(lo, hi), ibis.literal(i, type="int64"))
                        for i, (lo, hi) in enumerate(itertools.pairwise(edges))],
                      else_=ibis.null("int64"))
    return table.mutate(**{key: slot}).filter(lambda t: t[key].notnull())


def in_windows(plan: Plan, table: Any, windows: list[PeriodWindow], month: str) -> Any:
    """The users rows of ``table`` once per window whose months hold them (``k_period``).

    One pass over the users table and a join with a small month → window table, instead of one
    scan per window.
    """
    pairs = []
    for w in windows:
        day = w.first_month
        while day <= w.last_month:
            pairs.append((day, w.label))
            day = add_months(day, 1)
    frame = pd.DataFrame({"k_map_month": [d for d, _ in pairs],
                          "k_period": [label for _, label in pairs]})
    mapping = plan.ibis.memtable(frame, schema={"k_map_month": "date", "k_period": "string"})
    joined = table.join(mapping, table[month] == mapping.k_map_month)
    return joined.drop("k_map_month")


def labelled(plan: Plan, table: Any, windows: list[PeriodWindow],
             bounds: Callable[[PeriodWindow], Any]) -> Any:
    """Rows labelled with their period (a CASE for calendar periods, a union for windows).

    ``bounds(window)`` is the test that a row lies in ``window``; rows in no window are
    dropped, and with overlapping (trailing) windows a row appears once per window it lies in.
    """
    ibis = plan.ibis
    if not plan.definition.period.overlapping:
        label = ibis.cases(*[(bounds(w), w.label) for w in windows], else_=ibis.null("string"))
        return table.mutate(k_period=label).filter(lambda t: t.k_period.notnull())
    parts = [table.filter(bounds(w)).mutate(k_period=ibis.literal(w.label)) for w in windows]
    result = parts[0]
    for part in parts[1:]:
        result = result.union(part, distinct=False)
    return result
