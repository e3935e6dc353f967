"""Tree-file conditions (``data.active``, ``data.paying``) as ibis expressions.

What belongs here: the names a condition may use on the joined user-period rows
(:func:`condition_names`: counted revenue and its parts in cents, ``new``, the users table's
columns) and the translation of a parsed condition into a boolean ibis expression
(:func:`condition_expr`), with the errors for an unknown name or a comparison of the wrong
type; money literals become integer cents like the sums they are compared with. What does not:
parsing the condition text (:func:`kpitree.core.definitions.parse_condition`), or using the
result (:mod:`kpitree.io.events.query`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kpitree.core.definitions import (
    MONEY_NAMES,
    BoolOp,
    Compare,
    CondExpr,
    Condition,
    InList,
    Name,
    Not,
    money_literal_cents,
)
from kpitree.core.errors import TreeError, did_you_mean, listing
from kpitree.io.events.plan import Plan

USER_COLUMN_PREFIX = "k_col_"  # joined columns copied from the users table for conditions


def condition_names(plan: Plan, joined: Any, money: dict[str, Any],
                    new: Any) -> dict[str, Any]:
    """The expressions a condition's names stand for on the joined user-period rows.

    ``money`` holds the per-user sums in cents (``k_rev``, ``k_billed``, …); ``new`` is the
    signed-up-in-this-period test, or None when nothing needs it.
    """
    names: dict[str, Any] = {
        "revenue": money["k_rev"], "billed": money["k_billed"],
        "collected": money["k_collected"], "events": money["k_events"],
    }
    for t in plan.definition.revenue.types:
        names[f"{t}_revenue"] = money[f"k_rev_{t}"]
    if new is not None:
        names["new"] = new
    for column in joined.columns:
        if column.startswith(USER_COLUMN_PREFIX):
            names[column[len(USER_COLUMN_PREFIX):]] = joined[column]
    return names


@dataclass(frozen=True)
class _Scope:
    """What one condition is translated against, and where to point its errors."""

    names: dict[str, Any]
    available: list[str]
    where: str
    key: str


def condition_expr(plan: Plan, condition: Condition, names: dict[str, Any], key: str) -> Any:
    """The boolean ibis expression of ``condition`` (``key``: ``active`` or ``paying``).

    Raises:
        TreeError: an unknown name (with the closest one), a non-boolean column used as a
            test, or a literal of the wrong type for its column.
    """
    available = sorted(set(names) | set(plan.user_columns) | {"new"})
    return _build(_Scope(names, available, plan.definition.where(), key), condition.expr)


def _build(scope: _Scope, expr: CondExpr) -> Any:
    match expr:
        case BoolOp():
            left, right = _build(scope, expr.left), _build(scope, expr.right)
            return left & right if expr.op == "and" else left | right
        case Not():
            return ~_build(scope, expr.operand)
        case Name():
            column = _lookup(scope, expr.name)
            if not column.type().is_boolean():
                raise TreeError(f"{scope.where}: data.{scope.key}: '{expr.name}' is "
                                f"{column.type()}, not true/false; compare it, e.g. "
                                f"'{expr.name} > 0'")
            return column
        case Compare():
            column = _lookup(scope, expr.left.name)
            value = _literal(scope, expr.left.name, column, expr.right.value)
            ops = {"=": column.__eq__, "!=": column.__ne__, "<": column.__lt__,
                   "<=": column.__le__, ">": column.__gt__, ">=": column.__ge__}
            return ops[expr.op](value)
        case InList():
            column = _lookup(scope, expr.name.name)
            values = [_literal(scope, expr.name.name, column, v.value) for v in expr.values]
            test = column.isin(values)
            return ~test if expr.negated else test
    raise AssertionError(f"unknown condition node {expr!r}")  # CondExpr is a closed union


def _lookup(scope: _Scope, name: str) -> Any:
    if name in scope.names:
        return scope.names[name]
    raise TreeError(f"{scope.where}: data.{scope.key} uses unknown name '{name}'."
                    f"{did_you_mean(name, scope.available)} Names: {listing(scope.available)}")


def _literal(scope: _Scope, name: str, column: Any, value: Any) -> Any:
    """``value`` as the literal to compare ``column`` with, checked against its type."""
    where, key = scope.where, scope.key
    dtype = column.type()
    if isinstance(value, bool):
        if not dtype.is_boolean():
            raise TreeError(f"{where}: data.{key}: '{name}' is {dtype}, not true/false")
        return value
    if isinstance(value, Decimal):
        if not dtype.is_numeric():
            raise TreeError(f"{where}: data.{key}: '{name}' is {dtype}; compare it with "
                            f"'text' in quotes, not the number {value}")
        if name in MONEY_NAMES or name.endswith("_revenue"):
            return money_literal_cents(value, where, key)
        return int(value) if value == value.to_integral_value() else float(value)
    if not dtype.is_string():
        raise TreeError(f"{where}: data.{key}: '{name}' is {dtype}; compare it with a "
                        f"number, not '{value}'")
    return value
