"""The annotated tree image of an :class:`~kpitree.core.result.Explanation` (PNG, SVG or PDF).

What belongs here: laying an explanation out as a Graphviz graph — which node shows which
figures, in which order and colour — and running Graphviz's ``dot`` on it. What does not: any
arithmetic beyond adding up effects already computed (see :mod:`kpitree.core.attribution`) or any
number formatting (every figure goes through :mod:`kpitree.core.formatting`). The core never imports
this module; :meth:`Explanation.render <kpitree.core.result.Explanation.render>` does, when an image
is asked for.

The picture, left to right (``rankdir=LR``, so five segments × four drivers stay readable)::

    ARPU ─┬─ Tier mix ──────── one node per tier: share base → compare, its mix effect
          ├─ Rate within tier ─ one node per tier: its ARPU base → compare, its rate effect
          │                       └─ [Region mix] + the tier's driver structure
          └─ [Interaction]        (method sequential only)

With no segment dimensions the root carries the driver structure of the total directly. With
two dimensions each outer segment gets an inner-mix node listing its inner segments (a third
and further dimensions are folded into that node's total).

Every node shows its label, both periods' values, the change (absolute and relative) and, in
bold at the top right, its **contribution** to the root's change; siblings' contributions add up
to their parent's. The fill is green when the contribution raises the root, red when it lowers
it and grey when it is about zero (within 0.1 % of the largest contribution in the picture);
the colour's strength is ``sqrt(|contribution| / largest)``, the largest being over every node
but the root. Segments present in one period only are dashed and badged ``NEW in <compare>`` or
``gone in <compare>``.

Large trees stay readable: with more than 12 segments (``MAX_SEGMENTS``) only the 10 with the
largest effect get boxes — the largest ``|mix|`` under the mix branch, the largest ``|rate|``
under the rate branch; the others fold into one
"other N segments" box per branch whose figures are exact sums of theirs (no residual), so
children still add up to their parent. An inner-mix table of more than 12 rows likewise keeps
the 10 largest inner mix effects and sums the rest in an "other N" row.

Order, so that the same explanation always gives the same bytes: segments are sorted by their
mean root value over the two periods (a plan ladder, cheapest first; a segment undefined in one
period uses the other), then by name; inner segments inside an inner-mix node by name, so every
outer segment lists them alike; driver structure in formula order. Node ids are built from the
segment and the node path (``rate/tier=pro/addon_pu.attach``). PDF output has its creation date
fixed to the Unix epoch for the same reason.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kpitree.core.errors import RenderError
from kpitree.core.formatting import (
    format_change,
    format_pct_change,
    format_value,
    is_defined,
    value_kind,
)

if TYPE_CHECKING:
    import graphviz

    from kpitree.core.result import Explanation

FORMATS = ("png", "svg", "pdf")
DOT_MISSING = (
    "Graphviz's 'dot' is not installed: apt-get install graphviz (Debian/Ubuntu) "
    "or brew install graphviz (macOS)"
)
GRAPHVIZ_MISSING = "the 'graphviz' Python package is not installed: pip install graphviz"

FONT = "Helvetica"
# Minimum label widths (points) by role, so boxes in one column line up.
WIDTHS = {"root": 200, "branch": 200, "segment": 170, "inner": 190, "part": 228}
CONTRIBUTION_WIDTH = 80
NEAR_ZERO = 1e-3  # a contribution within this fraction of the largest is drawn grey
# Large trees: beyond MAX_SEGMENTS segments only the TOP_SEGMENTS largest contributors get
# their own boxes; the rest fold into one exactly summed "other N segments" box per branch.
MAX_SEGMENTS = 12
TOP_SEGMENTS = 10
MAX_INNER_ROWS = 12  # rows of an inner-mix table before the smallest fold into "other N"
TOP_INNER_ROWS = 10

# Fills run from white to these colours (light enough for black text); borders are darker.
POSITIVE = ((255, 255, 255), (120, 198, 121))  # ColorBrewer RdYlGn greens
NEGATIVE = ((255, 255, 255), (244, 133, 106))
POSITIVE_BORDER = "#1a9850"
NEGATIVE_BORDER = "#d73027"
NEUTRAL_FILL = "#f2f2f2"
NEUTRAL_BORDER = "#9e9e9e"
MUTED = "#555555"
STATUS_COLOUR = "#2c5aa0"

__all__ = ["DOT_MISSING", "FORMATS", "render_explanation", "tree_dot", "tree_graph"]


def render_explanation(
    result: Explanation, path: str | Path | None = None, *, format: str | None = None,
    dpi: float | None = None,
) -> bytes:
    """Render the annotated tree of ``result`` and return the image bytes.

    Args:
        result: an explanation from :func:`kpitree.explain`.
        path: where to write the image; its suffix (``.png``, ``.svg``, ``.pdf``) gives the
            format unless ``format`` is given. ``None`` only returns the bytes.
        format: ``png``, ``svg`` or ``pdf`` (default: from ``path``, else ``svg``).
        dpi: resolution of a PNG (Graphviz's default is 96); ignored by SVG and PDF.

    Returns:
        The image, byte for byte what was written to ``path``.

    Raises:
        RenderError: unknown format, a suffix contradicting ``format``, Graphviz's ``dot`` (or
            the ``graphviz`` package) not installed, ``dot`` failing, or ``path`` not writable.

    Example:
        >>> png = result.render("/tmp/arpu.png")  # doctest: +SKIP
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"  # doctest: +SKIP
        True
    """
    fmt = image_format(path, format, what="tree image")
    graphviz = _graphviz()
    graph = tree_graph(result)
    if dpi is not None and fmt == "png":
        graph.attr(dpi=f"{float(dpi):g}")
    source = graph.source.encode("utf-8")
    try:
        data = graphviz.pipe("dot", fmt, source, quiet=True)
    except graphviz.ExecutableNotFound:
        raise RenderError(DOT_MISSING) from None
    except graphviz.CalledProcessError as exc:
        stderr = (exc.stderr or b"").decode("utf-8", "replace").strip()
        raise RenderError(f"Graphviz's dot failed to draw the {fmt} image: {stderr}") from exc
    if fmt == "pdf":
        data = _fixed_creation_date(data)
    if path is not None:
        try:
            Path(path).write_bytes(data)
        except OSError as exc:
            raise RenderError(f"cannot write the image to {path}: {exc.strerror}") from exc
    return data


def tree_dot(result: Explanation) -> str:
    """The DOT source of the annotated tree (pure: needs the ``graphviz`` package, not ``dot``).

    The same explanation always gives the same text, so it can be kept as a golden file.
    """
    return tree_graph(result).source


def tree_graph(result: Explanation) -> graphviz.Digraph:
    """The annotated tree as a :class:`graphviz.Digraph` (see the module docstring)."""
    graphviz = _graphviz()
    view = _View.of(result)
    graph = graphviz.Digraph(
        name=_identifier(result.tree.name),
        graph_attr={
            "rankdir": "LR", "ordering": "out", "nodesep": "0.16", "ranksep": "0.5",
            "pad": "0.35", "bgcolor": "white", "fontname": FONT, "labelloc": "t",
            "labeljust": "l", "newrank": "true",
        },
        node_attr={
            "shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": "11",
            "margin": "0.12,0.06", "width": "0", "height": "0", "penwidth": "1.2",
        },
        edge_attr={"color": "#a0a0a0", "arrowhead": "none", "penwidth": "1.1"},
    )
    nodes = view.nodes()
    graph.attr(label=_title(view, nodes))
    scale = max((abs(n.contribution) for n in nodes if n.parent is not None), default=0.0)
    scale = max(scale, abs(result.delta)) if len(nodes) == 1 else scale
    for node in nodes:  # node then its edge, in order: keeps siblings in formula order
        graph.node(node.id, label=_node_label(node, view), **_style(node, scale))
        if node.parent is not None:
            graph.edge(node.parent, node.id)
    return graph


# --- What the picture shows ------------------------------------------------------------------

@dataclass(frozen=True)
class _Node:
    """One box: its id, its parent's id, what it says, and its contribution to the root."""

    id: str
    parent: str | None
    title: str
    contribution: float
    lines: tuple[str, ...]  # HTML fragments, already formatted and escaped
    status: str = "both"
    note: str | None = None  # a badge, e.g. "NEW in 2026-10"
    role: str = "part"  # root | branch | segment | part | inner
    interval: tuple[float, float] | None = None  # bootstrap interval of the contribution


@dataclass(frozen=True)
class _View:
    """The explanation plus the formatting context every node needs."""

    result: Explanation
    unit: str | None
    root_kind: Any

    @classmethod
    def of(cls, result: Explanation) -> _View:
        unit = result.tree.unit or None
        return cls(result, unit, value_kind(result.tree.format_of(result.tree.root), unit))

    @property
    def root_label(self) -> str:
        return self.result.tree.label(self.result.tree.root)

    def kind_of(self, node: str) -> Any:
        return value_kind(self.result.tree.format_of(node), self.unit)

    def money(self, value: float | None) -> str:
        return format_value(value, self.root_kind, self.unit)

    def contribution(self, value: float) -> str:
        return format_change(value, self.root_kind, self.unit)

    def nodes(self) -> list[_Node]:
        result = self.result
        root = _Node(
            id="root", parent=None, title=self.root_label, contribution=result.delta,
            lines=_value_lines(result.base.value, result.compare.value, self.root_kind,
                               self.unit, periods=(result.base.period, result.compare.period)),
            role="root",
        )
        if not result.by:
            total = _group(result.parts, level=None)
            nodes = [root, *self.structure(total, parent="root", prefix="total", status="both")]
        else:
            nodes = [root, *self.segmented()]
        intervals = self.intervals()
        return [replace(n, interval=intervals.get(n.id)) for n in nodes] if intervals else nodes

    def intervals(self) -> dict[str, tuple[float, float]]:
        """Bootstrap intervals by node id: the change, the totals, each mix and driver effect.

        A segment's rate box has none: an interval of a sum is not the sum of intervals, and
        the bootstrap reports intervals per effect row.
        """
        result = self.result
        if result.intervals is None:
            return {}
        totals = result.intervals.totals
        found = {node: totals[kind] for node, kind in
                 (("root", "delta"), ("mix", "mix"), ("rate", "rate")) if kind in totals}
        bounds = result.intervals.effects
        dim = result.by[0] if result.by else None
        for index, row in result.effects.iterrows():
            interval = (float(bounds.at[index, "low"]), float(bounds.at[index, "high"]))
            if row["kind"] == "mix" and row["level"] == dim:
                found[f"mix/{_segment_key({dim: row[dim]})}"] = interval
            elif row["kind"] == "rate" and len(result.by) <= 1:
                prefix = f"rate/{_segment_key({dim: row[dim]})}" if dim else "total"
                found[f"{prefix}/{'.'.join(row['path'][1:])}"] = interval
        return found

    def segmented(self) -> list[_Node]:
        result = self.result
        dim = result.by[0]
        every = _rows(result.segments, dim)
        # Each branch keeps its own largest contributors (mix and rate rarely share them).
        mix_kept, mix_folded = _fold(_ordered(every), by=("mix",))
        segments, folded = _fold(_ordered(every), by=("rate", "interaction"))
        weight_label = result.tree.label(result.tree.weight)
        nodes = [_Node(
            id="mix", parent="root", title=f"{_title_case(dim)} mix",
            contribution=_sum(s["mix"] for s in every),
            lines=(_muted(f"{weight_label} shifting between {dim} segments"),), role="branch",
        )]
        if result.method == "sequential":  # between mix and rate: no edge crosses it
            nodes.append(_Node(
                id="interaction", parent="root", title="Interaction",
                contribution=_sum(s["interaction"] for s in every),
                lines=(_muted(f"Δ share × Δ {self.root_label} between {dim} segments"),),
                role="branch"))
        nodes.append(_Node(
            id="rate", parent="root", title=f"Rate within {dim}",
            contribution=_sum(s["rate"] for s in every),
            lines=(_muted(f"{self.root_label} change inside each {dim}"),), role="branch",
        ))
        for s in mix_kept:
            key = _segment_key(s["segment"])
            status, note = s["status"], self.badge(s["status"])
            nodes.append(_Node(
                id=f"mix/{key}", parent="mix", title=str(s["segment"][dim]),
                contribution=s["mix"], status=status, note=note, role="segment",
                lines=_value_lines(s["base_share"], s["compare_share"], "percent", None,
                                   prefix="share "),
            ))
        if mix_folded:
            nodes.append(self.other(mix_folded, branch="mix", dim=dim))
        for s in segments:
            key = _segment_key(s["segment"])
            status, note = s["status"], self.badge(s["status"])
            rate_id = f"rate/{key}"
            nodes.append(_Node(
                id=rate_id, parent="rate", title=str(s["segment"][dim]),
                contribution=s["rate"], status=status, note=note, role="segment",
                lines=_value_lines(s["base_value"], s["compare_value"], self.root_kind,
                                   self.unit, prefix=f"{self.root_label} "),
            ))
            if len(result.by) > 1:
                nodes.extend(self.inner(s["segment"], parent=rate_id, key=key, status=status))
            parts = _group(result.parts, level=dim, segment=s["segment"])
            nodes.extend(self.structure(parts, parent=rate_id, prefix=rate_id, status=status))
        if folded:
            nodes.append(self.other(folded, branch="rate", dim=dim))
        return nodes

    def other(self, folded: list[dict], *, branch: str, dim: str) -> _Node:
        """The box standing for the folded segments of a branch: exact sums, no children."""
        result = self.result
        new = sum(s["status"] == "entered" for s in folded)
        gone = sum(s["status"] == "exited" for s in folded)
        badges = ", ".join(text for count, text in ((new, f"{new} new"), (gone, f"{gone} gone"))
                           if count)
        if branch == "mix":
            lines = _value_lines(_sum(s["base_share"] for s in folded),
                                 _sum(s["compare_share"] for s in folded), "percent", None,
                                 prefix="share ")
            contribution = _sum(s["mix"] for s in folded)
        else:
            weight = result.tree.label(result.tree.weight)
            lines = (_muted(f"{weight} {self.money_weight(folded, 'base')} → "
                            f"{self.money_weight(folded, 'compare')}"),
                     _muted("smaller contributors, summed exactly"))
            contribution = _sum(s["rate"] for s in folded)
        return _Node(id=f"{branch}/other", parent=branch,
                     title=f"other {len(folded)} {dim} segments", contribution=contribution,
                     lines=lines, note=badges or None, role="segment")

    @staticmethod
    def money_weight(folded: list[dict], side: str) -> str:
        return format_value(_sum(s[f"{side}_weight"] for s in folded), "number")

    def inner(self, segment: Mapping[str, Any], *, parent: str, key: str,
              status: str) -> list[_Node]:
        """The inner-mix (and for sequential, inner-interaction) node of an outer segment."""
        result = self.result
        inner_dims = result.by[1:]
        deeper = [s for level in inner_dims for s in _rows(result.segments, level)
                  if _within(s["segment"], segment)]
        name = " × ".join(inner_dims)
        outer = ", ".join(str(value) for value in segment.values())
        lines: tuple[str, ...] = ()
        if len(inner_dims) == 1:
            lines = (_inner_table(self, sorted(
                (s for s in deeper if s["status"] != "empty"),
                key=lambda s: str(s["segment"][inner_dims[0]])), inner_dims[0]),)
        nodes = [_Node(id=f"inner-mix/{key}", parent=parent, title=f"{_title_case(name)} mix",
                       contribution=_sum(s["mix"] for s in deeper), lines=lines,
                       status=status, role="inner")]
        if result.method == "sequential":
            nodes.append(_Node(
                id=f"inner-interaction/{key}", parent=parent,
                title=f"{_title_case(name)} interaction",
                contribution=_sum(s["interaction"] for s in deeper),
                lines=(_muted(f"Δ share × Δ {self.root_label} within {outer}"),),
                status=status, role="inner"))
        return nodes

    def structure(self, group: pd.DataFrame, *, parent: str, prefix: str,
                  status: str) -> list[_Node]:
        """The driver structure of one segment (or of the total), in formula order."""
        root_path = (self.result.tree.root,)
        nodes = []
        for row in group.to_dict("records"):
            path = tuple(row["path"])
            if path == root_path:
                continue
            up = parent if path[:-1] == root_path else f"{prefix}/{'.'.join(path[1:-1])}"
            kind = self.kind_of(row["node"])
            nodes.append(_Node(
                id=f"{prefix}/{'.'.join(path[1:])}", parent=up, title=str(row["label"]),
                contribution=float(row["effect"]), status=status, role="part",
                lines=_value_lines(row["base"], row["compare"], kind, self.unit),
            ))
        return nodes

    def badge(self, status: str) -> str | None:
        compare = self.result.compare.period
        return {"entered": f"NEW in {compare}", "exited": f"gone in {compare}"}.get(status)


def _value_lines(
    base: float | None, compare: float | None, kind: Any, unit: str | None, *,
    prefix: str = "", periods: tuple[str, str] | None = None,
) -> tuple[str, ...]:
    """``base → compare`` and ``change (relative change)`` as two HTML lines."""
    b, c = format_value(base, kind, unit), format_value(compare, kind, unit)
    if periods is not None:
        values = f"{_esc(periods[0])}  {_esc(b)}  →  {_esc(periods[1])}  {_esc(c)}"
    else:
        values = f"{_esc(prefix)}{_esc(b)}  →  {_esc(c)}"
    if is_defined(base) and is_defined(compare):
        change = format_change(float(compare) - float(base), kind, unit)  # type: ignore[arg-type]
        change_text = f"{change}  ({format_pct_change(base, compare)})"
    else:
        change_text = format_pct_change(base, compare)
    return values, _muted(change_text)


def _inner_table(view: _View, rows: list[dict], dim: str) -> str:
    """A small table of inner segments: name, share base → compare, mix effect."""
    cells = []
    shown, folded = _fold(rows, limit=MAX_INNER_ROWS, keep=TOP_INNER_ROWS, by=("mix",))
    if folded:
        rows = [s for s in rows if any(s is k for k in shown)]
        rows.append({"segment": {dim: f"other {len(folded)}"}, "status": "both",
                     "base_share": _sum(s["base_share"] for s in folded),
                     "compare_share": _sum(s["compare_share"] for s in folded),
                     "mix": _sum(s["mix"] for s in folded)})
    for s in rows:
        share = (f"{format_value(s['base_share'], 'percent')} → "
                 f"{format_value(s['compare_share'], 'percent')}")
        mark = {"entered": " (new)", "exited": " (gone)"}.get(s["status"], "")
        cells.append(
            f'<TR><TD ALIGN="LEFT">{_esc(str(s["segment"][dim]) + mark)}</TD>'
            f'<TD WIDTH="8"></TD><TD ALIGN="RIGHT">{_esc(share)}</TD>'
            f'<TD WIDTH="8"></TD><TD ALIGN="RIGHT">{_esc(view.contribution(s["mix"]))}</TD></TR>'
        )
    return (f'<FONT POINT-SIZE="10" COLOR="{MUTED}"><TABLE BORDER="0" CELLBORDER="0" '
            f'CELLSPACING="0" CELLPADDING="1">{"".join(cells)}</TABLE></FONT>')


# --- Drawing -----------------------------------------------------------------------------------

def _node_label(node: _Node, view: _View) -> str:
    size = {"root": 16, "branch": 13}.get(node.role, 12)
    width = WIDTHS[node.role]
    # Cell widths are minimums: the title takes what the contribution leaves, so the
    # contribution sits at the right edge of every box of the same role.
    head = (f'<TR><TD ALIGN="LEFT" WIDTH="{width - CONTRIBUTION_WIDTH}"><FONT '
            f'POINT-SIZE="{size}"><B>{_esc(node.title)}</B></FONT></TD>'
            f'<TD ALIGN="RIGHT" WIDTH="{CONTRIBUTION_WIDTH}"><FONT POINT-SIZE="{size}"><B>'
            f"{_esc(view.contribution(node.contribution))}</B></FONT></TD></TR>")
    rows = [head]
    if node.note:
        rows.append(f'<TR><TD ALIGN="LEFT" COLSPAN="2"><FONT COLOR="{STATUS_COLOUR}"><B>'
                    f"{_esc(node.note)}</B></FONT></TD></TR>")
    rows.extend(f'<TR><TD ALIGN="LEFT" COLSPAN="2">{line}</TD></TR>' for line in node.lines)
    if node.interval is not None and node.interval != (0.0, 0.0):  # exact zeros: no interval
        low, high = node.interval
        noise = "  ·  ≈ noise" if low <= 0.0 <= high else ""
        text = f"interval {view.contribution(low)} … {view.contribution(high)}{noise}"
        rows.append(f'<TR><TD ALIGN="LEFT" COLSPAN="2">{_muted(text)}</TD></TR>')
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            f'{"".join(rows)}</TABLE>>')


def _style(node: _Node, scale: float) -> dict[str, str]:
    value = node.contribution
    style = "rounded,filled,dashed" if node.status in ("entered", "exited") else "rounded,filled"
    attrs = {"style": style}
    if node.role == "root":
        attrs["penwidth"] = "2"
    if scale <= 0 or not math.isfinite(value) or abs(value) <= NEAR_ZERO * scale:
        return {**attrs, "fillcolor": NEUTRAL_FILL, "color": NEUTRAL_BORDER}
    strength = min(1.0, math.sqrt(abs(value) / scale))
    (low, high), border = (POSITIVE, POSITIVE_BORDER) if value > 0 else (NEGATIVE, NEGATIVE_BORDER)
    fill = tuple(round(a + (b - a) * strength) for a, b in zip(low, high, strict=True))
    return {**attrs, "fillcolor": "#{:02x}{:02x}{:02x}".format(*fill), "color": border}


def _title(view: _View, nodes: list[_Node]) -> str:
    result = view.result
    segmented = f"by {' × '.join(result.by)}" if result.by else "no segments"
    change = (f"{view.root_label} {view.money(result.base.value)} → "
              f"{view.money(result.compare.value)}, {view.contribution(result.delta)} "
              f"({format_pct_change(result.base.value, result.compare.value)})")
    legend = [f"Method {result.method}, {segmented}. Bold figures: contribution to the "
              f"{view.root_label} change; children add up to their parent.",
              f"Green raises {view.root_label}, red lowers it, grey ≈ 0; deeper colour = larger."]
    if any(node.note for node in nodes):
        legend[-1] += " Dashed: present in one period only."
    if result.intervals is not None:
        legend.append(
            f"Intervals: {format_value(result.intervals.level, 'percent')} "
            f"{result.intervals.method} ({result.intervals.replicates} replicates, seed "
            f"{result.intervals.seed}); '≈ noise' where one spans zero."
        )
    if any(node.id.endswith("/other") for node in nodes):
        legend.append(f"Only the {TOP_SEGMENTS} largest contributors are drawn; the others are "
                      "summed exactly in 'other N segments'.")
    rows = "".join(f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="11" COLOR="{MUTED}">{_esc(line)}'
                   "</FONT></TD></TR>" for line in legend)
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
            f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="20"><B>{_esc(result.tree.title)}</B>'
            "</FONT></TD></TR>"
            f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="13">{_esc(result.base.period)} → '
            f"{_esc(result.compare.period)}:  {_esc(change)}</FONT></TD></TR>"
            f'{rows}<TR><TD HEIGHT="8"></TD></TR></TABLE>>')


def _muted(text: str) -> str:
    return f'<FONT COLOR="{MUTED}">{_esc(text)}</FONT>'


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


# --- Tables → rows -----------------------------------------------------------------------------

def _rows(segments: pd.DataFrame, level: str) -> list[dict]:
    if segments.empty:
        return []
    return [s for s in segments[segments["level"] == level].to_dict("records")
            if s["status"] != "empty"]


def _ordered(segments: list[dict]) -> list[dict]:
    """Cheapest segment first (mean root value over the defined periods), then by name."""
    def key(s: dict) -> tuple[float, str]:
        values = [float(v) for v in (s["base_value"], s["compare_value"]) if is_defined(v)]
        mean = sum(values) / len(values) if values else math.inf
        return mean, _segment_key(s["segment"])

    return sorted(segments, key=key)


def _fold(segments: list[dict], *, limit: int = MAX_SEGMENTS, keep: int = TOP_SEGMENTS,
          by: tuple[str, ...] = ("mix", "rate", "interaction")) -> tuple[list[dict], list[dict]]:
    """Split off the smallest contributors when there are more than ``limit`` segments.

    The ``keep`` segments with the largest ``Σ |effect|`` (over ``by``) stay; ties break by
    name so the choice is stable. Returns (kept, folded), each in the input order.
    """
    if len(segments) <= limit:
        return segments, []

    def size(s: dict) -> tuple[float, str]:
        return -_sum(abs(float(s[k])) for k in by if is_defined(s[k])), _segment_key(s["segment"])

    ranked = sorted(range(len(segments)), key=lambda i: size(segments[i]))
    top = set(ranked[:keep])
    return ([s for i, s in enumerate(segments) if i in top],
            [s for i, s in enumerate(segments) if i not in top])


def _group(parts: pd.DataFrame, *, level: str | None,
           segment: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The parts rows of the total (``level=None``) or of one segment of ``level``."""
    if level is None:
        return parts[parts["level"].isna()]
    mask = (parts["level"] == level) & parts["segment"].map(lambda s: dict(s) == dict(segment))
    return parts[mask]


def _within(inner: Mapping[str, Any], outer: Mapping[str, Any]) -> bool:
    return all(inner.get(dim) == value for dim, value in outer.items())


def _sum(values: Iterable[float]) -> float:
    return math.fsum(float(v) for v in values if is_defined(v))


def _segment_key(segment: Mapping[str, Any]) -> str:
    """``tier=pro,region=EU``: a readable, stable id piece (``%`` and ``:`` escaped)."""
    return ",".join(f"{_identifier(str(dim))}={_identifier(str(value))}"
                    for dim, value in segment.items())


def _identifier(text: str) -> str:
    # ':' separates ports in DOT edge endpoints; escape it (and the escape character).
    return text.replace("%", "%25").replace(":", "%3A")


def _title_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


# --- Running dot -------------------------------------------------------------------------------

def _graphviz() -> Any:
    try:
        import graphviz
    except ImportError:  # pragma: no cover - a declared dependency
        raise RenderError(GRAPHVIZ_MISSING) from None
    return graphviz


def image_format(
    path: str | Path | None, format: str | None, *, default: str = "svg", what: str = "image"
) -> str:
    """The output format from ``format`` or the path's suffix (they must agree).

    Shared by every image kpitree writes (the tree here, the bridge in
    :mod:`kpitree.present.bridge`).
    """
    allowed = ", ".join(FORMATS)
    suffix = Path(path).suffix.lower().lstrip(".") if path is not None else ""
    if format is not None:
        fmt = format.lower().lstrip(".")
        if fmt not in FORMATS:
            raise RenderError(f"cannot write the {what} as '{format}'; formats: {allowed}")
        if suffix and suffix != fmt:
            raise RenderError(f"{path} ends in .{suffix} but format '{format}' was asked for; "
                              "make them agree")
        return fmt
    if path is None:
        return default
    if suffix not in FORMATS:
        raise RenderError(f"cannot tell the image format of {path}: use a .png, .svg or .pdf "
                          f"file, or pass format= ({allowed})")
    return suffix


_CREATION_DATE = re.compile(rb"/CreationDate \((D:[^)]*)\)")


def _fixed_creation_date(pdf: bytes) -> bytes:
    """Cairo stamps PDFs with the time; fix it (same length, so offsets stay valid)."""
    def fixed(match: re.Match[bytes]) -> bytes:
        stamp = match.group(1)
        epoch = b"D:19700101000000Z"
        if len(stamp) != len(epoch):
            return match.group(0)
        return b"/CreationDate (" + epoch + b")"

    return _CREATION_DATE.sub(fixed, pdf)
