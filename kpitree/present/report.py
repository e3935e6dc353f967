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
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.core.errors import MissingExtraError, RenderError
from kpitree.core.formatting import format_pct_change, format_value
from kpitree.core.optional import require
from kpitree.present.style import DPI
from kpitree.present.wording import Numbers, status_word

if TYPE_CHECKING:
    from kpitree.core.result import Explanation
    from kpitree.present.narrative import Narrative

TREE_DPI = 144  # the PNG tree; shown at 96 dpi size in the HTML, so it stays sharp
IMAGE_NAMES = ("tree.png", "tree.svg", "bridge.png", "bridge.svg")

METHOD_NOTES = {
    "shapley": (
        "Shapley (default). For each segment with share w and rate r (the metric on its rows), "
        "the rate effect is (r₁ − r₀)·(w₀ + w₁)/2 and the mix effect (w₁ − w₀)·((r₀ + r₁)/2 − "
        "(A₀ + A₁)/2), A being the metric on all rows: Kitagawa's symmetric decomposition, "
        "centred so that a move into an above-average segment shows as positive mix. Each "
        "rate effect is split down the formula to the drivers: sums linearly, products and "
        "ratios by the exact Shapley value over their inputs. The split is hierarchical (mix "
        "vs rate first, then the drivers)."
    ),
    "sequential": (
        "Sequential (FP&A price-volume-mix). Mix at base rates Σ Δw·(r₀ − A₀), rate at base "
        "shares Σ w₀·Δr, and the interaction Σ Δw·Δr as its own effect. The result depends on "
        "this order."
    ),
    "lmdi": (
        "LMDI-I (additive, Ang). Each term of the expanded sum of products Σ shares·drivers "
        "splits its change L(V₁, V₀)·ln(x₁/x₀) per factor; zeros use the analytical limits. "
        "Needs positive values."
    ),
}
COMMON_NOTE = (
    "Every effect is exact: the effects add up to the change. A segment present in one period "
    "only takes the other period's rate, so its whole effect is mix. A driver undefined in one "
    "period (0/0) takes the other period's value. Every node is a ratio of sums over the rows "
    "of a period and segment."
)

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
    from kpitree.present.bridge import TOP, render_bridge
    from kpitree.present.narrative import narrate
    from kpitree.present.tree_image import render_explanation

    require("jinja2", purpose="the report")  # first: the hint names the extra with all three
    top = TOP if top is None else top
    images = {
        "tree.png": render_explanation(result, format="png", dpi=TREE_DPI),
        "tree.svg": render_explanation(result, format="svg"),
        "bridge.png": render_bridge(result, format="png", rate_by=rate_by, top=top),
        "bridge.svg": render_bridge(result, format="svg", rate_by=rate_by, top=top),
    }
    table = result.effects.copy()
    table["path"] = ["/".join(p) for p in table["path"]]
    effects_csv = table.to_csv(index=False, lineterminator="\n")
    context = _context(result, narrate(result), images, rate_by=rate_by)
    return Report(context=context, images=images, effects_csv=effects_csv)


def render_html(report: Report) -> str:
    """The self-contained HTML page of a report."""
    return _environment(html=True).get_template("report.html.j2").render(**report.context)


def render_markdown(report: Report) -> str:
    """The Markdown version of a report (images referenced as files next to it)."""
    return _environment(html=False).get_template("report.md.j2").render(**report.context)


def write_report(result: Explanation, out: str | Path, *, rate_by: str = "component",
                 top: int | None = None) -> list[Path]:
    """Write the review pack into the folder ``out`` (created if needed); return the paths.

    Raises:
        RenderError: the folder cannot be created or written, or an image cannot be drawn.

    Example:
        >>> paths = write_report(result, "out/2026-10")
        >>> [p.name for p in paths]
        ['report.html', 'report.md', 'tree.png', 'tree.svg', 'bridge.png', 'bridge.svg', \
'effects.csv']
    """
    folder = Path(out)
    report = build_report(result, rate_by=rate_by, top=top)
    files: dict[str, bytes] = {
        "report.html": render_html(report).encode("utf-8"),
        "report.md": render_markdown(report).encode("utf-8"),
        **report.images,
        "effects.csv": report.effects_csv.encode("utf-8"),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    except OSError as exc:
        raise RenderError(f"cannot write the report to {folder}: {exc.strerror}") from exc
    return [folder / name for name in files]


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
                "mix": change(s["mix"]),
                "rate": change(s["rate"]),
                "interaction": change(s["interaction"]),
                "sign": _sign(float(s["mix"]) + float(s["rate"]) + float(s["interaction"])),
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
        "mix": change(totals.get("mix", 0.0)), "rate": change(totals.get("rate", 0.0)),
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


def _environment(*, html: bool) -> Any:
    jinja2 = require("jinja2", purpose="the report")
    return jinja2.Environment(
        loader=jinja2.PackageLoader("kpitree.present", "templates"),
        autoescape=html, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True,
    )


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
