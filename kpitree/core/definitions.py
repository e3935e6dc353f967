"""The ``data:`` section of a tree file: what counts as an active user, as revenue, as a period.

What belongs here: parsing and checking the definitions (pure Python, no database code), the
small condition language of ``active:`` / ``paying:``, the vocabulary of measures a raw-event
aggregation can produce, period labels and their boundaries, and the one-paragraph statement of
the definitions that every output carries. What does not: running anything (see
:mod:`kpitree.io.events`, which compiles these definitions with ibis for DuckDB, PostgreSQL and
Spark).

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

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from kpitree.core.errors import TreeError, did_you_mean

DATA_KEYS = ("period", "per_30_days", "timezone", "active", "paying", "revenue", "users",
             "events")
REVENUE_KEYS = ("types", "refunds", "discounts", "basis")
USERS_KEYS = ("table", "id", "month", "account", "signup", "seats", "sum")
EVENTS_KEYS = ("table", "id", "user", "time", "type", "kind", "status", "amount",
               "amount_unit", "discount", "currency")

DEFAULT_TYPES = ("subscription", "addon", "usage", "one_time")
CALENDAR_PERIODS = ("month", "quarter", "year")
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
class Period:
    """A period definition: calendar ``month``/``quarter``/``year`` or a trailing window."""

    kind: str = "month"  # month | quarter | year | trailing
    days: int = 0  # trailing window in days
    months: int = 0  # trailing window in months

    @property
    def overlapping(self) -> bool:
        return self.kind == "trailing"

    def describe(self) -> str:
        if self.kind == "trailing":
            size = f"{self.days} days" if self.days else f"{self.months} months"
            return f"trailing {size} ending with the labelled month"
        return {"month": "calendar month", "quarter": "calendar quarter",
                "year": "calendar year"}[self.kind]


@dataclass(frozen=True)
class PeriodWindow:
    """One period: its label, ``[start, end)`` as local dates, and its months (first, last)."""

    label: str
    start: dt.date
    end: dt.date
    first_month: dt.date
    last_month: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days


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
# Conditions: `logins >= 1 or revenue > 0`, `tier in ('pro', 'team')`, `new and not trial`.


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Literal:
    value: str | Decimal | bool


@dataclass(frozen=True)
class Compare:
    op: str  # = != < <= > >=
    left: Name
    right: Literal


@dataclass(frozen=True)
class InList:
    name: Name
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    left: CondExpr
    right: CondExpr


@dataclass(frozen=True)
class Not:
    operand: CondExpr


CondExpr = Name | Compare | InList | BoolOp | Not


@dataclass(frozen=True)
class Condition:
    """A parsed filter, with its text for the output statement."""

    text: str
    expr: CondExpr

    def names(self) -> set[str]:
        return _names(self.expr)


def _names(expr: CondExpr) -> set[str]:
    if isinstance(expr, Name):
        return {expr.name}
    if isinstance(expr, Compare):
        return {expr.left.name}
    if isinstance(expr, InList):
        return {expr.name.name}
    if isinstance(expr, BoolOp):
        return _names(expr.left) | _names(expr.right)
    return _names(expr.operand)


_TOKEN = re.compile(
    r"\s*(?:(?P<number>-?\d+(?:\.\d+)?)|(?P<string>'(?:[^']|'')*')"
    r"|(?P<op><=|>=|!=|<>|==|=|<|>|\(|\)|,)|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}


def parse_condition(text: str, where: str, key: str) -> Condition:
    """Parse a filter like ``logins >= 1 or revenue > 0``.

    Grammar: ``or`` of ``and`` of [``not``] atoms; an atom is ``name OP literal``,
    ``name [not] in (literal, …)``, a bare boolean ``name``, or a parenthesised condition.
    Literals are numbers, 'quoted text', true or false.

    Raises:
        TreeError: naming the file, the key and the offending token.
    """
    tokens: list[tuple[str, str]] = []
    position = 0
    source = str(text)
    while position < len(source):
        if source[position:].strip() == "":
            break
        match = _TOKEN.match(source, position)
        if not match:
            raise TreeError(f"{where}: data.{key}: cannot read '{source[position:].strip()}' "
                            f"in '{source}'; write conditions like 'logins >= 1 or revenue > 0'")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "word" and value.lower() in _KEYWORDS:
            kind, value = "kw", value.lower()
        tokens.append((kind, value))
        position = match.end()
    if not tokens:
        raise TreeError(f"{where}: data.{key} is empty; write e.g. 'logins >= 1'")
    parser = _CondParser(tokens, source, where, key)
    expr = parser.parse_or()
    if parser.index != len(tokens):
        parser.fail(f"unexpected '{tokens[parser.index][1]}'")
    return Condition(text=source.strip(), expr=expr)


class _CondParser:
    def __init__(self, tokens: list[tuple[str, str]], text: str, where: str, key: str) -> None:
        self.tokens, self.text, self.where, self.key = tokens, text, where, key
        self.index = 0

    def fail(self, problem: str) -> None:
        raise TreeError(f"{self.where}: data.{self.key}: {problem} in '{self.text}'; write "
                        "conditions like \"logins >= 1 or tier in ('pro', 'team')\"")

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index] if self.index < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.index += 1
        return token

    def parse_or(self) -> CondExpr:
        left = self.parse_and()
        while self.peek() == ("kw", "or"):
            self.take()
            left = BoolOp("or", left, self.parse_and())
        return left

    def parse_and(self) -> CondExpr:
        left = self.parse_not()
        while self.peek() == ("kw", "and"):
            self.take()
            left = BoolOp("and", left, self.parse_not())
        return left

    def parse_not(self) -> CondExpr:
        if self.peek() == ("kw", "not"):
            self.take()
            return Not(self.parse_not())
        return self.parse_atom()

    def literal(self) -> Literal:
        kind, value = self.take()
        if kind == "number":
            return Literal(Decimal(value))
        if kind == "string":
            return Literal(value[1:-1].replace("''", "'"))
        if kind == "kw" and value in ("true", "false"):
            return Literal(value == "true")
        self.fail(f"expected a number, 'text', true or false, found '{value or 'the end'}'")
        raise AssertionError  # unreachable

    def parse_atom(self) -> CondExpr:
        kind, value = self.take()
        if (kind, value) == ("op", "("):
            inner = self.parse_or()
            if self.take() != ("op", ")"):
                self.fail("missing ')'")
            return inner
        if kind != "word":
            self.fail(f"expected a column name, found '{value or 'the end'}'")
        name = Name(value)
        nxt = self.peek()
        negated = False
        if nxt == ("kw", "not") and self.index + 1 < len(self.tokens) and \
                self.tokens[self.index + 1] == ("kw", "in"):
            self.take()
            nxt, negated = self.peek(), True
        if nxt == ("kw", "in"):
            self.take()
            if self.take() != ("op", "("):
                self.fail("'in' needs a list like ('pro', 'team')")
            values = [self.literal()]
            while self.peek() == ("op", ","):
                self.take()
                values.append(self.literal())
            if self.take() != ("op", ")"):
                self.fail("missing ')' after the 'in' list")
            return InList(name, tuple(values), negated)
        if nxt[0] == "op" and nxt[1] in ("=", "==", "!=", "<>", "<", "<=", ">", ">="):
            self.take()
            op = {"==": "=", "<>": "!="}.get(nxt[1], nxt[1])
            return Compare(op, name, self.literal())
        return name


# ---------------------------------------------------------------------------------------------
# Periods: labels and boundaries.

_MONTH_LABEL = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER_LABEL = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_YEAR_LABEL = re.compile(r"^(\d{4})$")


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_window(period: Period, label: object, where: str = "") -> PeriodWindow:
    """The window of a period label (``2026-10``, ``2026-Q3``, ``2026``).

    Raises:
        TreeError: the label does not match the period definition.
    """
    text = str(label).strip()
    prefix = f"{where}: " if where else ""
    if period.kind in ("month", "trailing"):
        match = _MONTH_LABEL.match(text)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise TreeError(f"{prefix}period '{text}' is not a month label like 2026-10 "
                            f"(the tree's data.period is {period.describe()})")
        month = dt.date(int(match.group(1)), int(match.group(2)), 1)
        end = add_months(month, 1)
        if period.kind == "month":
            return PeriodWindow(text, month, end, month, month)
        if period.months:
            first = add_months(month, 1 - period.months)
            return PeriodWindow(text, first, end, first, month)
        start = end - dt.timedelta(days=period.days)
        return PeriodWindow(text, start, end, dt.date(start.year, start.month, 1), month)
    if period.kind == "quarter":
        match = _QUARTER_LABEL.match(text)
        if not match:
            raise TreeError(f"{prefix}period '{text}' is not a quarter label like 2026-Q3")
        first = dt.date(int(match.group(1)), 3 * int(match.group(2)) - 2, 1)
        return PeriodWindow(f"{match.group(1)}-Q{match.group(2)}", first, add_months(first, 3),
                            first, add_months(first, 2))
    match = _YEAR_LABEL.match(text)
    if not match:
        raise TreeError(f"{prefix}period '{text}' is not a year label like 2026")
    first = dt.date(int(text), 1, 1)
    return PeriodWindow(text, first, dt.date(int(text) + 1, 1, 1), first, dt.date(int(text), 12, 1))


def label_of_month(period: Period, month: dt.date) -> str:
    """The label of the period that ends with / contains ``month``."""
    if period.kind in ("month", "trailing"):
        return f"{month.year:04d}-{month.month:02d}"
    if period.kind == "quarter":
        return f"{month.year:04d}-Q{(month.month - 1) // 3 + 1}"
    return f"{month.year:04d}"


def windows_between(period: Period, first: dt.date, last: dt.date) -> list[PeriodWindow]:
    """Every period whose months lie within ``[first, last]`` months (complete periods only)."""
    windows: list[PeriodWindow] = []
    seen: set[str] = set()
    month = dt.date(first.year, first.month, 1)
    while month <= last:
        label = label_of_month(period, month)
        if label not in seen:
            seen.add(label)
            window = period_window(period, label)
            if window.first_month >= dt.date(first.year, first.month, 1) and \
                    window.last_month <= last:
                windows.append(window)
        month = add_months(month, 1)
    return windows


def days_in_month(month: dt.date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


# ---------------------------------------------------------------------------------------------
# Parsing the section.


def parse_data_section(
    raw: Any, source: str, line: int, problems: list[str]
) -> DataDefinition | None:
    """Check the ``data:`` mapping; append problems (``file:line: …``) instead of raising."""
    where = f"{source}:{line}" if line else source
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"{where}: 'data' must be a mapping (period, active, revenue, …); "
                        "see trees/arpu_blended.yaml")
        return None
    for key in raw:
        if key not in DATA_KEYS:
            problems.append(f"{where}: data: unknown key '{key}'.{did_you_mean(key, DATA_KEYS)}"
                            f" Allowed: {', '.join(DATA_KEYS)}")
    start = len(problems)
    period = _period(raw.get("period", "month"), where, problems)
    per_30 = raw.get("per_30_days", False)
    if not isinstance(per_30, bool):
        problems.append(f"{where}: data.per_30_days must be true or false, not {per_30!r}")
        per_30 = False
    timezone = raw.get("timezone")
    if timezone is not None and not _valid_timezone(timezone):
        problems.append(f"{where}: data.timezone '{timezone}' is not a known time zone; use "
                        "an IANA name such as UTC or Europe/Berlin")
        timezone = None
    conditions: dict[str, Condition | None] = {}
    for key in ("active", "paying"):
        text = raw.get(key)
        if text is None:
            conditions[key] = None
            continue
        if not isinstance(text, str):
            problems.append(f"{where}: data.{key} must be a condition in quotes, not {text!r}")
            conditions[key] = None
            continue
        try:
            conditions[key] = parse_condition(text, where, key)
        except TreeError as exc:
            problems.append(str(exc))
            conditions[key] = None
    revenue = _revenue(raw.get("revenue", {}), where, problems)
    users = _table(raw.get("users", {}), UsersTable, USERS_KEYS, "users", where, problems)
    events = _table(raw.get("events", {}), EventsTable, EVENTS_KEYS, "events", where, problems)
    if isinstance(events, EventsTable) and events.amount_unit not in ("cents", "units"):
        problems.append(f"{where}: data.events.amount_unit must be 'cents' (integer minor units)"
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


def _period(raw: Any, where: str, problems: list[str]) -> Period:
    if isinstance(raw, str) and raw in CALENDAR_PERIODS:
        return Period(kind=raw)
    size = raw.get("trailing") if isinstance(raw, dict) and len(raw) == 1 else None
    match = re.fullmatch(r"(\d+)\s*(d|m)", str(size).strip()) if size is not None else None
    if match and int(match.group(1)) > 0:
        count = int(match.group(1))
        if match.group(2) == "d":
            return Period(kind="trailing", days=count)
        return Period(kind="trailing", months=count)
    problems.append(f"{where}: data.period must be month, quarter, year or a trailing window "
                    f"like {{trailing: 90d}} or {{trailing: 12m}}, not {raw!r}")
    return Period()


def _revenue(raw: Any, where: str, problems: list[str]) -> Revenue:
    if not isinstance(raw, dict):
        problems.append(f"{where}: data.revenue must be a mapping (types, refunds, discounts, "
                        "basis)")
        return Revenue()
    for key in raw:
        if key not in REVENUE_KEYS:
            problems.append(f"{where}: data.revenue: unknown key '{key}'."
                            f"{did_you_mean(key, REVENUE_KEYS)} Allowed: {', '.join(REVENUE_KEYS)}")
    types = raw.get("types", list(DEFAULT_TYPES))
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not types or \
            not all(isinstance(t, str) and t.isidentifier() for t in types):
        problems.append(f"{where}: data.revenue.types must be a list of event types like "
                        "[subscription, addon, usage]")
        types = list(DEFAULT_TYPES)
    choices = {"refunds": ("net", "gross"), "discounts": ("net", "gross"),
               "basis": ("collected", "billed")}
    values = {}
    for key, allowed in choices.items():
        value = raw.get(key, allowed[0])
        if value not in allowed:
            problems.append(f"{where}: data.revenue.{key} must be {' or '.join(allowed)}, "
                            f"not {value!r}")
            value = allowed[0]
        values[key] = value
    return Revenue(types=tuple(dict.fromkeys(types)), **values)


def _table(raw: Any, cls: type, keys: tuple[str, ...], name: str, where: str,
           problems: list[str]) -> Any:
    if not isinstance(raw, dict):
        problems.append(f"{where}: data.{name} must be a mapping like {{table: {name}}}")
        return cls()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in keys:
            problems.append(f"{where}: data.{name}: unknown key '{key}'."
                            f"{did_you_mean(key, keys)} Allowed: {', '.join(keys)}")
            continue
        if key == "sum":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                problems.append(f"{where}: data.{name}.sum must be a list of column names")
                continue
            values[key] = tuple(items)
        elif value is None and key in ("discount", "currency"):
            values[key] = None
        elif not isinstance(value, str) or not value:
            problems.append(f"{where}: data.{name}.{key} must be a name, not {value!r}")
        else:
            values[key] = value
    return cls(**values)


def money_literal_cents(value: Decimal, where: str, key: str) -> int:
    """A money literal in a condition, as exact cents."""
    try:
        cents = value * 100
    except InvalidOperation:  # pragma: no cover - Decimal from our tokenizer is finite
        cents = Decimal("NaN")
    if cents != cents.to_integral_value():
        raise TreeError(f"{where}: data.{key}: money amount {value} has more than two decimals")
    return int(cents)
