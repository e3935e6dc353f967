"""What the slides and the workbook share: stable zip bytes, number formats, safe cell text.

What belongs here: the small rules the Office files of the review pack (:mod:`kpitree.present.deck`,
:mod:`kpitree.present.workbook`) have in common — rewriting an Office zip with fixed timestamps
so that the same explanation gives the same bytes, the Excel number format of each value kind
(:data:`kpitree.core.formatting.KINDS`), keeping data text from becoming a live spreadsheet
formula, and writing a built file atomically. What does not: what the slides or sheets show
(their own modules), the formatting of figures shown as text (:mod:`kpitree.core.formatting`).
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

from kpitree.core.errors import RenderError, WriteError
from kpitree.core.files import write_bytes
from kpitree.core.formatting import CURRENCY_SYMBOLS, ZERO_DECIMAL_CURRENCIES, Kind
from kpitree.core.safety import csv_cell

__all__ = ["FIXED_TIME", "excel_format", "safe_text", "stable_zip", "write_office_file"]

# Office files carry a creation date; a fixed one keeps the pack byte-identical run to run.
FIXED_TIME = datetime(2000, 1, 1, 0, 0, 0)  # Office stores naive UTC times
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def stable_zip(data: bytes) -> bytes:
    """``data`` (an .xlsx or .pptx zip) rewritten with every member's time fixed, same order.

    Both python-pptx and XlsxWriter stamp zip members with the clock; the members themselves
    are deterministic once the document's creation date is fixed (:data:`FIXED_TIME`).
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            target.writestr(info, source.read(item.filename))
    return out.getvalue()


def excel_format(kind: Kind, unit: str | None, *, change: bool = False,
                 whole: bool = False) -> str:
    """The Excel number format of a value kind, mirroring :mod:`kpitree.core.formatting`.

    ``change`` gives a signed format (``+$4.13``); small contributions keep up to four
    decimals (``−$0.0034``) like the text formatter. ``whole`` drops the decimals of a plain
    number (user counts).

    >>> excel_format("currency", "USD"), excel_format("percent", None, change=True)
    ('"$"#,##0.00', '+0.0%;-0.0%;0.0%')
    """
    if kind == "percent":
        body = "0.0%"
    elif kind == "currency" and unit:
        decimals = "" if unit in ZERO_DECIMAL_CURRENCIES else ".00"
        number = "#,##0" + decimals + ("##" if change and decimals else "")
        symbol = CURRENCY_SYMBOLS.get(unit)
        body = f'"{symbol}"{number}' if symbol else f'{number}" {unit}"'
    else:
        body = "#,##0" if whole else "#,##0.00" + ("##" if change else "")
    if not change:
        return body
    return f"+{body};-{body};{body}"


def safe_text(value: object) -> str:
    """A data value as inert cell text: one that would start a formula gets a leading quote.

    A segment named ``=HYPERLINK(...)`` must stay text in the workbook (OWASP "CSV
    injection"); XlsxWriter's ``write_string`` never makes formulas, but a user copying the
    cell into another sheet would, so the text is disarmed by the same rule as the CSV files
    (:func:`kpitree.core.safety.csv_cell`).
    """
    return str(csv_cell(str(value)))


def write_office_file(path: str | Path, data: bytes) -> Path:
    """Write a built deck or workbook to ``path`` (atomic: a failed write leaves the old file
    as it was) and return it.

    Raises:
        RenderError: ``path`` cannot be written.
    """
    try:
        return write_bytes(path, data)
    except WriteError as exc:
        raise RenderError(str(exc)) from exc
