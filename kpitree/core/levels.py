"""Segmentation levels and the quantities every method shares: shares, filled rates and drivers.

What belongs here: grouping :class:`~kpitree.core.cells.Cells` into one :class:`Level` per
prefix of the dimensions (the total, ``tier``, ``tier × region`` …) with every node evaluated on
each group's sums; each group's share of its parent; the conventions for absent segments
(DESIGN.md §3) — a segment absent in one period takes the other period's rate, a driver undefined
in one period (0/0) takes the other period's value, 0 when undefined in both — and the status of
a segment; and the top-down walk every split makes (:func:`walk`, where an absent parent's
composition is filled). Every array function here broadcasts, so the bootstrap can call them
with a leading replicate axis. What does not: the split into effects (:mod:`kpitree.core.shapley`,
:mod:`kpitree.core.lmdi`) or tidy frames (:mod:`kpitree.core.frames`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpitree.core.cells import Cells
from kpitree.core.errors import DataError
from kpitree.core.evaluate import describe_rows, node_values
from kpitree.core.expr import ZeroDenominator
from kpitree.core.expr import evaluate as evaluate_expr
from kpitree.core.tree import Tree

Paths = dict[tuple[str, ...], np.ndarray]


@dataclass(frozen=True)
class Level:
    """One segmentation level: its groups, their parents, sums and node values per period."""

    dim: str | None  # None for the total
    keys: pd.DataFrame
    parent: np.ndarray  # index of each group's parent in the previous level
    cell_group: np.ndarray  # for each finest cell, the index of its group at this level
    sums: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
    values: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]

    def weights(self, tree: Tree) -> tuple[np.ndarray, np.ndarray]:
        """The groups' weights in the two periods."""
        return self.values[0][tree.weight], self.values[1][tree.weight]


@dataclass(frozen=True)
class LevelResult:
    """Per-group arrays of one level: shares and the effects at that level."""

    level: Level
    shares: tuple[np.ndarray, np.ndarray]
    mix: np.ndarray
    interaction: np.ndarray
    rate: np.ndarray  # everything inside the group: inner mix and its cells' driver effects


def levels(tree: Tree, cells: Cells, dims: list[str]) -> list[Level]:
    """The total, then one level per dimension (outermost first), for two-period ``cells``.

    ``cells`` must be canonical for ``dims`` (:func:`kpitree.core.cells.canonical`).
    """
    groups: list[tuple[pd.DataFrame, np.ndarray]] = []
    for depth in range(len(dims) + 1):
        grouped, codes = cells.grouped(dims[:depth])
        groups.append((grouped.keys, codes))
    evaluated: dict[int, tuple[tuple[dict, dict], tuple[dict, dict]]] = {}
    # Evaluate the finest level first so a bad cell is reported as precisely as possible.
    for depth in reversed(range(len(dims) + 1)):
        keys, codes = groups[depth]
        size = len(keys)
        pair = []
        for period, side in zip(cells.periods, (cells.base, cells.compare), strict=True):
            summed = {m: np.bincount(codes, weights=v, minlength=size) for m, v in side.items()}
            described = keys.assign(__period__=period)
            pair.append((summed, node_values(tree, summed, describe_rows(described))))
        evaluated[depth] = (pair[0], pair[1])
    out: list[Level] = []
    for depth in range(len(dims) + 1):
        keys, codes = groups[depth]
        if depth == 0:
            parent = np.zeros(1, dtype=int)
        else:
            parent = np.zeros(len(keys), dtype=int)
            parent[codes] = groups[depth - 1][1]
        (sums0, values0), (sums1, values1) = evaluated[depth]
        out.append(Level(dim=dims[depth - 1] if depth else None, keys=keys, parent=parent,
                         cell_group=codes, sums=(sums0, sums1), values=(values0, values1)))
    return out


def shares_of(weight: np.ndarray, parent_weight: np.ndarray | float) -> np.ndarray:
    """``weight / parent_weight``, 0 where the parent is empty."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(parent_weight > 0,
                        weight / np.where(parent_weight > 0, parent_weight, 1.0), 0.0)


def shares(tree: Tree, level: Level, parent: Level) -> tuple[np.ndarray, np.ndarray]:
    """Each group's share of its parent's weight per period (0 where the parent is empty)."""
    return tuple(shares_of(level.values[t][tree.weight],  # type: ignore[return-value]
                           parent.values[t][tree.weight][level.parent]) for t in (0, 1))


def fill_rates(r0: np.ndarray, r1: np.ndarray, w0: np.ndarray,
               w1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rates with an absent period (weight 0) taking the other period's rate; 0 if both."""
    r0 = np.where(w0 > 0, r0, r1)
    r1 = np.where(w1 > 0, r1, r0)
    return np.where(np.isnan(r0), 0.0, r0), np.where(np.isnan(r1), 0.0, r1)


def filled_rates(level: Level, tree: Tree) -> tuple[np.ndarray, np.ndarray]:
    """The level's root values with :func:`fill_rates` applied."""
    w0, w1 = level.weights(tree)
    return fill_rates(level.values[0][tree.root], level.values[1][tree.root], w0, w1)


def status(w0: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """``both``, ``entered``, ``exited`` or ``empty`` per segment, from its two weights."""
    return np.select(
        [(w0 > 0) & (w1 > 0), w1 > 0, w0 > 0], ["both", "entered", "exited"], default="empty"
    )


def driver_values(tree: Tree, sums: dict[str, np.ndarray], size: int,
                  on_zero: Callable[[tuple[str, ...], int], str]) -> Paths:
    """Every driver evaluated on ``sums`` (arrays of ``size`` groups; NaN where 0/0).

    Raises:
        DataError: a non-zero number over zero, with the message ``on_zero(path, row)``.
    """
    values: Paths = {}
    for driver in tree.drivers:
        try:
            raw = evaluate_expr(driver.expr, sums)
        except ZeroDenominator as exc:
            row = int(np.flatnonzero(exc.mask)[0])
            raise DataError(on_zero(driver.path, row)) from None
        values[driver.path] = np.broadcast_to(raw, size).astype(float)
    return values


def fill_drivers(base: Paths, compare: Paths) -> tuple[Paths, Paths]:
    """Driver values where undefined (NaN) in one period take the other's; 0 when both are."""
    filled0: Paths = {}
    filled1: Paths = {}
    for path in base:
        b, c = base[path], compare[path]
        b2 = np.where(np.isnan(b), c, b)
        c2 = np.where(np.isnan(c), b, c)
        filled0[path] = np.where(np.isnan(b2), 0.0, b2)
        filled1[path] = np.where(np.isnan(c2), 0.0, c2)
    return filled0, filled1


def level_driver_values(tree: Tree, level: Level, period: int) -> Paths:
    """The drivers on one level's groups in one period (NaN where undefined)."""
    describe = describe_rows(level.keys)
    return driver_values(
        tree, level.sums[period], len(level.keys),
        lambda path, row: f"driver {' → '.join(path)} divides a non-zero number by zero in "
                          f"{describe(row)}")


def filled_driver_values(tree: Tree, level: Level) -> tuple[Paths, Paths]:
    """Driver values per period with :func:`fill_drivers` applied."""
    return fill_drivers(level_driver_values(tree, level, 0), level_driver_values(tree, level, 1))


def cell_share_factors(tree: Tree, all_levels: list[Level]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each level's shares mapped to the finest cells, per period (the factors of LMDI).

    An outer segment absent in one period takes the other period's inner composition there (as
    in the Shapley split), so its whole effect is outer mix.
    """
    n_cells = len(all_levels[-1].keys)
    factors: list[tuple[np.ndarray, np.ndarray]] = []
    absent = (np.zeros(n_cells, dtype=bool), np.zeros(n_cells, dtype=bool))
    for depth in range(1, len(all_levels)):
        level = all_levels[depth]
        s = shares(tree, level, all_levels[depth - 1])
        s_cells = [s[t][level.cell_group] for t in (0, 1)]
        factors.append((np.where(absent[0], s_cells[1], s_cells[0]),
                        np.where(absent[1], s_cells[0], s_cells[1])))
        absent = (level.values[0][tree.weight][level.cell_group] <= 0,
                  level.values[1][tree.weight][level.cell_group] <= 0)
    return factors


def mix_centring(tree: Tree, all_levels: list[Level]) -> list[np.ndarray]:
    """Per level, ``M·Δw·(R0 + R1)/2``: what centres a segment's mix on its parent's mean rate.

    Subtracting it from any per-segment mix leaves every parent's total unchanged (the shares
    within a parent sum to 1 in both periods, so ``Σ Δw = 0``) and gives the readable sign of
    DESIGN.md §3: a move into an above-average segment is positive. ``shapley`` is centred this
    way by construction (:mod:`kpitree.core.shapley`); :mod:`kpitree.core.lmdi` applies it to
    its own per-segment mix.
    """
    out: list[np.ndarray] = []
    parent_scale = np.ones(1)
    for step in walk(tree, all_levels):
        (s0, s1), (p0, p1) = step.effective, step.parent_rates
        outer = parent_scale[step.level.parent]
        out.append(outer * (s1 - s0) * (p0 + p1) / 2)
        parent_scale = outer * (s0 + s1) / 2
    return out


@dataclass(frozen=True)
class Step:
    """One level of the top-down walk every split makes (see :func:`walk`)."""

    level: Level
    shares: tuple[np.ndarray, np.ndarray]  # each group's share of its parent, per period
    effective: tuple[np.ndarray, np.ndarray]  # the shares the split uses (absent parents filled)
    rates: tuple[np.ndarray, np.ndarray]  # the groups' filled rates
    parent_rates: tuple[np.ndarray, np.ndarray]  # each group's parent's filled rates


def walk(tree: Tree, all_levels: list[Level]) -> Iterator[Step]:
    """The levels below the total, top-down, with the shares and rates a split needs.

    An outer segment absent in one period takes the other period's inner composition there
    (DESIGN.md §3), so its whole effect is outer mix: the one place this convention lives for
    :func:`kpitree.core.shapley.mix_and_rate` and :func:`mix_centring`.
    """
    parent_rates = filled_rates(all_levels[0], tree)
    parent_absent = (np.zeros(1, dtype=bool), np.zeros(1, dtype=bool))
    for depth in range(1, len(all_levels)):
        level = all_levels[depth]
        w0, w1 = level.weights(tree)
        s0, s1 = shares(tree, level, all_levels[depth - 1])
        effective = (np.where(parent_absent[0][level.parent], s1, s0),
                     np.where(parent_absent[1][level.parent], s0, s1))
        rates = filled_rates(level, tree)
        yield Step(level, (s0, s1), effective, rates,
                   (parent_rates[0][level.parent], parent_rates[1][level.parent]))
        parent_rates = rates
        parent_absent = (w0 <= 0, w1 <= 0)
