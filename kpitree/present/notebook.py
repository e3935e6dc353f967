"""How results display themselves in a notebook: compact HTML that fits a 1000 px cell.

What belongs here: the ``_repr_html_`` views of every result type — an explanation (and a
driver search), a trend, a snapshot, a scenario, a goal seek and the total's volume / mix /
rate bridge: each the headline, the split as a small table and pictures that fit a 1000 px
cell at full size (the tree as its readable pages, :mod:`kpitree.present.tree_pages`, never
shrunk below 10 pt text), with a one-line note instead of a picture when Graphviz or matplotlib
is missing. What does not: the analyses, the sentences (:mod:`kpitree.present.narrative`), the
charts (:mod:`kpitree.present.bridge`, :mod:`kpitree.present.charts`) or the number formatter.
Registered in :mod:`kpitree.present.display`; every value is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.core.errors import MissingExtraError, RenderError
from kpitree.core.formatting import format_value
from kpitree.present.wording import Numbers, segmented, total_parts

if TYPE_CHECKING:
    from kpitree.analysis.scenario import GoalSeek, Scenario, Snapshot
    from kpitree.analysis.totals import TotalExplanation
    from kpitree.analysis.trend import Trend
    from kpitree.core.result import Explanation

__all__ = ["CELL_WIDTH", "explanation_html", "goal_html", "scenario_html", "snapshot_html",
           "total_html", "trend_html"]

CELL_WIDTH = 1000  # px: what a notebook cell shows without scrolling
TREE_PAGES_SHOWN = 2  # the overview pages; the rest are named, not drawn (result.render …)
_STYLE = ('style="border-collapse:collapse;margin:4px 0 8px;font-variant-numeric:'
          'tabular-nums"')


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cell = 'style="padding:2px 10px;text-align:{};border-bottom:1px solid #e0e0e0"'
    head = "".join(f"<th {cell.format('left' if i == 0 else 'right')}>{_e(h)}</th>"
                   for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td {cell.format('left' if i == 0 else 'right')}>"
                                    f"{_e(v)}</td>" for i, v in enumerate(row)) + "</tr>"
                   for row in rows)
    return f"<table {_STYLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _png(png: bytes, dpi: float, alt: str) -> str:
    """A PNG at its natural CSS size, at most the cell's width (charts may shrink a little;
    tree pages are cut to fit so they never do)."""
    width, height = struct.unpack(">II", png[16:24])
    css_w, css_h = round(width * 96 / dpi), round(height * 96 / dpi)
    if css_w > CELL_WIDTH:
        css_w, css_h = CELL_WIDTH, round(css_h * CELL_WIDTH / css_w)
    uri = base64.b64encode(png).decode("ascii")
    return (f'<img src="data:image/png;base64,{uri}" width="{css_w}" height="{css_h}" '
            f'alt="{_e(alt)}" style="max-width:none">')


def _picture(draw: Callable[[], str]) -> str:
    try:
        return draw()
    except (RenderError, MissingExtraError) as exc:
        return f"<p><em>(picture unavailable: {_e(exc)})</em></p>"


def _figure(figure: Any, alt: str) -> str:
    from kpitree.present.style import DPI, save_image

    return _png(save_image(figure, None, "png"), DPI, alt)


def _box(*parts: str) -> str:
    return ('<div class="kpitree" style="max-width:1000px;overflow-x:auto">'
            + "".join(parts) + "</div>")


def _split_rows(numbers: Numbers, totals: dict[str, float], delta: float,
                by: Sequence[str]) -> list[list[str]]:
    names = {"volume": "Volume", "mix": f"Mix ({' × '.join(by)})" if by else "Mix",
             "interaction": "Interaction", "rate": "Rate (drivers)"}
    rows = [[names.get(k, k), numbers.change(v)] for k, v in totals.items()]
    return [*rows, ["Total change", numbers.change(delta)]]


def explanation_html(result: Explanation) -> str:
    """The headline and points, the split, the bridge and the tree's overview pages."""
    from kpitree.present.bridge import render_bridge
    from kpitree.present.narrative import narrate
    from kpitree.present.style import DPI
    from kpitree.present.tree_pages import tree_pages

    narrative = narrate(result)
    numbers = Numbers.of(result.tree)
    items = "".join(f"<li>{_e(line)}</li>" for line in narrative.points)
    cautions = "".join(f'<p style="background:#fff8e1;padding:4px 8px">{_e(line)}</p>'
                       for line in narrative.cautions)

    def bridge() -> str:
        return _png(render_bridge(result, format="png"), DPI, "bridge chart")

    def tree() -> str:
        pages = tree_pages(result, room=(CELL_WIDTH * 0.75, None), dpi=96)  # small files
        shown = "".join(f'<div style="overflow-x:auto">{_png(p.png, p.dpi, p.title)}</div>'
                        for p in pages[:TREE_PAGES_SHOWN])
        rest = pages[TREE_PAGES_SHOWN:]
        more = (f"<p><em>{len(rest)} more tree pictures ({_e(', '.join(p.title for p in rest))})"
                ": <code>kpitree report</code> shows them all; <code>result.render('tree.svg')"
                "</code> writes the whole tree.</em></p>") if rest else ""
        return shown + more

    return _box(f"<p><strong>{_e(narrative.headline)}</strong></p><ul>{items}</ul>{cautions}",
                _table(["Split", "Effect"], _split_rows(numbers, result.totals, result.delta,
                                                        result.by)),
                _picture(bridge), _picture(tree))


def trend_html(trend: Trend) -> str:
    """The move over the range, the chained split and the month-over-month bridge."""
    numbers = Numbers.of(trend.tree)
    head = (f"{trend.tree.title}: {numbers.move(trend.first, trend.last, trend.delta)}, "
            f"{trend.periods[0]} → {trend.periods[-1]} ({len(trend.steps)} steps, "
            f"{segmented(trend.by)}, method {trend.method})")
    return _box(f"<p><strong>{_e(head)}</strong></p>",
                _table(["Chained split", "Effect"],
                       _split_rows(numbers, trend.chained_totals, trend.delta, trend.by)),
                _picture(lambda: _figure(trend.bridge_chart(), "trend bridge")))


def snapshot_html(snap: Snapshot) -> str:
    """One period's root and its value and share per outer segment."""
    numbers = Numbers.of(snap.tree)
    head = (f"{snap.tree.title}: {numbers.root_label} {numbers.value(snap.value)} in "
            f"{snap.name} ({segmented(snap.by)}) — ready for levers: snap.whatif({{…}})")
    rows = []
    if snap.by:
        for row in snap.values(1).to_dict("records"):
            rows.append([str(row[snap.by[0]]), format_value(row["share"], "percent"),
                         numbers.value(row[snap.tree.root])])
    table = _table([snap.by[0] if snap.by else "", "share", numbers.root_label], rows) \
        if rows else ""
    return _box(f"<p><strong>{_e(head)}</strong></p>", table)


def scenario_html(scenario: Scenario) -> str:
    """The scenario's move, its bridge by lever and its chart."""
    from kpitree.present.analysis_text import lever_table

    numbers = Numbers.of(scenario.tree)
    base = scenario.explanation.base.value
    head = (f"What-if on {scenario.actual.period}: "
            f"{numbers.move(base, scenario.value, scenario.delta)}")
    rows = [[str(r["lever"]), numbers.value(r["value"]), numbers.change(r["delta"])]
            for r in lever_table(scenario).to_dict("records")]
    rows.append(["scenario", numbers.value(scenario.value), numbers.change(scenario.delta)])
    return _box(f"<p><strong>{_e(head)}</strong></p>",
                _table(["Lever", f"{numbers.root_label} after", "Change"], rows),
                _picture(lambda: _figure(scenario.chart(), "what-if bridge by lever")))


def goal_html(goal: GoalSeek) -> str:
    """The lever value that reaches the target, and the scenario it makes."""
    from kpitree.present.analysis_text import goal_text

    return _box(f"<p><strong>Goal seek: {_e(goal_text(goal))}</strong></p>",
                scenario_html(goal.scenario))


def total_html(total: TotalExplanation) -> str:
    """Volume, mix and rate of weight × root, and its bridge."""
    numbers = Numbers.of(total.tree)
    label, parts = total_parts(total)
    head = (f"{numbers.move(total.base_value, total.compare_value, total.delta, label=label)}, "
            f"{total.base_period} → {total.compare_period} (method {total.method})")
    rows = [[name, numbers.change(value)] for name, value in parts]
    rows.append(["Total change", numbers.change(total.delta)])
    return _box(f"<p><strong>{_e(head)}</strong></p>", _table(["Part", "Effect"], rows),
                _picture(lambda: _figure(total.chart(), "volume, mix and rate bridge")))
