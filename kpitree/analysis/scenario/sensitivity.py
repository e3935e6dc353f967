"""Sensitivity: the elasticity of the root to every driver and share, and its tornado chart.

What belongs here: :func:`sensitivity` — the partial derivatives of the root with respect to
each driver through the tree's structure, the share elasticities of the outermost segments, and
the exact re-evaluation at ``1 ± step`` — and :func:`tornado_chart`, which only looks the chart
up in :mod:`kpitree.core.views` (drawn by :func:`kpitree.present.charts.tornado_chart`). What
does not: goal seek (:mod:`kpitree.analysis.scenario.goal`), what a lever does to the sums
(:mod:`kpitree.analysis.scenario.solve`), any drawing itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kpitree.analysis.scenario.levers import Lever
from kpitree.analysis.scenario.scenario import Snapshot
from kpitree.analysis.scenario.solve import lever_value
from kpitree.core import views
from kpitree.core.errors import ScenarioError
from kpitree.core.expr import evaluate as evaluate_expr
from kpitree.core.tree import Driver, Linear, Part, Product

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["sensitivity", "tornado_chart"]


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
    weight = np.sum([snap.sums[c] for c in tree.column_nodes_under(tree.weight)], axis=0)
    total_weight = float(weight.sum())
    outer = snap.by[0] if snap.by else None
    segments = sorted(snap.keys[outer].astype(str).unique()) if outer else [None]
    rows = []
    low_label, high_label = f"×{1 - step:g}", f"×{1 + step:g}"
    for segment in segments:
        selector: tuple[tuple[str, str], ...] = ((outer, str(segment)),) if outer else ()
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
            current = lever_value(tree, snap.keys, snap.sums, base)
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
