"""The lever grammar: reading ``"attach[tier=pro]": "+5pp"`` into a :class:`Lever`.

What belongs here: the syntax of a lever's key and value, checked against a tree, its dimensions
and the segment labels present, with every error naming the accepted forms; and the text a lever
is shown with in scenario names and tables. What does not: what a lever does to the column sums
(:mod:`kpitree.analysis.scenario.solve`), snapshots and scenarios
(:mod:`kpitree.analysis.scenario.scenario`).

**Keys** name what changes and where:

* ``DRIVER[dim=value, …]`` — a driver (a formula node over columns only, e.g. ``attach``,
  ``base_pu``) in every finest segment matching the selector (no selector: everywhere).
* ``share[dim=value]`` — the segment's share of its parent's weight (``dim`` must be the
  outermost dimension, or follow its parents in the selector).
* ``move[dim=from->to]`` — move a fraction (``"10%"``) or a number (``"500"``) of ``from``'s
  weight to ``to``.

**Values** say how: ``"+5pp"``/``"-2pp"`` add percentage points, ``"+10%"``/``"-10%"`` change by
a percent of the current value, ``"*1.10"`` multiplies, ``"+2"``/``"-0.5"`` add in the node's own
unit, ``"=0.3"`` or ``"=30%"`` set. A bare number (``1.1``, ``"1.1"``) is an error naming these
forms: it could mean set, multiply or add. A rate (a driver with ``format: percent``) takes
points, percents, factors or a set value, not a plain ``"+10"`` (which would add 1,000 points),
and stays between 0 and 100 % (:mod:`kpitree.analysis.scenario.solve` checks the result).
``move[…]`` takes a bare fraction (``"10%"``) or count (``"500"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kpitree.core.errors import ScenarioError, did_you_mean, listing
from kpitree.core.tree import Tree

__all__ = ["LEVER_FORMS", "Lever", "describe_lever", "lever_items", "parse_lever"]

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


def _parse_value(key: str, value: object, *, bare: bool = False) -> tuple[str, float, str]:
    """``(op, amount, unit)`` of a lever's value; ``bare`` allows a number without an
    operator (``move[…]``), which otherwise is an error naming the accepted forms."""
    if isinstance(value, bool):
        raise ScenarioError(f"lever '{key}': {value!r} is not a change; use e.g. "
                            f"{', '.join(LEVER_FORMS)}")
    if isinstance(value, int | float) and not bare:
        raise ScenarioError(_bare_error(key, value))
    if isinstance(value, int | float):
        return "=", float(value), ""
    match = _VALUE.match(str(value))
    if not match:
        raise ScenarioError(
            f"lever '{key}': cannot read the change {value!r}; write one of "
            f"{', '.join(LEVER_FORMS)}"
        )
    op, number, unit = match["op"], float(match["num"]), match["unit"] or ""
    if not op and not bare:
        raise ScenarioError(_bare_error(key, value))
    if op in ("-", "−"):
        return "+", -number, unit
    if op == "*" and unit:
        raise ScenarioError(f"lever '{key}': '*' takes a plain factor like '*1.1', not {value!r}")
    return (op or "="), number, unit


def _bare_error(key: str, value: object) -> str:
    text = str(value).strip()
    return (f"lever '{key}': the bare number {text} could mean set, multiply or add; write "
            f"'={text}' to set it, '*{text}' to multiply or '+{text}' to add (forms: "
            f"{', '.join(LEVER_FORMS)})")


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
    op, amount, unit = _parse_value(str(key), value, bare=node == "move")
    if node in drivers and tree.format_of(node) == "percent" and op == "+" and not unit:
        sign = "+" if amount >= 0 else "-"
        raise ScenarioError(
            f"lever '{key}': {node} is a rate (shown in percent), so '{value}' would add "
            f"{abs(amount) * 100:,.0f} percentage points; write '{sign}{abs(amount):g}pp' "
            f"(points), '{sign}{abs(amount):g}%' (relative) or '={abs(amount):g}%' (set)")
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


def lever_items(levers: Mapping[str, object] | Sequence[tuple[str, object]]
                ) -> list[tuple[str, object]]:
    """The ``(key, value)`` pairs of levers given as a mapping or as pairs, in the order written
    (the order they apply in)."""
    if isinstance(levers, Mapping):
        return list(levers.items())
    return list(levers)


def describe_lever(lever: Lever) -> str:
    """The lever as shown in a scenario's name and tables: its key and its change
    (``"attach[tier=pro] +5pp"``, ``"base_pu ×1.1"``, ``"move[tier=starter->pro] 10%"``)."""
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
