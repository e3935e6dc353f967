"""The result of an attribution: a frozen value whose effects provably add up.

What belongs here: :class:`Explanation` — totals, the tidy effects and segments tables, the JSON
contract of DESIGN.md §4 — and the invariant check run every time one is built. What does not:
the maths (see :mod:`kpitree.core.attribution`) or any rendering: the methods that draw or print
look their view up in :mod:`kpitree.core.views`, which :mod:`kpitree.present` fills.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd

from kpitree.core import jsontext, views
from kpitree.core.errors import MissingExtraError, RenderError

if TYPE_CHECKING:  # the core never imports rendering at runtime
    from kpitree.core.tree import Tree

EFFECT_COLUMNS = ("kind", "level", "path", "driver", "label", "value")
EFFECT_KINDS = ("mix", "rate", "interaction")

# Effects must add up to the change to floating-point precision (relative to the values).
RELATIVE_TOLERANCE = 1e-9


def _number(value: float) -> float | None:
    """JSON has no NaN: an undefined value (absent segment) is null."""
    # ``+ 0.0`` turns −0.0 into 0.0, so JSON never shows "-0.0".
    return None if value is None or math.isnan(value) else float(value) + 0.0


# A segment's ``effects`` in the JSON (DESIGN.md §4), each the sum of its effects rows: ``mix``
# (its own level), ``inner_mix`` (the deeper levels inside it), ``rate`` (its cells' drivers),
# ``interaction`` (its own level, sequential) and ``inner_interaction`` (deeper levels,
# sequential); ``total`` is their sum, the segment's whole change.
SEGMENT_EFFECTS = ("mix", "inner_mix", "rate", "interaction", "inner_interaction")


def _numbers(column: pd.Series) -> np.ndarray:
    """A column as floats for :func:`_number`'s rule: −0.0 written as 0.0, NaN as null."""
    return column.to_numpy(dtype=float, na_value=math.nan) + 0.0


def _column(column: pd.Series) -> jsontext.Field:
    """A column written as its values are (floats exactly, NaN refused)."""
    if column.dtype.kind == "f":
        return jsontext.Floats(column.to_numpy())
    return jsontext.Values(column.tolist())


def _segment_effects(frame: pd.DataFrame) -> jsontext.Obj:
    """The ``effects`` of every segment, column by column; ``total`` is their exact sum."""
    columns = []
    for name in SEGMENT_EFFECTS:
        if name not in frame.columns:
            columns.append(np.zeros(len(frame)))
        elif frame[name].dtype.kind == "O":  # None counts as 0; NaN stays undefined (null)
            columns.append(np.array([0.0 if v is None else float(v or 0.0)
                                     for v in frame[name].tolist()], dtype=float))
        else:
            columns.append(_numbers(frame[name]))
    stacked = np.vstack(columns) if columns else np.zeros((0, len(frame)))
    with np.errstate(invalid="ignore", over="ignore"):
        total = stacked.sum(axis=0)
    # The total is math.fsum of the five: where at most two are nonzero (one dimension: mix and
    # rate) and all are finite, the plain sum is the correctly rounded one; elsewhere fsum.
    exact = ((stacked != 0).sum(axis=0) <= 2) & np.isfinite(stacked).all(axis=0)
    if not exact.all():
        rows = np.flatnonzero(~exact)
        total[rows] = list(map(math.fsum, stacked[:, rows].T.tolist()))
    fields = [(name, jsontext.Floats(values, nulls=True))
              for name, values in zip(SEGMENT_EFFECTS, columns, strict=True)]
    return jsontext.Obj([*fields, ("total", jsontext.Floats(total + 0.0, nulls=True))])


class AttributionError(AssertionError):
    """Internal: effects failed to add up to the change (a bug, never bad input)."""


def check_adds_up(effects: pd.DataFrame, delta: float, values: Iterable[float],
                  what: str) -> None:
    """The invariant of every result: its effects add up to the change it explains.

    Checked to floating-point precision relative to the values involved.

    Raises:
        AttributionError: they do not (a bug in kpitree, never bad input).
    """
    total = float(effects["value"].sum()) if len(effects) else 0.0
    scale = max(1.0, *(abs(float(v)) for v in values))
    if not math.isclose(total, delta, rel_tol=0.0, abs_tol=RELATIVE_TOLERANCE * scale):
        raise AttributionError(
            f"{what} add up to {total!r}, not to the change {delta!r}; this is a bug in kpitree"
        )


def kind_totals(effects: pd.DataFrame, kinds: Iterable[str] = EFFECT_KINDS) -> dict[str, float]:
    """Effect totals by kind, in the order of ``kinds``; ``interaction`` only when present."""
    sums = effects.groupby("kind", sort=False)["value"].sum()
    return {k: float(sums.get(k, 0.0)) for k in kinds if k in sums.index or k != "interaction"}


@dataclass(frozen=True)
class PeriodValue:
    """The root's value in one period, with the total weight behind it."""

    period: str
    value: float
    weight: float


@dataclass(frozen=True)
class Intervals:
    """Bootstrap intervals of an explanation (see :mod:`kpitree.analysis.bootstrap`).

    Attributes:
        level: the nominal coverage, e.g. 0.95.
        replicates, seed: the bootstrap's size and seed (the same seed gives the same numbers).
        method: how the intervals were made (``poisson bootstrap, percentile``).
        totals: ``{"mix": (low, high), "rate": …, "delta": …}``.
        segments: each segment's whole contribution (its mix + rate), ``{label: (low, high)}``.
        effects: ``low``, ``high`` and ``noise`` (the interval spans zero: not distinguishable
            from noise) per effect row, with the index of :attr:`Explanation.effects`.
    """

    level: float
    replicates: int
    seed: int
    method: str
    totals: dict[str, tuple[float, float]]
    segments: dict[str, tuple[float, float]]
    effects: pd.DataFrame = field(repr=False, compare=False)

    def noise(self, kind: str) -> bool:
        """Whether a total's interval spans zero."""
        low, high = self.totals[kind]
        return bool(low <= 0.0 <= high)


@dataclass(frozen=True)
class Explanation:
    """Why the root moved from ``base`` to ``compare``, split exactly into effects.

    Attributes:
        tree: the tree explained.
        method: ``shapley``, ``sequential`` or ``lmdi``.
        by: the segment dimensions, outermost first.
        base, compare: the two periods and the root's value in each.
        effects: one row per effect — ``kind`` (mix, rate, interaction), ``level`` (the dimension
            of a mix/interaction row), one column per dimension, ``path`` from the root to the
            driver, ``driver``, ``label``, ``value``. Sums exactly to :attr:`delta`.
        segments: one row per segment at every level, shares within the parent, values, status
            (``both``, ``entered``, ``exited``, ``empty``) and the segment's mix/rate totals.
        parts: every node of the driver structure per segment and period, with its rate effect
            (what the tree image draws).
        intervals: bootstrap intervals of the totals and effects, when asked for
            (:func:`kpitree.analysis.bootstrap.with_intervals`); ``None`` otherwise.
        notes: conventions and caveats every view shows with the numbers (what a rolled-up
            quarter's ratio means, an incomplete period compared anyway); JSON ``notes``.
    """

    tree: Tree = field(repr=False, compare=False)
    method: str
    by: tuple[str, ...]
    base: PeriodValue
    compare: PeriodValue
    effects: pd.DataFrame = field(repr=False, compare=False)
    segments: pd.DataFrame = field(repr=False, compare=False)
    parts: pd.DataFrame = field(repr=False, compare=False)
    intervals: Intervals | None = field(default=None, repr=False, compare=False)
    # Conventions and caveats to show with the numbers (e.g. what a quarter's ARPU means).
    notes: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        check_adds_up(self.effects, self.delta, (self.base.value, self.compare.value),
                      f"effects ({self.method})")

    @property
    def metric(self) -> str:
        return self.tree.root

    @property
    def delta(self) -> float:
        """``compare − base`` of the root."""
        return self.compare.value - self.base.value

    @property
    def totals(self) -> dict[str, float]:
        """Effect totals by kind (``mix``, ``rate``, and ``interaction`` for sequential)."""
        return kind_totals(self.effects)

    def by_driver(self) -> pd.DataFrame:
        """Rate effects summed over segments, one row per driver path (largest first)."""
        rate = self.effects[self.effects["kind"] == "rate"]
        table = rate.groupby(["path", "label"], sort=False)["value"].sum().reset_index()
        return table.reindex(table["value"].abs().sort_values(ascending=False).index)

    def top_effects(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` effects with the largest absolute value."""
        order = self.effects["value"].abs().sort_values(ascending=False, kind="stable").index
        return self.effects.loc[order[:n]]

    def to_dict(self) -> dict[str, Any]:
        """The DESIGN.md §4 contract as plain Python (full precision, no rounding).

        Read back from the JSON text of :meth:`json_document`, so the dicts are exactly what
        ``--format json`` prints.
        """
        return jsontext.plain(self.json_document())

    def json_document(self) -> dict[str, Any]:
        """The JSON document, its ``segments`` and ``effects`` kept as columns
        (:class:`~kpitree.core.jsontext.Records`): what :func:`kpitree.core.jsontext.write`
        streams without making a dict per row. A subclass adds its own block here (the driver
        search's ``drivers``), and :meth:`to_dict` and ``--format json`` both show it."""
        return self._document()

    def _document(self) -> dict[str, Any]:
        """:meth:`json_document`'s work: the contract's keys and values, in its order."""
        table = self.segments
        segments = jsontext.Records(len(table), [
            ("segment", jsontext.Dicts(table["segment"].tolist())),
            ("level", _column(table["level"])),
            ("status", _column(table["status"])),
            *((period, jsontext.Obj([
                ("share", _column(table[f"{period}_share"])),
                ("value", jsontext.Floats(_numbers(table[f"{period}_value"]), nulls=True)),
                ("weight", _column(table[f"{period}_weight"]))]))
              for period in ("base", "compare")),
            ("effects", _segment_effects(table)),
        ])
        rows = self.effects
        kinds = rows["kind"].tolist()
        where = []
        for dim in self.by:
            values = rows[dim].tolist()
            where.append((dim, jsontext.Values(values, present=[v is not None for v in values])))
        fields: list[tuple[str, jsontext.Field]] = [
            ("kind", jsontext.Values(kinds)),
            ("level", jsontext.Values(rows["level"].tolist(),
                                      present=[kind != "rate" for kind in kinds])),
            ("segment", jsontext.Obj(where)),
            ("path", jsontext.Values(rows["path"].tolist())),
            ("label", jsontext.Values(rows["label"].tolist())),
            ("value", jsontext.Floats(_numbers(rows["value"]), nulls=True)),
        ]
        extra: dict[str, Any] = {"notes": list(self.notes)} if self.notes else {}
        if self.intervals is not None:
            bounds = self.intervals.effects
            if len(bounds) != len(rows):
                raise ValueError(f"{len(bounds)} intervals for {len(rows)} effects")
            fields += [
                ("interval", jsontext.Arr([jsontext.Floats(_numbers(bounds["low"]), nulls=True),
                                           jsontext.Floats(_numbers(bounds["high"]),
                                                           nulls=True)])),
                ("noise", jsontext.Values([bool(v) for v in bounds["noise"].tolist()])),
            ]
            extra["intervals"] = {
                "level": self.intervals.level, "replicates": self.intervals.replicates,
                "seed": self.intervals.seed, "method": self.intervals.method,
                "totals": {k: [_number(lo), _number(hi)]
                           for k, (lo, hi) in self.intervals.totals.items()},
                "noise": {k: self.intervals.noise(k) for k in self.intervals.totals},
                "segments": {k: [_number(lo), _number(hi)]
                             for k, (lo, hi) in self.intervals.segments.items()},
            }
        return {
            "tree": self.tree.name,
            "title": self.tree.title,
            "metric": self.metric,
            "unit": self.tree.unit,
            "method": self.method,
            "by": list(self.by),
            "base": {"period": self.base.period, "value": self.base.value,
                     "weight": self.base.weight},
            "compare": {"period": self.compare.period, "value": self.compare.value,
                        "weight": self.compare.weight},
            "delta": self.delta,
            "totals": self.totals,
            "segments": segments,
            "effects": jsontext.Records(len(rows), fields),
            **extra,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The JSON output contract (DESIGN.md §4)."""
        if indent is None:
            return json.dumps(self.to_dict(), allow_nan=False)
        return jsontext.dumps(self.json_document(), indent=indent)

    @overload
    def render(self, path: None = None, *, format: str | None = None,
               **options: Any) -> bytes: ...
    @overload
    def render(self, path: str | PathLike[str], *, format: str | None = None,
               **options: Any) -> Path: ...
    def render(self, path: str | PathLike[str] | None = None, *, format: str | None = None,
               **options: Any) -> bytes | Path:
        """Render the annotated tree image (PNG, SVG or PDF); see
        :func:`kpitree.present.tree_image.render_explanation` (``options``: its ``dpi`` and
        ``layout``).

        With ``path`` the image is written there and the path is returned (a notebook then
        shows the file name, not the bytes); without, the image's bytes are returned.
        """
        data = views.show("tree_image", self, path, format=format, **options)
        return data if path is None else Path(path)

    def plot_bridge(self, path: str | None = None, *, rate_by: str = "component",
                    top: int | None = None) -> Any:
        """The bridge chart as a matplotlib figure (shown in Jupyter), written to ``path`` if
        given (PNG, SVG or PDF); see :mod:`kpitree.present.bridge`."""
        top = views.show("bridge_top") if top is None else top
        if path is not None:
            views.show("bridge_file", self, path, rate_by=rate_by, top=top)
        return views.show("bridge_figure", self, rate_by=rate_by, top=top)

    def narrative(self) -> Any:
        """The plain-language summary (:class:`kpitree.present.narrative.Narrative`)."""
        return views.show("narrative", self)

    def _repr_html_(self) -> str:
        """Notebook display: the narrative, then the annotated tree (text only without dot)."""
        return views.show("explanation_html", self)

    def _repr_svg_(self) -> str | None:
        """Notebook display: the annotated tree; falls back to text if Graphviz is missing."""
        try:
            return self.render(format="svg").decode("utf-8")
        except (RenderError, MissingExtraError):
            return None

    def __str__(self) -> str:
        return views.show("explanation_table", self)
