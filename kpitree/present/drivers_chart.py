"""The chart of a driver search: the named drivers as bars, and the dimension ranking.

What belongs here: :func:`drivers_chart` — one bar per named unit in split order and one for
the rest (the contribution, with its bootstrap interval when there is one; launches and
discontinued values marked; each unit's share of users before → after beside it), and the
dimensions' concentration scores beside them. What does not: the search
(:mod:`kpitree.analysis.drivers`), the palette and saving (:mod:`kpitree.present.style`), the
number formatter (:mod:`kpitree.core.formatting`, through :mod:`kpitree.present.wording`).

Labels come from the data (segment values): they are drawn as plain text, with ``$`` escaped so
matplotlib never reads them as mathtext.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kpitree.core.formatting import format_value
from kpitree.core.optional import require
from kpitree.present.charts import save
from kpitree.present.style import (
    INK,
    MUTED,
    NEUTRAL_BORDER,
    NEUTRAL_FILL,
    STATUS_COLOUR,
    bar_colours,
    new_figure,
)
from kpitree.present.waterfall import heading
from kpitree.present.wording import Numbers

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from kpitree.analysis.drivers_result import Drivers

KIND_NAMES = {"launch": "launch", "mix": "mix shift", "rate": "rate pocket", "rest": "rest"}


def _share(value: float | None) -> str:
    return format_value(value, "percent")


def _t(text: str) -> str:
    """Plain text for matplotlib: a literal ``$`` (labels come from the data)."""
    return text.replace("$", r"\$")


def _ticks(numbers: Numbers) -> object:
    """A tick formatter in the root's unit."""
    ticker = require("matplotlib.ticker", purpose="charts")
    return ticker.FuncFormatter(lambda x, _pos: _t(numbers.value(x)))


WIDTH = 11.0  # inches
ROW = 0.55  # inches per named driver (or ranked dimension)
FRAME = 2.0  # inches of title, notes and axis around the rows
TEXT_PT = 8.0  # the chart's smallest text (tick labels, figures); the heading is larger


def drivers_chart(result: Drivers, path: str | Path | None = None, *, width: float = WIDTH,
                  row_height: float = ROW) -> Figure:
    """Bars of the named drivers (with intervals, launches marked, shares) and the ranking.

    ``width`` and ``row_height`` (inches) size the figure; the text stays 8 pt, so a smaller figure
    shown larger (a slide) reads larger.
    """
    numbers = Numbers.of(result.tree)
    found = result.found
    intervals = result.intervals
    n = len(found)
    ranking = result.ranking
    figure = new_figure(width, row_height * max(n, len(ranking)) + FRAME)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [2.3, 1.0]})
    y = np.arange(n)[::-1]
    values = found["contribution"].to_numpy(dtype=float)
    span = float(np.abs(values).max()) if n else 1.0
    labels = []
    for yi, row in zip(y, found.itertuples(index=False), strict=True):
        value = float(row.contribution)
        colour, edge = bar_colours(value)
        if row.kind == "rest":
            colour, edge = NEUTRAL_FILL, NEUTRAL_BORDER
        hatch = "//" if row.kind == "launch" else None
        left.barh(yi, value, color=colour, edgecolor=edge, linewidth=0.8, height=0.62,
                  hatch=hatch)
        text = numbers.change(value)
        if intervals is not None:
            low, high = intervals.segments[row.segment]
            left.errorbar(value, yi, xerr=[[max(value - low, 0.0)], [max(high - value, 0.0)]],
                          fmt="none", ecolor=INK, elinewidth=0.9, capsize=3)
            if low <= 0 <= high:
                text += "  ≈0?"
            value = high if value >= 0 else low
        left.annotate(_t(text), (value, yi), xytext=(4 if value >= 0 else -4, 0),
                      textcoords="offset points", va="center", fontsize=TEXT_PT, color=INK,
                      ha="left" if value >= 0 else "right")
        badge = {"entered": "NEW", "exited": "GONE"}.get(row.status)
        kind = KIND_NAMES.get(row.kind, row.kind)
        share0 = row.base_share if row.status in ("both", "exited") else None
        share1 = row.compare_share if row.status in ("both", "entered") else None
        shares = f"{_share(share0)} → {_share(share1)}"
        strata = f", within {', '.join(row.strata)}" if row.strata else ""
        name = f"{row.segment}" + (f"  [{badge}]" if badge else "")
        labels.append(_t(f"{name}\n{kind}{strata} · users {shares}"))
    left.set_yticks(y, labels, fontsize=TEXT_PT)
    for tick, row in zip(left.get_yticklabels(), found.itertuples(index=False), strict=True):
        if row.status in ("entered", "exited"):
            tick.set_color(STATUS_COLOUR)
    left.axvline(0, color=INK, linewidth=0.8)
    left.set_xlim(-1.35 * span, 1.35 * span)
    left.xaxis.set_major_formatter(_ticks(numbers))
    left.spines[["top", "right"]].set_visible(False)
    left.grid(axis="x", color="#e6e6e6", linewidth=0.6)
    left.set_axisbelow(True)

    yr = np.arange(len(ranking))[::-1]
    right.barh(yr, ranking["score"].to_numpy(dtype=float), color="#c6dbef",
               edgecolor="#6b8fb5", linewidth=0.6, height=0.6)
    right.set_yticks(yr, [_t(str(d)) for d in ranking["dimension"]], fontsize=TEXT_PT)
    right.xaxis.set_major_formatter(_ticks(numbers))
    right.set_xlabel("Dimensions by concentration (score)", fontsize=TEXT_PT, color=MUTED)
    right.spines[["top", "right"]].set_visible(False)

    base, compare = result.base, result.compare
    notes = [f"{numbers.move(base.value, compare.value, result.delta)}: named drivers + rest "
             "= the change, exactly.", "Hatched: a launched or discontinued value (all mix)."]
    if intervals is not None:
        notes.append(f"Whiskers: {intervals.level:.0%} bootstrap intervals "
                     f"({intervals.replicates} replicates); ≈0? = not distinguishable from noise.")
    with warnings.catch_warnings():  # the two-line tick labels are measured line by line
        warnings.simplefilter("ignore", UserWarning)
        heading(figure, left, f"What moved {numbers.root_label}, {base.period} → {compare.period}: "
                              "the named drivers", notes, width=width * 7.5 / WIDTH)
    return save(figure, path)


__all__ = ["FRAME", "ROW", "TEXT_PT", "WIDTH", "drivers_chart", "drivers_section"]


def drivers_section(result: Drivers) -> tuple[dict[str, object], dict[str, bytes]]:
    """The review pack's section on a driver search (``kpitree report --drivers DIMS``): the
    sentence, the table of named drivers and the chart; and the image file it shows."""
    import base64
    import struct

    from kpitree.present.drivers_table import drivers_sentence
    from kpitree.present.style import DPI, save_image

    numbers = Numbers.of(result.tree)
    png = save_image(drivers_chart(result), None, "png")
    width, height = struct.unpack(">II", png[16:24])
    rows = []
    for row in result.found.itertuples(index=False):
        share0 = row.base_share if row.status in ("both", "exited") else None
        share1 = row.compare_share if row.status in ("both", "entered") else None
        rows.append([str(row.step or ""), KIND_NAMES.get(row.kind, row.kind), row.segment,
                     f"{_share(share0)} → {_share(share1)}", numbers.change(row.mix),
                     numbers.change(row.rate), numbers.change(row.contribution)])
    section: dict[str, object] = {
        "id": "drivers", "title": f"Drivers over {', '.join(result.dims)}",
        "lines": [drivers_sentence(result),
                  "Launches, mix shifts along one dimension (within like users) and rate "
                  "pockets, found by the search of docs/drivers.md; with the rest they add up "
                  "to the change exactly."],
        "header": ["#", "Kind", "Driver", "Share of users", "Mix", "Rate", "Total"],
        "rows": rows, "image": "drivers.png",
        "uri": f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}",
        "size": (round(width * 96 / DPI), round(height * 96 / DPI)),
        "alt": f"Bars of the named drivers of the change in {numbers.root_label}",
    }
    return section, {"drivers.png": png}
