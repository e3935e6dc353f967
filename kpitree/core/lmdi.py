"""LMDI-I additive (Ang): one implementation, for the root and (with an activity factor) totals.

What belongs here: the logarithmic mean, the split of one product term's change over its
factors with the analytical limits for zeros (Ang & Liu 2007), and :func:`lmdi_split`, which
expands the tree into ``Σ [activity ·] Π shares · Π drivers`` and splits every term — the shares
of each level are mix, the drivers rate and the optional activity (the total weight, for
``T = W · A``) volume. What does not: Shapley/sequential (:mod:`kpitree.core.shapley`) or frames.

Each term ``V = Π x`` changes by ``ΔV = L(V1, V0) · Σ ln(x1/x0)``; factor ``x`` gets
``L(V1, V0) · ln(x1/x0)``. A term that appears (``V0 = 0``) gives all of ``V1`` to the factors
that were zero, one that vanishes gives ``−V0`` to those that become zero; ties split equally.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kpitree.core.errors import MethodError
from kpitree.core.evaluate import describe_rows
from kpitree.core.levels import (
    Level,
    LevelResult,
    Paths,
    cell_share_factors,
    filled_driver_values,
    mix_centring,
    shares,
)
from kpitree.core.structure import expand_products
from kpitree.core.tree import Tree


def log_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Logarithmic mean L(a, b) = (a − b)/(ln a − ln b), L(a, a) = a, L(a, 0) = 0."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = (a - b) / (np.log(a) - np.log(b))
    value = np.where(np.isclose(a, b, rtol=1e-12, atol=0.0), a, value)
    return np.where((a <= 0) | (b <= 0), 0.0, value)


def lmdi_term(x0: np.ndarray, x1: np.ndarray, v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
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


@dataclass(frozen=True)
class LmdiSplit:
    """LMDI effects per finest cell: volume (the activity factor), mix per level, rate per driver.

    ``constant`` is the sum of the constant terms' coefficients (they do not change per unit of
    activity; with an activity factor they move with volume only).
    """

    volume: np.ndarray
    mix: list[np.ndarray]
    rate: Paths
    constant: float


def lmdi_split(
    tree: Tree, all_levels: list[Level], *, activity: tuple[float, float] | None = None,
    fix: str = "use --method shapley",
) -> LmdiSplit:
    """LMDI-I on the expanded tree; ``activity`` is an extra leading factor (the total weight).

    Raises:
        MethodError: a driver is negative (LMDI needs positive values; ``fix`` says what to do),
            or the formula divides by a sum.
    """
    cells = all_levels[-1]
    n_cells = len(cells.keys)
    base, compare = filled_driver_values(tree, cells)
    share_factors = cell_share_factors(tree, all_levels)
    lead = [] if activity is None else [(np.full(n_cells, activity[0]),
                                         np.full(n_cells, activity[1]))]
    leading = [*lead, *share_factors]
    volume = np.zeros(n_cells)
    mix_cells = [np.zeros(n_cells) for _ in share_factors]
    rate: Paths = {d.path: np.zeros(n_cells) for d in tree.drivers}
    expanded = expand_products(tree.structure)
    for coefficient, factors in expanded:
        if not factors:
            continue  # a constant term does not change
        x0 = [s0 for s0, _ in leading]
        x1 = [s1 for _, s1 in leading]
        for exponent, path in factors:
            for period, values in ((0, base), (1, compare)):
                negative = values[path] < 0
                if negative.any():
                    row = int(np.flatnonzero(negative)[0])
                    raise MethodError(
                        f"lmdi needs positive values, but driver {' → '.join(path)} is "
                        f"{values[path][row]:g} in {describe_rows(cells.keys)(row)} "
                        f"({'base' if period == 0 else 'compare'} period); {fix}"
                    )
            with np.errstate(divide="ignore"):
                x0.append(base[path] if exponent > 0 else 1.0 / base[path])
                x1.append(compare[path] if exponent > 0 else 1.0 / compare[path])
        a0, a1 = np.array(x0), np.array(x1)
        effects = lmdi_term(a0, a1, np.prod(a0, axis=0), np.prod(a1, axis=0)) * coefficient
        if lead:
            volume += effects[0]
        for i in range(len(share_factors)):
            mix_cells[i] += effects[len(lead) + i]
        for j, (_, path) in enumerate(factors):
            rate[path] = rate[path] + effects[len(leading) + j]
    constant = sum(c for c, f in expanded if not f)
    return LmdiSplit(volume=volume, mix=mix_cells, rate=rate, constant=float(constant))


def lmdi(tree: Tree, all_levels: list[Level]) -> tuple[list[LevelResult], Paths]:
    """LMDI-I for the root: each level's results (mix; rate = everything inside a group) and
    the cells' rate effects per driver.

    A segment's LMDI mix ``L(V1, V0)·ln(w1/w0)`` is roughly ``r̄·Δw``: its sign is the sign of
    the share change whatever the segment's rate. As for ``shapley`` (DESIGN.md §3) each
    segment's mix is centred on its parent's mean rate (:func:`mix_centring`); every level's
    and every parent's total is unchanged, so the totals stay LMDI-I's.
    """
    split = lmdi_split(tree, all_levels)
    centring = mix_centring(tree, all_levels)
    n_cells = len(all_levels[-1].keys)
    results: list[LevelResult] = []
    inside = sum(split.rate.values(), np.zeros(n_cells))
    for depth in reversed(range(1, len(all_levels))):
        level = all_levels[depth]
        size = len(level.keys)
        mix = (np.bincount(level.cell_group, weights=split.mix[depth - 1], minlength=size)
               - centring[depth - 1])
        # A group's "rate" is everything inside it: deeper mix plus its cells' driver effects.
        rate_total = np.bincount(level.cell_group, weights=inside, minlength=size)
        results.append(LevelResult(level, shares(tree, level, all_levels[depth - 1]), mix,
                                   np.zeros(size), rate_total))
        inside = inside + split.mix[depth - 1]
    return results[::-1], split.rate
