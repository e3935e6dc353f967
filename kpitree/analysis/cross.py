"""Order-free cross-classified mix: Das Gupta's decomposition as implemented by DasGuptR.

What belongs here: splitting the change of the root over cross-classified dimensions (``tier ×
region``) into one composition effect per dimension and a rate effect, without the nesting order
that :func:`kpitree.explain` needs; and the per-category effects of Chevan & Sutherland (2009).
What does not: the nested split (:mod:`kpitree.core.attribution`).

Convention (DasGuptR ``ccwrap``/``dgcc``, *nested*, not a flat Shapley over all factors —
``published/dasgupta_1993/eg5_3_expected.json`` documents both and DasGuptR's printed numbers
follow this one):

* each cell's share of the total ``N_c/N`` is written as a product of one symmetric factor per
  dimension (Das Gupta 1993, eq. 5.36 for two; ``split_popstr`` for more): for dimension ``v``,
  ``F_v = Π_S (N_{S∪v} / N_S)^(1 / (P·C(P−1, |S|)))`` over the subsets ``S`` of the other
  dimensions (``N_S`` the cell's marginal total over ``S``, ``N_∅ = N``); for two dimensions
  ``F_tier = √((N_ij/N_j)·(N_i/N))``;
* **rate** effect: Kitagawa with the full cell share, ``Σ p̄_c·Δr_c`` (``p = N_c/N``), split
  to the drivers like any rate effect;
* **composition** effects: a P-factor Das Gupta (= Shapley) split of ``Δ Π F_v`` per cell, each
  cell weighted by its mean rate ``r̄_c`` (not centred: the published convention);
* **per category** (Chevan & Sutherland): a value of dimension ``v`` gets the composition effect
  of ``v`` summed over its cells and ``1/P`` of those cells' rate effect, so the categories of
  all dimensions add up to the change.

The effects (mix rows per dimension value, rate rows per cell and driver) add up to the change
exactly; the result does not depend on the order of ``by``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

from kpitree.core.cells import canonical, check_total_weights
from kpitree.core.data import DataSource
from kpitree.core.errors import MethodError
from kpitree.core.frames import effects_table, keys_frame, mix_rows, parts_frame, rate_rows
from kpitree.core.levels import fill_rates, filled_driver_values, levels, shares_of, status
from kpitree.core.result import Explanation, PeriodValue
from kpitree.core.rows import cells_from_rows, combine, load_rows
from kpitree.core.shapley import shapley_weight, split_part
from kpitree.core.tree import Tree

METHOD = "cross"


def structure_factors(sizes: np.ndarray, codes: np.ndarray,
                      other: np.ndarray | None = None) -> np.ndarray:
    """Das Gupta's symmetric factors of each cell's share, shape (dims, cells).

    ``sizes`` are the cells' weights in one period, ``codes`` (cells, dims) their values. The
    product over dimensions is ``sizes / sizes.sum()``.

    ``other`` (the other period's weights) fills the ratios that are undefined here (0/0: the
    cell's group over the other dimensions is empty in this period) with that period's ratio,
    as kpitree fills any value undefined in one period (DESIGN.md §3). Without it they are 0 —
    DasGuptR's convention — and a tier that launches in every region is then split half into
    tier and half into *region* composition although no region's share moved. The product is
    unchanged either way (an empty cell keeps a zero factor), so the effects stay exact.
    """
    if other is not None:
        mine = _ratios(sizes, codes)
        theirs = _ratios(other, codes)
        n_dims = codes.shape[1]
        factors = np.ones((n_dims, codes.shape[0]))
        for (v, power), ratio, fallback in zip(mine[0], mine[1], theirs[1], strict=True):
            filled = np.where(np.isnan(ratio), fallback, ratio)
            factors[v] *= np.where(np.isnan(filled), 0.0, filled) ** power
        return factors
    terms, ratios = _ratios(sizes, codes)
    factors = np.ones((codes.shape[1], codes.shape[0]))
    for (v, power), ratio in zip(terms, ratios, strict=True):
        factors[v] *= np.where(np.isnan(ratio), 0.0, ratio) ** power
    return factors


def _ratios(sizes: np.ndarray, codes: np.ndarray
            ) -> tuple[list[tuple[int, float]], list[np.ndarray]]:
    """The terms ``(N_{S∪v} / N_S)`` of :func:`structure_factors` (NaN where 0/0), each with
    its dimension ``v`` and power ``1 / (P·C(P−1, |S|))``."""
    n_cells, n_dims = codes.shape
    total = float(sizes.sum())
    maxima = [int(codes[:, k].max(initial=0)) + 1 for k in range(n_dims)]

    def marginal(subset: tuple[int, ...]) -> np.ndarray:
        if not subset:
            return np.full(n_cells, total)
        key = combine(codes[:, list(subset)], [maxima[k] for k in subset])
        _, inverse = np.unique(key, return_inverse=True)
        inverse = inverse.reshape(-1)
        return np.bincount(inverse, weights=sizes)[inverse]

    terms: list[tuple[int, float]] = []
    ratios: list[np.ndarray] = []
    for v in range(n_dims):
        others = [k for k in range(n_dims) if k != v]
        for size in range(n_dims):
            power = 1.0 / (n_dims * comb(n_dims - 1, size))
            for subset in combinations(others, size):
                top = marginal(tuple(sorted((*subset, v))))
                bottom = marginal(subset)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)
                terms.append((v, power))
                ratios.append(ratio)
    return terms, ratios


def composition_effects(
    factors0: np.ndarray, factors1: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Das Gupta (Shapley) split of ``Δ Π F`` per cell, times ``weight`` (the mean rate).

    Returns the effects (dims, cells) and the standardized values of each factor for the two
    periods (dims,) each: ``Q_v(t) = Σ_c weight·Σ_S w_S·F_v,t·Π_{u∈S} F_u,1·Π_{u∉S} F_u,0``.
    """
    n_dims = factors0.shape[0]
    standard = np.zeros((2, n_dims, factors0.shape[1]))
    for v in range(n_dims):
        others = [k for k in range(n_dims) if k != v]
        for size in range(n_dims):
            w = shapley_weight(size, n_dims)
            for subset in combinations(others, size):
                term = np.full(factors0.shape[1], w)
                for u in others:
                    term = term * (factors1[u] if u in subset else factors0[u])
                standard[0, v] += term * factors0[v] * weight
                standard[1, v] += term * factors1[v] * weight
    effects = standard[1] - standard[0]
    return effects, standard[0].sum(axis=1), standard[1].sum(axis=1)


def explain_cross(
    tree: Tree, data: DataSource, *, base: object, compare: object,
    by: Sequence[str] | None = None, period_column: str = "period",
) -> Explanation:
    """Explain the change with order-free cross-classified composition effects (module notes).

    Args:
        tree, data, base, compare, period_column: as :func:`kpitree.explain`.
        by: the cross-classified dimensions (default: the tree's ``segments``); any order gives
            the same numbers.

    Returns:
        An :class:`Explanation` with method ``cross``: one mix row per value of every dimension
        (its composition effect), rate rows per cell and driver; ``segments`` has one row per
        value of every dimension with its share of the total, its composition effect as ``mix``
        and its Chevan–Sutherland share of the rate effect as ``rate``.

    Raises:
        DataError: as :func:`kpitree.explain`.
        MethodError: no dimension given.

    Example:
        >>> result = explain_cross(tree, "data/saas_monthly.csv", base="2026-09",
        ...                        compare="2026-10", by=["tier", "region"])
        >>> {kind: round(value, 2) for kind, value in result.totals.items()}
        {'mix': 3.5, 'rate': 0.63}
    """
    dims = list(tree.segments if by is None else by)
    if not dims:
        raise MethodError("--cross needs at least one dimension: --by tier region")
    rows = load_rows(tree, data, dims=dims, base=base, compare=compare,
                     period_column=period_column)
    cells, codes, _ = cells_from_rows(rows)
    if canonical(cells, dims) is not cells:  # pragma: no cover - the rows' cells are sorted
        raise RuntimeError("internal error: cross-classified cells must be unique and sorted "
                           "so that cell arrays line up with the finest level")
    values = [cells.values(tree, t) for t in (0, 1)]
    weights = [values[t][tree.weight] for t in (0, 1)]
    totals = [float(w.sum()) for w in weights]
    check_total_weights(tree, totals, rows.periods, rows.source)
    r0, r1 = fill_rates(values[0][tree.root], values[1][tree.root], weights[0], weights[1])
    level = [float(np.where(w > 0, shares_of(w, total) * r, 0.0).sum())
             for w, total, r in zip(weights, totals, (r0, r1), strict=True)]
    factors = [structure_factors(weights[t], codes, weights[1 - t]) for t in (0, 1)]
    composition, _, _ = composition_effects(factors[0], factors[1], (r0 + r1) / 2)
    share = [np.prod(f, axis=0) for f in factors]
    mean_share = (share[0] + share[1]) / 2

    # The rate effect of every cell, split to the drivers (the core's split, same conventions).
    finest = levels(tree, cells, dims)[-1]
    driver0, driver1 = filled_driver_values(tree, finest)
    _, _, contributions = split_part(tree.structure, driver0, driver1)
    cell_rate = {path: mean_share * value for path, value in contributions.items()}

    effects, segments = _frames(tree, dims, rows.labels, codes, cells.keys, composition,
                                cell_rate, weights, totals, (r0, r1))
    return Explanation(
        tree=tree, method=METHOD, by=tuple(dims),
        base=PeriodValue(rows.periods[0], level[0], totals[0]),
        compare=PeriodValue(rows.periods[1], level[1], totals[1]),
        effects=effects, segments=segments,
        parts=parts_frame(tree, levels(tree, cells, dims)[:2], dims, cell_rate, finest),
    )


def _frames(
    tree: Tree, dims: list[str], labels: Sequence[Sequence[str]], codes: np.ndarray,
    keys: pd.DataFrame, composition: np.ndarray, cell_rate: dict[tuple[str, ...], np.ndarray],
    weights: Sequence[np.ndarray], totals: Sequence[float], rates: Sequence[np.ndarray],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_dims = len(dims)
    rate_cells = sum(cell_rate.values(), np.zeros(len(keys)))
    mix_pieces, segment_pieces = [], []
    for k, dim in enumerate(dims):
        size = len(labels[k])
        of_cell = codes[:, k]
        present = np.bincount(of_cell, minlength=size) > 0
        values_k = np.asarray(labels[k], dtype=object)
        frame = pd.DataFrame({d: [None] * int(present.sum()) for d in dims}, dtype=object)
        frame[dim] = values_k[present]
        mix = np.bincount(of_cell, weights=composition[k], minlength=size)[present]
        mix_pieces.append(mix_rows(tree, frame, dim, "mix", mix, label=f"{dim} composition"))
        seg = frame.copy()
        seg.insert(0, "level", dim)
        seg["segment"] = [{dim: v} for v in values_k[present]]
        w = [np.bincount(of_cell, weights=weights[t], minlength=size)[present] for t in (0, 1)]
        seg["status"] = status(w[0], w[1])
        seg["base_weight"], seg["compare_weight"] = w
        seg["base_share"], seg["compare_share"] = w[0] / totals[0], w[1] / totals[1]
        for t, name in ((0, "base_value"), (1, "compare_value")):
            weighted = np.bincount(of_cell, weights=np.where(weights[t] > 0,
                                                             weights[t] * rates[t], 0.0),
                                   minlength=size)[present]
            seg[name] = np.where(w[t] > 0, shares_of(weighted, w[t]), np.nan)
        seg["mix"] = mix
        # DESIGN §4a: inside a segment of one dimension, the other dimensions' composition
        # effects on its cells are its inner mix, and its cells' driver effects its rate.
        seg["inner_mix"] = sum((np.bincount(of_cell, weights=composition[j], minlength=size)
                                [present] for j in range(n_dims) if j != k), np.zeros(len(mix)))
        seg["rate"] = np.bincount(of_cell, weights=rate_cells, minlength=size)[present]
        # Chevan & Sutherland's category rate effect (Das Gupta eg5_3): the rate shared
        # equally between the dimensions, so every dimension's categories sum to rate / n.
        seg["category_rate"] = seg["rate"] / n_dims
        seg["interaction"] = 0.0
        seg["inner_interaction"] = 0.0
        segment_pieces.append(seg)
    rate_pieces = rate_rows(tree, keys_frame(keys, dims, len(keys)), cell_rate)
    effects = effects_table(mix_pieces + rate_pieces, dims)
    segments = pd.concat(segment_pieces, ignore_index=True)
    return effects, segments
