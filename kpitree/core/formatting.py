"""The one number formatter of kpitree: every figure a user reads goes through here.

What belongs here: turning a float into the text shown in the CLI table, the tree image and
reports — values, signed changes, relative changes — for the three value kinds:

* ``currency`` — money in the tree's ``unit`` (``$51.29``; symbols for USD, EUR, GBP and JPY,
  otherwise the ISO code as a suffix: ``1,234.50 CHF``); 2 decimals (0 for JPY).
* ``percent`` — a fraction shown as a percentage with 1 decimal (``0.1258`` → ``12.6 %``); its
  changes are percentage points (``+1.6 pp``).
* ``number`` — counts and plain ratios; whole numbers without decimals, others with 2.

What does not: choosing what to show (see :mod:`kpitree.present.tree_image`) or any computation
beyond
rounding.

Conventions, so that every output is exact and stable (golden files compare bytes):

* Undefined values (``None``, NaN, ±inf) are shown as ``—``.
* Changes carry an explicit sign with a real minus sign (``−``, U+2212); a change that rounds to
  zero at the shown precision is shown without a sign (``$0.00``).
* A non-zero figure smaller than the default precision gets more decimals so that two
  significant digits show (``−$0.0036``), up to :data:`MAX_DECIMALS`; zero stays ``0.00``, and
  kinds shown in whole units (JPY, whole counts) keep no decimals.
* Thousands are separated by ``,`` and the decimal mark is ``.``, whatever the locale.
* ``decimals=`` overrides the kind's default (a table's own choice, :func:`table_decimals`,
  or the tree's ``decimals:``); ``compact=True`` writes money of a million or more as
  ``$2.36M`` / ``$1.20B`` (three significant figures).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

Kind = Literal["currency", "percent", "number"]
KINDS: tuple[Kind, ...] = ("currency", "percent", "number")

UNDEFINED = "—"
MINUS = "−"  # U+2212 MINUS SIGN, not the hyphen
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
# Currencies without minor units are shown without decimals.
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "ISK", "CLP", "VND"})
MAX_DECIMALS = 4

__all__ = [
    "CURRENCY_SYMBOLS",
    "KINDS",
    "MINUS",
    "UNDEFINED",
    "format_change",
    "format_pct_change",
    "format_value",
    "is_defined",
    "share_of_change",
    "table_decimals",
    "value_kind",
]


def value_kind(format: str | None, unit: str | None) -> Kind:
    """The kind a node's values are shown as, from its ``format`` and the tree's ``unit``.

    A node without ``format`` is money when the tree has a unit, a plain number otherwise;
    ``currency`` without a unit degrades to a plain number.

    >>> value_kind("percent", "USD"), value_kind(None, "USD"), value_kind(None, None)
    ('percent', 'currency', 'number')
    >>> value_kind("currency", None)
    'number'
    """
    if format == "percent":
        return "percent"
    if format == "number":
        return "number"
    if format in (None, "", "currency"):
        return "currency" if unit else "number"
    raise ValueError(f"unknown format {format!r}; formats: {', '.join(KINDS)}")


def is_defined(value: object) -> bool:
    """Whether ``value`` is a finite number (``None``, NaN and ±inf are undefined).

    >>> is_defined(0.0), is_defined(None), is_defined(float("nan"))
    (True, False, False)
    """
    if value is None or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def default_decimals(kind: Kind, unit: str | None) -> int:
    """The kind's usual decimals: 1 for percent, 0 for currencies without minor units, else 2."""
    if kind == "percent":
        return 1
    if kind == "currency" and (unit or "").upper() in ZERO_DECIMAL_CURRENCIES:
        return 0
    return 2


def table_decimals(values: Iterable[float | None], kind: Kind, unit: str | None = None,
                   fixed: int | None = None) -> int:
    """One number of decimals for a whole table or chart, from its own ``values`` (changes).

    At least the kind's default, and enough for the largest change to show two significant
    figures, so the parts of a small change visibly add up (``−€0.024 + −€0.014 = −€0.038``
    rather than ``−€0.02 + −€0.01 = −€0.04``) and a yen ARPU that moves by ¥0.41 is not
    ``¥0``. ``fixed`` (the tree's ``decimals:``) wins.

    >>> table_decimals([-0.038, -0.024, -0.014], "currency", "EUR")
    3
    >>> table_decimals([4.13, 3.5], "currency", "USD"), table_decimals([0.41], "currency", "JPY")
    (2, 2)
    >>> table_decimals([0.41], "currency", "JPY", fixed=0), table_decimals([27500.0], "number")
    (0, 0)
    """
    if fixed is not None:
        return fixed
    default = default_decimals(kind, unit)
    if kind == "percent":
        return default
    largest = max((abs(float(v)) for v in values if v is not None and is_defined(v)),
                  default=0.0)
    if largest == 0.0:
        return default
    if largest >= 1000.0:
        return 0  # changes in the thousands: cents are noise (``+$12,346``)
    needed = 1 - math.floor(math.log10(largest))
    return max(default, min(MAX_DECIMALS, needed))


def share_of_change(part: float, delta: float, parts: Iterable[float]) -> str:
    """``part`` as a percent of ``delta``, or ``n/m`` (not meaningful) when the parts offset
    each other (one against the change's direction, so shares would exceed 100 %) or the
    change is zero.

    >>> share_of_change(3.5, 4.13, [3.5, 0.63]), share_of_change(-2.0, 1.0, [-2.0, 3.0])
    ('84.7 %', 'n/m')
    """
    if not delta or any(float(p) * delta < 0 for p in parts):
        return "n/m"
    return format_value(part / delta, "percent")


def format_value(value: float | None, kind: Kind = "number", unit: str | None = None, *,
                 decimals: int | None = None, compact: bool = False) -> str:
    """A value of the given kind, without a sign for positives.

    >>> format_value(51.2946, "currency", "USD")
    '$51.29'
    >>> format_value(-1234.5, "currency", "EUR")
    '−€1,234.50'
    >>> format_value(1234.5, "currency", "CHF")
    '1,234.50 CHF'
    >>> format_value(98765.4, "currency", "JPY")
    '¥98,765'
    >>> format_value(0.125838, "percent")
    '12.6 %'
    >>> format_value(46099.0), format_value(8.869859), format_value(0.0036, "currency", "USD")
    ('46,099', '8.87', '$0.0036')
    >>> format_value(None, "currency", "USD"), format_value(float("nan"), "percent")
    ('—', '—')
    """
    if not is_defined(value):
        return UNDEFINED
    x = float(value)  # type: ignore[arg-type]
    text, rounded = _magnitude(abs(x), kind, unit, decimals, compact)
    return f"{MINUS if x < 0 and rounded else ''}{text}"


def format_change(delta: float | None, kind: Kind = "number", unit: str | None = None, *,
                  decimals: int | None = None, compact: bool = False) -> str:
    """A change with an explicit sign; percent changes are in percentage points (``pp``).

    >>> format_change(3.6849, "currency", "USD"), format_change(-0.9576, "currency", "USD")
    ('+$3.68', '−$0.96')
    >>> format_change(-0.0123, "percent"), format_change(0.0161, "percent")
    ('−1.2 pp', '+1.6 pp')
    >>> format_change(-839.0), format_change(0.4455)
    ('−839', '+0.45')
    >>> format_change(-0.0036, "currency", "USD"), format_change(-1e-7, "currency", "USD")
    ('−$0.0036', '$0.00')
    >>> format_change(0.0, "percent")
    '0.0 pp'
    >>> format_change(None, "currency", "USD")
    '—'
    """
    if not is_defined(delta):
        return UNDEFINED
    x = float(delta)  # type: ignore[arg-type]
    text, rounded = _magnitude(abs(x), kind, unit, decimals, compact)
    if kind == "percent":
        text = text.removesuffix(" %") + " pp"
    if not rounded:
        return text
    return f"{'+' if x > 0 else MINUS}{text}"


def format_pct_change(base: float | None, compare: float | None) -> str:
    """The relative change ``(compare − base) / |base|`` with 1 decimal and a sign.

    Undefined cases read as words: ``new`` when there was nothing before (base undefined or
    zero), ``gone`` when there is nothing after (compare undefined), ``—`` when both are
    undefined.

    >>> format_pct_change(51.29, 55.43), format_pct_change(0.1562, 0.1358)
    ('+8.1 %', '−13.1 %')
    >>> format_pct_change(-10.0, -5.0), format_pct_change(4.0, 4.0)
    ('+50.0 %', '0.0 %')
    >>> format_pct_change(None, 170.77), format_pct_change(0.0, 3.0), format_pct_change(2.0, None)
    ('new', 'new', 'gone')
    >>> format_pct_change(0.0, 0.0), format_pct_change(None, None)
    ('0.0 %', '—')
    """
    has_base, has_compare = is_defined(base), is_defined(compare)
    if not has_base and not has_compare:
        return UNDEFINED
    if not has_compare:
        return "gone"
    if not has_base:
        return "new"
    b, c = float(base), float(compare)  # type: ignore[arg-type]
    if b == 0:
        return "0.0 %" if c == 0 else "new"
    return format_change((c - b) / abs(b), "percent").removesuffix(" pp") + " %"


def _decimals(magnitude: float, default: int) -> int:
    """``default`` decimals, more for a small non-zero magnitude (2 significant digits)."""
    if default == 0 or magnitude == 0 or magnitude >= 10.0**-default:
        return default  # whole-unit kinds (JPY, counts) never grow decimals
    if round(magnitude, MAX_DECIMALS) == 0:
        return default  # rounds to zero anyway: show the plain ``0.00``
    needed = 1 - math.floor(math.log10(magnitude))
    return max(default, min(MAX_DECIMALS, needed))


def _magnitude(x: float, kind: Kind, unit: str | None, fixed: int | None = None,
               compact: bool = False) -> tuple[str, bool]:
    """Text for ``x ≥ 0`` and whether it is non-zero at the shown precision."""
    match kind:
        case "percent":
            pct = x * 100.0
            decimals = _decimals(pct, 1)  # percents keep one decimal (``decimals`` is money's)
            return f"{pct:,.{decimals}f} %", round(pct, decimals) != 0
        case "currency":
            code = (unit or "").upper()
            default = 0 if code in ZERO_DECIMAL_CURRENCIES else 2
            if compact and x >= 1e6:
                scaled, suffix = (x / 1e9, "B") if x >= 1e9 else (x / 1e6, "M")
                places = max(0, 2 - math.floor(math.log10(scaled)))
                number = f"{scaled:,.{places}f}{suffix}"
                decimals = 0
            else:
                decimals = _decimals(x, default if fixed is None else fixed)
                number = f"{x:,.{decimals}f}"
            if code in CURRENCY_SYMBOLS:
                text = f"{CURRENCY_SYMBOLS[code]}{number}"
            else:
                text = f"{number} {unit}" if unit else number
            return text, x != 0 if compact and x >= 1e6 else round(x, decimals) != 0
        case "number":
            if fixed is None:
                decimals = 0 if x == int(x) else _decimals(x, 2)
            else:
                decimals = _decimals(x, fixed)
            return f"{x:,.{decimals}f}", round(x, decimals) != 0
    raise ValueError(f"unknown value kind {kind!r}; kinds: {', '.join(KINDS)}")
