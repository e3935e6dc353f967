"""Every event id once: the exact duplicate-id check, as cheap as each engine allows.

What belongs here: :func:`check_event_ids`, which counts the events of the periods that repeat
an id, exactly, and names one repeated id when there is any. Three ways, cheapest first:

* DuckDB over Parquet files with integer ids: the ids' range in the row groups that can hold
  the periods' events is read from the files' statistics (free), and one ungrouped pass sets a
  bit per id (``bitstring_agg``): the ids are distinct exactly when the bits set equal the ids
  counted. Linear, no sort, no hash table, a bitmap of range / 8 bytes per thread (refused past
  :data:`MAX_BITMAP_BITS`, and for ids spread far wider than the rows);
* DuckDB otherwise: the ids sorted and each compared with the one before (logs come nearly in
  id order, so this is about three times cheaper than grouping);
* other engines: a grouping by the id (a window over the whole table would gather it on one
  Spark executor).

A repeat found by the first two is then located by the grouping, which runs only on failure.
NULL ids count like a value: two events without an id repeat one. What does not belong here:
the profile of kinds, statuses, amounts and currencies (:mod:`kpitree.io.events.checks`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from kpitree.core.errors import DataError
from kpitree.io.events.execute import execute
from kpitree.io.events.plan import Plan

# The largest id range checked with a bitmap: 2**27 bits is 16 MiB per DuckDB thread.
MAX_BITMAP_BITS = 2**27
# … and only when the ids are no sparser than this many possible ids per row.
MAX_BITS_PER_ROW = 64
# Row groups whose time statistics come this close to the periods are kept (naive times are
# compared as UTC wall-clock, so a day covers every zone).
STATS_MARGIN = dt.timedelta(days=1)

__all__ = ["MAX_BITMAP_BITS", "bitmap_extra", "check_event_ids", "id_range", "repeats"]


def check_event_ids(plan: Plan, scoped: Any, event_id: Any, span: tuple[dt.date, dt.date]
                    ) -> None:
    """Refuse repeated event ids among ``scoped`` (the periods' events, ``span`` = [lo, hi)).

    Raises:
        DataError: how many events repeat an id, with one repeated id and its count.
    """
    ids = scoped.select(k_id=event_id)
    if plan.source.engine == "duckdb":
        extra = _bitmap_extra(plan, ids, span)
        if extra is None:
            extra = _sorted_extra(plan, ids)
        if not extra:
            return
    repeated = repeats(plan, ids, keys={"k_id": "k_id"}, order="k_id",
                       stages=("checking event ids", "finding a duplicate"))
    if repeated is None:
        return
    extra, first = repeated
    column = plan.definition.events.id
    example = (f"{int(first['n'])} events have no {column} (NULL)" if pd.isna(first["k_id"])
               else f"{column} {first['k_id']} appears {int(first['n'])} times")
    raise DataError(
        f"{plan.source.name}: {extra:,} events repeat an event id ({example}); de-duplicate "
        "the event log — kpitree does not guess which copy counts"
    )


def repeats(plan: Plan, scoped: Any, *, keys: dict[str, Any], order: str | list[str],
            stages: tuple[str, str]) -> tuple[int, pd.Series] | None:
    """Rows of ``scoped`` that repeat a key: how many extra rows, and the first repeated key.

    Exact, in one grouping by the key's own columns (``keys``; no text concatenation, no
    separate COUNT(DISTINCT)): the groups seen more than once and their extra rows. The
    example row (its key and count ``n``) is looked up only when there is a repeat.
    ``stages`` names the two queries for the progress callback. None when every key appears
    once.
    """
    repeated = scoped.group_by(**keys).aggregate(n=lambda t: t.count()).filter(
        lambda t: t.n > 1)
    counts = execute(plan, repeated.aggregate(extra=lambda t: (t.n - 1).sum()), stages[0])
    value = counts["extra"].iloc[0]
    extra = 0 if pd.isna(value) else int(value)
    if not extra:
        return None
    example = execute(plan, repeated.order_by(order).limit(1), stages[1])
    return extra, example.iloc[0]


def _sorted_extra(plan: Plan, ids: Any) -> int:
    """Events whose id equals the one before in id order (NULLs sort together)."""
    lagged = ids.mutate(k_prev=ids.k_id.lag().over(plan.ibis.window(order_by=ids.k_id)))
    same = (lagged.k_id == lagged.k_prev) | (lagged.k_id.isnull() & lagged.k_prev.isnull())
    return int(execute(plan, lagged.filter(same).aggregate(n=lambda t: t.count()),
                       "checking event ids")["n"].iloc[0])


def _bitmap_extra(plan: Plan, ids: Any, span: tuple[dt.date, dt.date]) -> int | None:
    """Extra events by one bit per id (DuckDB, integer ids in Parquet), or None if it cannot."""
    d = plan.definition.events
    if d.id is None:
        return None
    return bitmap_extra(plan, ids, "k_id", role="events", column=d.id, time=d.time, span=span)


def bitmap_extra(plan: Plan, table: Any, key: str, *, role: str, column: str, time: str,
                 span: tuple[dt.date, dt.date], by: str | None = None, groups: int = 1
                 ) -> int | None:
    """Rows of ``table`` repeating ``key`` (within each ``by`` group), by one bit per value.

    ``table[key]`` is ``column`` of the ``role`` table's Parquet files, ``time`` the column
    whose statistics tell which row groups can hold ``span``. Per group, ``count(key) - bits
    set`` rows repeat a non-NULL value and NULLs beyond the first repeat NULL. None when the
    source is not DuckDB on Parquet, the key is not an integer, the footers have no usable
    statistics, or ``groups`` bitmaps of the range would be too large — the caller then sorts
    or groups.
    """
    if plan.source.engine != "duckdb" or not table[key].type().is_integer():
        return None
    bounds = id_range(plan, role, column, time, span, groups)
    if bounds is None:
        return None
    lo, hi = bounds
    ibis = plan.ibis

    @ibis.udf.agg.builtin
    def bitstring_agg(arg: int, low: int, high: int) -> bytes:  # type: ignore[empty-body]
        """DuckDB's bitstring_agg: a bitstring with one bit set per distinct value."""

    @ibis.udf.scalar.builtin
    def bit_count(arg: bytes) -> int:  # type: ignore[empty-body]
        """DuckDB's bit_count: the bits set."""

    value = table[key].cast("int64")
    measures = {"n": table.count(), "n_key": value.count(),
                "bits": bit_count(bitstring_agg(value, ibis.literal(lo, type="int64"),
                                                ibis.literal(hi, type="int64")))}
    query = (table.group_by(by).aggregate(**measures) if by is not None
             else table.aggregate(**measures))
    try:
        counts = execute(plan, query, f"checking {role}")
    except Exception:  # a value outside the statistics' range: the statistics were wrong
        return None
    n, n_key = counts["n"].astype("int64"), counts["n_key"].astype("int64")
    bits = counts["bits"].fillna(0).astype("int64")
    return int(((n_key - bits) + (n - n_key - 1).clip(lower=0)).sum())


def id_range(plan: Plan, role: str, column: str, time: str, span: tuple[dt.date, dt.date],
             groups: int = 1) -> tuple[int, int] | None:
    """The smallest and largest ``column`` value in the row groups that can hold ``span``.

    From the Parquet footers of the ``role`` table (no scan): a row group is kept unless the
    statistics of ``time`` lie wholly outside ``span`` widened by :data:`STATS_MARGIN`. None
    when the table is not Parquet files, a kept row group has no statistics for ``column``, or
    ``groups`` bitmaps of the range would be wider than :data:`MAX_BITMAP_BITS` or sparser
    than :data:`MAX_BITS_PER_ROW` bits per row.
    """
    files = plan.source.parquet.get(role)
    if not files:
        return None
    lo = dt.datetime.combine(span[0], dt.time()) - STATS_MARGIN
    hi = dt.datetime.combine(span[1], dt.time()) + STATS_MARGIN
    try:
        row = plan.source.backend.con.execute(
            """
            WITH m AS (SELECT file_name, row_group_id, row_group_num_rows AS n,
                              path_in_schema AS col, stats_min, stats_max
                       FROM parquet_metadata($files)
                       WHERE path_in_schema IN ($id, $time)),
                 kept AS (
                   SELECT i.n, TRY_CAST(i.stats_min AS HUGEINT) AS lo,
                          TRY_CAST(i.stats_max AS HUGEINT) AS hi
                   FROM m AS i LEFT JOIN m AS t
                     ON t.file_name = i.file_name AND t.row_group_id = i.row_group_id
                        AND t.col = $time
                   WHERE i.col = $id AND NOT coalesce(
                     TRY_CAST(t.stats_max AS TIMESTAMP) < $lo
                     OR TRY_CAST(t.stats_min AS TIMESTAMP) >= $hi, false))
            SELECT count(*), count(lo) + count(hi), min(lo), max(hi), sum(n) FROM kept
            """,
            {"files": files, "id": column, "time": time, "lo": lo, "hi": hi},
        ).fetchone()
    except Exception:  # no metadata function, or footers it cannot read: sort instead
        return None
    if row is None:
        return None
    kept, known, low, high, rows = row
    if not kept or known != 2 * kept:
        return None
    low, high, rows = int(low), int(high), int(rows or 0)
    width = (high - low + 1) * max(groups, 1)
    if width > MAX_BITMAP_BITS or width > MAX_BITS_PER_ROW * max(rows, 1):
        return None
    if low < -(2**63) or high >= 2**63:
        return None
    return low, high
