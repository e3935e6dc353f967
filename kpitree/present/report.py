"""The monthly review pack: a self-contained HTML report, its Markdown twin, images and CSV.

What belongs here: gathering what the report shows — the narrative
(:mod:`kpitree.present.narrative`), the annotated tree (:mod:`kpitree.present.tree_image`), the
bridge (:mod:`kpitree.present.bridge`), the per-segment table and the method note — and filling
the Jinja2 templates in ``kpitree/present/templates/``. What does not: any attribution or number
formatting (every figure goes through :mod:`kpitree.core.formatting`). Jinja2 and matplotlib are
imported only when a report is written, so the core never loads them.

:func:`write_report` writes into one folder::

    report.html   self-contained: images embedded as data: URIs, no network, no JavaScript
    report.md     the same content for wikis, pointing at the image files
    tree.png  tree.svg  bridge.png  bridge.svg
    effects.csv   the tidy effects table (path joined with "/"), sums exactly to the change

Writing the same explanation twice gives byte-identical files: nothing in them depends on the
clock, the machine or the output folder.
"""

from __future__ import annotations

import base64
import html
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.core.errors import MissingExtraError, RenderError
from kpitree.core.files import output_folder, write_folder
from kpitree.core.formatting import format_pct_change, format_value
from kpitree.core.frames import export_effects
from kpitree.core.optional import require
from kpitree.core.safety import csv_safe, markdown, markdown_code, safe_filename
from kpitree.present.pack import Extras, extra_files, extra_sections, tree_figures
from kpitree.present.style import DPI, image_bytes
from kpitree.present.wording import COMMON_NOTE, METHOD_NOTES, Numbers, status_word

if TYPE_CHECKING:
    from kpitree.core.result import Explanation
    from kpitree.present.narrative import Narrative

TREE_DPI = 144  # the PNG tree; shown at 96 dpi size in the HTML, so it stays sharp
IMAGE_NAMES = ("tree.png", "tree.svg", "bridge.png", "bridge.svg")

__all__ = ["IMAGE_NAMES", "Report", "build_report", "explanation_html", "render_html",
           "render_markdown",
           "write_report"]


@dataclass(frozen=True)
class Report:
    """Everything the templates show, already formatted (strings), plus the image bytes."""

    context: dict[str, Any]
    images: dict[str, bytes]
    effects_csv: str


def build_report(result: Explanation, *, rate_by: str = "component",
                 top: int | None = None) -> Report:
    """Draw the images and format every figure the report shows.

    Args:
        result: an explanation from :func:`kpitree.explain`.
        rate_by: the bridge's rate bars, ``component`` (drivers) or ``segment``.
        top: bars kept per group of the bridge (default :data:`kpitree.present.bridge.TOP`).

    Raises:
        RenderError: Graphviz's ``dot`` missing or failing.
        MissingExtraError: Jinja2, the ``graphviz`` package or matplotlib is not installed.
    """
    from kpitree.present.bridge import TOP, bridge_figure
    from kpitree.present.narrative import narrate
    from kpitree.present.tree_image import render_explanation

    require("jinja2", purpose="the report")  # first: the hint names the extra with all three
    top = TOP if top is None else top
    # The bridge is drawn once and saved twice; SVG first, since saving a PNG first changes
    # the SVG's clip-path ids (the bytes then match a bridge drawn on its own).
    bridge = bridge_figure(result, rate_by=rate_by, top=top)
    bridge_svg = image_bytes(bridge, "svg")
    images = {
        "tree.png": render_explanation(result, format="png", dpi=TREE_DPI),
        "tree.svg": render_explanation(result, format="svg"),
        "bridge.png": image_bytes(bridge, "png"),
        "bridge.svg": bridge_svg,
    }
    table = export_effects(result.effects, result.base.period, result.compare.period)
    effects_csv = csv_safe(table).to_csv(index=False, lineterminator="\n")
    context = _context(result, narrate(result), images, rate_by=rate_by)
    return Report(context=context, images=images, effects_csv=effects_csv)


def render_html(report: Report) -> str:
    """The self-contained HTML page of a report."""
    return _environment(html=True).get_template("report.html.j2").render(**report.context)


def render_markdown(report: Report) -> str:
    """The Markdown version of a report (images referenced as files next to it)."""
    return _environment(html=False).get_template("report.md.j2").render(**report.context)


def write_report(result: Explanation, out: str | Path, *, rate_by: str = "component",
                 top: int | None = None, extras: Extras | None = None,
                 drivers: Explanation | None = None) -> list[Path]:
    """Write the review pack into the folder ``out`` (created if needed); return the paths.

    ``drivers`` (a :func:`kpitree.drivers` result) adds its section: the named drivers' sentence,
    table and chart (``drivers.png``). ``extras`` (:class:`kpitree.present.pack.Extras`) adds
    the slides (``deck.pptx``), the
    workbook (``workbook.xlsx``) and the what-if, sensitivity and total sections; the HTML
    shows a large tree as pages that keep its text at 10 pt (:mod:`kpitree.present.pack`).

    Every file is written into a temporary folder beside ``out`` first and moved into place
    only when all are written (:func:`kpitree.core.files.write_folder`): a failure part-way
    leaves the previous pack untouched.

    Raises:
        WriteError: the folder name is empty, or the folder cannot be created or written.
        RenderError: an image cannot be drawn.

    Example:
        >>> paths = write_report(result, "out/2026-10")
        >>> [p.name for p in paths][:7]
        ['report.html', 'report.md', 'tree.png', 'tree.svg', 'bridge.png', 'bridge.svg', \
'effects.csv']
        >>> [p.name for p in paths][7:]  # the tree's pages, which the Markdown shows
        ['tree-overview.png', 'tree-rate-tier-starter.png', 'tree-rate-tier-team.png', \
'tree-rate-tier-pro.png', 'tree-rate-tier-enterprise.png']
    """
    folder = output_folder(out)  # refuses '' (which would write into the current folder)
    report = build_report(result, rate_by=rate_by, top=top)
    extras = extras or Extras()
    sections, section_images = extra_sections(result, extras)
    if drivers is not None:  # ``report --drivers DIMS``: the driver search's own section
        from kpitree.present.drivers_chart import drivers_section

        section, image = drivers_section(drivers)  # type: ignore[arg-type]
        sections.append(section)
        section_images.update(image)
    pages = tree_figures(result, extras.layout)
    page_files = tree_page_files(pages)
    report.context.update(sections=sections, tree_pages=pages)
    files: dict[str, bytes] = {
        "report.html": render_html(report).encode("utf-8"),
        "report.md": render_markdown(report).encode("utf-8"),
        **report.images,
        "effects.csv": report.effects_csv.encode("utf-8"),
        **section_images,
        **page_files,
        **extra_files(result, extras, rate_by=rate_by, top=top, drivers=drivers),
    }
    # All files at once (kpitree.core.files): a failure leaves the previous pack untouched.
    return write_folder(folder, files)


def tree_page_files(pages: list[dict[str, Any]]) -> dict[str, bytes]:
    """The tree's pages as files for the Markdown (``tree-overview.png`` …), when the tree is
    shown in more than one page; each page's ``file`` is set to its (unique) name."""
    if len(pages) < 2:
        return {}
    files: dict[str, bytes] = {}
    for page in pages:
        stem = safe_filename(page["name"].removesuffix(".png"), default="tree-page")
        name, n = f"{stem}.png", 1
        while name in files:  # two slugs alike (``pro EU`` and ``pro-eu``), or cut short
            n += 1
            name = f"{stem}-{n}.png"
        page["file"] = name
        files[name] = page["png"]
    return files


# --- The template context ----------------------------------------------------------------------

def _context(result: Explanation, narrative: Narrative, images: Mapping[str, bytes], *,
             rate_by: str) -> dict[str, Any]:
    tree = result.tree
    numbers = Numbers.of(tree)
    money, change = numbers.value, numbers.change
    drivers = [(tuple(d.path), d.label) for d in tree.drivers]
    parts = {(_key(row["segment"]), tuple(row["path"])): (row["base"], row["compare"])
             for row in result.parts.to_dict("records")}

    def components(segment: Mapping[str, Any]) -> list[str]:
        cells = []
        for path, _label in drivers:
            base, compare = parts.get((_key(segment), path), (None, None))
            cells.append(f"{numbers.node_value(path[-1], base)} → "
                         f"{numbers.node_value(path[-1], compare)}")
        return cells

    sequential = result.method == "sequential"
    levels = []
    for depth, level in enumerate(result.by):
        rows = [s for s in result.segments.to_dict("records")
                if s["level"] == level and s["status"] != "empty"]
        rows.sort(key=lambda s: tuple(str(s["segment"][d]) for d in result.by[:depth + 1]))
        rows = fold_segments(rows, nested=depth > 0)  # a person reads the largest; sums exact
        levels.append({
            "name": level,
            "within": result.by[depth - 1] if depth else None,
            "rows": [{
                "segment": ", ".join(str(v) for v in s["segment"].values()),
                "status": status_word(s["status"]),
                "share_base": format_value(s["base_share"], "percent"),
                "share_compare": format_value(s["compare_share"], "percent"),
                "value_base": money(s["base_value"]),
                "value_compare": money(s["compare_value"]),
                # DESIGN §4a: a segment's change is mix + inner mix + [interaction] + rate
                "mix": change(s["mix"]),
                "inner_mix": change(s["inner_mix"]),
                "rate": change(s["rate"]),
                "interaction": change(float(s["interaction"]) + float(s["inner_interaction"])),
                "sign": _sign(float(s["mix"]) + float(s["inner_mix"]) + float(s["rate"])
                              + float(s["interaction"]) + float(s["inner_interaction"])),
                # driver values are kept per outer segment (Explanation.parts)
                "components": components(s["segment"]) if depth == 0 else [],
            } for s in rows],
            "drivers": [label for _path, label in drivers] if depth == 0 else [],
        })
    totals = result.totals
    total_row = {
        "segment": "All", "status": "", "share_base": format_value(1.0, "percent"),
        "share_compare": format_value(1.0, "percent"),
        "value_base": money(result.base.value), "value_compare": money(result.compare.value),
        "mix": change(_level_mix(result, 0)), "inner_mix": change(_level_mix(result, 1)),
        "rate": change(totals.get("rate", 0.0)),
        "interaction": change(totals.get("interaction", 0.0)), "sign": _sign(result.delta),
        "components": components({}),
    }
    top = result.top_effects(10)
    largest = []
    for row in top.to_dict("records"):
        segment = {d: row[d] for d in result.by if row.get(d) is not None}
        largest.append({
            "kind": row["kind"],
            "segment": ", ".join(f"{d}={v}" for d, v in segment.items()) or "all",
            "what": (f"{row['level']} mix" if row["kind"] == "mix" else
                     f"{row['level']} interaction" if row["kind"] == "interaction"
                     else " → ".join(tree.label(n) for n in row["path"][1:])),
            "value": change(row["value"]), "sign": _sign(float(row["value"])),
        })
    split = [{"name": f"Mix ({' × '.join(result.by)})" if result.by else "Mix",
              "value": change(totals.get("mix", 0.0))},
             *([{"name": "Interaction", "value": change(totals["interaction"])}]
               if "interaction" in totals else []),
             {"name": "Rate (drivers)", "value": change(totals.get("rate", 0.0))},
             {"name": "Total change", "value": change(result.delta)}]
    return {
        "title": tree.title,
        "tree_name": tree.name,
        "metric": numbers.root_label,
        "weight": tree.label(tree.weight),
        "base": result.base.period,
        "compare": result.compare.period,
        "base_value": money(result.base.value),
        "compare_value": money(result.compare.value),
        "delta": change(result.delta),
        "pct": format_pct_change(result.base.value, result.compare.value),
        "sign": _sign(result.delta),
        "method": result.method,
        "nested": len(result.by) > 1,
        "by": " × ".join(result.by) if result.by else "no segments",
        "rate_by": "segment" if rate_by == "segment" and result.by else "driver",
        "narrative": narrative,
        "split": split,
        "levels": levels,
        "total_row": total_row,
        "drivers": [label for _path, label in drivers],
        "sequential": sequential,
        "largest": largest,
        "method_note": METHOD_NOTES.get(result.method, ""),
        "common_note": COMMON_NOTE,
        "images": {name.replace(".", "_"): _data_uri(name, data)
                   for name, data in images.items() if name.endswith(".png")},
        "sizes": {name.replace(".", "_"): _png_css_size(name, data)
                  for name, data in images.items() if name.endswith(".png")},
        "version": _version(),
    }


MAX_SEGMENT_ROWS = 60  # a level with more segments than this is folded in the report
KEEP_SEGMENT_ROWS = 50  # the largest contributors kept; the rest are summed in one row
_SUMMED = ("mix", "rate", "interaction", "inner_mix", "inner_interaction")


def fold_segments(rows: list[dict[str, Any]], *, nested: bool) -> list[dict[str, Any]]:
    """The rows of one level, folded beyond :data:`KEEP_SEGMENT_ROWS` when there are too many.

    With more than :data:`MAX_SEGMENT_ROWS` segments, the largest contributors (by the size of
    their whole effect) are kept in their order and the others become one row, ``other N
    segments``, holding their exact sums — so the table still adds up to the level's total,
    and a report on 100,000 segments stays a page a person can read (``effects.csv`` keeps
    every row). Shares are summed too, except within nested levels, where they are shares of
    different parents (shown as —).
    """
    if len(rows) <= MAX_SEGMENT_ROWS:
        return rows

    def size(row: dict[str, Any]) -> float:
        return abs(sum(float(row.get(key, 0.0) or 0.0) for key in _SUMMED))

    ranked = sorted(range(len(rows)), key=lambda i: size(rows[i]), reverse=True)
    keep = sorted(ranked[:KEEP_SEGMENT_ROWS])
    folded = [rows[i] for i in ranked[KEEP_SEGMENT_ROWS:]]
    nan = float("nan")
    other: dict[str, Any] = {
        "segment": {"": f"other {len(folded):,} segments"}, "status": "both",
        "base_value": nan, "compare_value": nan,
        "base_share": nan if nested else sum(float(r["base_share"]) for r in folded),
        "compare_share": nan if nested else sum(float(r["compare_share"]) for r in folded),
    }
    for key in _SUMMED:
        if key in rows[0]:
            other[key] = math.fsum(float(r[key]) for r in folded)
    return [*(rows[i] for i in keep), other]


def _level_mix(result: Explanation, depth: int) -> float:
    """The outer level's mix (``depth`` 0) or all deeper levels' mix (1): the "All" row."""
    mix = result.effects[result.effects["kind"] == "mix"]
    outer = mix["level"] == (result.by[0] if result.by else None)
    return float(mix.loc[outer if depth == 0 else ~outer, "value"].sum())


def _environment(*, html: bool) -> Any:
    jinja2 = require("jinja2", purpose="the report")
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("kpitree.present", "templates"),
        autoescape=html, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True,
        # Markdown: every value is literal text (kpitree.core.safety.markdown) unless a filter
        # made it Markdown on purpose (``|code``), so no label becomes a link, an image or HTML.
        finalize=None if html else _markdown_value,
    )
    environment.filters["code"] = lambda text: jinja2.utils.markupsafe.Markup(
        markdown_code(text))
    return environment


def _markdown_value(value: Any) -> str:
    """A value of the Markdown template, escaped unless it is already Markdown (``Markup``)."""
    markup = require("jinja2", purpose="the report").utils.markupsafe.Markup
    return str(value) if isinstance(value, markup) else markdown(value)


def _data_uri(name: str, data: bytes) -> str:
    mime = {"png": "image/png", "svg": "image/svg+xml"}[name.rsplit(".", 1)[-1]]
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _png_css_size(name: str, data: bytes) -> tuple[int, int]:
    """The CSS pixel size of a PNG: its pixels at 96 dpi (the tree is drawn at TREE_DPI)."""
    width, height = struct.unpack(">II", data[16:24])
    scale = 96 / (TREE_DPI if name.startswith("tree") else DPI)
    return round(width * scale), round(height * scale)


def _sign(value: float) -> str:
    return "up" if value > 0 else "down" if value < 0 else "flat"


def _key(segment: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in dict(segment).items())


def _version() -> str:
    from kpitree.core import VERSION as __version__

    return __version__


def explanation_html(result: Explanation) -> str:
    """The notebook view of an explanation: the narrative, then the annotated tree (inline SVG).

    Without Graphviz (its ``dot`` or its Python package) the tree is replaced by a one-line
    note naming the install step, so the narrative still shows.
    """
    from kpitree.present.narrative import narrate
    from kpitree.present.tree_image import render_explanation

    narrative = narrate(result)
    try:
        svg = render_explanation(result, format="svg").decode("utf-8")
        figure = svg[svg.index("<svg"):]
    except (RenderError, MissingExtraError) as exc:
        figure = f"<p><em>(tree image unavailable: {html.escape(str(exc))})</em></p>"
    items = "".join(f"<li>{html.escape(line)}</li>" for line in narrative.points)
    cautions = "".join(f'<p style="background:#fff8e1;padding:4px 8px">{html.escape(line)}</p>'
                       for line in narrative.cautions)
    return (f'<div class="kpitree-explanation"><p><strong>{html.escape(narrative.headline)}'
            f"</strong></p><ul>{items}</ul>{cautions}"
            f'<div style="overflow-x:auto">{figure}</div></div>')
