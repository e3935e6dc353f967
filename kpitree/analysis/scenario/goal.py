"""Goal seek: the value of one lever at which the root reaches a target.

What belongs here: :func:`goal_seek` and its result :class:`GoalSeek` — a one-dimensional root
search over a driver or share lever, re-evaluating the snapshot exactly at each trial value, and
the scenario at the value found. What does not: what a lever does to the sums
(:mod:`kpitree.analysis.scenario.solve`), the elasticities of every lever
(:mod:`kpitree.analysis.scenario.sensitivity`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from kpitree.analysis.scenario.scenario import Scenario, Snapshot
from kpitree.analysis.scenario.solve import lever_value
from kpitree.core import views
from kpitree.core.errors import GoalError, ScenarioError
from kpitree.core.formatting import format_value, value_kind

__all__ = ["GoalSeek", "goal_seek"]


@dataclass(frozen=True)
class GoalSeek:
    """The lever value at which the root reaches ``target``."""

    lever: str
    target: float
    current: float  # the lever's value in the actual snapshot
    value: float  # the lever's value that reaches the target
    scenario: Scenario = field(repr=False, compare=False)

    def _repr_html_(self) -> str:
        """Notebook display: the value found and the scenario it makes."""
        return views.show("goal_html", self)


def goal_seek(snap: Snapshot, lever: str, *, target: float, method: str = "shapley",
              name: str | None = None) -> GoalSeek:
    """Find the value of one lever (driver or share of a segment) at which the root = target.

    The root is solved by the secant method, falling back to bisection over the lever's range
    (shares and percent drivers 0–100 %, other drivers ≥ 0).

    Raises:
        GoalError: the target lies outside what the lever can reach (the message gives the
            range); ScenarioError for an unknown lever.

    Example:
        >>> snap = kpitree.snapshot(tree, "data/saas_monthly.csv", period="2026-10")
        >>> goal_seek(snap, "share[tier=pro]", target=56.0).value
        0.1465...
    """
    base = snap.parse(lever, "=0")
    if base.kind not in ("driver", "share"):
        raise ScenarioError(f"goal seek needs a driver or share lever, not '{lever}'")
    current = lever_value(snap.tree, snap.keys, snap.sums, base)
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


def _bisect(f: Callable[[float], float], lo: float, hi: float,
            tolerance: float) -> float | None:
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
