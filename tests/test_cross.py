"""Order-free cross-classified mix (``--cross``), golden-tested against DasGuptR's eg5_3.

Source: Das Gupta (1993), *Standardization and Decomposition of Rates: A User's Manual*, US
Census P23-186, example 5.3 (death rates by age × race, US 1970 vs 1985), as transcribed and
computed by the R package DasGuptR (josiahpjking/DasGuptR, README at e6bbdd2 for ``eg5_3``;
``vignettes/category_effects`` for the Chevan & Sutherland (2009) per-category effects). The
printed numbers are DasGuptR's output, read from ``tests/published/dasgupta_1993/`` at test
time and matched at their printed precision. DasGuptR's convention is the *nested* one (see the
``convention_warning`` in ``eg5_3_expected.json``), and so is kpitree's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kpitree
from kpitree.analysis.cross import composition_effects, explain_cross, structure_factors
from kpitree.cli.main import main
from kpitree.io.generate import planted_users

from .conftest import SAAS_TREE, assert_printed, published, read_expected

EG5_3_TREE = """
name: eg5_3
title: Death rate by age × race
root: dr
weight: n
segments: [age, race]
nodes:
  dr: {label: Death rate, formula: deaths / n}
  deaths: {column: deaths}
  n: {column: size}
"""


@pytest.fixture(scope="module")
def eg5_3():
    folder = published("dasgupta_1993")
    inputs = pd.read_csv(folder / "eg5_3_inputs.csv", dtype={"pop": str, "age": str,
                                                            "race": str})
    inputs["deaths"] = inputs["size"] * inputs["rate"]
    expected = read_expected(folder / "eg5_3_expected.json")
    categories = read_expected(folder / "eg5_3_category_effects_expected.json")
    tree = kpitree.tree_from_text(EG5_3_TREE)
    result = explain_cross(tree, inputs, base="1970", compare="1985", by=["age", "race"],
                           period_column="pop")
    return inputs, expected, categories, result


def test_eg5_3_factor_effects_and_crude_rates(eg5_3):
    _, expected, _, result = eg5_3
    table = expected["published_dg_table"]
    mix = result.effects[result.effects["kind"] == "mix"].groupby("level")["value"].sum()
    rate = result.effects.loc[result.effects["kind"] == "rate", "value"].sum()
    assert_printed(mix["age"], table["age_struct"]["diff"], "age_struct")
    assert_printed(mix["race"], table["race_struct"]["diff"], "race_struct")
    assert_printed(rate, table["rate"]["diff"], "rate")
    assert_printed(result.base.value, table["crude"]["1970"], "crude 1970")
    assert_printed(result.compare.value, table["crude"]["1985"], "crude 1985")
    assert_printed(result.delta, table["crude"]["diff"], "crude diff")
    for factor, value in (("age_struct", mix["age"]), ("race_struct", mix["race"]),
                          ("rate", rate)):
        assert_printed(100 * value / result.delta, table[factor]["decomp"], f"{factor} %")


def test_eg5_3_standardized_rates_and_structure_factors(eg5_3):
    inputs, expected, categories, _ = eg5_3
    table = expected["published_dg_table"]
    cells = []
    for pop in ("1970", "1985"):
        frame = inputs[inputs["pop"] == pop].sort_values(["race", "age"], key=lambda s:
                                                         s.astype(int))
        cells.append(frame.reset_index(drop=True))
    codes = np.column_stack([cells[0]["age"].astype(int) - 1, cells[0]["race"].astype(int) - 1])
    sizes = [c["size"].to_numpy(float) for c in cells]
    rates = [c["rate"].to_numpy(float) for c in cells]
    factors = [structure_factors(s, codes) for s in sizes]
    for t in (0, 1):  # the factors' product is the cell share
        assert np.allclose(np.prod(factors[t], axis=0), sizes[t] / sizes[t].sum(), rtol=1e-12)
    first = expected["dgcc_first_rows"]  # 1985, race 1, ages 1-6
    for k, name in ((0, "age_struct"), (1, "race_struct")):
        for i, printed in enumerate(first[name]):
            assert_printed(factors[1][k, i], printed, f"dgcc {name} row {i + 1}")
    _, q0, q1 = composition_effects(factors[0], factors[1], (rates[0] + rates[1]) / 2)
    for k, name in ((0, "age_struct"), (1, "race_struct")):
        assert_printed(q0[k], table[name]["1970"], f"{name} 1970")
        assert_printed(q1[k], table[name]["1985"], f"{name} 1985")
    shares = [s / s.sum() for s in sizes]
    mean_share = (shares[0] + shares[1]) / 2
    assert_printed(float(mean_share @ rates[0]), table["rate"]["1970"], "rate 1970")
    assert_printed(float(mean_share @ rates[1]), table["rate"]["1985"], "rate 1985")
    for i, printed in enumerate(categories["published_cell_std_rates_1985_race1"]["rate"]):
        assert_printed(mean_share[i] * rates[1][i], printed, f"cell rate-std 1985 age {i + 1}")


def test_eg5_3_category_effects_chevan_sutherland(eg5_3):
    _, _, categories, result = eg5_3
    segments = result.segments
    delta = result.delta
    checked = 0
    for dim, values in categories["published_pct"].items():
        for value, printed in values.items():
            row = segments[(segments["level"] == dim) & (segments[dim] == value)].iloc[0]
            assert_printed(100 * row["mix"] / delta, printed["comp_ce"], f"{dim}={value} comp")
            # the published category rate shares the rate equally between the dimensions
            assert_printed(100 * row["category_rate"] / delta, printed["rate_ce"],
                           f"{dim}={value} rate")
            assert_printed(100 * (row["mix"] + row["category_rate"]) / delta, printed["tot_ce"],
                           f"{dim}={value} total")
            checked += 3
    sums = categories["published_sums"]
    assert_printed(float((segments["mix"] + segments["category_rate"]).sum()),
                   sums["sum_tot_ce_all_categories"], "sum of totals")
    assert_printed(float(segments["category_rate"].sum()), sums["sum_rate_ce_all_categories"],
                   "sum of rate effects")
    assert checked == 39


def test_cross_is_order_free_and_exact():
    tree = kpitree.load_tree(SAAS_TREE)
    users = planted_users(20_000, seed=3)
    one = explain_cross(tree, users, base="p0", compare="p1", by=["tier", "region", "device"])
    other = explain_cross(tree, users, base="p0", compare="p1", by=["device", "tier", "region"])
    assert one.totals == pytest.approx(other.totals, abs=1e-12)
    for dim in ("tier", "region", "device"):
        a = one.effects[(one.effects["level"] == dim)].set_index(dim)["value"]
        b = other.effects[(other.effects["level"] == dim)].set_index(dim)["value"]
        assert a.sort_index().to_numpy() == pytest.approx(b.sort_index().to_numpy(), abs=1e-12)
    assert one.effects["value"].sum() == pytest.approx(one.delta, abs=1e-9)
    categories = one.segments["mix"] + one.segments["category_rate"]
    assert categories.sum() == pytest.approx(one.delta, abs=1e-9)
    # DESIGN §4a: within one dimension, each segment's mix + inner mix + rate is its change
    for dim in ("tier", "region", "device"):
        level = one.segments[one.segments["level"] == dim]
        whole = level["mix"] + level["inner_mix"] + level["rate"]
        assert whole.sum() == pytest.approx(one.delta, abs=1e-9)


def test_cli_cross(capsys, tmp_path):
    path = tmp_path / "users.csv"
    planted_users(5_000, seed=1).to_csv(path, index=False)
    code = main(["explain", str(SAAS_TREE), str(path), "--base", "p0", "--compare", "p1",
                 "--by", "tier", "region", "--cross", "--format", "json"])
    assert code == 0
    assert '"method": "cross"' in capsys.readouterr().out
    code = main(["explain", str(SAAS_TREE), str(path), "--base", "p0", "--compare", "p1",
                 "--by", "tier", "--cross", "--method", "lmdi"])
    assert code == 2
    assert "--cross is its own method" in capsys.readouterr().err
