"""Loading data (kpitree.load_data) and evaluating a tree on it (kpitree.core.evaluate)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import kpitree
from kpitree import DataError, load_data, load_tree, tree_from_text
from tests.conftest import SAAS_DATA, SAAS_TREE

TREE = load_tree(SAAS_TREE)
MEASURES = ["active_users", "addon_users", "base_revenue", "addon_revenue", "usage_revenue"]
NODE_OF = {"active_users": "users", "addon_users": "addon_users", "base_revenue": "base",
           "addon_revenue": "addon", "usage_revenue": "usage"}


def raw_csv() -> pd.DataFrame:
    """The sample data read the way an analyst would, keeping 'NA' (North America) as text."""
    return pd.read_csv(SAAS_DATA, dtype={"period": str}, keep_default_na=False)


def frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (period, tier, region, users, adopters, base, addon, usage)."""
    return pd.DataFrame(rows, columns=["period", "tier", "region", *MEASURES])


# --- Labels ---------------------------------------------------------------------------------------


def test_csv_region_na_stays_text():
    loaded = load_data(SAAS_DATA, TREE, by=["tier", "region"])
    assert loaded["region"].notna().all()
    assert set(loaded["region"]) == {"NA", "EU", "APAC"}
    assert (loaded["region"] == "NA").sum() == (raw_csv()["region"] == "NA").sum() > 0


def test_region_na_is_a_segment_in_evaluation():
    result = kpitree.evaluate(TREE, SAAS_DATA, by=["region"], periods=["2026-10"])
    assert sorted(result["region"]) == ["APAC", "EU", "NA"]
    raw = raw_csv()
    na = raw[(raw["period"] == "2026-10") & (raw["region"] == "NA")]
    row = result[result["region"] == "NA"].iloc[0]
    assert row["users"] == na["active_users"].sum()
    assert row["base"] == pytest.approx(na["base_revenue"].sum(), rel=1e-12)


def test_loaded_frame_has_node_columns_as_floats_and_labels_as_text():
    loaded = load_data(SAAS_DATA, TREE)
    assert list(loaded.columns) == ["period", "tier", *TREE.columns]
    for node in TREE.columns:
        assert loaded[node].dtype == float
    assert all(isinstance(p, str) for p in loaded["period"])
    assert "2026-10" in set(loaded["period"])  # not parsed into a date or a number


def test_period_column_option():
    data = raw_csv().rename(columns={"period": "month"})
    loaded = load_data(data, TREE, period_column="month")
    assert "month" in loaded.columns
    with pytest.raises(DataError, match="missing column 'period'"):
        load_data(data, TREE)


# --- Parquet --------------------------------------------------------------------------------------


def test_parquet_gives_the_same_evaluation_as_csv(tmp_path):
    path = tmp_path / "saas.parquet"
    raw_csv().to_parquet(path, index=False)
    by = ["tier", "region"]
    from_csv = kpitree.evaluate(TREE, SAAS_DATA, by=by)
    from_parquet = kpitree.evaluate(TREE, path, by=by)
    assert len(from_csv) == len(raw_csv().groupby(["period", *by])) > 100
    pd.testing.assert_frame_equal(from_parquet, from_csv)


def test_parquet_with_numeric_columns_and_text_labels(tmp_path):
    path = tmp_path / "small.parquet"
    data = frame([
        ("2026-09", "pro", "NA", 10, 2, 100.0, 20.0, 5.0),
        ("2026-10", "pro", "NA", 20, 5, 220.0, 55.0, 8.0),
    ])
    data.to_parquet(path, index=False)
    result = kpitree.evaluate(TREE, path, by=["region"])
    assert list(result["region"]) == ["NA", "NA"]
    np.testing.assert_allclose(result["arpu"], [125.0 / 10, 283.0 / 20])


def test_parquet_missing_value_names_file_column_and_row(tmp_path):
    path = tmp_path / "gaps.parquet"
    data = frame([
        ("2026-09", "pro", "NA", 10, 2, 100.0, 20.0, 5.0),
        ("2026-10", "pro", "NA", 20, 5, np.nan, 55.0, 8.0),
    ])
    data.to_parquet(path, index=False)
    with pytest.raises(DataError) as info:
        load_data(path, TREE)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "'base_revenue'" in message
    assert "row 1" in message


def test_parquet_written_with_its_index_loads_every_row(tmp_path):
    path = tmp_path / "filtered.parquet"
    data = frame([
        ("2026-09", "pro", "NA", 10, 2, 100.0, 20.0, 5.0),
        ("2026-09", "team", "NA", 5, 1, 40.0, 4.0, 1.0),
        ("2026-10", "pro", "NA", 20, 5, 220.0, 55.0, 8.0),
    ])
    data.index = [1, 2, 3]  # e.g. what df[df.tier != 'free'] leaves behind
    data.to_parquet(path)  # pandas stores the index
    loaded = load_data(path, TREE)
    assert list(loaded["period"]) == ["2026-09", "2026-09", "2026-10"]
    assert kpitree.evaluate(TREE, path, by=[])["period"].tolist() == ["2026-09", "2026-10"]


# --- DataFrame input ------------------------------------------------------------------------------


def test_dataframe_input_is_not_modified():
    data = raw_csv()
    data.index = pd.RangeIndex(100, 100 + len(data))  # a non-default index
    data["active_users"] = data["active_users"].astype("int64")
    data["tier"] = data["tier"].map(lambda s: f" {s} ")  # padding the loader strips
    before = copy.deepcopy(data)
    loaded = load_data(data, TREE, by=["tier", "region"])
    kpitree.evaluate(TREE, data, by=["tier", "region"])
    kpitree.explain(TREE, data, base="2026-09", compare="2026-10", by=["tier", "region"])
    pd.testing.assert_frame_equal(data, before)
    assert list(data.columns) == list(before.columns)
    assert data["active_users"].dtype == np.int64
    assert loaded is not data
    assert set(loaded["tier"]) == {"starter", "team", "business", "pro", "enterprise"}


def test_dataframe_with_repeated_index_is_fine():
    data = pd.concat([raw_csv(), raw_csv()])  # index repeats
    before = copy.deepcopy(data)
    doubled = kpitree.evaluate(TREE, data, by=["tier"])
    single = kpitree.evaluate(TREE, SAAS_DATA, by=["tier"])
    pd.testing.assert_frame_equal(data, before)
    np.testing.assert_allclose(doubled["users"], 2 * single["users"])
    np.testing.assert_allclose(doubled["arpu"], single["arpu"], rtol=1e-12)


def test_dataframe_error_names_the_row():
    data = raw_csv()
    data.loc[7, "addon_users"] = -1
    with pytest.raises(DataError) as info:
        load_data(data, TREE)
    message = str(info.value)
    assert "'addon_users'" in message
    assert "row 7" in message
    assert "negative" in message


# --- Aggregation: ratio of sums ------------------------------------------------------------------


def test_repeated_rows_are_summed():
    split = frame([
        ("2026-09", "pro", "NA", 10, 2, 100.0, 20.0, 5.0),
        ("2026-09", "pro", "NA", 30, 1, 200.0, 10.0, 15.0),
        ("2026-10", "pro", "NA", 50, 4, 600.0, 40.0, 10.0),
    ])
    merged = frame([
        ("2026-09", "pro", "NA", 40, 3, 300.0, 30.0, 20.0),
        ("2026-10", "pro", "NA", 50, 4, 600.0, 40.0, 10.0),
    ])
    a = kpitree.evaluate(TREE, split, by=["tier", "region"])
    b = kpitree.evaluate(TREE, merged, by=["tier", "region"])
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 2
    assert a.loc[0, "users"] == 40.0
    assert a.loc[0, "arpu"] == pytest.approx(350.0 / 40.0)


def test_arpu_is_ratio_of_sums_not_mean_of_ratios():
    data = frame([
        ("2026-09", "small", "NA", 1, 0, 100.0, 0.0, 0.0),  # ARPU 100
        ("2026-09", "big", "NA", 99, 0, 990.0, 0.0, 0.0),  # ARPU 10
    ])
    result = kpitree.evaluate(TREE, data, by=[])
    assert len(result) == 1
    ratio_of_sums = 1090.0 / 100.0
    mean_of_ratios = (100.0 + 10.0) / 2
    assert result.loc[0, "arpu"] == pytest.approx(ratio_of_sums, rel=1e-12)
    assert result.loc[0, "arpu"] != pytest.approx(mean_of_ratios)
    assert result.loc[0, "base_pu"] == pytest.approx(ratio_of_sums, rel=1e-12)


def test_totals_per_period_match_pandas():
    raw = raw_csv()
    result = kpitree.evaluate(TREE, SAAS_DATA, by=[])
    sums = raw.groupby("period")[MEASURES].sum()
    revenue = sums["base_revenue"] + sums["addon_revenue"] + sums["usage_revenue"]
    expected = revenue / sums["active_users"]
    assert list(result.columns[:1]) == ["period"]
    assert result["period"].tolist() == sorted(raw["period"].unique())
    np.testing.assert_allclose(result["arpu"].to_numpy(), expected.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(result["users"].to_numpy(), sums["active_users"].to_numpy())
    np.testing.assert_allclose(
        result["attach"].to_numpy(), (sums["addon_users"] / sums["active_users"]).to_numpy(),
        rtol=1e-12,
    )
    # The sample data is mixed enough that averaging per-row ARPU gives a different answer.
    per_row = (raw["base_revenue"] + raw["addon_revenue"] + raw["usage_revenue"]) / raw[
        "active_users"
    ]
    mean_of_ratios = per_row.groupby(raw["period"]).mean()
    assert not np.allclose(result["arpu"].to_numpy(), mean_of_ratios.to_numpy(), rtol=1e-3)


def test_nested_by_tier_and_region():
    raw = raw_csv()
    result = kpitree.evaluate(TREE, SAAS_DATA, by=["tier", "region"])
    assert list(result.columns[:3]) == ["period", "tier", "region"]
    assert len(result) == len(raw.groupby(["period", "tier", "region"]))
    keyed = result.set_index(["period", "tier", "region"])
    sums = raw.groupby(["period", "tier", "region"])[MEASURES].sum()
    revenue = sums["base_revenue"] + sums["addon_revenue"] + sums["usage_revenue"]
    np.testing.assert_allclose(
        keyed.loc[sums.index, "arpu"].to_numpy(), (revenue / sums["active_users"]).to_numpy(),
        rtol=1e-12,
    )
    # Sorted by period, then the dimensions in the order given.
    order = result[["period", "tier", "region"]].apply(tuple, axis=1).tolist()
    assert order == sorted(order)


def test_default_by_is_the_tree_segments_and_periods_filter():
    result = kpitree.evaluate(TREE, SAAS_DATA, periods=["2026-09", "2026-10"])
    assert list(result.columns[:2]) == ["period", "tier"]
    assert set(result["period"]) == {"2026-09", "2026-10"}
    # 'business' enters in 2026-10: 4 tiers in 2026-09, 5 in 2026-10.
    assert sorted(result.loc[result["period"] == "2026-09", "tier"]) == [
        "enterprise", "pro", "starter", "team"]
    assert len(result) == 9
    with pytest.raises(DataError, match="2026-13"):
        kpitree.evaluate(TREE, SAAS_DATA, periods=["2026-13"])


def test_undefined_zero_over_zero_is_nan():
    data = frame([
        ("2026-09", "starter", "APAC", 100, 0, 1000.0, 0.0, 50.0),  # no adopters: 0/0
        ("2026-09", "pro", "APAC", 10, 5, 500.0, 50.0, 5.0),
        ("2026-09", "ghost", "APAC", 0, 0, 0.0, 0.0, 0.0),  # nothing at all
    ])
    result = kpitree.evaluate(TREE, data, by=["tier"]).set_index("tier")
    assert np.isnan(result.loc["starter", "addon_per_adopter"])
    assert result.loc["starter", "attach"] == 0.0
    # 0 adopters × undefined revenue per adopter contributes nothing: ARPU stays defined.
    assert result.loc["starter", "addon_pu"] == 0.0
    assert result.loc["starter", "arpu"] == pytest.approx(1050.0 / 100)
    assert result.loc["pro", "addon_per_adopter"] == 10.0
    for node in ("arpu", "base_pu", "attach", "addon_per_adopter", "usage_pu"):
        assert np.isnan(result.loc["ghost", node]), node


def test_nonzero_over_zero_names_node_segment_and_period():
    data = frame([
        ("2026-09", "pro", "EU", 10, 0, 500.0, 50.0, 5.0),  # add-on revenue, no adopters
    ])
    with pytest.raises(DataError) as info:
        kpitree.evaluate(TREE, data, by=["tier", "region"])
    message = str(info.value)
    assert "node 'addon_per_adopter'" in message
    assert "tier=pro" in message and "region=EU" in message
    assert "2026-09" in message


def test_formula_with_a_constant_and_a_sum_weight():
    tree = tree_from_text(
        "root: arpu\nweight: users\nnodes:\n"
        "  arpu: {formula: 12 * mrr / users}\n"
        "  users: {formula: paid + trial}\n"
        "  paid: {column: paid}\n  trial: {column: trial}\n  mrr: {column: mrr}\n",
        "annual.yaml",
    )
    data = pd.DataFrame({"period": ["p", "p"], "paid": [3, 1], "trial": [1, 5],
                         "mrr": [40.0, 20.0]})
    result = kpitree.evaluate(tree, data, by=[])
    assert result.loc[0, "users"] == 10.0
    assert result.loc[0, "arpu"] == pytest.approx(12 * 60.0 / 10)
