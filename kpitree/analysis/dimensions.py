"""Dimensions as analysts have them: numeric columns bucketed before a driver search.

What belongs here: :func:`bucketed`, which replaces numeric dimension columns (seats, tenure,
age in months) by bucket labels — ``k`` quantile buckets over the rows of both periods, or
given edges — so the search treats them as any other dimension, and reports the edges it used;
:func:`relabel`, which puts other rows (a raw source's replicate sums) in those same buckets;
and :func:`parse_buckets` for the command line's ``--buckets seats=4 tenure=0,3,12``. What does
not: the search (:mod:`kpitree.analysis.search`), grouping values the search finds alike (a pocket
``region in (EU, UK)``, :mod:`kpitree.analysis.search`), or reading files
(:mod:`kpitree.core.data`).

Labels are half-open ranges in the column's own numbers — ``< 3``, ``[3, 12)``, ``≥ 12`` —
so a bucket says what it holds. Quantile edges are the distinct ``j/k`` quantiles of the
column over the users of the two periods compared (fewer buckets when values repeat): a row
counts as many times as its weight column says (one row per user counts once; a period ×
segment cell of 40 users, as a raw source's aggregate gives, counts 40 times), so the same
data gives the same buckets whether it comes as user rows or as cells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

import numpy as np
import pandas as pd

from kpitree.core.data import DataSource, read_for_tree, row_name
from kpitree.core.errors import DataError, UsageError
from kpitree.core.tree import Tree

Buckets = Mapping[str, int | Sequence[float]]


def parse_buckets(items: Sequence[str]) -> dict[str, int | list[float]]:
    """``["seats=4", "tenure=0,3,12"]`` → ``{"seats": 4, "tenure": [0.0, 3.0, 12.0]}``.

    Raises:
        UsageError: an item without ``=``, a count below 2, or an edge that is not a number.
    """
    out: dict[str, int | list[float]] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or not name or not spec:
            raise UsageError(f"--buckets {item}: use DIM=K (K quantile buckets) or "
                             "DIM=E1,E2,… (edges), e.g. seats=4 or tenure=0,3,12")
        if "," not in spec:
            try:
                count = int(spec)
            except ValueError:
                count = 0
            if count < 2:
                raise UsageError(f"--buckets {item}: the number of buckets must be a whole "
                                 "number ≥ 2 (or give edges: 0,3,12)")
            out[name] = count
            continue
        try:
            out[name] = sorted(float(x) for x in spec.split(","))
        except ValueError:
            raise UsageError(f"--buckets {item}: edges must be numbers, e.g. 0,3,12") from None
    return out


def _text(x: float) -> str:
    return f"{x:g}"


def edges_for(values: np.ndarray, spec: int | Sequence[float]) -> list[float]:
    """The inner edges: given, or the distinct ``j/k`` quantiles of ``values``."""
    if isinstance(spec, (int, np.integer)):
        qs = np.quantile(values, [j / int(spec) for j in range(1, int(spec))])
        return sorted({float(q) for q in qs if values.min() < q <= values.max()})
    return sorted({float(e) for e in spec})


def labels_for(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Each value's bucket label: ``< e1``, ``[e1, e2)``, …, ``≥ ek``."""
    if not edges:
        return np.full(len(values), "all", dtype=object)
    names = [f"< {_text(edges[0])}"]
    names += [f"[{_text(lo)}, {_text(hi)})" for lo, hi in pairwise(edges)]
    names.append(f"≥ {_text(edges[-1])}")
    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    return np.asarray(names, dtype=object)[index]


def bucketed(tree: Tree, data: DataSource, buckets: Buckets, *, dims: Sequence[str],
             base: object, compare: object, period_column: str = "period"
             ) -> tuple[pd.DataFrame, dict[str, list[float]]]:
    """``data`` with each dimension of ``buckets`` replaced by its bucket labels, and the
    inner edges used for each (given, or the quantiles found).

    Quantiles are taken over the rows of ``base`` and ``compare`` only. The edges returned put
    other rows in the same buckets (:func:`relabel`; given as ``buckets`` again, they are
    used as they are).

    Raises:
        DataError: a bucketed dimension that is not one of ``dims``, or a value that is not a
            number (naming the column and the row).
    """
    frame, name, offset = read_for_tree(data, tree, dims=dims, period_column=period_column)
    used: dict[str, list[float]] = {}
    counts = _user_counts(tree, frame)
    periods = frame[period_column].astype(str).str.strip()
    compared = periods.isin([str(base), str(compare)]).to_numpy()
    for dim, spec in buckets.items():
        if dim not in dims:
            raise DataError(f"{name}: --buckets names '{dim}', which is not one of the --dims "
                            f"({', '.join(dims)}); add it there")
        numbers = pd.to_numeric(frame[dim], errors="coerce")
        bad = numbers.isna() & frame[dim].notna()
        if bad.any():
            position = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{name}: column '{dim}' has {str(frame[dim].iloc[position])!r} at "
                            f"{row_name(position, offset)}, not a number; bucket only numeric "
                            "dimensions (or leave it out of --buckets)")
        values = numbers.to_numpy(dtype=float)
        known = ~np.isnan(values)
        chosen = _by_users(values, counts, compared & known)
        used[dim] = edges_for(chosen if chosen.size else values[known], spec)
    return relabel(frame, used), used


def _user_counts(tree: Tree, frame: pd.DataFrame) -> np.ndarray | None:
    """How many users each row holds: its weight column, when that is a column of whole
    numbers ≥ 0; None (each row once) otherwise."""
    column = tree.columns.get(tree.weight)
    if column is None or column not in frame.columns:
        return None
    counts = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(counts)) or (counts < 0).any() or (counts != np.round(counts)).any():
        return None
    return counts.astype(np.int64)


def _by_users(values: np.ndarray, counts: np.ndarray | None, keep: np.ndarray) -> np.ndarray:
    """The kept rows' values, each repeated once per user it holds."""
    if counts is None:
        return values[keep]
    return np.repeat(values[keep], counts[keep])


def relabel(frame: pd.DataFrame, edges: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """``frame`` with each column of ``edges`` replaced by its bucket labels under those edges
    (the ones :func:`bucketed` used), so other rows of the same data fall in the same buckets.

    Raises:
        DataError: a value that is not a number.
    """
    frame = frame.copy()
    for dim, inner in edges.items():
        numbers = pd.to_numeric(frame[dim], errors="coerce")
        bad = numbers.isna() & frame[dim].notna()
        if bad.any():
            raise DataError(f"column '{dim}' has {str(frame[dim][bad].iloc[0])!r}, not a "
                            "number; bucket only numeric dimensions")
        values = numbers.to_numpy(dtype=float)
        labels = labels_for(values, list(inner))
        labels[np.isnan(values)] = None  # an empty label: reported by the row loader
        frame[dim] = labels
    return frame


__all__ = ["Buckets", "bucketed", "edges_for", "labels_for", "parse_buckets", "relabel"]
