"""Shapley and sequential: mix and rate per nested level, and a rate change split to the drivers.

What belongs here: the formulas of DESIGN.md §3 on arrays — :func:`mix_rate` (one level's mix,
interaction and the scale of its rate, the one formula that :func:`kpitree.explain`, the driver
search and the bootstrap all call), :func:`mix_and_rate` (the walk over nested levels),
:func:`split_part` (a change split through the formula: linear for sums, exact Shapley for
products) and :func:`rate_through_drivers`. What does not: LMDI (:mod:`kpitree.core.lmdi`),
grouping into levels (:mod:`kpitree.core.levels`), tidy frames (:mod:`kpitree.core.frames`).

Notation: ``w`` a segment's share of its parent, ``r`` its rate, ``R`` the parent's rate, ``M``
the product of the ancestors' mean shares (sequential: base shares); ``0`` base, ``1`` compare.

* ``shapley``: mix ``M·Δw·(r̄ − R̄)``, rate ``M·w̄·Δr``;
* ``sequential``: mix ``M·Δw·(r0 − R0)``, rate ``M·w0·Δr``, interaction ``M·Δw·Δr``.
"""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np

from kpitree.core.errors import DataError
from kpitree.core.levels import (
    Level,
    LevelResult,
    Paths,
    filled_driver_values,
    filled_rates,
    walk,
)
from kpitree.core.structure import Driver, Linear, Part, Product
from kpitree.core.tree import Tree


def mix_rate(
    s0: np.ndarray, s1: np.ndarray, r0: np.ndarray, r1: np.ndarray,
    parent0: np.ndarray, parent1: np.ndarray, *, outer: np.ndarray | float = 1.0,
    method: str = "shapley",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One level's split of ``Σ s1·r1 − Σ s0·r0`` (shares within the parent, filled rates).

    Returns ``(mix, interaction, scale)``: the mix per segment (centred on the parent's rate
    ``parent0``/``parent1``), the interaction (sequential only, else zeros) and the scale of
    the segment's rate change, so that its rate effect is ``scale · (r1 − r0)``; each is
    multiplied by ``outer``, the ancestors' share scale (1 for a single level). Broadcasts over
    any leading axes (replicates).
    """
    dw = s1 - s0
    if method == "shapley":
        mix = outer * dw * ((r0 + r1) / 2 - (parent0 + parent1) / 2)
        return mix, np.zeros_like(mix), outer * (s0 + s1) / 2
    if method == "sequential":
        return outer * dw * (r0 - parent0), outer * dw * (r1 - r0), outer * s0
    raise ValueError(f"mix_rate does not do {method!r}")


def mix_and_rate(
    tree: Tree, all_levels: list[Level], method: str
) -> tuple[list[LevelResult], np.ndarray]:
    """Walk the levels top-down; return each level's results and the cells' rate scale.

    The scale multiplies each cell's rate change: the cell's whole rate effect is
    ``scale · (r1 − r0)``, which :func:`rate_through_drivers` splits to the drivers.
    """
    results: list[LevelResult] = []
    parent_scale = np.ones(1)
    for step in walk(tree, all_levels):
        (s0_eff, s1_eff), (r0, r1) = step.effective, step.rates
        mix, interaction, scale = mix_rate(
            s0_eff, s1_eff, r0, r1, *step.parent_rates,
            outer=parent_scale[step.level.parent], method=method)
        results.append(LevelResult(step.level, step.shares, mix, interaction, scale * (r1 - r0)))
        parent_scale = scale
    return results, parent_scale


def shapley_weight(subset_size: int, players: int) -> float:
    """Shapley weight |S|!(n−1−|S|)!/n! of a coalition of the other players (Das Gupta 3.54)."""
    return factorial(subset_size) * factorial(players - 1 - subset_size) / factorial(players)


def split_part(
    part: Part, base: Paths, compare: Paths
) -> tuple[np.ndarray, np.ndarray, Paths]:
    """Split a part's change into its drivers' contributions.

    Returns the part's base and compare values and, per driver path, a contribution array; the
    contributions add up exactly to ``compare − base``. Sums split linearly. Products split by
    the exact Shapley value over their factors; since a product is linear in each factor, the
    Shapley value of factor ``i`` is ``k_i · Δx_i``, and ``k_i`` scales the factor's own split.
    Works on arrays of any shape (cells, or replicates × cells).
    """
    match part:
        case Driver(path, _, _):
            b, c = base[path], compare[path]
            return b, c, {path: c - b}
        case Linear(_, terms, constant):
            b_total = np.full_like(next(iter(base.values())), constant, dtype=float)
            c_total = b_total.copy()
            contributions: Paths = {}
            for coefficient, sub in terms:
                b, c, sub_contributions = split_part(sub, base, compare)
                b_total = b_total + coefficient * b
                c_total = c_total + coefficient * c
                for path, value in sub_contributions.items():
                    contributions[path] = contributions.get(path, 0.0) + coefficient * value
            return b_total, c_total, contributions
        case Product(_, factors, coefficient):
            return _split_product(factors, coefficient, base, compare)
    raise TypeError(f"not a part: {part!r}")


def _split_product(
    factors: tuple[tuple[int, Part], ...], coefficient: float, base: Paths, compare: Paths
) -> tuple[np.ndarray, np.ndarray, Paths]:
    splits = [split_part(sub, base, compare) for _, sub in factors]
    with np.errstate(divide="ignore", invalid="ignore"):
        x0 = [s[0] if e > 0 else 1.0 / s[0] for (e, _), s in zip(factors, splits, strict=True)]
        x1 = [s[1] if e > 0 else 1.0 / s[1] for (e, _), s in zip(factors, splits, strict=True)]
    for (e, _), (b, c, _) in zip(factors, splits, strict=True):
        if e < 0 and (np.any(b == 0) or np.any(c == 0)):
            raise DataError("a denominator in a product is zero; its share of the "
                            "change is undefined (check the data)")
    n = len(factors)
    b_value = coefficient * np.prod(np.array(x0), axis=0)
    c_value = coefficient * np.prod(np.array(x1), axis=0)
    contributions: Paths = {}
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


def rate_through_drivers(tree: Tree, cells: Level, scale: np.ndarray) -> Paths:
    """Each cell's rate effect ``scale · Δr`` split to the drivers (arrays over cells)."""
    base, compare = filled_driver_values(tree, cells)
    b, c, contributions = split_part(tree.structure, base, compare)
    r0, r1 = filled_rates(cells, tree)
    mismatch = np.abs((c - b) - (r1 - r0))
    tolerance = 1e-9 * np.maximum(1.0, np.maximum(np.abs(r0), np.abs(r1)))
    if np.any(mismatch > tolerance):  # pragma: no cover - would be a bug in the structure
        raise RuntimeError("internal error: the driver split does not reproduce the rate change")
    return {path: scale * value for path, value in contributions.items()}
