"""The exact decomposition of a change into the units a driver search names.

What belongs here: :class:`Unit` (a launch, a mix shift along one dimension, a rate pocket),
:class:`Layout` (the *report cells* — combinations of the dimensions the units name — and which
unit takes each cell) and :func:`decompose`, which splits ``A1 − A0`` into the units plus a
named ``rest`` on arrays with a replicate axis, so the point estimate and every bootstrap
replicate are the same formulas. What does not: choosing the units
(:mod:`kpitree.analysis.search`), reading rows or building the result
(:mod:`kpitree.analysis.drivers`), or printing.

On the report cells ``k`` (shares ``s`` of the total weight, filled rates ``r``, ``Ā`` the mean
of the two root values) the change is Kitagawa's ``Σ_k Δs_k·(r̄_k − Ā) + Σ_k s̄_k·Δr_k``
(DESIGN.md §3, the cells as segments). The units take parts of it:

* **launch** (a value present in one period only): the whole contribution of its cells,
  ``Σ s1·(r1 − Ā)`` — all mix; those cells take part in nothing else;
* **rate** pocket (one or two conditions): ``Σ_{k∈P} s̄_k·Δr_k`` over its cells, split through
  the formula to the drivers; where pockets overlap, the more specific one (more conditions;
  then the earlier) takes the cells;
* **mix** along dimension ``d`` *conditional on the strata* ``o`` (the combinations of the
  dimensions that set the level of the metric, e.g. plan): with ``S_o`` the stratum's share and
  ``p_{v|o}`` the share of value ``v`` inside it, ``M_d = Σ_{o,v} S̄_o·Δp_{v|o}·(r̄_{o,v} − Ā)``
  — the part of the share change that is a change of ``d``'s distribution *within* like users.
  A uniform shift (annual share +12 pp in every plan) is one number, not a list of cells; a
  stratum present in one period only keeps its other period's distribution (``Δp = 0``);
* **rest**: everything else — the cells' mix not along a named dimension (strata shifting,
  launches shrinking the others' shares) and the rate of cells in no pocket.

Because the rest is the remainder of two exact sums, units + rest = ``A1 − A0`` on every
replicate; :class:`~kpitree.core.result.Explanation` checks it again when the result is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kpitree.analysis.bootstrap import replicate_split
from kpitree.core.levels import fill_rates, shares_of
from kpitree.core.tree import Tree

KINDS = ("launch", "mix", "rate", "rest")
Key = tuple[str, int | None, tuple[str, ...] | None]


@dataclass(frozen=True)
class Unit:
    """One named unit: ``kind`` (launch, mix, rate), its conditions (``(dimension index, value
    code)`` pairs; one for launch and mix; a dimension named twice means *one of* its values, a
    group such as ``region in (EU, UK)``), the dimensions a mix shift is conditioned on, the
    search's score (ranking only) and why it was taken (``entered``, ``exited`` or
    ``search``)."""

    kind: str
    conditions: tuple[tuple[int, int], ...]
    strata: tuple[int, ...] = ()
    score: float = 0.0
    reason: str = "search"


@dataclass(frozen=True)
class Layout:
    """The report cells and who takes them.

    Attributes:
        dims: the candidate-dimension indexes the report cells split by.
        codes: (cells, len(dims)) value codes of every report cell.
        launch_of: each cell's launch unit (index into the units), −1 for none.
        pocket_of: each non-launched cell's rate unit, −1 for none.
        mix_groups: per mix unit, ``(group of cell, stratum of group, value of group)``: the
            (stratum, value) group of every cell (−1 for launched cells).
    """

    dims: tuple[int, ...]
    codes: np.ndarray
    launch_of: np.ndarray
    pocket_of: np.ndarray
    mix_groups: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]


def _group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense group ids of rows of ``keys`` and each group's first row."""
    if keys.shape[1] == 0:
        return np.zeros(len(keys), dtype=np.int64), np.zeros(min(len(keys), 1), dtype=np.int64)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    first = np.zeros(len(unique), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    return inverse, first


def matches(codes: np.ndarray, dims: Sequence[int], conditions: Sequence[tuple[int, int]]
            ) -> np.ndarray:
    """Which rows of ``codes`` (columns ``dims``) meet the conditions: every dimension named
    (and), one of the values named for it (or) — ``region in (EU, UK) & tier=pro``."""
    position = {d: j for j, d in enumerate(dims)}
    wanted: dict[int, list[int]] = {}
    for dim, value in conditions:
        wanted.setdefault(dim, []).append(value)
    match = np.ones(len(codes), dtype=bool)
    for dim, values in wanted.items():
        match &= np.isin(codes[:, position[dim]], values)
    return match


def layout(units: Sequence[Unit], codes: np.ndarray) -> tuple[Layout, np.ndarray]:
    """The report cells for ``units`` from the finest cells' ``codes`` (cells × all dims).

    Returns the layout and each finest cell's report cell.
    """
    used = sorted({d for u in units for d, _ in u.conditions} | {d for u in units
                                                                  for d in u.strata})
    of_finest, first = _group(codes[:, used])
    report = codes[first][:, used]
    n = len(report)
    launch_of = np.full(n, -1, dtype=np.int64)
    pocket_of = np.full(n, -1, dtype=np.int64)
    for i, unit in enumerate(units):
        if unit.kind == "launch":
            launch_of[matches(report, used, unit.conditions) & (launch_of < 0)] = i
    # Pockets take their cells most specific first (two conditions before one), so a small
    # pocket inside a broad one keeps its own users; ties in the search's order.
    pockets = sorted((i for i, u in enumerate(units) if u.kind == "rate"),
                     key=lambda i: (-len(units[i].conditions), i))
    for i in pockets:
        pocket_of[matches(report, used, units[i].conditions) & (launch_of < 0)
                  & (pocket_of < 0)] = i
    mix_groups = {}
    for i, unit in enumerate(units):
        if unit.kind != "mix":
            continue
        dim = unit.conditions[0][0]
        columns = [used.index(d) for d in unit.strata]
        group, head = _group(report[:, [*columns, used.index(dim)]])
        stratum, _ = _group(report[head][:, columns])
        value = report[head][:, used.index(dim)]
        mix_groups[i] = (np.where(launch_of < 0, group, -1), stratum, value)
    return Layout(tuple(used), report, launch_of, pocket_of, mix_groups), of_finest


def _onehot(of: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((len(of), size))
    keep = of >= 0
    out[np.flatnonzero(keep), of[keep]] = 1.0
    return out


def conditional_mix(
    shares: tuple[np.ndarray, np.ndarray], weighted: tuple[np.ndarray, np.ndarray],
    level: tuple[np.ndarray, np.ndarray], group: np.ndarray, stratum: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``S̄_o·Δp_{v|o}·(r̄_{o,v} − Ā)`` per (stratum, value) group, and ``S̄_o·Δp_{v|o}``.

    ``shares``/``weighted`` (s and s·r per cell) have shape (replicates, cells); ``group`` maps
    cells to groups (−1: left out), ``stratum`` groups to strata. Returns arrays of shape
    (replicates, groups).
    """
    n_groups = len(stratum)
    to_group = _onehot(group, n_groups)
    to_stratum = _onehot(stratum, int(stratum.max(initial=-1)) + 1)
    s = [x @ to_group for x in shares]
    sr = [x @ to_group for x in weighted]
    big = [x @ to_stratum for x in s]  # (R, strata)
    inside = [shares_of(s[t], big[t] @ to_stratum.T) for t in (0, 1)]
    present = [(big[t] @ to_stratum.T) > 0 for t in (0, 1)]
    p0 = np.where(present[0], inside[0], inside[1])
    p1 = np.where(present[1], inside[1], inside[0])
    r0, r1 = fill_rates(shares_of(sr[0], s[0]), shares_of(sr[1], s[1]), s[0], s[1])
    mean_stratum = ((big[0] + big[1]) / 2) @ to_stratum.T
    shift = mean_stratum * (p1 - p0)
    centre = (level[0] + level[1]) / 2
    return shift * ((r0 + r1) / 2 - centre), shift


def decompose(
    tree: Tree, names: Sequence[str], sums0: np.ndarray, sums1: np.ndarray,
    plan: Layout, units: Sequence[Unit],
) -> dict[Key, np.ndarray]:
    """Units + rest on report-cell sums of shape (replicates, cells, measures).

    Returns arrays of shape (replicates,) keyed ``("mix", i, None)`` and ``("rate", i, path)``
    for unit ``i`` (``i = len(units)`` is the rest) and ``("delta", None, None)``.
    """
    split = replicate_split(tree, names, sums0, sums1, cells="a driver-search cell")
    shares, weighted, level, mix, rate = (split.shares, split.weighted, split.level, split.mix,
                                          split.rate)
    n_rep = mix.shape[0]
    rest = len(units)
    out: dict[Key, np.ndarray] = {("delta", None, None): (level[1] - level[0]).reshape(-1)}
    launched = plan.launch_of >= 0
    free = ~launched
    named_mix = np.zeros(n_rep)
    for i, unit in enumerate(units):
        if unit.kind == "launch":
            cells = plan.launch_of == i
            whole = mix[:, cells].sum(axis=1)
            for value in rate.values():
                whole = whole + value[:, cells].sum(axis=1)
            out[("mix", i, None)] = whole
        elif unit.kind == "mix":
            group, stratum, _ = plan.mix_groups[i]
            parts, _ = conditional_mix((shares[0], shares[1]), (weighted[0], weighted[1]),
                                       (level[0], level[1]), group, stratum)
            out[("mix", i, None)] = parts.sum(axis=1)
            named_mix = named_mix + out[("mix", i, None)]
        else:
            cells = plan.pocket_of == i
            out[("mix", i, None)] = np.zeros(n_rep)
            for path, value in rate.items():
                out[("rate", i, path)] = value[:, cells].sum(axis=1)
    out[("mix", rest, None)] = mix[:, free].sum(axis=1) - named_mix
    leftover = free & (plan.pocket_of < 0)
    for path, value in rate.items():
        out[("rate", rest, path)] = value[:, leftover].sum(axis=1)
    return out


def report_sums(of_finest: np.ndarray, finest: Sequence[np.ndarray], n_cells: int) -> np.ndarray:
    """Per-period sums of the report cells from the finest cells' (cells, measures) sums."""
    out = np.zeros((2, n_cells, finest[0].shape[1]))
    for t in (0, 1):
        for j in range(finest[t].shape[1]):
            out[t, :, j] = np.bincount(of_finest, weights=finest[t][:, j], minlength=n_cells)
    return out


__all__ = ["KINDS", "Layout", "Unit", "conditional_mix", "decompose", "layout", "matches",
           "report_sums"]
