"""Exact attribution of a change in the root into mix, rate (down to drivers) and interaction.

What belongs here: the maths of DESIGN.md §3 on arrays — the per-level mix/rate split for nested
segments, the split of a segment's rate change through the formula to its drivers (linear for
sums, exact Shapley for products), and the three methods. What does not: reading files,
formatting, drawing.

Notation (DESIGN.md §3): for one level, ``w`` is a segment's share of its parent's weight and
``r`` its rate (the root evaluated on the segment); ``0`` is the base and ``1`` the compare period.

* ``shapley`` (default): mix ``M·(w1 − w0)·(r̄ − R̄)`` where ``R̄`` is the parent's mean rate,
  rate ``M·w̄·(r1 − r0)`` split further; ``M`` is the product of the ancestors' mean shares.
* ``sequential``: mix at base rates ``M·Δw·(r0 − R0)``, rate at base shares ``M·w0·Δr``, and the
  interaction ``M·Δw·Δr`` as its own kind.
* ``lmdi``: LMDI-I on the expanded sum of products ``Σ Π shares · Π drivers``; each term's change
  ``L(V1, V0)·ln(x1/x0)`` per factor, zeros by the analytical limits (Ang & Liu 2007).

Every method is exact: the effects add up to ``A1 − A0``; :class:`~kpitree.core.result.Explanation`
checks this each time one is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd

from kpitree.core.data import DataSource, check_period, load_data
from kpitree.core.errors import DataError, MethodError, did_you_mean
from kpitree.core.evaluate import aggregate, describe_rows, node_values
from kpitree.core.expr import ZeroDenominator, safe_multiply
from kpitree.core.expr import evaluate as evaluate_expr
from kpitree.core.result import EFFECT_COLUMNS, Explanation, PeriodValue
from kpitree.core.tree import Driver, Linear, Part, Product, Tree

METHODS = ("shapley", "sequential", "lmdi")


def explain(
    tree: Tree,
    data: DataSource,
    *,
    base: object,
    compare: object,
    by: Sequence[str] | None = None,
    method: str = "shapley",
    period_column: str = "period",
) -> Explanation:
    """Explain the change of the tree's root from ``base`` to ``compare``.

    Args:
        tree: a loaded tree (:func:`kpitree.load_tree`).
        data: a DataFrame or a CSV/Parquet path, one row per period × segment (summed).
        base, compare: the two periods, as they appear in the period column.
        by: segment dimensions, outermost first (default: the tree's ``segments``).
        method: ``"shapley"`` (default), ``"sequential"`` or ``"lmdi"``.
        period_column: the period column's name.

    Returns:
        An :class:`Explanation` whose effects add up exactly to ``compare − base``.

    Raises:
        DataError: bad or missing data, unknown period, zero total weight, x/0 in a driver.
        MethodError: unknown method, or LMDI on values it cannot take (negatives).

    Example:
        >>> result = explain(tree, "data/saas_monthly.csv", base="2026-09", compare="2026-10")
        ... # doctest: +SKIP
        >>> abs(result.effects["value"].sum() - result.delta) < 1e-9  # doctest: +SKIP
        True
    """
    dims = check_options(tree, by=by, method=method, period_column=period_column)
    name = "data" if isinstance(data, pd.DataFrame) else str(data)
    frame = load_data(data, tree, by=dims, period_column=period_column)
    base_period = check_period(frame, base, name, period_column)
    compare_period = check_period(frame, compare, name, period_column)
    frame = frame[frame[period_column].isin([base_period, compare_period])]
    sums = aggregate(frame, tree, by=dims, period_column=period_column)
    cells = _cells(sums, tree, dims, period_column, base_period, compare_period, name)
    return attribute(tree, cells, dims=dims, method=method,
                     periods=(base_period, compare_period))


def check_options(
    tree: Tree, *, by: Sequence[str] | None, method: str, period_column: str
) -> list[str]:
    """Check the method and the segment dimensions; return the dimensions to use.

    Raises:
        MethodError: unknown method (with a suggestion).
        DataError: a dimension repeats or is the period column.
    """
    if method not in METHODS:
        raise MethodError(
            f"unknown method '{method}'.{did_you_mean(method, METHODS)} "
            f"Methods: {', '.join(METHODS)}"
        )
    dims = list(tree.segments if by is None else by)
    if len(set(dims)) != len(dims):
        raise DataError(f"segment dimensions repeat: {', '.join(dims)}")
    if period_column in dims:
        raise DataError(f"'{period_column}' is the period column; it cannot also be a segment")
    return dims


def check_total_weights(
    tree: Tree, totals: Sequence[float], periods: Sequence[str], source: str
) -> None:
    """Raise :class:`DataError` when the total weight of a period is zero (root undefined)."""
    for period, total in zip(periods, totals, strict=True):
        if total <= 0:
            raise DataError(
                f"{source}: the total of '{tree.weight}' "
                f"(column '{tree.columns.get(tree.weight, '?')}') is zero in period "
                f"{period}; {tree.root} is undefined there: choose another period"
            )


@dataclass(frozen=True)
class Cells:
    """Column-node sums per finest segment, aligned across the two periods."""

    keys: pd.DataFrame  # one column per dimension (empty frame with one row when no dims)
    base: dict[str, np.ndarray]
    compare: dict[str, np.ndarray]
    source: str = "data"


def _cells(
    sums: pd.DataFrame, tree: Tree, dims: list[str], period_column: str,
    base_period: str, compare_period: str, source: str,
) -> Cells:
    measures = list(tree.columns)
    if dims:
        keys = sums[dims].drop_duplicates().sort_values(dims).reset_index(drop=True)
    else:
        keys = pd.DataFrame(index=pd.RangeIndex(1))

    def side(period: str) -> dict[str, np.ndarray]:
        rows = sums[sums[period_column] == period]
        aligned = keys.merge(rows, on=dims, how="left") if dims else rows.reset_index(drop=True)
        return {m: aligned[m].fillna(0.0).to_numpy(dtype=float) for m in measures}

    return Cells(keys=keys, base=side(base_period), compare=side(compare_period), source=source)


def cells_from_sums(
    sums: pd.DataFrame, tree: Tree, *, dims: Sequence[str], base: str, compare: str,
    period_column: str = "period", source: str = "data",
) -> Cells:
    """Aligned :class:`Cells` of two periods from :func:`kpitree.core.evaluate.aggregate` sums.

    The entry point for callers that attribute many pairs of one data set (series, scenarios)
    without loading it again: ``attribute(tree, cells_from_sums(...), ...)``.
    """
    return _cells(sums, tree, list(dims), period_column, base, compare, source)


def _canonical(cells: Cells, dims: list[str]) -> Cells:
    """One row per segment, sorted by the dimensions (a no-op for :func:`explain`'s cells)."""
    if not dims:
        if len(cells.keys) == 1:
            return cells
        keys = pd.DataFrame(index=pd.RangeIndex(1))
        return Cells(keys, {m: np.array([v.sum()]) for m, v in cells.base.items()},
                     {m: np.array([v.sum()]) for m, v in cells.compare.items()}, cells.source)
    keys = cells.keys[dims].reset_index(drop=True)
    codes = keys.groupby(dims, sort=True, observed=True).ngroup().to_numpy()
    if np.array_equal(codes, np.arange(len(keys))):
        return cells
    unique = keys.drop_duplicates().sort_values(dims).reset_index(drop=True)
    size = len(unique)

    def summed(side: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {m: np.bincount(codes, weights=v, minlength=size) for m, v in side.items()}

    return Cells(unique, summed(cells.base), summed(cells.compare), cells.source)


@dataclass(frozen=True)
class _Level:
    """One segmentation level: its groups, their parents, weights, rates and node values."""

    dim: str | None
    keys: pd.DataFrame
    parent: np.ndarray  # index of each group's parent in the previous level
    cell_group: np.ndarray  # for each finest cell, the index of its group at this level
    sums: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
    values: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]


def _levels(tree: Tree, cells: Cells, dims: list[str], periods: tuple[str, str]) -> list[_Level]:
    levels: list[_Level] = []
    n_cells = len(cells.keys)
    evaluated: dict[int, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {}
    groups: list[tuple[pd.DataFrame, np.ndarray]] = []
    for depth in range(len(dims) + 1):
        prefix = dims[:depth]
        if prefix:
            codes = cells.keys.groupby(prefix, sort=True, observed=True).ngroup().to_numpy()
            keys = cells.keys[prefix].drop_duplicates().sort_values(prefix).reset_index(drop=True)
        else:
            codes = np.zeros(n_cells, dtype=int)
            keys = pd.DataFrame(index=pd.RangeIndex(1))
        groups.append((keys, codes))
    # Evaluate the finest level first so a bad cell is reported as precisely as possible.
    for depth in reversed(range(len(dims) + 1)):
        keys, codes = groups[depth]
        size = len(keys)
        pair = []
        for period, side in zip(periods, (cells.base, cells.compare), strict=True):
            summed = {m: np.bincount(codes, weights=v, minlength=size) for m, v in side.items()}
            described = keys.assign(__period__=period)
            pair.append((summed, node_values(tree, summed, describe_rows(described))))
        evaluated[depth] = (pair[0], pair[1])  # type: ignore[assignment]
    for depth in range(len(dims) + 1):
        keys, codes = groups[depth]
        if depth == 0:
            parent = np.zeros(1, dtype=int)
        else:
            parent_codes = groups[depth - 1][1]
            parent = np.zeros(len(keys), dtype=int)
            parent[codes] = parent_codes
        (sums0, values0), (sums1, values1) = evaluated[depth]
        levels.append(_Level(
            dim=dims[depth - 1] if depth else None, keys=keys, parent=parent, cell_group=codes,
            sums=(sums0, sums1), values=(values0, values1),
        ))
    return levels


def attribute(
    tree: Tree, cells: Cells, *, dims: Sequence[str], method: str, periods: tuple[str, str],
) -> Explanation:
    """Attribute the root's change given aligned cell sums (the array-level entry point).

    ``cells`` may come in any order and repeat a segment (callers such as driver discovery
    build their own): they are summed per segment and sorted first, so every level's groups
    and the finest cells line up.
    """
    dims = list(dims)
    cells = _canonical(cells, dims)
    levels = _levels(tree, cells, dims, periods)
    total = levels[0]
    weights = [total.values[t][tree.weight][0] for t in (0, 1)]
    check_total_weights(tree, weights, periods, cells.source)
    values = [float(total.values[t][tree.root][0]) for t in (0, 1)]
    if method == "lmdi":
        results, cell_rate = _lmdi(tree, levels)
    else:
        results, cell_scale = _mix_and_rate(tree, levels, method)
        cell_rate = _rate_through_drivers(tree, levels[-1], cell_scale)
    return Explanation(
        tree=tree, method=method, by=tuple(dims),
        base=PeriodValue(periods[0], values[0], float(weights[0])),
        compare=PeriodValue(periods[1], values[1], float(weights[1])),
        effects=_effects_frame(results, cell_rate, tree, levels[-1], dims, method),
        segments=_segments_frame(tree, results, dims),
        parts=_parts_frame(tree, levels[:2], dims, cell_rate, levels[-1]),
    )


@dataclass(frozen=True)
class _LevelResult:
    """Per-group arrays of one level: shares, values, status and the effects at that level."""

    level: _Level
    shares: tuple[np.ndarray, np.ndarray]
    mix: np.ndarray
    interaction: np.ndarray
    rate: np.ndarray  # everything inside the group: inner mix and its cells' driver effects





# --- Mix and rate over nested levels -----------------------------------------------------------

def _filled_rates(level: _Level, tree: Tree) -> tuple[np.ndarray, np.ndarray]:
    """Rates with an absent period taking the other period's rate (0 when absent in both)."""
    r0 = level.values[0][tree.root].copy()
    r1 = level.values[1][tree.root].copy()
    w0 = level.values[0][tree.weight]
    w1 = level.values[1][tree.weight]
    r0 = np.where(w0 > 0, r0, r1)
    r1 = np.where(w1 > 0, r1, r0)
    r0 = np.where(np.isnan(r0), 0.0, r0)
    r1 = np.where(np.isnan(r1), 0.0, r1)
    return r0, r1


def _status(w0: np.ndarray, w1: np.ndarray) -> np.ndarray:
    return np.select(
        [(w0 > 0) & (w1 > 0), w1 > 0, w0 > 0], ["both", "entered", "exited"], default="empty"
    )


def _mix_and_rate(
    tree: Tree, levels: list[_Level], method: str
) -> tuple[list[_LevelResult], np.ndarray]:
    """Walk the levels top-down; return each level's results and the cells' rate scale.

    The scale multiplies each cell's rate change: the cell's whole rate effect is
    ``scale · (r1 − r0)``, which :func:`_rate_through_drivers` splits to the drivers.
    """
    results: list[_LevelResult] = []
    total = levels[0]
    parent_rates = _filled_rates(total, tree)
    parent_scale = np.ones(1)
    parent_absent = (np.zeros(1, dtype=bool), np.zeros(1, dtype=bool))
    for depth in range(1, len(levels)):
        level = levels[depth]
        w0 = level.values[0][tree.weight]
        w1 = level.values[1][tree.weight]
        s0, s1 = _shares(tree, level, levels[depth - 1])
        absent0 = parent_absent[0][level.parent]
        absent1 = parent_absent[1][level.parent]
        # An outer segment absent in one period takes the other period's inner composition.
        s0_eff = np.where(absent0, s1, s0)
        s1_eff = np.where(absent1, s0, s1)
        r0, r1 = _filled_rates(level, tree)
        pr0 = parent_rates[0][level.parent]
        pr1 = parent_rates[1][level.parent]
        scale_parent = parent_scale[level.parent]
        dw = s1_eff - s0_eff
        if method == "shapley":
            mix = scale_parent * dw * ((r0 + r1) / 2 - (pr0 + pr1) / 2)
            interaction = np.zeros_like(mix)
            scale = scale_parent * (s0_eff + s1_eff) / 2
        else:  # sequential
            mix = scale_parent * dw * (r0 - pr0)
            interaction = scale_parent * dw * (r1 - r0)
            scale = scale_parent * s0_eff
        results.append(_LevelResult(level, (s0, s1), mix, interaction, scale * (r1 - r0)))
        parent_rates = (r0, r1)
        parent_scale = scale
        parent_absent = (w0 <= 0, w1 <= 0)
    return results, parent_scale


def _shares(tree: Tree, level: _Level, parent: _Level) -> tuple[np.ndarray, np.ndarray]:
    """Each group's share of its parent's weight per period (0 where the parent is empty)."""
    shares = []
    for t in (0, 1):
        weight = level.values[t][tree.weight]
        parent_weight = parent.values[t][tree.weight][level.parent]
        with np.errstate(divide="ignore", invalid="ignore"):
            shares.append(np.where(parent_weight > 0, weight / np.where(
                parent_weight > 0, parent_weight, 1.0), 0.0))
    return shares[0], shares[1]


# --- Rate through the formula to the drivers ---------------------------------------------------

def _driver_values(tree: Tree, level: _Level, period: int) -> dict[tuple[str, ...], np.ndarray]:
    sums = level.sums[period]
    values: dict[tuple[str, ...], np.ndarray] = {}
    for driver in tree.drivers:
        try:
            raw = evaluate_expr(driver.expr, sums)
        except ZeroDenominator as exc:  # pragma: no cover - node evaluation catches these first
            row = int(np.flatnonzero(exc.mask)[0])
            raise DataError(
                f"driver {' → '.join(driver.path)} divides a non-zero number by zero in "
                f"{describe_rows(level.keys)(row)}"
            ) from None
        values[driver.path] = np.broadcast_to(raw, len(level.keys)).astype(float)
    return values


def filled_driver_values(
    tree: Tree, level: _Level
) -> tuple[dict[tuple[str, ...], np.ndarray], dict[tuple[str, ...], np.ndarray]]:
    """Driver values per period; undefined (0/0) takes the other period's value, or 0 if both."""
    base = _driver_values(tree, level, 0)
    compare = _driver_values(tree, level, 1)
    for path in base:
        b, c = base[path], compare[path]
        b2 = np.where(np.isnan(b), c, b)
        c2 = np.where(np.isnan(c), b, c)
        base[path] = np.where(np.isnan(b2), 0.0, b2)
        compare[path] = np.where(np.isnan(c2), 0.0, c2)
    return base, compare


def shapley_weight(subset_size: int, players: int) -> float:
    """Shapley weight |S|!(n−1−|S|)!/n! of a coalition of the other players (Das Gupta 3.54)."""
    return factorial(subset_size) * factorial(players - 1 - subset_size) / factorial(players)


def split_part(
    part: Part,
    base: dict[tuple[str, ...], np.ndarray],
    compare: dict[tuple[str, ...], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, dict[tuple[str, ...], np.ndarray]]:
    """Split a part's change into its drivers' contributions.

    Returns the part's base and compare values and, per driver path, a contribution array; the
    contributions add up exactly to ``compare − base``. Sums split linearly. Products split by
    the exact Shapley value over their factors; since a product is linear in each factor, the
    Shapley value of factor ``i`` is ``k_i · Δx_i``, and ``k_i`` scales the factor's own split.
    """
    match part:
        case Driver(path, _, _):
            b, c = base[path], compare[path]
            return b, c, {path: c - b}
        case Linear(_, terms, constant):
            b_total = np.full_like(next(iter(base.values())), constant, dtype=float)
            c_total = b_total.copy()
            contributions: dict[tuple[str, ...], np.ndarray] = {}
            for coefficient, sub in terms:
                b, c, sub_contributions = split_part(sub, base, compare)
                b_total = b_total + coefficient * b
                c_total = c_total + coefficient * c
                for path, value in sub_contributions.items():
                    contributions[path] = contributions.get(path, 0.0) + coefficient * value
            return b_total, c_total, contributions
        case Product(_, factors, coefficient):
            splits = [split_part(sub, base, compare) for _, sub in factors]
            with np.errstate(divide="ignore", invalid="ignore"):
                x0 = [s[0] if e > 0 else 1.0 / s[0] for (e, _), s in zip(factors, splits,
                                                                          strict=True)]
                x1 = [s[1] if e > 0 else 1.0 / s[1] for (e, _), s in zip(factors, splits,
                                                                          strict=True)]
            for (e, _), (b, c, _) in zip(factors, splits, strict=True):
                if e < 0 and (np.any(b == 0) or np.any(c == 0)):
                    raise DataError("a denominator in a product is zero; its share of the "
                                    "change is undefined (check the data)")
            n = len(factors)
            b_value = coefficient * np.prod(np.array(x0), axis=0)
            c_value = coefficient * np.prod(np.array(x1), axis=0)
            contributions = {}
            for i, ((exponent, _), (b, c, sub_contributions)) in enumerate(
                zip(factors, splits, strict=True)
            ):
                others = [j for j in range(n) if j != i]
                k = np.zeros_like(b_value)
                for size in range(n):
                    weight = shapley_weight(size, n)
                    for subset in combinations(others, size):
                        term = np.full_like(b_value, coefficient * weight)
                        for j in others:
                            term = term * (x1[j] if j in subset else x0[j])
                        k = k + term
                if exponent < 0:
                    # 1/c − 1/b = −(c − b)/(b·c): the Shapley value stays linear in Δ.
                    k = -k / (b * c)
                for path, value in sub_contributions.items():
                    contributions[path] = contributions.get(path, 0.0) + k * value
            return b_value, c_value, contributions
    raise TypeError(f"not a part: {part!r}")


def _rate_through_drivers(
    tree: Tree, cells: _Level, scale: np.ndarray
) -> dict[tuple[str, ...], np.ndarray]:
    """Each cell's rate effect ``scale · Δr`` split to the drivers (arrays over cells)."""
    base, compare = filled_driver_values(tree, cells)
    b, c, contributions = split_part(tree.structure, base, compare)
    r0, r1 = _filled_rates(cells, tree)
    mismatch = np.abs((c - b) - (r1 - r0))
    tolerance = 1e-9 * np.maximum(1.0, np.maximum(np.abs(r0), np.abs(r1)))
    if np.any(mismatch > tolerance):  # pragma: no cover - would be a bug in the structure
        raise RuntimeError("internal error: the driver split does not reproduce the rate change")
    return {path: scale * value for path, value in contributions.items()}


# --- LMDI ---------------------------------------------------------------------------------------

def _expand(part: Part) -> list[tuple[float, list[tuple[int, tuple[str, ...]]]]]:
    """Expand a part into a sum of products of drivers: [(coefficient, [(exponent, path)])]."""
    match part:
        case Driver(path, _, _):
            return [(1.0, [(1, path)])]
        case Linear(_, terms, constant):
            expanded = [(constant, [])] if constant else []
            for coefficient, sub in terms:
                expanded += [(coefficient * c, f) for c, f in _expand(sub)]
            return expanded
        case Product(_, factors, coefficient):
            result: list[tuple[float, list[tuple[int, tuple[str, ...]]]]] = [(coefficient, [])]
            for exponent, sub in factors:
                sub_terms = _expand(sub)
                if exponent < 0:
                    if len(sub_terms) != 1:
                        raise MethodError(
                            f"lmdi needs the formula as a sum of products, but "
                            f"{' → '.join(sub.path) or 'a node'} divides by a sum; use "
                            "--method shapley"
                        )
                    c, f = sub_terms[0]
                    sub_terms = [(1.0 / c, [(-e, p) for e, p in f])]
                result = [(c1 * c2, f1 + f2) for c1, f1 in result for c2, f2 in sub_terms]
            return result
    raise TypeError(f"not a part: {part!r}")


def log_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Logarithmic mean L(a, b) = (a − b)/(ln a − ln b), L(a, a) = a, L(a, 0) = 0."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = (a - b) / (np.log(a) - np.log(b))
    value = np.where(np.isclose(a, b, rtol=1e-12, atol=0.0), a, value)
    return np.where((a <= 0) | (b <= 0), 0.0, value)


def _lmdi(
    tree: Tree, levels: list[_Level]
) -> tuple[list[_LevelResult], dict[tuple[str, ...], np.ndarray]]:
    """LMDI-I additive: factors are each level's share and each driver in each term."""
    cells = levels[-1]
    n_cells = len(cells.keys)
    base, compare = filled_driver_values(tree, cells)
    # Shares per level, mapped to cells, with absent outer segments taking the other period's
    # inner composition (as in the Shapley split).
    share_factors: list[tuple[np.ndarray, np.ndarray]] = []
    level_shares: list[tuple[np.ndarray, np.ndarray]] = []
    absent = (np.zeros(n_cells, dtype=bool), np.zeros(n_cells, dtype=bool))
    for depth in range(1, len(levels)):
        level = levels[depth]
        s = _shares(tree, level, levels[depth - 1])
        level_shares.append(s)
        s_cells = [s[t][level.cell_group] for t in (0, 1)]
        s0 = np.where(absent[0], s_cells[1], s_cells[0])
        s1 = np.where(absent[1], s_cells[0], s_cells[1])
        share_factors.append((s0, s1))
        absent = tuple(level.values[t][tree.weight][level.cell_group] <= 0 for t in (0, 1))
    mix_cells = [np.zeros(n_cells) for _ in share_factors]
    rate: dict[tuple[str, ...], np.ndarray] = {d.path: np.zeros(n_cells) for d in tree.drivers}
    for coefficient, factors in _expand(tree.structure):
        if not factors:
            continue  # a constant term does not change
        x0 = [s0 for s0, _ in share_factors]
        x1 = [s1 for _, s1 in share_factors]
        for exponent, path in factors:
            for period, values in ((0, base), (1, compare)):
                negative = values[path] < 0
                if negative.any():
                    row = int(np.flatnonzero(negative)[0])
                    raise MethodError(
                        f"lmdi needs positive values, but driver {' → '.join(path)} is "
                        f"{values[path][row]:g} in {describe_rows(cells.keys)(row)} "
                        f"({'base' if period == 0 else 'compare'} period); use --method shapley"
                    )
            with np.errstate(divide="ignore"):
                x0.append(base[path] if exponent > 0 else 1.0 / base[path])
                x1.append(compare[path] if exponent > 0 else 1.0 / compare[path])
        v0 = np.prod(np.array(x0), axis=0)
        v1 = np.prod(np.array(x1), axis=0)
        effects = _lmdi_term(np.array(x0), np.array(x1), v0, v1) * coefficient
        for i in range(len(share_factors)):
            mix_cells[i] += effects[i]
        for j, (_, path) in enumerate(factors):
            rate[path] = rate[path] + effects[len(share_factors) + j]
    results: list[_LevelResult] = []
    inside = sum(rate.values(), np.zeros(n_cells))
    for depth in reversed(range(1, len(levels))):
        level = levels[depth]
        size = len(level.keys)
        mix = np.bincount(level.cell_group, weights=mix_cells[depth - 1], minlength=size)
        # A group's "rate" is everything inside it: deeper mix plus its cells' driver effects.
        rate_total = np.bincount(level.cell_group, weights=inside, minlength=size)
        results.append(_LevelResult(level, level_shares[depth - 1], mix, np.zeros(size),
                                    rate_total))
        inside = inside + mix_cells[depth - 1]
    return results[::-1], rate


def _lmdi_term(x0: np.ndarray, x1: np.ndarray, v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
    """Split ΔV = V1 − V0 of one product term over its factors (rows of x0/x1)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # ln x1 − ln x0 rather than ln(x1/x0): the ratio of extreme values can overflow.
        log_ratio = np.log(x1) - np.log(x0)
        total = log_ratio.sum(axis=0)
        # L(V1, V0) = (V1 − V0)/ln(V1/V0) and ln(V1/V0) = Σ ln(x1/x0): written this way each
        # term's effects add up to its own change even when products lose precision.
        weight = np.where(np.abs(total) > 1e-9, (v1 - v0) / total, log_mean(v1, v0))
        effects = weight * log_ratio
    both = (v0 > 0) & (v1 > 0)
    effects = np.where(both, effects, 0.0)
    # Analytical limits: a term that appears (V0 = 0) gives all of V1 to the factor(s) that were
    # zero; one that vanishes gives −V0 to the factor(s) that become zero; ties split equally.
    appear = (v0 == 0) & (v1 != 0)
    vanish = (v1 == 0) & (v0 != 0)
    zero0 = _vanishing_factors(x0, x1)
    zero1 = _vanishing_factors(x1, x0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share_appear = np.where(zero0, 1.0, 0.0) / np.maximum(zero0.sum(axis=0), 1)
        share_vanish = np.where(zero1, 1.0, 0.0) / np.maximum(zero1.sum(axis=0), 1)
    effects = np.where(appear, share_appear * v1, effects)
    effects = np.where(vanish, -share_vanish * v0, effects)
    return effects


def _vanishing_factors(x: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Which factors make a term zero: those exactly zero, else (a product that underflowed)
    the factor that shrank most relative to the other period."""
    zero = x == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.log(np.abs(x)) - np.log(np.abs(other))
    change = np.where(np.isfinite(change), change, np.inf)
    smallest = change == change.min(axis=0, keepdims=True)
    return np.where(zero.any(axis=0, keepdims=True), zero, smallest)


# --- Tidy outputs ------------------------------------------------------------------------------

def _keys_frame(level: _Level, dims: list[str], size: int) -> pd.DataFrame:
    """The level's group labels, with the deeper dimensions as None."""
    frame = level.keys.reset_index(drop=True).copy() if level.dim else pd.DataFrame(
        index=pd.RangeIndex(size))
    for dim in dims:
        if dim not in frame.columns:
            frame[dim] = None
    return frame[dims].astype(object)


def _effects_frame(
    results: list[_LevelResult], cell_rate: dict[tuple[str, ...], np.ndarray], tree: Tree,
    cells: _Level, dims: list[str], method: str,
) -> pd.DataFrame:
    labels = {d.path: d.label for d in tree.drivers}
    pieces: list[pd.DataFrame] = []
    kinds = ("mix", "interaction") if method == "sequential" else ("mix",)
    for result in results:
        keys = _keys_frame(result.level, dims, len(result.level.keys))
        for kind in kinds:
            piece = keys.copy()
            piece.insert(0, "level", result.level.dim)
            piece.insert(0, "kind", kind)
            piece["path"] = [(tree.root,)] * len(piece)
            piece["driver"] = tree.root
            piece["label"] = f"{result.level.dim} {kind}"
            piece["value"] = getattr(result, kind)
            pieces.append(piece)
    keys = _keys_frame(cells, dims, len(cells.keys))
    for path, values in cell_rate.items():
        piece = keys.copy()
        piece.insert(0, "level", None)
        piece.insert(0, "kind", "rate")
        piece["path"] = [path] * len(piece)
        piece["driver"] = path[-1]
        piece["label"] = labels.get(path, path[-1])
        piece["value"] = values
        pieces.append(piece)
    table = pd.concat(pieces, ignore_index=True)
    table["level"] = table["level"].astype(object).where(table["level"].notna(), None)
    return table[[*EFFECT_COLUMNS[:2], *dims, *EFFECT_COLUMNS[2:]]]


def _segments_frame(tree: Tree, results: list[_LevelResult], dims: list[str]) -> pd.DataFrame:
    """One row per group at every level (see :class:`~kpitree.core.result.Explanation`)."""
    pieces = []
    for result in results:
        level = result.level
        tree_values = level.values
        piece = _keys_frame(level, dims, len(level.keys))
        piece.insert(0, "level", level.dim)
        prefix = dims[: dims.index(level.dim) + 1]
        piece["segment"] = level.keys[prefix].to_dict("records")
        weights = (level.values[0][tree.weight], level.values[1][tree.weight])
        piece["status"] = _status(*weights)
        piece["base_weight"], piece["compare_weight"] = weights
        piece["base_share"], piece["compare_share"] = result.shares
        for t, name in ((0, "base_value"), (1, "compare_value")):
            value = tree_values[t][tree.root]
            piece[name] = np.where((weights[t] > 0) & np.isfinite(value), value, np.nan)
        piece["mix"] = result.mix
        piece["rate"] = result.rate
        piece["interaction"] = result.interaction
        pieces.append(piece)
    if not pieces:
        return pd.DataFrame(columns=["level", *dims, "segment", "status", "base_weight",
                                     "compare_weight", "base_share", "compare_share",
                                     "base_value", "compare_value", "mix", "rate",
                                     "interaction"])
    return pd.concat(pieces, ignore_index=True)


def _parts_frame(
    tree: Tree, levels: list[_Level], dims: list[str],
    cell_rate: dict[tuple[str, ...], np.ndarray], cells: _Level,
) -> pd.DataFrame:
    """Every structure part's value per group and period, and its summed rate effect.

    Only the total and the outermost dimension: that is what the tree image draws.
    """
    parts = _all_parts(tree.structure)
    pieces: list[pd.DataFrame] = []
    for level in levels:
        size = len(level.keys)
        values = [_part_values(tree, level, t) for t in (0, 1)]
        keys = _keys_frame(level, dims, size)
        piece = pd.DataFrame({"level": [level.dim] * size * len(parts)})
        for dim in dims:
            piece[dim] = np.tile(keys[dim].to_numpy(), len(parts))
        piece["segment"] = (level.keys.to_dict("records") if level.dim else [{}]) * len(parts)
        piece["path"] = [part.path for part in parts for _ in range(size)]
        piece["node"] = np.repeat([p.path[-1] if p.path else tree.root for p in parts], size)
        piece["kind"] = np.repeat([type(p).__name__.lower() for p in parts], size)
        piece["label"] = np.repeat([
            p.label if isinstance(p, Driver) else tree.label(p.path[-1] if p.path else tree.root)
            for p in parts], size)
        for t, name in ((0, "base"), (1, "compare")):
            stacked = np.concatenate([values[t][p.path] for p in parts])
            piece[name] = np.where(np.isfinite(stacked), stacked, np.nan)
        effects = []
        for part in parts:
            under = [p for p in cell_rate if p[: len(part.path)] == part.path]
            effect = sum((cell_rate[p] for p in under), np.zeros(len(cells.keys)))
            effects.append(np.bincount(level.cell_group, weights=effect, minlength=size))
        piece["effect"] = np.concatenate(effects)
        pieces.append(piece)
    return pd.concat(pieces, ignore_index=True)


def _all_parts(part: Part) -> list[Part]:
    match part:
        case Driver():
            return [part]
        case Linear(_, terms, _):
            return [part, *(p for _, sub in terms for p in _all_parts(sub))]
        case Product(_, factors, _):
            return [part, *(p for _, sub in factors for p in _all_parts(sub))]
    raise TypeError(f"not a part: {part!r}")


def _part_values(tree: Tree, level: _Level, period: int) -> dict[tuple[str, ...], np.ndarray]:
    """Display values of every part (undefined stays NaN; 0 × undefined is 0)."""
    drivers = _driver_values(tree, level, period)
    out: dict[tuple[str, ...], np.ndarray] = {}

    def visit(part: Part) -> np.ndarray:
        match part:
            case Driver(path, _, _):
                value = drivers[path]
            case Linear(_, terms, constant):
                value = np.full(len(level.keys), constant, dtype=float)
                for coefficient, sub in terms:
                    value = value + coefficient * visit(sub)
            case Product(_, factors, coefficient):
                value = np.full(len(level.keys), coefficient, dtype=float)
                for exponent, sub in factors:
                    x = visit(sub)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        x = x if exponent > 0 else np.where(x == 0, np.nan, 1.0 / x)
                    value = safe_multiply(value, x)
            case _:
                raise TypeError(f"not a part: {part!r}")
        out.setdefault(part.path, value)
        return value

    visit(tree.structure)
    return out
