"""The ``data:`` section of a tree file: what counts as an active user, as revenue, as a period.

What belongs here: parsing and checking the definitions (pure Python, no database code), the
vocabulary of measures a raw-event aggregation can produce, and the one-paragraph statement of
the definitions that every output carries. What does not: the condition language of
``active:`` / ``paying:`` (:mod:`kpitree.core.conditions`), period labels and their boundaries
(:mod:`kpitree.core.periods`) — both re-exported here, where :mod:`kpitree.io.events` imports
them — and running anything (see :mod:`kpitree.io.events`, which compiles these definitions
with ibis for DuckDB, PostgreSQL and Spark).

A tree with a ``data:`` section can be explained straight from a revenue event log and a
user-month table::

    data:
      period: month                 # month | quarter | year | {trailing: 90d} | {trailing: 12m}
      per_30_days: false            # true: revenue scaled to a 30-day month
      timezone: UTC                 # period boundaries; also what naive timestamps mean
      active: logins >= 1 or revenue > 0
      paying: revenue > 0
      revenue: {types: [subscription, addon, usage], refunds: net, discounts: net,
                basis: collected}
      users:  {table: users}        # column names default to those of `kpitree generate`
      events: {table: events}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kpitree.core.conditions import (
    BoolOp,
    Compare,
    CondExpr,
    Condition,
    InList,
    Literal,
    Name,
    Not,
    money_literal_cents,
    parse_condition,
)
from kpitree.core.errors import Problem, TreeError, did_you_mean
from kpitree.core.periods import (
    CALENDAR_PERIODS,
    Period,
    PeriodWindow,
    period_window,
    windows_between,
)

# Public names; the condition and period ones are re-exported for kpitree.io.events.
__all__ = [
    "CALENDAR_PERIODS", "DATA_KEYS", "DEFAULT_TYPES", "EVENTS_KEYS", "KINDS", "MONEY_MEASURES",
    "MONEY_NAMES", "REVENUE_KEYS", "STATUSES", "USERS_KEYS", "BoolOp", "Compare", "CondExpr",
    "Condition", "DataDefinition", "EventsTable", "InList", "Literal", "Name", "Not", "Period",
    "PeriodWindow", "Revenue", "UsersTable", "is_money_measure", "measure_vocabulary",
    "money_literal_cents", "parse_condition", "parse_data_section", "period_window",
    "windows_between",
]

Report = Callable[[str], None]  # records one problem of the section

DATA_KEYS = ("period", "per_30_days", "timezone", "active", "paying", "revenue", "users",
             "events")
REVENUE_KEYS = ("types", "refunds", "discounts", "basis")
USERS_KEYS = ("table", "id", "month", "account", "signup", "seats", "sum")
EVENTS_KEYS = ("table", "id", "user", "time", "type", "kind", "status", "amount",
               "amount_unit", "discount", "currency")

DEFAULT_TYPES = ("subscription", "addon", "usage", "one_time")
# Event kinds and payment statuses the events table may hold.
KINDS = ("charge", "refund", "chargeback")
STATUSES = ("paid", "failed")
# Money identifiers in conditions are in currency units (compared exactly, in cents).
MONEY_NAMES = ("revenue", "billed", "collected")


@dataclass(frozen=True)
class UsersTable:
    """The user-month table: one row per user per month (the plan and state at month end)."""

    table: str = "users"
    id: str = "user_id"
    month: str = "month"
    account: str = "account_id"
    signup: str = "signup_date"
    seats: str = "seats"
    sum: tuple[str, ...] = ("logins",)


@dataclass(frozen=True)
class EventsTable:
    """The revenue event log: one row per charge, refund or chargeback."""

    table: str = "events"
    id: str = "event_id"
    user: str = "user_id"
    time: str = "ts"
    type: str = "type"
    kind: str = "kind"
    status: str = "status"
    amount: str = "amount_cents"
    amount_unit: str = "cents"
    discount: str | None = "discount_cents"
    currency: str | None = "currency"


@dataclass(frozen=True)
class Revenue:
    """Which revenue counts: event types, refunds, discounts, billed or collected."""

    types: tuple[str, ...] = DEFAULT_TYPES
    refunds: str = "net"
    discounts: str = "net"
    basis: str = "collected"


@dataclass(frozen=True)
class DataDefinition:
    """The parsed ``data:`` section of a tree file."""

    period: Period = field(default_factory=Period)
    per_30_days: bool = False
    timezone: str = "UTC"
    timezone_stated: bool = False
    active: Condition | None = None
    paying: Condition | None = None
    revenue: Revenue = field(default_factory=Revenue)
    users: UsersTable = field(default_factory=UsersTable)
    events: EventsTable = field(default_factory=EventsTable)
    source: str = "<tree>"
    line: int = 0

    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source

    def measures(self) -> dict[str, str]:
        """Every measure (aggregate column) this definition can produce, with its meaning."""
        return measure_vocabulary(self.revenue.types)

    def describe(self) -> str:
        """One line stating the definitions (printed with every explanation)."""
        rev = self.revenue
        types = " + ".join(rev.types)
        refunds = ("net of refunds and chargebacks" if rev.refunds == "net"
                   else "gross of refunds and chargebacks")
        discounts = ("net of discounts" if rev.discounts == "net"
                     else "gross of discounts (list price)")
        basis = ("collected (realised: paid charges only)" if rev.basis == "collected"
                 else "billed (contracted: failed payments included)")
        period = self.period.describe()
        if self.per_30_days:
            period += ", revenue normalised to 30 days"
        active = self.active.text if self.active else "every user-month row"
        paying = self.paying.text if self.paying else "revenue > 0"
        return (f"revenue = {types}, {refunds}, {discounts}, {basis}; "
                f"active users: {active}; paying users: {paying}; "
                f"period: {period} ({self.timezone})")


def measure_vocabulary(types: tuple[str, ...]) -> dict[str, str]:
    """The aggregate columns a tree's ``column:`` nodes may name, with their meaning."""
    vocabulary = {
        "active_users": "active users (the active filter)",
        "paying_users": "active users matching the paying filter",
        "new_users": "active users who signed up in the period",
        "accounts": "distinct accounts of active users",
        "seats": "seats of active users at period end",
        "revenue": "counted revenue of active users",
        "new_revenue": "counted revenue of active users who signed up in the period",
        "billed": "contracted revenue: every charge billed (failed payments included)",
        "collected": "realised revenue: paid charges only",
        "refunds": "refunds and chargebacks (positive amounts)",
        "discounts": "discounts granted on counted charges",
    }
    for kind in types:
        vocabulary[f"{kind}_revenue"] = f"counted {kind} revenue of active users"
        vocabulary[f"{kind}_users"] = f"active users with positive {kind} revenue"
    return vocabulary


MONEY_MEASURES = ("revenue", "new_revenue", "billed", "collected", "refunds", "discounts")


def is_money_measure(name: str) -> bool:
    return name in MONEY_MEASURES or name.endswith("_revenue")


# ---------------------------------------------------------------------------------------------
# Parsing the section.


def parse_data_section(
    raw: Any, source: str, line: int, problems: list[Problem]
) -> DataDefinition | None:
    """Check the ``data:`` mapping; append its problems (at ``source:line``) instead of raising.

    Returns None when there is no section or it has problems.
    """
    where = f"{source}:{line}" if line else source

    def report(message: str) -> None:
        problems.append(Problem(message, file=source, line=line or None))

    if raw is None:
        return None
    if not isinstance(raw, dict):
        report("'data' must be a mapping (period, active, revenue, …); "
               "see trees/arpu_blended.yaml")
        return None
    for key in raw:
        if key not in DATA_KEYS:
            report(f"data: unknown key '{key}'.{did_you_mean(key, DATA_KEYS)}"
                   f" Allowed: {', '.join(DATA_KEYS)}")
    start = len(problems)
    period = _period(raw.get("period", "month"), report)
    per_30 = raw.get("per_30_days", False)
    if not isinstance(per_30, bool):
        report(f"data.per_30_days must be true or false, not {per_30!r}")
        per_30 = False
    timezone = raw.get("timezone")
    if timezone is not None and not _valid_timezone(timezone):
        report(f"data.timezone '{timezone}' is not a known time zone; use "
               "an IANA name such as UTC or Europe/Berlin")
        timezone = None
    conditions: dict[str, Condition | None] = {}
    for key in ("active", "paying"):
        text = raw.get(key)
        if text is None:
            conditions[key] = None
            continue
        if not isinstance(text, str):
            report(f"data.{key} must be a condition in quotes, not {text!r}")
            conditions[key] = None
            continue
        try:
            conditions[key] = parse_condition(text, where, key)
        except TreeError as exc:
            problems.extend(exc.problems)
            conditions[key] = None
    revenue = _revenue(raw.get("revenue", {}), report)
    users = _table(raw.get("users", {}), UsersTable, USERS_KEYS, "users", report)
    events = _table(raw.get("events", {}), EventsTable, EVENTS_KEYS, "events", report)
    if isinstance(events, EventsTable) and events.amount_unit not in ("cents", "units"):
        report(f"data.events.amount_unit must be 'cents' (integer minor units)"
               f" or 'units' (decimal currency units), not '{events.amount_unit}'")
    if len(problems) > start:
        return None
    return DataDefinition(
        period=period, per_30_days=per_30, timezone=timezone or "UTC",
        timezone_stated=timezone is not None, active=conditions["active"],
        paying=conditions["paying"], revenue=revenue, users=users, events=events,
        source=source, line=line,
    )


def _valid_timezone(name: object) -> bool:
    if not isinstance(name, str):
        return False
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(name)
    except Exception:
        return False
    return True


def _period(raw: Any, report: Report) -> Period:
    if isinstance(raw, str) and raw in CALENDAR_PERIODS:
        return Period(kind=raw)
    size = raw.get("trailing") if isinstance(raw, dict) and len(raw) == 1 else None
    match = re.fullmatch(r"(\d+)\s*(d|m)", str(size).strip()) if size is not None else None
    if match and int(match.group(1)) > 0:
        count = int(match.group(1))
        if match.group(2) == "d":
            return Period(kind="trailing", days=count)
        return Period(kind="trailing", months=count)
    report(f"data.period must be month, quarter, year or a trailing window "
           f"like {{trailing: 90d}} or {{trailing: 12m}}, not {raw!r}")
    return Period()


def _revenue(raw: Any, report: Report) -> Revenue:
    if not isinstance(raw, dict):
        report("data.revenue must be a mapping (types, refunds, discounts, "
               "basis)")
        return Revenue()
    for key in raw:
        if key not in REVENUE_KEYS:
            report(f"data.revenue: unknown key '{key}'."
                   f"{did_you_mean(key, REVENUE_KEYS)} Allowed: {', '.join(REVENUE_KEYS)}")
    types = raw.get("types", list(DEFAULT_TYPES))
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not types or \
            not all(isinstance(t, str) and t.isidentifier() for t in types):
        report("data.revenue.types must be a list of event types like "
               "[subscription, addon, usage]")
        types = list(DEFAULT_TYPES)
    choices = {"refunds": ("net", "gross"), "discounts": ("net", "gross"),
               "basis": ("collected", "billed")}
    values = {}
    for key, allowed in choices.items():
        value = raw.get(key, allowed[0])
        if value not in allowed:
            report(f"data.revenue.{key} must be {' or '.join(allowed)}, "
                   f"not {value!r}")
            value = allowed[0]
        values[key] = value
    return Revenue(types=tuple(dict.fromkeys(types)), **values)


def _table(raw: Any, cls: type, keys: tuple[str, ...], name: str, report: Report) -> Any:
    if not isinstance(raw, dict):
        report(f"data.{name} must be a mapping like {{table: {name}}}")
        return cls()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in keys:
            report(f"data.{name}: unknown key '{key}'."
                   f"{did_you_mean(key, keys)} Allowed: {', '.join(keys)}")
            continue
        if key == "sum":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                report(f"data.{name}.sum must be a list of column names")
                continue
            values[key] = tuple(items)
        elif value is None and key in ("discount", "currency"):
            values[key] = None
        elif not isinstance(value, str) or not value:
            report(f"data.{name}.{key} must be a name, not {value!r}")
        else:
            values[key] = value
    return cls(**values)
