"""Trees written the natural way (DESIGN.md §1): product roots, no weight, inline-sum drivers.

A root that is no weighted average — ``crude = alpha * beta``, a four-factor identity of value
added, total energy as activity × structure × intensity — is decomposed through its formula
alone when no segments are asked for; ``weight`` may be omitted; segments are refused with one
line naming the tree. A driver written with an inline sum stays one driver with its own label.
The published numbers come from ``tests/published`` (each test cites its source).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import kpitree
from kpitree.cli.main import main
from kpitree.core.errors import TreeError
from kpitree.core.lmdi import log_mean
from tests.conftest import assert_printed, published, read_expected


def product_tree(factors: list[str]) -> kpitree.Tree:
    """``crude = f1 * f2 * …`` over one column per factor: no weight, no segments."""
    nodes = "\n".join(f"  {f}: {{column: {f}}}" for f in factors)
    return kpitree.tree_from_text(
        f"name: das_gupta\nroot: crude\nnodes:\n  crude: {{formula: {' * '.join(factors)}}}\n"
        + nodes + "\n")


@pytest.mark.parametrize("example", ["toy_alpha_beta", "eg2_1", "eg2_2", "eg2_3", "eg2_4"])
@pytest.mark.parametrize("method", ["shapley", "lmdi"])
def test_das_gupta_product_root(example, method):
    """Das Gupta (1993, Census P23-186) ch. 2 products, as printed by DasGuptR's dg_table
    (josiahpjking/DasGuptR README, HEAD e6bbdd2): the root ``crude = Π factors`` itself.

    Shapley over the factors is Das Gupta's eq. 3.54; LMDI is only checked to be exact.
    """
    folder = published("dasgupta_1993")
    expected = read_expected(folder / f"{example}_expected.json")
    rows = pd.read_csv(folder / f"{example}_inputs.csv", dtype={"pop": str})
    factors = expected["factors"]
    tree = product_tree(factors)
    assert [d.path for d in tree.drivers] == [("crude", f) for f in factors]
    data = rows.rename(columns={"pop": "period"})
    base, compare = expected["population_columns"]
    result = kpitree.explain(tree, data, base=base, compare=compare, method=method)
    table = expected["published_dg_table"]
    assert_printed(result.base.value, table["crude"][base], "crude base")
    assert_printed(result.compare.value, table["crude"][compare], "crude compare")
    assert math.fsum(result.effects["value"]) == pytest.approx(result.delta, abs=1e-12)
    if method == "shapley":
        effects = result.effects.set_index("driver")["value"]
        for factor in factors:
            assert_printed(effects[factor], table[factor]["diff"], factor)
            assert_printed(100 * effects[factor] / result.delta, table[factor]["decomp"],
                           f"{factor} %")


def test_canitez_four_factor_value_added():
    """canitez01/shapley_decomposition README, Example 1 (Turkey 2000→2018): value added per
    capita = value added per worker × employment rate × participation × working-age share.

    The printed inputs are rounded, so (as documented with the example) the published Shapley
    values are reproduced to an absolute 0.01.
    """
    folder = published("shapley_canitez_turkey_value_added")
    expected = read_expected(folder / "expected.json")["published"]
    inputs = pd.read_csv(folder / "inputs.csv").set_index("variable")
    factors = ["val_ad_pw", "emp_rate", "part_rate", "working_age"]
    tree = kpitree.tree_from_text("""
name: value_added
title: Value added per capita
root: val_ad_pc
nodes:
  val_ad_pc: {formula: val_ad_pw * emp_rate * part_rate * working_age}
  val_ad_pw: {label: Value added / worker, column: val_ad_pw}
  emp_rate: {label: Employment rate, column: emp_rate, format: percent}
  part_rate: {label: Participation rate, column: part_rate, format: percent}
  working_age: {label: Working-age share, column: working_age, format: percent}
""")
    data = pd.DataFrame({"period": ["y2000", "y2018"],
                         **{f: [inputs.loc[f, "y2000"], inputs.loc[f, "y2018"]]
                            for f in factors}})
    result = kpitree.explain(tree, data, base="y2000", compare="y2018")
    effects = result.effects.set_index("driver")["value"]
    for factor in factors:
        assert abs(effects[factor] - expected["shapley"][factor]) < 0.01, factor
        share = expected["contribution_share"][factor]
        assert abs(effects[factor] / result.delta - share) < 1e-5, factor


XU_ANG_TREE = """
name: energy_level1
title: Energy use, level-1 decomposition
root: energy
nodes:
  energy: {label: Energy, formula: act * str_1 * int_1 + act * str_2 * int_2}
  act: {label: Activity, formula: (A_11 + A_12 + A_23 + A_24) / one}
  str_1: {label: Structure sector 1, formula: (A_11 + A_12) / (A_11 + A_12 + A_23 + A_24)}
  str_2: {label: Structure sector 2, formula: (A_23 + A_24) / (A_11 + A_12 + A_23 + A_24)}
  int_1: {label: Intensity sector 1, formula: (E_11 + E_12) / (A_11 + A_12)}
  int_2: {label: Intensity sector 2, formula: (E_23 + E_24) / (A_23 + A_24)}
  one: {column: one}
  A_11: {column: A_11}
  A_12: {column: A_12}
  A_23: {column: A_23}
  A_24: {column: A_24}
  E_11: {column: E_11}
  E_12: {column: E_12}
  E_23: {column: E_23}
  E_24: {column: E_24}
"""


def xu_ang_wide() -> tuple[pd.DataFrame, dict]:
    """Xu & Ang (2014) Table 1 (subsector data from Ang 1995) as one row per period."""
    folder = published("lmdi_xu_ang_2014")
    inputs = pd.read_csv(folder / "inputs.csv")
    rows = []
    for period, e, a in (("0", "E0", "A0"), ("T", "ET", "AT")):
        row: dict[str, object] = {"period": period, "one": 1.0}
        for r in inputs.itertuples(index=False):
            row[f"A_{r.sector}{r.subsector}"] = float(getattr(r, a))
            row[f"E_{r.sector}{r.subsector}"] = float(getattr(r, e))
        rows.append(row)
    return pd.DataFrame(rows), read_expected(folder / "expected.json")


def test_xu_ang_level1_with_named_inline_sum_drivers():
    """Xu & Ang (2014, Energy Economics 44:375–382) Table 2, level 1, and Ang's additive LMDI-I
    (activity 26.649, structure 6.341, intensity −18.99), with E = Σ_i A·S_i·I_i written as
    named drivers whose formulas hold inline sums: each stays one driver with its label."""
    tree = kpitree.tree_from_text(XU_ANG_TREE)
    assert [(d.path, d.label) for d in tree.drivers] == [
        (("energy", "act"), "Activity"), (("energy", "str_1"), "Structure sector 1"),
        (("energy", "int_1"), "Intensity sector 1"), (("energy", "act"), "Activity"),
        (("energy", "str_2"), "Structure sector 2"), (("energy", "int_2"), "Intensity sector 2"),
    ]
    data, expected = xu_ang_wide()
    result = kpitree.explain(tree, data, base="0", compare="T", method="lmdi")
    by_driver = result.effects.groupby("driver")["value"].sum()
    derived = expected["derived_not_published"]["additive_LMDI_I_level1"]
    assert_printed(result.delta, derived["dE_tot"], "total")
    assert_printed(by_driver["act"], derived["dE_act"], "activity")
    assert_printed(by_driver["str_1"] + by_driver["str_2"], derived["dE_str"], "structure")
    assert_printed(by_driver["int_1"] + by_driver["int_2"], derived["dE_int"], "intensity")
    # Table 2, multiplicative: D_x = exp(ΔE_x / L(E^T, E^0))
    printed = expected["published"]["table2_single_level"]["level1"]
    weight = float(log_mean(result.compare.value, result.base.value))
    assert_printed(math.exp(by_driver["act"] / weight), printed["D_act"], "D_act")
    assert_printed(math.exp((by_driver["str_1"] + by_driver["str_2"]) / weight),
                   printed["D_str"], "D_str")
    assert_printed(math.exp((by_driver["int_1"] + by_driver["int_2"]) / weight),
                   printed["D_int"], "D_int")
    # the labels reach the views
    assert "Structure sector 1" in str(result)


def test_inline_sum_in_a_driver_keeps_its_label_but_a_named_sum_still_splits():
    tree = kpitree.tree_from_text("""
root: arpu
weight: users
nodes:
  arpu: {formula: recurring_pu + usage_pu}
  recurring_pu: {label: Recurring / user, formula: (base + addon) / users}
  usage_pu: {formula: usage / users}
  revenue: {formula: base + addon}
  users: {column: users}
  base: {column: base}
  addon: {column: addon}
  usage: {column: usage}
""")
    assert [(d.path, d.label) for d in tree.drivers] == [
        (("arpu", "recurring_pu"), "Recurring / user"), (("arpu", "usage_pu"), "usage_pu")]
    sugar = kpitree.tree_from_text("""
root: arpu
weight: users
nodes:
  arpu: {formula: revenue / users}
  revenue: {formula: base + addon}
  users: {column: users}
  base: {column: base}
  addon: {column: addon}
""")
    assert [d.path for d in sugar.drivers] == [("arpu", "revenue", "base"),
                                              ("arpu", "revenue", "addon")]


REVENUE_TREE = """
name: revenue
root: revenue
nodes:
  revenue: {formula: price * units}
  price: {label: Price, column: price}
  units: {label: Units, column: units}
"""


def test_revenue_product_is_explained_and_segments_are_refused(tmp_path, capsys):
    tree_file = tmp_path / "revenue.yaml"
    tree_file.write_text(REVENUE_TREE)
    data = tmp_path / "sales.csv"
    data.write_text("period,region,price,units\n2025,EU,10,100\n2026,EU,12,90\n")
    code = main(["explain", str(tree_file), str(data), "--base", "2025", "--compare", "2026",
                 "--format", "json"])
    assert code == 0
    out = capsys.readouterr().out
    assert '"Price"' in out and '"Units"' in out
    code = main(["explain", str(tree_file), str(data), "--base", "2025", "--compare", "2026",
                 "--by", "region"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kpitree: error: ")
    assert "no 'weight'" in err[0] and "revenue.yaml" in err[0] and "without --by" in err[0]


def test_a_declared_weight_that_does_not_average_is_refused_only_with_segments():
    tree = kpitree.tree_from_text("""
root: revenue
weight: units
nodes:
  revenue: {formula: price * units}
  price: {column: price}
  units: {column: units}
""")
    data = pd.DataFrame({"period": ["a", "b"], "region": ["EU", "EU"], "price": [10.0, 12.0],
                         "units": [100.0, 90.0]})
    result = kpitree.explain(tree, data, base="a", compare="b")
    assert result.delta == pytest.approx(80.0)
    assert result.effects.set_index("driver")["value"].to_dict() == pytest.approx(
        {"price": 2 * 95.0, "units": -10 * 11.0})
    with pytest.raises(TreeError, match="not a weighted average"):
        kpitree.explain(tree, data, base="a", compare="b", by=["region"])


# --- A weight that is a formula (DESIGN §1: ``users: {formula: free + paid}``) -------------------

FORMULA_WEIGHT = """
root: arpu
weight: users
segments: [tier]
nodes:
  arpu: {formula: revenue / users}
  revenue: {formula: base + addon}
  users: {label: Users, formula: free + paid}
  attach: {formula: adopters / users}
  free: {column: free_users}
  paid: {column: paid_users}
  adopters: {column: adopters}
  base: {column: base}
  addon: {column: addon}
"""
COLUMN_WEIGHT = FORMULA_WEIGHT.replace("formula: free + paid", "column: users")


def formula_weight_data() -> pd.DataFrame:
    """Tier c enters in p1 and tier d exits: the cases that used to break."""
    frame = pd.DataFrame([
        ("p0", "a", 100, 50, 20, 500.0, 50.0), ("p0", "b", 10, 40, 5, 900.0, 100.0),
        ("p0", "d", 30, 10, 2, 200.0, 10.0),
        ("p1", "a", 120, 60, 30, 650.0, 70.0), ("p1", "b", 10, 30, 6, 700.0, 90.0),
        ("p1", "c", 5, 20, 4, 800.0, 40.0),
    ], columns=["period", "tier", "free_users", "paid_users", "adopters", "base", "addon"])
    return frame.assign(users=frame["free_users"] + frame["paid_users"])


@pytest.mark.parametrize("method", [*kpitree.METHODS, "cross"])
def test_formula_weight_with_entering_and_exiting_segments(method):
    """Same numbers as with the weight summed into one column, on every method and --cross;
    the named-sum sugar still splits revenue into its components."""
    formula_tree = kpitree.tree_from_text(FORMULA_WEIGHT)
    column_tree = kpitree.tree_from_text(COLUMN_WEIGHT)
    assert [d.path for d in formula_tree.drivers] == [("arpu", "revenue", "base"),
                                                      ("arpu", "revenue", "addon")]
    data = formula_weight_data()
    if method == "cross":
        one = kpitree.explain_cross(formula_tree, data, base="p0", compare="p1", by=["tier"])
        other = kpitree.explain_cross(column_tree, data, base="p0", compare="p1", by=["tier"])
    else:
        one = kpitree.explain(formula_tree, data, base="p0", compare="p1", method=method)
        other = kpitree.explain(column_tree, data, base="p0", compare="p1", method=method)
    assert one.delta == pytest.approx(other.delta, abs=1e-12)
    assert one.effects["value"].to_numpy() == pytest.approx(
        other.effects["value"].to_numpy(), abs=1e-12)
    assert set(one.segments["status"]) == {"both", "entered", "exited"}
    assert "NaN" not in one.to_json()
