"""The driver search on cells: per-cell contributions, the dimension ranking, the units.

What belongs here: each finest cell's exact contribution (the one-level split of
:func:`kpitree.core.shapley.mix_rate`, the cells as segments), the score that ranks dimensions,
and the search for units — launches, conditional mix shifts (with their strata and noise
check) and rate pockets (with theirs, :func:`rate_noise`) — stated in
:mod:`kpitree.analysis.drivers`. What does not: reading rows, the exact decomposition
reported (:mod:`kpitree.analysis.discovery`) or the result type
(:mod:`kpitree.analysis.drivers_result`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from kpitree.analysis.discovery import Unit, conditional_mix, matches
from kpitree.core.cells import Cells, check_total_weights
from kpitree.core.levels import fill_rates, shares_of
from kpitree.core.rows import combine
from kpitree.core.shapley import mix_rate
from kpitree.core.tree import Tree

REFINE = 0.9  # a refinement keeps ≥ 90 % of the score on ≤ 90 % of the share
STRATA = 2  # a mix shift is conditioned on at most this many level-setting dimensions
LEVEL_SHARE = 0.01  # a dimension sets the level when it explains ≥ 1 % of the rates' variance…
LEVEL_RELATIVE = 0.1  # … and ≥ 10 % of what the strongest one explains
NOISE_Z = 3.0  # a mix shift must exceed this many standard deviations of its sampling noise
GROUP_ALIKE = 0.5  # values join a group when their excess is ≥ half the best value's …
GROUP_GAIN = 1.5  # … and the group is named when it scores ≥ 50 % more than that value
GROUP_FLOOR = 2.0  # and at least twice the threshold: a group is never a near-noise pocket
RATE_Z = 3.0  # a rate pocket's excess must exceed this many standard deviations of its noise
NOISE_CELLS = 8  # the cells' rate noise is estimated from at least this many cells
MAD_SIGMA = 1.4826  # the median absolute deviation of a normal, in standard deviations


@dataclass(frozen=True)
class CellEffects:
    """Per-cell arrays the search works on."""

    contribution: np.ndarray
    mean_share: np.ndarray
    shares: tuple[np.ndarray, np.ndarray]
    weighted: tuple[np.ndarray, np.ndarray]  # s·r per cell (0 where the cell is empty)
    level: tuple[float, float]
    rates: tuple[np.ndarray, np.ndarray]  # filled rates
    rate: np.ndarray  # the rate part s̄·Δr of the contribution


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
    rate = scale * (r1 - r0)
    return CellEffects(contribution=mix + rate, mean_share=(shares[0] + shares[1]) / 2,
                       shares=(shares[0], shares[1]), weighted=(weighted[0], weighted[1]),
                       level=level, rates=(r0, r1), rate=rate)


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


def launches(cells: CellEffects, subsets: Sequence[_Subset]) -> tuple[list[Unit], np.ndarray]:
    """Values of one dimension present in one period only, largest contribution first, and
    the cells they take (a cell of two launched values goes to the first)."""
    c = cells.contribution
    forced: list[tuple[float, int, int, str, _Subset]] = []
    for subset in subsets:
        if len(subset.dims) != 1:
            continue
        size = len(subset.codes)
        contribution = np.bincount(subset.of_cell, weights=c, minlength=size)
        share0 = np.bincount(subset.of_cell, weights=cells.shares[0], minlength=size)
        share1 = np.bincount(subset.of_cell, weights=cells.shares[1], minlength=size)
        for found in np.flatnonzero((share0 <= 0) != (share1 <= 0)):
            forced.append((-abs(float(contribution[found])), subset.dims[0], int(found),
                           "entered" if share0[found] <= 0 else "exited", subset))
    taken = np.zeros(len(c), dtype=bool)
    units = []
    for negative, dim, code, reason, subset in sorted(forced, key=lambda f: f[:3]):
        inside = (subset.of_cell == code) & ~taken
        if inside.any():
            taken |= inside
            units.append(Unit("launch", ((dim, code),), score=-negative, reason=reason))
    return units, taken


def level_dimensions(cells: CellEffects, codes: np.ndarray, free: np.ndarray) -> list[int]:
    """The dimensions that set the metric's level, strongest first (module notes of
    :mod:`kpitree.analysis.drivers`): share of the cells' rate variance between their values."""
    w = np.where(free, cells.mean_share, 0.0)
    r = (cells.rates[0] + cells.rates[1]) / 2
    total_w = float(w.sum())
    if total_w <= 0:
        return []
    mean = float((w * r).sum()) / total_w
    total = float((w * (r - mean) ** 2).sum())
    if total <= 0:
        return []
    between = []
    for k in range(codes.shape[1]):
        size = int(codes[:, k].max(initial=-1)) + 1
        sw = np.bincount(codes[:, k], weights=w, minlength=size)
        swr = np.bincount(codes[:, k], weights=w * r, minlength=size)
        value = shares_of(swr, sw)
        between.append(float((sw * (value - mean) ** 2).sum()) / total)
    strongest = max(between, default=0.0)
    ranked = sorted(range(len(between)), key=lambda k: (-between[k], k))
    return [k for k in ranked
            if between[k] >= LEVEL_SHARE and between[k] >= LEVEL_RELATIVE * strongest]


def _mix_noise(cells: CellEffects, group: np.ndarray, stratum: np.ndarray,
               counts: tuple[np.ndarray, np.ndarray]) -> float:
    """The sampling noise (standard deviation) of a conditional mix effect: inside each stratum
    the value shares are multinomial in the stratum's count ``n`` (the weight, as a count of
    independent units), so ``Var(Σ_v p̂_v·x_v) = (Σ p_v·x_v² − (Σ p_v·x_v)²)/n`` with ``x`` the
    values' rates; summed over strata with their mean shares squared."""
    n_groups = len(stratum)
    keep = group >= 0
    g = group[keep]
    s = [np.bincount(g, weights=cells.shares[t][keep], minlength=n_groups) for t in (0, 1)]
    sr = [np.bincount(g, weights=cells.weighted[t][keep], minlength=n_groups) for t in (0, 1)]
    n = [np.bincount(g, weights=counts[t][keep], minlength=n_groups) for t in (0, 1)]
    r0, r1 = fill_rates(shares_of(sr[0], s[0]), shares_of(sr[1], s[1]), s[0], s[1])
    x = (r0 + r1) / 2
    n_strata = int(stratum.max(initial=-1)) + 1
    big = [np.bincount(stratum, weights=s[t], minlength=n_strata) for t in (0, 1)]
    size = [np.bincount(stratum, weights=n[t], minlength=n_strata) for t in (0, 1)]
    p = shares_of(s[0] + s[1], (big[0] + big[1])[stratum])
    first = np.bincount(stratum, weights=p * x, minlength=n_strata)
    second = np.bincount(stratum, weights=p * x * x, minlength=n_strata)
    spread = np.maximum(second - first ** 2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.where(size[0] > 0, 1 / size[0], 0.0) + np.where(size[1] > 0, 1 / size[1],
                                                                     0.0)
    mean_share = (big[0] + big[1]) / 2
    return float(np.sqrt((mean_share ** 2 * spread * inverse).sum()))


def rate_noise(cells: CellEffects, counts: tuple[np.ndarray, np.ndarray],
               free: np.ndarray) -> np.ndarray:
    """Each cell's sampling variance of its rate effect ``s̄·Δr``, from the cells alone.

    A cell's rate is a mean over its ``n`` units (the weight read as a count), so
    ``Var(Δr) = σ²·(1/n₀ + 1/n₁)``; ``σ`` is taken as a common coefficient of variation times
    the cell's level ``|r̄|`` (revenue per user spreads in proportion to its level), and that
    coefficient is estimated robustly from the cells themselves: the median absolute deviation
    of ``Δr·√h/|r̄|`` (``h = n₀n₁/(n₀+n₁)``) over the cells, which is what pure noise gives
    when most cells hold no real rate change. Zero (no test) with fewer than ``NOISE_CELLS``
    cells of at least two units in both periods, or counts that are not finite.
    """
    n0, n1 = counts
    level = np.abs((cells.rates[0] + cells.rates[1]) / 2)
    usable = free & (n0 >= 2) & (n1 >= 2) & (level > 0) & np.isfinite(n0) & np.isfinite(n1)
    if int(usable.sum()) < NOISE_CELLS:
        return np.zeros(len(level))
    h = n0[usable] * n1[usable] / (n0[usable] + n1[usable])
    z = (cells.rates[1] - cells.rates[0])[usable] * np.sqrt(h) / level[usable]
    cv = MAD_SIGMA * float(np.median(np.abs(z - np.median(z))))
    out = np.zeros(len(level))
    out[usable] = (cells.mean_share[usable] * cv * level[usable]) ** 2 / h
    return out


def mix_shifts(cells: CellEffects, codes: np.ndarray, free: np.ndarray,
               counts: tuple[np.ndarray, np.ndarray]) -> list[Unit]:
    """One candidate per dimension: its mix conditional on the level-setting dimensions, named
    by the value whose conditional share moved most (the one that grew, on a tie); scored by
    the effect's size, and left out when within ``NOISE_Z`` standard deviations of the shares'
    sampling noise (``counts``: each cell's weight as a count, per period)."""
    levels = level_dimensions(cells, codes, free)
    level = (np.array([[cells.level[0]]]), np.array([[cells.level[1]]]))
    shares = (cells.shares[0][None], cells.shares[1][None])
    weighted = (cells.weighted[0][None], cells.weighted[1][None])
    out = []
    for d in range(codes.shape[1]):
        strata = tuple(sorted([k for k in levels if k != d][:STRATA]))
        keys = codes[:, [*strata, d]]
        unique, group = np.unique(keys, axis=0, return_inverse=True)
        group = np.where(free, group.reshape(-1), -1)
        _, stratum = np.unique(unique[:, :-1], axis=0, return_inverse=True)
        parts, shift = conditional_mix(shares, weighted, level, group, stratum.reshape(-1))
        values = unique[:, -1]
        size = int(values.max(initial=-1)) + 1
        by_value = np.bincount(values, weights=parts[0], minlength=size)
        moved = np.abs(np.bincount(values, weights=shift[0], minlength=size))
        if size < 2 or not np.any(moved > 0):
            continue
        grew = np.bincount(values, weights=shift[0], minlength=size) > 0
        top = max(range(size), key=lambda v: (round(float(moved[v]) / float(moved.max()), 9),
                                              bool(grew[v]), abs(float(by_value[v])), -v))
        effect = abs(float(parts.sum()))
        noise = _mix_noise(cells, group, stratum.reshape(-1), counts)
        if effect <= NOISE_Z * noise:
            continue  # not distinguishable from the sampling noise of the shares
        out.append(Unit("mix", ((d, top),), strata, score=effect))
    return out


def search(
    cells: CellEffects, codes: np.ndarray, sizes: Sequence[int], *, depth: int, max_segments: int,
    min_effect: float, counts: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[Unit]:
    """The search (module notes of :mod:`kpitree.analysis.drivers`): launches first, then
    the best of the mix shifts and rate pockets, one at a time, while above the threshold."""
    subsets = _subsets(codes, sizes, depth)
    by_dims = {s.dims: s for s in subsets}
    units, launched = launches(cells, subsets)
    if counts is None:
        counts = (np.full(len(codes), np.inf), np.full(len(codes), np.inf))
    c, w = cells.contribution, cells.mean_share
    scale = abs(float(c.sum()))
    for subset in subsets:
        if len(subset.dims) == 1:
            value = np.bincount(subset.of_cell, weights=c, minlength=len(subset.codes))
            scale = max(scale, float(np.abs(value).max(initial=0.0)))
    threshold = max(min_effect * scale, 0.0)
    mixes = sorted(mix_shifts(cells, codes, ~launched, counts), key=lambda u: -u.score)
    pool = ~launched
    rate = np.where(launched, 0.0, cells.rate)
    noise = rate_noise(cells, counts, pool)
    searched = 0
    while searched < max_segments:
        pocket = _best_pocket(rate, w, pool, subsets, by_dims, codes.shape[1], depth,
                              threshold, noise)
        mix = mixes[0] if mixes else None
        best = max(pocket.score if pocket else -np.inf, mix.score if mix else -np.inf)
        if best <= threshold:
            break
        if mix is not None and mix.score >= best:
            units.append(mix)
            mixes.pop(0)
        else:
            assert pocket is not None
            units.append(pocket)
            pool &= ~_members(pocket, codes)
        searched += 1
    return units


def _members(unit: Unit, codes: np.ndarray) -> np.ndarray:
    return matches(codes, range(codes.shape[1]), unit.conditions)


def _grouped(effect: np.ndarray, share: np.ndarray, present: np.ndarray, rho: float,
             variance: np.ndarray) -> tuple[float, list[int]] | None:
    """The best group of values of one dimension that behave alike: those whose rate effect
    beyond their size's even share (``±effect − ρ·share``) is at least ``GROUP_ALIKE`` of the
    best value's, same sign; kept when it adds ``GROUP_GAIN`` to the best value's score,
    leaves some values out and is beyond ``RATE_Z`` standard deviations of its noise (the
    values' ``variance`` summed)."""
    best: tuple[float, list[int]] | None = None
    for sign in (1.0, -1.0):
        margin = np.where(present, sign * effect - rho * share, -np.inf)
        order = np.argsort(-margin, kind="stable")
        top = float(margin[order[0]]) if len(order) else -np.inf
        if not top > 0:
            continue
        members = [int(v) for v in order if margin[v] >= GROUP_ALIKE * top]
        if len(members) < 2 or len(members) >= int(present.sum()):
            continue
        score = float(margin[members].sum())
        if score <= RATE_Z * float(np.sqrt(variance[members].sum())):
            continue
        if score >= GROUP_GAIN * top and (best is None or score > best[0]):
            best = (score, sorted(members))
    return best


def _best_pocket(
    rate: np.ndarray, w: np.ndarray, pool: np.ndarray, subsets: Sequence[_Subset],
    by_dims: dict[tuple[int, ...], _Subset], n_dims: int, depth: int, floor: float = 0.0,
    noise: np.ndarray | None = None,
) -> Unit | None:
    """The best rate pocket on the pool: the size-penalised excess rate change, refined; or a
    group of values of one dimension that behave alike, when it scores higher (and at least
    ``GROUP_FLOOR`` × ``floor``, the search's threshold). A segment whose excess is within
    ``RATE_Z`` standard deviations of its sampling noise (``noise``: each cell's variance,
    :func:`rate_noise`) is not a candidate."""
    if noise is None:
        noise = np.zeros(len(rate))
    if not pool.any():
        return None
    inside_pool = pool.astype(float)
    pool_share = float((w * inside_pool).sum())
    rho = abs(float((rate * inside_pool).sum())) / pool_share if pool_share > 0 else 0.0
    scores: dict[tuple[int, ...], np.ndarray] = {}
    shares: dict[tuple[int, ...], np.ndarray] = {}
    best: tuple[float, tuple[int, ...], int] | None = None
    grouped: tuple[float, int, list[int]] | None = None
    for subset in subsets:
        size = len(subset.codes)
        effect = np.bincount(subset.of_cell, weights=rate * inside_pool, minlength=size)
        share = np.bincount(subset.of_cell, weights=w * inside_pool, minlength=size)
        present = np.bincount(subset.of_cell, weights=inside_pool, minlength=size) > 0
        spread = np.sqrt(np.bincount(subset.of_cell, weights=noise * inside_pool,
                                     minlength=size))
        excess = np.abs(effect) - rho * share
        subset_scores = np.where(present & (excess > RATE_Z * spread), excess, -np.inf)
        scores[subset.dims], shares[subset.dims] = subset_scores, share
        top = int(np.argmax(subset_scores))
        if best is None or subset_scores[top] > best[0] * (1 + 1e-9) + 1e-15:
            best = (float(subset_scores[top]), subset.dims, top)
        if len(subset.dims) == 1:
            group = _grouped(effect, share, present, rho, spread ** 2)
            if group is not None and (grouped is None or group[0] > grouped[0]):
                grouped = (group[0], subset.dims[0],
                           [int(subset.codes[v, 0]) for v in group[1]])
    if best is None or not np.isfinite(best[0]):
        return None
    if grouped is not None and grouped[0] > max(best[0], GROUP_FLOOR * floor):
        return Unit("rate", tuple((grouped[1], v) for v in grouped[2]), score=grouped[0])
    score, dims, g = float(best[0]), best[1], int(best[2])
    while len(dims) < depth:  # refine while a narrower segment keeps the score
        inside = (by_dims[dims].of_cell == g) & pool
        refined = None
        for extra in range(n_dims):
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
    conditions = tuple(zip(dims, (int(x) for x in by_dims[dims].codes[g]), strict=True))
    return Unit("rate", conditions, score=score)


def rank_dimensions(cells: CellEffects, codes: np.ndarray, dims: Sequence[str],
                    labels: Sequence[Sequence[str]]) -> pd.DataFrame:
    """Score each dimension by how much of the change it moves between its values."""
    c, w = cells.contribution, cells.mean_share
    delta = float(c.sum())
    records = []
    for k, dim in enumerate(dims):
        size = len(labels[k])
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
                        "top": f"{dim}={labels[k][top]}" if size else ""})
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
