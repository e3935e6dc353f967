"""Checking the column types of raw tables before any query is built, and what money they hold.

What belongs here: :func:`check_types`, run first by :func:`kpitree.io.events.run` on the
schemas alone: the amount and discount columns must be numbers (not text), the user id must
have the same type in the events and the users table; and, computed in the events' profiling
pass (:func:`amount_sums`, checked by :func:`check_amounts`), amounts in cents must be whole
cents (a half cent would be rounded away by the cast to integer cents) and small enough that
their sums fit in the 64-bit integers every engine sums cents in. Each failure is one
:class:`DataError` naming the table, the column and what to do — instead of an engine's type
error or a silently wrapped sum. What does not: running the profiling pass and the row checks
(:mod:`kpitree.io.events.checks`) or building the query (:mod:`kpitree.io.events.query`).
"""

from __future__ import annotations

from typing import Any

from kpitree.core.errors import DataError
from kpitree.io.events.plan import Plan

# Sums of cents are BIGINT: the absolute amounts in range must add up to less than this.
MAX_CENTS_SUM = 2**63 - 1

__all__ = ["MAX_CENTS_SUM", "amount_sums", "check_amounts", "check_types"]


def _type(table: Any, column: str) -> Any:
    try:
        return table.schema()[column]
    except (KeyError, AttributeError):
        return None  # a missing column is reported by the plan's own checks


def check_types(plan: Plan) -> None:
    """Refuse text amounts and mismatched user ids, from the schemas alone (no scan).

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


def _money_columns(plan: Plan) -> list[str]:
    d = plan.definition.events
    return [c for c in (d.amount, d.discount) if c is not None and c in plan.event_columns]


def amount_sums(plan: Plan, events: Any) -> dict[str, Any]:
    """Aggregates for the profiling pass: each money column's absolute sum, fractional cents.

    ``s_<column>`` sums the absolute amounts (as float64, a magnitude), ``f_<column>`` counts
    the amounts in cents that are not whole (only for a non-integer column): summed over the
    profile's groups by :func:`check_amounts`.
    """
    d = plan.definition.events
    aggregates: dict[str, Any] = {}
    for column in _money_columns(plan):
        value = events[column].cast("float64")
        aggregates[f"s_{column}"] = value.abs().sum()
        if d.amount_unit == "cents" and not _type(plan.events, column).is_integer():
            aggregates[f"f_{column}"] = (value != value.round()).cast("int64").sum()
    return aggregates


def check_amounts(plan: Plan, profile: Any) -> None:
    """Fractional cents (amounts in cents) and the size of the absolute sum, over the profile.

    ``profile`` is the result of the profiling pass, one row per group, holding the columns
    :func:`amount_sums` asked for.

    Raises:
        DataError: amounts with fractions of a cent, or a sum past 64-bit integer cents.
    """
    d = plan.definition.events
    for column in _money_columns(plan):
        fractions = profile.get(f"f_{column}")
        fractional = 0 if fractions is None else int(fractions.fillna(0).sum())
        if fractional > 0:
            raise DataError(
                f"the events table ('{d.table}'): column '{column}' holds {fractional:,} "
                "amounts with fractions of a cent, which integer cents would round away; "
                "store whole cents, or set data.events.amount_unit: units if the amounts are "
                "in currency units")
        total = float(profile[f"s_{column}"].fillna(0.0).sum())
        scale = 100.0 if d.amount_unit == "units" else 1.0
        if total * scale >= MAX_CENTS_SUM:
            raise DataError(
                f"the events table ('{d.table}'): the amounts in column '{column}' add up to "
                f"more than a 64-bit sum of cents can hold ({total:.3g}); check the column's "
                "unit (data.events.amount_unit) or split the data")
