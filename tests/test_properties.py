"""Property-based tests of the attribution invariants (hypothesis).

On random SaaS-shaped data (tiers × regions, entered/exited segments, tiers without add-on
adopters) every method must be exact, and the Shapley split must be symmetric, additive over
rows, homogeneous, and blind to the order of segments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kpitree
from tests.conftest import SAAS_TREE

TREE = kpitree.load_tree(SAAS_TREE)
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MEASURES = ["active_users", "addon_users", "base_revenue", "addon_revenue", "usage_revenue"]


@st.composite
def segment_rows(draw, period: str, tier: str, region: str, present: bool) -> dict:
    users = draw(st.integers(1, 5000)) if present else 0
    adopters = draw(st.integers(0, users))
    # No subnormal floats: scaling one by k can underflow to 0, which changes the data itself
    # (exactness with subnormals is pinned separately in test_attribution.py).
    money = st.floats(0.5, 500.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return {
        "period": period, "tier": tier, "region": region, "active_users": float(users),
        "addon_users": float(adopters),
        "base_revenue": users * draw(money),
        "addon_revenue": adopters * draw(money),
        "usage_revenue": users * draw(st.floats(0.0, 50.0, allow_subnormal=False)),
    }


@st.composite
def datasets(draw) -> pd.DataFrame:
    """Two periods; each tier × region present in base, compare, or both."""
    tiers = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=5,
                          unique=True))
    regions = draw(st.lists(st.sampled_from(["EU", "NA"]), min_size=1, max_size=2, unique=True))
    rows = []
    for tier in tiers:
        presence = draw(st.sampled_from(["both", "both", "both", "base", "compare"]))
        for region in regions:
            rows.append(draw(segment_rows("p0", tier, region, presence in ("both", "base"))))
            rows.append(draw(segment_rows("p1", tier, region, presence in ("both", "compare"))))
    frame = pd.DataFrame(rows)
    for period in ("p0", "p1"):
        if frame.loc[frame["period"] == period, "active_users"].sum() == 0:
            frame.loc[frame.index[frame["period"] == period][0], ["active_users"]] = 1.0
    return frame


BY = st.sampled_from([["tier"], ["tier", "region"], []])


def explain(frame, by, method="shapley", base="p0", compare="p1"):
    return kpitree.explain(TREE, frame, base=base, compare=compare, by=by, method=method)


def _keyed(result) -> pd.Series:
    keys = [tuple(row) for row in result.effects[["kind", "level", *result.by, "path"]]
            .astype(str).itertuples(index=False)]
    return pd.Series(result.effects["value"].to_numpy(), index=keys).sort_index()


@SETTINGS
@given(datasets(), BY, st.sampled_from(kpitree.METHODS))
def test_effects_sum_to_the_change(frame, by, method):
    result = explain(frame, by, method)
    total = result.effects["value"].sum()
    assert total == pytest.approx(result.delta, rel=1e-9, abs=1e-9 * abs(result.base.value))
    totals = sum(result.totals.values())
    assert totals == pytest.approx(result.delta, rel=1e-9, abs=1e-9)


@SETTINGS
@given(datasets(), BY, st.sampled_from(["shapley", "lmdi"]))
def test_swapping_periods_negates_every_effect(frame, by, method):
    forward = _keyed(explain(frame, by, method))
    backward = _keyed(explain(frame, by, method, base="p1", compare="p0"))
    np.testing.assert_allclose(forward.to_numpy(), -backward.to_numpy(), rtol=1e-9, atol=1e-9)


@SETTINGS
@given(datasets(), BY, st.sampled_from(kpitree.METHODS), st.floats(0.1, 0.9))
def test_splitting_a_row_in_two_changes_nothing(frame, by, method, fraction):
    row = frame.iloc[[0]]
    first = row.copy()
    second = row.copy()
    first[MEASURES] = row[MEASURES].to_numpy() * fraction
    second[MEASURES] = row[MEASURES].to_numpy() * (1 - fraction)
    split = pd.concat([first, frame.iloc[1:], second], ignore_index=True)
    np.testing.assert_allclose(_keyed(explain(split, by, method)).to_numpy(),
                               _keyed(explain(frame, by, method)).to_numpy(),
                               rtol=1e-9, atol=1e-9)


@SETTINGS
@given(datasets(), st.floats(0.2, 5.0))
def test_equal_shares_give_zero_mix(frame, growth):
    base = frame[frame["period"] == "p0"]
    base = base[base["active_users"] > 0]
    compare = frame[frame["period"] == "p1"].set_index(["tier", "region"])
    rows = []
    for row in base.itertuples(index=False):
        # Same users (scaled uniformly) as in the base, the compare period's rates where known.
        users = row.active_users * growth
        key = (row.tier, row.region)
        known = key in compare.index and compare.loc[key, "active_users"] > 0
        source = compare.loc[key] if known else row
        ratio = users / source.active_users
        rows.append({"period": "p1", "tier": row.tier, "region": row.region,
                     **{m: getattr(source, m) * ratio for m in MEASURES}})
    data = pd.concat([base, pd.DataFrame(rows)], ignore_index=True)
    for by in (["tier"], ["tier", "region"]):
        result = explain(data, by)
        mix = result.effects.loc[result.effects["kind"] == "mix", "value"]
        np.testing.assert_allclose(mix.to_numpy(), 0.0, atol=1e-9)


@SETTINGS
@given(datasets(), st.floats(0.2, 5.0))
def test_equal_rates_give_zero_rate(frame, growth):
    base = frame[frame["period"] == "p0"]
    base = base[base["active_users"] > 0]
    compare = base.assign(period="p1")
    # Different users per segment, same rates: scale every measure of a row by one factor.
    factors = np.linspace(0.5, 2.0, len(compare)) * growth
    compare[MEASURES] = compare[MEASURES].to_numpy() * factors[:, None]
    data = pd.concat([base, compare], ignore_index=True)
    result = explain(data, ["tier", "region"])
    rate = result.effects.loc[result.effects["kind"] == "rate", "value"]
    np.testing.assert_allclose(rate.to_numpy(), 0.0, atol=1e-9)


@SETTINGS
@given(datasets(), BY, st.floats(0.01, 100.0), st.sampled_from(kpitree.METHODS))
def test_scaling_revenue_scales_effects(frame, by, k, method):
    scaled = frame.copy()
    revenue = ["base_revenue", "addon_revenue", "usage_revenue"]
    scaled[revenue] = scaled[revenue] * k
    np.testing.assert_allclose(_keyed(explain(scaled, by, method)).to_numpy(),
                               k * _keyed(explain(frame, by, method)).to_numpy(),
                               rtol=1e-9, atol=1e-9)


@SETTINGS
@given(datasets(), BY, st.randoms(use_true_random=False))
def test_segment_order_does_not_matter(frame, by, rng):
    order = list(range(len(frame)))
    rng.shuffle(order)
    shuffled = frame.iloc[order]
    np.testing.assert_allclose(_keyed(explain(shuffled, by)).to_numpy(),
                               _keyed(explain(frame, by)).to_numpy(), rtol=1e-9, atol=1e-12)
