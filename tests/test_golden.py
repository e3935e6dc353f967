"""Golden tests: published worked examples reproduced at their printed precision.

The inputs and printed results are vendored in ``tests/published/<example>/`` (copied unchanged
from the project's shared ``../shared/published/``, whose README is ``tests/published/README.md``),
so a clone runs every test on its own; each test cites its source, and each folder names it
(``README.md`` and the ``source``/``sources`` of every ``*expected.json``, checked below). An
expected number is never edited: a difference from the source is documented, not fixed.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import kpitree
from tests.conftest import (
    PUBLISHED,
    ROOT,
    assert_printed,
    printed_tolerance,
    published,
    read_expected,
)

SHARED = ROOT.parent / "shared" / "published"
VENDORED = sorted(path.name for path in PUBLISHED.iterdir() if path.is_dir())
# A citation names a web page or a repository file ("github owner/repo:path").
CITATION = re.compile(r"https?://\S+|github [\w.-]+/[\w.-]+")


def _total(result: kpitree.Explanation, kind: str) -> float:
    return float(result.effects.loc[result.effects["kind"] == kind, "value"].sum())


# --- The vendored examples ---------------------------------------------------------------------

@pytest.mark.parametrize("example", VENDORED)
def test_vendored_example_names_its_source(example: str) -> None:
    """Each folder says where its numbers come from, in its README and in every expected file."""
    folder = published(example)
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert readme.count(f"`{example}/`") >= 2, "README.md lacks the folder's entry"
    expected_files = sorted(folder.glob("*expected.json"))
    assert expected_files, f"{folder} has no expected results"
    for path in expected_files:
        expected = read_expected(path)
        source = expected.get("source") or expected.get("sources")
        assert source, f"{path.name} names no source"
        cited = " ".join([source] if isinstance(source, str) else source)
        assert CITATION.search(cited), f"{path.name}: {cited!r} cites no page or repository"


def test_every_vendored_example_is_read_by_a_test() -> None:
    used = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        used |= set(re.findall(r'published\("(\w+)"\)', path.read_text(encoding="utf-8")))
    assert set(VENDORED) == used


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/published is absent (CI has a copy)")
@pytest.mark.parametrize("example", VENDORED)
def test_vendored_files_are_unchanged_copies(example: str) -> None:
    """Beside the shared copy, every vendored data file is byte-identical to it."""
    for path in sorted((PUBLISHED / example).iterdir()):
        if path.name != "README.md":
            assert path.read_bytes() == (SHARED / example / path.name).read_bytes(), path.name
    shared = {path.name for path in (SHARED / example).iterdir()}
    assert shared == {p.name for p in (PUBLISHED / example).iterdir()} - {"README.md"}


# --- Kitagawa (1955) via Preston, Heuveline & Guillot (2001), Table 2.1 -----------------------

KITAGAWA_TREE = """
name: crude_death_rate
root: cdr
weight: pop
segments: [age_group]
nodes:
  cdr: {label: Crude death rate per 1000, formula: 1000 * deaths / pop}
  deaths: {column: deaths}
  pop: {column: midyear_pop}
"""


def _kitagawa(base: str, compare: str) -> tuple[kpitree.Explanation, dict]:
    folder = published("kitagawa_preston_sweden_kazakhstan")
    data = pd.read_csv(folder / "inputs.csv", dtype={"age_group": str})
    tree = kpitree.tree_from_text(KITAGAWA_TREE)
    result = kpitree.explain(tree, data, base=base, compare=compare, period_column="country")
    return result, read_expected(folder / "expected.json")["published"]


def test_kitagawa_sweden_minus_kazakhstan_std_html():
    """grodri.github.io demography/std.html: 3.124519 = rate −4.507903 + composition 7.632422."""
    result, expected = _kitagawa("Kazakhstan", "Sweden")
    assert_printed(result.base.value, expected["crude"]["Kazakhstan"], "crude Kazakhstan")
    assert_printed(result.compare.value, expected["crude"]["Sweden"], "crude Sweden")
    decomposition = expected["decomposition_Sweden_minus_Kazakhstan"]
    assert_printed(result.delta, decomposition["difference"], "difference")
    assert_printed(_total(result, "rate"), decomposition["rate_effect"], "rate effect")
    assert_printed(_total(result, "mix"), decomposition["composition_effect"], "composition")


def test_kitagawa_kazakhstan_minus_sweden_handout_2dp():
    """POP 502 handout (Standardization.pdf): −3.12 = +4.51 − 7.63, periods swapped."""
    result, expected = _kitagawa("Sweden", "Kazakhstan")
    handout = expected["handout_2dp"]["decomposition_Kazakhstan_minus_Sweden"]
    assert_printed(result.delta, handout["difference"], "difference")
    assert_printed(_total(result, "rate"), handout["rate_effect"], "rate effect")
    assert_printed(_total(result, "mix"), handout["composition_effect"], "composition")


def test_kitagawa_standardized_rates_match_half_effects():
    """std.html: rates standardised on the average composition, 11.882 and 7.374094.

    Kitagawa's rate effect is the difference of these two directly standardised rates.
    """
    result, expected = _kitagawa("Kazakhstan", "Sweden")
    standardized = expected["directly_standardized_avg_composition"]
    from_printed = standardized["Sweden"] - standardized["Kazakhstan"]
    tolerance = printed_tolerance(standardized["Sweden"]) + printed_tolerance(
        standardized["Kazakhstan"])
    assert abs(_total(result, "rate") - from_printed) <= tolerance


# --- Das Gupta (1993), as printed by DasGuptR (README, HEAD e6bbdd2) --------------------------

def _chain_product(factors: list[str], rows: pd.DataFrame) -> tuple[kpitree.Tree, pd.DataFrame]:
    """A product of P factors as a chain of ratios n_{k-1}/n_k over counts, with n_P = 1.

    Then the root Π f_k = n_0 / n_P is a weighted average by n_P, and each factor is a driver:
    the product's exact Shapley split is Das Gupta's symmetric decomposition (eq. 3.54).
    """
    p = len(factors)
    nodes = [f"  root: {{formula: {' * '.join(factors)}}}"]
    for k, name in enumerate(factors, start=1):
        nodes.append(f"  {name}: {{formula: n{k - 1} / n{k}}}")
    for k in range(p + 1):
        nodes.append(f"  n{k}: {{column: n{k}}}")
    tree = kpitree.tree_from_text(
        f"name: das_gupta\nroot: root\nweight: n{p}\nsegments: []\nnodes:\n" + "\n".join(nodes)
    )
    data = pd.DataFrame({"period": rows["pop"].astype(str), f"n{p}": 1.0})
    for k in range(p, 0, -1):
        data[f"n{k - 1}"] = data[f"n{k}"] * rows[factors[k - 1]].to_numpy()
    return tree, data


@pytest.mark.parametrize("example", ["toy_alpha_beta", "eg2_1", "eg2_2", "eg2_3", "eg2_4"])
def test_das_gupta_products(example):
    """Das Gupta (1993) ch. 2 product examples (2–5 factors), DasGuptR dg_table output."""
    folder = published("dasgupta_1993")
    expected = read_expected(folder / f"{example}_expected.json")
    rows = pd.read_csv(folder / f"{example}_inputs.csv", dtype={"pop": str})
    tree, data = _chain_product(expected["factors"], rows)
    base, compare = expected["population_columns"]
    result = kpitree.explain(tree, data, base=base, compare=compare)
    table = expected["published_dg_table"]
    assert_printed(result.base.value, table["crude"][base], "crude base")
    assert_printed(result.compare.value, table["crude"][compare], "crude compare")
    effects = result.effects.set_index("driver")["value"]
    for factor in expected["factors"]:
        assert_printed(effects[factor], table[factor]["diff"], factor)
        assert_printed(100 * effects[factor] / result.delta, table[factor]["decomp"],
                       f"{factor} %")


def test_das_gupta_eg3_1_difference():
    """Das Gupta (1993) eg. 3.1: natural increase = CBR − CDR, US 1940 vs 1960."""
    folder = published("dasgupta_1993")
    expected = read_expected(folder / "eg3_1_expected.json")
    rows = pd.read_csv(folder / "eg3_1_inputs.csv", dtype={"pop": str})
    tree = kpitree.tree_from_text("""
root: increase
weight: pop
segments: []
nodes:
  increase: {formula: crude_birth - crude_death}
  crude_birth: {formula: births / pop}
  crude_death: {formula: deaths / pop}
  births: {column: births}
  deaths: {column: deaths}
  pop: {column: pop}
""")
    data = pd.DataFrame({"period": rows["pop"], "pop": 1.0, "births": rows["crude_birth"],
                         "deaths": rows["crude_death"]})
    result = kpitree.explain(tree, data, base="1940", compare="1960")
    table = expected["published_dg_table"]
    effects = result.effects.set_index("driver")["value"]
    assert_printed(result.delta, table["crude"]["diff"], "difference")
    for factor in ("crude_birth", "crude_death"):
        assert_printed(effects[factor], table[factor]["diff"], factor)


def test_das_gupta_eg5_1_mix_versus_rate():
    """Das Gupta (1993) eg. 5.1: headship rate by age, US 1970 vs 1985 — pure mix vs rate."""
    folder = published("dasgupta_1993")
    expected = read_expected(folder / "eg5_1_expected.json")
    rows = pd.read_csv(folder / "eg5_1_inputs.csv", dtype={"pop": str})
    tree = kpitree.tree_from_text("""
root: headship
weight: people
segments: [age_group]
nodes:
  headship: {formula: heads / people}
  heads: {column: heads}
  people: {column: size_pct}
""")
    data = rows.assign(period=rows["pop"], heads=rows["size_pct"] * rows["rate"])
    result = kpitree.explain(tree, data, base="1970", compare="1985")
    table = expected["published_dg_table"]
    assert_printed(result.base.value, table["crude"]["1970"], "crude 1970")
    assert_printed(result.compare.value, table["crude"]["1985"], "crude 1985")
    assert_printed(_total(result, "mix"), table["age_str"]["diff"], "age structure (mix)")
    assert_printed(_total(result, "rate"), table["rate"]["diff"], "rate")


def test_shapley_canitez_turkey_value_added():
    """canitez01/shapley_decomposition README, Example 1: 4-factor Shapley, Turkey 2000→2018.

    The printed inputs are rounded, so (as documented with the example) the published values
    are reproduced to an absolute 0.01, not to their printed 6 dp.
    """
    folder = published("shapley_canitez_turkey_value_added")
    expected = read_expected(folder / "expected.json")["published"]
    inputs = pd.read_csv(folder / "inputs.csv").set_index("variable")
    factors = ["val_ad_pw", "emp_rate", "part_rate", "working_age"]
    rows = pd.DataFrame({"pop": ["y2000", "y2018"]})
    for factor in factors:
        rows[factor] = [inputs.loc[factor, "y2000"], inputs.loc[factor, "y2018"]]
    tree, data = _chain_product(factors, rows)
    result = kpitree.explain(tree, data, base="y2000", compare="y2018")
    effects = result.effects.set_index("driver")["value"]
    for factor in factors:
        assert abs(effects[factor] - expected["shapley"][factor]) < 0.01, factor


# --- FP&A sales-mix variances through `sequential` ---------------------------------------------

SALES_MIX_TREE = """
name: contribution_per_unit
root: cm_pu
weight: units
segments: [product]
nodes:
  cm_pu: {formula: cm / units}
  cm: {column: cm}
  units: {column: units}
"""


def _sales_mix(rows: pd.DataFrame, cm_per_unit: pd.Series) -> kpitree.Explanation:
    """Budget vs actual units, both valued at budget (standard) contribution per unit."""
    frames = []
    for period, column in (("budget", "budget_units"), ("actual", "actual_units")):
        frames.append(pd.DataFrame({"period": period, "product": rows["product"],
                                    "units": rows[column], "cm": rows[column] * cm_per_unit}))
    tree = kpitree.tree_from_text(SALES_MIX_TREE)
    return kpitree.explain(tree, pd.concat(frames), base="budget", compare="actual",
                           method="sequential")


def test_sales_mix_horngren_soda_king():
    """Horngren et al., Cost Accounting 13e, Ex. 14-24 (Soda King): mix 234,000 U."""
    folder = published("sales_mix_horngren_soda_king")
    expected = read_expected(folder / "expected.json")["published"]
    rows = pd.read_csv(folder / "inputs.csv")
    result = _sales_mix(rows, rows["budget_cm_per_unit"])
    actual_units, budget_units = result.compare.weight, result.base.weight
    assert_printed(actual_units * _total(result, "mix"), expected["sales_mix_variance"]["total"],
                   "mix variance")
    assert_printed((actual_units - budget_units) * result.base.value,
                   expected["sales_quantity_variance"]["total"], "quantity variance")
    columns = expected["flexible_budget_columns"]
    assert_printed(actual_units * result.compare.value,
                   columns["actual_units_actual_mix_budget_cm"], "actual mix column")
    assert_printed(actual_units * result.base.value,
                   columns["actual_units_budget_mix_budget_cm"], "budget mix column")
    assert_printed(budget_units * result.base.value, columns["static_budget"], "static budget")
    # No price change in this exercise: no rate and no interaction.
    assert _total(result, "rate") == pytest.approx(0.0, abs=1e-12)
    assert _total(result, "interaction") == pytest.approx(0.0, abs=1e-12)


def test_sales_mix_cma_two_products():
    """CMA-style question (gaodun.com/q/c013gl): composite UCM 6.975 → 7.25, mix 3,300 F."""
    folder = published("sales_mix_cma_two_products")
    expected = read_expected(folder / "expected.json")["published"]
    rows = pd.read_csv(folder / "inputs.csv")
    result = _sales_mix(rows, rows["budget_cm_per_unit"])
    assert_printed(result.base.value, expected["composite_ucm_budget_mix"], "UCM budget mix")
    assert_printed(result.compare.value, expected["composite_ucm_actual_mix"], "UCM actual mix")
    assert_printed(result.compare.weight * _total(result, "mix"),
                   expected["sales_mix_variance"], "mix variance")
    assert_printed(result.compare.weight * result.compare.value
                   - result.base.weight * result.base.value,
                   expected["sales_volume_variance"], "volume variance")


def test_sales_mix_acca_furniture_per_product():
    """Kaplan ACCA PM workbook 2018-19, ch. 10 ex. 6: mix 570.60 A, per product method 2.

    kpitree centres each segment's mix on the base average (354.10), which is the workbook's
    second per-product convention; the totals of both conventions agree.
    """
    folder = published("sales_mix_acca_pm_furniture")
    expected = read_expected(folder / "expected.json")["published"]
    rows = pd.read_csv(folder / "inputs.csv")
    contribution = (rows["budget_price"] - rows["budget_material"] - rows["budget_labour"]
                    - rows["budget_var_overhead"])
    result = _sales_mix(rows, contribution)
    thousands = result.compare.weight / 1000  # the workbook prints variances in $000
    assert_printed(result.base.value, expected["weighted_average_contribution"], "average")
    assert_printed(thousands * _total(result, "mix"), expected["mix_variance_total"], "mix")
    mix = result.effects[result.effects["kind"] == "mix"].set_index("product")["value"]
    for product, printed in expected["mix_variance_method2_by_product"].items():
        assert_printed(thousands * mix[product], printed, f"mix {product}")
    assert_printed((result.compare.weight - result.base.weight) / 1000 * result.base.value,
                   expected["quantity_variance_total"], "quantity variance")
    assert np.isclose(sum(expected["mix_variance_method1_by_product"].values()),
                      expected["mix_variance_total"])
