"""The bridge (waterfall) chart of an :class:`~kpitree.core.result.Explanation` (matplotlib).

What belongs here: choosing the bars of the bridge — base value, mix effects, rate effects by
driver or by segment, compare value — folding the small ones into one exactly summed "other"
bar, and drawing them. What does not: any attribution (see :mod:`kpitree.core.attribution`) or
number formatting (every figure goes through :mod:`kpitree.core.formatting`); the colours are
those of the tree image (:mod:`kpitree.present.tree_image`). Matplotlib is imported only when a
chart is drawn, so the core never loads it.

The bars, left to right::

    base │ mix per outer segment … [inner mix per level] │ [interaction] │ rate per driver
         │   (or per outer segment, ``rate_by="segment"``) │ compare

Bars are exact: every bar is the sum (``math.fsum``) of the effects it stands for, so the base
plus all bars is the compare value. Within the mix group and within the rate group the ``top``
largest bars (by absolute value) are kept and the others are folded into one hatched bar
"other N segments" (or "other N drivers"), never a residual. Effects that are exactly zero (the
rate of a segment present in one period only) get no bar.

The same explanation gives the same bytes: SVG ids are salted with a fixed string and the
creation dates of SVG and PDF files are left out.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.core.errors import RenderError
from kpitree.core.formatting import format_change, format_pct_change, format_value, value_kind
from kpitree.present.tree_image import (
    FORMATS,
    MUTED,
    NEGATIVE,
    NEGATIVE_BORDER,
    NEUTRAL_BORDER,
    POSITIVE,
    POSITIVE_BORDER,
    image_format,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from kpitree.core.result import Explanation

RATE_BY = ("component", "segment")
TOP = 6  # bars kept per group (mix, rate) before the rest is folded into "other"
DPI = 150
MATPLOTLIB_MISSING = "matplotlib is not installed: pip install matplotlib"

TOTAL_FILL = "#bdbdbd"
TOTAL_BORDER = "#757575"
GROUP_TINT = "#f7f7f7"
MIX_TINT = "#f4f6fa"
RATE_TINT = "#faf8f2"
LABEL_WIDTH = 13  # characters per line under a bar

__all__ = ["FORMATS", "RATE_BY", "TOP", "Step", "bridge_figure", "bridge_steps",
           "render_bridge"]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


UP_FILL, DOWN_FILL = _hex(POSITIVE[1]), _hex(NEGATIVE[1])


@dataclass(frozen=True)
class Step:
    """One bar of the bridge.

    Attributes:
        label: the text under the bar.
        value: the root's value (``start``/``end``) or the exact sum of the effects (others).
        group: ``start``, ``mix``, ``interaction``, ``rate`` or ``end``.
        folded: how many effects an "other" bar stands for (0 for an ordinary bar).
    """

    label: str
    value: float
    group: str
    folded: int = 0


def bridge_steps(result: Explanation, *, rate_by: str = "component",
                 top: int = TOP) -> list[Step]:
    """The bars of the bridge, base first and compare last (see the module docstring).

    Args:
        result: an explanation from :func:`kpitree.explain`.
        rate_by: ``component`` (one rate bar per driver, summed over segments) or ``segment``
            (one rate bar per outer segment, summed over drivers).
        top: bars kept in the mix group and in the rate group; the rest fold into one "other"
            bar. A single leftover bar is shown as itself rather than folded.

    Identity: ``steps[0].value + fsum(middle values) == steps[-1].value`` (to floating-point
    precision), because every effect lands in exactly one bar.

    Raises:
        RenderError: an unknown ``rate_by`` or a ``top`` below 1.
    """
    if rate_by not in RATE_BY:
        raise RenderError(f"cannot split the rate bars by '{rate_by}'; choose one of: "
                          f"{', '.join(RATE_BY)}")
    if top < 1:
        raise RenderError(f"top={top}: keep at least one bar per group")
    effects = result.effects
    outer = result.by[0] if result.by else None
    status = _statuses(result, outer)

    mix_bars: dict[str, list[float]] = {}
    inner_bars: dict[str, list[float]] = {}
    interaction: dict[str, list[float]] = {}
    rate_bars: dict[str, list[float]] = {}
    for row in effects.to_dict("records"):
        value = float(row["value"])
        if row["kind"] == "mix":
            if row["level"] == outer:
                label = _segment_label(row[outer], status.get(row[outer], "both"))
                mix_bars.setdefault(label, []).append(value)
            else:
                inner_bars.setdefault(f"{row['level']} mix\n(within {outer})", []).append(value)
        elif row["kind"] == "interaction":
            interaction.setdefault(f"{row['level']}\ninteraction", []).append(value)
        elif rate_by == "segment" and outer is not None:
            label = _segment_label(row[outer], status.get(row[outer], "both"))
            rate_bars.setdefault(label, []).append(value)
        else:
            rate_bars.setdefault(str(row["label"]), []).append(value)

    noun = f"{outer} segments" if outer else "segments"
    steps = [Step(result.base.period, result.base.value, "start")]
    steps += _fold(mix_bars, "mix", top, noun)
    steps += [Step(label, math.fsum(v), "mix") for label, v in inner_bars.items()
              if math.fsum(v) != 0.0]
    steps += [Step(label, math.fsum(v), "interaction") for label, v in interaction.items()
              if math.fsum(v) != 0.0]
    rate_noun = noun if rate_by == "segment" and outer else "drivers"
    ordered = rate_by == "component" or outer is None  # drivers keep formula order
    steps += _fold(rate_bars, "rate", top, rate_noun, keep_order=ordered)
    steps.append(Step(result.compare.period, result.compare.value, "end"))
    return steps


def bridge_figure(result: Explanation, *, rate_by: str = "component", top: int = TOP) -> Figure:
    """The bridge as a matplotlib :class:`~matplotlib.figure.Figure` (no pyplot, no GUI).

    In Jupyter a returned figure displays itself; :func:`render_bridge` writes it to a file.

    Raises:
        RenderError: see :func:`bridge_steps`; matplotlib not installed.
    """
    steps = bridge_steps(result, rate_by=rate_by, top=top)
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
        from matplotlib.transforms import blended_transform_factory
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        raise RenderError(MATPLOTLIB_MISSING) from None

    tree = result.tree
    unit = tree.unit or None
    kind = value_kind(tree.format_of(tree.root), unit)
    root_label = tree.label(tree.root)

    levels = [steps[0].value]
    for step in steps[1:-1]:
        levels.append(levels[-1] + step.value)
    levels.append(steps[-1].value)
    low, high = min(levels), max(levels)
    span = (high - low) or max(abs(high), 1.0) * 0.1
    floor = low - 0.45 * span
    if floor <= 0.0 <= low or low >= 0.0 > floor:
        floor = 0.0
    ceiling = high + 0.22 * span
    truncated = floor > 0.0 or (floor < 0.0 and high < 0.0)

    width = max(7.5, 0.95 * len(steps) + 2.0)
    figure = Figure(figsize=(width, 5.2), layout="constrained")
    ax = figure.subplots()
    ax.set_ylim(floor, ceiling)
    blend = blended_transform_factory(ax.transData, ax.transAxes)

    # Tinted backgrounds, separators and titles for the groups.
    dim = result.by[0] if result.by else None
    titles = {
        "mix": f"{_title_case(dim)} mix" if dim else "Mix",
        "interaction": "Interaction",
        "rate": (f"Rate within {dim}, by " + ("segment" if rate_by == "segment" else "driver")
                 if dim else "Rate by driver"),
    }
    tints = {"mix": MIX_TINT, "interaction": GROUP_TINT, "rate": RATE_TINT}
    for group, title in titles.items():
        xs = [i for i, s in enumerate(steps) if s.group == group]
        if not xs:
            continue
        ax.axvspan(min(xs) - 0.5, max(xs) + 0.5, color=tints[group], zorder=0, linewidth=0)
        ax.axvline(min(xs) - 0.5, color="#d0d0d0", linewidth=0.8, zorder=0)
        ax.text((min(xs) + max(xs)) / 2, 0.985, title, transform=blend, ha="center",
                va="top", fontsize=9, color=MUTED, fontweight="bold")
    ax.axvline(len(steps) - 1.5, color="#d0d0d0", linewidth=0.8, zorder=0)

    for i, step in enumerate(steps):
        if step.group in ("start", "end"):
            ax.bar(i, step.value - floor, bottom=floor, width=0.66, color=TOTAL_FILL,
                   edgecolor=TOTAL_BORDER, linewidth=0.9, zorder=2)
            text, top_y = format_value(step.value, kind, unit), step.value
        else:
            before = levels[i - 1]
            up = step.value >= 0
            ax.bar(i, step.value, bottom=before, width=0.66,
                   color=UP_FILL if up else DOWN_FILL,
                   edgecolor=POSITIVE_BORDER if up else NEGATIVE_BORDER, linewidth=0.9,
                   hatch="///" if step.folded else None, zorder=2)
            text, top_y = format_change(step.value, kind, unit), max(before, levels[i])
        ax.annotate(text, (i, top_y), xytext=(0, 3), textcoords="offset points", ha="center",
                    va="bottom", fontsize=8.5, color="#222222", zorder=3)
        if i < len(steps) - 1:  # connector at the running level
            ax.plot([i + 0.33, i + 0.67], [levels[i], levels[i]], color=NEUTRAL_BORDER,
                    linewidth=0.8, zorder=1)

    ax.set_xlim(-0.6, len(steps) - 0.4)
    ax.set_xticks(range(len(steps)), [_wrap(s.label) for s in steps], fontsize=8.5)
    for tick, step in zip(ax.get_xticklabels(), steps, strict=True):
        if step.group in ("start", "end"):
            tick.set_fontweight("bold")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _p: format_value(y, kind, unit)))
    ax.tick_params(axis="y", labelsize=8.5, colors=MUTED)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e6e6e6", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)

    segmented = f"by {' × '.join(result.by)}" if result.by else "no segments"
    figure.suptitle(
        f"{tree.title}: {root_label} {format_value(result.base.value, kind, unit)} → "
        f"{format_value(result.compare.value, kind, unit)}, "
        f"{format_change(result.delta, kind, unit)} "
        f"({format_pct_change(result.base.value, result.compare.value)})",
        x=0.01, ha="left", fontsize=12, fontweight="bold")
    notes = [f"{result.base.period} → {result.compare.period}, method {result.method}, "
             f"{segmented}. Green raises {root_label}, red lowers it."]
    if any(s.folded for s in steps):
        notes.append("Hatched: smaller effects folded together (exact sum).")
    if truncated:
        notes.append("The axis does not start at zero.")
    ax.set_title(textwrap.fill(" ".join(notes), int(width * 15)), loc="left", fontsize=8.5,
                 color=MUTED, pad=8)
    return figure


def render_bridge(result: Explanation, path: str | Path | None = None, *,
                  format: str | None = None, rate_by: str = "component",
                  top: int = TOP) -> bytes:
    """Draw the bridge and return the image bytes (PNG, SVG or PDF), writing ``path`` if given.

    The format comes from ``format`` or else the suffix of ``path`` (default ``png``). The same
    explanation gives the same bytes.

    Raises:
        RenderError: an unknown format, a suffix contradicting ``format``, or ``path`` not
            writable; see also :func:`bridge_steps`.

    Example:
        >>> png = render_bridge(result, "bridge.png")  # doctest: +SKIP
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"  # doctest: +SKIP
        True
    """
    fmt = image_format(path, format, default="png", what="bridge")
    figure = bridge_figure(result, rate_by=rate_by, top=top)
    data = figure_bytes(figure, fmt)
    if path is not None:
        try:
            Path(path).write_bytes(data)
        except OSError as exc:
            raise RenderError(f"cannot write the image to {path}: {exc.strerror}") from exc
    return data


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """Save a figure reproducibly: no dates, fixed SVG ids."""
    import matplotlib

    metadata: dict[str, Any] = {
        "png": {"Software": None},
        "svg": {"Date": None},
        "pdf": {"CreationDate": None, "ModDate": None},
    }[fmt]
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "kpitree", "svg.fonttype": "path",
                                "pdf.fonttype": 42}):
        figure.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata, facecolor="white")
    return buffer.getvalue()


# --- Helpers -----------------------------------------------------------------------------------

def _fold(bars: Mapping[str, list[float]], group: str, top: int, noun: str, *,
          keep_order: bool = False) -> list[Step]:
    """Keep the ``top`` largest bars; fold the rest into one exact "other" bar."""
    totals = [(label, math.fsum(values)) for label, values in bars.items()]
    totals = [(label, value) for label, value in totals if value != 0.0]
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


def _wrap(label: str) -> str:
    return "\n".join(textwrap.fill(line, LABEL_WIDTH) for line in label.split("\n"))


def _title_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _statuses(result: Explanation, outer: str | None) -> dict[Any, str]:
    if outer is None or result.segments.empty:
        return {}
    rows = result.segments[result.segments["level"] == outer]
    return {row[outer]: row["status"] for row in rows.to_dict("records")}


def _segment_label(value: Any, status: str) -> str:
    mark = {"entered": "\n(new)", "exited": "\n(gone)"}.get(status, "")
    return f"{value}{mark}"
