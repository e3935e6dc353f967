"""Is it real? Poisson-bootstrap intervals for the totals and effects of an explanation.

What belongs here: resampling row-level data (one row per user × period) with Poisson(1)
weights, recomputing a one-level explanation on every replicate (vectorised over replicates,
the same functions as :func:`kpitree.explain`) and turning the replicates into percentile
intervals. What does not: the search for segments (:mod:`kpitree.analysis.drivers`) or printing.

The Poisson bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012) gives every row an
independent Poisson(1) count per replicate instead of drawing ``n`` rows with replacement; for
large ``n`` it is the same bootstrap, and it needs no shuffling, so it vectorises: for a block of
rows, the counts form a matrix ``K`` (rows × replicates) and every segment's replicate sums are
one matrix product ``Xᵀ·K``. Counts come from 16-bit uniforms through the Poisson(1) CDF (each
probability exact to 1/65 536). The same ``seed`` gives the same intervals, byte for byte.

**Hashed counts** (``keys=``, :func:`user_keys`): when the rows carry a user id, a user's count
in replicate ``r`` is a function of (id, ``r``, ``seed``) alone — the same in both periods (a
user is resampled as one unit) and computable by a database: ``key`` = the first seven hex
digits of ``md5("<id>:<seed>")``; ``x = (key·40499 + (r + 1)·2654435761) mod p`` with the prime
``p = 67108859`` (below 2²⁶), then three rounds ``x = (x² + c) mod p`` (``c`` = 1013904223,
12345, 7); the 16-bit uniform is ``x mod 65536``. The recipe and its constants live in
:mod:`kpitree.core.resample`, which :mod:`kpitree.io.events.cells` writes as the engine's
expression, so intervals pushed down to the engine equal the in-memory ones to the cent.

The rows must be independent units (users): on pre-aggregated rows (one row per segment) the
resampling is meaningless and the intervals are not intervals of anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from kpitree.core import progress
from kpitree.core.data import DataSource, read_for_tree
from kpitree.core.errors import DataError, MethodError
from kpitree.core.evaluate import node_values
from kpitree.core.levels import driver_values, fill_drivers, fill_rates, shares_of
from kpitree.core.resample import UNIFORM, hashed_counts, poisson_counts
from kpitree.core.result import Explanation, Intervals
from kpitree.core.rows import load_rows
from kpitree.core.shapley import mix_rate, split_part
from kpitree.core.tree import Tree

METHOD = "poisson bootstrap, percentile"
BLOCK_ROWS = 8192  # rows per block of counts; fixed, so a seed always draws the same numbers

def replicate_sums(
    groups: np.ndarray,
    measures: np.ndarray,
    *,
    n_groups: int,
    replicates: int,
    seed: int,
    keys: np.ndarray | None = None,
) -> np.ndarray:
    """Poisson-bootstrap sums of ``measures`` per group: shape (replicates, groups, measures).

    ``groups`` gives each row's group (0 … n_groups − 1). Vectorised: per block of rows, one
    matrix of counts and one product ``Xᵀ·K`` per group present in the block. With ``keys``
    (each row's user key, :func:`user_keys` — built with the same ``seed``) the counts are the
    hashed ones, so a user's rows share one count per replicate; without, they are drawn
    per row from ``seed``.
    """
    order = np.argsort(groups, kind="stable")
    groups = groups[order]
    measures = measures[order]
    if keys is not None:
        keys = keys[order]
    rng = np.random.default_rng(seed)
    out = np.zeros((n_groups, measures.shape[1], replicates))
    counts = np.empty((min(BLOCK_ROWS, len(groups)), replicates), dtype=np.float64)
    for start in range(0, len(groups), BLOCK_ROWS):
        progress.report("bootstrap", start / len(groups))
        stop = min(start + BLOCK_ROWS, len(groups))
        size = stop - start
        if keys is not None:
            k = hashed_counts(keys[start:stop], replicates)
        else:
            k = poisson_counts(rng.integers(0, UNIFORM, size=(size, replicates),
                                            dtype=np.uint16))
        block = counts[:size]
        block[...] = k
        block_groups = groups[start:stop]
        edges = np.flatnonzero(np.diff(block_groups)) + 1
        for lo, hi in zip(np.r_[0, edges], np.r_[edges, size], strict=True):
            # einsum, not BLAS: many small products, where BLAS threads only contend.
            out[block_groups[lo]] += np.einsum("ij,ik->jk", measures[start + lo:start + hi],
                                               block[lo:hi], optimize=False)
    progress.report("bootstrap", 1.0)
    return out.transpose(2, 0, 1)


@dataclass(frozen=True)
class ReplicateSplit:
    """One-level Shapley pieces of many replicates of the same cells, each (replicates, cells).

    ``shares``/``weighted`` (share × rate) and ``level`` (the root on all cells, shape
    (replicates, 1)) per period; ``mix`` per cell; ``rate`` per driver path per cell.
    """

    shares: tuple[np.ndarray, np.ndarray]
    weighted: tuple[np.ndarray, np.ndarray]
    level: tuple[np.ndarray, np.ndarray]
    mix: np.ndarray
    rate: dict[tuple[str, ...], np.ndarray]


def replicate_split(
    tree: Tree, names: Sequence[str], sums0: np.ndarray, sums1: np.ndarray, *, cells: str
) -> ReplicateSplit:
    """The one-level Shapley split of ``sums0``/``sums1`` (replicates, cells, measures).

    It calls the same functions as :func:`kpitree.explain` with one level
    (:func:`kpitree.core.shapley.mix_rate`, :func:`kpitree.core.shapley.split_part` and the
    conventions of :mod:`kpitree.core.levels`), on arrays with a replicate axis; ``cells``
    names the cells in error messages ("a bootstrap replicate", "a driver-search cell").
    The bootstrap and the driver search both evaluate their replicates here.
    """
    n_rep, n_cells, _ = sums0.shape
    flat, values = [], []
    for sums in (sums0, sums1):
        columns = {n: sums[:, :, j].reshape(-1) for j, n in enumerate(names)}
        flat.append(columns)
        try:
            values.append(node_values(tree, columns, lambda row: cells))
        except DataError:
            raise DataError(
                "a bootstrap resample has a numerator without its denominator (e.g. revenue "
                "with no users); intervals need one row per user, each with its own counts"
            ) from None
    weight = [v[tree.weight].reshape(n_rep, n_cells) for v in values]
    root = [v[tree.root].reshape(n_rep, n_cells) for v in values]
    shares = [shares_of(w, w.sum(axis=1, keepdims=True)) for w in weight]
    weighted = [np.where(w > 0, s * r, 0.0) for w, s, r in zip(weight, shares, root, strict=True)]
    level = [x.sum(axis=1, keepdims=True) for x in weighted]
    r0, r1 = fill_rates(root[0], root[1], weight[0], weight[1])
    mix, _, scale = mix_rate(shares[0], shares[1], r0, r1, level[0], level[1])

    def on_zero(path: tuple[str, ...], row: int) -> str:
        return (f"driver {' → '.join(path)} divides a non-zero number by zero in {cells}; "
                "intervals need one row per user, each with its own counts")

    drivers = fill_drivers(*(driver_values(tree, flat[t], n_rep * n_cells, on_zero)
                             for t in (0, 1)))
    _, _, split = split_part(tree.structure, drivers[0], drivers[1])
    rate = {path: scale * value.reshape(n_rep, n_cells) for path, value in split.items()}
    return ReplicateSplit((shares[0], shares[1]), (weighted[0], weighted[1]),
                          (level[0], level[1]), mix, rate)


def one_level_effects(
    tree: Tree, names: Sequence[str], sums0: np.ndarray, sums1: np.ndarray
) -> dict[tuple[str, tuple[str, ...] | None], np.ndarray]:
    """A one-level Shapley explanation on many replicates at once (:func:`replicate_split`).

    ``sums0``/``sums1`` have shape (replicates, groups, measures). Returns arrays of shape
    (replicates, groups) keyed ``("mix", None)`` and ``("rate", driver path)``, and arrays of
    shape (replicates,) keyed ``("total:mix", None)``, ``("total:rate", None)`` and
    ``("total:delta", None)``.
    """
    split = replicate_split(tree, names, sums0, sums1, cells="a bootstrap replicate")
    out: dict[tuple[str, tuple[str, ...] | None], np.ndarray] = {("mix", None): split.mix}
    rate_total = np.zeros_like(split.mix)
    for path, effect in split.rate.items():
        out[("rate", path)] = effect
        rate_total = rate_total + effect
    out[("total:mix", None)] = split.mix.sum(axis=1)
    out[("total:rate", None)] = rate_total.sum(axis=1)
    out[("total:delta", None)] = (split.level[1] - split.level[0]).reshape(-1)
    return out


def intervals_for_groups(
    result: Explanation,
    groups: np.ndarray,
    period: np.ndarray,
    measures: np.ndarray,
    names: Sequence[str],
    labels: Sequence[str],
    *,
    replicates: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> Intervals:
    """Intervals for a one-level ``result`` whose segment ``labels[g]`` holds the rows with
    ``groups == g`` (``period`` 0 base, 1 compare)."""
    if replicates < 10:
        raise MethodError(f"bootstrap needs at least 10 replicates, not {replicates}")
    if not 0.5 <= level < 1:
        raise MethodError(f"interval level {level:g} must be between 0.5 and 1 (e.g. 0.95)")
    n_groups = len(labels)
    slot = groups + n_groups * period
    sums = replicate_sums(slot, measures, n_groups=2 * n_groups, replicates=replicates,
                          seed=seed)
    effects = one_level_effects(tree=result.tree, names=names, sums0=sums[:, :n_groups],
                                sums1=sums[:, n_groups:])
    # The same formulas on the data itself must give the explanation's own numbers.
    point_sums = np.zeros((2 * n_groups, measures.shape[1]))
    np.add.at(point_sums, slot, measures)
    point = one_level_effects(result.tree, names, point_sums[None, :n_groups],
                              point_sums[None, n_groups:])
    alpha = (1 - level) / 2
    quantiles = {key: np.quantile(value, [alpha, 1 - alpha], axis=0)
                 for key, value in effects.items()}
    dims = list(result.by)
    index = {label: g for g, label in enumerate(labels)}
    low = np.full(len(result.effects), np.nan)
    high = np.full(len(result.effects), np.nan)
    for i, row in enumerate(result.effects.itertuples(index=False)):
        g = index[getattr(row, dims[0])] if dims else 0
        key = ("mix", None) if row.kind == "mix" else ("rate", tuple(row.path))
        if key not in quantiles or row.kind == "interaction":
            raise MethodError("bootstrap intervals support the shapley method only")
        if abs(point[key][0, g] - row.value) > 1e-9 * max(1.0, abs(result.base.value),
                                                         abs(result.compare.value)):
            raise RuntimeError(  # pragma: no cover - would be a bug
                "internal error: the bootstrap's formulas do not reproduce the explanation")
        low[i], high[i] = quantiles[key][0, g], quantiles[key][1, g]
    table = pd.DataFrame({"low": low, "high": high}, index=result.effects.index)
    table["noise"] = (table["low"] <= 0) & (table["high"] >= 0)
    totals = {kind: (float(quantiles[(f"total:{kind}", None)][0]),
                     float(quantiles[(f"total:{kind}", None)][1]))
              for kind in ("mix", "rate", "delta")}
    whole = sum(v for k, v in effects.items() if k[0] in ("mix", "rate"))
    bounds = np.quantile(whole, [alpha, 1 - alpha], axis=0)
    segments = {label: (float(bounds[0, g]), float(bounds[1, g]))
                for g, label in enumerate(labels)}
    return Intervals(level=level, replicates=replicates, seed=seed, method=METHOD,
                     totals=totals, segments=segments, effects=table)


def with_intervals(
    result: Explanation,
    data: DataSource,
    *,
    replicates: int = 200,
    level: float = 0.95,
    seed: int = 0,
    period_column: str = "period",
) -> Explanation:
    """Return ``result`` with bootstrap intervals from the row-level ``data`` it came from.

    Works for a Shapley explanation with at most one segment dimension (``by=[tier]``) and for
    :func:`kpitree.analysis.drivers` results; ``data`` must hold one row per user × period.

    Raises:
        MethodError: nested dimensions, another method, fewer than 10 replicates.
        DataError: as :func:`kpitree.explain`.

    Example:
        >>> result = with_intervals(explain(tree, users, base="p0", compare="p1", by=["tier"]),
        ...                         users, seed=1)  # doctest: +SKIP
        >>> result.intervals.totals["mix"]  # doctest: +SKIP
        (0.41…, 0.77…)
    """
    assign = getattr(result, "assign_rows", None)
    if assign is not None:
        return assign(data, replicates=replicates, level=level, seed=seed,
                      period_column=period_column)
    if result.method != "shapley" or len(result.by) > 1:
        raise MethodError(
            "bootstrap intervals need a shapley explanation with at most one dimension "
            f"(this one: {result.method}, by {', '.join(result.by) or 'nothing'}); use "
            "kpitree drivers for several dimensions"
        )
    check_units(result.tree, data, period_column=period_column)
    rows = load_rows(result.tree, data, dims=result.by, base=result.base.period,
                     compare=result.compare.period, period_column=period_column)
    labels = list(rows.labels[0]) if result.by else ["total"]
    groups = rows.codes[:, 0] if result.by else np.zeros(len(rows.period), dtype=np.int64)
    try:
        intervals = intervals_for_groups(result, groups, rows.period, rows.measures, rows.names,
                                         labels, replicates=replicates, level=level, seed=seed)
    except KeyError as exc:  # pragma: no cover - data differs from the result's
        raise DataError(f"the data does not match the explanation (segment {exc})") from None
    return replace(result, intervals=intervals)


def aggregated_rows(tree: Tree, data: DataSource, *, period_column: str = "period"
                    ) -> str | None:
    """Why ``data`` is not one row per user (the bootstrap's unit), or ``None`` if it may be.

    A row of user-level data counts at most one unit of the weight (``active_users`` 0 or 1);
    a row that counts more — an aggregated period × segment row — is many users at once, and
    resampling such rows says nothing about the noise in the effects.
    """
    frame, name, _ = read_for_tree(data, tree, dims=[], period_column=period_column)
    largest = 0.0
    for node in tree.column_nodes_under(tree.weight):
        values = pd.to_numeric(frame[tree.columns[node]], errors="coerce")
        largest = max(largest, float(values.abs().max(skipna=True) or 0.0))
    if largest <= 1.0:
        return None
    return (f"{name} holds up to {largest:,.0f} {tree.label(tree.weight).lower()} per row "
            "(aggregated rows, not one row per user)")


def check_units(tree: Tree, data: DataSource, *, period_column: str = "period") -> None:
    """Refuse bootstrap intervals on aggregated rows (see :func:`aggregated_rows`).

    Raises:
        DataError: the rows are aggregated; the message says what data the bootstrap needs.
    """
    why = aggregated_rows(tree, data, period_column=period_column)
    if why is not None:
        raise DataError(f"bootstrap intervals need one row per user and period, but {why}; "
                        "pass user-level rows, or leave the intervals out (replicates=0)")


__all__ = ["METHOD", "aggregated_rows", "check_units", "intervals_for_groups",
           "one_level_effects", "replicate_sums", "with_intervals"]
