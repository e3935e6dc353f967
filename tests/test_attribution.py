"""Unit tests of the attribution maths on small, hand-computed cases (DESIGN.md §3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kpitree
from kpitree.core.lmdi import log_mean
from kpitree.core.result import AttributionError, Explanation
from kpitree.core.shapley import shapley_weight
from tests.conftest import SAAS_TREE, SIMPLE_TREE

SIMPLE = kpitree.tree_from_text(SIMPLE_TREE)


def frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["period", "tier", "users", "revenue"])


TWO_TIERS = frame([
    ("p0", "basic", 80, 800.0), ("p0", "pro", 20, 1000.0),   # rates 10, 50; A0 = 18
    ("p1", "basic", 60, 660.0), ("p1", "pro", 40, 2400.0),   # rates 11, 60; A1 = 30.6
])


def effect(result: Explanation, kind: str, tier: str | None = None, driver: str | None = None):
    rows = result.effects[result.effects["kind"] == kind]
    if tier is not None:
        rows = rows[rows["tier"] == tier]
    if driver is not None:
        rows = rows[rows["driver"] == driver]
    return float(rows["value"].sum())


def test_two_tiers_by_hand():
    result = kpitree.explain(SIMPLE, TWO_TIERS, base="p0", compare="p1")
    assert result.base.value == pytest.approx(18.0)
    assert result.compare.value == pytest.approx(30.6)
    mean_total = (18.0 + 30.6) / 2
    # mix of s: (w1 − w0)·((r0 + r1)/2 − (A0 + A1)/2); rate of s: (r1 − r0)·(w0 + w1)/2
    assert effect(result, "mix", "basic") == pytest.approx((0.6 - 0.8) * (10.5 - mean_total))
    assert effect(result, "mix", "pro") == pytest.approx((0.4 - 0.2) * (55.0 - mean_total))
    assert effect(result, "rate", "basic") == pytest.approx(1.0 * 0.7)
    assert effect(result, "rate", "pro") == pytest.approx(10.0 * 0.3)
    assert result.totals["mix"] + result.totals["rate"] == pytest.approx(12.6)
    # A move from a below-average tier into an above-average one is positive mix on both.
    assert effect(result, "mix", "basic") > 0 and effect(result, "mix", "pro") > 0


def test_sequential_by_hand():
    result = kpitree.explain(SIMPLE, TWO_TIERS, base="p0", compare="p1", method="sequential")
    # mix at base rates Σ Δw·r0, rate at base shares Σ w0·Δr, interaction Σ Δw·Δr
    assert result.totals["mix"] == pytest.approx(-0.2 * 10 + 0.2 * 50)
    assert result.totals["rate"] == pytest.approx(0.8 * 1 + 0.2 * 10)
    assert result.totals["interaction"] == pytest.approx(-0.2 * 1 + 0.2 * 10)
    # each segment's mix is centred on the base average (ACCA's "weighted average" form)
    assert effect(result, "mix", "basic") == pytest.approx(-0.2 * (10 - 18))


def test_lmdi_by_hand():
    result = kpitree.explain(SIMPLE, TWO_TIERS, base="p0", compare="p1", method="lmdi")
    # term of a tier: V = w·r; mix = L(V1, V0)·ln(w1/w0), rate = L(V1, V0)·ln(r1/r0); the
    # per-segment mix is centred on the mean of A0 = 18 and A1 = 30.6 as for shapley (DESIGN
    # §3), which leaves the mix total unchanged
    v0, v1 = 0.8 * 10, 0.6 * 11
    centre = -0.2 * (18 + 30.6) / 2
    assert effect(result, "mix", "basic") == pytest.approx(
        log_mean(v1, v0) * np.log(0.6 / 0.8) - centre)
    w0, w1 = 0.2 * 50, 0.4 * 60
    assert effect(result, "mix") == pytest.approx(
        log_mean(v1, v0) * np.log(0.6 / 0.8) + log_mean(w1, w0) * np.log(0.4 / 0.2))
    assert effect(result, "rate", "basic") == pytest.approx(log_mean(v1, v0) * np.log(11 / 10))
    assert sum(result.totals.values()) == pytest.approx(12.6)


def test_entered_and_exited_segments_are_all_mix():
    data = frame([("p0", "basic", 80, 800.0), ("p0", "legacy", 20, 100.0),
                  ("p1", "basic", 70, 770.0), ("p1", "new", 30, 2100.0)])
    result = kpitree.explain(SIMPLE, data, base="p0", compare="p1")
    status = result.segments.set_index("tier")["status"].to_dict()
    assert status == {"basic": "both", "legacy": "exited", "new": "entered"}
    assert effect(result, "rate", "new") == 0.0
    assert effect(result, "rate", "legacy") == 0.0
    mean_total = (result.base.value + result.compare.value) / 2
    assert effect(result, "mix", "new") == pytest.approx(0.3 * (70.0 - mean_total))
    assert effect(result, "mix", "legacy") == pytest.approx(-0.2 * (5.0 - mean_total))


def saas_rows(period, tier, users, adopters, base, addon, usage):
    return {"period": period, "tier": tier, "active_users": users, "addon_users": adopters,
            "base_revenue": base, "addon_revenue": addon, "usage_revenue": usage}


def test_driver_undefined_in_one_period_takes_the_other_periods_value():
    tree = kpitree.load_tree(SAAS_TREE)
    data = pd.DataFrame([
        saas_rows("p0", "pro", 100, 0, 8000.0, 0.0, 500.0),      # no adopters: 0/0 per adopter
        saas_rows("p1", "pro", 100, 20, 8000.0, 600.0, 500.0),   # 20 % attach × 30 per adopter
    ])
    result = kpitree.explain(tree, data, base="p0", compare="p1")
    assert result.delta == pytest.approx(6.0)
    # attach 0 → 0.2 at revenue per adopter 30 (the compare value stands in for the base)
    assert effect(result, "rate", driver="attach") == pytest.approx(0.2 * 30)
    assert effect(result, "rate", driver="addon_per_adopter") == 0.0
    parts = result.parts[(result.parts["level"] == "tier") & (result.parts["node"] ==
                                                               "addon_per_adopter")]
    assert np.isnan(parts["base"].iloc[0])  # displayed as undefined, not silently 0


def test_driver_undefined_in_both_periods_contributes_zero():
    tree = kpitree.load_tree(SAAS_TREE)
    data = pd.DataFrame([saas_rows("p0", "free", 100, 0, 0.0, 0.0, 0.0),
                         saas_rows("p0", "pro", 10, 5, 800.0, 100.0, 0.0),
                         saas_rows("p1", "free", 120, 0, 0.0, 0.0, 0.0),
                         saas_rows("p1", "pro", 10, 5, 900.0, 100.0, 0.0)])
    result = kpitree.explain(tree, data, base="p0", compare="p1")
    free = result.effects[(result.effects["kind"] == "rate") & (result.effects["tier"] == "free")]
    assert (free["value"] == 0.0).all()


def test_product_splits_by_shapley():
    tree = kpitree.load_tree(SAAS_TREE)
    data = pd.DataFrame([saas_rows("p0", "pro", 100, 10, 0.0, 200.0, 0.0),   # 0.1 × 20
                         saas_rows("p1", "pro", 100, 30, 0.0, 750.0, 0.0)])  # 0.3 × 25
    result = kpitree.explain(tree, data, base="p0", compare="p1", by=[])
    # Δx·(y0 + y1)/2 and Δy·(x0 + x1)/2
    assert effect(result, "rate", driver="attach") == pytest.approx(0.2 * (20 + 25) / 2)
    assert effect(result, "rate", driver="addon_per_adopter") == pytest.approx(5 * 0.2)


def test_ratio_with_sum_numerator_splits_per_component():
    tree = kpitree.tree_from_text("""
root: arpu
weight: users
segments: [tier]
nodes:
  arpu: {formula: revenue / users}
  revenue: {formula: base + addon}
  base: {column: base}
  addon: {column: addon}
  users: {column: users}
""")
    data = pd.DataFrame({"period": ["p0", "p1"], "tier": ["a", "a"], "users": [10, 20],
                         "base": [100.0, 300.0], "addon": [50.0, 40.0]})
    result = kpitree.explain(tree, data, base="p0", compare="p1")
    rate = result.effects[result.effects["kind"] == "rate"].set_index("driver")
    assert rate.loc["base", "path"] == ("arpu", "revenue", "base")
    assert rate.loc["base", "value"] == pytest.approx(15.0 - 10.0)
    assert rate.loc["addon", "value"] == pytest.approx(2.0 - 5.0)



def nested_data() -> pd.DataFrame:
    rows = [
        ("p0", "basic", "EU", 40, 400.0), ("p0", "basic", "NA", 40, 480.0),
        ("p0", "pro", "EU", 10, 500.0), ("p0", "pro", "NA", 10, 600.0),
        ("p1", "basic", "EU", 30, 330.0), ("p1", "basic", "NA", 30, 390.0),
        ("p1", "pro", "EU", 10, 520.0), ("p1", "pro", "NA", 30, 1950.0),
        ("p1", "ent", "EU", 5, 1000.0),
    ]
    return pd.DataFrame(rows, columns=["period", "tier", "region", "users", "revenue"])


@pytest.mark.parametrize("method", kpitree.METHODS)
def test_nested_levels_add_up(method):
    result = kpitree.explain(SIMPLE, nested_data(), base="p0", compare="p1",
                             by=["tier", "region"], method=method)
    outer = result.effects[(result.effects["level"] == "tier")]
    inner = result.effects[(result.effects["level"] == "region")]
    assert len(outer[outer["kind"] == "mix"]) == 3 and len(inner[inner["kind"] == "mix"]) == 5
    assert result.effects["value"].sum() == pytest.approx(result.delta, rel=1e-12)
    # DESIGN §4a: an outer segment's inner mix is the deeper levels' mix inside it, its rate
    # only its cells' driver effects
    tiers = result.segments[result.segments["level"] == "tier"].set_index("tier")
    effects = result.effects
    for tier in ("basic", "pro"):
        inside = effects[effects["tier"] == tier]
        assert tiers.loc[tier, "inner_mix"] == pytest.approx(
            inside[(inside["kind"] == "mix") & (inside["level"] != "tier")]["value"].sum())
        assert tiers.loc[tier, "rate"] == pytest.approx(
            inside[inside["kind"] == "rate"]["value"].sum())


def test_nested_outer_mix_equals_single_level_mix():
    data = nested_data()
    single = kpitree.explain(SIMPLE, data, base="p0", compare="p1", by=["tier"])
    nested = kpitree.explain(SIMPLE, data, base="p0", compare="p1", by=["tier", "region"])
    outer = nested.effects[nested.effects["level"] == "tier"].set_index("tier")["value"]
    flat = single.effects[single.effects["kind"] == "mix"].set_index("tier")["value"]
    pd.testing.assert_series_equal(outer.sort_index(), flat.sort_index())


def test_outer_segment_absent_is_all_outer_mix():
    result = kpitree.explain(SIMPLE, nested_data(), base="p0", compare="p1",
                             by=["tier", "region"])
    ent = result.effects[result.effects["tier"] == "ent"]
    assert (ent.loc[ent["level"] != "tier", "value"] == 0.0).all()
    assert ent.loc[ent["level"] == "tier", "value"].iloc[0] != 0.0


def test_no_segments_is_all_rate():
    result = kpitree.explain(SIMPLE, TWO_TIERS, base="p0", compare="p1", by=[])
    assert set(result.effects["kind"]) == {"rate"}
    assert result.totals["rate"] == pytest.approx(12.6)


def test_lmdi_refuses_negative_values():
    data = TWO_TIERS.copy()
    data.loc[0, "revenue"] = -10.0
    with pytest.raises(kpitree.MethodError, match="positive"):
        kpitree.explain(SIMPLE, data, base="p0", compare="p1", method="lmdi")


def test_lmdi_refuses_division_by_a_sum():
    """LMDI needs a sum of products; a sum in a denominator cannot be expanded into one."""
    from kpitree.core.expr import Ref
    from kpitree.core.structure import Driver, Linear, Product, expand_products

    a, b, c = (Driver(("r", n), Ref(n), n) for n in "abc")
    part = Product(("r",), ((1, a), (-1, Linear(("r", "d"), ((1.0, b), (1.0, c))))))
    with pytest.raises(kpitree.MethodError, match="divides by a sum"):
        expand_products(part)


def test_unknown_method_suggests():
    with pytest.raises(kpitree.MethodError, match="Did you mean 'shapley'"):
        kpitree.explain(SIMPLE, TWO_TIERS, base="p0", compare="p1", method="shapely")


def test_explanation_refuses_effects_that_do_not_add_up():
    result = kpitree.explain(SIMPLE, TWO_TIERS, base="p0", compare="p1")
    broken = result.effects.copy()
    broken.loc[0, "value"] += 0.01
    with pytest.raises(AttributionError):
        Explanation(tree=result.tree, method=result.method, by=result.by, base=result.base,
                    compare=result.compare, effects=broken, segments=result.segments,
                    parts=result.parts)


def test_shapley_weights_sum_to_one():
    for n in range(1, 7):
        from math import comb
        total = sum(comb(n - 1, s) * shapley_weight(s, n) for s in range(n))
        assert total == pytest.approx(1.0)


def test_zero_total_weight_is_an_error():
    data = TWO_TIERS.copy()
    data.loc[data["period"] == "p1", ["users", "revenue"]] = 0.0
    with pytest.raises(kpitree.DataError, match="zero in period p1"):
        kpitree.explain(SIMPLE, data, base="p0", compare="p1")


def test_json_contract_keys():
    result = kpitree.explain(SIMPLE, TWO_TIERS, base="p0", compare="p1")
    payload = result.to_dict()
    assert {"tree", "metric", "method", "base", "compare", "delta", "segments",
            "effects"} <= payload.keys()
    assert payload["base"] == {"period": "p0", "value": pytest.approx(18.0), "weight": 100.0}
    mix = [e for e in payload["effects"] if e["kind"] == "mix"]
    rate = [e for e in payload["effects"] if e["kind"] == "rate"]
    assert all(e["level"] == "tier" and e["path"] == ["arpu"] for e in mix)
    assert all("level" not in e and e["path"] == ["arpu"] for e in rate)
    assert sum(e["value"] for e in payload["effects"]) == pytest.approx(payload["delta"])


@pytest.mark.parametrize("method", kpitree.METHODS)
def test_exact_even_with_subnormal_values(method):
    """Found by hypothesis: a usage revenue of 5e-324 once broke LMDI's log-mean identity."""
    tree = kpitree.load_tree(SAAS_TREE)
    data = pd.DataFrame([
        saas_rows("p0", "a", 1, 0, 1.0, 0.0, 0.0), saas_rows("p1", "a", 1, 0, 0.0, 0.0, 0.0),
        saas_rows("p0", "c", 1, 0, 3.0, 0.0, 1.5e-323), saas_rows("p1", "c", 1, 0, 1.0, 0.0, 1.0),
    ])
    result = kpitree.explain(tree, data, base="p0", compare="p1", method=method)
    assert result.effects["value"].sum() == pytest.approx(result.delta, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("method", kpitree.METHODS)
def test_attribute_accepts_cells_in_any_order_and_repeated(method):
    """Callers such as driver discovery build Cells in their own order; found by a render whose
    driver boxes showed another segment's effects."""
    from kpitree.core.attribution import attribute
    from kpitree.core.cells import Cells

    keys = pd.DataFrame({"tier": ["pro", "basic", "pro"]})  # unsorted, 'pro' twice
    cells = Cells.two(keys, {"revenue": np.array([600.0, 800.0, 400.0]),
                             "users": np.array([12.0, 80.0, 8.0])},
                      {"revenue": np.array([1200.0, 660.0, 1200.0]),
                       "users": np.array([20.0, 60.0, 20.0])})
    result = attribute(SIMPLE, cells, dims=["tier"], method=method, periods=("p0", "p1"))
    expected = kpitree.explain(SIMPLE, TWO_TIERS, base="p0", compare="p1", method=method)
    pd.testing.assert_frame_equal(result.effects, expected.effects)
    parts = result.parts[(result.parts["level"] == "tier") & (result.parts["kind"] == "driver")]
    rate = result.effects[result.effects["kind"] == "rate"].set_index("tier")["value"]
    assert parts.set_index("tier")["effect"].to_dict() == pytest.approx(rate.to_dict())
