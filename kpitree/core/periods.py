"""Periods of a raw-event source: what ``2026-10``, ``2026-Q3`` or ``2026`` covers.

What belongs here: the period definition of a tree's ``data.period`` (:class:`Period`: calendar
month, quarter or year, or a trailing window), the window a period label stands for
(:class:`PeriodWindow`, :func:`period_window`), and walking the periods between two months.
What does not: reading ``data.period`` from the tree file (see :mod:`kpitree.core.definitions`)
or cutting events into periods (see :mod:`kpitree.io.events`).

Example:
    >>> window = period_window(Period("quarter"), "2026-q3")
    >>> window.label, window.start, window.end
    ('2026-Q3', datetime.date(2026, 7, 1), datetime.date(2026, 10, 1))
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from kpitree.core.errors import TreeError

CALENDAR_PERIODS = ("month", "quarter", "year")


@dataclass(frozen=True)
class Period:
    """A period definition: calendar ``month``/``quarter``/``year`` or a trailing window."""

    kind: str = "month"  # month | quarter | year | trailing
    days: int = 0  # trailing window in days
    months: int = 0  # trailing window in months

    @property
    def overlapping(self) -> bool:
        """Whether consecutive periods share months (trailing windows do)."""
        return self.kind == "trailing"

    def describe(self) -> str:
        """The period in words, for the definitions statement and messages."""
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
        """The window's length in days."""
        return (self.end - self.start).days


_MONTH_LABEL = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER_LABEL = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_YEAR_LABEL = re.compile(r"^(\d{4})$")


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``day``'s month (negative: before)."""
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
    """How many days ``month``'s month has."""
    return calendar.monthrange(month.year, month.month)[1]
