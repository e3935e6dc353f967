"""Charts for series and scenarios (matplotlib), imported only when a chart is asked for.

What belongs here: drawing — the cumulative bridge of a :class:`~kpitree.analysis.trend.Trend`, its
small-multiples trend chart, a scenario's bridge, scenarios side by side and the sensitivity
tornado. What does not: any computation beyond picking what to draw; every number shown goes
through :mod:`kpitree.core.formatting`, and the colours are those of the tree image
(:mod:`kpitree.present.tree_image`).

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot state, no GUI
backend), so drawing works headless; in Jupyter a returned figure displays itself.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kpitree.core.errors import RenderError
from kpitree.core.formatting import Kind, format_change, format_value, value_kind
from kpitree.present.tree_image import MUTED, NEGATIVE, NEGATIVE_BORDER, POSITIVE, POSITIVE_BORDER

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from kpitree.analysis.scenario import Scenario
    from kpitree.analysis.trend import Trend
    from kpitree.core.tree import Tree

MATPLOTLIB_MISSING = "matplotlib is not installed: pip install matplotlib"
IMAGE_SUFFIXES = (".png", ".svg", ".pdf")


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


UP, DOWN = _hex(POSITIVE[1]), _hex(NEGATIVE[1])
TOTAL = "#8c8c8c"
MIX_COLOUR, RATE_COLOUR, VOLUME_COLOUR = "#2c5aa0", "#e6a100", "#7b3294"
SERIES_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#666666")


def _t(text: str) -> str:
    """Text for matplotlib: a literal ``$`` (two would start mathtext)."""
    return text.replace("$", r"\$")


def _wrap(label: str, width: int = 14) -> str:
    return "\n".join(textwrap.fill(line, width) for line in label.split("\n"))


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        raise RenderError(MATPLOTLIB_MISSING) from None
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure


def save(figure: Figure, path: str | Path | None) -> Figure:
    """Write the figure when a path is given (PNG, SVG or PDF by suffix); return it."""
    if path is not None:
        suffix = Path(path).suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            raise RenderError(f"{path}: use a .png, .svg or .pdf file name")
        metadata = {"Software": None} if suffix == ".png" else None
        figure.savefig(path, dpi=150, metadata=metadata)
    return figure


def _kind(tree: Tree, node: str) -> Kind:
    return value_kind(tree.format_of(node), tree.unit)


def _money(tree: Tree):  # a tick formatter in the root's kind
    from matplotlib.ticker import FuncFormatter

    kind = _kind(tree, tree.root)
    return FuncFormatter(lambda x, _pos: _t(format_value(x, kind, tree.unit)))


def waterfall(
    ax: Axes, tree: Tree, start: tuple[str, float], steps: Sequence[tuple[str, float]],
    end: tuple[str, float], *, annotate: bool = True,
) -> None:
    """A bridge: the start value, one floating bar per step, the end value."""
    kind = _kind(tree, tree.root)
    labels = [start[0], *(s[0] for s in steps), end[0]]
    level = start[1]
    ax.bar(0, start[1], color=TOTAL, width=0.7)
    tops = [start[1]]
    for i, (_, value) in enumerate(steps, start=1):
        colour, edge = (UP, POSITIVE_BORDER) if value >= 0 else (DOWN, NEGATIVE_BORDER)
        ax.bar(i, value, bottom=level, color=colour, edgecolor=edge, width=0.7, linewidth=0.8)
        ax.plot([i - 1 + 0.35, i - 0.35], [level, level], color=MUTED, linewidth=0.6)
        level += value
        tops.append(max(level, level - value))
    n = len(steps) + 1
    ax.plot([n - 1 + 0.35, n - 0.35], [level, level], color=MUTED, linewidth=0.6)
    ax.bar(n, end[1], color=TOTAL, width=0.7)
    tops.append(end[1])
    values = [start[1], *(s[1] for s in steps), end[1]]
    low = min(min(start[1], end[1]), min(np.cumsum([start[1], *(s[1] for s in steps)])))
    high = max(tops)
    span = max(high - low, 1e-12)
    ax.set_ylim(max(0.0, low - 0.35 * span) if low >= 0 else low - 0.1 * span,
                high + 0.15 * span)
    if annotate:
        for i, value in enumerate(values):
            text = (format_value(value, kind, tree.unit) if i in (0, n)
                    else format_change(value, kind, tree.unit))
            ax.annotate(_t(text), (i, tops[i]), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7.5, color="#222222")
    ax.set_xticks(range(n + 1), [_t(_wrap(label)) for label in labels], rotation=45,
                  ha="right", fontsize=8)
    ax.yaxis.set_major_formatter(_money(tree))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e6e6e6", linewidth=0.6)
    ax.set_axisbelow(True)


def trend_bridge_chart(trend: Trend, path: str | Path | None = None) -> Figure:
    """Month-over-month bridge from the first to the last period, and the cumulative split.

    Top: a waterfall of each month's change. Bottom: the cumulative chained mix and rate
    effects over the months (they end at the chained totals), with the direct first-vs-last
    totals marked at the end for comparison.
    """
    tree = trend.tree
    kind = _kind(tree, tree.root)
    values = trend.values
    figure = _figure(10, 7.2)
    top, bottom = figure.subplots(2, 1, height_ratios=[3, 2])
    steps = [(p, float(d)) for p, d in zip(values["period"][1:], values["delta"][1:], strict=True)]
    waterfall(top, tree, (values["period"].iloc[0], trend.first), steps,
              (values["period"].iloc[-1], trend.last))
    labels = [*values["period"]]
    top.set_xticks(range(len(labels) + 1), [f"{labels[0]}\n(start)", *labels[1:],
                                           f"{labels[-1]}\n(end)"], rotation=0, fontsize=7.5)
    top.set_title(_t(
        f"{tree.title}: {tree.label(tree.root)} {labels[0]} "
        f"{format_value(trend.first, kind, tree.unit)} → {labels[-1]} "
        f"{format_value(trend.last, kind, tree.unit)} "
        f"({format_change(trend.delta, kind, tree.unit)}), month over month"),
        fontsize=10, loc="left")
    x = np.arange(len(labels))
    kinds = [k for k in ("mix", "rate", "interaction") if k in values.columns]
    colours = {"mix": MIX_COLOUR, "rate": RATE_COLOUR, "interaction": MUTED}
    cumulative = {k: np.concatenate([[0.0], np.cumsum(values[k].to_numpy()[1:])]) for k in kinds}
    total = np.concatenate([[0.0], np.cumsum(values["delta"].to_numpy()[1:])])
    direct = trend.direct.totals
    for k in kinds:
        bottom.plot(x, cumulative[k], marker="o", markersize=3, color=colours[k],
                    label=_t(f"{k} (chained) {format_change(cumulative[k][-1], kind, tree.unit)}"))
        bottom.scatter([x[-1] + 0.3], [direct.get(k, 0.0)], marker="D", s=22,
                       color=colours[k], edgecolor="white", zorder=3,
                       label=_t(f"{k} (direct) "
                                f"{format_change(direct.get(k, 0.0), kind, tree.unit)}"))
    bottom.plot(x, total, color="#222222", linewidth=1.2, linestyle="--",
                label=_t(f"total {format_change(trend.delta, kind, tree.unit)}"))
    bottom.axhline(0, color=MUTED, linewidth=0.6)
    bottom.set_xticks(x, labels, fontsize=7.5)
    bottom.yaxis.set_major_formatter(_money(tree))
    bottom.set_title(f"Cumulative change since {labels[0]}: chained mix vs rate "
                     f"(◆ direct {labels[0]} → {labels[-1]})", fontsize=9, loc="left")
    bottom.legend(fontsize=7.5, ncol=3, frameon=False, loc="upper left")
    bottom.spines[["top", "right"]].set_visible(False)
    bottom.grid(axis="y", color="#e6e6e6", linewidth=0.6)
    return save(figure, path)


def trend_multiples_chart(trend: Trend, path: str | Path | None = None) -> Figure:
    """Small multiples: each segment's share, its rate (the root) and every driver, by period."""
    tree = trend.tree
    table = trend.segments
    if not trend.by:
        raise RenderError("a trend chart of shares needs a segment dimension (by=[...])")
    dim = trend.by[0]
    drivers = [d for d in tree.drivers]
    panels: list[tuple[str, str, Kind]] = [
        ("share", f"Share of {tree.label(tree.weight)}", "percent"),
        (tree.root, tree.label(tree.root), _kind(tree, tree.root)),
    ]
    for driver in drivers:
        node = driver.path[-1]
        if node in table.columns:
            panels.append((node, driver.label, _kind(tree, node)))
    columns = 3
    rows = -(-len(panels) // columns)
    figure = _figure(4.0 * columns, 2.9 * rows + 0.5)
    axes = np.atleast_1d(figure.subplots(rows, columns, sharex=True)).ravel()
    periods = list(trend.periods)
    segments = sorted(table[dim].unique())
    from matplotlib.ticker import FuncFormatter

    for ax, (column, title, kind) in zip(axes, panels, strict=False):
        for i, segment in enumerate(segments):
            rows_ = table[table[dim] == segment].set_index("period").reindex(periods)
            ax.plot(range(len(periods)), rows_[column].to_numpy(dtype=float), marker="o",
                    markersize=2.5, linewidth=1.3, color=SERIES_COLOURS[i % len(SERIES_COLOURS)],
                    label=str(segment))
        ax.set_title(title, fontsize=9, loc="left")
        ax.yaxis.set_major_formatter(FuncFormatter(
            lambda v, _p, k=kind: _t(format_value(v, k, tree.unit))))
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(color="#eeeeee", linewidth=0.6)
        ax.tick_params(labelsize=7.5)
        if kind == "currency" and column == tree.root and len(segments) > 2:
            from matplotlib.ticker import LogLocator

            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(
                lambda v, _p, k=kind: _t(format_value(v, k, tree.unit))))
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _p: ""))
            ax.set_title(f"{title} (log scale)", fontsize=9, loc="left")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    step = max(1, len(periods) // 6)
    for ax in axes:
        ax.set_xticks(range(0, len(periods), step), periods[::step], rotation=45, ha="right")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside upper right", ncol=len(segments), fontsize=8,
                  frameon=False, title=dim, title_fontsize=8)
    figure.suptitle(f"{tree.title}: shares and per-{dim} values, {periods[0]} → {periods[-1]}",
                    fontsize=10, x=0.01, ha="left")
    return save(figure, path)


def scenario_chart(scenario: Scenario, path: str | Path | None = None, *, top: int = 8) -> Figure:
    """Bridge from the actual to the scenario value: mix per segment, rate per driver."""
    tree = scenario.tree
    result = scenario.explanation
    effects = result.effects
    steps: list[tuple[str, float]] = []
    for kind in ("mix", "interaction"):
        rows = effects[effects["kind"] == kind]
        if len(rows):
            dims = [d for d in result.by if d in rows.columns]
            for _, row in rows.iterrows():
                segment = ", ".join(str(row[d]) for d in dims if row[d] is not None)
                steps.append((f"{kind}\n{segment}", float(row["value"])))
    rate = effects[effects["kind"] == "rate"]
    for _, row in rate.iterrows():
        segment = ", ".join(str(row[d]) for d in result.by if row[d] is not None)
        steps.append((f"{row['label']}\n{segment}".strip(), float(row["value"])))
    scale = max(1.0, abs(result.base.value))
    steps = [s for s in steps if abs(s[1]) > 1e-9 * scale]
    steps.sort(key=lambda s: -abs(s[1]))
    if len(steps) > top:
        rest = sum(v for _, v in steps[top - 1:])
        steps = [*steps[: top - 1], (f"{len(steps) - top + 1} others", rest)]
    kind = _kind(tree, tree.root)
    figure = _figure(max(6.0, 1.0 + 1.0 * (len(steps) + 2)), 4.4)
    ax = figure.subplots()
    waterfall(ax, tree, (f"actual\n{result.base.period}", result.base.value), steps,
              ("scenario", result.compare.value))
    ax.set_xticklabels(ax.get_xticklabels(), rotation=0, ha="center", fontsize=7.5)
    totals = result.totals
    ax.set_title(_t(
        f"{scenario.name}\n{tree.label(tree.root)} "
        f"{format_value(result.base.value, kind, tree.unit)} → "
        f"{format_value(result.compare.value, kind, tree.unit)} "
        f"({format_change(result.delta, kind, tree.unit)}: mix "
        f"{format_change(totals['mix'], kind, tree.unit)}, rate "
        f"{format_change(totals['rate'], kind, tree.unit)})"),
        fontsize=9, loc="left")
    return save(figure, path)


def scenarios_chart(
    scenarios: Sequence[Scenario], path: str | Path | None = None
) -> Figure:
    """Scenarios side by side: each one's change from the actual, split into mix and rate."""
    if not scenarios:
        raise RenderError("no scenarios to draw")
    tree = scenarios[0].tree
    kind = _kind(tree, tree.root)
    figure = _figure(8, 0.55 * len(scenarios) + 1.6)
    ax = figure.subplots()
    y = np.arange(len(scenarios))[::-1]
    mix = np.array([s.explanation.totals["mix"] for s in scenarios])
    rate = np.array([s.explanation.totals["rate"] for s in scenarios])
    # Stack positives right and negatives left so both parts stay visible.
    for values, colour, label, other in ((mix, MIX_COLOUR, "mix", None),
                                         (rate, RATE_COLOUR, "rate", mix)):
        left = np.zeros_like(values)
        if other is not None:
            left = np.where(np.sign(values) == np.sign(other), other, 0.0)
        ax.barh(y, values, left=left, color=colour, height=0.55, label=label)
    for yi, s in zip(y, scenarios, strict=True):
        delta = s.explanation.delta
        edge = max(0.0, mix[list(y).index(yi)]) + max(0.0, rate[list(y).index(yi)])
        ax.annotate(_t(
            f"{format_change(delta, kind, tree.unit)} → "
            f"{format_value(s.value, kind, tree.unit)}"),
            (edge, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.axvline(0, color=MUTED, linewidth=0.8)
    ax.set_yticks(y, [_t(s.name) for s in scenarios], fontsize=8)
    ax.xaxis.set_major_formatter(_money(tree))
    ax.set_xlim(min(0.0, float((mix + rate).min()), float(np.minimum(mix, 0).sum()
                                                           + np.minimum(rate, 0).sum())) * 1.15,
                max(1e-9, float(np.maximum(mix, 0).max() + np.maximum(rate, 0).max())) * 1.35)
    base = scenarios[0].explanation.base
    ax.set_title(_t(f"Scenarios against the actual {base.period} {tree.label(tree.root)} "
                    f"{format_value(base.value, kind, tree.unit)}: change → scenario value"),
                 fontsize=9, loc="left")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    return save(figure, path)


def tornado_chart(
    table: pd.DataFrame, tree: Tree, path: str | Path | None = None, *, top: int = 12
) -> Figure:
    """Tornado of :func:`kpitree.analysis.scenario.sensitivity`: the root at each lever's low and
    high."""
    kind = _kind(tree, tree.root)
    rows = table.assign(_range=(table["high_value"] - table["low_value"]).abs())
    rows = rows[rows["_range"] > 0].sort_values("_range", ascending=False).head(top)
    actual = float(table["actual"].iloc[0])
    figure = _figure(8.5, 0.42 * len(rows) + 1.5)
    ax = figure.subplots()
    y = np.arange(len(rows))[::-1]
    for yi, (_, row) in zip(y, rows.iterrows(), strict=True):
        for end, label in (("low", row["low_label"]), ("high", row["high_label"])):
            value = float(row[f"{end}_value"]) - actual
            colour = UP if value >= 0 else DOWN
            ax.barh(yi, value, left=actual, color=colour, height=0.6,
                    edgecolor=POSITIVE_BORDER if value >= 0 else NEGATIVE_BORDER, linewidth=0.6)
            ax.annotate(_t(f"{label} {format_change(value, kind, tree.unit)}"),
                        (actual + value, yi), xytext=(3 if value >= 0 else -3, 0),
                        textcoords="offset points", va="center", fontsize=7,
                        ha="left" if value >= 0 else "right")
    ax.axvline(actual, color="#222222", linewidth=0.9)
    ax.set_yticks(y, [f"{r['lever']}  (ε {format_change(r['elasticity'])})"
                      for _, r in rows.iterrows()], fontsize=8)
    ax.xaxis.set_major_formatter(_money(tree))
    span = float(rows["_range"].max()) if len(rows) else 1.0
    ax.set_xlim(actual - 0.9 * span, actual + 0.9 * span)
    step = table.attrs.get("step", 0.1)
    ax.set_title(_t(f"{tree.label(tree.root)} {format_value(actual, kind, tree.unit)} "
                    f"({table.attrs.get('period', '')}): each lever −/+{step:.0%}; "
                    "ε = elasticity (% change of the root per 1 % of the lever)"),
                 fontsize=9, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    return save(figure, path)


def volume_bridge_chart(bridge, path: str | Path | None = None) -> Figure:
    """Revenue bridge: base revenue, volume, mix per segment, rate per driver, compare revenue."""
    tree = bridge.tree
    totals = bridge.totals
    steps = [("volume", totals["volume"])]
    effects = bridge.effects
    for kind in ("mix", "interaction"):
        if kind in totals:
            steps.append((kind, float(effects.loc[effects["kind"] == kind, "value"].sum())))
    by_driver = effects[effects["kind"] == "rate"].groupby("label", sort=False)["value"].sum()
    steps += [(f"rate\n{label}", float(v)) for label, v in by_driver.items()]
    figure = _figure(max(6.0, 1.1 * (len(steps) + 2)), 4.2)
    ax = figure.subplots()
    waterfall(ax, tree, (str(bridge.base_period), bridge.base_value), steps,
              (str(bridge.compare_period), bridge.compare_value))
    ax.set_xticklabels(ax.get_xticklabels(), rotation=0, ha="center", fontsize=7.5)
    kind = _kind(tree, tree.root)
    ax.set_title(_t(
        f"Total = {tree.label(tree.weight)} × {tree.label(tree.root)}, "
        f"{bridge.base_period} → {bridge.compare_period}: "
        f"{format_change(bridge.delta, kind, tree.unit)} ({bridge.method})"),
        fontsize=9, loc="left")
    return save(figure, path)

