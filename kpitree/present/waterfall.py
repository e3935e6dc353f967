"""The one waterfall (bridge) drawing of kpitree: steps in, matplotlib figure out.

What belongs here: drawing a sequence of :class:`Step` — a total, the effects that move it, a
total — as a bridge: floating bars coloured by sign, grey total bars, connectors at the running
level, the figure on every bar, tinted and titled groups of bars, wrapped labels, the title and
the notes under it; and :func:`fold`, the one way small bars are folded into an exactly summed
"other N …" bar. Every bridge kpitree draws goes through here: the explanation's
(:mod:`kpitree.present.bridge`), the trend's month-over-month, a scenario's and the MRR
volume / mix / rate bridge (:mod:`kpitree.present.charts`). What does not: choosing the steps
(each caller picks what its bars stand for), colours and saving (:mod:`kpitree.present.style`)
or number formatting (:class:`kpitree.present.wording.Numbers`).

Conventions: ``start`` and ``end`` steps are totals drawn from the axis floor; every other step
is a change drawn from the running level, green when it raises the root and red when it lowers
it, hatched when it stands for several folded effects. The axis starts at zero unless that
would squash the bars (then a note says so). Text is never read as mathtext, so ``$`` prints.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpitree.core.optional import require
from kpitree.present.style import (
    GRID,
    GROUP_TINT,
    HEADING_SIZE,
    INK,
    MIX_TINT,
    MUTED,
    NEUTRAL_BORDER,
    RATE_TINT,
    SEPARATOR,
    TEXT_SIZE,
    TITLE_SIZE,
    TOTAL_BORDER,
    TOTAL_FILL,
    bar_colours,
    new_figure,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from kpitree.present.wording import Numbers

TOTALS = ("start", "end")  # the groups of total bars
TOP = 6  # bars kept per group (mix, rate, …) before the rest is folded into "other"
LABEL_WIDTH = 13  # characters per line under a bar
HEIGHT = 5.2  # inches
TINTS = {"mix": MIX_TINT, "rate": RATE_TINT}  # other titled groups get GROUP_TINT
FOLDED_NOTE = "Hatched: smaller effects folded together (exact sum)."
TRUNCATED_NOTE = "The axis does not start at zero."

__all__ = ["TOP", "TOTALS", "Step", "draw_waterfall", "fold", "heading", "notes_for",
           "waterfall_figure", "wrap"]


@dataclass(frozen=True)
class Step:
    """One bar of a bridge.

    Attributes:
        label: the text under the bar.
        value: the root's value (``start``/``end``) or the exact sum of the effects (others).
        group: ``start``, ``end`` or the kind of change (``mix``, ``interaction``, ``rate``,
            ``volume``, …); consecutive bars of one group share a tinted background.
        folded: how many effects an "other" bar stands for (0 for an ordinary bar).
    """

    label: str
    value: float
    group: str
    folded: int = 0


def fold(bars: Iterable[tuple[str, float]], *, group: str, top: int, noun: str,
         keep_order: bool = False) -> list[Step]:
    """Keep the ``top`` largest bars; fold the rest into one exact "other N ``noun``" bar.

    Bars whose value is exactly zero are dropped; ties break by label, so the choice is
    stable. A single leftover bar is shown as itself rather than folded. The kept bars come
    largest first, or in their input order with ``keep_order``.

    Identity: the values of the returned steps add up (``math.fsum``) to those of ``bars``.
    """
    totals = [(label, value) for label, value in bars if value != 0.0]
    ranked = sorted(totals, key=lambda lv: (-abs(lv[1]), lv[0]))
    if len(ranked) <= top + 1:
        kept, rest = ranked, []
    else:
        kept, rest = ranked[:top], ranked[top:]
    if keep_order:
        names = {label for label, _ in kept}
        kept = [(label, value) for label, value in totals if label in names]
    steps = [Step(label, value, group) for label, value in kept]
    if rest:
        steps.append(Step(f"other {len(rest)}\n{noun}", math.fsum(v for _, v in rest), group,
                          folded=len(rest)))
    return steps


def figure_width(bars: int) -> float:
    """The width in inches of a bridge of ``bars`` bars (it grows with them)."""
    return max(7.5, 0.95 * bars + 2.0)


def waterfall_figure(steps: Sequence[Step], numbers: Numbers, *, title: str,
                     notes: Sequence[str] = (), group_titles: Mapping[str, str] | None = None,
                     height: float = HEIGHT) -> Figure:
    """A figure holding one bridge of ``steps``, with ``title`` and ``notes`` above it.

    The width grows with the number of bars. ``group_titles`` names the groups to tint and
    title, in the order given; the notes on folded bars and a truncated axis are added here.

    Raises:
        MissingExtraError: matplotlib is not installed.
    """
    width = figure_width(len(steps))
    figure = new_figure(width, height)
    ax = figure.subplots()
    truncated = draw_waterfall(ax, steps, numbers, group_titles=group_titles)
    heading(figure, ax, title, [*notes, *notes_for(steps, truncated)], width=width)
    return figure


def draw_waterfall(ax: Axes, steps: Sequence[Step], numbers: Numbers, *,
                   group_titles: Mapping[str, str] | None = None) -> bool:
    """Draw the bridge of ``steps`` on ``ax``; return whether the axis does not start at zero.

    Raises:
        MissingExtraError: matplotlib is not installed.
    """
    ticker = require("matplotlib.ticker", purpose="charts")
    transforms = require("matplotlib.transforms", purpose="charts")
    levels = [steps[0].value]
    for step in steps[1:-1]:
        levels.append(levels[-1] + step.value)
    levels.append(steps[-1].value)
    low, high = min(levels), max(levels)
    span = (high - low) or max(abs(high), 1.0) * 0.1
    floor = low - 0.45 * span
    if floor <= 0.0 <= low or low >= 0.0 > floor:
        floor = 0.0
    ax.set_ylim(floor, high + 0.22 * span)

    # Tinted backgrounds, separators and titles for the groups; a separator before the end.
    blend = transforms.blended_transform_factory(ax.transData, ax.transAxes)
    titles = group_titles or {}
    for group, title in titles.items():
        xs = [i for i, s in enumerate(steps) if s.group == group]
        if not xs:
            continue
        ax.axvspan(min(xs) - 0.5, max(xs) + 0.5, color=TINTS.get(group, GROUP_TINT), zorder=0,
                   linewidth=0)
        ax.axvline(min(xs) - 0.5, color=SEPARATOR, linewidth=0.8, zorder=0)
        ax.text((min(xs) + max(xs)) / 2, 0.985, title, transform=blend, ha="center",
                va="top", fontsize=HEADING_SIZE, color=MUTED, fontweight="bold",
                parse_math=False)
    for i in range(1, len(steps) - 1):
        if steps[i].group not in titles and steps[i].group != steps[i - 1].group:
            ax.axvline(i - 0.5, color=SEPARATOR, linewidth=0.8, zorder=0)
    ax.axvline(len(steps) - 1.5, color=SEPARATOR, linewidth=0.8, zorder=0)

    for i, step in enumerate(steps):
        if step.group in TOTALS:
            ax.bar(i, step.value - floor, bottom=floor, width=0.66, color=TOTAL_FILL,
                   edgecolor=TOTAL_BORDER, linewidth=0.9, zorder=2)
            text, top_y = numbers.value(step.value), step.value
        else:
            fill, border = bar_colours(step.value)
            ax.bar(i, step.value, bottom=levels[i - 1], width=0.66, color=fill,
                   edgecolor=border, linewidth=0.9, hatch="///" if step.folded else None,
                   zorder=2)
            text, top_y = numbers.change(step.value), max(levels[i - 1], levels[i])
        ax.annotate(text, (i, top_y), xytext=(0, 3), textcoords="offset points", ha="center",
                    va="bottom", fontsize=TEXT_SIZE, color=INK, zorder=3, parse_math=False)
        if i < len(steps) - 1:  # connector at the running level
            ax.plot([i + 0.33, i + 0.67], [levels[i], levels[i]], color=NEUTRAL_BORDER,
                    linewidth=0.8, zorder=1)

    ax.set_xlim(-0.6, len(steps) - 0.4)
    ax.set_xticks(range(len(steps)), [wrap(s.label) for s in steps], fontsize=TEXT_SIZE,
                  parse_math=False)
    for tick, step in zip(ax.get_xticklabels(), steps, strict=True):
        if step.group in TOTALS:
            tick.set_fontweight("bold")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda y, _p: numbers.value(y)))
    ax.tick_params(axis="y", labelsize=TEXT_SIZE, colors=MUTED)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color=GRID, linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    return floor > 0.0 or (floor < 0.0 and high < 0.0)


def heading(figure: Figure, ax: Axes, title: str, notes: Sequence[str], *,
            width: float) -> None:
    """The bold title at the top left of ``figure`` (``width`` inches) and the notes above ``ax``.

    The notes are wrapped at ``15 × width`` characters a line; the title and the notes are
    wrapped further where a line would still run past the figure's right edge (long money
    figures, long titles), measured with the font they are drawn in.
    """
    formatter = ax.yaxis.get_major_formatter()
    ticks = [formatter(y, i) for i, y in enumerate(ax.get_yticks())]
    margin = max((_inches(t, TEXT_SIZE) for t in ticks), default=0.0) + 0.25  # y tick labels
    figure.suptitle(_fitted(title, 0.99 * width - 0.1, TITLE_SIZE, weight="bold"), x=0.01,
                    ha="left", fontsize=TITLE_SIZE, fontweight="bold", parse_math=False)
    ax.set_title(_fitted(" ".join(notes), width - margin - 0.1, TEXT_SIZE, chars=int(width * 15)),
                 loc="left", fontsize=TEXT_SIZE, color=MUTED, pad=8, parse_math=False)


def wrap(label: str, width: int = LABEL_WIDTH) -> str:
    """A label wrapped to ``width`` characters a line, keeping its own line breaks."""
    return "\n".join(textwrap.fill(line, width) for line in label.split("\n"))


def notes_for(steps: Sequence[Step], truncated: bool) -> list[str]:
    """The notes a bridge of ``steps`` needs: folded bars, an axis not starting at zero."""
    notes = []
    if any(s.folded for s in steps):
        notes.append(FOLDED_NOTE)
    if truncated:
        notes.append(TRUNCATED_NOTE)
    return notes


def _fitted(text: str, room: float, size: float, *, chars: int | None = None,
            weight: str = "normal") -> str:
    """``text`` wrapped at ``chars`` (default: not at all), then tighter until it fits ``room``
    inches."""
    limit = chars or len(text)
    fitted = textwrap.fill(text, limit) if chars else text
    while limit > 20 and max(_inches(line, size, weight) for line in fitted.split("\n")) > room:
        limit -= 4
        fitted = textwrap.fill(text, limit)
    return fitted


def _inches(text: str, size: float, weight: str = "normal") -> float:
    """The width of one line of ``text`` in matplotlib's default font, in inches."""
    textpath = require("matplotlib.textpath", purpose="charts")
    font_manager = require("matplotlib.font_manager", purpose="charts")
    font = font_manager.FontProperties(size=size, weight=weight)
    width, _height, _descent = textpath.text_to_path.get_text_width_height_descent(
        text, font, ismath=False)
    return width / 72.0
