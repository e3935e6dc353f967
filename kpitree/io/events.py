"""From raw events to the period × segment aggregate: one ibis query for every engine.

What belongs here: :func:`aggregate`, which applies a tree's ``data:`` definitions (active and
paying users, counted revenue, periods, segments) where the data lives — DuckDB, PostgreSQL or
Spark, the same ibis expression compiled for each — and brings back only the small aggregate
that :func:`kpitree.explain` takes; the checks on bad input (unknown table or column, a user
twice in one month, events of users with no row for their period, mixed currencies, naive
timestamps near a period boundary, duplicate event ids), each an error or a reported note; and
the progress callback on long scans. What does not: opening sources (:mod:`kpitree.io.sources`) or
the attribution maths (:mod:`kpitree.core.attribution`).

Money is summed in integer cents (BIGINT) on every engine, so the aggregates are identical to
the cent; the conversion to currency units (and the 30-day normalisation) happens once, here, in
Python, on those integers.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from kpitree.core.definitions import (
    KINDS,
    MONEY_NAMES,
    STATUSES,
    BoolOp,
    Compare,
    CondExpr,
    Condition,
    DataDefinition,
    Name,
    Not,
    PeriodWindow,
    is_money_measure,
    money_literal_cents,
    period_window,
    windows_between,
)
from kpitree.core.errors import DataError, TreeError, did_you_mean, listing
from kpitree.core.tree import Tree

Progress = Callable[[str, float | None], None]
# Naive timestamps are ambiguous by up to this much around a boundary (UTC−12 … UTC+14).
NAIVE_MARGIN = dt.timedelta(hours=14)


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
    """

    frame: pd.DataFrame = field(repr=False)
    cents: pd.DataFrame = field(repr=False)
    definition: DataDefinition
    periods: tuple[PeriodWindow, ...]
    currency: str | None
    notes: tuple[str, ...]
    engine: str

    def describe(self) -> str:
        """The definitions and notes, for the output of every explanation."""
        lines = [f"Data: {self.definition.describe()}"]
        if self.currency:
            lines[0] += f"; currency {self.currency}"
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"definitions": self.definition.describe(), "currency": self.currency,
                "engine": self.engine, "periods": [p.label for p in self.periods],
                "notes": list(self.notes)}


def aggregate(
    tree: Tree,
    source: Any,
    *,
    periods: Sequence[object] | None = None,
    by: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Aggregate:
    """Aggregate a raw source into what ``tree`` needs, per period × segment.

    Args:
        tree: a tree with a ``data:`` section (see :mod:`kpitree.core.definitions`).
        source: an open source (:func:`kpitree.io.sources.connect`).
        periods: the period labels wanted (e.g. ``["2026-09", "2026-10"]``); default: every
            complete period covered by the users table.
        by: segment dimensions (default: the tree's ``segments``); columns of the users table,
            or ``cohort`` (the signup month).
        progress: called with a stage name and a fraction in [0, 1] (or None when unknown).

    Raises:
        DataError: bad input, naming the table, column, period or value and what to do.
        TreeError: the tree has no ``data:`` section or names a measure that does not exist.

    Example:
        >>> from kpitree.io.sources import connect  # doctest: +SKIP
        >>> agg = aggregate(tree, connect("out/gen"), periods=["2026-09", "2026-10"])
        >>> result = kpitree.explain(tree, agg.frame, base="2026-09", compare="2026-10")
    """
    definition = tree.spec.data
    if definition is None:
        raise TreeError(f"{tree.spec.source}: the tree has no 'data:' section, so it cannot read "
                        "raw events; add one (see trees/arpu_blended.yaml) or pass the "
                        "aggregated period × segment table instead")
    plan = _Plan(tree, definition, source, list(tree.segments if by is None else by), progress)
    return plan.run(periods)


class _Plan:
    """One aggregation: resolves names, builds the ibis expressions, runs checks and query."""

    def __init__(self, tree: Tree, definition: DataDefinition, source: Any, dims: list[str],
                 progress: Progress | None) -> None:
        import ibis

        self.ibis = ibis
        self.tree, self.d, self.source, self.dims = tree, definition, source, dims
        self.progress = progress
        vocabulary = definition.measures()
        self.measures: dict[str, str] = {}  # data column → node (for messages)
        for node, column in tree.columns.items():
            if column not in vocabulary:
                raise TreeError(
                    f"{tree.where(node)}: node '{node}' sums column '{column}', which raw events "
                    f"do not provide.{did_you_mean(column, vocabulary)} Measures: "
                    f"{listing(vocabulary, limit=30)}"
                )
            self.measures[column] = node
        self.users = source.table("users", definition.users.table)
        self.events = source.table("events", definition.events.table)
        self.user_columns = list(self.users.columns)
        self.event_columns = list(self.events.columns)

    # -- names and columns ------------------------------------------------------------------

    def _user_col(self, column: str, role: str) -> Any:
        if column not in self.user_columns:
            raise DataError(
                f"{self.source.name}: the users table has no column '{column}' ({role})."
                f"{did_you_mean(column, self.user_columns)} Columns: {listing(self.user_columns)}"
                f" (set data.users in {self.d.where()})"
            )
        return self.users[column]

    def _event_col(self, column: str | None, role: str) -> Any:
        if column is None or column not in self.event_columns:
            raise DataError(
                f"{self.source.name}: the events table has no column '{column}' ({role})."
                f"{did_you_mean(str(column), self.event_columns)} Columns: "
                f"{listing(self.event_columns)} (set data.events in {self.d.where()})"
            )
        return self.events[column]

    def _ones(self, test: Any) -> Any:
        """1 where ``test`` holds, else 0, as BIGINT (PostgreSQL cannot cast boolean to it)."""
        ibis = self.ibis
        return ibis.ifelse(test, ibis.literal(1, type="int64"), ibis.literal(0, type="int64"))

    def _say(self, stage: str, fraction: float | None) -> None:
        if self.progress is not None:
            self.progress(stage, fraction)

    def _execute(self, expr: Any, stage: str) -> pd.DataFrame:
        """Run one query, reporting progress (DuckDB reports how far its scan is)."""
        self._say(stage, 0.0)
        backend = self.source.backend
        if self.source.engine != "duckdb" or self.progress is None:
            frame = backend.execute(expr)
            self._say(stage, 1.0)
            return frame
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["frame"] = backend.execute(expr)
            except BaseException as exc:  # re-raised in the caller's thread
                outcome["error"] = exc

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.25)
            try:
                done = backend.con.query_progress()
            except Exception:  # progress is best effort
                done = -1
            if done is not None and done >= 0:
                self._say(stage, min(float(done) / 100.0, 1.0))
        if "error" in outcome:
            raise outcome["error"]
        self._say(stage, 1.0)
        return outcome["frame"]

    # -- periods and time -------------------------------------------------------------------

    def _windows(self, periods: Sequence[object] | None) -> list[PeriodWindow]:
        if periods is not None:
            windows = []
            for label in periods:
                try:
                    windows.append(period_window(self.d.period, label))
                except TreeError as exc:
                    raise DataError(str(exc)) from None
            return windows
        month = self._month_expr()
        bounds = self._execute(self.users.aggregate(lo=month.min(), hi=month.max()), "months")
        lo, hi = bounds["lo"].iloc[0], bounds["hi"].iloc[0]
        if pd.isna(lo):
            raise DataError(f"{self.source.name}: the users table has no rows")
        lo, hi = pd.Timestamp(lo).date(), pd.Timestamp(hi).date()
        windows = windows_between(self.d.period, lo, hi)
        if not windows:
            raise DataError(f"{self.source.name}: the users table covers {lo:%Y-%m} … "
                            f"{hi:%Y-%m}, not one complete {self.d.period.describe()}")
        return windows

    def _month_expr(self) -> Any:
        month = self._user_col(self.d.users.month, "the month of each row")
        if month.type().is_date():
            return month
        if month.type().is_timestamp():
            return month.cast("date")
        raise DataError(f"{self.source.name}: users.{self.d.users.month} holds "
                        f"{month.type()}, not dates; store the first day of each month")

    def _time_is_aware(self) -> bool:
        column = self._event_col(self.d.events.time, "the event time")
        dtype = column.type()
        if not dtype.is_timestamp():
            raise DataError(f"{self.source.name}: events.{self.d.events.time} holds {dtype}, not "
                            "timestamps; store the event time as a timestamp")
        if self.source.engine == "spark":
            # Spark's TIMESTAMP is an instant (shown in the session's UTC); _NTZ is naive.
            return self.source.native_type(self.events, self.d.events.time) != "TimestampNTZType"
        return dtype.timezone is not None

    def _instant(self, day: dt.date, aware: bool) -> Any:
        local = dt.datetime(day.year, day.month, day.day)
        if aware:
            utc = local.replace(tzinfo=ZoneInfo(self.d.timezone)).astimezone(dt.timezone.utc)
            return self.ibis.timestamp(utc)
        return self.ibis.literal(local, type="timestamp")

    # -- the run ----------------------------------------------------------------------------

    def run(self, periods: Sequence[object] | None) -> Aggregate:
        d = self.d
        windows = self._windows(periods)
        all_periods = periods is None
        aware = self._time_is_aware()
        notes: list[str] = []
        ts = self.events[d.events.time]
        lo = min(w.start for w in windows)
        hi = max(w.end for w in windows)
        in_range = (ts >= self._instant(lo, aware)) & (ts < self._instant(hi, aware))
        if not aware:
            self._check_naive(windows, notes)
        currency = self._check_events(in_range, notes)
        self._check_users(windows)
        if all_periods:
            outside = self._execute(
                self.events.filter((ts < self._instant(lo, aware)) |
                                   (ts >= self._instant(hi, aware)))
                .aggregate(n=lambda t: t.count()),
                "events outside every period")["n"].iloc[0]
            if int(outside):
                notes.append(f"{int(outside):,} events fall outside every period of the users "
                             f"table ({windows[0].label} … {windows[-1].label}) and are not "
                             "counted")
        frame = self._execute(self._query(windows, in_range, aware), "aggregating events")
        return self._finish(frame, windows, currency, notes)

    def _check_naive(self, windows: list[PeriodWindow], notes: list[str]) -> None:
        """Naive event times: ambiguous near a period boundary unless data.timezone says."""
        if self.d.timezone_stated:
            notes.append(f"event times have no time zone; read as {self.d.timezone} wall-clock "
                         "time (data.timezone)")
            return
        ts = self.events[self.d.events.time]
        near = None
        for boundary in sorted({w.start for w in windows} | {w.end for w in windows}):
            at = dt.datetime(boundary.year, boundary.month, boundary.day)
            test = (ts >= self.ibis.literal(at - NAIVE_MARGIN, type="timestamp")) & \
                (ts < self.ibis.literal(at + NAIVE_MARGIN, type="timestamp"))
            near = test if near is None else near | test
        count = int(self._execute(self.events.filter(near).aggregate(n=lambda t: t.count()),
                                  "checking timestamps")["n"].iloc[0])
        if count:
            raise DataError(
                f"{self.source.name}: events.{self.d.events.time} has no time zone and {count:,} "
                "events lie within 14 hours of a period boundary, where the period depends on "
                "the zone; state it in the tree (data: {timezone: UTC}) or store TIMESTAMPTZ"
            )
        notes.append("event times have no time zone; no event lies within 14 hours of a period "
                     "boundary, so the periods do not depend on it (read as UTC)")

    def _check_events(self, in_range: Any, notes: list[str]) -> str | None:
        """One scan profiling the events in the periods: nulls, kinds, statuses, currencies."""
        d, ev = self.d.events, self.events
        ibis = self.ibis
        user = self._event_col(d.user, "the user of each event")
        amount = self._event_col(d.amount, "the amount")
        kind = self._event_col(d.kind, "charge, refund or chargeback")
        status = self._event_col(d.status, "paid or failed")
        etype = self._event_col(d.type, "the revenue type")
        event_id = self._event_col(d.id, "the event id")
        if d.discount is not None:
            self._event_col(d.discount, "the discount; set data.events.discount: null if none")
        currency = (self._event_col(d.currency, "set data.events.currency: null if none")
                    if d.currency is not None else ibis.literal("", type="string"))
        ts = ev[d.time]
        scoped = ev.filter(in_range | ts.isnull())
        profile = self._execute(
            scoped.group_by(
                k_type=etype.cast("string"), k_kind=kind.cast("string"),
                k_status=status.cast("string"), k_currency=currency.cast("string"),
            ).aggregate(
                n=lambda t: t.count(),
                null_ts=self._ones(ts.isnull()).sum(),
                null_user=self._ones(user.isnull()).sum(),
                null_amount=self._ones(amount.isnull()).sum(),
                negative=self._ones(amount < 0).sum(),
            ),
            "profiling events",
        )
        name = self.source.name
        if profile.empty:
            raise DataError(f"{name}: no events in the periods asked for; check the periods and "
                            f"the events table ({self.d.events.table})")
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
        counted = profile[profile["k_type"].isin(self.d.revenue.types)]
        present = set(profile["k_type"].dropna())
        missing = [t for t in self.d.revenue.types if t not in present]
        if missing:
            notes.append(f"no events of type {listing(missing)} in these periods")
        ignored = profile[~profile["k_type"].isin(self.d.revenue.types)]
        if len(ignored):
            types = sorted(str(t) for t in ignored["k_type"].unique())
            notes.append(f"{int(ignored['n'].sum()):,} events of types {listing(types)} are not "
                         "counted as revenue (data.revenue.types)")
        duplicates = self._execute(
            scoped.aggregate(n=lambda t: t.count(), distinct=event_id.nunique()),
            "checking event ids")
        extra = int(duplicates["n"].iloc[0]) - int(duplicates["distinct"].iloc[0])
        if extra:
            example = self._execute(
                scoped.group_by(k_id=event_id).aggregate(n=lambda t: t.count())
                .filter(lambda t: t.n > 1).order_by("k_id").limit(1), "finding a duplicate")
            first = example.iloc[0]
            raise DataError(
                f"{name}: {extra:,} events repeat an event id ({d.id} {first['k_id']} appears "
                f"{int(first['n'])} times); de-duplicate the event log — kpitree does not guess "
                "which copy counts"
            )
        if d.currency is None:
            notes.append("currency not checked (data.events.currency is null)")
            return None
        currencies = counted.groupby("k_currency", dropna=False)["n"].sum()
        if len(currencies) > 1:
            total = currencies.sum()
            parts = ", ".join(f"{'NULL' if pd.isna(c) else c} {n / total:.1%}"
                              for c, n in currencies.sort_values(ascending=False).items())
            raise DataError(f"{name}: events.{d.currency} mixes currencies ({parts}); convert "
                            "the amounts to one currency first, or filter the events to one")
        code = None if currencies.empty else currencies.index[0]
        if code is None or pd.isna(code):
            raise DataError(f"{name}: events.{d.currency} is empty (NULL); fill it in or set "
                            "data.events.currency: null")
        unit = self.tree.unit
        if unit and len(unit) == 3 and unit.isalpha() and unit.isupper() and unit != code:
            raise DataError(f"{name}: the events are in {code} but the tree's unit is {unit}; "
                            "change 'unit' in the tree or convert the amounts")
        return str(code)

    def _check_users(self, windows: list[PeriodWindow]) -> None:
        """One row per user and month: a second row is a user in two plans at once."""
        d = self.d.users
        uid = self._user_col(d.id, "the user id")
        month = self._month_expr()
        scoped = self.users.filter(self._month_in(month, windows))
        dims = [c for c in self.dims if c != "cohort" and c in self.user_columns]
        counts = self._execute(
            scoped.aggregate(n=lambda t: t.count(),
                             distinct=(uid.cast("string") + "|" + month.cast("string")).nunique()),
            "checking users")
        extra = int(counts["n"].iloc[0]) - int(counts["distinct"].iloc[0])
        if not extra:
            return
        example = self._execute(
            scoped.group_by(k_user=uid, k_month=month).aggregate(n=lambda t: t.count())
            .filter(lambda t: t.n > 1).order_by(["k_month", "k_user"]).limit(1),
            "finding a repeated user")
        row = example.iloc[0]
        detail = ""
        if dims:
            values = self._execute(
                scoped.filter((uid == self.ibis.literal(row["k_user"])) &
                              (month == self.ibis.literal(pd.Timestamp(row["k_month"]).date())))
                .select(*[self.users[c].cast("string").name(c) for c in dims]),
                "finding a repeated user")
            detail = " (" + "; ".join(
                f"{c} {', '.join(sorted(set(values[c].astype(str))))}" for c in dims) + ")"
        raise DataError(
            f"{self.source.name}: {extra:,} users have more than one row for the same month — e.g. "
            f"{d.id} {row['k_user']} in {pd.Timestamp(row['k_month']):%Y-%m}{detail}; keep one "
            "row per user and month (the plan at month end)"
        )

    def _month_in(self, month: Any, windows: list[PeriodWindow]) -> Any:
        test = None
        for w in windows:
            part = (month >= self.ibis.date(w.first_month)) & \
                (month <= self.ibis.date(w.last_month))
            test = part if test is None else test | part
        return test

    # -- the aggregation --------------------------------------------------------------------

    def _needs(self) -> set[str]:
        names = set(self.measures)
        for condition in (self.d.active, self.d.paying):
            if condition is not None:
                names |= condition.names()
        return names

    def _labelled(self, table: Any, month_or_ts: Any, windows: list[PeriodWindow],
                  bounds: Callable[[PeriodWindow], Any]) -> Any:
        """Rows labelled with their period (a CASE for calendar periods, a union for windows)."""
        ibis = self.ibis
        if not self.d.period.overlapping:
            label = ibis.cases(*[(bounds(w), w.label) for w in windows],
                               else_=ibis.null("string"))
            return table.mutate(k_period=label).filter(lambda t: t.k_period.notnull())
        parts = [table.filter(bounds(w)).mutate(k_period=ibis.literal(w.label)) for w in windows]
        result = parts[0]
        for part in parts[1:]:
            result = result.union(part, distinct=False)
        return result

    def _event_table(self, windows: list[PeriodWindow], in_range: Any, aware: bool) -> Any:
        """Per user and period: counted revenue in cents and the other event measures."""
        d, rev, ibis = self.d.events, self.d.revenue, self.ibis
        ev = self.events.filter(in_range)
        amount = ev[d.amount]
        if d.amount_unit == "units":
            amount = (amount * 100).round().cast("int64")
        else:
            amount = amount.cast("int64")
        discount = (ev[d.discount].fill_null(0).cast("int64") if d.discount is not None
                    else ibis.literal(0, type="int64"))
        if d.discount is not None and d.amount_unit == "units":
            discount = (ev[d.discount].fill_null(0) * 100).round().cast("int64")
        etype = ev[d.type].cast("string")
        kind = ev[d.kind].cast("string")
        status = ev[d.status].cast("string")
        counted = etype.isin(list(rev.types))
        charge = (kind == "charge") & counted
        reversal = kind.isin(["refund", "chargeback"]) & counted
        zero = ibis.literal(0, type="int64")
        value = amount + discount if rev.discounts == "gross" else amount
        billed_charge = ibis.ifelse(charge, value, zero)
        paid_charge = ibis.ifelse(charge & (status == "paid"), value, zero)
        back = ibis.ifelse(reversal, amount, zero) if rev.refunds == "net" else zero
        billed = billed_charge - back
        collected = paid_charge - back
        revenue = collected if rev.basis == "collected" else billed
        in_basis = charge if rev.basis == "billed" else charge & (status == "paid")
        columns: dict[str, Any] = {
            "k_user": ev[d.user], "k_rev": revenue, "k_billed": billed,
            "k_collected": collected, "k_refunds": ibis.ifelse(reversal, amount, zero),
            "k_discounts": ibis.ifelse(in_basis, discount, zero),
            "k_events": self._ones(in_basis),
        }
        for t in rev.types:
            columns[f"k_rev_{t}"] = ibis.ifelse(etype == t, revenue, zero)
        ts = ev[d.time]
        slim = ev.select(k_ts=ts, **columns)
        labelled = self._labelled(
            slim, slim.k_ts, windows,
            lambda w: (slim.k_ts >= self._instant(w.start, aware)) &
            (slim.k_ts < self._instant(w.end, aware)))
        sums = {c: labelled[c].sum().cast("int64") for c in columns if c != "k_user"}
        return labelled.group_by(["k_user", "k_period"]).aggregate(**sums)

    def _user_table(self, windows: list[PeriodWindow]) -> Any:
        """Per user and period: the row at period end, with `sum:` columns summed."""
        d, ibis = self.d.users, self.ibis
        needs = self._needs()
        month = self._month_expr()
        columns: dict[str, Any] = {"k_uid": self._user_col(d.id, "the user id"), "k_month": month}
        for dim in self.dims:
            if dim == "cohort":
                signup = self._user_col(d.signup, "the signup date, for the cohort")
                columns["k_dim_cohort"] = signup.cast("date").cast("string").substr(0, 7)
            else:
                columns[f"k_dim_{dim}"] = self._user_col(dim, "a segment dimension").cast("string")
        if "accounts" in needs:
            columns["k_account"] = self._user_col(d.account, "the account, for accounts")
        if "seats" in needs:
            columns["k_seats"] = self._user_col(d.seats, "seats").cast("int64")
        if needs & {"new_users", "new_revenue", "new"}:
            columns["k_signup"] = self._user_col(d.signup, "the signup date").cast("date")
        condition_columns = sorted(n for n in needs if n in self.user_columns)
        for column in condition_columns:
            columns[f"k_col_{column}"] = self.users[column]
        scoped = self.users.filter(self._month_in(month, windows)).select(**columns)
        labelled = self._labelled(
            scoped, scoped.k_month, windows,
            lambda w: (scoped.k_month >= ibis.date(w.first_month)) &
            (scoped.k_month <= ibis.date(w.last_month)))
        if self.d.period.kind == "month":
            return labelled
        summed = [f"k_col_{c}" for c in condition_columns if c in d.sum]
        last = labelled.group_by(["k_uid", "k_period"]).aggregate(
            k_last=labelled.k_month.max(),
            **{f"{c}__sum": labelled[c].sum() for c in summed})
        joined = last.join(labelled, [last.k_uid == labelled.k_uid,
                                      last.k_period == labelled.k_period,
                                      last.k_last == labelled.k_month])
        keep = [c for c in labelled.columns if c not in summed]
        return joined.select(*[joined[c] if c not in ("k_uid", "k_period") else last[c]
                               for c in keep],
                             **{c: joined[f"{c}__sum"] for c in summed})

    def _query(self, windows: list[PeriodWindow], in_range: Any, aware: bool) -> Any:
        ibis = self.ibis
        events = self._event_table(windows, in_range, aware).rename(k_euser="k_user",
                                                                     k_eperiod="k_period")
        users = self._user_table(windows)
        joined = users.outer_join(events, [users.k_uid == events.k_euser,
                                           users.k_period == events.k_eperiod])
        zero = ibis.literal(0, type="int64")
        money = {c: joined[c].fill_null(zero) for c in events.columns
                 if c not in ("k_euser", "k_eperiod")}
        period = joined.k_period.fill_null(joined.k_eperiod)
        orphan = joined.k_uid.isnull()
        new = None
        if "k_signup" in users.columns:
            new = ibis.cases(*[((period == w.label) & (joined.k_signup >= ibis.date(w.start)) &
                                (joined.k_signup < ibis.date(w.end)), True) for w in windows],
                             else_=False)
        names = self._names(joined, money, new)
        active = self._condition(self.d.active, names, "active") if self.d.active else \
            ibis.literal(True)
        paying = self._condition(self.d.paying, names, "paying") if self.d.paying else \
            money["k_rev"] > 0
        state = ibis.cases((orphan, "orphan"), (active.fill_null(False), "active"),
                           else_="inactive")
        keys = {"k_period": period, "k_state": state}
        for dim in self.dims:
            keys[f"k_dim_{dim}"] = joined[f"k_dim_{dim}"]
        one = ibis.literal(1, type="int64")
        metrics: dict[str, Any] = {
            "k_rows": one,
            "m_revenue_all": money["k_rev"],
            "k_example_user": joined.k_euser,
        }
        for measure in self.measures:
            metrics[f"m_{measure}"] = self._measure(measure, joined, money, paying, new)
        table = joined.select(**keys, **{f"x_{i}": v for i, v in enumerate(metrics.values())})
        grouped = table.group_by(list(keys)).aggregate(**{
            name: self._reduce(name, table[f"x_{i}"])
            for i, name in enumerate(metrics)})
        return grouped.order_by(list(keys))

    @staticmethod
    def _reduce(name: str, column: Any) -> Any:
        if name == "k_example_user":
            return column.min()
        if name == "m_accounts":
            return column.nunique()
        return column.sum().cast("int64")

    def _measure(self, measure: str, joined: Any, money: dict[str, Any], paying: Any,
                 new: Any) -> Any:
        ibis = self.ibis
        one = ibis.literal(1, type="int64")
        zero = ibis.literal(0, type="int64")
        flag = lambda test: ibis.ifelse(test.fill_null(False), one, zero)  # noqa: E731
        if measure == "active_users":
            return ibis.ifelse(joined.k_uid.isnull(), zero, one)
        if measure == "paying_users":
            return flag(paying)
        if measure == "new_users":
            return flag(new)
        if measure == "accounts":
            return joined.k_account
        if measure == "seats":
            return joined.k_seats.fill_null(zero)
        if measure == "revenue":
            return money["k_rev"]
        if measure == "new_revenue":
            return ibis.ifelse(new, money["k_rev"], zero)
        if measure in ("billed", "collected", "refunds", "discounts"):
            return money[f"k_{measure}"]
        for t in self.d.revenue.types:
            if measure == f"{t}_revenue":
                return money[f"k_rev_{t}"]
            if measure == f"{t}_users":
                return flag(money[f"k_rev_{t}"] > 0)
        raise AssertionError(measure)  # the vocabulary was checked in __init__

    def _names(self, joined: Any, money: dict[str, Any], new: Any) -> dict[str, Any]:
        names: dict[str, Any] = {
            "revenue": money["k_rev"], "billed": money["k_billed"],
            "collected": money["k_collected"], "events": money["k_events"],
        }
        for t in self.d.revenue.types:
            names[f"{t}_revenue"] = money[f"k_rev_{t}"]
        if new is not None:
            names["new"] = new
        for column in joined.columns:
            if column.startswith("k_col_"):
                names[column[len("k_col_"):]] = joined[column]
        return names

    def _condition(self, condition: Condition, names: dict[str, Any], key: str) -> Any:
        where = self.d.where()
        available = sorted(set(names) | set(self.user_columns) | {"new"})

        def build(expr: CondExpr) -> Any:
            if isinstance(expr, BoolOp):
                left, right = build(expr.left), build(expr.right)
                return left & right if expr.op == "and" else left | right
            if isinstance(expr, Not):
                return ~build(expr.operand)
            if isinstance(expr, Name):
                column = lookup(expr.name)
                if not column.type().is_boolean():
                    raise TreeError(f"{where}: data.{key}: '{expr.name}' is {column.type()}, not "
                                    f"true/false; compare it, e.g. '{expr.name} > 0'")
                return column
            if isinstance(expr, Compare):
                column = lookup(expr.left.name)
                value = literal(expr.left.name, column, expr.right.value)
                ops = {"=": column.__eq__, "!=": column.__ne__, "<": column.__lt__,
                       "<=": column.__le__, ">": column.__gt__, ">=": column.__ge__}
                return ops[expr.op](value)
            column = lookup(expr.name.name)
            values = [literal(expr.name.name, column, v.value) for v in expr.values]
            test = column.isin(values)
            return ~test if expr.negated else test

        def lookup(name: str) -> Any:
            if name in names:
                return names[name]
            raise TreeError(f"{where}: data.{key} uses unknown name '{name}'."
                            f"{did_you_mean(name, available)} Names: {listing(available)}")

        def literal(name: str, column: Any, value: Any) -> Any:
            dtype = column.type()
            if isinstance(value, bool):
                if not dtype.is_boolean():
                    raise TreeError(f"{where}: data.{key}: '{name}' is {dtype}, not true/false")
                return value
            if isinstance(value, Decimal):
                if not dtype.is_numeric():
                    raise TreeError(f"{where}: data.{key}: '{name}' is {dtype}; compare it with "
                                    f"'text' in quotes, not the number {value}")
                if name in MONEY_NAMES or name.endswith("_revenue"):
                    return money_literal_cents(value, where, key)
                return int(value) if value == value.to_integral_value() else float(value)
            if not dtype.is_string():
                raise TreeError(f"{where}: data.{key}: '{name}' is {dtype}; compare it with a "
                                f"number, not '{value}'")
            return value

        return build(condition.expr)

    # -- back in Python ---------------------------------------------------------------------

    def _finish(self, frame: pd.DataFrame, windows: list[PeriodWindow], currency: str | None,
                notes: list[str]) -> Aggregate:
        name = self.source.name
        unit = currency or self.tree.unit or ""
        orphans = frame[frame["k_state"] == "orphan"]
        if len(orphans):
            row = orphans.iloc[0]
            user = row["k_example_user"]
            if isinstance(user, float) and user.is_integer():
                user = int(user)
            cents = int(orphans["m_revenue_all"].sum())
            raise DataError(
                f"{name}: events of users with no users row for their period — e.g. "
                f"{self.d.events.user} {user} in {row['k_period']} "
                f"({int(orphans['k_rows'].sum()):,} user-periods, {unit} {cents / 100:,.2f} "
                "counted revenue); add their users rows, or remove the events"
            )
        inactive = frame[frame["k_state"] == "inactive"]
        for period, rows in inactive.groupby("k_period", sort=True):
            cents = int(rows["m_revenue_all"].sum())
            notes.append(f"{period}: {int(rows['k_rows'].sum()):,} users outside the active "
                         f"filter, with {unit} {cents / 100:,.2f} revenue, are not counted")
        active = frame[frame["k_state"] == "active"].copy()
        dims = self.dims
        for dim in dims:
            empty = active[f"k_dim_{dim}"].isna()
            if empty.any():
                period = active.loc[empty, "k_period"].iloc[0]
                raise DataError(f"{name}: the users table has an empty {dim} for "
                                f"{int(empty.sum())} segments of active users in {period}; "
                                "fill it in (e.g. 'unknown')")
        labels = [w.label for w in windows]
        found = set(active["k_period"])
        for label in labels:
            if label not in found:
                notes.append(f"{label}: no active users in this period")
        cents = pd.DataFrame({"period": active["k_period"].astype(str).to_numpy()})
        for dim in dims:
            cents[dim] = active[f"k_dim_{dim}"].astype(str).to_numpy()
        for measure in self.measures:
            cents[measure] = active[f"m_{measure}"].astype("int64").to_numpy()
        cents = cents.sort_values(["period", *dims], kind="stable").reset_index(drop=True)
        frame_out = cents.copy()
        days = {w.label: w.days for w in windows}
        scale = frame_out["period"].map(lambda p: 30.0 / days[p]) if self.d.per_30_days else None
        for measure in self.measures:
            if is_money_measure(measure):
                values = cents[measure].astype(float) / 100.0
                frame_out[measure] = values * scale if scale is not None else values
            else:
                frame_out[measure] = cents[measure].astype(float)
        return Aggregate(frame=frame_out, cents=cents, definition=self.d,
                         periods=tuple(windows), currency=currency, notes=tuple(notes),
                         engine=self.source.engine)
