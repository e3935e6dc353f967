"""The tidy frames of a result: effects, segments and parts, built in one place.

What belongs here: turning the per-level and per-cell arrays of an attribution into the
DataFrames of :class:`~kpitree.core.result.Explanation` — one row per effect (:func:`effect_rows`
is the one builder every method and analysis uses), one per segment at every level, and every
part of the driver structure per group (what the tree image draws). What does not: computing
effects (:mod:`kpitree.core.shapley`, :mod:`kpitree.core.lmdi`) or formatting.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kpitree.core.expr import safe_multiply
from kpitree.core.levels import (
    Level,
    LevelResult,
    Paths,
    filled_driver_values,
    level_driver_values,
    status,
)
from kpitree.core.result import EFFECT_COLUMNS
from kpitree.core.structure import Driver, Linear, Part, Product, all_parts
from kpitree.core.tree import Tree

SEGMENT_COLUMNS = ("segment", "status", "base_weight", "compare_weight", "base_share",
                   "compare_share", "base_value", "compare_value", "mix", "inner_mix", "rate",
                   "interaction", "inner_interaction")


def keys_frame(keys: pd.DataFrame, dims: Sequence[str], size: int) -> pd.DataFrame:
    """``keys`` with one column per dimension in ``dims`` (the deeper ones None), as objects."""
    frame = keys.reset_index(drop=True).copy() if len(keys.columns) else pd.DataFrame(
        index=pd.RangeIndex(size))
    for dim in dims:
        if dim not in frame.columns:
            frame[dim] = None
    return frame[list(dims)].astype(object)


def records(keys: pd.DataFrame, columns: Sequence[str]) -> list[dict]:
    """``keys[columns].to_dict("records")``, column by column (pandas boxes every cell, which
    dominates for 100,000 segments); the values are the same plain Python ones."""
    names = list(columns)
    if not names:
        return [{} for _ in range(len(keys))]
    values = [keys[column].tolist() for column in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def effect_rows(
    keys: pd.DataFrame, *, kind: str, level: str | None, path: tuple[str, ...], label: str,
    values: np.ndarray | float,
) -> pd.DataFrame:
    """Rows of the effects table for one kind and path over the segments in ``keys``."""
    piece = keys.copy()
    piece.insert(0, "level", level)
    piece.insert(0, "kind", kind)
    piece["path"] = [path] * len(piece)
    piece["driver"] = path[-1]
    piece["label"] = label
    piece["value"] = values
    return piece


def effects_table(pieces: list[pd.DataFrame], dims: Sequence[str]) -> pd.DataFrame:
    """Concatenate :func:`effect_rows` pieces into the effects table's column order."""
    table = pd.concat(pieces, ignore_index=True)
    table["level"] = table["level"].astype(object).where(table["level"].notna(), None)
    return table[[*EFFECT_COLUMNS[:2], *dims, *EFFECT_COLUMNS[2:]]]


def mix_rows(tree: Tree, keys: pd.DataFrame, dim: str, kind: str,
             values: np.ndarray, label: str | None = None) -> pd.DataFrame:
    """Mix (or interaction) rows of one level: path ``(root,)``, label ``"tier mix"``."""
    return effect_rows(keys, kind=kind, level=dim, path=(tree.root,),
                       label=label or f"{dim} {kind}", values=values)


def rate_rows(tree: Tree, keys: pd.DataFrame, rate: Paths) -> list[pd.DataFrame]:
    """Rate rows per driver over the cells in ``keys``."""
    labels = {d.path: d.label for d in tree.drivers}
    return [effect_rows(keys, kind="rate", level=None, path=path,
                        label=labels.get(path, path[-1]), values=values)
            for path, values in rate.items()]


def effects_frame(
    results: list[LevelResult], cell_rate: Paths, tree: Tree, cells: Level, dims: list[str],
    method: str,
) -> pd.DataFrame:
    """The effects table of an attribution over nested levels."""
    pieces: list[pd.DataFrame] = []
    kinds = ("mix", "interaction") if method == "sequential" else ("mix",)
    for result in results:
        keys = keys_frame(result.level.keys, dims, len(result.level.keys))
        for kind in kinds:
            pieces.append(mix_rows(tree, keys, str(result.level.dim), kind,
                                   getattr(result, kind)))
    pieces += rate_rows(tree, keys_frame(cells.keys, dims, len(cells.keys)), cell_rate)
    return effects_table(pieces, dims)


def segments_frame(tree: Tree, results: list[LevelResult], dims: list[str],
                   cell_rate: Paths | None = None) -> pd.DataFrame:
    """One row per group at every level (see :class:`~kpitree.core.result.Explanation`).

    A group's effects are split as DESIGN.md §4/§4a fix them, each the sum of the matching
    effects rows: ``mix`` (its own level's mix), ``inner_mix`` (the deeper levels' mix inside
    it), ``rate`` (its cells' driver effects, ``cell_rate``), ``interaction`` (its own level's,
    sequential) and ``inner_interaction`` (the deeper levels'). They add up to the group's whole
    change: ``mix + inner_mix + rate + interaction + inner_interaction``.
    """
    pieces = []
    n_cells = len(results[-1].level.keys) if results else 0
    cell_total = (sum(cell_rate.values(), np.zeros(n_cells)) if cell_rate
                  else np.zeros(n_cells))
    for depth, result in enumerate(results):
        level = result.level
        size = len(level.keys)
        piece = keys_frame(level.keys, dims, size)
        piece.insert(0, "level", level.dim)
        prefix = dims[: dims.index(str(level.dim)) + 1]
        piece["segment"] = records(level.keys, prefix)
        weights = level.weights(tree)
        piece["status"] = status(*weights)
        piece["base_weight"], piece["compare_weight"] = weights
        piece["base_share"], piece["compare_share"] = result.shares
        for t, name in ((0, "base_value"), (1, "compare_value")):
            value = level.values[t][tree.root]
            piece[name] = np.where((weights[t] > 0) & np.isfinite(value), value, np.nan)
        inner_mix, inner_interaction = np.zeros(size), np.zeros(size)
        for at in range(depth + 1, len(results)):
            deeper = results[at]
            group = ancestor_groups([r.level for r in results], at, depth)
            inner_mix += np.bincount(group, weights=deeper.mix, minlength=size)
            inner_interaction += np.bincount(group, weights=deeper.interaction, minlength=size)
        piece["mix"] = result.mix
        piece["inner_mix"] = inner_mix
        if cell_rate is None:  # the caller's rate is already the cells' driver effects
            piece["rate"] = result.rate
        else:
            piece["rate"] = np.bincount(level.cell_group, weights=cell_total, minlength=size)
        piece["interaction"] = result.interaction
        piece["inner_interaction"] = inner_interaction
        pieces.append(piece)
    if not pieces:
        return pd.DataFrame(columns=["level", *dims, *SEGMENT_COLUMNS])
    return pd.concat(pieces, ignore_index=True)


def ancestor_groups(nested: Sequence[Level], at: int, depth: int) -> np.ndarray:
    """For each group of ``nested[at]``, the index of its ancestor group in ``nested[depth]``.

    ``nested`` are consecutive levels, each group's ``parent`` indexing the level before.
    """
    index = np.arange(len(nested[at].keys))
    while at > depth:
        index = nested[at].parent[index]
        at -= 1
    return index


def parts_frame(
    tree: Tree, shown: list[Level], dims: list[str], cell_rate: Paths, cells: Level,
    cell_weight: np.ndarray | None = None,
) -> pd.DataFrame:
    """Every structure part's value per group and period, and its summed rate effect.

    ``shown`` are the levels drawn (the total and the outermost dimension: what the tree image
    draws); ``cells`` is the finest level the rate effects ``cell_rate`` are on.

    With nested dimensions an outer segment's rate effect is computed inside its inner cells
    (DESIGN.md §4a), so its ``base``/``compare`` are the values the effect was computed from:
    each part's cell values averaged with the weights the method gave the cells' rate changes
    (``cell_weight``: the mean shares for ``shapley``, the base shares for ``sequential``), i.e.
    at a constant inner composition. ``pooled_base``/``pooled_compare`` keep the segment's
    pooled values (which include the inner mix).
    """
    parts = all_parts(tree.structure)
    standard = (standardised_parts(tree, cells, cell_weight)
                if cell_weight is not None and len(dims) > 1 else None)
    pieces: list[pd.DataFrame] = []
    for level in shown:
        size = len(level.keys)
        values = [part_values(tree, level, t) for t in (0, 1)]
        keys = keys_frame(level.keys, dims, size)
        piece = pd.DataFrame({"level": [level.dim] * size * len(parts)})
        for dim in dims:
            piece[dim] = np.tile(keys[dim].to_numpy(), len(parts))
        piece["segment"] = (records(level.keys, list(level.keys.columns)) if level.dim
                            else [{}]) * len(parts)
        piece["path"] = [part.path for part in parts for _ in range(size)]
        piece["node"] = np.repeat([p.path[-1] if p.path else tree.root for p in parts], size)
        piece["kind"] = np.repeat([type(p).__name__.lower() for p in parts], size)
        piece["label"] = np.repeat([
            p.label if isinstance(p, Driver) else tree.label(p.path[-1] if p.path else tree.root)
            for p in parts], size)
        for t, name in ((0, "base"), (1, "compare")):
            stacked = np.concatenate([values[t][p.path] for p in parts])
            pooled = np.where(np.isfinite(stacked), stacked, np.nan)
            piece[f"pooled_{name}"] = pooled
            if standard is not None and level.dim == dims[0]:
                present = np.tile(level.values[t][tree.weight] > 0, len(parts))
                stacked = np.concatenate([standard[t](p.path, level) for p in parts])
                piece[name] = np.where(present, stacked, np.nan)  # absent: no value
            else:
                piece[name] = pooled
        effects = []
        for part in parts:
            under = [p for p in cell_rate if p[: len(part.path)] == part.path]
            effect = sum((cell_rate[p] for p in under), np.zeros(len(cells.keys)))
            effects.append(np.bincount(level.cell_group, weights=effect, minlength=size))
        piece["effect"] = np.concatenate(effects)
        pieces.append(piece)
    return pd.concat(pieces, ignore_index=True)


def standardised_parts(tree: Tree, cells: Level, cell_weight: np.ndarray) -> list:
    """Per period, a function ``(path, level) → values``: each part's cell values (undefined
    ones filled as the attribution fills them) averaged over each group's cells with the weights
    ``cell_weight`` normalised within the group (equal weights where they sum to zero)."""
    drivers = filled_driver_values(tree, cells)
    cell_values = [evaluate_parts(tree, drivers[t], len(cells.keys)) for t in (0, 1)]

    def make(t: int):  # type: ignore[no-untyped-def]
        def standard(path: tuple[str, ...], level: Level) -> np.ndarray:
            size = len(level.keys)
            group = level.cell_group
            weight = np.asarray(cell_weight, dtype=float)
            total = np.bincount(group, weights=weight, minlength=size)
            count = np.bincount(group, minlength=size)
            use = np.where(total[group] > 0, weight / np.where(total > 0, total, 1.0)[group],
                           1.0 / np.maximum(count, 1)[group])
            value = np.nan_to_num(cell_values[t][path], nan=0.0, posinf=0.0, neginf=0.0)
            return np.bincount(group, weights=use * value, minlength=size)
        return standard

    return [make(0), make(1)]


def part_values(tree: Tree, level: Level, period: int) -> Paths:
    """Display values of every part (undefined stays NaN; 0 × undefined is 0)."""
    return evaluate_parts(tree, level_driver_values(tree, level, period), len(level.keys))


def evaluate_parts(tree: Tree, drivers: Paths, size: int) -> Paths:
    """Every part of the structure evaluated from the drivers' values (arrays of ``size``)."""
    out: Paths = {}

    def visit(part: Part) -> np.ndarray:
        match part:
            case Driver(path, _, _):
                value = drivers[path]
            case Linear(_, terms, constant):
                value = np.full(size, constant, dtype=float)
                for coefficient, sub in terms:
                    value = value + coefficient * visit(sub)
            case Product(_, factors, coefficient):
                value = np.full(size, coefficient, dtype=float)
                for exponent, sub in factors:
                    x = visit(sub)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        x = x if exponent > 0 else np.where(x == 0, np.nan, 1.0 / x)
                    value = safe_multiply(value, x)
            case _:
                raise TypeError(f"not a part: {part!r}")
        out.setdefault(part.path, value)
        return value

    visit(tree.structure)
    return out


def export_effects(effects: pd.DataFrame, base: str, compare: str) -> pd.DataFrame:
    """The effects as one flat sheet (CSV): ``base_period`` and ``compare_period`` first, so the
    files of many comparisons append into one table, and paths joined with ``/``. Values keep
    full precision; ``-0.0`` is written as ``0.0``."""
    table = effects.copy()
    table["path"] = ["/".join(p) for p in table["path"]]
    table["value"] = table["value"].astype(float) + 0.0
    table.insert(0, "compare_period", compare)
    table.insert(0, "base_period", base)
    return table
