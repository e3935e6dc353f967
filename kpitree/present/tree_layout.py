"""Keeping a large tree readable: folding, pruning and cutting the boxes of the tree image.

What belongs here: pure operations on the list of :class:`~kpitree.present.tree_view.Node`
boxes — hiding the boxes under a subtree whose effects are all zero (a launched tier's rate
drivers, a free tier), cutting the tree at a ``depth``, keeping the ``top`` largest children of
every box with the rest summed exactly into one "other N" box (as the bridge does), and taking
the subtree under one box (a page per outer segment). Every operation keeps the invariant of
the picture: a box's children add up to its contribution. What does not: what a box says
(:mod:`kpitree.present.tree_view`), drawing (:mod:`kpitree.present.tree_image`), or deciding
which pages a report or deck shows (:mod:`kpitree.present.tree_pages`).

>>> from kpitree.present.tree_view import Node
>>> boxes = [Node("root", None, "ARPU", 1.0, ()), Node("a", "root", "a", 0.75, ()),
...          Node("b", "root", "b", 0.25, ()), Node("c", "root", "c", 0.0, ())]
>>> [(n.title, n.contribution) for n in keep_top(boxes, top=1)]
[('ARPU', 1.0), ('a', 0.75), ('other 2', 0.25)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from kpitree.present.tree_view import Node, muted

__all__ = ["Layout", "arrange", "children_of", "collapse_zero", "cut_depth", "depth_of",
           "keep_top", "subtree"]

ZERO = 1e-12  # a contribution within this fraction of the largest counts as exactly zero


@dataclass(frozen=True)
class Layout:
    """How to arrange a tree: collapse zero subtrees, cut at ``depth``, ``top`` children.

    ``depth`` counts boxes from the root (0): ``depth=2`` keeps the root, its branches and their
    children. ``None`` keeps everything.
    """

    collapse: bool = True
    depth: int | None = None
    top: int | None = None


def arrange(nodes: Sequence[Node], layout: Layout | None = None) -> list[Node]:
    """``nodes`` with ``layout`` applied: collapse, then top-N per box, then the depth cut."""
    layout = layout or Layout()
    out = list(nodes)
    if layout.collapse:
        out = collapse_zero(out)
    if layout.top is not None:
        out = keep_top(out, top=layout.top)
    if layout.depth is not None:
        out = cut_depth(out, depth=layout.depth)
    return out


def children_of(nodes: Sequence[Node]) -> dict[str | None, list[Node]]:
    """Each box id → its children, in drawing order."""
    children: dict[str | None, list[Node]] = {}
    for node in nodes:
        children.setdefault(node.parent, []).append(node)
    return children


def depth_of(nodes: Sequence[Node]) -> dict[str, int]:
    """Each box id → its depth (the root is 0)."""
    by_id = {n.id: n for n in nodes}
    depths: dict[str, int] = {}
    for node in nodes:
        d, up = 0, node.parent
        while up is not None and up in by_id:
            d, up = d + 1, by_id[up].parent
        depths[node.id] = d
    return depths


def _descendants(node_id: str, children: dict[str | None, list[Node]]) -> list[Node]:
    found, stack = [], list(children.get(node_id, []))
    while stack:
        node = stack.pop(0)
        found.append(node)
        stack[:0] = children.get(node.id, [])
    return found


def _boxes(count: int) -> str:
    return f"{count} box{'es' if count > 1 else ''}"


def collapse_zero(nodes: Sequence[Node]) -> list[Node]:
    """Hide the boxes under every box whose whole subtree has zero effect.

    The box itself stays (it may carry a "NEW in …" badge) with a note saying how many boxes
    were hidden; a zero-effect box whose subtree has some effect keeps its children.
    """
    scale = max((abs(n.contribution) for n in nodes), default=0.0)
    tiny = ZERO * max(scale, 1.0)
    children = children_of(nodes)
    hidden: set[str] = set()
    notes: dict[str, int] = {}
    for node in nodes:
        if node.id in hidden or node.parent is None:
            continue
        below = _descendants(node.id, children)
        if below and all(abs(n.contribution) <= tiny for n in [node, *below]):
            hidden.update(n.id for n in below)
            notes[node.id] = len(below)
    return [replace(n, lines=(*n.lines, muted(f"{_boxes(notes[n.id])} below, all zero: hidden")))
            if n.id in notes else n for n in nodes if n.id not in hidden]


def cut_depth(nodes: Sequence[Node], *, depth: int,
              note: str = "{boxes} below not drawn (depth {depth})") -> list[Node]:
    """Only the boxes up to ``depth``; a box whose children were cut says how many, with
    ``note`` (``{boxes}`` and ``{depth}`` filled in)."""
    if depth < 0:
        raise ValueError("depth must be ≥ 0")
    depths = depth_of(nodes)
    children = children_of(nodes)
    out = []
    for node in nodes:
        if depths[node.id] > depth:
            continue
        if depths[node.id] == depth and children.get(node.id):
            count = len(_descendants(node.id, children))
            text = note.format(boxes=_boxes(count), depth=depth)
            node = replace(node, lines=(*node.lines, muted(text)))
        out.append(node)
    return out


def keep_top(nodes: Sequence[Node], *, top: int) -> list[Node]:
    """Under every box keep its ``top`` children with the largest |contribution| (in their
    order) and fold the others, with their subtrees, into one exactly summed "other N" box.

    A single leftover child is kept rather than folded (as the bridge's "other" bars).
    """
    if top < 1:
        raise ValueError("top must be ≥ 1")
    children = children_of(nodes)
    dropped: set[str] = set()
    others: dict[str, Node] = {}  # id of the last kept child → the "other" box after it
    for parent, kids in children.items():
        if parent is None or len(kids) <= top + 1:
            continue
        ranked = sorted(range(len(kids)), key=lambda i: (-abs(kids[i].contribution), i))
        keep = set(ranked[:top])
        rest = [k for i, k in enumerate(kids) if i not in keep]
        for k in rest:
            dropped.add(k.id)
            dropped.update(n.id for n in _descendants(k.id, children))
        last_kept = max(keep)
        total = math.fsum(k.contribution for k in rest)
        others[kids[last_kept].id] = Node(
            id=f"{parent}/other-{len(rest)}", parent=parent, title=f"other {len(rest)}",
            contribution=total, lines=(muted("smaller contributors, summed exactly"),),
            role=rest[0].role)
    out: list[Node] = []
    for node in nodes:
        if node.id in dropped:
            continue
        out.append(node)
        if node.id in others:
            pending = others.pop(node.id)
            # after the kept child's own subtree would be cleaner, but Graphviz orders siblings
            # by their first appearance, which this already gives
            out.append(pending)
    return out


def subtree(nodes: Sequence[Node], node_id: str) -> list[Node]:
    """The box ``node_id`` (as the picture's root) and everything under it."""
    by_id = {n.id: n for n in nodes}
    if node_id not in by_id:
        raise KeyError(node_id)
    below = {n.id for n in _descendants(node_id, children_of(nodes))}
    return [replace(by_id[node_id], parent=None), *(n for n in nodes if n.id in below)]
