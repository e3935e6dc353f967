"""Bootstrap intervals: reproducible with a seed, close to nominal coverage on no-change data."""

from __future__ import annotations

import json

import numpy as np
import pytest

import kpitree
from kpitree.analysis.bootstrap import one_level_effects, replicate_sums, with_intervals
from kpitree.core.errors import MethodError
from kpitree.io.generate import planted_users

from .conftest import SAAS_DATA, SAAS_TREE


@pytest.fixture(scope="module")
def tree() -> kpitree.Tree:
    return kpitree.load_tree(SAAS_TREE)


def test_poisson_counts_have_mean_and_variance_one():
    groups = np.zeros(200_000, dtype=np.int64)
    ones = np.ones((200_000, 1))
    sums = replicate_sums(groups, ones, n_groups=1, replicates=40, seed=0)[:, 0, 0]
    # Σ of n Poisson(1) counts: mean n, variance n.
    assert abs(sums.mean() / 200_000 - 1) < 0.002
    assert 0.5 < sums.var() / 200_000 < 1.8


def test_same_seed_same_intervals_other_seed_other_intervals(tree):
    users = planted_users(20_000, seed=4)
    result = kpitree.explain(tree, users, base="p0", compare="p1", by=["tier"])
    first = with_intervals(result, users, replicates=100, seed=7)
    again = with_intervals(result, users, replicates=100, seed=7)
    other = with_intervals(result, users, replicates=100, seed=8)
    assert first.to_json() == again.to_json()
    assert first.intervals.totals != other.intervals.totals


def test_intervals_in_json_and_noise_flags(tree):
    users = planted_users(20_000, seed=4)
    result = with_intervals(kpitree.explain(tree, users, base="p0", compare="p1", by=["tier"]),
                            users, replicates=100, seed=1)
    data = json.loads(result.to_json())
    assert set(data["intervals"]["totals"]) == {"mix", "rate", "delta"}
    for effect in data["effects"]:
        low, high = effect["interval"]
        assert low <= high
        assert effect["noise"] == (low <= 0 <= high)
    # The launched tier's mix is far from zero; its rate effect is exactly zero (noise).
    business = [e for e in data["effects"] if e["segment"] == {"tier": "business"}]
    assert any(e["kind"] == "mix" and not e["noise"] for e in business)
    lo, hi = data["intervals"]["totals"]["delta"]
    assert lo <= data["delta"] <= hi


def test_nested_explanations_are_refused_with_the_way_out(tree):
    result = kpitree.explain(tree, SAAS_DATA, base="2026-09", compare="2026-10",
                             by=["tier", "region"])
    with pytest.raises(MethodError, match="kpitree drivers"):
        with_intervals(result, SAAS_DATA)


def test_too_few_replicates(tree):
    users = planted_users(2_000, seed=4)
    result = kpitree.explain(tree, users, base="p0", compare="p1", by=["tier"])
    with pytest.raises(MethodError, match="at least 10 replicates"):
        with_intervals(result, users, replicates=5)


def _no_change_users(rng: np.random.Generator, users: int) -> tuple[np.ndarray, ...]:
    """Both periods from one distribution: tier, period and the saas_arpu measures."""
    period = (np.arange(users) >= users // 2).astype(np.int64)
    tier = np.searchsorted(np.cumsum([0.5, 0.3, 0.15, 0.05]), rng.random(users), side="right")
    price = np.array([15.0, 40.0, 100.0, 380.0])[np.minimum(tier, 3)]
    addon_users = (rng.random(users) < 0.2).astype(float)
    measures = np.column_stack([
        np.ones(users), addon_users, price * rng.gamma(5.0, 0.2, users),
        addon_users * rng.gamma(4.0, 5.0, users), rng.gamma(1.5, 4.0, users),
    ])
    return np.minimum(tier, 3), period, measures


def test_coverage_on_no_change_data_is_close_to_nominal(tree):
    """Both periods drawn from one distribution: the true mix, rate and change are all zero.

    300 simulated data sets of 2,000 users × 200 replicates; 95 % intervals should cover zero
    about 95 % of the time (binomial s.e. 1.3 points; we allow ± 4). Vectorised: the data
    sets are stacked as groups of one resampling, then each (replicate, data set) pair is
    explained at once.
    """
    names = ("users", "addon_users", "base", "addon", "usage")
    assert set(names) == set(tree.columns)
    draws, users, replicates = 300, 2_000, 200
    rng = np.random.default_rng(2024)
    tier, period, measures = _no_change_users(rng, draws * users)
    dataset = np.arange(draws * users) // users
    period = (np.arange(draws * users) % users >= users // 2).astype(np.int64)
    groups = dataset * 8 + period * 4 + tier
    sums = replicate_sums(groups, measures, n_groups=draws * 8, replicates=replicates, seed=5)
    sums = sums.reshape(replicates * draws, 2, 4, len(names))
    effects = one_level_effects(tree, names, sums[:, 0], sums[:, 1])
    for kind in ("mix", "rate", "delta"):
        values = effects[(f"total:{kind}", None)].reshape(replicates, draws)
        low, high = np.quantile(values, [0.025, 0.975], axis=0)
        coverage = float(np.mean((low <= 0) & (high >= 0)))
        assert 0.91 <= coverage <= 0.99, f"{kind}: coverage {coverage:.3f}"


def test_hashed_counts_are_poisson_and_follow_the_user():
    """Hashed counts (``keys=``): Poisson(1) in distribution, a function of the user alone —
    a user's two rows (two periods) get the same count in every replicate — and of the seed."""
    from kpitree.core.resample import hashed_counts, user_keys

    ids = [f"u{i}" for i in range(5_000)]
    counts = hashed_counts(user_keys(ids, seed=1), 100)
    assert abs(counts.mean() - 1) < 0.02 and abs(counts.var() - 1) < 0.05
    assert abs((counts == 0).mean() - np.exp(-1)) < 0.01
    assert not np.array_equal(counts, hashed_counts(user_keys(ids, seed=2), 100))
    # two rows per user, one per period, in scrambled order: the sums see one count per user
    order = np.random.default_rng(0).permutation(2 * len(ids))
    users = np.r_[np.arange(len(ids)), np.arange(len(ids))][order]
    keys = user_keys(ids, seed=1)[users]
    ones = np.ones((len(users), 1))
    groups = (order >= len(ids)).astype(np.int64)  # period 0 or 1
    sums = replicate_sums(groups, ones, n_groups=2, replicates=100, seed=1, keys=keys)
    np.testing.assert_array_equal(sums[:, 0, 0], sums[:, 1, 0])
    np.testing.assert_array_equal(sums[:, 0, 0], counts.sum(axis=0))
