"""Totals and derived business metrics from the same tree: MRR bridge, projection, LTV.

What belongs here: the total ``T = W · A`` (the weight times the root: MRR = users × ARPU)
explained as **volume**, **mix** and **rate**, exactly, with ``shapley``, ``sequential`` or
``lmdi``; a naive next-period projection of ``T``; LTV = ARPU ÷ churn. What does not: the ARPU
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
* projection: ``W_next = W_last·(1 + g)`` with ``g = (W_last/W_first)^(1/n) − 1`` over the
  ``n`` steps of the window, ``A_next = A_last + (A_last − A_first)/n``,
  ``T_next = W_next·A_next``.
* LTV ``= A / c`` for a monthly churn rate ``c`` (expected lifetime ``1/c`` months), with
  ``c`` given, or computed from data as churned users in the period ÷ the weight of the
  previous period (a ratio of sums per segment).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kpitree.analysis.trend import load_sums, pair
from kpitree.core import views
from kpitree.core.attribution import (
    _expand,
    _levels,
    _lmdi_term,
    _shares,
    cells_from_sums,
    filled_driver_values,
)
from kpitree.core.attribution import log_mean as _log_mean
from kpitree.core.data import DataSource, check_period, read_table
from kpitree.core.errors import DataError, MethodError, did_you_mean, listing
from kpitree.core.evaluate import describe_rows
from kpitree.core.result import EFFECT_COLUMNS, RELATIVE_TOLERANCE, AttributionError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from kpitree.analysis.trend import Trend
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
        total = float(self.effects["value"].sum())
        scale = max(1.0, abs(self.base_value), abs(self.compare_value))
        if abs(total - self.delta) > RELATIVE_TOLERANCE * scale:
            raise AttributionError(
                f"total effects add up to {total!r}, not {self.delta!r}; a kpitree bug"
            )

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
        sums = self.effects.groupby("kind", sort=False)["value"].sum()
        kinds = [k for k in TOTAL_KINDS if k in sums.index or k != "interaction"]
        return {k: float(sums.get(k, 0.0)) for k in kinds}

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
        weight = float(_log_mean(np.array(self.compare_value), np.array(self.base_value)))
        return {k: math.exp(v / weight) for k, v in self.totals_by_level().items()}

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
    tree: Tree,
    data: DataSource,
    *,
    base: object,
    compare: object,
    by: Sequence[str] | None = None,
    method: str = "shapley",
    period_column: str = "period",
) -> TotalExplanation:
    """Explain the change of ``weight × root`` (MRR = users × ARPU) as volume, mix and rate.

    See the module docstring for each method's formula. Effects add up exactly to ``ΔT``.

    Example:
        >>> mrr = explain_total(tree, "data/saas_monthly.csv", base="2026-09",
        ...                     compare="2026-10", method="lmdi")  # doctest: +SKIP
        >>> mrr.totals  # doctest: +SKIP
        {'volume': …, 'mix': …, 'rate': …}
    """
    loaded = load_sums(tree, data, by=by, method=method, period_column=period_column)
    b = check_period(loaded.sums, base, loaded.name, period_column)
    c = check_period(loaded.sums, compare, loaded.name, period_column)
    arpu = pair(tree, loaded, b, c, method)
    w0, w1 = arpu.base.weight, arpu.compare.weight
    a0, a1 = arpu.base.value, arpu.compare.value
    dims = list(loaded.dims)
    if method == "lmdi":
        sums = loaded.sums[loaded.sums[period_column].isin([b, c])]
        cells = cells_from_sums(sums, tree, dims=dims, base=b, compare=c,
                                period_column=period_column, source=loaded.name)
        effects = _lmdi_total(tree, cells, dims, (b, c))
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
    row: dict[str, Any] = {"kind": "volume", "level": None}
    row.update({d: None for d in dims})
    row.update({"path": (tree.weight,), "driver": tree.weight,
                "label": f"volume ({tree.label(tree.weight)})", "value": float(value)})
    frame = pd.DataFrame([row])
    return frame[[*EFFECT_COLUMNS[:2], *dims, *EFFECT_COLUMNS[2:]]].astype(
        {c: object for c in ("level", *dims)})


def _lmdi_total(tree: Tree, cells, dims: list[str], periods: tuple[str, str]) -> pd.DataFrame:
    """LMDI-I on ``Σ W · Π shares · Π drivers``: factor effects summed into volume/mix/rate."""
    levels = _levels(tree, cells, dims, periods)
    finest = levels[-1]
    n = len(finest.keys)
    weights = [float(levels[0].values[t][tree.weight][0]) for t in (0, 1)]
    if min(weights) <= 0:
        raise MethodError("lmdi on the total needs a positive total weight in both periods")
    base, compare = filled_driver_values(tree, finest)
    share_factors: list[tuple[np.ndarray, np.ndarray]] = []
    absent = (np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
    for depth in range(1, len(levels)):
        level = levels[depth]
        s = _shares(tree, level, levels[depth - 1])
        s_cells = [s[t][level.cell_group] for t in (0, 1)]
        share_factors.append((np.where(absent[0], s_cells[1], s_cells[0]),
                              np.where(absent[1], s_cells[0], s_cells[1])))
        absent = tuple(level.values[t][tree.weight][level.cell_group] <= 0 for t in (0, 1))
    volume = np.zeros(n)
    mix_cells = [np.zeros(n) for _ in share_factors]
    rate = {d.path: np.zeros(n) for d in tree.drivers}
    for coefficient, factors in _expand(tree.structure):
        if not factors:
            continue  # constant per-weight terms: T = W·c moves with volume only
        x0 = [np.full(n, weights[0]), *(s0 for s0, _ in share_factors)]
        x1 = [np.full(n, weights[1]), *(s1 for _, s1 in share_factors)]
        for exponent, path in factors:
            for t, values in ((0, base), (1, compare)):
                if np.any(values[path] < 0):
                    row = int(np.flatnonzero(values[path] < 0)[0])
                    raise MethodError(
                        f"lmdi needs positive values, but driver {' → '.join(path)} is "
                        f"{values[path][row]:g} in {describe_rows(finest.keys)(row)} "
                        f"({'base' if t == 0 else 'compare'} period); use method='shapley'"
                    )
            with np.errstate(divide="ignore"):
                x0.append(base[path] if exponent > 0 else 1.0 / base[path])
                x1.append(compare[path] if exponent > 0 else 1.0 / compare[path])
        a0, a1 = np.array(x0), np.array(x1)
        effects = _lmdi_term(a0, a1, np.prod(a0, axis=0), np.prod(a1, axis=0)) * coefficient
        volume += effects[0]
        for i in range(len(share_factors)):
            mix_cells[i] += effects[1 + i]
        for j, (_, path) in enumerate(factors):
            rate[path] = rate[path] + effects[1 + len(share_factors) + j]
    constant = sum(c for c, f in _expand(tree.structure) if not f)
    pieces = [_volume_row(tree, dims, float(volume.sum()) + constant * (weights[1] - weights[0]))]
    for depth in range(1, len(levels)):
        level = levels[depth]
        size = len(level.keys)
        piece = _keys(level.keys, dims)
        piece.insert(0, "level", level.dim)
        piece.insert(0, "kind", "mix")
        piece["path"] = [(tree.root,)] * size
        piece["driver"] = tree.root
        piece["label"] = f"{level.dim} mix"
        piece["value"] = np.bincount(level.cell_group, weights=mix_cells[depth - 1],
                                     minlength=size)
        pieces.append(piece)
    labels = {d.path: d.label for d in tree.drivers}
    for path, values in rate.items():
        piece = _keys(finest.keys, dims)
        piece.insert(0, "level", None)
        piece.insert(0, "kind", "rate")
        piece["path"] = [path] * n
        piece["driver"] = path[-1]
        piece["label"] = labels[path]
        piece["value"] = values
        pieces.append(piece)
    table = pd.concat(pieces, ignore_index=True)
    table["level"] = table["level"].astype(object).where(table["level"].notna(), None)
    return table[[*EFFECT_COLUMNS[:2], *dims, *EFFECT_COLUMNS[2:]]]


def _keys(keys: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    frame = keys.reset_index(drop=True).copy()
    for dim in dims:
        if dim not in frame.columns:
            frame[dim] = None
    return frame[list(dims)].astype(object)


# --- Projection ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Projection:
    """A naive next-period projection of the total (see :func:`project_next`)."""

    last_period: str
    window: tuple[str, str]
    steps: int
    weight_last: float
    weight_growth: float
    root_last: float
    root_step: float
    weight_next: float
    root_next: float
    total_last: float
    total_next: float
    formula: str


def project_next(trend: Trend, *, window: int | None = None) -> Projection:
    """Project the next period's total ``T = W·A`` from user growth and the root's trend.

    ``W_next = W_last·(1 + g)``, ``g = (W_last/W_first)^(1/n) − 1`` (compound growth per
    period over the last ``n`` steps); ``A_next = A_last + (A_last − A_first)/n`` (the mean
    change per period); ``T_next = W_next · A_next``. ``window`` is ``n`` (default: the whole
    trend). Naive by design: no seasonality, launches or churn model.
    """
    values = trend.values
    steps = len(values) - 1 if window is None else int(window)
    if not 1 <= steps <= len(values) - 1:
        raise DataError(f"window must be between 1 and {len(values) - 1} periods, got {window}")
    first, last = values.iloc[-1 - steps], values.iloc[-1]
    if first["weight"] <= 0:
        raise DataError(f"the total weight is zero in {first['period']}; growth is undefined")
    growth = (last["weight"] / first["weight"]) ** (1 / steps) - 1
    root_step = (last["value"] - first["value"]) / steps
    weight_next = last["weight"] * (1 + growth)
    root_next = last["value"] + root_step
    tree = trend.tree
    formula = (f"{tree.weight}_next = {tree.weight}_last × (1 + g), g = ({tree.weight}_last / "
               f"{tree.weight}_first)^(1/{steps}) − 1; {tree.root}_next = {tree.root}_last + "
               f"({tree.root}_last − {tree.root}_first)/{steps}; total_next = "
               f"{tree.weight}_next × {tree.root}_next ({first['period']} → {last['period']})")
    return Projection(
        last_period=str(last["period"]), window=(str(first["period"]), str(last["period"])),
        steps=steps, weight_last=float(last["weight"]), weight_growth=float(growth),
        root_last=float(last["value"]), root_step=float(root_step),
        weight_next=float(weight_next), root_next=float(root_next),
        total_last=float(last["weight"] * last["value"]),
        total_next=float(weight_next * root_next), formula=formula,
    )


# --- LTV ----------------------------------------------------------------------------------------

LTV_FORMULA = "LTV = ARPU / churn (monthly churn c; expected lifetime 1/c periods)"


def ltv(arpu: float, churn: float) -> float:
    """``arpu / churn``: lifetime value for a per-period churn rate in (0, 1].

    >>> ltv(50.0, 0.02)
    2500.0
    """
    _check_churn(churn, "churn")
    return float(arpu) / float(churn)


def _check_churn(churn: float, what: str) -> None:
    if not isinstance(churn, int | float) or isinstance(churn, bool) or not math.isfinite(churn):
        raise DataError(f"{what} must be a number between 0 and 1, got {churn!r}")
    if churn <= 0:
        raise DataError(f"{what} is {churn:g}: LTV = ARPU / churn needs a churn rate above 0 "
                        "(a churn of 0 means customers never leave: LTV is unbounded)")
    if churn > 1:
        raise DataError(f"{what} is {churn:g}: a churn rate is a fraction per period, at most 1 "
                        "(write 2 % as 0.02)")


def lifetime_value(
    tree: Tree,
    data: DataSource,
    *,
    period: object,
    churn: float | Mapping[str, float] | None = None,
    churned_column: str | None = None,
    by: Sequence[str] | None = None,
    period_column: str = "period",
) -> pd.DataFrame:
    """LTV = ARPU ÷ churn per segment of the outermost dimension and in total.

    Args:
        churn: one rate for all, or a rate per segment (``{"pro": 0.02, …}``); or None to
            compute it from ``churned_column``: churned in ``period`` ÷ the weight in the
            previous period (ratio of sums).

    Returns:
        Columns: the dimension (``"total"`` on the last row), ``arpu``, ``churn``,
        ``lifetime`` (1/churn periods), ``ltv``; ``attrs["formula"]`` states the formula.

    Raises:
        DataError: churn ≤ 0 or > 1, a segment without a churn rate, the churned column
            missing, no previous period to compute churn from.
    """
    loaded = load_sums(tree, data, by=by, period_column=period_column)
    name = check_period(loaded.sums, period, loaded.name, period_column)
    dim = loaded.dims[0] if loaded.dims else None
    from kpitree.core.evaluate import node_values

    def per_segment(p: str) -> pd.DataFrame:
        rows = loaded.sums[loaded.sums[period_column] == p]
        if dim:
            rows = rows.groupby(dim, sort=True)[list(tree.columns)].sum().reset_index()
        else:
            rows = rows[list(tree.columns)].sum().to_frame().T
        keys = (rows[[dim]] if dim else pd.DataFrame(index=rows.index)).assign(__period__=p)
        values = node_values(tree, {c: rows[c].to_numpy(float) for c in tree.columns},
                             describe_rows(keys.reset_index(drop=True)))
        total_sums = {c: np.array([rows[c].sum()]) for c in tree.columns}
        total = node_values(tree, total_sums, describe_rows(pd.DataFrame({"__period__": [p]})))
        labels = [*(rows[dim].astype(str) if dim else []), "total"]
        return pd.DataFrame({
            "segment": labels,
            "arpu": [*values[tree.root][: len(rows) if dim else 0], total[tree.root][0]],
            "weight": [*values[tree.weight][: len(rows) if dim else 0], total[tree.weight][0]],
        })

    table = per_segment(name)
    if churn is None:
        if churned_column is None:
            raise DataError("give churn= (a rate, or one per segment) or churned_column= (a "
                            "data column of churned users) to compute LTV")
        periods = list(loaded.periods)
        index = periods.index(name)
        if index == 0:
            raise DataError(f"churn for {name} needs the previous period's "
                            f"'{tree.weight}', but {name} is the first period in the data")
        previous = per_segment(periods[index - 1]).set_index("segment")["weight"]
        churned = _churned(data, churned_column, name, dim, period_column)
        rates = []
        for segment in table["segment"]:
            lost = churned.sum() if segment == "total" else churned.get(segment, 0.0)
            before = previous.get(segment, 0.0)
            if before <= 0:
                raise DataError(f"churn of {dim}={segment} in {name}: no '{tree.weight}' in "
                                f"{periods[index - 1]} to divide by")
            rates.append(lost / before)
        table["churn"] = rates
    elif isinstance(churn, Mapping):
        missing = [s for s in table["segment"][:-1] if s not in churn]
        if missing:
            raise DataError(f"no churn rate for {dim} {listing(missing)}; give one per segment")
        rates = [float(churn[s]) for s in table["segment"][:-1]]
        weights = table["weight"].to_numpy()[:-1]
        # total churn: users lost over users, i.e. the weight-averaged rate
        rates.append(float(np.dot(rates, weights) / weights.sum()))
        table["churn"] = rates
    else:
        table["churn"] = float(churn)
    for segment, rate in zip(table["segment"], table["churn"], strict=True):
        _check_churn(float(rate), f"churn of {segment}")
    table["lifetime"] = 1.0 / table["churn"]
    table["ltv"] = table["arpu"] / table["churn"]
    table = table.rename(columns={"segment": dim or "segment"}).drop(columns="weight")
    table.attrs["formula"] = LTV_FORMULA
    return table


def _churned(data: DataSource, column: str, period: str, dim: str | None,
             period_column: str) -> pd.Series:
    frame, name, _ = read_table(data)
    if column not in frame.columns:
        raise DataError(f"{name}: no column '{column}' for churned users."
                        f"{did_you_mean(column, frame.columns)} Columns: {listing(frame.columns)}")
    rows = frame[frame[period_column].astype(str) == period]
    values = pd.to_numeric(rows[column], errors="coerce")
    if values.isna().any() or (values < 0).any():
        raise DataError(f"{name}: column '{column}' needs non-negative numbers in {period}")
    if dim is None:
        return pd.Series({"total": float(values.sum())})
    return values.groupby(rows[dim].astype(str)).sum()
