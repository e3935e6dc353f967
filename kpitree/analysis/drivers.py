"""Driver discovery: which dimensions, and which few units, carry a change in the root.

What belongs here: :func:`drivers` (reading the rows) and :func:`drivers_on_cells` (finest
cells already summed, e.g. by a raw source's engine) — the checks of the options, the search,
the ranking — and the statement of the algorithm below. What does not: the search on cells
(:mod:`kpitree.analysis.search`), the exact decomposition into units
(:mod:`kpitree.analysis.discovery`), the result type and its intervals
(:mod:`kpitree.analysis.drivers_result`), terminal output (:mod:`kpitree.present.drivers_table`).

**Units.** A driver search names *launches* (a value present in one period only), *mix
shifts* along one dimension — conditional on the dimensions that set the metric's level, so a
shift that is the same in every plan is one item — and *rate pockets* of one or two
conditions, plus a named ``rest``; :mod:`kpitree.analysis.discovery` states the decomposition.
Units + rest add up to ``A1 − A0`` exactly, checked every time.

**Search** (:func:`kpitree.analysis.search.search`, on the finest cells):

1. Launched or discontinued values first, largest contribution first — always reported.
2. Candidates: one conditional mix shift per dimension, score ``|M_d|``, left out when within
   three standard deviations of its sampling noise (multinomial shares inside each stratum,
   the weight read as a count); the best rate pocket, score ``|R_S| − ρ·s̄_S`` (its rate
   effect beyond an even spread of the pool's, ``ρ = |R_pool|/s̄_pool``), refined by one more
   condition while that keeps ≥ 90 % of the score on ≤ 90 % of the share; a pocket (or group
   of values) whose excess is within three standard deviations of its sampling noise is not a
   candidate (:func:`kpitree.analysis.search.rate_noise`: the cells' rates as means over their
   users, with a coefficient of variation estimated robustly from the cells).
3. Greedy: the larger score is named (a pocket's cells leave the pool); repeat until
   ``max_segments`` or until the best score is below ``min_effect`` × the change's scale
   (``max(|A1 − A0|, largest |c| of one value)``, ``c = Δs·(r̄ − Ā) + s̄·Δr`` per cell).

Scores only rank; every number reported is the exact decomposition on the report cells.

**Dimension score.** For a dimension with values ``v`` explained on its own (one level), the
score is ``Σ|mix_v| + Σ|rate_v − s̄_v·R|`` (``R`` the dimension's total rate effect): the
amount of change, in the metric's unit, that the dimension moves *between* its values — share
shifts, plus rate changes beyond a uniform one. A dimension whose values all move in lockstep
scores zero whatever the size of the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from kpitree.analysis.dimensions import Buckets, bucketed
from kpitree.analysis.discovery import KINDS
from kpitree.analysis.drivers_result import REST, Drivers, build, segment_name
from kpitree.analysis.search import cell_contributions, rank_dimensions, search
from kpitree.core.cells import Cells
from kpitree.core.data import DataSource
from kpitree.core.errors import MethodError
from kpitree.core.resample import user_keys
from kpitree.core.rows import Rows, cells_from_rows, load_rows
from kpitree.core.tree import Tree

# --- The public entry point --------------------------------------------------------------------

def check_arguments(dims: Sequence[str], depth: int, max_segments: int,
                    min_effect: float) -> int:
    """The checks of :func:`drivers`' options; returns ``depth`` capped at the dimensions."""
    if not dims:
        raise MethodError("drivers needs at least one dimension: --dims tier region …")
    if depth < 1:
        raise MethodError(f"--depth {depth} must be at least 1")
    if max_segments < 1:
        raise MethodError(f"--max-segments {max_segments} must be at least 1")
    if not 0 <= min_effect < 1:
        raise MethodError(f"--min-effect {min_effect:g} must be a fraction in [0, 1)")
    return min(depth, len(dims))  # deeper than the dimensions means "all of them"


def drivers(
    tree: Tree,
    data: DataSource,
    *,
    base: object,
    compare: object,
    dims: Sequence[str],
    depth: int = 2,
    max_segments: int = 5,
    min_effect: float = 0.05,
    replicates: int = 0,
    level: float = 0.95,
    seed: int = 0,
    period_column: str = "period",
    buckets: Buckets | None = None,
    user_id: str | None = None,
) -> Drivers:
    """Find which dimensions and which few units (launches, mix shifts, rate pockets) explain
    the change, exactly.

    Args:
        tree: a loaded tree.
        data: a DataFrame or CSV/Parquet path; user-level rows (one per user × period) or
            aggregated rows — repeated rows are summed.
        base, compare: the two periods.
        dims: the candidate dimensions.
        depth: the most conditions per rate pocket (default 2, e.g. ``tier=pro & region=EU``;
            capped at the number of dimensions).
        max_segments: the most mix shifts and rate pockets the search names (values that
            entered or exited are named on top).
        min_effect: stop when the best candidate's score is below this fraction of the
            change's scale (module notes).
        replicates: bootstrap replicates for intervals (0: none; needs user-level rows).
        level, seed: the intervals' coverage and the bootstrap's seed.
        period_column: the period column's name.
        buckets: numeric dimensions to bucket first (:mod:`kpitree.analysis.dimensions`):
            ``{"seats": 4}`` for quantile buckets, ``{"tenure": [3, 12]}`` for edges.
        user_id: the user id column of user-level rows. With it, a user with several rows in
            one period counts once, as the raw-events layer counts them
            (:func:`one_row_per_user`), and the bootstrap's counts are hashed from the id
            (:mod:`kpitree.analysis.bootstrap`), so they equal a raw source's pushed-down
            intervals; without it, each row is a unit with its own count.

    Returns:
        A :class:`Drivers` explanation over the units and ``rest``; its effects add up to
        ``compare − base`` exactly (checked).

    Raises:
        DataError: bad data, unknown dimension or period.
        MethodError: a bad ``depth``, ``max_segments`` or ``min_effect``.

    Example:
        >>> result = drivers(tree, "data/saas_monthly.csv", base="2026-09", compare="2026-10",
        ...                  dims=["tier", "region"])
        >>> result.found[["kind", "segment", "contribution"]].round(2)
             kind                    segment  contribution
        0  launch              tier=business          4.21
        1    rate  tier in (enterprise, pro)          0.71
        2    rest                       rest         -0.79
    """
    depth = check_arguments(list(dims), depth, max_segments, min_effect)
    edges: dict[str, list[float]] = {}
    if buckets:
        data, edges = bucketed(tree, data, buckets, dims=list(dims), base=base,
                               compare=compare, period_column=period_column)
    keys = None
    if user_id is None:
        rows = load_rows(tree, data, dims=list(dims), base=base, compare=compare,
                         period_column=period_column)
    else:
        if user_id in dims:
            raise MethodError(f"user_id {user_id!r} is also one of the dims; a user id is not "
                              "a dimension to search")
        rows, users = one_row_per_user(tree, load_rows(
            tree, data, dims=[*dims, user_id], base=base, compare=compare,
            period_column=period_column))
        if replicates:
            keys = user_keys(users.labels, seed=seed)[users.codes]
    table, codes, _ = cells_from_rows(rows)
    result = drivers_on_cells(tree, table, codes, rows.labels, depth=depth,
                              max_segments=max_segments, min_effect=min_effect)
    if buckets:
        result = replace(result, buckets=edges)  # the edges used, quantiles resolved
    if replicates:
        result = result.with_replicates(result.report_cell(rows.codes, rows.labels),
                                        rows.period, rows.measures, rows.names,
                                        replicates=replicates, level=level, seed=seed,
                                        keys=keys)
    return result


@dataclass(frozen=True)
class UserCodes:
    """Each row's user (``codes`` into ``labels``, the ids as text)."""

    codes: np.ndarray
    labels: tuple[str, ...]


def one_row_per_user(tree: Tree, rows: Rows) -> tuple[Rows, UserCodes]:
    """One row per user and period, as the raw-events layer makes them; ``rows``' last
    dimension is the user id, which is split off.

    A user whose attribute changes within a period (a plan upgrade in a quarter, logged month
    by month) is one user-period there: the dimension values of their *last* row in the
    period (rows in time order: the period end, as the data layer takes the users row at
    period end), the measures summed over their rows, and every count the tree divides by
    (the weight, denominators: :attr:`~kpitree.core.tree.Tree.count_columns`) counted once —
    the largest of the rows. Users with one row per period are left as they are.
    """
    user = rows.codes[:, -1]
    labels = rows.labels[-1]
    dims_rows = replace(rows, dims=rows.dims[:-1], labels=rows.labels[:-1],
                        codes=rows.codes[:, :-1])
    slot = user * 2 + rows.period
    order = np.argsort(slot, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(slot[order]) != 0])
    if len(starts) == len(slot):
        return dims_rows, UserCodes(user, labels)
    last = order[np.r_[starts[1:], len(order)] - 1]
    counts = set(tree.count_columns)
    measures = np.empty((len(starts), rows.measures.shape[1]))
    for j, node in enumerate(rows.names):
        column = rows.measures[order, j]
        reduce = np.maximum if tree.columns[node] in counts else np.add
        measures[:, j] = reduce.reduceat(column, starts)
    collapsed = replace(dims_rows, codes=dims_rows.codes[last], period=rows.period[last],
                        measures=measures)
    return collapsed, UserCodes(user[last], labels)


def drivers_on_cells(
    tree: Tree, table: Cells, codes: np.ndarray, labels: Sequence[Sequence[str]], *,
    depth: int = 2, max_segments: int = 5, min_effect: float = 0.05,
) -> Drivers:
    """:func:`drivers` on finest cells already summed (``table``, with each cell's value codes
    under ``labels``): what a raw source pushed down to its engine hands over."""
    dims = tuple(str(d) for d in table.keys.columns)
    depth = check_arguments(dims, depth, max_segments, min_effect)
    cells = cell_contributions(tree, table)
    sizes = [len(x) for x in labels]
    counts = (table.values(tree, 0)[tree.weight], table.values(tree, 1)[tree.weight])
    units = search(cells, codes, sizes, depth=depth, max_segments=max_segments,
                   min_effect=min_effect, counts=counts)
    frozen_labels = tuple(tuple(str(v) for v in x) for x in labels)
    ranking = rank_dimensions(cells, codes, dims, frozen_labels)
    return build(tree, table, codes, frozen_labels, units, ranking, depth)


__all__ = ["KINDS", "REST", "Drivers", "drivers", "drivers_on_cells", "one_row_per_user",
           "segment_name"]
