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
from kpitree.core.levels import Level, LevelResult, Paths, level_driver_values, status
from kpitree.core.result import EFFECT_COLUMNS
from kpitree.core.structure import Driver, Linear, Part, Product, all_parts
from kpitree.core.tree import Tree

SEGMENT_COLUMNS = ("segment", "status", "base_weight", "compare_weight", "base_share",
                   "compare_share", "base_value", "compare_value", "mix", "rate", "interaction")


def keys_frame(keys: pd.DataFrame, dims: Sequence[str], size: int) -> pd.DataFrame:
    """``keys`` with one column per dimension in ``dims`` (the deeper ones None), as objects."""
    frame = keys.reset_index(drop=True).copy() if len(keys.columns) else pd.DataFrame(
        index=pd.RangeIndex(size))
    for dim in dims:
        if dim not in frame.columns:
            frame[dim] = None
    return frame[list(dims)].astype(object)


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


def segments_frame(tree: Tree, results: list[LevelResult], dims: list[str]) -> pd.DataFrame:
    """One row per group at every level (see :class:`~kpitree.core.result.Explanation`)."""
    pieces = []
    for result in results:
        level = result.level
        piece = keys_frame(level.keys, dims, len(level.keys))
        piece.insert(0, "level", level.dim)
        prefix = dims[: dims.index(str(level.dim)) + 1]
        piece["segment"] = level.keys[prefix].to_dict("records")
        weights = level.weights(tree)
        piece["status"] = status(*weights)
        piece["base_weight"], piece["compare_weight"] = weights
        piece["base_share"], piece["compare_share"] = result.shares
        for t, name in ((0, "base_value"), (1, "compare_value")):
            value = level.values[t][tree.root]
            piece[name] = np.where((weights[t] > 0) & np.isfinite(value), value, np.nan)
        piece["mix"] = result.mix
        piece["rate"] = result.rate
        piece["interaction"] = result.interaction
        pieces.append(piece)
    if not pieces:
        return pd.DataFrame(columns=["level", *dims, *SEGMENT_COLUMNS])
    return pd.concat(pieces, ignore_index=True)


def parts_frame(
    tree: Tree, shown: list[Level], dims: list[str], cell_rate: Paths, cells: Level,
) -> pd.DataFrame:
    """Every structure part's value per group and period, and its summed rate effect.

    ``shown`` are the levels drawn (the total and the outermost dimension: what the tree image
    draws); ``cells`` is the finest level the rate effects ``cell_rate`` are on.
    """
    parts = all_parts(tree.structure)
    pieces: list[pd.DataFrame] = []
    for level in shown:
        size = len(level.keys)
        values = [part_values(tree, level, t) for t in (0, 1)]
        keys = keys_frame(level.keys, dims, size)
        piece = pd.DataFrame({"level": [level.dim] * size * len(parts)})
        for dim in dims:
            piece[dim] = np.tile(keys[dim].to_numpy(), len(parts))
        piece["segment"] = (level.keys.to_dict("records") if level.dim else [{}]) * len(parts)
        piece["path"] = [part.path for part in parts for _ in range(size)]
        piece["node"] = np.repeat([p.path[-1] if p.path else tree.root for p in parts], size)
        piece["kind"] = np.repeat([type(p).__name__.lower() for p in parts], size)
        piece["label"] = np.repeat([
            p.label if isinstance(p, Driver) else tree.label(p.path[-1] if p.path else tree.root)
            for p in parts], size)
        for t, name in ((0, "base"), (1, "compare")):
            stacked = np.concatenate([values[t][p.path] for p in parts])
            piece[name] = np.where(np.isfinite(stacked), stacked, np.nan)
        effects = []
        for part in parts:
            under = [p for p in cell_rate if p[: len(part.path)] == part.path]
            effect = sum((cell_rate[p] for p in under), np.zeros(len(cells.keys)))
            effects.append(np.bincount(level.cell_group, weights=effect, minlength=size))
        piece["effect"] = np.concatenate(effects)
        pieces.append(piece)
    return pd.concat(pieces, ignore_index=True)


def part_values(tree: Tree, level: Level, period: int) -> Paths:
    """Display values of every part (undefined stays NaN; 0 × undefined is 0)."""
    drivers = level_driver_values(tree, level, period)
    out: Paths = {}

    def visit(part: Part) -> np.ndarray:
        match part:
            case Driver(path, _, _):
                value = drivers[path]
            case Linear(_, terms, constant):
                value = np.full(len(level.keys), constant, dtype=float)
                for coefficient, sub in terms:
                    value = value + coefficient * visit(sub)
            case Product(_, factors, coefficient):
                value = np.full(len(level.keys), coefficient, dtype=float)
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
