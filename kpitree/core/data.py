"""Reading and checking the aggregated data a tree is evaluated on.

What belongs here: loading a CSV/Parquet file or taking a DataFrame, and checking it against a
tree (columns present, numbers numeric and finite, counts non-negative, labels present), with
errors that name the file, the column and the first bad row. What does not: arithmetic.

The user's data is never altered: bad values are reported, not fixed. The returned frame is a
new one holding only the columns the tree needs, period and segment labels as text.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd

from kpitree.core.errors import DataError, did_you_mean, listing
from kpitree.core.period_labels import match_period, ordered, period_text
from kpitree.core.tree import Tree

DataSource: TypeAlias = str | Path | pd.DataFrame

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(source: DataSource) -> tuple[pd.DataFrame, str, int]:
    """Read a source into a DataFrame; return it, its name for messages, and the row offset.

    The offset turns a 0-based row position into what the user sees: a CSV line number
    (header is line 1), or the 0-based position for Parquet and DataFrames.
    """
    if isinstance(source, pd.DataFrame):
        # Positional rows: the caller's index may repeat (e.g. after pd.concat). The caller's
        # frame itself is left untouched.
        return source.reset_index(drop=True), "data", 0
    path = Path(source)
    name = str(path)
    if not path.is_file():
        raise DataError(f"{name}: data file not found")
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"{name}: unsupported file type '{path.suffix}'; use .csv or .parquet"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{name}: the file is empty; it needs a header row and data rows")
    if kind == "csv":
        try:
            with warnings.catch_warnings():
                # A row longer than the header would be silently cut: make it an error.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                # Everything as text first: we decide what is numeric; '2026-09' stays a label.
                frame = pd.read_csv(path, dtype=str, keep_default_na=False,
                                    skipinitialspace=True, index_col=False)
        except pd.errors.ParserWarning:
            raise DataError(
                f"{name}: line {_first_long_line(path)} has more fields than the header row "
                "(a trailing comma?); fix the file so every row has one field per column"
            ) from None
        except pd.errors.EmptyDataError:
            raise DataError(
                f"{name}: the file is empty; it needs a header row and data rows"
            ) from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"{name}: cannot be read as CSV: {str(exc).strip()}") from None
        _check_unique_header(path, name)
        return frame, name, 2
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for corrupt files
        twice = _DUPLICATE_FIELD.search(str(exc))
        if twice:
            raise DataError(f"{name}: column '{twice.group(1)}' appears more than once in the "
                            "Parquet file; rename or drop the copies") from None
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{name}: cannot be read as Parquet: {first}") from None
    if frame.columns.duplicated().any():
        column = frame.columns[frame.columns.duplicated()][0]
        raise DataError(f"{name}: column '{column}' appears more than once in the Parquet "
                        "file; rename or drop the copies")
    # A stored index (pandas writes one) is not data: rows are positional.
    return frame.reset_index(drop=True), name, 0


_DUPLICATE_FIELD = re.compile(r"Multiple matches for FieldRef\.Name\(([^)]*)\)")


def _check_unique_header(path: Path, name: str) -> None:
    """Refuse a CSV header naming a column twice (pandas would keep the first copy silently)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        header = [cell.strip() for cell in next(csv.reader(handle), [])]
    seen: dict[str, int] = {}
    for number, column in enumerate(header, start=1):
        if column in seen:
            raise DataError(f"{name}: the header names column '{column}' twice (fields "
                            f"{seen[column]} and {number}); rename or remove one")
        seen[column] = number


def _first_long_line(path: Path) -> int:
    """1-based line number of the first CSV row with more fields than the header."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = csv.reader(handle)
        width = len(next(rows, []))
        for number, row in enumerate(rows, start=2):
            if len(row) > width:
                return number
    return 2


def read_for_tree(
    source: DataSource, tree: Tree, *, dims: Sequence[str], period_column: str
) -> tuple[pd.DataFrame, str, int]:
    """Read a source and check it has rows and every column the tree and dimensions need.

    Returns what :func:`read_table` returns. Raises :class:`DataError` naming a missing column,
    suggesting a close name and listing the columns present.
    """
    frame, name, offset = read_table(source)
    if frame.empty:
        raise DataError(f"{name}: the data has no rows")
    available = [str(c) for c in frame.columns]

    def require(column: str, role: str) -> None:
        if column not in frame.columns:
            raise DataError(
                f"{name}: missing column '{column}' ({role}).{did_you_mean(column, available)}"
                f" Columns present: {listing(available)}"
            )

    require(period_column, "the period; use --period-column to name another")
    for dim in dims:
        require(dim, "a segment dimension")
    for node, column in tree.columns.items():
        require(column, f"needed by node '{node}' of {tree.spec.source}")
    return frame, name, offset


def load_data(
    source: DataSource,
    tree: Tree,
    *,
    by: Sequence[str] | None = None,
    period_column: str = "period",
) -> pd.DataFrame:
    """Load and check the data for ``tree``; return a new frame with the needed columns.

    Columns: ``period_column`` and the segment dimensions as text, then one float column per
    column node (named after the *node*, not the data column).

    Raises:
        DataError: missing or misspelt column, missing/non-numeric/infinite value, negative
            count, missing segment label, empty data. Messages name the column and first row.
    """
    dims = list(tree.segments if by is None else by)
    frame, name, offset = read_for_tree(source, tree, dims=dims, period_column=period_column)

    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    labels, declared = period_text(frame[period_column])
    out[period_column] = _labels(labels, period_column, name, offset)
    if declared is not None:  # an ordered categorical: its order is the periods' order
        out.attrs["period_order"] = declared
    for column in dims:
        out[column] = _labels(frame[column], column, name, offset)
    counts = set(tree.count_columns)
    for node, column in tree.columns.items():
        out[node] = checked_numbers(frame[column], column, name, offset, count=column in counts)
    return out


def row_name(position: int, offset: int) -> str:
    """What the user sees for a 0-based row: ``line N`` of a CSV, else ``row N``."""
    return f"line {position + offset}" if offset else f"row {position}"


def _labels(series: pd.Series, column: str, name: str, offset: int) -> pd.Series:
    _refuse_nested(series, column, name, offset)
    if pd.api.types.is_datetime64_any_dtype(series):
        text = series.dt.strftime("%Y-%m-%d")
    else:
        text = series.astype("string").str.strip()
    missing = (text.isna() | (text == "")).to_numpy(dtype=bool)
    if missing.any():
        position = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"{name}: column '{column}' has an empty label at {row_name(position, offset)}; "
            "fill it in (e.g. 'unknown') so the row belongs to a segment"
        )
    return text.astype(object)


def checked_numbers(
    series: pd.Series, column: str, name: str, offset: int, *, count: bool
) -> pd.Series:
    """A measure column as floats; raises :class:`DataError` for the first bad cell."""
    if pd.api.types.is_bool_dtype(series):
        raise DataError(f"{name}: column '{column}' holds true/false values, not numbers")
    _refuse_nested(series, column, name, offset)
    if pd.api.types.is_numeric_dtype(series):
        values = series.astype(float)
        text = None
    else:
        # Text (a CSV is read as text): parsed as it is first — pandas' parser takes the
        # surrounding blanks — and only when a cell does not parse is the stripped text made,
        # to name it (no Python call per cell on clean data).
        values = pd.to_numeric(series, errors="coerce").astype(float)
        text = None
        if not np.isfinite(values.to_numpy()).all():
            text = series.astype(object).map(lambda v: "" if v is None else str(v).strip())
            values = pd.to_numeric(text.where(text != "", np.nan), errors="coerce").astype(float)
    array = values.to_numpy()
    bad = ~np.isfinite(array)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raw = "" if text is None else text.iloc[position]
        where = f"column '{column}' at {row_name(position, offset)}"
        if text is not None and raw not in ("", "nan", "NaN", "NA", "null", "None"):
            if np.isinf(array[position]):
                raise DataError(f"{name}: infinite value '{raw}' in {where}; use a finite number")
            raise DataError(f"{name}: non-numeric value '{raw}' in {where}; use a plain number")
        if np.isinf(array[position]):
            raise DataError(f"{name}: infinite value in {where}; use a finite number")
        raise DataError(
            f"{name}: missing value (NaN) in {where}; fill it in (0 if there was none) "
            "or drop the row"
        )
    if count and (array < 0).any():
        position = int(np.flatnonzero(array < 0)[0])
        raise DataError(
            f"{name}: negative count {array[position]:g} in column '{column}' at "
            f"{row_name(position, offset)}; counts (weights and denominators) must be ≥ 0"
        )
    _check_magnitude(array, column, name, offset, count=count)
    return pd.Series(array, index=values.index, dtype=float)


# Values whose sums, products or reciprocals would leave the range of a float: refused, so no
# explanation is silently made of infinities (1e308 + 1e308) or of 1 / 1e-320.
TINY_COUNT = 1e-300


def _check_magnitude(array: np.ndarray, column: str, name: str, offset: int, *,
                     count: bool) -> None:
    magnitude = np.abs(array)
    with np.errstate(over="ignore"):
        total = float(magnitude.sum())
    if not np.isfinite(total) or total > 1e300:
        position = int(np.argmax(magnitude))
        raise DataError(
            f"{name}: column '{column}' holds values too large to add up ({array[position]:g} "
            f"at {row_name(position, offset)}); rescale it (e.g. to thousands)")
    if count:
        tiny = (magnitude > 0) & (magnitude < TINY_COUNT)
        if tiny.any():
            position = int(np.flatnonzero(tiny)[0])
            raise DataError(
                f"{name}: count {array[position]:g} in column '{column}' at "
                f"{row_name(position, offset)} is too small to divide by; use 0 or a real "
                "count")


def _refuse_nested(series: pd.Series, column: str, name: str, offset: int) -> None:
    """Refuse a column of lists, arrays or mappings (a Parquet list or struct column)."""
    if series.dtype != object or pd.api.types.infer_dtype(series, skipna=True) in (
            "string", "empty", "floating", "integer", "mixed-integer-float", "decimal",
            "boolean", "bytes", "date", "datetime"):
        return  # the common case, told in one pass in C
    nested = series.map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray))
    if nested.any():
        position = int(np.flatnonzero(nested.to_numpy(dtype=bool))[0])
        raise DataError(
            f"{name}: column '{column}' holds lists or records (at "
            f"{row_name(position, offset)}), not single values; store one value per cell")


def periods_in(frame: pd.DataFrame, period_column: str = "period") -> list[str]:
    """Distinct periods in order: the order an ordered categorical declares, else time order
    for ISO labels (``period_text`` makes dates ISO) and natural order (``p2`` < ``p10``)."""
    return ordered(pd.unique(frame[period_column]).tolist(), frame.attrs.get("period_order"))


def check_period(frame: pd.DataFrame, period: object, name: str, period_column: str) -> str:
    """Return the period as it appears in the data, or raise listing the periods present.

    A date (``pd.Timestamp``, ``datetime.date``) or a date in words (``Oct 2026``) matches
    the label of the same day or month (:func:`kpitree.core.period_labels.match_period`).
    """
    present = periods_in(frame, period_column)
    found = match_period(period, present)
    if found is None:
        text = str(period).strip()
        raise DataError(
            f"{name}: period '{text}' is not in the data.{did_you_mean(text, present)} "
            f"Periods present: {listing(present)}"
        )
    return found
