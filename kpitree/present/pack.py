"""The review pack's extras: slides, workbook, what-if / sensitivity / total sections, tree pages.

What belongs here: what :func:`kpitree.present.report.write_report` adds to the HTML report,
its Markdown twin and the folder when asked — the sections of the analyses beyond one
explanation (a what-if bridge by lever, the sensitivity tornado, the total's volume / mix /
rate bridge), each a few lines, a table and a picture; the tree shown as readable pages
(:mod:`kpitree.present.tree_pages`) in the HTML; and the deck and workbook files. What does
not: the report's own content and templates (:mod:`kpitree.present.report`), the analyses
themselves, the slides (:mod:`kpitree.present.deck`) or the sheets
(:mod:`kpitree.present.workbook`).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kpitree.present.wording import Numbers, total_parts

if TYPE_CHECKING:
    import pandas as pd

    from kpitree.analysis.scenario import Scenario
    from kpitree.analysis.totals import TotalExplanation
    from kpitree.core.result import Explanation
    from kpitree.present.tree_layout import Layout

__all__ = ["REPORT_ROOM", "Extras", "extra_files", "extra_sections", "tree_figures"]

# The report's column: 1280 px page, 32 px padding each side, in points (1 px = 0.75 pt).
REPORT_ROOM = ((1280 - 64) * 0.75, None)
CHART_DPI = 150


@dataclass(frozen=True)
class Extras:
    """What to add to a review pack.

    Attributes:
        slides, workbook: also write ``deck.pptx`` / ``workbook.xlsx``.
        scenario: a what-if of the compare period, shown as its bridge by lever.
        sensitivity: a :func:`kpitree.analysis.scenario.sensitivity` table (tornado).
        total: the total's volume/mix/rate bridge (:func:`kpitree.analysis.totals.explain_total`).
        layout: how the tree image is arranged (depth, top children per box).
    """

    slides: bool = False
    workbook: bool = False
    scenario: Scenario | None = None
    sensitivity: pd.DataFrame | None = None
    total: TotalExplanation | None = None
    layout: Layout | None = None


def _uri(png: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}"


def _css_size(png: bytes, dpi: float) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return round(width * 96 / dpi), round(height * 96 / dpi)


def tree_figures(result: Explanation, layout: Layout | None = None) -> list[dict[str, Any]]:
    """The tree as pages that fit the report's column at full size (text ≥ 10 pt)."""
    from kpitree.present.tree_pages import tree_pages

    figures = []
    for page in tree_pages(result, room=REPORT_ROOM, layout=layout):
        figures.append({"name": f"{page.name}.png", "title": page.title,
                        "uri": _uri(page.png), "size": _css_size(page.png, page.dpi),
                        "png": page.png})
    return figures


def extra_sections(result: Explanation, extras: Extras) -> tuple[list[dict[str, Any]],
                                                                  dict[str, bytes]]:
    """The extra sections of the report, and the image files they show."""
    from kpitree.present.style import save_image

    numbers = Numbers.of(result.tree)
    sections: list[dict[str, Any]] = []
    images: dict[str, bytes] = {}

    def add(key: str, title: str, lines: list[str], header: list[str],
            rows: list[list[str]], figure: Any, alt: str) -> None:
        png = save_image(figure, None, "png")
        images[f"{key}.png"] = png
        sections.append({"id": key, "title": title, "lines": lines, "header": header,
                         "rows": rows, "image": f"{key}.png", "uri": _uri(png),
                         "size": _css_size(png, CHART_DPI), "alt": alt})

    if extras.scenario is not None:
        from kpitree.present.analysis_text import lever_table
        from kpitree.present.charts import scenario_chart

        s = extras.scenario
        base = s.explanation.base.value
        rows = [[str(r["lever"]), numbers.value(r["value"]), numbers.change(r["delta"])]
                for r in lever_table(s).to_dict("records")]
        rows.append(["scenario", numbers.value(s.value), numbers.change(s.delta)])
        add("whatif", f"What-if on {s.actual.period}",
            [f"{numbers.move(base, s.value, s.delta)}: the levers applied in order, each "
             "bar what it adds on top of the ones before (exactly adding up to the change)."],
            ["Lever", f"{numbers.root_label} after", "Change"], rows, scenario_chart(s),
            f"What-if bridge by lever from {numbers.value(base)} to {numbers.value(s.value)}")
    if extras.sensitivity is not None:
        from kpitree.present.charts import tornado_chart

        table = extras.sensitivity
        actual = float(table["actual"].iloc[0])
        rows = [[str(r["lever"]), f"{r['elasticity']:+.3f}".replace("-", "−"),
                 numbers.change(r["low_value"] - actual), numbers.change(r["high_value"] - actual)]
                for r in table.head(10).to_dict("records")]
        step = table.attrs.get("step", 0.1)
        add("tornado", f"Sensitivity on {table.attrs.get('period', '')}",
            [f"Each driver and share moved by −/+{step:.0%} alone; ε is the % change of "
             f"{numbers.root_label} per 1 % change of the lever."],
            ["Lever", "ε", f"at −{step:.0%}", f"at +{step:.0%}"], rows,
            tornado_chart(table, result.tree), "Tornado chart of the levers' sensitivity")
    if extras.total is not None:
        from kpitree.present.charts import volume_bridge_chart

        total = extras.total
        weight = total.tree.label(total.tree.weight)
        label, parts = total_parts(total)
        rows = [[name, numbers.change(value)] for name, value in parts]
        rows.append(["total change", numbers.change(total.delta)])
        add("total", f"{label}: volume, mix and rate",
            [f"{numbers.move(total.base_value, total.compare_value, total.delta, label=label)}"
             f" (method {total.method}): volume is the change in {weight} valued at "
             f"{numbers.root_label}; mix and rate are the {numbers.root_label} effects at "
             "volume."],
            ["Part", "Effect"], rows, volume_bridge_chart(total),
            f"Bridge of {label}: volume, mix, rate by driver")
    return sections, images


def extra_files(result: Explanation, extras: Extras, *, rate_by: str,
                top: int | None, drivers: Any = None) -> dict[str, bytes]:
    """``deck.pptx`` and ``workbook.xlsx``, when asked (the deck with a slide of ``drivers``,
    a driver search, when given)."""
    from kpitree.core.progress import report

    files: dict[str, bytes] = {}
    if extras.slides:
        report("slides", None)
        from kpitree.present.deck import build_deck

        files["deck.pptx"] = build_deck(result, rate_by=rate_by, top=top,
                                        scenario=extras.scenario, total=extras.total,
                                        sensitivity=extras.sensitivity, drivers=drivers)
        report("slides", 1.0)
    if extras.workbook:
        from kpitree.present.workbook import build_workbook

        report("workbook", None)
        files["workbook.xlsx"] = build_workbook(result, rate_by=rate_by, top=top,
                                                scenario=extras.scenario, total=extras.total)
        report("workbook", 1.0)
    return files
