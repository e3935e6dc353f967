"""What one aggregation computes: the measures, the segment dimensions, the two source tables.

What belongs here: :class:`Plan`, the context every stage of :func:`kpitree.io.events.aggregate`
takes — the tree, its ``data:`` definitions, the open source, the dimensions and the measures
the tree names, the events and users tables — built once by :func:`make_plan`, which rejects a
measure raw events do not provide; column look-ups that name the table, the closest column
and the key to set; and the small expression helpers every stage shares. What does not: period
windows (:mod:`kpitree.io.events.windows`), the data checks (:mod:`kpitree.io.events.checks`),
the query (:mod:`kpitree.io.events.query`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from kpitree.core.definitions import DataDefinition
from kpitree.core.errors import DataError, TreeError, did_you_mean, listing
from kpitree.core.optional import require
from kpitree.core.tree import Tree

Progress = Callable[[str, float | None], None]
"""Called with a stage name and a fraction in [0, 1] (or None when unknown)."""


def ibis_module() -> ModuleType:
    """ibis, or the one-line install hint when the raw-events extra is missing."""
    return require("ibis", purpose="raw events")


@dataclass(frozen=True)
class Plan:
    """One aggregation of a raw source: what to compute, from which tables.

    Attributes:
        tree: the tree being fed; its ``unit`` is checked against the events' currency.
        definition: the tree's ``data:`` section.
        source: the open source (:class:`kpitree.io.sources.Source`).
        dims: the segment dimensions (columns of the users table, or ``cohort``).
        measures: data column → the node that sums it (for messages), in the tree's order.
        users, events: the ibis tables of the user-month table and the event log.
        user_columns, event_columns: their column names.
        progress: the progress callback, or None.
        ibis: the ibis module the expressions are built with.
    """

    tree: Tree
    definition: DataDefinition
    source: Any
    dims: tuple[str, ...]
    measures: dict[str, str]
    users: Any
    events: Any
    user_columns: tuple[str, ...]
    event_columns: tuple[str, ...]
    progress: Progress | None
    ibis: ModuleType


def make_plan(tree: Tree, definition: DataDefinition, source: Any, dims: list[str],
              progress: Progress | None) -> Plan:
    """Resolve the tree's measures against the definitions' vocabulary and open both tables.

    Raises:
        TreeError: a node sums a column raw events do not provide (checked before the source
            is touched).
        SourceError: the events or users table does not exist.
    """
    ibis = ibis_module()
    vocabulary = definition.measures()
    measures: dict[str, str] = {}
    for node, column in tree.columns.items():
        if column not in vocabulary:
            raise TreeError(
                f"{tree.where(node)}: node '{node}' sums column '{column}', which raw events "
                f"do not provide.{did_you_mean(column, vocabulary)} Measures: "
                f"{listing(vocabulary, limit=30)}"
            )
        measures[column] = node
    users = source.table("users", definition.users.table)
    events = source.table("events", definition.events.table)
    return Plan(tree=tree, definition=definition, source=source, dims=tuple(dims),
                measures=measures, users=users, events=events,
                user_columns=tuple(users.columns), event_columns=tuple(events.columns),
                progress=progress, ibis=ibis)


def user_column(plan: Plan, column: str, role: str) -> Any:
    """The users table's ``column``, or an error naming the closest column and ``data.users``."""
    if column not in plan.user_columns:
        raise DataError(
            f"{plan.source.name}: the users table has no column '{column}' ({role})."
            f"{did_you_mean(column, plan.user_columns)} Columns: {listing(plan.user_columns)}"
            f" (set data.users in {plan.definition.where()})"
        )
    return plan.users[column]


def event_column(plan: Plan, column: str | None, role: str) -> Any:
    """The events table's ``column``, or an error naming the closest column and ``data.events``."""
    if column is None or column not in plan.event_columns:
        raise DataError(
            f"{plan.source.name}: the events table has no column '{column}' ({role})."
            f"{did_you_mean(str(column), plan.event_columns)} Columns: "
            f"{listing(plan.event_columns)} (set data.events in {plan.definition.where()})"
        )
    return plan.events[column]


def needs(plan: Plan) -> set[str]:
    """Every name the aggregation must provide: the measures and the conditions' names."""
    names = set(plan.measures)
    for condition in (plan.definition.active, plan.definition.paying):
        if condition is not None:
            names |= condition.names()
    return names


def ones(plan: Plan, test: Any) -> Any:
    """1 where ``test`` holds, else 0, as BIGINT (PostgreSQL cannot cast boolean to it)."""
    ibis = plan.ibis
    return ibis.ifelse(test, ibis.literal(1, type="int64"), ibis.literal(0, type="int64"))
