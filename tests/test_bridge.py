"""The bridge (waterfall) chart: exact bars, folding, colours, real and reproducible images."""

from __future__ import annotations

import math
import struct
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

import kpitree
from kpitree.core.errors import RenderError
from kpitree.present import bridge
from kpitree.present.bridge import bridge_figure, bridge_steps, render_bridge
from kpitree.present.style import NEGATIVE, POSITIVE
from tests.conftest import SAAS_DATA, SAAS_TREE
from tests.test_render import wide_data


def explain(data: object = None, **kwargs: object) -> kpitree.Explanation:
    if data is None:
        data = pd.read_csv(SAAS_DATA, keep_default_na=False)
    options = {"base": "2026-09", "compare": "2026-10", **kwargs}
    return kpitree.explain(kpitree.load_tree(SAAS_TREE), data, **options)


@pytest.fixture(scope="module")
def by_tier() -> kpitree.Explanation:
    return explain()


@pytest.fixture(scope="module")
def wide() -> kpitree.Explanation:
    return explain(wide_data(40))


def middle_sum(steps: list[bridge.Step]) -> float:
    return math.fsum(s.value for s in steps[1:-1])


def test_bars_run_from_base_through_mix_and_rate_to_compare(by_tier) -> None:
    steps = bridge_steps(by_tier)
    assert [s.group for s in steps] == ["start", *["mix"] * 5, *["rate"] * 4, "end"]
    assert steps[0].value == by_tier.base.value and steps[-1].value == by_tier.compare.value
    assert steps[0].value + middle_sum(steps) == pytest.approx(steps[-1].value, abs=1e-12)
    # mix bars largest first; rate bars in formula order, one per driver
    assert [s.label for s in steps[1:3]] == ["business\n(new)", "pro"]
    assert [s.label for s in steps[6:10]] == ["Base / user", "Add-on attach rate",
                                             "Add-on revenue / adopter", "Usage / user"]
    assert steps[1].value == pytest.approx(4.214783621, abs=1e-9)


def test_rate_by_segment_drops_exact_zeros(by_tier) -> None:
    steps = bridge_steps(by_tier, rate_by="segment")
    rate = [s for s in steps if s.group == "rate"]
    assert [s.label for s in rate] == ["pro", "enterprise", "starter", "team"]  # business: 0
    assert middle_sum(steps) == pytest.approx(by_tier.delta, abs=1e-12)


def test_small_effects_fold_into_an_exact_other_bar(by_tier) -> None:
    steps = bridge_steps(by_tier, rate_by="segment", top=2)
    other = [s for s in steps if s.folded]
    assert [s.label for s in other] == ["other 3\ntier segments", "other 2\ntier segments"]
    mix = by_tier.segments.set_index("tier")["mix"]
    assert other[0].value == math.fsum(mix[["team", "starter", "enterprise"]])
    assert middle_sum(steps) == pytest.approx(by_tier.delta, abs=1e-12)


def test_forty_segments_keep_the_top_bars(wide) -> None:
    steps = bridge_steps(wide, rate_by="segment")
    assert len(steps) == 2 + 2 * (bridge.TOP + 1)
    others = [s for s in steps if s.folded]
    assert [s.folded for s in others] == [34, 34]
    assert steps[0].value + middle_sum(steps) == pytest.approx(steps[-1].value, abs=1e-9)


def test_nested_and_sequential_add_inner_mix_and_interaction_bars() -> None:
    result = explain(by=["tier", "region"], method="sequential")
    steps = bridge_steps(result)
    labels = [s.label for s in steps]
    assert "region mix\n(within tier)" in labels
    assert "tier\ninteraction" in labels
    assert middle_sum(steps) == pytest.approx(result.delta, abs=1e-12)


def test_no_segments_gives_driver_bars_only() -> None:
    result = explain(by=[])
    steps = bridge_steps(result)
    assert {s.group for s in steps[1:-1]} == {"rate"}
    assert middle_sum(steps) == pytest.approx(result.delta, abs=1e-12)


def test_colours_are_those_of_the_tree_image(by_tier) -> None:
    figure = bridge_figure(by_tier)
    bars = figure.axes[0].patches
    colours = {tuple(round(c * 255) for c in bar.get_facecolor()[:3]) for bar in bars}
    assert POSITIVE[1] in colours and NEGATIVE[1] in colours


def test_figures_go_through_the_formatter(by_tier) -> None:
    texts = [t.get_text() for t in bridge_figure(by_tier).axes[0].texts]
    assert {"$51.29", "$55.43", "+$4.21", "−$0.96", "+$0.47"} <= set(texts)


def test_png_is_a_real_image(by_tier, tmp_path) -> None:
    png = render_bridge(by_tier, tmp_path / "bridge.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "bridge.png").read_bytes() == png
    width, height = struct.unpack(">II", png[16:24])
    assert width > 1000 and 600 < height < 1000


def test_svg_is_real_xml_with_the_title(by_tier) -> None:
    svg = render_bridge(by_tier, format="svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert b"<dc:date>" not in svg  # no creation date


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_same_result_same_bytes(by_tier, fmt) -> None:
    first = render_bridge(by_tier, format=fmt)
    assert render_bridge(explain(), format=fmt) == first
    if fmt == "pdf":
        assert first.startswith(b"%PDF-") and b"/CreationDate" not in first


def test_bad_options_are_errors(by_tier, tmp_path) -> None:
    with pytest.raises(RenderError, match="component, segment"):
        bridge_steps(by_tier, rate_by="tier")
    with pytest.raises(RenderError, match="at least one"):
        bridge_steps(by_tier, top=0)
    with pytest.raises(RenderError, match="png, svg, pdf"):
        render_bridge(by_tier, tmp_path / "bridge.gif")


def test_plot_bridge_returns_a_figure_and_writes(by_tier, tmp_path) -> None:
    figure = by_tier.plot_bridge(str(tmp_path / "b.svg"), rate_by="segment")
    assert figure.axes and (tmp_path / "b.svg").read_bytes().lstrip().startswith(b"<?xml")
