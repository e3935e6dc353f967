"""What-if scenarios, goal seek and sensitivity on a period's evaluated tree.

What belongs here: turning levers (``"attach[tier=pro]": "+5pp"``) into a changed snapshot of
one period's column sums, explaining the change with the same attribution as an actual month
(:func:`~kpitree.core.attribution.attribute` — a scenario is just another snapshot to attribute
against, never a second engine), solving for the lever value that reaches a target, and the
elasticity of the root to every driver and share. What does not: drawing
(:mod:`kpitree.present.charts`).

**Levers.** A key names what changes and where, a value says how:

* ``DRIVER[dim=value, …]`` — a driver (a formula node over columns only, e.g. ``attach``,
  ``base_pu``) in every finest segment matching the selector (no selector: everywhere). The
  segment's driver, as a ratio of sums, reaches the new value; all other drivers and the weight
  stay as they were. It is realised by scaling the segment's column sums by the smallest
  (minimum-norm, in logs) set of factors that does this — for ``attach = addon_users / users``
  with ``addon_per_adopter = addon / addon_users`` kept, that scales ``addon_users`` and
  ``addon`` together.
* ``share[dim=value]`` — the segment's share of its parent's weight (``dim`` must be the
  outermost dimension, or follow its parents in the selector). **Rebalancing rule:** the other
  segments under the same parent give up (or receive) the difference in proportion to their own
  shares; the parent's total weight and every segment's rates and drivers stay unchanged.
* ``move[dim=from->to]`` — move a fraction (``"10%"``) or a number (``"500"``) of ``from``'s
  weight to ``to``; the moved users take ``to``'s rates. Only shares change.

Values: ``"+5pp"``/``"-2pp"`` add percentage points, ``"+10%"``/``"-10%"`` change by a percent
of the current value, ``"*1.10"`` multiplies, ``"+2"``/``"-0.5"`` add in the node's own unit,
``"=0.3"`` or ``"=30%"`` set. Levers of one scenario apply in the order written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kpitree.analysis.trend import load_sums
from kpitree.core import views
from kpitree.core.attribution import Cells, attribute
from kpitree.core.data import DataSource, check_period
from kpitree.core.errors import KpitreeError, did_you_mean, listing
from kpitree.core.evaluate import describe_rows, node_values
from kpitree.core.expr import BinOp, Const, Expr, Neg, Ref
from kpitree.core.expr import evaluate as evaluate_expr
from kpitree.core.formatting import Kind, format_value, value_kind
from kpitree.core.result import Explanation
from kpitree.core.tree import Driver, Linear, Part, Product, Tree

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "GoalError",
    "GoalSeek",
    "Lever",
    "Scenario",
    "ScenarioError",
    "Snapshot",
    "compare_scenarios",
    "goal_seek",
    "parse_lever",
    "sensitivity",
    "snapshot",
]


class ScenarioError(ValueError, KpitreeError):
    """A lever cannot be read or applied: unknown syntax, node, segment, or impossible value."""


class GoalError(ScenarioError):
    """A goal that no value of the lever can reach."""


WHATIF = "what-if"  # the compare period's label in a scenario's explanation
LEVER_FORMS = ("+5pp", "-2pp", "+10%", "-10%", "*1.1", "+2", "-0.5", "=0.3", "=30%")
_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(.*)\])?\s*$")
_VALUE = re.compile(r"^\s*(?P<op>[+\-−*=]?)\s*(?P<num>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>pp|%)?\s*$")


@dataclass(frozen=True)
class Lever:
    """One parsed lever: ``kind`` is ``driver``, ``share`` or ``move``."""

    text: str
    kind: str
    node: str  # the driver's node name, or "share" / "move"
    segment: tuple[tuple[str, str], ...]  # selector (dim, value); for move, the source
    target: str | None  # move: the destination value of the last dimension
    op: str  # "+", "*", "=" ("+" with a negative amount subtracts)
    amount: float
    unit: str  # "pp", "%" or ""

    def where(self) -> str:
        return ", ".join(f"{d}={v}" for d, v in self.segment) or "all segments"

    def new_value(self, current: float) -> float:
        """The lever's new value from the current one."""
        if self.op == "*":
            return current * self.amount
        if self.op == "=":
            return self.amount / 100.0 if self.unit in ("pp", "%") else self.amount
        if self.unit == "pp":
            return current + self.amount / 100.0
        if self.unit == "%":
            return current * (1.0 + self.amount / 100.0)
        return current + self.amount


def _parse_value(key: str, value: object) -> tuple[str, float, str]:
    if isinstance(value, bool):
        raise ScenarioError(f"lever '{key}': {value!r} is not a change; use e.g. "
                            f"{', '.join(LEVER_FORMS)}")
    if isinstance(value, int | float):
        return "=", float(value), ""
    match = _VALUE.match(str(value))
    if not match:
        raise ScenarioError(
            f"lever '{key}': cannot read the change {value!r}; write one of "
            f"{', '.join(LEVER_FORMS)}"
        )
    op, number, unit = match["op"], float(match["num"]), match["unit"] or ""
    if op in ("-", "−"):
        return "+", -number, unit
    if op == "*" and unit:
        raise ScenarioError(f"lever '{key}': '*' takes a plain factor like '*1.1', not {value!r}")
    return (op or "="), number, unit


def parse_lever(key: str, value: object, tree: Tree, dims: Sequence[str],
                labels: Mapping[str, Sequence[str]]) -> Lever:
    """Parse one lever against a tree, its dimensions and the segment labels present.

    Raises:
        ScenarioError: unknown syntax, node, dimension or segment, with the accepted forms.
    """
    match = _KEY.match(str(key))
    if not match:
        raise ScenarioError(
            f"cannot read the lever '{key}'; write NODE[dim=value] (e.g. "
            "'attach[tier=pro]'), share[dim=value] or move[dim=from->to]"
        )
    node, inside = match[1], match[2]
    drivers = {d.path[-1]: d for d in tree.drivers}
    if node not in (*drivers, "share", "move"):
        raise ScenarioError(
            f"lever '{key}': unknown node '{node}'.{did_you_mean(node, [*drivers, 'share'])} "
            f"Levers: drivers {listing(drivers)}, or share[…], move[…]"
        )
    selector: list[tuple[str, str]] = []
    target = None
    for item in [p for p in (inside or "").split(",") if p.strip()]:
        if "=" not in item:
            raise ScenarioError(f"lever '{key}': '{item.strip()}' is not dim=value")
        dim, text = (s.strip() for s in item.split("=", 1))
        if dim not in dims:
            raise ScenarioError(
                f"lever '{key}': unknown dimension '{dim}'.{did_you_mean(dim, dims)} "
                f"Dimensions: {listing(dims)}"
            )
        if "->" in text:
            if node != "move" or target is not None:
                raise ScenarioError(f"lever '{key}': 'a->b' is only for one dimension of move[…]")
            text, target = (s.strip() for s in text.split("->", 1))
            if target not in labels[dim]:
                raise ScenarioError(
                    f"lever '{key}': unknown {dim} '{target}'.{did_you_mean(target, labels[dim])}"
                    f" Present: {listing(labels[dim])}"
                )
        if text not in labels[dim]:
            raise ScenarioError(
                f"lever '{key}': unknown {dim} '{text}'.{did_you_mean(text, labels[dim])} "
                f"Present: {listing(labels[dim])}"
            )
        selector.append((dim, text))
    if node in ("share", "move"):
        named = [d for d, _ in selector]
        if not named or named != list(dims[: len(named)]):
            raise ScenarioError(
                f"lever '{key}': {node}[…] names a segment by its dimensions from the outermost "
                f"({', '.join(dims) or 'no dimensions'}), e.g. {node}[{dims[0] if dims else 'dim'}"
                f"={'a->b' if node == 'move' else 'value'}]"
            )
        if node == "move" and target is None:
            raise ScenarioError(f"lever '{key}': write move[{named[-1]}=from->to]")
    op, amount, unit = _parse_value(str(key), value)
    if node == "move":
        if op not in ("=",) or amount < 0:
            raise ScenarioError(
                f"lever '{key}': move takes a fraction of the source like '10%' or a count "
                f"like '500', not {value!r}"
            )
        if unit == "%" and amount > 100:
            raise ScenarioError(f"lever '{key}': cannot move {amount:g} % of a segment (max 100 %)")
    kind = "driver" if node in drivers else node
    return Lever(str(key).strip(), kind, node, tuple(selector), target, op, amount, unit)


# --- Snapshots ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    """One period's column sums per finest segment — what a scenario changes.

    Attributes:
        period: the actual period this snapshot comes from.
        name: the period, or the scenario's name.
        keys: one row per finest segment (one column per dimension).
        sums: column-node sums aligned with ``keys``.
    """

    tree: Tree = field(repr=False, compare=False)
    period: str
    name: str
    by: tuple[str, ...]
    keys: pd.DataFrame = field(repr=False, compare=False)
    sums: Mapping[str, np.ndarray] = field(repr=False, compare=False)

    @property
    def value(self) -> float:
        """The root on the whole snapshot."""
        return float(self.total()[self.tree.root])

    def total(self) -> dict[str, float]:
        """Every node on the whole snapshot."""
        totals = {c: np.array([v.sum()]) for c, v in self.sums.items()}
        keys = pd.DataFrame({"__period__": [self.name]})
        values = node_values(self.tree, totals, describe_rows(keys))
        return {n: float(v[0]) for n, v in values.items()}

    def values(self, level: int = 1) -> pd.DataFrame:
        """Every node per segment of the first ``level`` dimensions, with its share."""
        dims = list(self.by[:level])
        frame = self.keys[dims].copy() if dims else pd.DataFrame(index=pd.RangeIndex(1))
        if dims:
            codes = self.keys.groupby(dims, sort=True).ngroup().to_numpy()
            frame = self.keys[dims].drop_duplicates().sort_values(dims).reset_index(drop=True)
        else:
            codes = np.zeros(len(self.keys), dtype=int)
        size = len(frame)
        sums = {c: np.bincount(codes, weights=v, minlength=size) for c, v in self.sums.items()}
        values = node_values(self.tree, sums, describe_rows(frame.assign(__period__=self.name)))
        weight = values[self.tree.weight]
        frame["share"] = weight / weight.sum()
        for name in self.tree.order:
            frame[name] = values[name]
        return frame

    def whatif(self, levers: Mapping[str, object], *, name: str | None = None,
               method: str = "shapley") -> Scenario:
        """A scenario of this snapshot with ``levers`` applied (see the module docstring)."""
        return Scenario.build(self, list(_lever_items(levers)), name=name, method=method)

    def apply(self, lever: Lever, *, name: str | None = None) -> Snapshot:
        """This snapshot with one lever applied."""
        sums = {c: v.astype(float).copy() for c, v in self.sums.items()}
        match lever.kind:
            case "driver":
                _apply_driver(self, lever, sums)
            case "share":
                _apply_share(self, lever, sums)
            case "move":
                _apply_move(self, lever, sums)
            case _:  # pragma: no cover - parse_lever only makes the three kinds
                raise AssertionError(lever.kind)
        return replace(self, name=name or self.name, sums=sums)

    def parse(self, key: str, value: object) -> Lever:
        return parse_lever(key, value, self.tree, self.by, self._labels)

    @cached_property
    def _labels(self) -> dict[str, list[str]]:
        return {d: sorted(self.keys[d].astype(str).unique()) for d in self.by}

    def mask(self, selector: Sequence[tuple[str, str]]) -> np.ndarray:
        mask = np.ones(len(self.keys), dtype=bool)
        for dim, value in selector:
            mask &= self.keys[dim].astype(str).to_numpy() == value
        return mask


def snapshot(
    tree: Tree, data: DataSource, *, period: object, by: Sequence[str] | None = None,
    period_column: str = "period",
) -> Snapshot:
    """The evaluated tree of one period, ready for what-if levers.

    Example:
        >>> snap = snapshot(tree, "data/saas_monthly.csv", period="2026-10")  # doctest: +SKIP
        >>> snap.whatif({"attach[tier=pro]": "+5pp"}).explanation.totals  # doctest: +SKIP
        {'mix': 0.0, 'rate': 0.22…}
    """
    loaded = load_sums(tree, data, by=by, period_column=period_column)
    name = check_period(loaded.sums, period, loaded.name, period_column)
    rows = loaded.sums[loaded.sums[period_column] == name]
    dims = list(loaded.dims)
    keys = (rows[dims].sort_values(dims).reset_index(drop=True) if dims
            else pd.DataFrame(index=pd.RangeIndex(1)))
    rows = rows.sort_values(dims) if dims else rows
    sums = {c: rows[c].to_numpy(dtype=float) for c in tree.columns}
    return Snapshot(tree, name, name, loaded.dims, keys, sums)


def _lever_items(levers: Mapping[str, object] | Sequence[tuple[str, object]]):
    if isinstance(levers, Mapping):
        return list(levers.items())
    return list(levers)


# --- Applying levers ---------------------------------------------------------------------------

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


def _apply_driver(snap: Snapshot, lever: Lever, sums: dict[str, np.ndarray]) -> None:
    tree = snap.tree
    driver = next(d for d in tree.drivers if d.path[-1] == lever.node)
    mask = snap.mask(lever.segment)
    weight = sum(sums[c][mask].sum() for c in tree.column_nodes_under(tree.weight))
    if weight <= 0:
        raise ScenarioError(f"lever '{lever.text}': {lever.where()} has no "
                            f"'{tree.weight}' in {snap.period}; there is nothing to change")
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
    if new == current:
        return
    if not math.isfinite(current) or current == 0:
        raise ScenarioError(
            f"lever '{lever.text}': {lever.node} is "
            f"{'undefined' if not math.isfinite(current) else 0} in {lever.where()} "
            f"({snap.period}); a lever scales what is there, so it cannot start from zero"
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


def _parent_and_group(snap: Snapshot, lever: Lever) -> tuple[np.ndarray, np.ndarray]:
    return snap.mask(lever.segment[:-1]), snap.mask(lever.segment)


def _weight(snap: Snapshot, sums: Mapping[str, np.ndarray], mask: np.ndarray) -> float:
    return float(sum(sums[c][mask].sum() for c in snap.tree.column_nodes_under(snap.tree.weight)))


def _scale_cells(sums: dict[str, np.ndarray], mask: np.ndarray, factor: float) -> None:
    for column in sums:
        sums[column][mask] = sums[column][mask] * factor


def _apply_share(snap: Snapshot, lever: Lever, sums: dict[str, np.ndarray]) -> None:
    parent, group = _parent_and_group(snap, lever)
    total = _weight(snap, sums, parent)
    share = _weight(snap, sums, group) / total
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
            f"lever '{lever.text}': {lever.where()} has no '{snap.tree.weight}' in "
            f"{snap.period}, so it has no rates to give a share; move users into a segment "
            "that exists"
        )
    if share == 1 and new < 1:
        raise ScenarioError(
            f"lever '{lever.text}': {lever.where()} is the only segment of its parent; there "
            "is no other segment to take the share"
        )
    _scale_cells(sums, group, new / share if share else 1.0)
    _scale_cells(sums, parent & ~group, (1 - new) / (1 - share) if share < 1 else 1.0)


def _apply_move(snap: Snapshot, lever: Lever, sums: dict[str, np.ndarray]) -> None:
    _, source = _parent_and_group(snap, lever)
    dim = lever.segment[-1][0]
    dest = snap.mask((*lever.segment[:-1], (dim, str(lever.target))))
    if source is dest or np.array_equal(source, dest):
        raise ScenarioError(f"lever '{lever.text}': source and destination are the same")
    w_source, w_dest = _weight(snap, sums, source), _weight(snap, sums, dest)
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
            f"lever '{lever.text}': {dim}={lever.target} has no '{snap.tree.weight}' in "
            f"{snap.period}, so moved users would have no rates to take"
        )
    _scale_cells(sums, source, 1 - moved / w_source if w_source else 1.0)
    _scale_cells(sums, dest, 1 + moved / w_dest)


# --- Scenarios ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """A what-if of one period, explained against the actual by the same attribution.

    Attributes:
        name: shown on charts and tables.
        actual: the period's actual snapshot.
        levers: the levers, in the order applied.
        snapshots: the snapshot after each lever (the last one is the scenario).
        explanation: actual → scenario, an :class:`Explanation` whose effects add up exactly.
        steps: one :class:`Explanation` per lever (the previous snapshot → the next); chained,
            they add up to the scenario's change like months of a trend.
    """

    name: str
    actual: Snapshot = field(repr=False)
    levers: tuple[Lever, ...]
    snapshots: tuple[Snapshot, ...] = field(repr=False, compare=False)
    method: str
    explanation: Explanation = field(repr=False, compare=False)
    steps: tuple[Explanation, ...] = field(repr=False, compare=False)

    @classmethod
    def build(cls, actual: Snapshot, levers: Sequence[tuple[str, object]] | Sequence[Lever],
              *, name: str | None = None, method: str = "shapley") -> Scenario:
        parsed = tuple(lv if isinstance(lv, Lever) else actual.parse(*lv) for lv in levers)
        name = name or "; ".join(_describe(lv) for lv in parsed) or "no change"
        snapshots: list[Snapshot] = []
        current = actual
        for lever in parsed:
            current = current.apply(lever, name=name)
            snapshots.append(current)
        final = snapshots[-1] if snapshots else replace(actual, name=name)
        explanation = _attribute(actual, final, method, (actual.period, WHATIF))
        steps = []
        previous = actual
        for i, snap in enumerate(snapshots):
            labels = (f"lever {i}" if i else actual.period, f"lever {i + 1}")
            steps.append(_attribute(previous, snap, method, labels))
            previous = snap
        return cls(name, actual, parsed, tuple(snapshots) or (final,), method, explanation,
                   tuple(steps))

    @property
    def tree(self) -> Tree:
        return self.actual.tree

    @property
    def value(self) -> float:
        """The root in the scenario."""
        return self.explanation.compare.value

    @property
    def delta(self) -> float:
        """Scenario − actual."""
        return self.explanation.delta

    @property
    def snapshot(self) -> Snapshot:
        return self.snapshots[-1]

    def whatif(self, levers: Mapping[str, object], *, name: str | None = None) -> Scenario:
        """Stack more levers on top of this scenario (still explained against the actual)."""
        more = [self.actual.parse(k, v) for k, v in _lever_items(levers)]
        extra = "; ".join(_describe(lv) for lv in more)
        return Scenario.build(self.actual, [*self.levers, *more],
                              name=name or f"{self.name} + {extra}", method=self.method)

    def by_lever(self) -> pd.DataFrame:
        """Each lever's increment in the order applied: value after it, change, mix, rate."""
        rows = []
        for lever, step in zip(self.levers, self.steps, strict=True):
            totals = step.totals
            rows.append({"lever": lever.text, "value": step.compare.value, "delta": step.delta,
                         **{k: v for k, v in totals.items()}})
        return pd.DataFrame(rows, columns=["lever", "value", "delta",
                                           *self.explanation.totals.keys()])

    def summary(self) -> dict[str, Any]:
        totals = self.explanation.totals
        return {"scenario": self.name, "levers": [lv.text for lv in self.levers],
                "actual": self.explanation.base.value, "value": self.value, "delta": self.delta,
                **totals}

    def chart(self, path: str | None = None) -> Figure:
        """Bridge actual → scenario (see :func:`kpitree.present.charts.scenario_chart`)."""
        return views.show("scenario_chart", self, path)

    def render(self, path: str | None = None, *, format: str | None = None) -> bytes:
        """The annotated tree of actual → scenario (Graphviz)."""
        return self.explanation.render(path, format=format)

    def __str__(self) -> str:
        return str(self.explanation)


def _describe(lever: Lever) -> str:
    return f"{lever.text} {_amount_text(lever)}"


def _amount_text(lever: Lever) -> str:
    number = f"{lever.amount:g}"
    if lever.kind == "move":
        return f"{number}{lever.unit}"
    if lever.op == "*":
        return f"×{number}"
    if lever.op == "=":
        return f"={number}{lever.unit}"
    return f"{'+' if lever.amount >= 0 else ''}{number}{lever.unit}"


def _attribute(a: Snapshot, b: Snapshot, method: str, periods: tuple[str, str]) -> Explanation:
    cells = Cells(keys=a.keys, base=dict(a.sums), compare=dict(b.sums),
                  source=f"scenario '{b.name}'")
    return attribute(a.tree, cells, dims=a.by, method=method, periods=periods)


def compare_scenarios(scenarios: Sequence[Scenario]) -> pd.DataFrame:
    """Scenarios side by side: value, change, mix, rate and the rate effect of each driver."""
    if not scenarios:
        raise ScenarioError("no scenarios to compare")
    periods = {s.actual.period for s in scenarios}
    if len(periods) > 1:
        raise ScenarioError(f"scenarios of different periods ({', '.join(sorted(periods))}) "
                            "cannot be compared side by side")
    rows = []
    for s in scenarios:
        row = s.summary()
        row["levers"] = "; ".join(_describe(lv) for lv in s.levers)
        for _, driver in s.explanation.by_driver().iterrows():
            row[f"rate: {driver['label']}"] = driver["value"]
        rows.append(row)
    return pd.DataFrame(rows).fillna(0.0)


# --- Goal seek ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class GoalSeek:
    """The lever value at which the root reaches ``target``."""

    lever: str
    target: float
    current: float  # the lever's value in the actual snapshot
    value: float  # the lever's value that reaches the target
    scenario: Scenario = field(repr=False, compare=False)


def _lever_value(snap: Snapshot, lever: Lever) -> float:
    if lever.kind == "share":
        parent, group = _parent_and_group(snap, lever)
        return _weight(snap, snap.sums, group) / _weight(snap, snap.sums, parent)
    if lever.kind == "driver":
        driver = next(d for d in snap.tree.drivers if d.path[-1] == lever.node)
        return _aggregate(driver.expr, snap.sums, snap.mask(lever.segment))
    raise ScenarioError(f"goal seek needs a driver or share lever, not '{lever.text}'")


def goal_seek(snap: Snapshot, lever: str, *, target: float, method: str = "shapley",
              name: str | None = None) -> GoalSeek:
    """Find the value of one lever (driver or share of a segment) at which the root = target.

    The root is solved by the secant method, falling back to bisection over the lever's range
    (shares and percent drivers 0–100 %, other drivers ≥ 0).

    Raises:
        GoalError: the target lies outside what the lever can reach (the message gives the
            range); ScenarioError for an unknown lever.

    Example:
        >>> goal_seek(snap, "share[tier=pro]", target=56.0).value  # doctest: +SKIP
        0.1551…
    """
    base = snap.parse(lever, "0")
    if base.kind not in ("driver", "share"):
        raise ScenarioError(f"goal seek needs a driver or share lever, not '{lever}'")
    current = _lever_value(snap, base)
    tree = snap.tree
    bounded = base.kind == "share" or tree.format_of(base.node) == "percent"
    lo, hi = 0.0, (1.0 if bounded else math.inf)

    def f(x: float) -> float:
        return snap.apply(replace(base, op="=", amount=x, unit="")).value - target

    tolerance = 1e-10 * max(1.0, abs(target))
    x0, f0 = current, f(current)
    found = x0 if abs(f0) <= tolerance else None
    x1 = min(hi, x0 * 1.01 if x0 else 0.01)
    if x1 == x0:
        x1 = x0 * 0.99
    f1 = f(x1)
    for _ in range(60):
        if found is not None:
            break
        if abs(f1) <= tolerance:
            found = x1
            break
        if f1 == f0:
            break
        x2 = min(max(x1 - f1 * (x1 - x0) / (f1 - f0), lo), hi)
        x0, f0, x1, f1 = x1, f1, x2, f(x2)
    if found is None:
        found = _bisect(f, lo, hi if math.isfinite(hi) else max(1.0, current) * 1e6, tolerance)
    if found is None:
        kind = value_kind(tree.format_of(tree.root), tree.unit)
        at_lo = f(lo) + target
        top = hi if math.isfinite(hi) else max(1.0, current) * 1e6
        at_hi = f(top) + target
        low_text, high_text = sorted((at_lo, at_hi))
        raise GoalError(
            f"{tree.label(tree.root)} {format_value(target, kind, tree.unit)} cannot be reached "
            f"by {lever} alone: it ranges from {format_value(low_text, kind, tree.unit)} to "
            f"{format_value(high_text, kind, tree.unit)} over the lever's range; combine levers "
            "or set a nearer target"
        )
    scenario = Scenario.build(snap, [replace(base, op="=", amount=found, unit="")],
                              name=name or f"{lever} = {found:.6g}", method=method)
    return GoalSeek(lever, target, current, found, scenario)


def _bisect(f, lo: float, hi: float, tolerance: float) -> float | None:
    f_lo, f_hi = f(lo), f(hi)
    if abs(f_lo) <= tolerance:
        return lo
    if abs(f_hi) <= tolerance:
        return hi
    if (f_lo > 0) == (f_hi > 0):
        return None
    for _ in range(200):
        mid = (lo + hi) / 2
        f_mid = f(mid)
        if abs(f_mid) <= tolerance:
            return mid
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return (lo + hi) / 2


# --- Sensitivity -------------------------------------------------------------------------------

def _gradient(part: Part, drivers: Mapping[tuple[str, ...], np.ndarray]
              ) -> tuple[np.ndarray, dict[tuple[str, ...], np.ndarray]]:
    """A part's value and its partial derivative with respect to every driver, per cell."""
    match part:
        case Driver(path, _, _):
            value = drivers[path]
            return value, {path: np.ones_like(value)}
        case Linear(_, terms, constant):
            total: np.ndarray = np.full_like(next(iter(drivers.values())), constant)
            grads: dict[tuple[str, ...], np.ndarray] = {}
            for coefficient, sub in terms:
                v, g = _gradient(sub, drivers)
                total = total + coefficient * v
                for path, d in g.items():
                    grads[path] = grads.get(path, 0.0) + coefficient * d
            return total, grads
        case Product(_, factors, coefficient):
            pieces = [(exponent, *_gradient(sub, drivers)) for exponent, sub in factors]
            with np.errstate(divide="ignore", invalid="ignore"):
                powered = [v if e > 0 else 1.0 / v for e, v, _ in pieces]
            value = coefficient * np.prod(powered, axis=0)
            grads = {}
            for i, (exponent, v, g) in enumerate(pieces):
                others = coefficient * np.prod([p for j, p in enumerate(powered) if j != i],
                                               axis=0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    local = others if exponent > 0 else -others / (v * v)
                for path, d in g.items():
                    grads[path] = grads.get(path, 0.0) + local * d
            return value, grads
    raise TypeError(f"not a part: {part!r}")  # pragma: no cover


def sensitivity(snap: Snapshot, *, step: float = 0.10) -> pd.DataFrame:
    """Elasticity of the root to every driver and share of each outermost segment.

    The elasticity of a lever x is ``(∂A/∂x)·(x/A)``: the percent change of the root per 1 %
    change of the lever (others fixed; a share's siblings rebalance proportionally). Driver:
    ``Σ_cells (W_c/W)·d_c·∂r_c/∂d_c / A``; share of segment s: ``s·(r_s − R_rest)/A`` with
    ``R_rest`` the root on the other segments. ``low_value``/``high_value`` are the root with
    the lever scaled by ``1 − step`` and ``1 + step`` (exact re-evaluation, for the tornado).

    Returns:
        One row per lever: ``lever``, ``segment``, ``node``, ``kind`` (driver/share),
        ``current``, ``elasticity``, ``low_label``, ``low_value``, ``high_label``,
        ``high_value``, ``actual``; largest ``|elasticity|`` first.
    """
    if not 0 < step < 1:
        raise ScenarioError(f"step must be between 0 and 1 (a fraction), got {step!r}")
    tree = snap.tree
    actual = snap.value
    with np.errstate(divide="ignore", invalid="ignore"):
        drivers = {d.path: np.nan_to_num(np.asarray(evaluate_expr(d.expr, snap.sums), float)
                                         * np.ones(len(snap.keys)), nan=0.0, posinf=0.0)
                   for d in tree.drivers}
    _, grads = _gradient(tree.structure, drivers)
    weight = sum(snap.sums[c] for c in tree.column_nodes_under(tree.weight))
    total_weight = float(weight.sum())
    outer = snap.by[0] if snap.by else None
    segments = sorted(snap.keys[outer].astype(str).unique()) if outer else [None]
    rows = []
    low_label, high_label = f"×{1 - step:g}", f"×{1 + step:g}"
    for segment in segments:
        selector = ((outer, segment),) if outer else ()
        mask = snap.mask(selector)
        where = f"[{outer}={segment}]" if outer else ""
        candidates: list[tuple[str, str, float]] = []
        for driver in tree.drivers:
            d = drivers[driver.path]
            dA = float(np.sum((weight / total_weight * d * grads.get(driver.path, 0.0))[mask]))
            candidates.append((driver.path[-1], "driver", dA / actual if actual else 0.0))
        if outer:
            w_g = float(weight[mask].sum())
            share = w_g / total_weight
            if 0 < share < 1:
                rest = snap.apply(Lever("", "share", "share", selector, None, "=", 0.0, ""))
                r_rest = rest.value
                group = snap.apply(Lever("", "share", "share", selector, None, "=", 1.0, ""))
                elasticity = share * (group.value - r_rest) / actual
            else:
                elasticity = 0.0
            candidates.append(("share", "share", elasticity))
        for node, kind, elasticity in candidates:
            lever = f"{node}{where}"
            base = Lever(lever, kind, node, selector, None, "*", 1.0, "")
            current = _lever_value(snap, base)
            values = []
            for factor in (1 - step, 1 + step):
                try:
                    values.append(snap.apply(replace(base, amount=factor)).value)
                except ScenarioError:
                    values.append(math.nan)  # e.g. a share pushed past 100 %
            rows.append({"lever": lever, "segment": segment, "node": node, "kind": kind,
                         "current": current, "elasticity": elasticity,
                         "low_label": low_label, "low_value": values[0],
                         "high_label": high_label, "high_value": values[1], "actual": actual})
    table = pd.DataFrame(rows)
    table = table.reindex(table["elasticity"].abs().sort_values(ascending=False,
                                                                 kind="stable").index)
    table = table.reset_index(drop=True)
    table.attrs.update(step=step, period=snap.period)
    return table


def tornado_chart(table: pd.DataFrame, snap: Snapshot, path: str | None = None) -> Figure:
    """The tornado of a :func:`sensitivity` table."""
    return views.show("tornado_chart", table, snap.tree, path)
