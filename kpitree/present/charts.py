"""Charts for series, scenarios and totals (matplotlib), imported only when a chart is asked for.

What belongs here: choosing what each chart shows — the month-over-month bridge of a
:class:`~kpitree.analysis.trend.Trend` with its cumulative split, its small-multiples trend
chart, a scenario's bridge, scenarios side by side, the sensitivity tornado and the MRR
volume / mix / rate bridge — and drawing the ones that are not bridges. What does not: any
computation beyond picking what to draw, the drawing of a bridge (every bridge goes through
:mod:`kpitree.present.waterfall`), the palette and saving (:mod:`kpitree.present.style`) or
number formatting (:mod:`kpitree.present.wording`, :mod:`kpitree.core.formatting`).

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot state, no GUI
backend), so drawing works headless; in Jupyter a returned figure displays itself. A chart
written to a file gives the same bytes every time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kpitree.core.errors import RenderError
from kpitree.core.formatting import Kind, format_change, format_value
from kpitree.core.optional import require
from kpitree.present.style import (
    GRID,
    INK,
    LIGHT_GRID,
    MIX_COLOUR,
    MUTED,
    RATE_COLOUR,
    SERIES_COLOURS,
    bar_colours,
    image_format,
    new_figure,
    save_image,
)
from kpitree.present.waterfall import (
    TOP,
    Step,
    draw_waterfall,
    fold,
    heading,
    notes_for,
    waterfall_figure,
)
from kpitree.present.wording import Numbers, segmented, title_case

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from kpitree.analysis.scenario import Scenario
    from kpitree.analysis.totals import TotalExplanation
    from kpitree.analysis.trend import Trend
    from kpitree.core.tree import Tree

__all__ = ["save", "scenario_chart", "scenarios_chart", "tornado_chart", "trend_bridge_chart",
           "trend_multiples_chart", "volume_bridge_chart"]


def save(figure: Figure, path: str | Path | None) -> Figure:
    """Write the figure when a path is given (PNG, SVG or PDF by suffix); return it.

    Raises:
        RenderError: the suffix is not one of the formats, or ``path`` is not writable.
    """
    if path is not None:
        save_image(figure, path, image_format(path, None, what="chart"))
    return figure


def trend_bridge_chart(trend: Trend, path: str | Path | None = None) -> Figure:
    """Month-over-month bridge from the first to the last period, and the cumulative split.

    Top: a bridge of each month's change. Bottom: the cumulative chained mix and rate effects
    over the months (they end at the chained totals), with the direct first-vs-last totals
    marked at the end for comparison.
    """
    tree = trend.tree
    numbers = Numbers.of(tree)
    values = trend.values
    labels = [*values["period"]]
    steps = [Step(f"{labels[0]}\n(start)", trend.first, "start"),
             *(Step(p, float(d), "change")
               for p, d in zip(labels[1:], values["delta"][1:], strict=True)),
             Step(f"{labels[-1]}\n(end)", trend.last, "end")]
    width = 10.0
    figure = new_figure(width, 7.2)
    top, bottom = figure.subplots(2, 1, height_ratios=[3, 2])
    truncated = draw_waterfall(top, steps, numbers)
    notes = [f"{labels[0]} → {labels[-1]}, {trend.step_words} (method {trend.method}, "
             f"{segmented(trend.by)}). Green raises {numbers.root_label}, red lowers it."]
    heading(figure, top, f"{tree.title}: {numbers.move(trend.first, trend.last, trend.delta)}",
            [*notes, *notes_for(steps, truncated)], width=width)
    x = np.arange(len(labels))
    kinds = [k for k in ("mix", "rate", "interaction") if k in values.columns]
    colours = {"mix": MIX_COLOUR, "rate": RATE_COLOUR, "interaction": MUTED}
    cumulative = {k: np.concatenate([[0.0], np.cumsum(values[k].to_numpy()[1:])]) for k in kinds}
    total = np.concatenate([[0.0], np.cumsum(values["delta"].to_numpy()[1:])])
    direct = trend.direct.totals
    for k in kinds:
        bottom.plot(x, cumulative[k], marker="o", markersize=3, color=colours[k],
                    label=_t(f"{k} (chained) {numbers.change(cumulative[k][-1])}"))
        bottom.scatter([x[-1] + 0.3], [direct.get(k, 0.0)], marker="D", s=22,
                       color=colours[k], edgecolor="white", zorder=3,
                       label=_t(f"{k} (direct) {numbers.change(direct.get(k, 0.0))}"))
    bottom.plot(x, total, color=INK, linewidth=1.2, linestyle="--",
                label=_t(f"total {numbers.change(trend.delta)}"))
    bottom.axhline(0, color=MUTED, linewidth=0.6)
    bottom.set_xticks(x, labels, fontsize=7.5)
    bottom.yaxis.set_major_formatter(_ticks(numbers))
    bottom.set_title(f"Cumulative change since {labels[0]}: chained mix vs rate "
                     f"(◆ direct {labels[0]} → {labels[-1]})", fontsize=9, loc="left")
    bottom.legend(fontsize=7.5, ncol=3, frameon=False, loc="upper left")
    bottom.spines[["top", "right"]].set_visible(False)
    bottom.grid(axis="y", color=GRID, linewidth=0.6)
    return save(figure, path)


def trend_multiples_chart(trend: Trend, path: str | Path | None = None) -> Figure:
    """Small multiples: each segment's share, its rate (the root) and every driver, by period."""
    tree = trend.tree
    numbers = Numbers.of(tree)
    table = trend.segments
    if not trend.by:
        raise RenderError("a trend chart of shares needs a segment dimension (by=[...])")
    dim = trend.by[0]
    panels: list[tuple[str, str, Kind]] = [
        ("share", f"Share of {tree.label(tree.weight)}", "percent"),
        (tree.root, tree.label(tree.root), numbers.kind),
    ]
    for driver in tree.drivers:
        node = driver.path[-1]
        if node in table.columns:
            panels.append((node, driver.label, numbers.kind_of(node)))
    columns = 3
    rows = -(-len(panels) // columns)
    figure = new_figure(4.0 * columns, 2.9 * rows + 0.5)
    axes = np.atleast_1d(figure.subplots(rows, columns, sharex=True)).ravel()
    periods = list(trend.periods)
    segments = sorted(table[dim].unique())
    ticker = require("matplotlib.ticker", purpose="charts")

    for ax, (column, title, kind) in zip(axes, panels, strict=False):
        for i, segment in enumerate(segments):
            rows_ = table[table[dim] == segment].set_index("period").reindex(periods)
            ax.plot(range(len(periods)), rows_[column].to_numpy(dtype=float), marker="o",
                    markersize=2.5, linewidth=1.3, color=SERIES_COLOURS[i % len(SERIES_COLOURS)],
                    label=str(segment))
        ax.set_title(title, fontsize=9, loc="left")
        ax.yaxis.set_major_formatter(_ticks(numbers, kind))
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(color=LIGHT_GRID, linewidth=0.6)
        ax.tick_params(labelsize=7.5)
        if kind == "currency" and column == tree.root and len(segments) > 2:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(_ticks(numbers, kind))
            ax.yaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, _p: ""))
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
    """Bridge from the actual to the scenario value: one bar per lever, in the order applied,
    for a stack of levers (each the exact change that lever adds on top of the ones before);
    for a single lever, mix per segment and rate per driver × segment.

    Within each group the ``top`` largest bars are kept and the rest is folded into one exactly
    summed "other" bar (see :func:`kpitree.present.waterfall.fold`).
    """
    result = scenario.explanation
    effects = result.effects
    numbers = Numbers.of(scenario.tree)
    scale = max(1.0, abs(result.base.value))
    steps = [Step(f"actual\n{result.base.period}", result.base.value, "start")]
    if len(scenario.levers) > 1:
        return _lever_chart(scenario, steps, numbers, path, top=top)
    for kind in ("mix", "interaction", "rate"):
        bars = []
        for row in effects[effects["kind"] == kind].to_dict("records"):
            segment = ", ".join(str(row[d]) for d in result.by
                                if d in row and row[d] is not None)
            label = f"{row['label']}\n{segment}".strip() if kind == "rate" else segment or kind
            if abs(float(row["value"])) > 1e-9 * scale:
                bars.append((label, float(row["value"])))
        steps += fold(bars, group=kind, top=top, noun="segments" if kind == "mix" else "effects")
    steps.append(Step("scenario", result.compare.value, "end"))
    dim = result.by[0] if len(result.by) == 1 else None
    titles = {"mix": f"{title_case(dim)} mix" if dim else "Mix", "interaction": "Interaction",
              "rate": "Rate by driver and segment" if result.by else "Rate by driver"}
    totals = result.totals
    notes = [f"Actual {result.base.period} → scenario (method {result.method}, "
             f"{segmented(result.by)}): mix {numbers.change(totals['mix'])}, rate "
             f"{numbers.change(totals['rate'])}. Green raises {numbers.root_label}, red lowers "
             "it."]
    title = (f"{scenario.name}: "
             f"{numbers.move(result.base.value, result.compare.value, result.delta)}")
    return save(waterfall_figure(steps, numbers, title=title, notes=notes, group_titles=titles),
                path)


def _lever_chart(scenario: Scenario, steps: list[Step], numbers: Numbers,
                 path: str | Path | None, *, top: int) -> Figure:
    """The bridge of a stack of levers: actual, one bar per lever's step, scenario."""
    result = scenario.explanation
    from kpitree.analysis.scenario.levers import describe_lever

    # "base_pu[tier=pro] ×1.1" → three short lines under the bar
    bars = [(describe_lever(lever).replace("[", "\n[").replace("] ", "]\n"), step.delta)
            for lever, step in zip(scenario.levers, scenario.steps, strict=True)]
    # the same text twice (a lever repeated) must stay two bars: number the repeats
    seen: dict[str, int] = {}
    labelled = []
    for text, value in bars:
        seen[text] = seen.get(text, 0) + 1
        labelled.append((text if seen[text] == 1 else f"{text} ({seen[text]})", value))
    steps += fold(labelled, group="lever", top=top, noun="levers", keep_order=True)
    steps.append(Step("scenario", result.compare.value, "end"))
    totals = result.totals
    notes = [f"Actual {result.base.period} → scenario (method {result.method}, "
             f"{segmented(result.by)}): each bar is what a lever adds on top of the ones before "
             f"it; in all, mix {numbers.change(totals['mix'])}, rate "
             f"{numbers.change(totals['rate'])}. Green raises {numbers.root_label}, red lowers "
             "it."]
    title = (f"What-if on {result.base.period}: "
             f"{numbers.move(result.base.value, result.compare.value, result.delta)}")
    return save(waterfall_figure(steps, numbers, title=title, notes=notes,
                                 group_titles={"lever": "Levers, in the order applied"}), path)


def scenarios_chart(
    scenarios: Sequence[Scenario], path: str | Path | None = None
) -> Figure:
    """Scenarios side by side: each one's change from the actual, split into mix and rate."""
    if not scenarios:
        raise RenderError("no scenarios to draw")
    tree = scenarios[0].tree
    numbers = Numbers.of(tree)
    figure = new_figure(8, 0.55 * len(scenarios) + 1.6)
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
        ax.annotate(_t(f"{numbers.change(delta)} → {numbers.value(s.value)}"),
                    (edge, yi), xytext=(4, 0), textcoords="offset points", va="center",
                    fontsize=8)
    ax.axvline(0, color=MUTED, linewidth=0.8)
    ax.set_yticks(y, [_t(s.name) for s in scenarios], fontsize=8)
    ax.xaxis.set_major_formatter(_ticks(numbers))
    ax.set_xlim(min(0.0, float((mix + rate).min()), float(np.minimum(mix, 0).sum()
                                                           + np.minimum(rate, 0).sum())) * 1.15,
                max(1e-9, float(np.maximum(mix, 0).max() + np.maximum(rate, 0).max())) * 1.35)
    base = scenarios[0].explanation.base
    ax.set_title(_t(f"Scenarios against the actual {base.period} {numbers.root_label} "
                    f"{numbers.value(base.value)}: change → scenario value"),
                 fontsize=9, loc="left")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    return save(figure, path)


def tornado_chart(
    table: pd.DataFrame, tree: Tree, path: str | Path | None = None, *, top: int = 12
) -> Figure:
    """Tornado of :func:`kpitree.analysis.scenario.sensitivity`: the root at each lever's low and
    high."""
    numbers = Numbers.of(tree)
    rows = table.assign(_range=(table["high_value"] - table["low_value"]).abs())
    rows = rows[rows["_range"] > 0].sort_values("_range", ascending=False).head(top)
    actual = float(table["actual"].iloc[0])
    figure = new_figure(8.5, 0.42 * len(rows) + 1.5)
    ax = figure.subplots()
    y = np.arange(len(rows))[::-1]
    for yi, (_, row) in zip(y, rows.iterrows(), strict=True):
        for end, label in (("low", row["low_label"]), ("high", row["high_label"])):
            value = float(row[f"{end}_value"]) - actual
            colour, edge = bar_colours(value)
            ax.barh(yi, value, left=actual, color=colour, height=0.6, edgecolor=edge,
                    linewidth=0.6)
            ax.annotate(_t(f"{label} {numbers.change(value)}"),
                        (actual + value, yi), xytext=(3 if value >= 0 else -3, 0),
                        textcoords="offset points", va="center", fontsize=7,
                        ha="left" if value >= 0 else "right")
    ax.axvline(actual, color=INK, linewidth=0.9)
    ax.set_yticks(y, [f"{r['lever']}  (ε {format_change(r['elasticity'])})"
                      for _, r in rows.iterrows()], fontsize=8)
    ax.xaxis.set_major_formatter(_ticks(numbers))
    span = float(rows["_range"].max()) if len(rows) else 1.0
    ax.set_xlim(actual - 0.9 * span, actual + 0.9 * span)
    step = table.attrs.get("step", 0.1)
    label = numbers.root_label
    # a figure-wide title, wrapped to the figure (an axes title starts after the long lever
    # names and ran off the right edge)
    heading(figure, ax, f"What moves {label} most: {label} {numbers.value(actual)} in "
                        f"{table.attrs.get('period', '')}, each lever −/+{step:.0%}",
            [f"Bars: {label} with the lever at ×{1 - step:g} and ×{1 + step:g}, others fixed. "
             f"ε = elasticity, the % change of {label} per 1 % change of the lever."],
            width=8.5)
    ax.spines[["top", "right"]].set_visible(False)
    return save(figure, path)


def volume_bridge_chart(bridge: TotalExplanation, path: str | Path | None = None) -> Figure:
    """Revenue bridge: base total, volume, mix per level, rate per driver, compare total."""
    tree = bridge.tree
    numbers = Numbers.of(tree)
    effects = bridge.effects
    weight = tree.label(tree.weight)
    totals = bridge.totals_by_level()
    steps = [Step(str(bridge.base_period), bridge.base_value, "start"),
             Step(weight, totals["volume"], "volume")]
    for depth, dim in enumerate(bridge.by):
        within = f"\n(within {bridge.by[0]})" if depth else ""
        steps.append(Step(f"{dim} mix{within}", totals[f"mix:{dim}"], "mix"))
    if "interaction" in totals:
        steps.append(Step("mix × rate", totals["interaction"], "interaction"))
    by_driver = effects[effects["kind"] == "rate"].groupby("label", sort=False)["value"]
    steps += fold(((str(label), math.fsum(v)) for label, v in by_driver),
                  group="rate", top=TOP, noun="drivers", keep_order=True)
    steps.append(Step(str(bridge.compare_period), bridge.compare_value, "end"))
    steps = [s for s in steps if s.group in ("start", "end") or s.value != 0.0]
    titles = {"volume": "Volume", "mix": "Mix", "interaction": "Interaction",
              "rate": "Rate by driver"}
    total = f"{weight} × {numbers.root_label}"
    title = (f"{tree.title}: "
             f"{numbers.move(bridge.base_value, bridge.compare_value, bridge.delta, label=total)}")
    notes = [f"{bridge.base_period} → {bridge.compare_period}, method {bridge.method}, "
             f"{segmented(bridge.by)}. Volume: the change in {weight} valued at "
             f"{numbers.root_label}. Green raises the total, red lowers it."]
    return save(waterfall_figure(steps, numbers, title=title, notes=notes, group_titles=titles),
                path)


def _t(text: str) -> str:
    """Text for matplotlib labels that cannot turn mathtext off: a literal ``$``."""
    return text.replace("$", r"\$")


def _ticks(numbers: Numbers, kind: Kind | None = None) -> Any:
    """A tick formatter showing values in ``kind`` (default: the root's)."""
    ticker = require("matplotlib.ticker", purpose="charts")
    shown = numbers.kind if kind is None else kind
    return ticker.FuncFormatter(lambda x, _pos: _t(format_value(x, shown, numbers.unit)))
