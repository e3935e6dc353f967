"""Checking the column types of raw tables before any query is built, and what money they hold.

What belongs here: :func:`check_types`, run first by :func:`kpitree.io.events.run`: the amount
and discount columns must be numbers (not text), the user id must have the same type in the
events and the users table, amounts in cents must be whole cents (a half cent would be rounded
away by the cast to integer cents), and the amounts must be small enough that their sums fit in
the 64-bit integers every engine sums cents in. Each failure is one :class:`DataError` naming
the table, the column and what to do — instead of an engine's type error or a silently wrapped
sum. What does not: the row checks (:mod:`kpitree.io.events.checks`) or building the query
(:mod:`kpitree.io.events.query`).
"""

from __future__ import annotations

from typing import Any

from kpitree.core.errors import DataError
from kpitree.io.events.plan import Plan

# Sums of cents are BIGINT: the absolute amounts in range must add up to less than this.
MAX_CENTS_SUM = 2**63 - 1

__all__ = ["MAX_CENTS_SUM", "check_types"]


def _type(table: Any, column: str) -> Any:
    try:
        return table.schema()[column]
    except (KeyError, AttributeError):
        return None  # a missing column is reported by the plan's own checks


def check_types(plan: Plan, in_range: Any) -> None:
    """Refuse text amounts, mismatched user ids, fractional cents and sums past 64 bits.

    Raises:
        DataError: naming the events or users table, the column and the fix.
    """
    d = plan.definition
    events_name = f"the events table ('{d.events.table}')"
    money = [("amount", d.events.amount), ("discount", d.events.discount)]
    for role, column in money:
        if column is None:
            continue
        dtype = _type(plan.events, column)
        if dtype is not None and not dtype.is_numeric():
            raise DataError(f"{events_name}: column '{column}' (the {role}) holds {dtype} "
                            "values, not numbers; store the amounts as numbers (integer "
                            "cents, or set data.events.amount_unit: units)")
    event_user = _type(plan.events, d.events.user)
    user_id = _type(plan.users, d.users.id)
    if event_user is not None and user_id is not None and \
            event_user.is_numeric() != user_id.is_numeric():
        raise DataError(f"{events_name}: column '{d.events.user}' holds {event_user} user ids "
                        f"but the users table's '{d.users.id}' holds {user_id}; store both as "
                        "the same type (both integers or both text)")
    _check_amounts(plan, in_range)


def _check_amounts(plan: Plan, in_range: Any) -> None:
    """One scan: fractional cents (amounts in cents) and the size of the absolute sum."""
    d = plan.definition.events
    events = plan.events.filter(in_range)
    columns = [c for c in (d.amount, d.discount) if c is not None]
    sums, fractions = {}, {}
    for column in columns:
        value = events[column].cast("float64")
        sums[f"s_{column}"] = value.abs().sum()
        if d.amount_unit == "cents" and not _type(plan.events, column).is_integer():
            fractions[f"f_{column}"] = (value != value.round()).cast("int64").sum()
    if not sums:
        return
    row = plan.source.backend.execute(events.aggregate(**sums, **fractions)).iloc[0]
    for column in columns:
        fractional = row.get(f"f_{column}")
        if fractional is not None and int(fractional or 0) > 0:
            raise DataError(
                f"the events table ('{d.table}'): column '{column}' holds {int(fractional):,} "
                "amounts with fractions of a cent, which integer cents would round away; "
                "store whole cents, or set data.events.amount_unit: units if the amounts are "
                "in currency units")
        total = float(row[f"s_{column}"] or 0.0)
        scale = 100.0 if d.amount_unit == "units" else 1.0
        if total * scale >= MAX_CENTS_SUM:
            raise DataError(
                f"the events table ('{d.table}'): the amounts in column '{column}' add up to "
                f"more than a 64-bit sum of cents can hold ({total:.3g}); check the column's "
                "unit (data.events.amount_unit) or split the data")
