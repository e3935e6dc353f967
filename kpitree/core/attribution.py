"""Exact attribution of a change in the root: the one path every analysis calls.

What belongs here: :func:`explain` (a table in, an :class:`~kpitree.core.result.Explanation`
out) and :func:`attribute` (prepared :class:`~kpitree.core.cells.Cells` in) — choosing the
method, running it over the levels and building the result. Trend, scenarios, totals, the driver
search and cross-classified mix all end here or in the functions it calls. What does not: the
formulas (:mod:`kpitree.core.shapley`, :mod:`kpitree.core.lmdi`), levels and shares
(:mod:`kpitree.core.levels`), frames (:mod:`kpitree.core.frames`), reading files.

Methods (DESIGN.md §3): ``shapley`` (default; symmetric, Kitagawa per level, Shapley through
products), ``sequential`` (FP&A order: mix at base rates, rate at base shares, interaction on its
own) and ``lmdi`` (LMDI-I additive on the expanded sum of products). Every method is exact: the
effects add up to ``A1 − A0``, and :class:`~kpitree.core.result.Explanation` checks this each
time one is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from kpitree.core.cells import (
    METHODS,
    Cells,
    canonical,
    check_options,
    check_total_weights,
    load_cells,
)
from kpitree.core.data import DataSource
from kpitree.core.frames import effects_frame, parts_frame, segments_frame
from kpitree.core.levels import levels
from kpitree.core.lmdi import lmdi
from kpitree.core.period_labels import convention_note
from kpitree.core.result import Explanation, PeriodValue
from kpitree.core.shapley import mix_and_rate, rate_through_drivers
from kpitree.core.tree import Tree

__all__ = ["METHODS", "attribute", "check_options", "check_total_weights", "explain"]


def explain(
    tree: Tree,
    data: DataSource,
    *,
    base: object,
    compare: object,
    by: Sequence[str] | None = None,
    method: str = "shapley",
    period_column: str = "period",
    period: str = "month",
    allow_partial: bool = False,
) -> Explanation:
    """Explain the change of the tree's root from ``base`` to ``compare``.

    Args:
        tree: a loaded tree (:func:`kpitree.load_tree`).
        data: a DataFrame or a CSV/Parquet path, one row per period × segment (summed).
        base, compare: the two periods, as they appear in the period column.
        by: segment dimensions, outermost first (default: the tree's ``segments``).
        method: ``"shapley"`` (default), ``"sequential"`` or ``"lmdi"``.
        period_column: the period column's name.
        period: ``month`` (the data's own periods, default), or ``quarter``/``year`` to roll
            monthly rows (``YYYY-MM``) up first; ``base``/``compare`` are then ``2026-Q3`` or
            ``2026``. Every column is summed over the months (the convention is in the
            result's ``notes``).
        allow_partial: compare a rolled-up period that misses months (noted) instead of
            refusing it.

    Returns:
        An :class:`Explanation` whose effects add up exactly to ``compare − base``.

    Raises:
        DataError: bad or missing data, unknown period, zero total weight, x/0 in a driver,
            an incomplete quarter or year (unless ``allow_partial``).
        MethodError: unknown method, or LMDI on values it cannot take (negatives).

    Example:
        >>> import kpitree
        >>> tree = kpitree.load_tree("trees/saas_arpu.yaml")
        >>> result = explain(tree, "data/saas_monthly.csv", base="2026-09", compare="2026-10")
        >>> abs(float(result.effects["value"].sum()) - result.delta) < 1e-9
        True
    """
    dims = check_options(tree, by=by, method=method, period_column=period_column)
    cells = load_cells(tree, data, by=dims, method=method, period_column=period_column,
                       periods=(base, compare), roll_up=period, allow_partial=allow_partial)
    result = attribute(tree, cells, dims=dims, method=method)
    notes = period_notes(period, cells.periods, cells.partial)
    return replace(result, notes=notes) if notes else result


def period_notes(period: str, periods: Sequence[str],
                 partial: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The notes a rolled-up result carries: the convention, and any incomplete period."""
    if period in ("month", None):
        return ()
    notes = [convention_note(period)]
    for label in periods:
        if label in partial:
            notes.append(f"{period} {label} is incomplete (missing {', '.join(partial[label])})"
                         f": compared anyway (--allow-partial)")
    return tuple(notes)


def attribute(
    tree: Tree, cells: Cells, *, dims: Sequence[str], method: str,
    periods: tuple[str, str] | None = None,
) -> Explanation:
    """Attribute the root's change between the two periods of ``cells``.

    ``cells`` may come in any order and repeat a segment (callers such as driver discovery
    build their own): they are summed per segment and sorted first, so every level's groups
    and the finest cells line up. ``periods`` relabels the two periods (default: the cells').
    """
    dims = list(dims)
    if periods is not None:
        cells = replace(cells, periods=(str(periods[0]), str(periods[1])))
    cells = canonical(cells, dims)
    all_levels = levels(tree, cells, dims)
    total = all_levels[0]
    weights = [total.values[t][tree.weight][0] for t in (0, 1)]
    check_total_weights(tree, weights, cells.periods, cells.source)
    values = [float(total.values[t][tree.root][0]) for t in (0, 1)]
    if method == "lmdi":
        results, cell_rate = lmdi(tree, all_levels)
        # the driver boxes show values at the mean inner composition, as for shapley
        cell_scale = mix_and_rate(tree, all_levels, "shapley")[1] if len(dims) > 1 else None
    else:
        results, cell_scale = mix_and_rate(tree, all_levels, method)
        cell_rate = rate_through_drivers(tree, all_levels[-1], cell_scale)
    return Explanation(
        tree=tree, method=method, by=tuple(dims),
        base=PeriodValue(cells.periods[0], values[0], float(weights[0])),
        compare=PeriodValue(cells.periods[1], values[1], float(weights[1])),
        effects=effects_frame(results, cell_rate, tree, all_levels[-1], dims, method),
        segments=segments_frame(tree, results, dims, cell_rate),
        parts=parts_frame(tree, all_levels[:2], dims, cell_rate, all_levels[-1], cell_scale),
    )
