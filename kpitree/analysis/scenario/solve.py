"""Solving a lever into new column sums: what a what-if changes in one period's cells.

What belongs here: the arithmetic that turns one parsed :class:`~kpitree.analysis.scenario.
levers.Lever` into changed column-node sums per finest segment, and the current value of a
lever (for goal seek and sensitivity). These are plain functions of a tree, the segment keys
and the sums, so they know nothing of snapshots or scenarios. What does not: reading levers
(:mod:`kpitree.analysis.scenario.levers`), explaining the change (the core's attribution,
called from :mod:`kpitree.analysis.scenario.scenario`).

* **Driver** lever: the segment's driver, as a ratio of sums, reaches the new value; all other
  drivers and the weight stay as they were. It is realised by scaling the segment's column sums
  by the smallest (minimum-norm, in logs) set of factors that does this — for ``attach =
  addon_users / users`` with ``addon_per_adopter = addon / addon_users`` kept, that scales
  ``addon_users`` and ``addon`` together.
* **Share** lever — the rebalancing rule: the other segments under the same parent give up (or
  receive) the difference in proportion to their own shares; the parent's total weight and every
  segment's rates and drivers stay unchanged.
* **Move** lever: the moved weight takes the destination's rates. Only shares change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from kpitree.analysis.scenario.levers import Lever
from kpitree.core.errors import ScenarioError
from kpitree.core.expr import BinOp, Const, Expr, Neg, Ref
from kpitree.core.expr import evaluate as evaluate_expr
from kpitree.core.formatting import Kind, format_value, value_kind
from kpitree.core.tree import Driver, Tree

__all__ = ["apply_lever", "lever_value", "segment_mask"]


def segment_mask(keys: pd.DataFrame, selector: Sequence[tuple[str, str]]) -> np.ndarray:
    """The finest segments (rows of ``keys``) that match every ``(dim, value)`` of the selector;
    an empty selector matches them all."""
    mask = np.ones(len(keys), dtype=bool)
    for dim, value in selector:
        mask &= keys[dim].astype(str).to_numpy() == value
    return mask


def apply_lever(tree: Tree, keys: pd.DataFrame, sums: Mapping[str, np.ndarray], lever: Lever,
                *, period: str) -> dict[str, np.ndarray]:
    """New column sums (a copy, aligned with ``keys``) with one lever applied.

    ``period`` names the actual period in error messages.

    Raises:
        ScenarioError: the lever cannot be applied here (a segment with no weight, a share past
            100 %, a driver that would turn negative or starts from zero, …).
    """
    changed = {c: v.astype(float).copy() for c, v in sums.items()}
    match lever.kind:
        case "driver":
            _apply_driver(tree, keys, lever, changed, period)
        case "share":
            _apply_share(tree, keys, lever, changed, period)
        case "move":
            _apply_move(tree, keys, lever, changed, period)
        case _:  # pragma: no cover - parse_lever only makes the three kinds
            raise AssertionError(lever.kind)
    return changed


def lever_value(tree: Tree, keys: pd.DataFrame, sums: Mapping[str, np.ndarray],
                lever: Lever) -> float:
    """The current value of a driver lever (the driver as a ratio of the selected sums) or of a
    share lever (the segment's weight over its parent's).

    Raises:
        ScenarioError: a move lever, which has no value of its own.
    """
    if lever.kind == "share":
        parent, group = _parent_and_group(keys, lever)
        return _weight(tree, sums, group) / _weight(tree, sums, parent)
    if lever.kind == "driver":
        driver = next(d for d in tree.drivers if d.path[-1] == lever.node)
        return _aggregate(driver.expr, sums, segment_mask(keys, lever.segment))
    raise ScenarioError(f"goal seek needs a driver or share lever, not '{lever.text}'")


# --- Driver levers -----------------------------------------------------------------------------

def _monomial(expr: Expr) -> dict[str, float] | None:
    """Exponents of each column in a product/ratio of columns; None for sums."""
    match expr:
        case Ref(name):
            return {name: 1.0}
        case Const():
            return {}
        case Neg(operand):
            return _monomial(operand)
        case BinOp(op, left, right) if op in ("*", "/"):
            a, b = _monomial(left), _monomial(right)
            if a is None or b is None:
                return None
            sign = 1.0 if op == "*" else -1.0
            out = dict(a)
            for k, v in b.items():
                out[k] = out.get(k, 0.0) + sign * v
            return {k: v for k, v in out.items() if v != 0}
    return None


def _driver_factors(tree: Tree, driver: Driver) -> dict[str, float]:
    """Exponents ``a`` such that scaling column c by ``k ** a[c]`` scales ``driver`` by ``k``
    and leaves every other driver and the weight unchanged (minimum-norm solution)."""
    columns = sorted(tree.columns)
    index = {c: i for i, c in enumerate(columns)}
    rows: list[np.ndarray] = []
    rhs: list[float] = []

    def row(exponents: Mapping[str, float]) -> np.ndarray:
        vector = np.zeros(len(columns))
        for name, e in exponents.items():
            vector[index[name]] = e
        return vector

    target = _monomial(driver.expr)
    if target is None:
        raise ScenarioError(
            f"driver '{driver.path[-1]}' = a sum of columns cannot be scaled as one lever; "
            "change the columns' drivers instead"
        )
    rows.append(row(target))
    rhs.append(1.0)
    for other in tree.drivers:
        if other.path == driver.path:
            continue
        exponents = _monomial(other.expr)
        if exponents is None:
            for name in _columns_of(other.expr):
                rows.append(row({name: 1.0}))
                rhs.append(0.0)
        else:
            rows.append(row(exponents))
            rhs.append(0.0)
    for name in tree.column_nodes_under(tree.weight):
        rows.append(row({name: 1.0}))
        rhs.append(0.0)
    matrix, vector = np.array(rows), np.array(rhs)
    solution, *_ = np.linalg.lstsq(matrix, vector, rcond=None)
    if not np.allclose(matrix @ solution, vector, atol=1e-9):
        raise ScenarioError(
            f"driver '{driver.path[-1]}' cannot change while every other driver and "
            f"'{tree.weight}' stay the same (they share its columns)"
        )
    return {c: float(solution[index[c]]) for c in columns if abs(solution[index[c]]) > 1e-12}


def _columns_of(expr: Expr) -> set[str]:
    match expr:
        case Ref(name):
            return {name}
        case Neg(operand):
            return _columns_of(operand)
        case BinOp(_, left, right):
            return _columns_of(left) | _columns_of(right)
    return set()


def _aggregate(expr: Expr, sums: Mapping[str, np.ndarray], mask: np.ndarray) -> float:
    totals = {c: np.array([v[mask].sum()]) for c, v in sums.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            return float(np.asarray(evaluate_expr(expr, totals)).ravel()[0])
        except ArithmeticError:
            return math.nan


def _apply_driver(tree: Tree, keys: pd.DataFrame, lever: Lever, sums: dict[str, np.ndarray],
                  period: str) -> None:
    driver = next(d for d in tree.drivers if d.path[-1] == lever.node)
    mask = segment_mask(keys, lever.segment)
    weight = sum(sums[c][mask].sum() for c in tree.column_nodes_under(tree.weight))
    if weight <= 0:
        raise ScenarioError(f"lever '{lever.text}': {lever.where()} has no "
                            f"'{tree.weight}' in {period}; there is nothing to change")
    current = _aggregate(driver.expr, sums, mask)
    new = lever.new_value(current)
    if not math.isfinite(new):
        raise ScenarioError(f"lever '{lever.text}': the new value is not a number")
    if new < 0 and current >= 0:
        raise ScenarioError(
            f"lever '{lever.text}': {lever.node} would become "
            f"{format_value(new, _node_kind(tree, lever.node), tree.unit)} (below zero) in "
            f"{lever.where()}"
        )
    if tree.format_of(lever.node) == "percent" and new > 1.0 >= current:
        raise ScenarioError(
            f"lever '{lever.text}': {lever.node} is a rate and would become "
            f"{format_value(new, 'percent')} (above 100 %) in {lever.where()} ({period}); a "
            "rate stays between 0 and 100 % (e.g. '+5pp', '=40%')"
        )
    if new == current:
        return
    if not math.isfinite(current) or current == 0:
        raise ScenarioError(
            f"lever '{lever.text}': {lever.node} is "
            f"{'undefined' if not math.isfinite(current) else 0} in {lever.where()} "
            f"({period}); a lever moves a driver by scaling the columns it is made of, and "
            "nothing scales up from zero: choose a segment where it is not zero"
        )
    k = new / current
    for column, exponent in _driver_factors(tree, driver).items():
        if k == 0 and exponent < 0:
            raise ScenarioError(f"lever '{lever.text}': cannot set {lever.node} to 0 here")
        sums[column][mask] = sums[column][mask] * k**exponent
    if not math.isclose(_aggregate(driver.expr, sums, mask), new, rel_tol=1e-9, abs_tol=1e-12):
        raise ScenarioError(  # pragma: no cover - guarded by _driver_factors
            f"lever '{lever.text}': could not reach {new:g}"
        )


def _node_kind(tree: Tree, node: str) -> Kind:
    return value_kind(tree.format_of(node), tree.unit)


# --- Share and move levers ---------------------------------------------------------------------

def _parent_and_group(keys: pd.DataFrame, lever: Lever) -> tuple[np.ndarray, np.ndarray]:
    return segment_mask(keys, lever.segment[:-1]), segment_mask(keys, lever.segment)


def _weight(tree: Tree, sums: Mapping[str, np.ndarray], mask: np.ndarray) -> float:
    return float(sum(sums[c][mask].sum() for c in tree.column_nodes_under(tree.weight)))


def _scale_cells(sums: dict[str, np.ndarray], mask: np.ndarray, factor: float) -> None:
    for column in sums:
        sums[column][mask] = sums[column][mask] * factor


def _apply_share(tree: Tree, keys: pd.DataFrame, lever: Lever, sums: dict[str, np.ndarray],
                 period: str) -> None:
    parent, group = _parent_and_group(keys, lever)
    total = _weight(tree, sums, parent)
    share = _weight(tree, sums, group) / total
    new = lever.new_value(share)
    if not (-1e-12 <= new <= 1 + 1e-12):
        raise ScenarioError(
            f"lever '{lever.text}': the share of {lever.where()} would be "
            f"{format_value(new, 'percent')}; a share "
            "must stay between 0 % and 100 %"
        )
    new = min(max(new, 0.0), 1.0)
    if share == 0 and new > 0:
        raise ScenarioError(
            f"lever '{lever.text}': {lever.where()} has no '{tree.weight}' in "
            f"{period}, so it has no rates to give a share; move users into a segment "
            "that exists"
        )
    if share == 1 and new < 1:
        raise ScenarioError(
            f"lever '{lever.text}': {lever.where()} is the only segment of its parent; there "
            "is no other segment to take the share"
        )
    _scale_cells(sums, group, new / share if share else 1.0)
    _scale_cells(sums, parent & ~group, (1 - new) / (1 - share) if share < 1 else 1.0)


def _apply_move(tree: Tree, keys: pd.DataFrame, lever: Lever, sums: dict[str, np.ndarray],
                period: str) -> None:
    _, source = _parent_and_group(keys, lever)
    dim = lever.segment[-1][0]
    dest = segment_mask(keys, (*lever.segment[:-1], (dim, str(lever.target))))
    if source is dest or np.array_equal(source, dest):
        raise ScenarioError(f"lever '{lever.text}': source and destination are the same")
    w_source, w_dest = _weight(tree, sums, source), _weight(tree, sums, dest)
    moved = w_source * lever.amount / 100.0 if lever.unit == "%" else lever.amount
    if lever.unit == "pp":
        raise ScenarioError(f"lever '{lever.text}': write the move as a percent of the source "
                            "('10%') or a count ('500')")
    if moved > w_source * (1 + 1e-12):
        raise ScenarioError(
            f"lever '{lever.text}': cannot move {moved:,.6g} from {dim}={lever.segment[-1][1]}, "
            f"which has {w_source:,.6g}"
        )
    if w_dest <= 0:
        raise ScenarioError(
            f"lever '{lever.text}': {dim}={lever.target} has no '{tree.weight}' in "
            f"{period}, so moved users would have no rates to take"
        )
    _scale_cells(sums, source, 1 - moved / w_source if w_source else 1.0)
    _scale_cells(sums, dest, 1 + moved / w_dest)
