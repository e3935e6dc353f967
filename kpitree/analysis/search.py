"""The driver search on cells: exact per-cell contributions, dimension ranking, greedy segments.

What belongs here: each finest cell's exact contribution (the one-level split of
:func:`kpitree.core.shapley.mix_rate`, the cells as segments), the score that ranks dimensions,
and the greedy search for a few non-overlapping segments — the algorithm and its scores are
stated in :mod:`kpitree.analysis.drivers`. What does not: reading rows, the final attribution
over the segments found, or the result type (all in :mod:`kpitree.analysis.drivers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from kpitree.core.cells import Cells, check_total_weights
from kpitree.core.levels import fill_rates, shares_of
from kpitree.core.rows import Rows, combine
from kpitree.core.shapley import mix_rate
from kpitree.core.tree import Tree

REFINE = 0.9  # a refinement keeps ≥ 90 % of the score on ≤ 90 % of the share


@dataclass(frozen=True)
class Step:
    """One chosen segment: its conditions (dimension index → value code) and why."""

    conditions: tuple[tuple[int, int], ...]
    score: float
    reason: str  # "entered", "exited" or "search"


@dataclass(frozen=True)
class CellEffects:
    """Per-cell arrays the search works on."""

    contribution: np.ndarray
    mean_share: np.ndarray
    shares: tuple[np.ndarray, np.ndarray]
    weighted: tuple[np.ndarray, np.ndarray]  # s·r per cell (0 where the cell is empty)
    level: tuple[float, float]


def cell_contributions(tree: Tree, cells: Cells) -> CellEffects:
    """Each finest cell's exact contribution ``Δs·(r̄ − Ā) + s̄·Δr`` (module notes): the
    one-level split of :func:`kpitree.core.shapley.mix_rate` with the cells as segments."""
    values = [cells.values(tree, t) for t in (0, 1)]
    weights = [values[t][tree.weight] for t in (0, 1)]
    totals = [float(w.sum()) for w in weights]
    check_total_weights(tree, totals, cells.periods, cells.source)
    shares = [shares_of(w, total) for w, total in zip(weights, totals, strict=True)]
    weighted = [np.where(w > 0, s * values[t][tree.root], 0.0)
                for t, (w, s) in enumerate(zip(weights, shares, strict=True))]
    level = (float(weighted[0].sum()), float(weighted[1].sum()))
    r0, r1 = fill_rates(values[0][tree.root], values[1][tree.root], weights[0], weights[1])
    mix, _, scale = mix_rate(shares[0], shares[1], r0, r1, np.float64(level[0]),
                             np.float64(level[1]))
    return CellEffects(contribution=mix + scale * (r1 - r0), mean_share=(shares[0] + shares[1]) / 2,
                       shares=(shares[0], shares[1]), weighted=(weighted[0], weighted[1]),
                       level=level)


@dataclass
class _Subset:
    """Cells grouped by one combination of dimensions."""

    dims: tuple[int, ...]
    of_cell: np.ndarray
    codes: np.ndarray  # (groups, len(dims)) value codes


def _subsets(codes: np.ndarray, sizes: Sequence[int], depth: int) -> list[_Subset]:
    out = []
    for k in range(1, depth + 1):
        for dims in combinations(range(codes.shape[1]), k):
            key = combine(codes[:, dims], [sizes[d] for d in dims])
            unique, of_cell = np.unique(key, return_inverse=True)
            first = np.zeros(len(unique), dtype=np.int64)
            of_cell = of_cell.reshape(-1)
            first[of_cell[::-1]] = np.arange(len(of_cell))[::-1]
            out.append(_Subset(dims, of_cell, codes[first][:, dims]))
    return out


def search(
    cells: CellEffects, codes: np.ndarray, sizes: Sequence[int], *, depth: int, max_segments: int,
    min_effect: float,
) -> tuple[list[Step], np.ndarray]:
    """The greedy search (module notes). Returns the steps and each cell's step (−1: rest)."""
    n_cells = len(cells.contribution)
    subsets = _subsets(codes, sizes, depth)
    by_dims = {s.dims: s for s in subsets}
    c, w = cells.contribution, cells.mean_share
    mean_level = (cells.level[0] + cells.level[1]) / 2
    # What a cell would contribute if the pool's shares just scaled by the pool's own growth.
    at_base = cells.weighted[0] - mean_level * cells.shares[0]
    assigned = np.full(n_cells, -1, dtype=np.int64)
    steps: list[Step] = []

    def take(subset: _Subset, group: int, score: float, reason: str) -> None:
        cond = tuple(zip(subset.dims, (int(x) for x in subset.codes[group]), strict=True))
        assigned[(subset.of_cell == group) & (assigned < 0)] = len(steps)
        steps.append(Step(cond, float(score), reason))

    # 1. Values present in one period only, largest contribution first.
    single = [s for s in subsets if len(s.dims) == 1]
    scale = abs(float(c.sum()))
    forced = []
    for subset in single:
        size = len(subset.codes)
        contribution = np.bincount(subset.of_cell, weights=c, minlength=size)
        scale = max(scale, float(np.abs(contribution).max(initial=0.0)))
        share0 = np.bincount(subset.of_cell, weights=cells.shares[0], minlength=size)
        share1 = np.bincount(subset.of_cell, weights=cells.shares[1], minlength=size)
        for code in np.flatnonzero((share0 <= 0) != (share1 <= 0)):
            forced.append((-abs(contribution[code]), subset.dims, code,
                           "entered" if share0[code] <= 0 else "exited", contribution[code]))
    for _, forced_dims, group, reason, value in sorted(forced, key=lambda f: f[:3]):
        if np.any((by_dims[forced_dims].of_cell == group) & (assigned < 0)):
            take(by_dims[forced_dims], int(group), float(abs(value)), reason)

    # 2–4. Greedy: best size-penalised contribution, refined, taken out of the pool.
    threshold = min_effect * scale
    searched = 0
    while searched < max_segments:
        pool = (assigned < 0).astype(float)
        if not pool.any():
            break
        pool_base = float((cells.shares[0] * pool).sum())
        growth = float((cells.shares[1] * pool).sum()) / pool_base if pool_base > 0 else 1.0
        excess = c - (growth - 1.0) * at_base
        pool_share = float((w * pool).sum())
        rho = abs(float((excess * pool).sum())) / pool_share if pool_share > 0 else 0.0
        scores: dict[tuple[int, ...], np.ndarray] = {}
        shares: dict[tuple[int, ...], np.ndarray] = {}
        best: tuple[float, tuple[int, ...], int] | None = None
        for subset in subsets:
            size = len(subset.codes)
            contribution = np.bincount(subset.of_cell, weights=excess * pool, minlength=size)
            share = np.bincount(subset.of_cell, weights=w * pool, minlength=size)
            present = np.bincount(subset.of_cell, weights=pool, minlength=size) > 0
            subset_scores = np.where(present, np.abs(contribution) - rho * share, -np.inf)
            scores[subset.dims], shares[subset.dims] = subset_scores, share
            top = int(np.argmax(subset_scores))
            if best is None or subset_scores[top] > best[0] * (1 + 1e-9) + 1e-15:
                best = (float(subset_scores[top]), subset.dims, top)
        if best is None or best[0] <= max(threshold, 0.0):
            break
        score, dims, g = float(best[0]), best[1], int(best[2])
        while len(dims) < depth:  # refine while a narrower segment keeps the score
            inside = (by_dims[dims].of_cell == g) & (assigned < 0)
            refined = None
            for extra in range(codes.shape[1]):
                if extra in dims:
                    continue
                child_dims = tuple(sorted((*dims, extra)))
                children = np.unique(by_dims[child_dims].of_cell[inside])
                child_scores = scores[child_dims][children]
                h = int(children[int(np.argmax(child_scores))])
                if refined is None or scores[child_dims][h] > refined[0] * (1 + 1e-9) + 1e-15:
                    refined = (float(scores[child_dims][h]), child_dims, h)
            if refined is None:
                break
            if (refined[0] >= REFINE * score
                    and shares[refined[1]][refined[2]] <= REFINE * shares[dims][g]):
                score, dims, g = float(refined[0]), refined[1], int(refined[2])
            else:
                break
        take(by_dims[dims], g, score, "search")
        searched += 1
    return steps, assigned


def rank_dimensions(cells: CellEffects, codes: np.ndarray, rows: Rows) -> pd.DataFrame:
    """Score each dimension by how much of the change it moves between its values."""
    c, w = cells.contribution, cells.mean_share
    delta = float(c.sum())
    records = []
    for k, dim in enumerate(rows.dims):
        size = len(rows.labels[k])
        of_cell = codes[:, k]
        contribution = np.bincount(of_cell, weights=c, minlength=size)
        share = [np.bincount(of_cell, weights=s, minlength=size) for s in cells.shares]
        mean_share = np.bincount(of_cell, weights=w, minlength=size)
        rate = _value_rates(cells, of_cell, size)
        rate_effect = mean_share * (rate[1] - rate[0])
        mix = contribution - rate_effect
        total_rate = float(rate_effect.sum())
        score = float(np.abs(mix).sum() + np.abs(rate_effect - mean_share * total_rate).sum())
        excess = np.abs(contribution - delta * mean_share)
        top = int(np.argmax(excess)) if size else 0
        records.append({"dimension": dim, "values": int((share[0] + share[1] > 0).sum()),
                        "mix": float(mix.sum()), "rate": total_rate, "score": score,
                        "top": f"{dim}={rows.labels[k][top]}" if size else ""})
    ranking = pd.DataFrame(records)
    ranking = ranking.sort_values(["score", "dimension"], ascending=[False, True],
                                  kind="stable").reset_index(drop=True)
    ranking.insert(0, "rank", np.arange(1, len(ranking) + 1))
    return ranking


def _value_rates(cells: CellEffects, of_cell: np.ndarray,
                 size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each value's rate per period; a value absent in one period takes the other's."""
    share = [np.bincount(of_cell, weights=cells.shares[t], minlength=size) for t in (0, 1)]
    total = [np.bincount(of_cell, weights=cells.weighted[t], minlength=size) for t in (0, 1)]
    rates = [shares_of(total[t], share[t]) for t in (0, 1)]
    return fill_rates(rates[0], rates[1], share[0], share[1])
