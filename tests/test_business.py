"""Totals (MRR = users × ARPU) as volume, mix and rate; projection; LTV."""

from __future__ import annotations

import pandas as pd
import pytest

import kpitree
from tests.conftest import (
    SAAS_DATA,
    SAAS_TREE,
    SIMPLE_TREE,
    assert_printed,
    published,
    read_expected,
)

TREE = kpitree.load_tree(SAAS_TREE)

# Energy = activity × structure × intensity (Xu & Ang 2014): intensity = energy / activity,
# weighted by activity: the total energy is the "MRR" of this tree.
ENERGY = kpitree.tree_from_text("""
root: intensity
weight: activity
segments: [sector]
nodes:
  intensity: {formula: energy / activity}
  energy: {column: energy}
  activity: {column: activity}
""")


def xu_ang_data() -> tuple[pd.DataFrame, dict]:
    folder = published("lmdi_xu_ang_2014")
    inputs = pd.read_csv(folder / "inputs.csv", dtype=str, keep_default_na=False)
    rows = []
    for r in inputs.itertuples(index=False):
        rows.append(("0", r.sector, r.subsector, float(r.E0), float(r.A0)))
        rows.append(("T", r.sector, r.subsector, float(r.ET), float(r.AT)))
    frame = pd.DataFrame(rows, columns=["period", "sector", "subsector", "energy", "activity"])
    return frame, read_expected(folder / "expected.json")


def test_xu_ang_additive_level1() -> None:
    """Ang's additive LMDI-I at level 1 (activity 26.649, structure 6.341, intensity −18.99)."""
    data, expected = xu_ang_data()
    result = kpitree.explain_total(ENERGY, data, base="0", compare="T", by=["sector"],
                                   method="lmdi")
    derived = expected["derived_not_published"]["additive_LMDI_I_level1"]
    totals = result.totals
    assert_printed(totals["volume"], derived["dE_act"], "activity")
    assert_printed(totals["mix"], derived["dE_str"], "structure")
    assert_printed(totals["rate"], derived["dE_int"], "intensity")
    assert_printed(result.delta, derived["dE_tot"], "total")
    assert sum(totals.values()) == pytest.approx(result.delta, abs=1e-12)


@pytest.mark.parametrize(("by", "table", "keys"), [
    (["sector"], "level1", {"volume": "D_act", "mix:sector": "D_str", "rate": "D_int"}),
    (["subsector"], "level2", {"volume": "D_act", "mix:subsector": "D_str", "rate": "D_int"}),
])
def test_xu_ang_multiplicative_single_level(by, table, keys) -> None:
    """Table 2: D = exp(ΔE_x / L(E^T, E^0)) for the level-1 and level-2 single-level models."""
    data, expected = xu_ang_data()
    result = kpitree.explain_total(ENERGY, data, base="0", compare="T", by=by, method="lmdi")
    d = result.multiplicative()
    printed = expected["published"]["table2_single_level"][table]
    for ours, theirs in keys.items():
        assert_printed(d[ours], printed[theirs], f"{table} {theirs}")
    product = d["volume"] * d[next(k for k in d if k.startswith("mix"))] * d["rate"]
    assert product == pytest.approx(expected["published"]["D_tot"], abs=1e-12)


def test_xu_ang_multilevel_m_p() -> None:
    """Table 3, M_P: shares at both levels as separate factors of each subsector's term."""
    data, expected = xu_ang_data()
    result = kpitree.explain_total(ENERGY, data, base="0", compare="T",
                                   by=["sector", "subsector"], method="lmdi")
    d = result.multiplicative()
    printed = expected["published"]["table3_multilevel_symmetric"]["M_P"]
    assert_printed(d["volume"], printed["D_act"], "D_act")
    assert_printed(d["mix:sector"], printed["D_str_level1"], "D_str_level1")
    assert_printed(d["mix:subsector"], printed["D_str_level2"], "D_str_level2")
    assert_printed(d["rate"], printed["D_int"], "D_int")


@pytest.mark.parametrize("method", ["shapley", "sequential", "lmdi"])
@pytest.mark.parametrize("by", [["tier"], ["tier", "region"]])
def test_mrr_bridge_is_exact(method, by) -> None:
    result = kpitree.explain_total(TREE, SAAS_DATA, base="2026-09", compare="2026-10", by=by,
                                   method=method)
    revenue = kpitree.evaluate(TREE, SAAS_DATA, by=[], periods=["2026-09", "2026-10"])
    mrr = (revenue["base"] + revenue["addon"] + revenue["usage"]).to_numpy()
    assert result.base_value == pytest.approx(mrr[0], rel=1e-12)
    assert result.compare_value == pytest.approx(mrr[1], rel=1e-12)
    assert result.effects["value"].sum() == pytest.approx(result.delta, abs=1e-9 * mrr[1])
    assert set(result.totals) >= {"volume", "mix", "rate"}


def test_shapley_volume_is_growth_at_mean_arpu() -> None:
    result = kpitree.explain_total(TREE, SAAS_DATA, base="2026-09", compare="2026-10")
    arpu = kpitree.explain(TREE, SAAS_DATA, base="2026-09", compare="2026-10")
    w0, w1 = arpu.base.weight, arpu.compare.weight
    assert result.totals["volume"] == pytest.approx(
        (w1 - w0) * (arpu.base.value + arpu.compare.value) / 2, rel=1e-12)
    assert result.totals["mix"] == pytest.approx(arpu.totals["mix"] * (w0 + w1) / 2, rel=1e-12)
    assert result.totals["rate"] == pytest.approx(arpu.totals["rate"] * (w0 + w1) / 2, rel=1e-12)


def test_sequential_volume_at_base_arpu() -> None:
    result = kpitree.explain_total(TREE, SAAS_DATA, base="2026-09", compare="2026-10",
                                   method="sequential")
    assert result.totals["volume"] == pytest.approx(
        (result.compare_weight - result.base_weight) * result.base_root, rel=1e-12)
    assert "interaction" in result.totals


def test_total_chart(tmp_path) -> None:
    result = kpitree.explain_total(TREE, SAAS_DATA, base="2026-09", compare="2026-10",
                                   method="lmdi")
    result.chart(str(tmp_path / "mrr.png"))
    assert (tmp_path / "mrr.png").read_bytes()[:4] == b"\x89PNG"


def test_projection_formula() -> None:
    trend = kpitree.trend(TREE, SAAS_DATA)
    p = kpitree.project_next(trend, window=3)
    values = trend.values
    w = values["weight"].to_numpy()
    a = values["value"].to_numpy()
    growth = (w[-1] / w[-4]) ** (1 / 3) - 1
    assert p.weight_growth == pytest.approx(growth, rel=1e-12)
    assert p.root_next == pytest.approx(a[-1] + (a[-1] - a[-4]) / 3, rel=1e-12)
    assert p.total_next == pytest.approx(w[-1] * (1 + growth) * p.root_next, rel=1e-12)
    assert p.window == ("2026-07", "2026-10")
    assert "(1 + g)" in p.formula
    whole = kpitree.project_next(trend)
    assert whole.steps == 11
    with pytest.raises(kpitree.DataError, match="window must be between 1 and 11"):
        kpitree.project_next(trend, window=12)


def test_ltv_is_arpu_over_churn() -> None:
    assert kpitree.ltv(50.0, 0.02) == pytest.approx(2500.0)
    for churn, message in ((0.0, "needs a churn rate above 0"), (-0.1, "above 0"),
                           (2.0, "at most 1 \\(write 2 % as 0.02\\)")):
        with pytest.raises(kpitree.DataError, match=message):
            kpitree.ltv(50.0, churn)


def test_lifetime_value_table() -> None:
    table = kpitree.lifetime_value(TREE, SAAS_DATA, period="2026-10", churn=0.02)
    total = table.iloc[-1]
    assert total["tier"] == "total"
    assert total["ltv"] == pytest.approx(total["arpu"] / 0.02)
    assert total["lifetime"] == pytest.approx(50.0)
    assert "ARPU / churn" in table.attrs["formula"]
    rates = {"business": 0.01, "enterprise": 0.01, "pro": 0.02, "starter": 0.05, "team": 0.03}
    table = kpitree.lifetime_value(TREE, SAAS_DATA, period="2026-10", churn=rates)
    pro = table.set_index("tier").loc["pro"]
    assert pro["ltv"] == pytest.approx(pro["arpu"] / 0.02)
    with pytest.raises(kpitree.DataError, match="no churn rate for tier 'team'"):
        kpitree.lifetime_value(TREE, SAAS_DATA, period="2026-10",
                               churn={k: v for k, v in rates.items() if k != "team"})


def test_churn_computed_from_data() -> None:
    simple = kpitree.tree_from_text(SIMPLE_TREE)
    data = pd.DataFrame([
        ("p0", "a", 100, 1000.0, 0), ("p0", "b", 50, 2500.0, 0),
        ("p1", "a", 110, 1210.0, 5), ("p1", "b", 40, 2000.0, 1),
    ], columns=["period", "tier", "users", "revenue", "churned"])
    table = kpitree.lifetime_value(simple, data, period="p1", churned_column="churned")
    by = table.set_index("tier")
    assert by.loc["a", "churn"] == pytest.approx(5 / 100)
    assert by.loc["total", "churn"] == pytest.approx(6 / 150)
    assert by.loc["a", "ltv"] == pytest.approx(11.0 / 0.05)
    with pytest.raises(kpitree.DataError, match=r"no column 'churn' .*Did you mean 'churned'"):
        kpitree.lifetime_value(simple, data, period="p1", churned_column="churn")
    with pytest.raises(kpitree.DataError, match="is the first period in the data"):
        kpitree.lifetime_value(simple, data, period="p0", churned_column="churned")
    with pytest.raises(kpitree.DataError, match="give churn="):
        kpitree.lifetime_value(simple, data, period="p1")
    zero = data.assign(churned=0)
    with pytest.raises(kpitree.DataError, match="churn of a is 0: LTV = ARPU / churn"):
        kpitree.lifetime_value(simple, zero, period="p1", churned_column="churned")
