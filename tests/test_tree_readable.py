"""Trees that stay readable: zero subtrees collapsed, depth and top-N exact, pages that keep the
smallest text at 10 pt at the size they are shown (report, slides, notebook)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

import kpitree
from kpitree.present.pack import REPORT_ROOM, tree_figures
from kpitree.present.tree_layout import Layout, arrange, children_of, collapse_zero, keep_top
from kpitree.present.tree_pages import MIN_TEXT_PT, smallest_text, svg_size, tree_pages
from kpitree.present.tree_view import Node, TreeView
from tests.conftest import SAAS_DATA, SAAS_TREE
from tests.packdata import BASE, COMPARE, LARGE_BY, large_csv

pytest.importorskip("graphviz", reason="the image extra")


@pytest.fixture(scope="module")
def example():
    tree = kpitree.load_tree(SAAS_TREE)
    return kpitree.explain(tree, SAAS_DATA, base=BASE, compare=COMPARE)


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    tree = kpitree.load_tree(SAAS_TREE)
    data = large_csv(tmp_path_factory.mktemp("large"))
    return kpitree.explain(tree, data, base=BASE, compare=COMPARE, by=list(LARGE_BY))


def _adds_up(nodes: list[Node]) -> None:
    """Every box with children: the children add up to it (the picture's invariant)."""
    children = children_of(nodes)
    for node in nodes:
        kids = children.get(node.id, [])
        if kids and node.parent is not None:
            assert math.fsum(k.contribution for k in kids) == pytest.approx(
                node.contribution, abs=1e-9), node.id


def test_zero_subtrees_are_collapsed(example) -> None:
    full = TreeView.of(example).nodes()
    shown = collapse_zero(full)
    entered = [n for n in full if n.id == "rate/tier=business"]
    assert entered, [n.id for n in full]
    assert any(n.parent == "rate/tier=business" for n in full)
    assert not any(n.parent == "rate/tier=business" for n in shown)
    box = next(n for n in shown if n.id == "rate/tier=business")
    assert "all zero: hidden" in box.lines[-1]
    assert len(shown) < len(full)
    # and the image draws it so when asked (the report, deck and notebook pages always do)
    svg = example.render(format="svg", layout=Layout()).decode()
    assert "all zero: hidden" in svg


def test_top_n_per_box_folds_the_rest_exactly(large) -> None:
    nodes = arrange(TreeView.of(large).nodes(), Layout(top=2))
    _adds_up(nodes)
    children = children_of(nodes)
    others = [n for n in nodes if n.title.startswith("other ")]
    assert others
    for parent, kids in children.items():
        if parent is not None and parent != "root":
            assert len(kids) <= 3


def test_depth_cuts_and_says_so(example) -> None:
    nodes = arrange(TreeView.of(example).nodes(), Layout(depth=2))
    depths = {n.id: n.id.count("/") for n in nodes}
    assert max(depths.values()) <= 1  # root, branches, segments
    assert any("not drawn (depth 2)" in line for n in nodes for line in n.lines)


def test_keep_top_doctest_sum() -> None:
    boxes = [Node("root", None, "r", 1.0, ()), Node("m", "root", "m", 1.0, ()),
             *[Node(f"m/{i}", "m", str(i), v, ()) for i, v in enumerate([0.5, 0.3, 0.1, 0.1])]]
    kept = keep_top(boxes, top=2)
    _adds_up(kept)
    assert [n.title for n in kept] == ["r", "m", "0", "1", "other 2"]


@pytest.mark.parametrize("name", ["example", "large"])
@pytest.mark.parametrize("room", [(924.0, 504.0), (REPORT_ROOM[0], None), (750.0, None)],
                         ids=["slide", "report", "notebook"])
def test_pages_keep_text_at_10pt_where_shown(request, name, room) -> None:
    """The smallest text of every page, measured in its SVG at the width it is shown.

    A slide shrinks a picture to fit it; the report and the notebook show pictures at full
    size in a scrolling box (``max-width: none``), and pages are cut so that they fit the
    width there too, but for a single box wider than the room (which then scrolls).
    """
    result = request.getfixturevalue(name)
    pages = tree_pages(result, room=room)
    fitting = 0
    for page in pages:
        width, height = svg_size(page.svg)
        fit = min(room[0] / width, (room[1] / height) if room[1] else 1.0, 1.0)
        shown = fit if room[1] else 1.0
        assert smallest_text(page.svg) * shown >= MIN_TEXT_PT - 1e-6, (page.title, width,
                                                                        height)
        fitting += fit >= 1.0
    if room[1] is None:
        assert fitting >= 0.9 * len(pages), [(p.title, p.size) for p in pages]
    if name == "large":
        assert len(pages) > 2  # overview, then one page per segment at least
    whole = result.render(format="svg")
    if svg_size(whole)[0] > room[0]:
        assert len(pages) > 1


def test_report_shows_pages_at_full_size(large) -> None:
    """In report.html each tree page is an image at its natural CSS size (never shrunk)."""
    figures = tree_figures(large)
    assert len(figures) > 1
    for figure in figures:
        width_px = figure["size"][0]
        assert width_px * 0.75 <= REPORT_ROOM[0] + 1


def test_report_html_has_the_pages(large, tmp_path: Path) -> None:
    from kpitree.present.report import write_report

    paths = write_report(large, tmp_path / "pack")
    html = (tmp_path / "pack" / "report.html").read_text(encoding="utf-8")
    assert html.count('class="tree page"') == len(tree_figures(large))
    assert "figure.page img { max-width: none; }" in html
    assert {p.name for p in paths} >= {"report.html", "tree.png", "tree.svg"}
    assert re.search(r"in \d+ pictures, each at full size", html)
