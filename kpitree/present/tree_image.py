"""The annotated tree image of an :class:`~kpitree.core.result.Explanation` (PNG, SVG or PDF).

What belongs here: writing the boxes of :mod:`kpitree.present.tree_view` as a Graphviz graph —
the DOT text, each box's HTML-like label and colour, the title and legend — and drawing it with
Graphviz's ``dot``. What does not: which box shows what, their order and the folding of large
trees (:mod:`kpitree.present.tree_view`), the palette, formats and byte-stable saving
(:mod:`kpitree.present.style`), any arithmetic beyond adding up effects already computed (see
:mod:`kpitree.core.attribution`) or any number formatting (every figure goes through
:mod:`kpitree.core.formatting`). The core never imports this module;
:meth:`Explanation.render <kpitree.core.result.Explanation.render>` reaches it through
:mod:`kpitree.core.views` when an image is asked for. The ``graphviz`` package is imported only
when a graph is built.

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
``gone in <compare>``. Large trees fold their smallest segments (see
:mod:`kpitree.present.tree_view`).

The same explanation always gives the same bytes: node ids are built from the segment and the
node path (``rate/tier=pro/addon_pu.attach``), and PDF output has its creation date fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.core.formatting import format_value
from kpitree.core.optional import require
from kpitree.present.style import (
    DOT_MISSING,
    EDGE_COLOUR,
    FONT,
    FORMATS,
    MUTED,
    STATUS_COLOUR,
    fill_colours,
    image_format,
    save_image,
)
from kpitree.present.tree_layout import Layout, arrange
from kpitree.present.tree_view import (
    MAX_INNER_ROWS,
    MAX_SEGMENTS,
    TOP_INNER_ROWS,
    TOP_SEGMENTS,
    Node,
    TreeView,
    escape,
    identifier,
    muted,
)
from kpitree.present.wording import segmented

if TYPE_CHECKING:
    import graphviz

    from kpitree.core.result import Explanation

# Minimum label widths (points) by role, so boxes in one column line up.
WIDTHS = {"root": 200, "branch": 200, "segment": 170, "inner": 190, "part": 228}
CONTRIBUTION_WIDTH = 80

__all__ = ["DOT_MISSING", "FORMATS", "MAX_INNER_ROWS", "MAX_SEGMENTS", "TOP_INNER_ROWS",
           "TOP_SEGMENTS", "render_explanation", "tree_dot", "tree_graph"]


def render_explanation(
    result: Explanation, path: str | Path | None = None, *, format: str | None = None,
    dpi: float | None = None, layout: Layout | None = None,
) -> bytes:
    """Render the annotated tree of ``result`` and return the image bytes.

    Args:
        result: an explanation from :func:`kpitree.explain`.
        path: where to write the image; its suffix (``.png``, ``.svg``, ``.pdf``) gives the
            format unless ``format`` is given. ``None`` only returns the bytes.
        format: ``png``, ``svg`` or ``pdf`` (default: from ``path``, else ``svg``).
        dpi: resolution of a PNG (Graphviz's default is 96); ignored by SVG and PDF.
        layout: zero-effect subtrees collapsed, ``depth``, ``top`` children per box
            (:class:`kpitree.present.tree_layout.Layout`); ``None`` draws every box.

    Returns:
        The image, byte for byte what was written to ``path``.

    Raises:
        RenderError: unknown format, a suffix contradicting ``format``, Graphviz's ``dot`` not
            installed, ``dot`` failing, or ``path`` not writable.
        MissingExtraError: the ``graphviz`` Python package is not installed.

    Example:
        >>> png = render_explanation(result, "arpu.png")
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    fmt = image_format(path, format, what="tree image")
    graph = tree_graph(result, layout=layout)
    if dpi is not None and fmt == "png":
        graph.attr(dpi=f"{float(dpi):g}")
    return save_image(graph, path, fmt)


def tree_dot(result: Explanation) -> str:
    """The DOT source of the annotated tree (pure: needs the ``graphviz`` package, not ``dot``).

    The same explanation always gives the same text, so it can be kept as a golden file.
    """
    return tree_graph(result).source


def tree_graph(result: Explanation, *, layout: Layout | None = None,
               nodes: Sequence[Node] | None = None,
               heading: str | None = None) -> graphviz.Digraph:
    """The annotated tree as a :class:`graphviz.Digraph` (see the module docstring).

    ``layout`` arranges the boxes (:func:`kpitree.present.tree_layout.arrange`); ``nodes``
    draws these boxes instead (one page of a split tree) under the title ``heading``.

    Raises:
        MissingExtraError: the ``graphviz`` Python package is not installed.
    """
    graphviz = require("graphviz", purpose="the tree image")
    view = TreeView.of(result)
    graph = graphviz.Digraph(
        name=identifier(result.tree.name),
        graph_attr={
            "rankdir": "LR", "ordering": "out", "nodesep": "0.16", "ranksep": "0.5",
            "pad": "0.35", "bgcolor": "white", "fontname": FONT, "labelloc": "t",
            "labeljust": "l", "newrank": "true",
        },
        node_attr={
            "shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": "11",
            "margin": "0.12,0.06", "width": "0", "height": "0", "penwidth": "1.2",
        },
        edge_attr={"color": EDGE_COLOUR, "arrowhead": "none", "penwidth": "1.1"},
    )
    if nodes is None:  # the whole tree as before unless a layout is asked for (golden files)
        nodes = view.nodes() if layout is None else arrange(view.nodes(), layout)
    nodes = list(nodes)
    graph.attr(label=_title(view, nodes, heading))
    scale = max((abs(n.contribution) for n in nodes if n.parent is not None), default=0.0)
    scale = max(scale, abs(result.delta)) if len(nodes) == 1 else scale
    for node in nodes:  # node then its edge, in order: keeps siblings in formula order
        graph.node(node.id, label=_node_label(node, view), **_style(node, scale))
        if node.parent is not None:
            graph.edge(node.parent, node.id)
    return graph


def _node_label(node: Node, view: TreeView) -> str:
    size = {"root": 16, "branch": 13}.get(node.role, 12)
    width = WIDTHS[node.role]
    change = view.numbers.change
    # Cell widths are minimums: the title takes what the contribution leaves, so the
    # contribution sits at the right edge of every box of the same role.
    head = (f'<TR><TD ALIGN="LEFT" WIDTH="{width - CONTRIBUTION_WIDTH}"><FONT '
            f'POINT-SIZE="{size}"><B>{escape(node.title)}</B></FONT></TD>'
            f'<TD ALIGN="RIGHT" WIDTH="{CONTRIBUTION_WIDTH}"><FONT POINT-SIZE="{size}"><B>'
            f"{escape(change(node.contribution))}</B></FONT></TD></TR>")
    rows = [head]
    if node.note:
        rows.append(f'<TR><TD ALIGN="LEFT" COLSPAN="2"><FONT COLOR="{STATUS_COLOUR}"><B>'
                    f"{escape(node.note)}</B></FONT></TD></TR>")
    rows.extend(f'<TR><TD ALIGN="LEFT" COLSPAN="2">{line}</TD></TR>' for line in node.lines)
    if node.interval is not None and node.interval != (0.0, 0.0):  # exact zeros: no interval
        low, high = node.interval
        noise = "  ·  ≈ noise" if low <= 0.0 <= high else ""
        text = f"interval {change(low)} … {change(high)}{noise}"
        rows.append(f'<TR><TD ALIGN="LEFT" COLSPAN="2">{muted(text)}</TD></TR>')
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            f'{"".join(rows)}</TABLE>>')


def _style(node: Node, scale: float) -> dict[str, str]:
    style = "rounded,filled,dashed" if node.status in ("entered", "exited") else "rounded,filled"
    attrs = {"style": style}
    if node.role == "root":
        attrs["penwidth"] = "2"
    fill, border = fill_colours(node.contribution, scale)
    return {**attrs, "fillcolor": fill, "color": border}


def _title(view: TreeView, nodes: list[Node], heading: str | None = None) -> str:
    result = view.result
    label = view.root_label
    change = view.numbers.move(result.base.value, result.compare.value, result.delta)
    legend = [f"Method {result.method}, {segmented(result.by)}. Bold figures: contribution to "
              f"the {label} change; children add up to their parent.",
              f"Green raises {label}, red lowers it, grey ≈ 0; deeper colour = larger."]
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
    if heading is not None:  # a page of a split tree: one sentence a line, so it stays narrow
        legend = [part.strip() + ("" if part.rstrip().endswith(".") else ".")
                  for line in legend for part in line.split(". ") if part.strip()]
    rows = "".join(f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="11" COLOR="{MUTED}">{escape(line)}'
                   "</FONT></TD></TR>" for line in legend)
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
            '<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="20">'
            f"<B>{escape(heading or result.tree.title)}</B>"
            "</FONT></TD></TR>"
            f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="13">{escape(result.base.period)} → '
            f"{escape(result.compare.period)}:  {escape(change)}</FONT></TD></TR>"
            f'{rows}<TR><TD HEIGHT="8"></TD></TR></TABLE>>')
