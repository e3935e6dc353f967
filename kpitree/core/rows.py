"""Row-level data coded for many dimensions at once: the input of drivers, cross and bootstrap.

What belongs here: reading user-level (or any) rows for two periods, checking them like
:func:`kpitree.core.data.load_data` does, and coding every dimension as integers so that the
finest cells (one per combination present) and their measure sums come from a few ``bincount``
calls (:func:`cells_from_rows`, giving the one prepared-data type :class:`~kpitree.core.cells.
Cells`). What does not: any attribution.

Why not ``load_data`` + ``groupby``: with a million rows and six dimensions, stripping every
label and grouping on six text columns takes seconds. Here labels are factorised once per column
and only the *distinct* labels are converted and stripped; the checks and their messages are the
same (numbers go through :mod:`kpitree.core.data`'s own checker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpitree.core.cells import Cells, check_dims
from kpitree.core.data import DataSource, check_period, checked_numbers, read_for_tree, row_name
from kpitree.core.errors import DataError
from kpitree.core.period_labels import period_text
from kpitree.core.tree import Tree


@dataclass(frozen=True)
class Rows:
    """The rows of the two periods: dimension codes, period (0 base, 1 compare), measures."""

    dims: tuple[str, ...]
    periods: tuple[str, str]
    labels: tuple[tuple[str, ...], ...]  # per dimension, code → label (sorted)
    codes: np.ndarray  # (rows, dims) int64
    period: np.ndarray  # (rows,) 0 or 1
    measures: np.ndarray  # (rows, measures) float, columns in ``names`` order
    names: tuple[str, ...]  # the tree's column nodes
    source: str = "data"  # the data's name, for messages


def _factorize(
    series: pd.Series, column: str, name: str, offset: int
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes and sorted text labels of one label column (empty labels are reported)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    uniques = pd.Index(uniques)
    if isinstance(uniques, pd.DatetimeIndex):
        text = pd.Series(uniques.strftime("%Y-%m-%d"), dtype="string")
    else:
        text = pd.Series(uniques, dtype=object).astype("string").str.strip()
    bad_codes = np.flatnonzero((text.isna() | (text == "")).to_numpy(dtype=bool))
    missing = codes < 0
    if bad_codes.size:
        missing |= np.isin(codes, bad_codes)
    if missing.any():
        position = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"{name}: column '{column}' has an empty label at {row_name(position, offset)}; "
            "fill it in (e.g. 'unknown') so the row belongs to a segment"
        )
    # Distinct raw values may strip to the same label (' EU' and 'EU'): merge them, sorted.
    labels, remap = np.unique(text.to_numpy(dtype=object).astype(str), return_inverse=True)
    return remap.reshape(-1)[codes].astype(np.int64), tuple(str(x) for x in labels)


def load_rows(
    tree: Tree,
    data: DataSource,
    *,
    dims: Sequence[str],
    base: object,
    compare: object,
    period_column: str = "period",
) -> Rows:
    """Read and check ``data`` for ``tree``; keep the rows of ``base`` and ``compare``.

    Raises:
        DataError: as :func:`kpitree.core.data.load_data` (missing column, bad value, …) and an
            unknown period (listing those present).
    """
    dims = list(dims)
    check_dims(dims, period_column)
    tree.check_segments(dims)
    frame, name, offset = read_for_tree(data, tree, dims=dims, period_column=period_column)

    text, declared = period_text(frame[period_column])
    period_codes, period_labels = _factorize(text, period_column, name, offset)
    present = pd.DataFrame({period_column: list(period_labels)})
    if declared is not None:
        present.attrs["period_order"] = declared
    chosen = [check_period(present, p, name, period_column) for p in (base, compare)]
    index = {label: i for i, label in enumerate(period_labels)}
    code0, code1 = index[chosen[0]], index[chosen[1]]
    keep = (period_codes == code0) | (period_codes == code1)
    counts = set(tree.count_columns)
    names = tuple(tree.columns)
    measures = np.empty((int(keep.sum()), len(names)), dtype=float)
    for j, node in enumerate(names):
        column = tree.columns[node]
        # Checked on every row (a bad value in another period is still bad data).
        measures[:, j] = checked_numbers(frame[column], column, name, offset,
                                  count=column in counts).to_numpy()[keep]
    codes = np.empty((measures.shape[0], len(dims)), dtype=np.int64)
    labels = []
    for k, dim in enumerate(dims):
        dim_codes, dim_labels = _factorize(frame[dim], dim, name, offset)
        codes[:, k] = dim_codes[keep]
        labels.append(dim_labels)
    period = (period_codes[keep] == code1).astype(np.int64)
    if code0 == code1:  # base == compare: every row is in both periods
        codes = np.concatenate([codes, codes])
        measures = np.concatenate([measures, measures])
        period = np.concatenate([np.zeros(len(period), np.int64), np.ones(len(period), np.int64)])
    return Rows(dims=tuple(dims), periods=(chosen[0], chosen[1]), labels=tuple(labels),
                codes=codes, period=period, measures=measures, names=names, source=name)


def combine(codes: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """One int64 key per row from several code columns (mixed radix, order-preserving)."""
    key = np.zeros(codes.shape[0], dtype=np.int64)
    total = 1
    for k, size in enumerate(sizes):
        total *= max(int(size), 1)
        if total >= 2**62:
            # Too many combinations for one integer: rank the rows lexicographically instead.
            _, key = np.unique(codes, axis=0, return_inverse=True)
            return key.reshape(-1).astype(np.int64)
        key = key * max(int(size), 1) + codes[:, k]
    return key


def cells_from_rows(rows: Rows) -> tuple[Cells, np.ndarray, np.ndarray]:
    """The finest cells (combinations present in either period) and their sums.

    Returns the :class:`Cells` (sorted by label), each cell's value codes (cells × dimensions,
    indexes into ``rows.labels``) and each row's cell.
    """
    sizes = [len(labels) for labels in rows.labels]
    key = combine(rows.codes, sizes)
    unique, of_row = np.unique(key, return_inverse=True)
    of_row = of_row.reshape(-1)
    n_cells = len(unique)
    # Decode the cell keys back to codes (mixed radix) without touching the rows again.
    first = np.zeros(n_cells, dtype=np.int64)
    first[of_row[::-1]] = np.arange(len(of_row))[::-1]
    codes = rows.codes[first] if len(of_row) else np.zeros((0, len(sizes)), np.int64)
    slot = of_row + n_cells * rows.period
    sums = np.empty((2, n_cells, len(rows.names)))
    for j in range(len(rows.names)):
        sums[:, :, j] = np.bincount(slot, weights=rows.measures[:, j],
                                    minlength=2 * n_cells).reshape(2, n_cells)
    if rows.dims:
        keys = pd.DataFrame({d: np.asarray(rows.labels[k], dtype=object)[codes[:, k]]
                             for k, d in enumerate(rows.dims)})
    else:
        keys = pd.DataFrame(index=pd.RangeIndex(n_cells))
    cells = Cells(keys, rows.periods,
                  tuple({n: sums[t, :, j] for j, n in enumerate(rows.names)} for t in (0, 1)),
                  rows.source)
    return cells, codes, of_row
