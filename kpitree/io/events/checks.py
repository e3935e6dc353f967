"""The checks on raw events and users before anything is summed: each an error or a note.

What belongs here: naive timestamps near a period boundary (:func:`check_naive`); one profiling
scan of the events in the periods — missing times, users or amounts, negative amounts, unknown
kinds and statuses, revenue types present but not counted, mixed or missing currencies and a
currency that is not the tree's unit, and (in the same pass) the amounts' size and fractional
cents — then the duplicate event ids (:mod:`kpitree.io.events.ids`) (:func:`check_events`); a user
with two rows for one month (:func:`check_users`); events outside every period
(:func:`note_events_outside`). Every message names the source, the column and what to do.
What does not: the problems only the final aggregate shows (events of users with no users row,
an empty segment value — :mod:`kpitree.io.events.frame`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from kpitree.core.definitions import KINDS, STATUSES, PeriodWindow
from kpitree.core.errors import DataError, listing
from kpitree.io.events.execute import execute
from kpitree.io.events.ids import bitmap_extra, check_event_ids, repeats
from kpitree.io.events.plan import Plan, event_column, ones, user_column
from kpitree.io.events.types import amount_sums, check_amounts
from kpitree.io.events.windows import instant, month_column, months_in

# Naive timestamps are ambiguous by up to this much around a boundary (UTC−12 … UTC+14).
NAIVE_MARGIN = dt.timedelta(hours=14)


def check_naive(plan: Plan, windows: list[PeriodWindow], notes: list[str]) -> None:
    """Naive event times: ambiguous near a period boundary unless data.timezone says.

    Raises:
        DataError: events lie within :data:`NAIVE_MARGIN` of a boundary and no zone is stated.
    """
    definition, ibis = plan.definition, plan.ibis
    if definition.timezone_stated:
        notes.append(f"event times have no time zone; read as {definition.timezone} wall-clock "
                     "time (data.timezone)")
        return
    ts = plan.events[definition.events.time]
    near = None
    for boundary in sorted({w.start for w in windows} | {w.end for w in windows}):
        at = dt.datetime(boundary.year, boundary.month, boundary.day)
        test = (ts >= ibis.literal(at - NAIVE_MARGIN, type="timestamp")) & \
            (ts < ibis.literal(at + NAIVE_MARGIN, type="timestamp"))
        near = test if near is None else near | test
    count = int(execute(plan, plan.events.filter(near).aggregate(n=lambda t: t.count()),
                        "checking timestamps")["n"].iloc[0])
    if count:
        raise DataError(
            f"{plan.source.name}: events.{definition.events.time} has no time zone and {count:,} "
            "events lie within 14 hours of a period boundary, where the period depends on "
            "the zone; state it in the tree (data: {timezone: UTC}) or store TIMESTAMPTZ"
        )
    notes.append("event times have no time zone; no event lies within 14 hours of a period "
                 "boundary, so the periods do not depend on it (read as UTC)")


def check_events(plan: Plan, windows: list[PeriodWindow], in_range: Any, notes: list[str]
                 ) -> str | None:
    """One scan profiling the events in the periods: nulls, kinds, statuses, currencies, amounts.

    The same pass sums the absolute amounts and counts fractional cents
    (:func:`~kpitree.io.events.types.check_amounts`); the event ids are checked after it
    (:func:`~kpitree.io.events.ids.check_event_ids`).

    Returns the single currency of the counted events (None when ``data.events.currency`` is
    null), after appending the notes on types present but not counted.

    Raises:
        DataError: a missing column, no events at all, NULL times/users/amounts, negative
            amounts, unknown kinds or statuses, repeated event ids, mixed or missing
            currencies, or a currency that is not the tree's unit.
    """
    d, ibis = plan.definition.events, plan.ibis
    user = event_column(plan, d.user, "the user of each event")
    amount = event_column(plan, d.amount, "the amount")
    kind = event_column(plan, d.kind, "charge, refund or chargeback")
    status = event_column(plan, d.status, "paid or failed")
    etype = event_column(plan, d.type, "the revenue type")
    event_id = event_column(plan, d.id, "the event id")
    if d.discount is not None:
        event_column(plan, d.discount, "the discount; set data.events.discount: null if none")
    currency = (event_column(plan, d.currency, "set data.events.currency: null if none")
                if d.currency is not None else ibis.literal("", type="string"))
    ts = plan.events[d.time]
    # Only the periods' rows, by a plain range on the time column, so an engine skips the
    # other files and row groups. NULL times (in no period) are counted from the Parquet
    # files' statistics (no scan) when DuckDB reads files; elsewhere the same pass counts
    # them (a NULL test the engine can answer from its own statistics or an index).
    null_ts = plan.source.null_count("events", d.time)  # from Parquet footers when it can
    scoped = plan.events.filter(in_range)
    profiled = scoped if null_ts is not None else plan.events.filter(in_range | ts.isnull())
    keys = {"k_type": etype.cast("string"), "k_kind": kind.cast("string"),
            "k_status": status.cast("string"), "k_currency": currency.cast("string")}
    if null_ts is None:
        keys["k_null_ts"] = ts.isnull()
    profile = execute(
        plan,
        profiled.group_by(**keys).aggregate(
            n=lambda t: t.count(),
            null_user=ones(plan, user.isnull()).sum(),
            null_amount=ones(plan, amount.isnull()).sum(),
            negative=ones(plan, amount < 0).sum(),
            **amount_sums(plan, profiled),
        ),
        "profiling events",
    )
    if null_ts is None:
        timeless = profile["k_null_ts"].fillna(False).astype(bool)
        null_ts = int(profile.loc[timeless, "n"].sum())
        profile = profile[~timeless].drop(columns="k_null_ts").reset_index(drop=True)
    profile["null_ts"] = 0
    if len(profile):
        profile.loc[profile.index[0], "null_ts"] = int(null_ts)
    _check_profile(plan, profile)
    check_amounts(plan, profile)
    counted = _note_types(plan, profile, notes)
    lo = min(w.start for w in windows)
    hi = max(w.end for w in windows)
    check_event_ids(plan, scoped, event_id, (lo, hi))
    if d.currency is None:
        notes.append("currency not checked (data.events.currency is null)")
        return None
    return _single_currency(plan, counted)


def _check_profile(plan: Plan, profile: pd.DataFrame) -> None:
    """No events, NULLs, negative amounts, kinds and statuses outside the fixed vocabulary."""
    d, name = plan.definition.events, plan.source.name
    if profile.empty:
        raise DataError(f"{name}: no events in the periods asked for; check the periods and "
                        f"the events table ({d.table})")
    for column, what in (("null_ts", d.time), ("null_user", d.user),
                         ("null_amount", d.amount)):
        bad = int(profile[column].sum())
        if bad:
            raise DataError(f"{name}: {bad:,} events have no {what} (NULL); fill them in or "
                            "remove them — they cannot be placed in a period and segment")
    negative = int(profile["negative"].sum())
    if negative:
        raise DataError(f"{name}: {negative:,} events have a negative {d.amount}; amounts are "
                        "≥ 0 and refunds are rows of kind 'refund' or 'chargeback'")
    for column, allowed, what in (("k_kind", KINDS, d.kind), ("k_status", STATUSES, d.status)):
        values = set(profile[column].dropna()) - set(allowed)
        if values or profile[column].isna().any():
            shown = sorted(str(v) for v in values) + (["NULL"] if profile[column].isna().any()
                                                      else [])
            raise DataError(f"{name}: events.{what} holds {listing(shown)}; expected "
                            f"{listing(allowed)} (map your values to these)")


def _note_types(plan: Plan, profile: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Note the counted types with no events and the types present but not counted.

    Returns the profile rows of the counted types.
    """
    types = plan.definition.revenue.types
    counted = profile[profile["k_type"].isin(types)]
    present = set(profile["k_type"].dropna())
    missing = [t for t in types if t not in present]
    if missing:
        notes.append(f"no events of type {listing(missing)} in these periods")
    ignored = profile[~profile["k_type"].isin(types)]
    if len(ignored):
        shown = sorted(str(t) for t in ignored["k_type"].unique())
        notes.append(f"{int(ignored['n'].sum()):,} events of types {listing(shown)} are not "
                     "counted as revenue (data.revenue.types)")
    return counted


def _single_currency(plan: Plan, counted: pd.DataFrame) -> str:
    """The one currency of the counted events, which must match a currency-code tree unit."""
    column, name = plan.definition.events.currency, plan.source.name
    currencies = counted.groupby("k_currency", dropna=False)["n"].sum()
    if len(currencies) > 1:
        total = currencies.sum()
        parts = ", ".join(f"{'NULL' if pd.isna(c) else c} {n / total:.1%}"
                          for c, n in currencies.sort_values(ascending=False).items())
        raise DataError(f"{name}: events.{column} mixes currencies ({parts}); convert "
                        "the amounts to one currency first, or filter the events to one")
    code = None if currencies.empty else currencies.index[0]
    if code is None or pd.isna(code):
        raise DataError(f"{name}: events.{column} is empty (NULL); fill it in or set "
                        "data.events.currency: null")
    unit = plan.tree.unit
    if unit and len(unit) == 3 and unit.isalpha() and unit.isupper() and unit != code:
        raise DataError(f"{name}: the events are in {code} but the tree's unit is {unit}; "
                        "change 'unit' in the tree or convert the amounts")
    return str(code)


def check_users(plan: Plan, windows: list[PeriodWindow]) -> None:
    """One row per user and month: a second row is a user in two plans at once.

    Exact and, on Parquet files read by DuckDB, one bitmap per month over the user ids
    (:func:`~kpitree.io.events.ids.bitmap_extra`); the grouping runs only to show a repeat, or
    where a bitmap cannot be used.

    Raises:
        DataError: a user with two rows in one month, with an example and its segment values.
    """
    d, ibis = plan.definition.users, plan.ibis
    uid = user_column(plan, d.id, "the user id")
    month = month_column(plan)
    scoped = plan.users.filter(months_in(plan, month, windows))
    dims = [c for c in plan.dims if c != "cohort" and c in plan.user_columns]
    keyed = scoped.select(k_user=uid, k_month=month)
    span = (min(w.first_month for w in windows), max(w.end for w in windows))
    months = len({i for w in windows for i in range(_month_index(w.first_month),
                                                   _month_index(w.last_month) + 1)})
    if bitmap_extra(plan, keyed, "k_user", role="users", column=d.id, time=d.month, span=span,
                    by="k_month", groups=months) == 0:
        return  # one bit per user and month, none set twice: no grouping needed
    repeated = repeats(
        plan, keyed,
        keys={"k_user": "k_user", "k_month": "k_month"}, order=["k_month", "k_user"],
        stages=("checking users", "finding a repeated user"))
    if repeated is None:
        return
    extra, row = repeated
    detail = ""
    if dims:
        values = execute(
            plan,
            scoped.filter((uid == ibis.literal(row["k_user"])) &
                          (month == ibis.literal(pd.Timestamp(row["k_month"]).date())))
            .select(*[plan.users[c].cast("string").name(c) for c in dims]),
            "finding a repeated user")
        detail = " (" + "; ".join(
            f"{c} {', '.join(sorted(set(values[c].astype(str))))}" for c in dims) + ")"
    raise DataError(
        f"{plan.source.name}: {extra:,} users have more than one row for the same month — e.g. "
        f"{d.id} {row['k_user']} in {pd.Timestamp(row['k_month']):%Y-%m}{detail}; keep one "
        "row per user and month (the plan at month end)"
    )


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def note_events_outside(plan: Plan, windows: list[PeriodWindow], aware: bool,
                        notes: list[str]) -> None:
    """Note the events before the first or after the last period (when every period is asked)."""
    ts = plan.events[plan.definition.events.time]
    lo = instant(plan, min(w.start for w in windows), aware)
    hi = instant(plan, max(w.end for w in windows), aware)
    outside = execute(plan, plan.events.filter((ts < lo) | (ts >= hi))
                      .aggregate(n=lambda t: t.count()),
                      "events outside every period")["n"].iloc[0]
    if int(outside):
        notes.append(f"{int(outside):,} events fall outside every period of the users "
                     f"table ({windows[0].label} … {windows[-1].label}) and are not "
                     "counted")
