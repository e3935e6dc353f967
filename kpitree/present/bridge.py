"""The bridge (waterfall) chart of an :class:`~kpitree.core.result.Explanation`.

What belongs here: choosing the bars of the explanation's bridge — base value, mix effects,
rate effects by driver or by segment, compare value — and its title and notes. What does not:
any attribution (see :mod:`kpitree.core.attribution`), the drawing and the folding of small bars
(:mod:`kpitree.present.waterfall`, shared by every bridge), the colours, formats and saving
(:mod:`kpitree.present.style`) or number formatting (:mod:`kpitree.present.wording`).
Matplotlib is imported only when a chart is drawn, so the core never loads it.

The bars, left to right::

    base │ mix per outer segment … [inner mix per level] │ [interaction] │ rate per driver
         │   (or per outer segment, ``rate_by="segment"``) │ compare

Bars are exact: every bar is the sum (``math.fsum``) of the effects it stands for, so the base
plus all bars is the compare value. Within the mix group and within the rate group the ``top``
largest bars (by absolute value) are kept and the others are folded into one hatched bar
"other N segments" (or "other N drivers"), never a residual. Effects that are exactly zero (the
rate of a segment present in one period only) get no bar.

The same explanation gives the same bytes (see :mod:`kpitree.present.style`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.core.errors import RenderError
from kpitree.present.style import FORMATS, image_format, save_image
from kpitree.present.waterfall import TOP, Step, fold, waterfall_figure
from kpitree.present.wording import Numbers, marked, segmented, title_case

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from kpitree.core.result import Explanation

RATE_BY = ("component", "segment")

__all__ = ["FORMATS", "RATE_BY", "TOP", "Step", "bridge_figure", "bridge_steps",
           "render_bridge"]


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
    outer = result.by[0] if result.by else None
    status = _statuses(result, outer)

    mix_bars: dict[str, list[float]] = {}
    inner_bars: dict[str, list[float]] = {}
    interaction: dict[str, list[float]] = {}
    rate_bars: dict[str, list[float]] = {}
    for row in result.effects.to_dict("records"):
        value = float(row["value"])
        if row["kind"] == "mix":
            if row["level"] == outer:
                label = marked(str(row[outer]), status.get(row[outer], "both"), sep="\n")
                mix_bars.setdefault(label, []).append(value)
            else:
                inner_bars.setdefault(f"{row['level']} mix\n(within {outer})", []).append(value)
        elif row["kind"] == "interaction":
            interaction.setdefault(f"{row['level']}\ninteraction", []).append(value)
        elif rate_by == "segment" and outer is not None:
            label = marked(str(row[outer]), status.get(row[outer], "both"), sep="\n")
            rate_bars.setdefault(label, []).append(value)
        else:
            rate_bars.setdefault(str(row["label"]), []).append(value)

    noun = f"{outer} segments" if outer else "segments"
    steps = [Step(result.base.period, result.base.value, "start")]
    steps += fold(_sums(mix_bars), group="mix", top=top, noun=noun)
    steps += [Step(label, value, "mix") for label, value in _sums(inner_bars) if value != 0.0]
    steps += [Step(label, value, "interaction") for label, value in _sums(interaction)
              if value != 0.0]
    rate_noun = noun if rate_by == "segment" and outer else "drivers"
    ordered = rate_by == "component" or outer is None  # drivers keep formula order
    steps += fold(_sums(rate_bars), group="rate", top=top, noun=rate_noun, keep_order=ordered)
    steps.append(Step(result.compare.period, result.compare.value, "end"))
    return steps


def bridge_figure(result: Explanation, *, rate_by: str = "component", top: int = TOP) -> Figure:
    """The bridge as a matplotlib :class:`~matplotlib.figure.Figure` (no pyplot, no GUI).

    In Jupyter a returned figure displays itself; :func:`render_bridge` writes it to a file.

    Raises:
        RenderError: see :func:`bridge_steps`.
        MissingExtraError: matplotlib is not installed.
    """
    steps = bridge_steps(result, rate_by=rate_by, top=top)
    # one number of decimals for every bar, from the bars themselves (or the tree's decimals:)
    numbers = Numbers.for_changes(result.tree, [s.value for s in steps[1:-1]])
    dim = result.by[0] if result.by else None
    titles = {
        "mix": f"{title_case(dim)} mix" if dim and len(result.by) == 1 else "Mix",
        "interaction": "Interaction",
        "rate": (f"Rate within {' × '.join(result.by)}, by "
                 + ("segment" if rate_by == "segment" else "driver")
                 if dim else "Rate by driver"),
    }
    title = (f"{result.tree.title}: "
             f"{numbers.move(result.base.value, result.compare.value, result.delta)}")
    notes = [f"{result.base.period} → {result.compare.period}, method {result.method}, "
             f"{segmented(result.by)}. Green raises {numbers.root_label}, red lowers it."]
    return waterfall_figure(steps, numbers, title=title, notes=notes, group_titles=titles)


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
        >>> png = render_bridge(result, "bridge.png")
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    fmt = image_format(path, format, default="png", what="bridge")
    return save_image(bridge_figure(result, rate_by=rate_by, top=top), path, fmt)


def _sums(bars: dict[str, list[float]]) -> list[tuple[str, float]]:
    return [(label, math.fsum(values)) for label, values in bars.items()]


def _statuses(result: Explanation, outer: str | None) -> dict[Any, str]:
    if outer is None or result.segments.empty:
        return {}
    rows = result.segments[result.segments["level"] == outer]
    return {row[outer]: row["status"] for row in rows.to_dict("records")}
