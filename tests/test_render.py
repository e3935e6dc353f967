"""The annotated tree image and the one number formatter.

The DOT source is checked without Graphviz's ``dot``; the image tests run ``dot`` and are
skipped when it is not installed (the missing-``dot`` error is tested by hiding it).
"""

from __future__ import annotations

import doctest
import html
import math
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kpitree
from kpitree.core import formatting
from kpitree.core.errors import RenderError
from kpitree.core.formatting import (
    format_change,
    format_pct_change,
    format_value,
    value_kind,
)
from kpitree.present import tree_image as render
from kpitree.present.style import DOT_MISSING
from kpitree.present.tree_image import render_explanation, tree_dot

ROOT = Path(__file__).parent.parent
SAAS_TREE = ROOT / "trees" / "saas_arpu.yaml"
SAAS_DATA = ROOT / "data" / "saas_monthly.csv"
TIERS = ("starter", "team", "pro", "business", "enterprise")
DRIVER_LABELS = ("Base / user", "Add-ons / user", "Add-on attach rate",
                 "Add-on revenue / adopter", "Usage / user")
INSTALL_LINE = ("Graphviz's 'dot' is not installed: apt-get install graphviz (Debian/Ubuntu) "
                "or brew install graphviz (macOS)")

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot not installed")


def explain(**kwargs: object) -> kpitree.Explanation:
    options = {"base": "2026-09", "compare": "2026-10", **kwargs}
    return kpitree.explain(kpitree.load_tree(SAAS_TREE), SAAS_DATA, **options)


@pytest.fixture(scope="module")
def by_tier() -> kpitree.Explanation:
    return explain()


@pytest.fixture(scope="module")
def by_tier_region() -> kpitree.Explanation:
    return explain(by=["tier", "region"])


def node_line(dot: str, node_id: str) -> str:
    """The DOT statement declaring ``node_id``."""
    lines = [line for line in dot.splitlines()
             if re.match(rf'\s*"?{re.escape(node_id)}"? \[', line)]
    assert len(lines) == 1, f"{node_id!r} declared {len(lines)} times"
    return lines[0]


def has_edge(dot: str, tail: str, head: str) -> bool:
    pattern = rf'^\s*"?{re.escape(tail)}"? -> "?{re.escape(head)}"?$'
    return re.search(pattern, dot, flags=re.MULTILINE) is not None


def declared_ids(dot: str) -> list[str]:
    return re.findall(r'^\s*"?([^"\s]+)"? \[label=', dot, flags=re.MULTILINE)


def svg_text(svg: bytes) -> str:
    """The visible text of an SVG: entities decoded, non-breaking spaces made plain."""
    text = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg.decode("utf-8")))
    return re.sub(r"\s+", " ", html.unescape(text).replace("\xa0", " "))


# --- The DOT source ----------------------------------------------------------------------------

def test_dot_is_deterministic(by_tier: kpitree.Explanation) -> None:
    first = tree_dot(by_tier)
    assert tree_dot(by_tier) == first
    assert tree_dot(explain()) == first  # a fresh, equal explanation gives the same text


def test_dot_is_deterministic_with_two_dimensions(by_tier_region: kpitree.Explanation) -> None:
    assert tree_dot(by_tier_region) == tree_dot(explain(by=["tier", "region"]))


def test_dot_needs_no_dot_executable(by_tier: kpitree.Explanation, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "digraph saas_arpu" in tree_dot(by_tier)


def test_node_ids_are_names_and_paths(by_tier: kpitree.Explanation) -> None:
    ids = declared_ids(tree_dot(by_tier))
    assert ids[:3] == ["root", "mix", "rate"]
    assert "mix/tier=pro" in ids
    assert "rate/tier=pro" in ids
    assert "rate/tier=pro/addon_pu.attach" in ids
    # 1 root + 2 branches + 5 mix + 5 × (tier + 5 parts) = 38 boxes
    assert len(ids) == 38
    assert len(set(ids)) == len(ids)


def test_segments_are_ordered_cheapest_first(by_tier: kpitree.Explanation) -> None:
    ids = declared_ids(tree_dot(by_tier))
    for branch in ("mix", "rate"):
        order = [i.split("=")[1] for i in ids if re.fullmatch(rf"{branch}/tier=\w+", i)]
        assert order == list(TIERS)  # by mean ARPU: the plan ladder


def test_drivers_follow_formula_order(by_tier: kpitree.Explanation) -> None:
    ids = [i for i in declared_ids(tree_dot(by_tier)) if i.startswith("rate/tier=pro/")]
    assert ids == ["rate/tier=pro/base_pu", "rate/tier=pro/addon_pu",
                   "rate/tier=pro/addon_pu.attach", "rate/tier=pro/addon_pu.addon_per_adopter",
                   "rate/tier=pro/usage_pu"]


def test_every_figure_goes_through_the_formatter(by_tier: kpitree.Explanation) -> None:
    dot = tree_dot(by_tier)
    root = node_line(dot, "root")
    assert format_change(by_tier.delta, "currency", "USD") in root  # +$4.13
    assert "$51.29" in root and "$55.43" in root and "(+8.1 %)" in root
    assert format_change(by_tier.totals["mix"], "currency", "USD") in node_line(dot, "mix")
    assert format_change(by_tier.totals["rate"], "currency", "USD") in node_line(dot, "rate")
    attach = node_line(dot, "rate/tier=pro/addon_pu.attach")
    assert "27.3 %" in attach and "32.4 %" in attach and "+5.1 pp" in attach  # percent node
    share = node_line(dot, "mix/tier=pro")
    assert "15.6 %" in share and "13.6 %" in share and "−2.0 pp" in share


def test_contributions_of_children_add_up(by_tier: kpitree.Explanation) -> None:
    parts = by_tier.parts
    pro = parts[(parts["level"] == "tier") & (parts["tier"] == "pro")].set_index("node")
    children = pro.loc[["base_pu", "addon_pu", "usage_pu"], "effect"].sum()
    assert children == pytest.approx(pro.loc["arpu", "effect"], abs=1e-12)
    dot = tree_dot(by_tier)
    expected = format_change(pro.loc["addon_pu", "effect"], "currency", "USD")
    assert f"<B>{expected}</B>" in node_line(dot, "rate/tier=pro/addon_pu")


def test_colour_follows_the_sign_of_the_contribution(by_tier: kpitree.Explanation) -> None:
    dot = tree_dot(by_tier)
    assert 'color="#1a9850"' in node_line(dot, "mix/tier=business")  # +$4.21: green
    assert 'color="#d73027"' in node_line(dot, "mix/tier=pro")  # −$0.96: red
    assert 'color="#9e9e9e"' in node_line(dot, "rate/tier=business")  # $0.00: grey


def test_stronger_contribution_gets_a_deeper_fill(by_tier: kpitree.Explanation) -> None:
    dot = tree_dot(by_tier)

    def whiteness(node_id: str) -> int:
        fill = re.search(r'fillcolor="#(\w{6})"', node_line(dot, node_id)).group(1)
        return sum(int(fill[i:i + 2], 16) for i in (0, 2, 4))

    # business mix (+$4.21) is deeper green than starter mix (+$0.11)
    assert whiteness("mix/tier=business") < whiteness("mix/tier=starter")


def test_entered_segment_is_dashed_and_badged(by_tier: kpitree.Explanation) -> None:
    dot = tree_dot(by_tier)
    for node_id in ("mix/tier=business", "rate/tier=business"):
        line = node_line(dot, node_id)
        assert "NEW in 2026-10" in line
        assert "dashed" in line
    assert "dashed" not in node_line(dot, "mix/tier=pro")
    assert "NEW in" not in node_line(dot, "mix/tier=pro")


def test_exited_segment_is_marked_gone() -> None:
    backwards = explain(base="2026-10", compare="2026-09")
    line = node_line(tree_dot(backwards), "mix/tier=business")
    assert "gone in 2026-09" in line and "dashed" in line


def test_two_dimensions_nest_the_inner_mix(by_tier_region: kpitree.Explanation) -> None:
    dot = tree_dot(by_tier_region)
    segments = by_tier_region.segments
    for tier in TIERS:
        line = node_line(dot, f"inner-mix/tier={tier}")
        assert "region mix" in line
        assert all(region in line for region in ("APAC", "EU", "NA"))
        # DESIGN §4a: the inner mix sits under the Mix branch, never under rate
        assert has_edge(dot, "mix/inner", f"inner-mix/tier={tier}")
        assert not has_edge(dot, f"rate/tier={tier}", f"inner-mix/tier={tier}")
        inner = segments[(segments["level"] == "region")
                         & segments["segment"].map(lambda s, t=tier: s["tier"] == t)]
        assert format_change(inner["mix"].sum(), "currency", "USD") in line
    assert "Interaction" not in dot


def test_sequential_shows_the_interaction() -> None:
    result = explain(method="sequential")
    line = node_line(tree_dot(result), "interaction")
    assert format_change(result.totals["interaction"], "currency", "USD") in line
    assert has_edge(tree_dot(result), "root", "interaction")


def test_no_dimensions_show_the_total_structure() -> None:
    result = explain(by=[])
    dot = tree_dot(result)
    ids = declared_ids(dot)
    assert ids == ["root", "total/base_pu", "total/addon_pu", "total/addon_pu.attach",
                   "total/addon_pu.addon_per_adopter", "total/usage_pu"]
    assert has_edge(dot, "root", "total/addon_pu")
    assert has_edge(dot, "total/addon_pu", "total/addon_pu.attach")
    assert not has_edge(dot, "root", "total/addon_pu.attach")


def test_undefined_driver_shows_a_dash() -> None:
    tree = kpitree.load_tree(ROOT / "trees" / "arppu.yaml")
    result = kpitree.explain(tree, ROOT / "data" / "freemium_monthly.csv",
                             base="2026-09", compare="2026-10", by=["plan"])
    line = node_line(tree_dot(result), "rate/plan=free/arppu")
    assert "—  →  —" in line  # ARPPU of the free plan is 0/0 in both periods


# --- Images ------------------------------------------------------------------------------------

@needs_dot
def test_svg_shows_title_tiers_drivers_and_delta(by_tier: kpitree.Explanation) -> None:
    svg = render_explanation(by_tier)  # no path: SVG bytes
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    text = svg_text(svg)
    assert "ARPU by plan tier" in text
    for name in (*TIERS, *DRIVER_LABELS):
        assert name in text, name
    assert "+$4.13" in text and "(+8.1 %)" in text
    assert "NEW in 2026-10" in text


@needs_dot
def test_png_is_a_real_png_of_plausible_size(by_tier: kpitree.Explanation,
                                              tmp_path: Path) -> None:
    path = tmp_path / "arpu.png"
    assert by_tier.render(path) == path  # render() writes and returns the path
    data = path.read_bytes()
    assert by_tier.render(format="png") == data
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 300 and height > 300
    assert len(data) > 10_000


@needs_dot
def test_pdf_starts_with_the_pdf_header_and_is_stable(by_tier: kpitree.Explanation,
                                                      tmp_path: Path) -> None:
    data = render_explanation(by_tier, tmp_path / "arpu.pdf")
    assert data.startswith(b"%PDF")
    # Cairo stamps the time; it is fixed so that the same input gives the same bytes.
    assert re.findall(rb"/CreationDate \(([^)]*)\)", data) in ([], [b"D:19700101000000Z"])
    assert render_explanation(by_tier, format="pdf") == data


@needs_dot
def test_same_input_same_svg_bytes(by_tier_region: kpitree.Explanation) -> None:
    assert render_explanation(by_tier_region) == render_explanation(by_tier_region)


def test_missing_dot_fails_loudly_with_the_install_line(
    by_tier: kpitree.Explanation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no dot anywhere
    with pytest.raises(RenderError) as error:
        by_tier.render(tmp_path / "arpu.png")
    assert str(error.value) == INSTALL_LINE == DOT_MISSING
    assert not (tmp_path / "arpu.png").exists()
    assert by_tier._repr_svg_() is None  # notebooks fall back to text


@pytest.mark.parametrize(
    ("path", "fmt", "message"),
    [
        (None, "jpeg", "cannot write the tree image as 'jpeg'; formats: png, svg, pdf"),
        ("tree.gif", None, "use a .png, .svg or .pdf file"),
        ("tree", None, "use a .png, .svg or .pdf file"),
        ("tree.svg", "png", "tree.svg ends in .svg but format 'png' was asked for"),
    ],
)
def test_bad_format_names_the_allowed_ones(
    by_tier: kpitree.Explanation, tmp_path: Path, path: str | None, fmt: str | None,
    message: str,
) -> None:
    with pytest.raises(RenderError, match=re.escape(message)):
        render_explanation(by_tier, None if path is None else tmp_path / path, format=fmt)


# --- The formatter -----------------------------------------------------------------------------

def test_formatting_doctests_pass() -> None:
    outcome = doctest.testmod(formatting)
    assert outcome.attempted > 10
    assert outcome.failed == 0


@pytest.mark.parametrize(
    ("fmt", "unit", "kind"),
    [("percent", "USD", "percent"), ("number", "USD", "number"), (None, "USD", "currency"),
     (None, None, "number"), (None, "", "number"), ("currency", "EUR", "currency")],
)
def test_value_kind(fmt: str | None, unit: str | None, kind: str) -> None:
    assert value_kind(fmt, unit) == kind


@pytest.mark.parametrize(
    ("value", "kind", "unit", "text"),
    [
        (51.2946, "currency", "USD", "$51.29"),
        (1234567.891, "currency", "USD", "$1,234,567.89"),
        (-1234.5, "currency", "EUR", "−€1,234.50"),
        (99.5, "currency", "GBP", "£99.50"),
        (98765.4, "currency", "JPY", "¥98,765"),
        (1234.5, "currency", "CHF", "1,234.50 CHF"),
        (0.0036, "currency", "USD", "$0.0036"),
        (0.0, "currency", "USD", "$0.00"),
        (-0.001, "currency", "JPY", "¥0"),
        (0.125838, "percent", None, "12.6 %"),
        (1.0, "percent", None, "100.0 %"),
        (46099.0, "number", None, "46,099"),
        (8.869859, "number", None, "8.87"),
        (None, "currency", "USD", "—"),
        (float("nan"), "percent", None, "—"),
        (float("inf"), "number", None, "—"),
    ],
)
def test_format_value(value: float | None, kind: str, unit: str | None, text: str) -> None:
    assert format_value(value, kind, unit) == text


@pytest.mark.parametrize(
    ("delta", "kind", "unit", "text"),
    [
        (3.6849, "currency", "USD", "+$3.68"),
        (-0.9576, "currency", "USD", "−$0.96"),
        (-2345.678, "currency", "EUR", "−€2,345.68"),
        (12.5, "currency", "SEK", "+12.50 SEK"),
        (-0.012, "percent", None, "−1.2 pp"),
        (0.0161, "percent", None, "+1.6 pp"),
        (0.0, "percent", None, "0.0 pp"),
        (-839.0, "number", None, "−839"),
        (0.4455, "number", None, "+0.45"),
        (-0.0041, "currency", "USD", "−$0.0041"),
        (-1e-9, "currency", "USD", "$0.00"),  # rounds to zero: no sign
        (None, "currency", "USD", "—"),
    ],
)
def test_format_change(delta: float | None, kind: str, unit: str | None, text: str) -> None:
    assert format_change(delta, kind, unit) == text


def test_changes_use_a_real_minus_sign() -> None:
    assert format_change(-1.0, "currency", "USD").startswith("\u2212")
    assert "-" not in format_change(-1.0, "currency", "USD")
    assert "-" not in format_pct_change(10.0, 5.0)


@pytest.mark.parametrize(
    ("base", "compare", "text"),
    [
        (51.29, 55.43, "+8.1 %"),
        (0.1562, 0.1358, "−13.1 %"),
        (-10.0, -5.0, "+50.0 %"),  # relative to |base|: a rise reads as a rise
        (4.0, 4.0, "0.0 %"),
        (None, 170.77, "new"),
        (0.0, 3.0, "new"),
        (2.0, None, "gone"),
        (2.0, float("nan"), "gone"),
        (0.0, 0.0, "0.0 %"),
        (None, None, "—"),
    ],
)
def test_format_pct_change(base: float | None, compare: float | None, text: str) -> None:
    assert format_pct_change(base, compare) == text


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown value kind"):
        format_value(1.0, "ratio")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown format"):
        value_kind("ratio", "USD")


# --- Large trees: the top contributors and an exact "other" box ----------------------------------

def wide_data(n: int = 40, *, regions: int = 1, seed: int = 7) -> pd.DataFrame:
    """Two periods of ``n`` tiers (× ``regions`` regions) with random, well-formed measures."""
    rng = np.random.default_rng(seed)
    rows = []
    for period in ("2026-09", "2026-10"):
        for i in range(n):
            for j in range(regions):
                users = int(rng.integers(50, 5000))
                adopters = int(users * rng.uniform(0.05, 0.3))
                rows.append({"period": period, "tier": f"s{i:02d}", "region": f"r{j:02d}",
                             "active_users": users, "addon_users": adopters,
                             "base_revenue": users * rng.uniform(10, 200),
                             "addon_revenue": adopters * rng.uniform(10, 40),
                             "usage_revenue": users * rng.uniform(1, 10)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def wide() -> kpitree.Explanation:
    return kpitree.explain(kpitree.load_tree(SAAS_TREE), wide_data(40), base="2026-09",
                           compare="2026-10")


def _contribution(line: str) -> str:
    """The bold contribution figure of a node."""
    return re.findall(r"<B>([^<]*)</B>", line)[1]


def test_forty_segments_show_the_top_ten_and_an_other_box(wide: kpitree.Explanation) -> None:
    dot = tree_dot(wide)
    ids = declared_ids(dot)
    for branch, kind in (("mix", "mix"), ("rate", "rate")):
        kept = [i for i in ids if re.fullmatch(rf"{branch}/tier=s\d\d", i)]
        assert len(kept) == render.TOP_SEGMENTS
        segments = wide.segments
        largest = segments.reindex(segments[kind].abs().sort_values(ascending=False).index)
        assert {f"{branch}/tier={t}" for t in largest["tier"][:10]} == set(kept)
        other = node_line(dot, f"{branch}/other")
        assert "other 30 tier segments" in other
        assert has_edge(dot, branch, f"{branch}/other")
        rest = math.fsum(largest[kind][10:])
        assert _contribution(other) == format_change(rest, "currency", "USD")
    assert "Only the 10 largest contributors are drawn" in dot


def test_folded_boxes_keep_the_children_adding_up(wide: kpitree.Explanation) -> None:
    dot = tree_dot(wide)
    for branch in ("mix", "rate"):
        children = [i for i in declared_ids(dot)
                    if re.fullmatch(rf"{branch}/(tier=s\d\d|other)", i)]
        shown = {i: _contribution(node_line(dot, i)) for i in children}
        total = _contribution(node_line(dot, branch))
        assert total == format_change(wide.totals[branch], "currency", "USD")
        # the exact values behind the boxes add up to the branch total
        segments = wide.segments.set_index("tier")
        kept = [i.split("=")[1] for i in children if "=" in i]
        other = math.fsum(v for t, v in segments[branch].items() if t not in kept)
        assert math.fsum([*segments.loc[kept, branch], other]) == pytest.approx(
            wide.totals[branch], abs=1e-12)
        assert len(shown) == 11


def test_twelve_segments_are_not_folded() -> None:
    result = kpitree.explain(kpitree.load_tree(SAAS_TREE), wide_data(12), base="2026-09",
                             compare="2026-10")
    dot = tree_dot(result)
    assert "mix/other" not in declared_ids(dot) and "Only the" not in dot


def test_a_long_inner_table_folds_its_smallest_rows() -> None:
    result = kpitree.explain(kpitree.load_tree(SAAS_TREE), wide_data(2, regions=20),
                             base="2026-09", compare="2026-10", by=["tier", "region"])
    line = node_line(tree_dot(result), "inner-mix/tier=s00")
    assert "other 10" in line
    assert line.count("<TR><TD ALIGN=\"LEFT\">r") == render.TOP_INNER_ROWS


@needs_dot
def test_large_tree_png_is_a_real_image(wide: kpitree.Explanation) -> None:
    png = render_explanation(wide, format="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert 800 < width < 4000 and height < 6000  # readable, not 40 × 5 boxes tall


@needs_dot
def test_png_dpi_scales_the_image(by_tier: kpitree.Explanation) -> None:
    normal = struct.unpack(">II", render_explanation(by_tier, format="png")[16:24])
    sharp = struct.unpack(">II", render_explanation(by_tier, format="png", dpi=144)[16:24])
    assert sharp[0] == pytest.approx(normal[0] * 1.5, rel=0.02)


def test_intervals_appear_in_the_tree_image():
    """Issue 6: bootstrap intervals are shown in the image, with '≈ noise' where they span 0."""
    from kpitree.analysis.bootstrap import with_intervals
    from kpitree.io.generate import planted_users

    data = planted_users(5000, seed=3)
    tree = kpitree.load_tree(ROOT / "trees" / "saas_arpu.yaml")
    result = with_intervals(kpitree.explain(tree, data, base="p0", compare="p1", by=["tier"]),
                            data, replicates=50, seed=1)
    dot = tree_dot(result)
    low, high = result.intervals.totals["mix"]
    fmt = "interval {} … {}".format(
        *(html.escape(format_change(v, "currency", "USD")) for v in (low, high)))
    assert fmt in dot
    assert "Intervals: 95.0 %" in dot
    noisy = result.intervals.effects["noise"].any()
    assert ("≈ noise" in dot) == bool(noisy)
    assert "interval" not in tree_dot(kpitree.explain(tree, data, base="p0", compare="p1",
                                                      by=["tier"]))
