"""From raw events to the period × segment aggregate: one ibis query for every engine.

What belongs here: :func:`aggregate`, which applies a tree's ``data:`` definitions (active and
paying users, counted revenue, periods, segments) where the data lives — DuckDB, PostgreSQL or
Spark, the same ibis expression compiled for each — and brings back only the small aggregate
that :func:`kpitree.explain` takes. It runs the stages in order, each in its own module:

* :mod:`~kpitree.io.events.plan` — what to compute (measures, dimensions, the two tables);
* :mod:`~kpitree.io.events.windows` — which periods, and the instants that bound them;
* :mod:`~kpitree.io.events.checks` — the checks on bad input (unknown table or column, a user
  twice in one month, mixed currencies, naive timestamps near a period boundary), each an
  error or a reported note, with the amounts' checks of :mod:`~kpitree.io.events.types` in the
  same profiling pass;
* :mod:`~kpitree.io.events.ids` — duplicate event ids (and users twice in a month), exact, by
  one bitmap pass where the engine allows;
* :mod:`~kpitree.io.events.query` and :mod:`~kpitree.io.events.conditions` — the query;
* :mod:`~kpitree.io.events.execute` — running it, with the progress callback on long scans;
* :mod:`~kpitree.io.events.frame` — the result as an :class:`Aggregate`.

What does not: opening sources (:mod:`kpitree.io.sources`) or the attribution maths
(:mod:`kpitree.core.attribution`).

Money is summed in integer cents (BIGINT) on every engine, so the aggregates are identical to
the cent; the conversion to currency units (and the 30-day normalisation) happens once, in
Python, on those integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kpitree.core.errors import TreeError
from kpitree.core.tree import Tree
from kpitree.io.events.checks import (
    NAIVE_MARGIN,
    check_events,
    check_naive,
    check_users,
    note_events_outside,
)
from kpitree.io.events.execute import execute
from kpitree.io.events.frame import Aggregate, finish
from kpitree.io.events.plan import Plan, Progress, make_plan
from kpitree.io.events.query import aggregation
from kpitree.io.events.types import check_types
from kpitree.io.events.windows import instant, resolve_windows, time_is_aware


def aggregate(
    tree: Tree,
    source: Any,
    *,
    periods: Sequence[object] | None = None,
    by: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Aggregate:
    """Aggregate a raw source into what ``tree`` needs, per period × segment.

    Args:
        tree: a tree with a ``data:`` section (see :mod:`kpitree.core.definitions`).
        source: an open source (:func:`kpitree.io.sources.connect`).
        periods: the period labels wanted (e.g. ``["2026-09", "2026-10"]``); default: every
            complete period covered by the users table.
        by: segment dimensions (default: the tree's ``segments``); columns of the users table,
            or ``cohort`` (the signup month).
        progress: called with a stage name and a fraction in [0, 1] (or None when unknown).

    Raises:
        DataError: bad input, naming the table, column, period or value and what to do.
        TreeError: the tree has no ``data:`` section or names a measure that does not exist.
        MissingExtraError: ibis (the raw-events extra) is not installed.

    Example:
        >>> from kpitree.io.generate import generate
        >>> from kpitree.io.sources import connect
        >>> log = generate("out/gen", events=5_000, months=2)  # a small raw event log
        >>> tree = kpitree.load_tree("trees/arpu_blended.yaml")
        >>> agg = aggregate(tree, connect("out/gen"), periods=["2026-09", "2026-10"])
        >>> result = kpitree.explain(tree, agg.frame, base="2026-09", compare="2026-10")
        >>> sorted(agg.frame["period"].unique())
        ['2026-09', '2026-10']
    """
    definition = tree.spec.data
    if definition is None:
        raise TreeError(f"{tree.spec.source}: the tree has no 'data:' section, so it cannot read "
                        "raw events; add one (see trees/arpu_blended.yaml) or pass the "
                        "aggregated period × segment table instead")
    plan = make_plan(tree, definition, source, list(tree.segments if by is None else by),
                     progress)
    return run(plan, periods)


def run(plan: Plan, periods: Sequence[object] | None) -> Aggregate:
    """The stages of one aggregation: windows, checks, the query, the frame."""
    windows = resolve_windows(plan, periods)
    aware = time_is_aware(plan)
    notes: list[str] = []
    ts = plan.events[plan.definition.events.time]
    lo = min(w.start for w in windows)
    hi = max(w.end for w in windows)
    in_range = (ts >= instant(plan, lo, aware)) & (ts < instant(plan, hi, aware))
    check_types(plan)  # text amounts, id types (schemas only)
    if not aware:
        check_naive(plan, windows, notes)
    currency = check_events(plan, windows, in_range, notes)  # + amounts' size, event ids
    check_users(plan, windows)
    if periods is None:
        note_events_outside(plan, windows, aware, notes)
    frame = execute(plan, aggregation(plan, windows, in_range, aware), "aggregating events")
    return finish(plan, frame, windows, currency, notes)


__all__ = ["NAIVE_MARGIN", "Aggregate", "Plan", "Progress", "aggregate", "run"]
