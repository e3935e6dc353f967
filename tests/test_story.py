"""One story in every view (DESIGN.md §4/§4a), as properties over random nested data.

On random data with one to three nested dimensions, segments that launch or exit at every
level and tiers without add-on adopters, for every method: the JSON ``segments[].effects`` are
the sums of the matching effects rows; the terminal table's segment columns add up to its
headline; the tree image's branches add up to the headline and every box to its children; the
bridge's bars add up to the effects, per group and per segment; driver boxes of nested trees
show the values their contribution was computed from.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kpitree
from kpitree.present.bridge import bridge_steps
from kpitree.present.table import segment_columns, segment_effect
from kpitree.present.tree_view import TreeView
from tests.conftest import SAAS_TREE

TREE = kpitree.load_tree(SAAS_TREE)
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DIMS = ("tier", "region", "device")
VALUES = {"tier": ["a", "b", "c"], "region": ["EU", "NA"], "device": ["ios", "web"]}


def close(a: float, b: float, scale: float = 1.0) -> bool:
    return math.isclose(float(a), float(b), rel_tol=0.0, abs_tol=1e-9 * max(1.0, scale))


@st.composite
def nested(draw) -> tuple[pd.DataFrame, list[str]]:
    """Two periods over 1–3 nested dimensions; any group may exist in one period only."""
    depth = draw(st.integers(1, 3))
    dims = list(DIMS[:depth])
    cells = [{}]
    for dim in dims:
        values = draw(st.lists(st.sampled_from(VALUES[dim]), min_size=1,
                               max_size=len(VALUES[dim]), unique=True))
        cells = [{**c, dim: v} for c in cells for v in values]
    presence: dict[tuple, str] = {}
    rows = []
    money = st.floats(0.5, 300.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    for cell in cells:
        # a launch or exit can happen at any level: the first level whose group is absent wins
        here = "both"
        for k in range(1, depth + 1):
            key = tuple(cell[d] for d in dims[:k])
            if key not in presence:
                presence[key] = draw(st.sampled_from(["both", "both", "both", "base",
                                                      "compare"]))
            if presence[key] != "both":
                here = presence[key]
                break
        for period, present in (("p0", here in ("both", "base")),
                                ("p1", here in ("both", "compare"))):
            users = draw(st.integers(1, 3000)) if present else 0
            adopters = draw(st.integers(0, users))
            rows.append({
                "period": period, **cell, "active_users": float(users),
                "addon_users": float(adopters), "base_revenue": users * draw(money),
                "addon_revenue": adopters * draw(money),
                "usage_revenue": users * draw(st.floats(0.0, 40.0, allow_subnormal=False)),
            })
    frame = pd.DataFrame(rows)
    for period in ("p0", "p1"):  # a period needs some users
        if frame.loc[frame["period"] == period, "active_users"].sum() == 0:
            index = frame.index[frame["period"] == period][0]
            frame.loc[index, ["active_users", "base_revenue"]] = [1.0, 10.0]
    return frame, dims


def explain(frame: pd.DataFrame, dims: list[str], method: str) -> kpitree.Explanation:
    return kpitree.explain(TREE, frame, base="p0", compare="p1", by=dims, method=method)


def inside(effects: pd.DataFrame, segment: dict) -> pd.Series:
    mask = np.ones(len(effects), dtype=bool)
    for dim, value in segment.items():
        mask &= (effects[dim] == value).to_numpy()
    return pd.Series(mask, index=effects.index)


@pytest.mark.parametrize("method", kpitree.METHODS)
@SETTINGS
@given(data=nested())
def test_json_segment_effects_are_the_sums_of_their_rows(data, method):
    frame, dims = data
    result = explain(frame, dims, method)
    out = json.loads(result.to_json())
    effects = result.effects
    scale = max(abs(result.base.value), abs(result.compare.value))
    for item in out["segments"]:
        level = item["level"]
        rows = effects[inside(effects, item["segment"])]
        own = rows[rows["level"] == level]
        deeper = rows[(rows["kind"] != "rate") & rows["level"].notna()
                      & (rows["level"] != level)]
        expected = {
            "mix": own.loc[own["kind"] == "mix", "value"].sum(),
            "inner_mix": deeper.loc[deeper["kind"] == "mix", "value"].sum(),
            "rate": rows.loc[rows["kind"] == "rate", "value"].sum(),
            "interaction": own.loc[own["kind"] == "interaction", "value"].sum(),
            "inner_interaction": deeper.loc[deeper["kind"] == "interaction", "value"].sum(),
        }
        for name, value in expected.items():
            assert close(item["effects"][name], value, scale), (item, name, value)
        assert close(item["effects"]["total"], rows["value"].sum(), scale)
        if level == dims[-1]:
            assert item["effects"]["inner_mix"] == 0.0
    # the outermost segments' whole changes add up to the change
    outer = [s["effects"]["total"] for s in out["segments"] if s["level"] == dims[0]]
    assert close(math.fsum(outer), out["delta"], scale)


@pytest.mark.parametrize("method", kpitree.METHODS)
@SETTINGS
@given(data=nested())
def test_table_columns_add_up_to_the_headline(data, method):
    frame, dims = data
    result = explain(frame, dims, method)
    totals = result.totals
    scale = max(abs(result.base.value), abs(result.compare.value))
    outer = result.segments[result.segments["level"] == dims[0]]
    columns = {heading: math.fsum(segment_effect(row, names)
                                  for row in outer.itertuples(index=False))
               for heading, names in segment_columns(result)}
    assert ("inner mix" in columns) == (len(dims) > 1)
    assert close(columns["mix"] + columns.get("inner mix", 0.0), totals["mix"], scale)
    assert close(columns["rate"], totals["rate"], scale)
    assert close(columns.get("interaction", 0.0), totals.get("interaction", 0.0), scale)
    text = str(result)
    assert "inner mix" in text if len(dims) > 1 else "inner mix" not in text


@pytest.mark.parametrize("method", kpitree.METHODS)
@SETTINGS
@given(data=nested())
def test_tree_branches_add_up_to_the_headline(data, method):
    frame, dims = data
    result = explain(frame, dims, method)
    nodes = TreeView.of(result).nodes()
    by_id = {n.id: n for n in nodes}
    totals = result.totals
    scale = max(abs(result.base.value), abs(result.compare.value))
    assert close(by_id["root"].contribution, result.delta, scale)
    assert close(by_id["mix"].contribution, totals["mix"], scale)
    assert close(by_id["rate"].contribution, totals["rate"], scale)
    if method == "sequential":
        assert close(by_id["interaction"].contribution, totals["interaction"], scale)
    # every box is the exact sum of its children (the interaction branch lists only the
    # inner interaction boxes; the outer interaction has no per-segment boxes)
    children: dict[str, list[float]] = {}
    for node in nodes:
        if node.parent is not None:
            children.setdefault(node.parent, []).append(node.contribution)
    for parent, values in children.items():
        if parent == "interaction":
            continue
        assert close(by_id[parent].contribution, math.fsum(values), scale), parent
    if len(dims) > 1:  # the inner mix sits under Mix, never under rate
        assert all(n.parent == "mix/inner" for n in nodes if n.id.startswith("inner-mix/"))
        assert close(by_id["mix/inner"].contribution,
                     result.effects.query("kind == 'mix' and level != @dims[0]")["value"].sum(),
                     scale)


@pytest.mark.parametrize("method", kpitree.METHODS)
@SETTINGS
@given(data=nested())
def test_bridge_bars_add_up_to_the_effects(data, method):
    frame, dims = data
    result = explain(frame, dims, method)
    totals = result.totals
    scale = max(abs(result.base.value), abs(result.compare.value))
    for rate_by in ("component", "segment"):
        steps = bridge_steps(result, rate_by=rate_by, top=50)
        groups: dict[str, float] = {}
        for step in steps[1:-1]:
            groups[step.group] = groups.get(step.group, 0.0) + step.value
        assert close(groups.get("mix", 0.0), totals["mix"], scale)
        assert close(groups.get("rate", 0.0), totals["rate"], scale)
        assert close(groups.get("interaction", 0.0), totals.get("interaction", 0.0), scale)
    # by segment, each rate bar is the segment's rate in the tree and the tables
    outer = result.segments[result.segments["level"] == dims[0]]
    rates = {str(row[dims[0]]): float(row["rate"]) for row in outer.to_dict("records")}
    by_id = {n.id: n for n in TreeView.of(result).nodes()}
    for step in bridge_steps(result, rate_by="segment", top=50):
        if step.group == "rate":
            name = step.label.split("\n")[0]
            assert close(step.value, rates[name], scale)
    for row in outer.to_dict("records"):
        node = by_id.get(f"rate/{dims[0]}={row[dims[0]]}")
        if node is not None:
            assert close(node.contribution, row["rate"], scale)


@pytest.mark.parametrize("method", ["shapley", "sequential"])
@SETTINGS
@given(data=nested())
def test_nested_driver_boxes_show_the_values_behind_their_contribution(data, method):
    """For a linear part (``base / user``) the contribution is the change of the values shown,
    scaled by the segment's share weight: no pooled values that include the inner mix."""
    frame, dims = data
    if len(dims) < 2:
        dims = [*dims, "region"] if "region" in frame else dims
    if len(dims) < 2:
        return
    result = explain(frame, dims, method)
    parts = result.parts
    segments = result.segments[result.segments["level"] == dims[0]].set_index(dims[0])
    rows = parts[(parts["level"] == dims[0]) & (parts["node"] == "base_pu")]
    scale = max(abs(result.base.value), abs(result.compare.value))
    for row in rows.to_dict("records"):
        s = segments.loc[row[dims[0]]]
        if s["status"] != "both":
            continue
        weight = ((s["base_share"] + s["compare_share"]) / 2 if method == "shapley"
                  else s["base_share"])
        assert close((row["compare"] - row["base"]) * weight, row["effect"], scale)


def test_bundled_tier_region_tells_one_story():
    """The issue's example: headline, table, tree and bridge agree on mix, inner mix, rate."""
    result = kpitree.explain(TREE, "data/saas_monthly.csv", base="2026-09", compare="2026-10",
                             by=["tier", "region"])
    nodes = {n.id: n for n in TreeView.of(result).nodes()}
    totals = result.totals
    assert nodes["mix"].contribution == pytest.approx(totals["mix"], abs=1e-12)
    assert nodes["rate"].contribution == pytest.approx(totals["rate"], abs=1e-12)
    pro = result.segments.query("level == 'tier' and tier == 'pro'").iloc[0]
    bars = {s.label.split("\n")[0]: s.value
            for s in bridge_steps(result, rate_by="segment", top=50) if s.group == "rate"}
    assert bars["pro"] == pytest.approx(pro["rate"], abs=1e-12)
    assert nodes["rate/tier=pro"].contribution == pytest.approx(pro["rate"], abs=1e-12)
    text = str(result)
    assert "inner mix" in text and "region within tier" in text


def test_lmdi_segment_mix_reads_like_shapley():
    """LMDI's per-segment mix is centred on the parent's mean rate as for shapley: moving out of
    an above-average tier is negative mix in both (bundled data: pro, business)."""
    data = "data/saas_monthly.csv"
    shapley = kpitree.explain(TREE, data, base="2026-09", compare="2026-10")
    lmdi = kpitree.explain(TREE, data, base="2026-09", compare="2026-10", method="lmdi")
    a = shapley.segments.set_index("tier")["mix"]
    b = lmdi.segments.set_index("tier")["mix"]
    for tier in a.index:
        if abs(a[tier]) > 0.05:
            assert np.sign(a[tier]) == np.sign(b[tier]), tier
    assert lmdi.totals["mix"] == pytest.approx(b.sum(), abs=1e-12)


def test_cross_launch_is_tier_composition_not_region():
    """A tier launching with the same region split as everyone else moves no region share, so
    --cross gives it tier composition only (it used to put half into region composition)."""
    rows = []
    for period, tiers in (("p0", {"a": 100, "b": 50}), ("p1", {"a": 100, "b": 50, "c": 30})):
        for tier, users in tiers.items():
            for region, share in (("EU", 0.4), ("NA", 0.6)):
                n = users * share
                rows.append((period, tier, region, n, n * {"a": 10, "b": 30, "c": 90}[tier]))
    frame = pd.DataFrame(rows, columns=["period", "tier", "region", "users", "revenue"])
    tree = kpitree.tree_from_text("""
root: arpu
weight: users
segments: [tier, region]
nodes:
  arpu: {formula: revenue / users}
  users: {column: users}
  revenue: {column: revenue}
""")
    result = kpitree.explain_cross(tree, frame, base="p0", compare="p1", by=["tier", "region"])
    mix = result.effects[result.effects["kind"] == "mix"].groupby("level")["value"].sum()
    assert mix["region"] == pytest.approx(0.0, abs=1e-9)
    assert mix["tier"] == pytest.approx(result.delta, abs=1e-9)
