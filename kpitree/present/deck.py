"""The review pack's slides (``kpitree report --pptx``): a deck a finance lead can present.

What belongs here: laying out an :class:`~kpitree.core.result.Explanation` (and, when given, a
what-if scenario and the total's volume/mix/rate bridge) as 16:9 slides with python-pptx —
title, headline and narrative with the split, the bridge, the tree in readable pages, the
largest effects, the segments per level, the extra analyses and the method — with type sizes
for a projector (titles 28 pt, body 18–20 pt, tables at least 14 pt, pictures never showing
text under 10 pt). What does not: choosing the bridge's bars (:mod:`kpitree.present.bridge`),
the tree's pages (:mod:`kpitree.present.tree_pages`), the sentences
(:mod:`kpitree.present.narrative`) or any number formatting (every figure on a slide is the
text of :class:`~kpitree.present.wording.Numbers`, so it reads as in the report).
python-pptx is imported only when a deck is written.

The same inputs give the same bytes (fixed document dates and zip times,
:func:`kpitree.present.office.stable_zip`).
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.core.optional import require
from kpitree.present.office import FIXED_TIME, stable_zip, write_office_file
from kpitree.present.style import DPI
from kpitree.present.style import TEXT_SIZE as TEXT_SIZE_PT
from kpitree.present.wording import Numbers, marked, segmented, total_parts

if TYPE_CHECKING:
    from kpitree.analysis.drivers_result import Drivers
    from kpitree.analysis.scenario import Scenario
    from kpitree.analysis.totals import TotalExplanation
    from kpitree.core.result import Explanation

__all__ = ["BODY_SIZE", "MIN_TEXT_PT", "SLIDE", "TABLE_SIZE", "TITLE_SIZE", "build_deck",
           "segment_rows", "slide_bars", "slide_room", "write_deck"]

SLIDE = (13.333, 7.5)  # inches, 16:9
MARGIN = 0.45
TITLE_SIZE = 28
BODY_SIZE = 20
TABLE_SIZE = 14
NOTE_SIZE = 14
MIN_TEXT_PT = 10.0  # no text on a slide, pictures included, is shown smaller than this
TABLE_ROWS = 12  # rows of a segments table before the smallest fold into an exact "other N"
FONT = "Arial"
INK = (0x22, 0x22, 0x22)
MUTED = (0x55, 0x55, 0x55)
UP = (0x1A, 0x98, 0x50)
DOWN = (0xD7, 0x30, 0x27)
HEADER_FILL = (0xF2, 0xF2, 0xF2)
CAUTION_FILL = (0xFF, 0xF8, 0xE1)
TREE_TOP = 0.25  # inches above a tree page's picture


@dataclass
class _Deck:
    """The presentation being built and the python-pptx pieces it needs."""

    prs: Any
    pptx: Any
    numbers: Numbers

    def inches(self, value: float) -> Any:
        return self.pptx.util.Inches(value)

    def slide(self, title: str | None, *, notes: str = "") -> Any:
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[6])  # blank
        if title:
            self.text(slide, title, MARGIN, 0.3, SLIDE[0] - 2 * MARGIN, 0.9, size=TITLE_SIZE,
                      bold=True)
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
        return slide

    def text(self, slide: Any, text: str | Sequence[str], left: float, top: float,
             width: float, height: float, *, size: float = BODY_SIZE, bold: bool = False,
             colour: tuple[int, int, int] = INK, bullets: bool = False,
             fill: tuple[int, int, int] | None = None) -> Any:
        box = slide.shapes.add_textbox(self.inches(left), self.inches(top), self.inches(width),
                                       self.inches(height))
        frame = box.text_frame
        frame.word_wrap = True
        if fill is not None:
            box.fill.solid()
            box.fill.fore_color.rgb = self.rgb(fill)
        lines = [text] if isinstance(text, str) else list(text)
        for i, line in enumerate(lines):
            paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            run = paragraph.add_run()
            run.text = f"•  {line}" if bullets else line
            self.font(run.font, size=size, bold=bold, colour=colour)
            if bullets:
                paragraph.space_after = self.pptx.util.Pt(8)
        return box

    def font(self, font: Any, *, size: float, bold: bool = False,
             colour: tuple[int, int, int] = INK) -> None:
        font.name = FONT
        font.size = self.pptx.util.Pt(size)
        font.bold = bold
        font.color.rgb = self.rgb(colour)

    def rgb(self, colour: tuple[int, int, int]) -> Any:
        return self.pptx.dml.color.RGBColor(*colour)

    def picture(self, slide: Any, png: bytes, *, dpi: float, top: float = 1.25,
                largest: float | None = None) -> float:
        """Place a PNG centred below the title, as large as fits (but at most ``largest`` times
        its natural size at ``dpi``); return the scale it is shown at."""
        width_px, height_px = struct.unpack(">II", png[16:24])
        natural = (width_px / dpi, height_px / dpi)
        room = (SLIDE[0] - 2 * MARGIN, SLIDE[1] - top - 0.25)
        scale = min(room[0] / natural[0], room[1] / natural[1])
        if largest is not None:
            scale = min(scale, largest)
        width, height = natural[0] * scale, natural[1] * scale
        slide.shapes.add_picture(io.BytesIO(png), self.inches((SLIDE[0] - width) / 2),
                                 self.inches(top), self.inches(width), self.inches(height))
        return scale

    def table(self, slide: Any, header: Sequence[str], rows: Sequence[Sequence[str]], *,
              widths: Sequence[float], top: float = 1.3, size: float = TABLE_SIZE,
              bold_last: bool = False, signs: Sequence[int] = (),
              left_columns: int = 1) -> Any:
        """A native table (text stays text: selectable, searchable, never a picture)."""
        height = 0.42 * (len(rows) + 1)
        left = (SLIDE[0] - sum(widths)) / 2
        shape = slide.shapes.add_table(len(rows) + 1, len(header), self.inches(left),
                                       self.inches(top), self.inches(sum(widths)),
                                       self.inches(height))
        table = shape.table
        table.first_row = True
        for c, width in enumerate(widths):
            table.columns[c].width = self.inches(width)
        for r, values in enumerate([header, *rows]):
            for c, value in enumerate(values):
                cell = table.cell(r, c)
                cell.fill.solid()
                cell.fill.fore_color.rgb = self.rgb(HEADER_FILL if r == 0 else (255, 255, 255))
                cell.margin_top = cell.margin_bottom = self.inches(0.03)
                paragraph = cell.text_frame.paragraphs[0]
                paragraph.alignment = (self.pptx.enum.text.PP_ALIGN.LEFT if c < left_columns else
                                       self.pptx.enum.text.PP_ALIGN.RIGHT)
                run = paragraph.add_run()
                run.text = value
                colour = INK
                if r and c in signs:
                    colour = UP if value.startswith("+") else DOWN if value.startswith("−") \
                        else INK
                self.font(run.font, size=size,
                          bold=r == 0 or (bold_last and r == len(rows)), colour=colour)
        return table


def build_deck(result: Explanation, *, rate_by: str = "component", top: int | None = None,
               scenario: Scenario | None = None, total: TotalExplanation | None = None,
               sensitivity: Any = None, drivers: Drivers | None = None) -> bytes:
    """The deck of ``result`` as .pptx bytes.

    Args:
        result: an explanation from :func:`kpitree.explain`.
        rate_by, top: the bridge's rate bars and bars kept per group (as in the report).
        scenario: a what-if (:class:`kpitree.analysis.scenario.Scenario`) to add, its bridge
            by lever and its table.
        total: the volume/mix/rate bridge of the total
            (:func:`kpitree.analysis.totals.explain_total`) to add.
        sensitivity: a :func:`kpitree.analysis.scenario.sensitivity` table to add as a tornado.
        drivers: a driver search (:func:`kpitree.drivers`, ``report --drivers``) to add as the
            chart of its named drivers, their sentence in the notes.

    Raises:
        MissingExtraError: python-pptx (or matplotlib, Graphviz's package) is not installed.
        RenderError: Graphviz's ``dot`` missing or failing.
    """
    from kpitree.present.bridge import TOP, render_bridge
    from kpitree.present.narrative import narrate
    from kpitree.present.tree_pages import tree_pages
    from kpitree.present.wording import COMMON_NOTE, METHOD_NOTES

    pptx = require("pptx", purpose="the slides")
    require("pptx.util", purpose="the slides")
    require("pptx.dml.color", purpose="the slides")
    require("pptx.enum.text", purpose="the slides")
    prs = pptx.Presentation()
    prs.slide_width, prs.slide_height = pptx.util.Inches(SLIDE[0]), pptx.util.Inches(SLIDE[1])
    props = prs.core_properties
    props.created = props.modified = FIXED_TIME
    props.last_printed = FIXED_TIME
    props.revision = 1
    props.author = props.last_modified_by = "kpitree"
    props.title = f"{result.tree.title}: {result.base.period} → {result.compare.period}"
    deck = _Deck(prs, pptx, Numbers.of(result.tree))
    numbers = deck.numbers
    method_note = f"{METHOD_NOTES.get(result.method, '')} {COMMON_NOTE}".strip()

    _title_slide(deck, result)
    _summary_slide(deck, result, narrate(result), notes=method_note)
    # the bridge carries its own title: the chart takes the whole slide
    slide = deck.slide(None, notes=f"Bridge {result.base.period} → {result.compare.period}: "
                       "base value, the mix effects, the rate effects, the compare value. "
                       "Hatched bars sum smaller effects exactly.")
    bars = slide_bars(result, rate_by=rate_by, top=TOP if top is None else top)
    deck.picture(slide, render_bridge(result, format="png", rate_by=rate_by, top=bars),
                 dpi=DPI, top=TREE_TOP)
    # a tree page carries its own title: the picture takes the whole slide
    room = slide_room()
    for page in tree_pages(result, room=(room[0] * 72, room[1] * 72)):
        slide = deck.slide(None, notes=f"{page.title}. Bold figures are contributions to the "
                           f"{numbers.root_label} change; children add up to their parent.")
        # pages are cut to fit at full size (tree_pages); a small page is not blown up
        deck.picture(slide, page.png, dpi=page.dpi, top=TREE_TOP, largest=1.6)
    _effects_slide(deck, result)
    for depth, level in enumerate(result.by):
        _segments_slide(deck, result, level, depth)
    if drivers is not None:
        _drivers_slide(deck, drivers)
    if scenario is not None:
        _scenario_slides(deck, scenario)
    if sensitivity is not None:
        _tornado_slide(deck, sensitivity, result)
    if total is not None:
        _total_slides(deck, total)
    slide = deck.slide("Method")
    deck.text(slide, [METHOD_NOTES.get(result.method, ""), COMMON_NOTE], MARGIN, 1.3,
              SLIDE[0] - 2 * MARGIN, 5.5, size=18)
    out = io.BytesIO()
    prs.save(out)
    return stable_zip(out.getvalue())


def write_deck(result: Explanation, path: str | Path, **options: Any) -> Path:
    """Write :func:`build_deck` to ``path`` and return it.

    Raises:
        RenderError: ``path`` cannot be written.
    """
    return write_office_file(path, build_deck(result, **options))


# --- Slides -------------------------------------------------------------------------------------

def slide_room(top: float = TREE_TOP) -> tuple[float, float]:
    """The inches a picture below ``top`` may fill on a slide."""
    return SLIDE[0] - 2 * MARGIN, SLIDE[1] - top - 0.25


def slide_bars(result: Explanation, *, rate_by: str, top: int) -> int:
    """Bars kept per group on the bridge slide: at most ``top``, fewer where the bridge would
    otherwise be shown so small that its text reads under :data:`MIN_TEXT_PT` (the folded
    bars sum exactly, so the story is the report's)."""
    from kpitree.present.bridge import bridge_steps
    from kpitree.present.waterfall import HEIGHT, figure_width

    width, height = slide_room()
    for bars in range(top, 1, -1):
        scale = min(width / figure_width(len(bridge_steps(result, rate_by=rate_by, top=bars))),
                    height / HEIGHT)
        if TEXT_SIZE_PT * scale >= MIN_TEXT_PT:
            return bars
    return 1


def _drivers_slide(deck: _Deck, drivers: Drivers) -> None:
    """The named drivers' chart, sized so its 8 pt text shows at :data:`MIN_TEXT_PT` or more;
    the sentence in the notes."""
    from kpitree.present.drivers_chart import FRAME, ROW, TEXT_PT, drivers_chart
    from kpitree.present.drivers_table import drivers_sentence
    from kpitree.present.style import save_image

    grow = MIN_TEXT_PT / TEXT_PT  # the picture is shown at least this much larger
    width, height = slide_room()
    rows = max(len(drivers.found), len(drivers.ranking), 1)
    row_height = min(ROW, max((height / grow - FRAME) / rows, 0.3))
    png = save_image(drivers_chart(drivers, width=width / grow, row_height=row_height), None,
                     "png")
    slide = deck.slide(None, notes=drivers_sentence(drivers))
    deck.picture(slide, png, dpi=DPI, top=TREE_TOP)


def _title_slide(deck: _Deck, result: Explanation) -> None:
    numbers = deck.numbers
    slide = deck.slide(None)
    width = SLIDE[0] - 2 * 0.9
    deck.text(slide, result.tree.title, 0.9, 2.2, width, 1.2, size=40, bold=True)
    deck.text(slide, numbers.move(result.base.value, result.compare.value, result.delta),
              0.9, 3.4, width, 0.9, size=28,
              colour=UP if result.delta > 0 else DOWN if result.delta < 0 else INK)
    deck.text(slide, f"{result.base.period} → {result.compare.period} · method {result.method} "
                     f"· {segmented(result.by)}", 0.9, 4.3, width, 0.7, size=20, colour=MUTED)


def _summary_slide(deck: _Deck, result: Explanation, narrative: Any, *, notes: str) -> None:
    numbers = deck.numbers
    slide = deck.slide(narrative.headline, notes=notes)
    deck.text(slide, list(narrative.points), MARGIN, 1.35, 7.9, 5.0, size=BODY_SIZE,
              bullets=True)
    totals = result.totals
    rows = [[f"Mix ({' × '.join(result.by)})" if result.by else "Mix",
             numbers.change(totals.get("mix", 0.0))]]
    if "interaction" in totals:
        rows.append(["Interaction", numbers.change(totals["interaction"])])
    rows.append(["Rate (drivers)", numbers.change(totals.get("rate", 0.0))])
    rows.append(["Total change", numbers.change(result.delta)])
    shape_top = 1.4
    table = deck.table(slide, ["Split", "Effect"], rows, widths=[2.6, 1.6], top=shape_top,
                       size=18, bold_last=True, signs=[1])
    del table
    # the table is centred by default; move it to the right column
    shape = slide.shapes[-1]
    shape.left = deck.inches(SLIDE[0] - MARGIN - 4.2)
    if narrative.cautions:
        deck.text(slide, list(narrative.cautions), MARGIN, 6.0, SLIDE[0] - 2 * MARGIN, 1.2,
                  size=16, fill=CAUTION_FILL)


def _effects_slide(deck: _Deck, result: Explanation, n: int = 10) -> None:
    numbers = deck.numbers
    tree = result.tree
    rows = []
    for row in result.top_effects(n).to_dict("records"):
        segment = ", ".join(f"{d}={row[d]}" for d in result.by if row.get(d) is not None)
        what = (f"{row['level']} mix" if row["kind"] == "mix" else
                f"{row['level']} interaction" if row["kind"] == "interaction"
                else " → ".join(tree.label(node) for node in row["path"][1:]))
        rows.append([segment or "all", what, numbers.change(row["value"])])
    slide = deck.slide(f"The {len(rows)} largest effects",
                       notes="Every effect of the change is in effects.csv and the workbook.")
    deck.table(slide, ["Segment", "Effect", numbers.root_label], rows,
               widths=[4.6, 5.0, 2.2], signs=[2], left_columns=2)


def segment_rows(result: Explanation, level: str, *,
                 limit: int = TABLE_ROWS) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The segments of ``level`` a table shows: the ``limit`` largest by |mix + inner mix +
    rate (+ interaction)|, name order, and the rest summed exactly into one "other N" row."""
    frame = result.segments
    effects = [c for c in ("mix", "inner_mix", "rate", "interaction", "inner_interaction")
               if c in frame.columns]
    rows = [dict(s) for s in frame[frame["level"] == level].to_dict("records")
            if s["status"] != "empty"]
    for s in rows:
        s["total"] = math.fsum(float(s[c]) for c in effects)
    rows.sort(key=lambda s: str(s["segment"]))
    if len(rows) <= limit + 1:
        return rows, None
    ranked = sorted(rows, key=lambda s: (-abs(s["total"]), str(s["segment"])))
    kept = {id(s) for s in ranked[:limit]}
    shown = [s for s in rows if id(s) in kept]
    rest = [s for s in rows if id(s) not in kept]
    other = {c: math.fsum(float(s[c]) for s in rest) for c in [*effects, "total"]}
    other["count"] = len(rest)
    return shown, other


def _segments_slide(deck: _Deck, result: Explanation, level: str, depth: int) -> None:
    numbers = deck.numbers
    rows, other = segment_rows(result, level)
    inner = depth < len(result.by) - 1
    b, c = result.base.period, result.compare.period
    header = [level, f"share {b} → {c}", f"{numbers.root_label} {b} → {c}", "mix",
              *(["inner mix"] if inner else []), "rate", "total"]
    body = []
    for s in rows:
        name = ", ".join(str(v) for v in s["segment"].values())
        cells = [marked(name, s["status"]),
                 f"{_pct(s['base_share'])} → {_pct(s['compare_share'])}",
                 f"{numbers.value(s['base_value'])} → {numbers.value(s['compare_value'])}",
                 numbers.change(s["mix"] + s.get("interaction", 0.0))]
        if inner:
            cells.append(numbers.change(s["inner_mix"] + s.get("inner_interaction", 0.0)))
        body.append([*cells, numbers.change(s["rate"]), numbers.change(s["total"])])
    if other is not None:
        cells = [f"other {other['count']} segments", "", "",
                 numbers.change(other["mix"] + other.get("interaction", 0.0))]
        if inner:
            cells.append(numbers.change(other["inner_mix"] + other.get("inner_interaction", 0.0)))
        body.append([*cells, numbers.change(other["rate"]), numbers.change(other["total"])])
    within = f" (shares within each {result.by[depth - 1]})" if depth else ""
    widths = [3.0, 2.4, 2.9, 1.3, *([1.3] if inner else []), 1.3, 1.3]
    scale = min(1.0, (SLIDE[0] - 2 * MARGIN) / sum(widths))
    size = TABLE_SIZE if len(body) <= 12 else 12
    slide = deck.slide(f"Segments by {level}{within}",
                       notes="Each segment's whole effect is its mix + inner mix + rate.")
    deck.table(slide, header, body, widths=[w * scale for w in widths], size=size,
               signs=list(range(3, len(header))))


def _scenario_slides(deck: _Deck, scenario: Scenario) -> None:
    from kpitree.present.charts import scenario_chart
    from kpitree.present.style import save_image

    numbers = deck.numbers
    table = scenario.by_lever()
    rows = [[str(r["lever"]), numbers.value(r["value"]), numbers.change(r["delta"])]
            for r in table.to_dict("records")]
    rows.append(["scenario − actual", numbers.value(scenario.value),
                 numbers.change(scenario.delta)])
    move = numbers.move(scenario.explanation.base.value, scenario.value, scenario.delta)
    slide = deck.slide(f"What-if on {scenario.actual.period}: {move}",
                       notes="Each lever is applied on top of the ones before; the steps add up "
                             "to the scenario's change.")
    deck.table(slide, ["Lever", f"{numbers.root_label} after", "change"], rows,
               widths=[6.2, 2.4, 2.2], bold_last=True, signs=[2])
    slide = deck.slide("What-if bridge by lever")
    deck.picture(slide, save_image(scenario_chart(scenario), None, "png"), dpi=150)


def _tornado_slide(deck: _Deck, table: Any, result: Explanation) -> None:
    from kpitree.present.charts import tornado_chart
    from kpitree.present.style import save_image

    slide = deck.slide("Sensitivity: what moves the metric most")
    figure = tornado_chart(table, result.tree)
    deck.picture(slide, save_image(figure, None, "png"), dpi=150)


def _total_slides(deck: _Deck, total: TotalExplanation) -> None:
    from kpitree.present.charts import volume_bridge_chart
    from kpitree.present.style import save_image

    numbers = deck.numbers
    label, parts = total_parts(total)
    rows = [[name, numbers.change(value)] for name, value in parts]
    rows.append(["Total change", numbers.change(total.delta)])
    slide = deck.slide(numbers.move(total.base_value, total.compare_value, total.delta,
                                    label=label),
                       notes="Volume: the change in the weight valued at the root; mix and "
                             "rate: the root's effects scaled to the total.")
    deck.table(slide, ["Volume, mix, rate", "Effect"], rows, widths=[5.0, 2.6], bold_last=True,
               signs=[1])
    slide = deck.slide(f"{label}: volume, mix and rate")
    deck.picture(slide, save_image(volume_bridge_chart(total), None, "png"), dpi=150)


def _pct(value: float | None) -> str:
    from kpitree.core.formatting import format_value

    return format_value(value, "percent")
