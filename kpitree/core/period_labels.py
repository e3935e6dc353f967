"""Period labels of aggregated data: their text, their order, and rolling months up.

What belongs here: turning a period column into text labels that keep their meaning and order
(ISO labels as they are; dates and datetimes as ISO dates; month names such as ``Oct 2026`` as
``2026-10``; an ordered categorical's own order), matching what a user passes as ``--base``
(``2026-10``, ``Oct 2026``, a ``pd.Timestamp``, a ``datetime.date``) to a label, ordering the
labels, and rolling monthly labels up to quarters or years with the completeness check that
keeps a one-month quarter from being compared with a full one. What does not: reading files or
checking numbers (:mod:`kpitree.core.data`), the period windows of raw events
(:mod:`kpitree.core.periods`).

Example:
    >>> period_text(pd.Series(["Oct 2026", "Sep 2026"]))[0].tolist()
    ['2026-10', '2026-09']
    >>> ordered(["p10", "p2", "p1"])
    ['p1', 'p2', 'p10']
    >>> roll_up_label("2026-11", "quarter"), roll_up_label("2026-11", "year")
    ('2026-Q4', '2026')
    >>> year_before("2026-Q3"), step_words(period_kind(["2026-Q3", "2026-Q4"]))
    ('2025-Q3', 'quarter over quarter')
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from kpitree.core.errors import DataError

ROLL_UPS = ("month", "quarter", "year")
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}
# One period back in each roll-up: the same period a year earlier (year over year).
PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}

_ISO = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?)?|-?[Qq][1-4])?$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_MONTH_NAME = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b",
                         re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"^\d{1,4}[/.]\d{1,2}[/.]\d{1,4}$")
_DIGITS = re.compile(r"(\d+)")


def period_text(series: pd.Series) -> tuple[pd.Series, list[str] | None]:
    """Text labels of a period column, and the order the data declares (or ``None``).

    * an ordered categorical keeps its labels, and its categories give the order;
    * datetimes and dates (also as Python objects) become ``YYYY-MM-DD`` (``YYYY-MM-DD HH:MM``
      when a time of day is present);
    * text that names months or is a numeric date (``Oct 2026``, ``10/01/2026``) is parsed:
      ``YYYY-MM`` when every date is the first of a month, else ``YYYY-MM-DD``;
    * anything else (ISO labels, ``p0``, ``y2000``) stays as written.
    """
    if isinstance(series.dtype, pd.CategoricalDtype) and series.cat.ordered:
        order = [str(c).strip() for c in series.cat.categories]
        return series.astype(object).astype("string").str.strip(), order
    if pd.api.types.is_datetime64_any_dtype(series):
        return _dates_text(pd.Series(series)), None
    if series.dtype == object:
        values = series.dropna()
        if len(values) and all(isinstance(v, dt.date | pd.Timestamp | np.datetime64)
                               for v in values):
            return _dates_text(pd.to_datetime(series)), None
    text = series.astype("string").str.strip()
    present = text.dropna()
    labels = pd.Series(present[present != ""].unique(), dtype=object)  # a few, not every row
    if len(labels) and not labels.map(lambda s: bool(_ISO.match(s))).all() and \
            labels.map(_looks_like_date).all():
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        if parsed[text.notna() & (text != "")].notna().all():
            days = parsed.dropna()
            if (days.dt.day == 1).all() and not (days.dt.normalize() != days).any():
                return parsed.dt.strftime("%Y-%m").astype("string").where(text.notna()), None
            return _dates_text(parsed), None
    return text, None


def _looks_like_date(text: str) -> bool:
    return bool(_MONTH_NAME.search(text) and re.search(r"\d{4}", text)) or \
        bool(_NUMERIC_DATE.match(text))


def _dates_text(series: pd.Series) -> pd.Series:
    with_time = (series.dropna().dt.normalize() != series.dropna()).any()
    text = series.dt.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")
    return text.astype("string").where(series.notna())


def ordered(labels: Iterable[str], declared: Sequence[str] | None = None) -> list[str]:
    """``labels`` in the order the data declares (an ordered categorical), else in time order
    for ISO labels and natural order otherwise (``p2`` before ``p10``)."""
    unique = list(dict.fromkeys(str(label) for label in labels))
    if declared is not None:
        rank = {label: i for i, label in enumerate(declared)}
        return sorted(unique, key=lambda label: (rank.get(label, len(rank)), label))
    return sorted(unique, key=_natural_key)


def _natural_key(label: str) -> tuple:
    return tuple((0, int(piece), "") if piece.isdigit() else (1, 0, piece)
                 for piece in _DIGITS.split(label) if piece != "")


def match_period(period: object, present: Sequence[str]) -> str | None:
    """The label in ``present`` that ``period`` stands for, or ``None``.

    Exact text first; then a date or datetime (``pd.Timestamp``, ``datetime.date``, text such
    as ``Oct 2026``) matched to the label of the same day or month.
    """
    text = _as_text(period)
    if text in present:
        return text
    when = _as_timestamp(period)
    if when is None:
        return None
    for label in present:
        other = _as_timestamp(label)
        if other is None:
            continue
        if other == when or (_MONTH.match(label) and (other.year, other.month) ==
                             (when.year, when.month) and when.day == 1
                             and when == when.normalize()):
            return label
    return None


def _as_text(period: object) -> str:
    if isinstance(period, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(period)
        return stamp.strftime("%Y-%m-%d" if stamp == stamp.normalize() else "%Y-%m-%d %H:%M")
    if isinstance(period, dt.date):
        return period.isoformat()
    if isinstance(period, np.datetime64):
        return _as_text(pd.Timestamp(period))
    return str(period).strip()


def _as_timestamp(period: object) -> pd.Timestamp | None:
    if isinstance(period, pd.Timestamp | dt.date | np.datetime64):
        return pd.Timestamp(period)
    text = str(period).strip()
    if not (_ISO.match(text) and not _QUARTER.match(text)) and not _looks_like_date(text):
        return None
    if re.fullmatch(r"\d{4}", text):
        return None  # a bare year is a year, not 1 January
    try:
        return pd.Timestamp(pd.to_datetime(text, format="mixed"))
    except (ValueError, TypeError):
        return None


def roll_up_label(label: str, to: str) -> str:
    """The quarter (``2026-Q4``) or year (``2026``) of a monthly label ``2026-11``.

    Raises:
        DataError: the label is not a month (``YYYY-MM``).
    """
    match = _MONTH.match(label)
    if match is None:
        raise DataError(f"period '{label}' is not a month like 2026-10; --period {to} rolls "
                        "monthly data up (write the period column as YYYY-MM)")
    year, month = int(match.group(1)), int(match.group(2))
    if to == "quarter":
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    if to == "year":
        return f"{year:04d}"
    return label


def months_of(label: str, to: str) -> list[str]:
    """The monthly labels a quarter or year label covers."""
    if to == "quarter":
        match = _QUARTER.match(label)
        if match is None:
            return [label]
        year, quarter = int(match.group(1)), int(match.group(2))
        return [f"{year:04d}-{m:02d}" for m in range(3 * quarter - 2, 3 * quarter + 1)]
    if to == "year":
        return [f"{label}-{m:02d}" for m in range(1, 13)]
    return [label]


def roll_up(frame: pd.DataFrame, *, to: str, period_column: str, name: str,
            periods: Sequence[object] | None = None, allow_partial: bool = False
            ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Monthly rows relabelled by quarter or year (their sums are the period's sums).

    Every column node sums over the months, so a ratio is the period's total over its total —
    ARPU per user-month for ``revenue / users`` (the average month's ARPU weighted by users),
    not revenue over the *average* number of users (which is ``MONTHS_IN[to]`` times that for a
    complete period).

    Returns the relabelled frame and, per period, the months it is missing.

    Raises:
        DataError: a label is not a month; or (unless ``allow_partial``) a compared period —
            ``periods``, or every period when ``None`` — is incomplete, naming its months and
            the fix.
    """
    if to not in ROLL_UPS:
        raise DataError(f"--period {to}: choose one of {', '.join(ROLL_UPS)}")
    if to == "month":
        return frame, {}
    labels = frame[period_column].astype(str)
    rolled = {label: roll_up_label(label, to) for label in pd.unique(labels)}
    out = frame.copy()
    out[period_column] = labels.map(rolled).astype(object)
    present: dict[str, set[str]] = {}
    for month, period in rolled.items():
        present.setdefault(period, set()).add(month)
    missing = {period: [m for m in months_of(period, to) if m not in months]
               for period, months in present.items()}
    missing = {period: months for period, months in missing.items() if months}
    wanted = [str(p).strip() for p in periods] if periods is not None else list(present)
    partial = [p for p in wanted if p in missing]
    if partial and not allow_partial:
        first = partial[0]
        have = sorted(present[first])
        raise DataError(
            f"{name}: {to} {first} is incomplete: it holds {len(have)} of {MONTHS_IN[to]} "
            f"months ({', '.join(have)}; missing {', '.join(missing[first])}), so comparing it "
            f"with a complete {to} mixes period lengths; compare complete {to}s (--base/--compare"
            f" or --from/--to), or pass --allow-partial to compare them anyway")
    return out, missing


def period_kind(labels: Iterable[str]) -> str | None:
    """``month``, ``quarter`` or ``year`` when every label is one (``2026-10``, ``2026-Q3``,
    ``2026``), else ``None``."""
    labels = list(labels)
    for kind, pattern in (("month", _MONTH), ("quarter", _QUARTER),
                          ("year", re.compile(r"^\d{4}$"))):
        if labels and all(pattern.match(str(label)) for label in labels):
            return kind
    return None


def year_before(label: str) -> str | None:
    """The same period a year earlier (``2026-10`` → ``2025-10``, ``2026-Q3`` → ``2025-Q3``,
    ``2026`` → ``2025``), or ``None`` for a label that is no month, quarter or year."""
    for pattern in (_MONTH, _QUARTER):
        match = pattern.match(label)
        if match:
            year = int(match.group(1)) - 1
            return f"{year:04d}{label[4:]}"
    if re.fullmatch(r"\d{4}", label):
        return f"{int(label) - 1:04d}"
    return None


def step_words(kind: str | None) -> str:
    """``month over month`` / ``quarter over quarter`` / ``year over year`` / ``period over
    period``: how one step of a series is named."""
    return f"{kind} over {kind}" if kind else "period over period"


def convention_note(kind: str) -> str:
    """What a rolled-up ratio means (shown where the numbers are)."""
    months = MONTHS_IN[kind]
    return (f"{kind}s: every column is summed over the {kind}'s {months} months, so a ratio "
            f"such as revenue / users is per user-month (the average month's value, weighted "
            f"by users), not the {kind}'s revenue over the average number of users (that is "
            f"{months}× it for a complete {kind})")
