"""The total behind the root explained: the MRR volume/mix/rate bridge (FP&A's PVM).

What belongs here: the total ``T = W · A`` (the weight times the root: MRR = users × ARPU)
explained as **volume**, **mix** and **rate**, exactly, with ``shapley``, ``sequential`` or
``lmdi``. What does not: projection and LTV (:mod:`kpitree.analysis.ltv`), the ARPU
attribution itself (:mod:`kpitree.core.attribution`, reused here) or drawing.

Formulas (``0`` base, ``1`` compare, ``W`` total weight, ``A`` root, ``T = W·A``):

* ``shapley``: volume ``ΔW·(A0 + A1)/2``; every ARPU effect (mix, rate) scaled by
  ``(W0 + W1)/2``. Exact: ``ΔT = ΔW·Ā + W̄·ΔA``.
* ``sequential``: volume ``ΔW·A0``; ARPU effects (mix, rate, interaction) scaled by ``W1``
  (the FP&A convention: mix at actual volume). Exact: ``ΔT = ΔW·A0 + W1·ΔA``.
* ``lmdi`` (LMDI-I additive, Ang): each term ``W · Π shares · Π drivers`` of the expanded
  total splits its change ``L(V1, V0)·ln(x1/x0)`` per factor: activity (``W``) is volume, the
  shares are mix (structure), the drivers rate (intensity) — the energy-decomposition reading
  of Xu & Ang (2014). The multiplicative form is ``D_x = exp(ΔT_x / L(T1, T0))`` with
  ``Π D_x = T1/T0``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kpitree.core import views
from kpitree.core.attribution import attribute
from kpitree.core.cells import Cells, canonical, check_options, load_cells
from kpitree.core.data import DataSource
from kpitree.core.errors import MethodError
from kpitree.core.frames import effect_rows, effects_table, keys_frame, mix_rows, rate_rows
from kpitree.core.levels import levels
from kpitree.core.lmdi import lmdi_split, log_mean
from kpitree.core.result import check_adds_up, kind_totals

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from kpitree.core.tree import Tree

TOTAL_KINDS = ("volume", "mix", "rate", "interaction")


@dataclass(frozen=True)
class TotalExplanation:
    """Why the total ``T = W·A`` (e.g. MRR = users × ARPU) moved: volume, mix and rate.

    ``effects`` has the columns of :attr:`kpitree.Explanation.effects` with the extra kind
    ``volume`` (one row, the weight's growth valued at the root); it sums exactly to
    :attr:`delta`.
    """

    tree: Tree = field(repr=False, compare=False)
    method: str
    by: tuple[str, ...]
    base_period: str
    compare_period: str
    base_weight: float
    compare_weight: float
    base_root: float
    compare_root: float
    effects: pd.DataFrame = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        check_adds_up(self.effects, self.delta, (self.base_value, self.compare_value),
                      "total effects")

    @property
    def base_value(self) -> float:
        return self.base_weight * self.base_root

    @property
    def compare_value(self) -> float:
        return self.compare_weight * self.compare_root

    @property
    def delta(self) -> float:
        return self.compare_value - self.base_value

    @property
    def totals(self) -> dict[str, float]:
        """Effect totals by kind: volume, mix, rate (and interaction for sequential)."""
        return kind_totals(self.effects, TOTAL_KINDS)

    def totals_by_level(self) -> dict[str, float]:
        """Volume, mix per dimension (``mix:tier``), rate (and interaction)."""
        out: dict[str, float] = {"volume": self.totals["volume"]}
        for dim in self.by:
            rows = self.effects[(self.effects["kind"] == "mix") & (self.effects["level"] == dim)]
            out[f"mix:{dim}"] = float(rows["value"].sum())
        for kind in ("rate", "interaction"):
            if kind in self.totals:
                out[kind] = self.totals[kind]
        return out

    def multiplicative(self) -> dict[str, float]:
        """``D_x = exp(ΔT_x / L(T1, T0))`` per kind and mix level; their product is T1/T0.

        For ``lmdi`` these are the multiplicative LMDI-I indices (Ang 2004: the additive and
        multiplicative forms are linked by the logarithmic mean).
        """
        if self.base_value <= 0 or self.compare_value <= 0:
            raise MethodError("the multiplicative form needs a positive total in both periods")
        weight = float(log_mean(np.array(self.compare_value), np.array(self.base_value)))
        return {k: math.exp(v / weight) for k, v in self.totals_by_level().items()}

    def _repr_html_(self) -> str:
        """Notebook display: volume, mix and rate, and the bridge."""
        return views.show("total_html", self)

    def chart(self, path: str | None = None) -> Figure:
        """Bridge base total → volume, mix, rate per driver → compare total."""
        return views.show("volume_bridge_chart", self, path)

    def to_dict(self) -> dict[str, Any]:
        return {"tree": self.tree.name, "method": self.method, "by": list(self.by),
                "base": {"period": self.base_period, "value": self.base_value,
                         "weight": self.base_weight, "root": self.base_root},
                "compare": {"period": self.compare_period, "value": self.compare_value,
                            "weight": self.compare_weight, "root": self.compare_root},
                "delta": self.delta, "totals": self.totals}


def explain_total(
    tree: Tree, data: DataSource, *, base: object, compare: object,
    by: Sequence[str] | None = None, method: str = "shapley", period_column: str = "period",
) -> TotalExplanation:
    """Explain the change of ``weight × root`` (MRR = users × ARPU) as volume, mix and rate.

    See the module docstring for each method's formula. Effects add up exactly to ``ΔT``.

    Example:
        >>> mrr = explain_total(tree, "data/saas_monthly.csv", base="2026-09",
        ...                     compare="2026-10", method="lmdi")
        >>> mrr.totals
        {'volume': 36590.7..., 'mix': 164101.4..., 'rate': 30068.9...}
    """
    dims = check_options(tree, by=by, method=method, period_column=period_column)
    cells = load_cells(tree, data, by=dims, method=method, period_column=period_column,
                       periods=(base, compare))
    b, c = cells.periods
    arpu = attribute(tree, cells, dims=dims, method=method)
    w0, w1 = arpu.base.weight, arpu.compare.weight
    a0, a1 = arpu.base.value, arpu.compare.value
    if method == "lmdi":
        effects = _lmdi_total(tree, canonical(cells, dims), dims)
    else:
        if method == "shapley":
            volume, scale = (w1 - w0) * (a0 + a1) / 2, (w0 + w1) / 2
        else:  # sequential
            volume, scale = (w1 - w0) * a0, w1
        effects = arpu.effects.copy()
        effects["value"] = effects["value"] * scale
        effects = pd.concat([_volume_row(tree, dims, volume), effects], ignore_index=True)
    return TotalExplanation(tree, method, tuple(dims), b, c, w0, w1, a0, a1, effects)


def _volume_row(tree: Tree, dims: Sequence[str], value: float) -> pd.DataFrame:
    keys = keys_frame(pd.DataFrame(index=pd.RangeIndex(1)), dims, 1)
    return effects_table([effect_rows(keys, kind="volume", level=None, path=(tree.weight,),
                                      label=f"volume ({tree.label(tree.weight)})",
                                      values=float(value))], dims)


def _lmdi_total(tree: Tree, cells: Cells, dims: list[str]) -> pd.DataFrame:
    """LMDI-I on ``Σ W · Π shares · Π drivers``: factor effects summed into volume/mix/rate."""
    all_levels = levels(tree, cells, dims)
    finest = all_levels[-1]
    weights = [float(all_levels[0].values[t][tree.weight][0]) for t in (0, 1)]
    if min(weights) <= 0:
        raise MethodError("lmdi on the total needs a positive total weight in both periods")
    split = lmdi_split(tree, all_levels, activity=(weights[0], weights[1]),
                       fix="use method='shapley'")
    volume = float(split.volume.sum()) + split.constant * (weights[1] - weights[0])
    pieces = [_volume_row(tree, dims, volume)]
    for depth in range(1, len(all_levels)):
        level = all_levels[depth]
        size = len(level.keys)
        pieces.append(mix_rows(tree, keys_frame(level.keys, dims, size), str(level.dim), "mix",
                               np.bincount(level.cell_group, weights=split.mix[depth - 1],
                                           minlength=size)))
    pieces += rate_rows(tree, keys_frame(finest.keys, dims, len(finest.keys)), split.rate)
    return effects_table(pieces, dims)


def fold_interaction(total: TotalExplanation) -> TotalExplanation:
    """The FP&A convention: the mix × rate interaction folded into rate ("price at actual
    volume and mix"), so the bridge reads volume, mix, price only.

    Each interaction row (a segment at one level) is spread over the rate rows inside that
    segment in proportion to their values — for a single level exactly ``w1·Δr`` per driver,
    the price effect at actual shares — or, when those add up to zero, kept as one rate row of
    its own labelled ``mix × rate``. The result still adds up exactly to the change (checked
    when it is built). A total without interaction (``shapley``, ``lmdi``) is returned as is.
    """
    effects = total.effects
    interaction = effects[effects["kind"] == "interaction"]
    if interaction.empty:
        return total
    values = effects["value"].to_numpy(dtype=float).copy()
    rate = (effects["kind"] == "rate").to_numpy()
    extra = []
    for index, row in interaction.iterrows():
        dims = list(total.by[:total.by.index(row["level"]) + 1])
        inside = rate.copy()
        for dim in dims:
            inside &= (effects[dim] == row[dim]).to_numpy()
        share = math.fsum(values[inside & rate]) if inside.any() else 0.0
        amount = float(row["value"])
        if amount == 0.0:
            continue
        if share != 0.0:
            # effects' own rate values, before any folding, set the proportions
            own = effects["value"].to_numpy(dtype=float)[inside]
            values[inside] += amount * own / math.fsum(own)
        else:
            extra.append(index)
    folded = effects.copy()
    folded["value"] = values
    keep = folded["kind"] != "interaction"
    kept_extra = folded.loc[extra].assign(kind="rate", label="mix × rate")
    folded = pd.concat([folded[keep], kept_extra], ignore_index=True)
    return replace(total, effects=folded)
