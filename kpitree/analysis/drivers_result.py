"""The result of a driver search: :class:`Drivers`, how it is built from the units, and its
intervals.

What belongs here: :class:`Drivers` (an :class:`~kpitree.core.result.Explanation` over the
named units plus ``rest``, with the ``drivers`` block of its JSON), :func:`build` (the units'
effects, segments and tree parts from :func:`kpitree.analysis.discovery.decompose`) and
:func:`intervals_for_units` (the Poisson bootstrap of every unit with the same decomposition).
What does not: the search (:mod:`kpitree.analysis.search`), the decomposition's maths
(:mod:`kpitree.analysis.discovery`), the entry points (:mod:`kpitree.analysis.drivers`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from kpitree.analysis.bootstrap import replicate_sums
from kpitree.analysis.discovery import Layout, Unit, decompose, layout, matches, report_sums
from kpitree.core import views
from kpitree.core.attribution import attribute
from kpitree.core.cells import Cells
from kpitree.core.data import DataSource
from kpitree.core.errors import DataError, MethodError
from kpitree.core.evaluate import node_values
from kpitree.core.frames import effects_table, mix_rows, rate_rows
from kpitree.core.result import Explanation, Intervals, PeriodValue
from kpitree.core.rows import combine, load_rows
from kpitree.core.tree import Tree

REST = "rest"
METHOD = "poisson bootstrap, percentile"


@dataclass(frozen=True)
class Drivers(Explanation):
    """An :class:`Explanation` over the named units (launches, mix shifts, rate pockets) plus
    an exact ``rest``.

    The explanation's one segment dimension (``by``, normally ``"split"``) holds the units'
    labels; everything an explanation does (JSON, table, image, intervals) works unchanged.

    Attributes (besides :class:`Explanation`'s):
        dims: the candidate dimensions searched.
        depth: the most conditions a rate pocket may have.
        ranking: one row per dimension, best first: ``dimension``, ``values``, ``mix``,
            ``rate``, ``score`` (see the module notes), ``top`` (the value moving most).
        found: one row per unit in split order, then the rest: ``step``, ``kind`` (launch,
            mix, rate, rest), ``segment`` (label), ``conditions`` (dict), ``strata`` (what a mix
            shift is conditioned on), ``excludes`` (the other pockets that took some of its
            rows), ``reason``, ``status``, ``score``, shares and values (``base_share`` …
            ``compare_value``), ``mix``, ``rate``, ``contribution``.
    """

    dims: tuple[str, ...] = ()
    depth: int = 2
    ranking: pd.DataFrame = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    found: pd.DataFrame = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    units: tuple[Unit, ...] = field(default=(), repr=False, compare=False)
    plan: Layout | None = field(default=None, repr=False, compare=False)
    labels: tuple[tuple[str, ...], ...] = field(default=(), repr=False, compare=False)
    # The bucketed dimensions' inner edges as used (quantiles resolved), so intervals added
    # later put rows and replicate sums in the same buckets.
    buckets: dict[str, list[float]] | None = field(default=None, repr=False, compare=False)

    @property
    def dimension(self) -> str:
        """The name of the explanation's segment column (``split``)."""
        return self.by[0]

    @property
    def rules(self) -> tuple[tuple[tuple[str, str], ...], ...]:
        """Each unit's conditions as ``((dimension, value), …)``, in split order."""
        return tuple(tuple((self.dims[k], self.labels[k][v]) for k, v in u.conditions)
                     for u in self.units)

    def json_document(self) -> dict[str, Any]:
        """The JSON contract of :class:`Explanation` plus a ``drivers`` block."""
        out = super().json_document()
        bounds = self.intervals.segments if self.intervals is not None else None
        segments = []
        for row in self.found.itertuples(index=False):
            item = {
                "step": None if row.step == 0 else int(row.step), "kind": row.kind,
                "segment": row.segment, "conditions": dict(row.conditions),
                "strata": list(row.strata), "excludes": list(row.excludes),
                "reason": row.reason, "status": row.status, "score": _plain(row.score),
                "base": {"share": _plain(row.base_share), "value": _plain(row.base_value)},
                "compare": {"share": _plain(row.compare_share),
                            "value": _plain(row.compare_value)},
                "mix": _plain(row.mix), "rate": _plain(row.rate),
                "contribution": _plain(row.contribution),
            }
            if bounds is not None:
                low, high = bounds[row.segment]
                item["interval"] = [_plain(low), _plain(high)]
                item["noise"] = bool(low <= 0 <= high)
            segments.append(item)
        out["drivers"] = {
            "dims": list(self.dims), "depth": self.depth,
            "algorithm": "launches, then mix shifts along one dimension (conditional on the "
                         "level-setting dimensions) and rate pockets, greedy by effect; "
                         "named units + rest = change exactly",
            "ranking": [{k: _plain(v) for k, v in r.items()}
                        for r in self.ranking.to_dict("records")],
            "split_order": [s["segment"] for s in segments if s["step"] is not None],
            "segments": segments,
        }
        return out

    def __str__(self) -> str:
        return views.show("drivers_table", self)

    def chart(self, path: str | None = None) -> Any:
        """The named drivers as bars (intervals, shares, launches marked) beside the dimension
        ranking (:mod:`kpitree.present.drivers_chart`); written to ``path`` when given."""
        return views.show("drivers_chart", self, path)

    def assign_rows(
        self, data: DataSource, *, replicates: int = 200, level: float = 0.95, seed: int = 0,
        period_column: str = "period",
    ) -> Drivers:
        """This result with bootstrap intervals from the row-level ``data`` it came from."""
        if self.buckets:
            from kpitree.analysis.dimensions import bucketed

            data, _ = bucketed(self.tree, data, self.buckets, dims=self.dims,
                               base=self.base.period, compare=self.compare.period,
                               period_column=period_column)
        rows = load_rows(self.tree, data, dims=self.dims, base=self.base.period,
                         compare=self.compare.period, period_column=period_column)
        cell = self.report_cell(rows.codes, rows.labels)
        return self.with_replicates(cell, rows.period, rows.measures, rows.names,
                                    replicates=replicates, level=level, seed=seed)

    def report_cell(self, codes: np.ndarray, labels: Sequence[Sequence[str]]) -> np.ndarray:
        """Each row's report cell, from its codes (rows × dims) under its own ``labels``."""
        assert self.plan is not None
        plan = self.plan
        translated = np.empty((len(codes), len(plan.dims)), dtype=np.int64)
        for j, k in enumerate(plan.dims):
            known = {label: code for code, label in enumerate(self.labels[k])}
            mapping = np.array([known.get(label, -1) for label in labels[k]], dtype=np.int64)
            translated[:, j] = mapping[codes[:, k]] if len(mapping) else -1
        if (translated < 0).any():
            raise DataError("the data has values this driver search did not see; pass the "
                            "same data it was run on")
        sizes = [len(self.labels[k]) for k in plan.dims]
        cells = combine(plan.codes, sizes)
        order = np.argsort(cells)
        key = combine(translated, sizes)
        where = np.searchsorted(cells[order], key)
        where = np.minimum(where, len(cells) - 1)
        cell = order[where]
        if len(cells) and np.any(cells[cell] != key):  # pragma: no cover - data differs
            raise DataError("the data has rows in no cell of this result; pass the same data")
        return cell

    def with_replicates(
        self, cell: np.ndarray, period: np.ndarray, measures: np.ndarray, names: Sequence[str],
        *, replicates: int = 200, level: float = 0.95, seed: int = 0,
        keys: np.ndarray | None = None,
    ) -> Drivers:
        """Intervals from rows given as (report cell, period, measures), with each row's user
        key (hashed counts) when given; see :func:`intervals_for_units`."""
        intervals = intervals_for_units(self, cell, period, measures, names,
                                        replicates=replicates, level=level, seed=seed,
                                        keys=keys)
        return replace(self, intervals=intervals)

    def with_replicate_cells(
        self, frame: pd.DataFrame, *, replicates: int, level: float = 0.95, seed: int = 0,
        period_column: str = "period", replicate_column: str = "replicate",
    ) -> Drivers:
        """Intervals from replicate sums already made, e.g. by a raw source's engine
        (:func:`kpitree.io.events.cells.replicate_cells`): one row per period × ``dims`` ×
        replicate with the tree's measure columns summed under that replicate's counts. Bucketed
        dimensions are summed into the buckets of the point estimate."""
        tree, plan = self.tree, self.plan
        assert plan is not None
        if self.buckets:
            from kpitree.analysis.dimensions import relabel

            frame = relabel(frame, self.buckets)
        names = list(tree.columns)
        known = frame[period_column].astype(str)
        period = np.where(known == str(self.compare.period), 1,
                          np.where(known == str(self.base.period), 0, -1))
        rep = frame[replicate_column].to_numpy(dtype=np.int64)
        keep = (period >= 0) & (rep >= 0) & (rep < replicates)
        frame, period, rep = frame[keep], period[keep], rep[keep]
        codes = np.empty((len(frame), len(self.dims)), dtype=np.int64)
        labels = []
        for k, dim in enumerate(self.dims):
            dim_codes, dim_labels = pd.factorize(frame[dim].astype(str), sort=True)
            codes[:, k] = dim_codes
            labels.append(tuple(str(v) for v in dim_labels))
        cell = self.report_cell(codes, labels)
        n_cells = len(plan.codes)
        measures = np.column_stack([frame[tree.columns[n]].to_numpy(dtype=float)
                                    for n in names])
        sums = np.zeros((replicates, 2 * n_cells, len(names)))
        np.add.at(sums, (rep, cell + n_cells * period), measures)
        intervals = intervals_from_sums(self, sums, names, replicates=replicates, level=level,
                                        seed=seed)
        return replace(self, intervals=intervals)


def _plain(value: object) -> object:
    """JSON-friendly scalars: numpy numbers to Python, NaN to None."""
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value) + 0.0
    if isinstance(value, np.integer):
        return int(value)
    return value


def _keys(result: Drivers) -> list[tuple[str, int | None, tuple[str, ...] | None]]:
    """The :func:`decompose` key of every effect row of ``result``."""
    index = {label: i for i, label in enumerate(result.found["segment"])}
    return [("mix", index[getattr(row, result.dimension)], None) if row.kind == "mix"
            else ("rate", index[getattr(row, result.dimension)], tuple(row.path))
            for row in result.effects.itertuples(index=False)]


def _check_options(replicates: int, level: float) -> None:
    if replicates < 10:
        raise MethodError(f"bootstrap needs at least 10 replicates, not {replicates}")
    if not 0.5 <= level < 1:
        raise MethodError(f"interval level {level:g} must be between 0.5 and 1 (e.g. 0.95)")


def intervals_for_units(
    result: Drivers, cell: np.ndarray, period: np.ndarray, measures: np.ndarray,
    names: Sequence[str], *, replicates: int = 200, level: float = 0.95, seed: int = 0,
    keys: np.ndarray | None = None,
) -> Intervals:
    """Poisson-bootstrap intervals (:mod:`kpitree.analysis.bootstrap`) of every unit, effect
    and total: the rows' report-cell sums per replicate (hashed counts of the rows' user
    ``keys`` when given), decomposed by the same
    :func:`~kpitree.analysis.discovery.decompose` as the point estimate (checked)."""
    _check_options(replicates, level)
    assert result.plan is not None
    n_cells = len(result.plan.codes)
    slot = cell + n_cells * period
    sums = replicate_sums(slot, measures, n_groups=2 * n_cells, replicates=replicates,
                          seed=seed, keys=keys)
    point_sums = np.zeros((2 * n_cells, measures.shape[1]))
    np.add.at(point_sums, slot, measures)
    point = decompose(result.tree, names, point_sums[None, :n_cells],
                      point_sums[None, n_cells:], result.plan, result.units)
    scale = max(1.0, abs(result.base.value), abs(result.compare.value))
    for key, value in zip(_keys(result), result.effects["value"], strict=True):
        if abs(point[key][0] - value) > 1e-9 * scale:
            raise DataError("the data does not match this driver search; pass the same data "
                            "it was run on")
    return intervals_from_sums(result, sums, names, replicates=replicates, level=level,
                               seed=seed)


def intervals_from_sums(
    result: Drivers, sums: np.ndarray, names: Sequence[str], *, replicates: int,
    level: float = 0.95, seed: int = 0,
) -> Intervals:
    """Percentile intervals of every unit, effect and total from the report cells' replicate
    sums ``sums`` (replicates, base cells then compare cells, measures in ``names`` order),
    decomposed by :func:`~kpitree.analysis.discovery.decompose`."""
    _check_options(replicates, level)
    assert result.plan is not None
    n_cells = len(result.plan.codes)
    units = result.units
    effects = decompose(result.tree, names, sums[:, :n_cells], sums[:, n_cells:], result.plan,
                        units)
    keys = _keys(result)
    alpha = (1 - level) / 2

    def bounds(values: np.ndarray) -> tuple[float, float]:
        low, high = np.quantile(values, [alpha, 1 - alpha])
        return float(low), float(high)

    table = pd.DataFrame([bounds(effects[k]) for k in keys], columns=["low", "high"],
                         index=result.effects.index)
    table["noise"] = (table["low"] <= 0) & (table["high"] >= 0)
    mix = sum((v for k, v in effects.items() if k[0] == "mix"), np.zeros(replicates))
    rate = sum((v for k, v in effects.items() if k[0] == "rate"), np.zeros(replicates))
    segments = {}
    for i, label in enumerate(result.found["segment"]):
        whole = sum((v for k, v in effects.items() if k[0] != "delta" and k[1] == i),
                    np.zeros(replicates))
        segments[label] = bounds(whole)
    totals = {"mix": bounds(mix), "rate": bounds(rate),
              "delta": bounds(effects[("delta", None, None)])}
    return Intervals(level=level, replicates=replicates, seed=seed, method=METHOD,
                     totals=totals, segments=segments, effects=table)


RESERVED = ("kind", "level", "path", "driver", "label", "value", "segment", "status")


def segment_name(dims: Sequence[str]) -> str:
    """The explanation's one dimension: ``split`` (``split_`` if a dimension has that name)."""
    name = "split"
    while name in dims or name in RESERVED:
        name = f"{name}_"
    return name




def _conditions(unit: Unit, dims: Sequence[str], labels: Sequence[Sequence[str]]
                ) -> dict[str, str | list[str]]:
    """``{dimension: value}``, or ``{dimension: [values]}`` for a group of values."""
    grouped: dict[str, list[str]] = {}
    for k, v in unit.conditions:
        grouped.setdefault(dims[k], []).append(labels[k][v])
    return {d: values[0] if len(values) == 1 else values for d, values in grouped.items()}


def _label(unit: Unit, dims: Sequence[str], labels: Sequence[Sequence[str]]) -> str:
    if unit.kind == "mix":
        dim, value = unit.conditions[0]
        return f"{dims[dim]} mix ({labels[dim][value]})"
    return " & ".join(f"{d}={v}" if isinstance(v, str) else f"{d} in ({', '.join(v)})"
                      for d, v in _conditions(unit, dims, labels).items())


def build(
    tree: Tree, table: Cells, codes: np.ndarray, labels: tuple[tuple[str, ...], ...],
    units: Sequence[Unit], ranking: pd.DataFrame, depth: int,
) -> Drivers:
    """The :class:`Drivers` result of ``units`` found on the finest cells ``table``."""
    dims = tuple(str(d) for d in table.keys.columns)
    plan, of_finest = layout(units, codes)
    names = list(table.sums[0])
    finest = [np.column_stack([table.sums[t][n] for n in names]) if names
              else np.zeros((len(codes), 0)) for t in (0, 1)]
    n_cells = len(plan.codes)
    sums = report_sums(of_finest, finest, n_cells)
    point = decompose(tree, names, sums[0][None], sums[1][None], plan, units)
    name = segment_name(dims)
    rest = len(units)
    texts = [_label(u, dims, labels) for u in units]
    excludes: list[list[int]] = []
    for i, unit in enumerate(units):
        earlier = []
        if unit.kind == "rate":
            mine = matches(plan.codes, plan.dims, unit.conditions)
            # launched cells have no rate change, so only other pockets are excluded
            earlier = sorted({int(j) + 1 for j in np.unique(plan.pocket_of[mine])
                              if j >= 0 and j != i})
        excludes.append(earlier)
        if earlier:
            texts[i] += f" (excl. {', '.join(f'#{s}' for s in earlier)})"
    texts.append(REST)
    paths = [d.path for d in tree.drivers]
    mix_value = [float(point[("mix", i, None)][0]) for i in range(rest + 1)]
    rate_value = [{p: float(point[("rate", i, p)][0]) for p in paths if ("rate", i, p) in point}
                  for i in range(rest + 1)]
    kinds = [u.kind for u in units] + [REST]
    keys = pd.DataFrame({name: texts})
    with_mix = [i for i in range(rest + 1) if kinds[i] != "rate"]
    with_rate = [i for i in range(rest + 1) if kinds[i] in ("rate", REST)]
    pieces = [mix_rows(tree, keys.iloc[with_mix].reset_index(drop=True), name, "mix",
                       np.array([mix_value[i] for i in with_mix]), label=f"{name} mix")]
    rate_keys = keys.iloc[with_rate].reset_index(drop=True)
    pieces += rate_rows(tree, rate_keys, {p: np.array([rate_value[i].get(p, 0.0)
                                                      for i in with_rate]) for p in paths})
    effects = effects_table(pieces, [name])
    order = {label: i for i, label in enumerate(texts)}
    effects = effects.sort_values(name, key=lambda c: c.map(order), kind="stable"
                                  ).reset_index(drop=True)
    # Who each unit describes: a launch's or pocket's own cells, a mix shift's named value.
    totals = [_total(tree, sums[t], names)[0] for t in (0, 1)]
    members = []
    for i in range(rest + 1):
        if kinds[i] == "launch":
            members.append(plan.launch_of == i)
        elif kinds[i] == "rate":
            members.append(plan.pocket_of == i)
        elif kinds[i] == "mix":
            members.append(matches(plan.codes, plan.dims, units[i].conditions))
        else:
            members.append((plan.launch_of < 0) & (plan.pocket_of < 0))
    records = []
    for i, mask in enumerate(members):
        text = texts[i]
        record: dict[str, Any] = {"level": name, name: text, "segment": {name: text}}
        for t, side in ((0, "base"), (1, "compare")):
            picked = {n: np.array([sums[t][mask, j].sum()]) for j, n in enumerate(names)}
            values = node_values(tree, picked, _describe_as(text))
            weight = float(values[tree.weight][0])
            record[f"{side}_weight"] = weight
            record[f"{side}_share"] = weight / totals[t] if totals[t] > 0 else 0.0
            record[f"{side}_value"] = float(values[tree.root][0]) if weight > 0 else np.nan
        record["status"] = ("entered" if record["base_weight"] <= 0 < record["compare_weight"]
                            else "exited" if record["compare_weight"] <= 0 < record["base_weight"]
                            else "empty" if record["base_weight"] <= 0 else "both")
        record["mix"] = mix_value[i] if kinds[i] != "rate" else 0.0
        record["inner_mix"] = 0.0
        record["rate"] = float(sum(rate_value[i].values())) if kinds[i] in ("rate", REST) \
            else 0.0
        record["interaction"] = 0.0
        record["inner_interaction"] = 0.0
        records.append(record)
    segments = pd.DataFrame(records)
    found = pd.DataFrame({
        "step": [*range(1, rest + 1), 0], "kind": kinds, "segment": texts,
        "conditions": [*(_conditions(u, dims, labels) for u in units), {}],
        "strata": [[dims[k] for k in u.strata] for u in units] + [[]],
        "excludes": [*excludes, []],
        "reason": [u.reason for u in units] + [REST],
        "score": [u.score for u in units] + [np.nan],
    })
    for column in ("status", "base_share", "compare_share", "base_value", "compare_value",
                   "mix", "rate"):
        found[column] = segments[column].to_numpy()
    found["contribution"] = found["mix"] + found["rate"]
    base_value = _total(tree, sums[0], names)[1]
    compare_value = _total(tree, sums[1], names)[1]
    parts = _parts(tree, table, plan, of_finest, members, kinds, texts, name, rate_value)
    return Drivers(
        tree=tree, method="shapley", by=(name,),
        base=PeriodValue(table.periods[0], base_value, totals[0]),
        compare=PeriodValue(table.periods[1], compare_value, totals[1]),
        effects=effects, segments=segments, parts=parts, dims=dims, depth=depth,
        ranking=ranking, found=found, units=tuple(units), plan=plan, labels=labels)


def _describe_as(text: str) -> Callable[[int], str]:
    """A row describer for :func:`node_values` naming one unit."""
    return lambda row: text


def _total(tree: Tree, sums: np.ndarray, names: Sequence[str]) -> tuple[float, float]:
    """The total weight and the root's value on all rows of one period."""
    total = {n: np.array([sums[:, j].sum()]) for j, n in enumerate(names)}
    values = node_values(tree, total, lambda row: "all rows")
    return float(values[tree.weight][0]), float(values[tree.root][0])


def _parts(
    tree: Tree, table: Cells, plan: Layout, of_finest: np.ndarray, members: list[np.ndarray],
    kinds: list[str], texts: list[str], name: str, rate_value: list[dict[tuple[str, ...], float]],
) -> pd.DataFrame:
    """The tree image's parts: values of the launches', pockets' and rest's own rows, with the
    units' rate effects (mix shifts have no rate, hence no parts)."""
    groups = [i for i, k in enumerate(kinds) if k != "mix"]
    of_report = np.full(len(plan.codes), -1, dtype=np.int64)
    for g in groups:
        of_report[members[g] & (of_report < 0)] = g
    group = of_report[of_finest]
    keep = group >= 0
    keys = pd.DataFrame({name: np.asarray(texts, dtype=object)[group[keep]]})
    cells = Cells(keys, table.periods, tuple({n: v[keep] for n, v in side.items()}
                                             for side in table.sums), table.source)
    partition = attribute(tree, cells, dims=[name], method="shapley")
    parts = partition.parts.copy()
    index = {texts[g]: g for g in groups}
    effect = []
    for row in parts.itertuples(index=False):
        path = tuple(row.path)
        chosen: Sequence[int]
        if row.level is None or (isinstance(row.level, float) and np.isnan(row.level)):
            chosen = range(len(rate_value))
        else:
            chosen = [index[dict(row.segment)[name]]]
        effect.append(sum(v for i in chosen for p, v in rate_value[i].items()
                          if p[:len(path)] == path))
    parts["effect"] = effect
    return parts
