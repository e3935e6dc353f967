"""Snapshots and scenarios: one period's column sums, and a what-if of them explained.

What belongs here: :class:`Snapshot` (one period's column sums per finest segment, loaded by
:func:`snapshot`) and :class:`Scenario` (a snapshot with levers applied, explained against the
actual by the same attribution as an actual month — :func:`~kpitree.core.attribution.attribute`,
called in one place, :func:`_attribute`: a scenario is just another snapshot to attribute
against, never a second engine), and :func:`compare_scenarios`. The two classes share a module
because they refer to each other: ``Snapshot.whatif`` builds a ``Scenario``, and a ``Scenario``
holds its snapshots. What does not: reading levers (:mod:`kpitree.analysis.scenario.levers`),
what a lever does to the sums (:mod:`kpitree.analysis.scenario.solve`), goal seek and
sensitivity (their own modules), drawing and text (looked up in :mod:`kpitree.core.views`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kpitree.analysis.scenario.levers import Lever, describe_lever, lever_items, parse_lever
from kpitree.analysis.scenario.solve import apply_lever, segment_mask
from kpitree.core import views
from kpitree.core.attribution import attribute
from kpitree.core.cells import Cells, load_cells
from kpitree.core.data import DataSource
from kpitree.core.errors import ScenarioError
from kpitree.core.evaluate import describe_rows, node_values
from kpitree.core.result import Explanation
from kpitree.core.tree import Tree

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["WHATIF", "Scenario", "Snapshot", "compare_scenarios", "snapshot"]

WHATIF = "what-if"  # the compare period's label in a scenario's explanation


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

    def _repr_html_(self) -> str:
        """Notebook display: the root and each outer segment's share and value."""
        return views.show("snapshot_html", self)

    def whatif(self, levers: Mapping[str, object], *, name: str | None = None,
               method: str = "shapley") -> Scenario:
        """A scenario of this snapshot with ``levers`` applied
        (see :mod:`kpitree.analysis.scenario.levers`)."""
        return Scenario.build(self, lever_items(levers), name=name, method=method)

    def apply(self, lever: Lever, *, name: str | None = None) -> Snapshot:
        """This snapshot with one lever applied."""
        sums = apply_lever(self.tree, self.keys, self.sums, lever, period=self.period)
        return replace(self, name=name or self.name, sums=sums)

    def parse(self, key: str, value: object) -> Lever:
        return parse_lever(key, value, self.tree, self.by, self._labels)

    @cached_property
    def _labels(self) -> dict[str, list[str]]:
        return {d: sorted(self.keys[d].astype(str).unique()) for d in self.by}

    def mask(self, selector: Sequence[tuple[str, str]]) -> np.ndarray:
        return segment_mask(self.keys, selector)


def snapshot(
    tree: Tree, data: DataSource, *, period: object, by: Sequence[str] | None = None,
    period_column: str = "period",
) -> Snapshot:
    """The evaluated tree of one period, ready for what-if levers.

    Example:
        >>> snap = snapshot(tree, "data/saas_monthly.csv", period="2026-10")
        >>> snap.whatif({"attach[tier=pro]": "+5pp"}).explanation.totals
        {'mix': 0.0, 'rate': 0.2419...}
    """
    cells = load_cells(tree, data, by=by, period_column=period_column)
    name = cells.check_period(period)
    chosen = cells.select(name)
    return Snapshot(tree, name, name, tuple(chosen.keys.columns), chosen.keys, chosen.base)


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
        name = name or "; ".join(describe_lever(lv) for lv in parsed) or "no change"
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
        more = [self.actual.parse(k, v) for k, v in lever_items(levers)]
        extra = "; ".join(describe_lever(lv) for lv in more)
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

    def _repr_html_(self) -> str:
        """Notebook display: the move, the bridge by lever and its chart."""
        return views.show("scenario_html", self)

    def chart(self, path: str | None = None) -> Figure:
        """Bridge actual → scenario (see :func:`kpitree.present.charts.scenario_chart`)."""
        return views.show("scenario_chart", self, path)

    def render(self, path: str | None = None, *, format: str | None = None) -> bytes | Path:
        """The annotated tree of actual → scenario (Graphviz): the path written, or the bytes
        without ``path`` (see :meth:`Explanation.render`)."""
        if path is None:
            return self.explanation.render(format=format)
        return self.explanation.render(path, format=format)

    def __str__(self) -> str:
        return str(self.explanation)


def _attribute(a: Snapshot, b: Snapshot, method: str, periods: tuple[str, str]) -> Explanation:
    cells = Cells.two(a.keys, a.sums, b.sums, periods=periods, source=f"scenario '{b.name}'")
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
        row["levers"] = "; ".join(describe_lever(lv) for lv in s.levers)
        for _, driver in s.explanation.by_driver().iterrows():
            row[f"rate: {driver['label']}"] = driver["value"]
        rows.append(row)
    return pd.DataFrame(rows).fillna(0.0)
