"""Driver discovery: which dimensions, and which few segments, carry a change in the root.

What belongs here: :func:`drivers` — reading the rows, running the search, and
:class:`Drivers`, an :class:`~kpitree.core.result.Explanation` of the change over the segments
found plus an exact ``rest`` — and the statement of the algorithm below. What does not: the
search on cells itself (:mod:`kpitree.analysis.search`), the attribution maths
(:mod:`kpitree.core.attribution` does the final split), resampling
(:mod:`kpitree.analysis.bootstrap`), terminal output (:mod:`kpitree.present.drivers_table`).

**Exact contributions.** For the finest cells (one per combination of the dimensions' values
present) with shares ``s0, s1`` of the total weight, rates ``r0, r1`` and ``A0, A1`` the root
on all rows, a cell contributes::

    c = s1·r1 − s0·r0 − Ā·(s1 − s0),  Ā = (A0 + A1)/2
      = Δs·(r̄ − Ā) + s̄·Δr          (the mix + rate of DESIGN.md §3 for one segment)

``s·r`` and ``s`` add up over cells, so a segment's contribution is the sum of its cells' and
does not depend on which other segments are chosen: *any* set of non-overlapping segments plus
the rest adds up to ``A1 − A0`` exactly. An entered segment (``s0 = 0``) contributes
``s1·(r1 − Ā)``, all mix — never dropped.

**Dimension score.** For a dimension with values ``v`` explained on its own (one level), the
score is ``Σ|mix_v| + Σ|rate_v − s̄_v·R|`` (``R`` the dimension's total rate effect): the
amount of change, in the metric's unit, that the dimension moves *between* its values — share
shifts, plus rate changes beyond a uniform one. A dimension whose values all move in lockstep
scores zero whatever the size of the change, so the score says where the change concentrates,
not how big it is; being in the metric's unit it compares directly with ``A1 − A0``. (Unlike a
divergence of shares it sees rate changes; unlike variance explained it needs no model.) Noise
adds a little to every score, more for dimensions with many small values.

**Segment search** (greedy, on the cells not yet taken — the *pool*):

1. Values of a single dimension present in one period only (a launched tier, a new cohort) are
   taken first, largest contribution first: they are always news.
2. Every conjunction of up to ``depth`` dimensions is scored on its *excess* contribution
   ``e_S = c_S − (g − 1)·(s0_S·r0_S − Ā·s0_S)``, where ``g`` is the pool's share growth: what
   is left after the segment's share merely scaled with the pool's (when a tier launches or a
   segment is taken out, every other segment's share shrinks alike, and valued at its distance
   from the average that would look like an effect everywhere). The score is
   ``|e_S| − ρ·s̄_S`` with ``ρ = |e_pool| / s̄_pool``, the pool's excess per unit of share: the
   segment's excess beyond what its size would carry if the pool's change were spread evenly.
   A big segment that merely moved with everyone scores about zero; a small one that moved
   alone scores high. Scores only rank; every number reported is the exact contribution.
3. The best segment is refined (one more condition, up to ``depth``) while a refinement keeps
   at least 90 % of its score on at most 90 % of its share — so the planted
   ``tier=pro & region=EU`` is reported rather than the whole of ``tier=pro``.
4. It is taken out of the pool; repeat until ``max_segments`` or until the best score falls
   below ``min_effect`` × the scale of the change (``max(|A1 − A0|, largest |c| of one
   value)``).

Segments are reported in this split order. A segment covers the rows matching its conditions
*that no earlier segment took* (first match wins; its label says ``excl. #1`` when it overlaps an
earlier one), so segments never overlap and the rest is what remains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from kpitree.analysis.bootstrap import intervals_for_groups
from kpitree.analysis.search import CellEffects, Step, cell_contributions, rank_dimensions, search
from kpitree.core import views
from kpitree.core.attribution import attribute
from kpitree.core.cells import Cells
from kpitree.core.data import DataSource
from kpitree.core.errors import DataError, MethodError
from kpitree.core.result import Explanation
from kpitree.core.rows import Rows, cells_from_rows, load_rows
from kpitree.core.tree import Tree

REST = "rest"


@dataclass(frozen=True)
class Drivers(Explanation):
    """An :class:`Explanation` over a few discovered segments plus an exact ``rest``.

    The explanation's one segment dimension (``by``, normally ``"split"``) holds the segment
    labels; everything an explanation does (JSON, table, image, intervals) works unchanged.

    Attributes (besides :class:`Explanation`'s):
        dims: the candidate dimensions searched.
        depth: the most conditions a segment may have.
        ranking: one row per dimension, best first: ``dimension``, ``values``, ``mix``,
            ``rate``, ``score`` (see the module notes), ``top`` (the value moving most).
        found: one row per segment in split order, then the rest: ``step``, ``segment``
            (label), ``conditions`` (dict), ``excludes`` (earlier steps it overlaps),
            ``reason``, ``status``, ``score``, shares, values and ``mix``, ``rate``,
            ``contribution``.
    """

    dims: tuple[str, ...] = ()
    depth: int = 2
    ranking: pd.DataFrame = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    found: pd.DataFrame = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    rules: tuple[tuple[tuple[str, str], ...], ...] = field(default=(), repr=False)

    @property
    def dimension(self) -> str:
        """The name of the explanation's segment column (``split``)."""
        return self.by[0]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of :class:`Explanation` plus a ``drivers`` block."""
        out = super().to_dict()
        bounds = self.intervals.segments if self.intervals is not None else None
        segments = []
        for row in self.found.itertuples(index=False):
            item = {
                "step": None if row.step == 0 else int(row.step), "segment": row.segment,
                "conditions": dict(row.conditions), "excludes": list(row.excludes),
                "reason": row.reason, "status": row.status, "score": _plain(row.score),
                "base": {"share": _plain(row.base_share), "value": _plain(row.base_value)},
                "compare": {"share": _plain(row.compare_share),
                            "value": _plain(row.compare_value)},
                "mix": _plain(row.mix), "rate": _plain(row.rate),
                "contribution": _plain(row.contribution),
            }
            if bounds is not None:
                low, high = bounds[row.segment]
                item["interval"] = [_plain(low), _plain(high)]
                item["noise"] = bool(low <= 0 <= high)
            segments.append(item)
        out["drivers"] = {
            "dims": list(self.dims), "depth": self.depth,
            "ranking": [{k: _plain(v) for k, v in r.items()}
                        for r in self.ranking.to_dict("records")],
            "split_order": [s["segment"] for s in segments if s["step"] is not None],
            "segments": segments,
        }
        return out

    def __str__(self) -> str:
        return views.show("drivers_table", self)

    def assign_rows(
        self, data: DataSource, *, replicates: int = 200, level: float = 0.95, seed: int = 0,
        period_column: str = "period",
    ) -> Drivers:
        """This result with bootstrap intervals from the row-level ``data`` it came from."""
        rows = load_rows(self.tree, data, dims=self.dims, base=self.base.period,
                         compare=self.compare.period, period_column=period_column)
        labels = list(self.found["segment"])
        groups = np.full(len(rows.period), len(labels) - 1, dtype=np.int64)
        if labels[-1] != REST:
            groups[:] = -1
        taken = np.zeros(len(rows.period), dtype=bool)
        positions = {d: k for k, d in enumerate(rows.dims)}
        for g, rule in enumerate(self.rules):
            match = ~taken
            for dim, value in rule:
                labels_k = rows.labels[positions[dim]]
                code = labels_k.index(value) if value in labels_k else -1
                match &= rows.codes[:, positions[dim]] == code
            groups[match] = g
            taken |= match
        if (groups < 0).any():  # pragma: no cover - data differs from the result's
            raise DataError("the data has rows in no segment of this result; pass the same data")
        intervals = intervals_for_groups(self, groups, rows.period, rows.measures, rows.names,
                                         labels, replicates=replicates, level=level, seed=seed)
        return replace(self, intervals=intervals)


def _plain(value: object) -> object:
    """JSON-friendly scalars: numpy numbers to Python, NaN to None."""
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value) + 0.0
    if isinstance(value, np.integer):
        return int(value)
    return value


# --- The public entry point --------------------------------------------------------------------

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
) -> Drivers:
    """Find which dimensions and which few segments explain the change, exactly.

    Args:
        tree: a loaded tree.
        data: a DataFrame or CSV/Parquet path; user-level rows (one per user × period) or
            aggregated rows — repeated rows are summed.
        base, compare: the two periods.
        dims: the candidate dimensions.
        depth: the most conditions per segment (default 2, e.g. ``tier=pro & region=EU``;
            capped at the number of dimensions).
        max_segments: the most segments the search reports (values that entered or exited are
            reported on top).
        min_effect: stop when the best segment's score is below this fraction of the change's
            scale (module notes).
        replicates: bootstrap replicates for intervals (0: none; needs user-level rows).
        level, seed: the intervals' coverage and the bootstrap's seed.
        period_column: the period column's name.

    Returns:
        A :class:`Drivers` explanation over the segments and ``rest``; its effects add up to
        ``compare − base`` exactly (checked).

    Raises:
        DataError: bad data, unknown dimension or period.
        MethodError: a bad ``depth``, ``max_segments`` or ``min_effect``.

    Example:
        >>> result = drivers(tree, "data/saas_monthly.csv", base="2026-09", compare="2026-10",
        ...                  dims=["tier", "region"])
        >>> result.found[["segment", "contribution"]].round(2)
                   segment  contribution
        0    tier=business          4.21
        1  tier=enterprise          0.32
        2             rest         -0.41
    """
    dims = list(dims)
    if not dims:
        raise MethodError("drivers needs at least one dimension: --dims tier region …")
    if depth < 1:
        raise MethodError(f"--depth {depth} must be at least 1")
    depth = min(depth, len(dims))  # deeper than the dimensions means "all of them"
    if max_segments < 1:
        raise MethodError(f"--max-segments {max_segments} must be at least 1")
    if not 0 <= min_effect < 1:
        raise MethodError(f"--min-effect {min_effect:g} must be a fraction in [0, 1)")
    rows = load_rows(tree, data, dims=dims, base=base, compare=compare,
                     period_column=period_column)
    table, codes, _ = cells_from_rows(rows)
    cells = cell_contributions(tree, table)
    sizes = [len(labels) for labels in rows.labels]
    steps, assigned = search(cells, codes, sizes, depth=depth,
                             max_segments=max_segments, min_effect=min_effect)
    ranking = rank_dimensions(cells, codes, rows)
    result = _explanation(tree, rows, table, codes, cells, steps, assigned, ranking, depth)
    if replicates:
        result = result.assign_rows(data, replicates=replicates, level=level, seed=seed,
                                    period_column=period_column)
    return result


RESERVED = ("kind", "level", "path", "driver", "label", "value", "segment", "status")


def segment_name(dims: Sequence[str]) -> str:
    """The explanation's one dimension: ``split`` (``split_`` if a dimension has that name)."""
    name = "split"
    while name in dims or name in RESERVED:
        name = f"{name}_"
    return name


def _label(rows: Rows, step: Step) -> str:
    return " & ".join(f"{rows.dims[k]}={rows.labels[k][v]}" for k, v in step.conditions)


def _explanation(
    tree: Tree, rows: Rows, table: Cells, codes: np.ndarray, cells: CellEffects,
    steps: list[Step], assigned: np.ndarray, ranking: pd.DataFrame, depth: int,
) -> Drivers:
    n_steps = len(steps)
    group = np.where(assigned < 0, n_steps, assigned)
    labels = []
    excludes = []
    for i, step in enumerate(steps):
        match = np.ones(len(group), dtype=bool)
        for k, v in step.conditions:
            match &= codes[:, k] == v
        earlier = sorted({int(s) + 1 for s in np.unique(assigned[match]) if 0 <= s < i})
        excludes.append(earlier)
        suffix = f" (excl. {', '.join(f'#{s}' for s in earlier)})" if earlier else ""
        labels.append(_label(rows, step) + suffix)
    has_rest = bool(np.any(group == n_steps))
    if has_rest:
        labels.append(REST)
    n_groups = len(labels)
    name = segment_name(rows.dims)
    sums = [{n: np.bincount(group, weights=v, minlength=n_steps + 1)[:n_groups]
             for n, v in side.items()} for side in table.sums]
    explanation = attribute(
        tree, Cells.two(pd.DataFrame({name: labels}), sums[0], sums[1], periods=rows.periods,
                        source=rows.source),
        dims=[name], method="shapley",
    )
    contributions = np.bincount(group, weights=cells.contribution, minlength=n_steps + 1)
    segments = explanation.segments.set_index(name)
    found = pd.DataFrame({
        "step": [*range(1, n_steps + 1), *([0] if has_rest else [])],
        "segment": labels,
        "conditions": [{rows.dims[k]: rows.labels[k][v] for k, v in s.conditions}
                       for s in steps] + ([{}] if has_rest else []),
        "excludes": excludes + ([[]] if has_rest else []),
        "reason": [s.reason for s in steps] + (["rest"] if has_rest else []),
        "score": [s.score for s in steps] + ([np.nan] if has_rest else []),
    })
    for column in ("status", "base_share", "compare_share", "base_value", "compare_value",
                   "mix", "rate"):
        found[column] = segments.loc[labels, column].to_numpy()
    found["contribution"] = found["mix"] + found["rate"]
    # The search's additive contributions and the final attribution must agree exactly.
    scale = max(1.0, abs(explanation.base.value), abs(explanation.compare.value))
    if np.any(np.abs(found["contribution"].to_numpy() - contributions[:n_groups])
              > 1e-9 * scale):  # pragma: no cover - would be a bug
        raise RuntimeError("internal error: segment contributions disagree with the attribution")
    rules = tuple(tuple((rows.dims[k], rows.labels[k][v]) for k, v in s.conditions)
                  for s in steps)
    fields = {f: getattr(explanation, f) for f in (
        "tree", "method", "by", "base", "compare", "effects", "segments", "parts")}
    return Drivers(**fields, dims=rows.dims, depth=depth, ranking=ranking, found=found,
                   rules=rules)
