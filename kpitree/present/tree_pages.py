"""The tree in pictures that stay readable where they are shown: one page, or split by segment.

What belongs here: deciding how the annotated tree is shown in a room of a given size (a slide,
a report column, a notebook cell) so that no text is shown under :data:`MIN_TEXT_PT` — the
whole tree when it fits at full size, otherwise an overview (the root, its branches and the
segments) and one page per outer segment's rate subtree (its drivers), each page cut again when
it is still too large — and measuring pictures (:func:`svg_size`, :func:`smallest_text`). What
does not: what the boxes say (:mod:`kpitree.present.tree_view`), folding and pruning them
(:mod:`kpitree.present.tree_layout`) or the drawing itself (:mod:`kpitree.present.tree_image`).

Every page is exact: a page's root keeps its contribution and its children add up to it (a
page with fewer children shows the rest in an exactly summed "other N" box, and a box whose
children are on a page of their own says how many boxes are below it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from kpitree.present.style import save_image
from kpitree.present.tree_layout import (
    Layout,
    arrange,
    children_of,
    cut_depth,
    depth_of,
    keep_top,
    subtree,
)
from kpitree.present.tree_view import Node, TreeView

if TYPE_CHECKING:
    from kpitree.core.result import Explanation

__all__ = ["MIN_TEXT_PT", "TreePage", "smallest_text", "svg_size", "tree_pages"]

MIN_TEXT_PT = 10.0  # no tree text is shown smaller than this, at the size it is displayed
PNG_DPI = 144
ON_ITS_OWN = "{boxes} below: in its own picture"
_SIZE = re.compile(rb'<svg width="([\d.]+)pt" height="([\d.]+)pt"')
_FONT = re.compile(rb'font-size="([\d.]+)"')


@dataclass(frozen=True)
class TreePage:
    """One picture of the tree.

    Attributes:
        name: a file stem (``tree``, ``tree-mix``, ``tree-rate-pro`` …).
        title: what the page shows, e.g. ``Rate within tier: pro`` (the tree title on the first).
        svg, png: the picture (the PNG at :attr:`dpi`).
        size: its natural size in points.
        min_text: its smallest text in points at the natural size.
    """

    name: str
    title: str
    svg: bytes
    png: bytes
    dpi: float
    size: tuple[float, float]
    min_text: float

    @property
    def min_scale(self) -> float:
        """The smallest scale at which its text stays at :data:`MIN_TEXT_PT` or more."""
        return MIN_TEXT_PT / self.min_text if self.min_text else 1.0


def svg_size(svg: bytes) -> tuple[float, float]:
    """The natural width and height, in points, of a Graphviz SVG."""
    found = _SIZE.search(svg)
    if found is None:
        raise ValueError("not a Graphviz SVG with a size in points")
    return float(found.group(1)), float(found.group(2))


def smallest_text(svg: bytes) -> float:
    """The smallest ``font-size`` in a Graphviz SVG, in points at its natural size."""
    sizes = [float(s) for s in _FONT.findall(svg)]
    return min(sizes) if sizes else 0.0


def tree_pages(result: Explanation, *, room: tuple[float, float | None],
               layout: Layout | None = None, dpi: float = PNG_DPI) -> list[TreePage]:
    """The pages that show the tree of ``result`` in ``room`` (width, height in points; a
    height of ``None`` for a scrolling page) with no text under :data:`MIN_TEXT_PT`.

    The whole tree when it fits; otherwise an overview down to the segments (or one page per
    branch when even that is too tall, keeping each branch's largest segments with the rest
    summed exactly), then one page per segment whose drivers were cut, recursively.
    """
    view = TreeView.of(result)
    nodes = arrange(view.nodes(), layout)
    title = result.tree.title
    pager = _Pager(result, room, dpi)
    whole = pager.page("tree", title, nodes)
    if pager.fits(whole):
        return pager.finished([whole])
    pages: list[TreePage] = []
    overview = cut_depth(nodes, depth=2, note=ON_ITS_OWN)
    if pager.fits(probe := pager.page("tree-overview", f"{title} — overview", overview)):
        pages.append(probe)
    else:
        root = nodes[0]
        branches = children_of(nodes).get(root.id, [])
        top = pager.page("tree-top", title, cut_depth(nodes, depth=1, note=ON_ITS_OWN))
        for branch in branches:
            part = [root, *(n for n in overview if n.id == branch.id or n.parent == branch.id)]
            name, heading = f"tree-{_slug(branch.id)}", f"{title} — {branch.title}"
            page = pager.fitted(name, heading, part, branch.id)
            if not pager.fits(page):  # too wide with the root: the branch alone
                if not pages:
                    pages.append(top)  # then the root and its branches come first
                page = pager.fitted(name, branch.title, cut_depth(
                    subtree(nodes, branch.id), depth=1, note=ON_ITS_OWN), branch.id)
            if pager.fits(page):  # else its children's pages below show it all
                pages.append(page)
        if not pages:
            pages.append(top)
    below = children_of(nodes)
    depths = depth_of(nodes)
    for node in nodes:
        if depths[node.id] != 2 or not below.get(node.id):
            continue
        parent = next((n for n in nodes if n.id == node.parent), None)
        where = f"{parent.title}: " if parent is not None else ""
        pages += pager.split(subtree(nodes, node.id), f"{where}{node.title}",
                             f"tree-{_slug(node.id)}")
    return pager.finished(pages)


@dataclass
class _Pager:
    result: Explanation
    room: tuple[float, float | None]
    dpi: float

    graphs: dict[bytes, Any] = field(default_factory=dict)

    def page(self, name: str, title: str, nodes: Sequence[Node]) -> TreePage:
        """The page drawn as SVG (measured); its PNG is drawn by :meth:`finished` only for the
        pages kept, as trial pages are many."""
        from kpitree.present.tree_image import tree_graph

        graph = tree_graph(self.result, nodes=nodes, heading=title)
        svg = save_image(graph, None, "svg")
        self.graphs[svg] = graph
        return TreePage(name, title, svg, b"", self.dpi, svg_size(svg), smallest_text(svg))

    def finished(self, pages: list[TreePage]) -> list[TreePage]:
        done = []
        for page in pages:
            graph = self.graphs[page.svg]
            graph.attr(dpi=f"{float(self.dpi):g}")
            done.append(replace(page, png=save_image(graph, None, "png")))
        return done

    def fits(self, page: TreePage) -> bool:
        """On a slide: shrunk to fit, its text stays ≥ 10 pt; in a scrolling page (no height):
        it fits the width at full size (it is never shrunk there)."""
        width, height = self.room
        if height is None:
            return page.size[0] <= width and page.min_scale <= 1.0
        scale = min(width / page.size[0], height / page.size[1], 1.0)
        return scale >= page.min_scale - 1e-9

    def fitted(self, name: str, title: str, nodes: list[Node], parent: str) -> TreePage:
        """``nodes``' page, keeping fewer of ``parent``'s children until it fits."""
        page = self.page(name, title, nodes)
        count = sum(n.parent == parent for n in nodes)
        top = count - 2
        while not self.fits(page) and top >= 1:
            page = self.page(name, title, keep_top(nodes, top=top))
            top -= 2 if top > 4 else 1
        return page

    def split(self, nodes: list[Node], title: str, name: str) -> list[TreePage]:
        """One page for a subtree, or its top levels and a page per cut child."""
        page = self.page(name, title, nodes)
        if self.fits(page):
            return [page]
        for depth in (2, 1):
            cut = cut_depth(nodes, depth=depth, note=ON_ITS_OWN)
            if len(cut) == len(nodes):
                continue
            first = self.page(name, title, cut)
            if not self.fits(first):
                continue
            pages = [first]
            below = children_of(nodes)
            kept = {n.id for n in cut}
            for node in cut:
                if below.get(node.id) and not all(c.id in kept for c in below[node.id]):
                    pages += self.split(subtree(nodes, node.id),
                                        f"{nodes[0].title} → {node.title}",
                                        f"{name}-{_slug(node.id.rsplit('/', 1)[-1])}")
            return pages
        return [page]  # a single box that does not fit: shown scrolled, never shrunk


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "part"
