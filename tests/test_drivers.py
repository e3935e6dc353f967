"""Driver discovery: planted drivers are found, segments never overlap, the rest is exact."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import kpitree
from kpitree.analysis.drivers import REST, drivers
from kpitree.cli.main import main
from kpitree.core.errors import DataError, MethodError
from kpitree.io.generate import DIMENSIONS, PLANTED, planted_users
from tests.conftest import ROOT

from .conftest import SAAS_TREE

DIMS = list(DIMENSIONS)


@pytest.fixture(scope="module")
def tree() -> kpitree.Tree:
    return kpitree.load_tree(SAAS_TREE)


@pytest.fixture(scope="module")
def users() -> pd.DataFrame:
    return planted_users(100_000, seed=11)


@pytest.fixture(scope="module")
def found(tree, users):
    return drivers(tree, users, base="p0", compare="p1", dims=DIMS)


def _segments(result) -> dict[tuple[str, frozenset], float]:
    rows = result.found[result.found["kind"] != REST]
    return {(r.kind, frozenset(r.conditions.items())): r.contribution for r in rows.itertuples()}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_planted_drivers_are_recovered_with_their_signs(tree, seed):
    result = drivers(tree, planted_users(100_000, seed=seed), base="p0", compare="p1",
                     dims=DIMS)
    segments = _segments(result)
    planted = {(p.kind, frozenset(p.conditions)): p.sign for p in PLANTED}
    hits = [key for key, sign in planted.items()
            if key in segments and np.sign(segments[key]) == sign]
    recall = len(hits) / len(planted)
    precision = len(hits) / len(segments)
    assert recall == 1.0, f"seed {seed}: found {sorted(map(str, segments))}"
    assert precision >= 0.8, f"seed {seed}: found {sorted(map(str, segments))}"


def test_segments_and_rest_add_up_exactly_to_the_change(found):
    total = found.found["contribution"].sum()
    assert abs(total - found.delta) <= 1e-9 * max(1.0, abs(found.base.value))
    assert abs(found.effects["value"].sum() - found.delta) <= 1e-9 * abs(found.base.value)
    assert found.found["segment"].iloc[-1] == REST


def test_rate_pockets_are_mutually_exclusive(found, users):
    """Every user is in at most one pocket (first matching rule); launched users in none."""
    kinds = list(found.found["kind"])
    member = np.zeros((len(users), len(found.rules)), dtype=bool)
    for g, rule in enumerate(found.rules):
        match = np.ones(len(users), dtype=bool)
        for dim, value in rule:
            match &= (users[dim] == value).to_numpy()
        member[:, g] = match
    launched = member[:, [k == "launch" for k in kinds[:-1]]].any(axis=1)
    pockets = [g for g, k in enumerate(kinds[:-1]) if k == "rate"]
    assert pockets
    for period, column in (("p0", "base_share"), ("p1", "compare_share")):
        in_period = (users["period"] == period).to_numpy()
        taken = launched.copy()
        for g in pockets:
            mine = member[:, g] & ~taken
            taken |= mine
            expected = (mine & in_period).sum() / in_period.sum()
            assert found.found[column].iloc[g] == pytest.approx(expected, abs=1e-12)
    # A mix shift describes its named value's share among all users.
    for g, kind in enumerate(kinds[:-1]):
        if kind == "mix":
            expected = (member[:, g] & in_period).sum() / in_period.sum()
            assert found.found["compare_share"].iloc[g] == pytest.approx(expected, abs=1e-12)
    for row in found.found.itertuples():
        if row.excludes:
            assert "excl." in row.segment


def test_launched_tier_is_always_reported_as_entered(found):
    first = found.found.iloc[0]
    assert first["conditions"] == {"tier": "business"} and first["kind"] == "launch"
    assert first["status"] == "entered" and first["reason"] == "entered"
    assert first["rate"] == 0.0 and first["mix"] > 0


def test_a_small_launched_value_is_reported_even_below_the_threshold(tree):
    data = planted_users(20_000, seed=5, change=False)
    extra = data[data["period"] == "p1"].head(3).assign(channel="tiktok")
    result = drivers(tree, pd.concat([data, extra]), base="p0", compare="p1",
                     dims=["tier", "channel"], min_effect=0.5)
    assert {"channel": "tiktok"} in list(result.found["conditions"])


def test_dimension_ranking_puts_the_tier_first(found):
    assert found.ranking["dimension"].iloc[0] == "tier"
    assert list(found.ranking["rank"]) == list(range(1, len(DIMS) + 1))
    assert (found.ranking["score"] >= 0).all()


def test_mix_shift_and_rate_pocket_by_hand(tree):
    """Hand-checkable: tiers a, b; a's users pay 10 → 12, b stays at 20; shares 50/50 → 40/60.

    A0 = 15, A1 = 16.8, Ā = 15.9. The tier mix is Σ Δs·(r̄ − Ā) = −0.1·(11 − 15.9) + 0.1·(20 −
    15.9) = 0.49 + 0.41 = 0.90, named by the value that grew (b); the rate pocket tier=a is
    s̄·Δr = 0.45·2 = 0.90; nothing is left for the rest.
    """
    data = pd.DataFrame({
        "period": ["p0", "p0", "p1", "p1"], "tier": ["a", "b", "a", "b"],
        "active_users": [500.0, 500.0, 400.0, 600.0], "addon_users": 0.0,
        "base_revenue": [5000.0, 10000.0, 4800.0, 12000.0], "addon_revenue": 0.0,
        "usage_revenue": 0.0,
    })
    result = drivers(tree, data, base="p0", compare="p1", dims=["tier"], min_effect=0.0,
                     max_segments=2)
    found = result.found.set_index("segment")
    assert list(found["kind"]) == ["mix", "rate", "rest"]
    assert found.loc["tier mix (b)", "conditions"] == {"tier": "b"}
    assert found.loc["tier mix (b)", "contribution"] == pytest.approx(0.9)
    assert found.loc["tier=a", "contribution"] == pytest.approx(0.9)
    assert found.loc["rest", "contribution"] == pytest.approx(0.0, abs=1e-12)
    assert result.delta == pytest.approx(1.8)


def test_a_shift_within_sampling_noise_is_not_named(tree):
    """The same shift on 100 users is within three standard deviations of the share noise."""
    data = pd.DataFrame({
        "period": ["p0", "p0", "p1", "p1"], "tier": ["a", "b", "a", "b"],
        "active_users": [50.0, 50.0, 40.0, 60.0], "addon_users": 0.0,
        "base_revenue": [500.0, 1000.0, 480.0, 1200.0], "addon_revenue": 0.0,
        "usage_revenue": 0.0,
    })
    result = drivers(tree, data, base="p0", compare="p1", dims=["tier"], min_effect=0.0,
                     max_segments=2)
    assert "mix" not in list(result.found["kind"])


def test_same_input_same_output(tree, users):
    first = drivers(tree, users, base="p0", compare="p1", dims=DIMS, replicates=50, seed=3)
    second = drivers(tree, users, base="p0", compare="p1", dims=DIMS, replicates=50, seed=3)
    assert first.to_json() == second.to_json()


def test_json_has_the_split_order_and_the_explain_contract(found):
    data = json.loads(found.to_json())
    assert data["by"] == ["split"]
    assert data["drivers"]["split_order"][:2] == ["tier=business", "tier mix (enterprise)"]
    assert set(data["drivers"]["split_order"][2:]) == {
        "tier=pro & region=EU", "region=APAC & device=android"}
    kinds = [s["kind"] for s in data["drivers"]["segments"]]
    assert kinds == ["launch", "mix", "rate", "rate", "rest"]
    for item in data["drivers"]["segments"]:
        assert {"segment", "conditions", "contribution", "mix", "rate", "base", "compare",
                "kind"} <= set(item)
        assert "share" in item["base"] and "share" in item["compare"]
    assert {"kind", "segment", "path", "value"} <= set(data["effects"][0])
    assert sum(e["value"] for e in data["effects"]) == pytest.approx(data["delta"], abs=1e-9)


def test_table_and_image(found, tmp_path):
    text = str(found)
    assert "Named drivers in split order" in text and "tier=business (new)" in text
    pytest.importorskip("graphviz")
    try:
        found.render(tmp_path / "drivers.svg")
    except kpitree.RenderError as exc:  # Graphviz's dot missing: not this test's concern
        pytest.skip(str(exc))
    assert (tmp_path / "drivers.svg").read_text().startswith("<?xml")


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"dims": []}, MethodError, "at least one dimension"),
    ({"dims": ["tier"], "depth": 0}, MethodError, "--depth 0"),
    ({"dims": ["tier"], "max_segments": 0}, MethodError, "--max-segments 0"),
    ({"dims": ["tier"], "min_effect": 2.0}, MethodError, "--min-effect 2"),
    ({"dims": ["tierr"]}, DataError, "Did you mean 'tier'?"),
])
def test_bad_arguments_are_reported(tree, kwargs, error, message):
    data = planted_users(2_000, seed=1)
    with pytest.raises(error, match=message):
        drivers(tree, data, base="p0", compare="p1", **kwargs)


def test_unknown_period_lists_the_periods(tree):
    with pytest.raises(DataError, match=r"period 'p9' is not in the data.*'p0', 'p1'"):
        drivers(tree, planted_users(2_000, seed=1), base="p0", compare="p9", dims=["tier"])


def test_cli_drivers(tmp_path, capsys):
    path = tmp_path / "users.csv"
    planted_users(30_000, seed=2).to_csv(path, index=False)
    code = main(["drivers", str(SAAS_TREE), str(path), "--base", "p0", "--compare", "p1",
                 "--dims", "tier", "region", "device", "--bootstrap", "50", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["drivers"]["split_order"][0] == "tier=business"
    assert "interval" in out["effects"][0] and "intervals" in out
    code = main(["drivers", str(SAAS_TREE), str(path), "--base", "p0", "--compare", "p1",
                 "--dims", "tier", "regoin"])
    assert code == 2
    assert "Did you mean 'region'?" in capsys.readouterr().err


def test_zero_total_weight_names_the_data_like_explain(tmp_path):
    """drivers and --cross share explain's check, so the message names the data file."""
    from kpitree.analysis.cross import explain_cross

    tree = kpitree.load_tree(ROOT / "trees" / "saas_arpu.yaml")
    frame = pd.read_csv(ROOT / "data" / "saas_monthly.csv", keep_default_na=False)
    frame.loc[frame["period"] == "2026-10", ["active_users", "addon_users", "base_revenue",
                                              "addon_revenue", "usage_revenue"]] = 0
    path = tmp_path / "zero.csv"
    frame.to_csv(path, index=False)
    expected = f"{path}: the total of 'users' (column 'active_users') is zero in period 2026-10"
    for run in (
        lambda: kpitree.drivers(tree, path, base="2026-09", compare="2026-10", dims=["tier"]),
        lambda: explain_cross(tree, path, base="2026-09", compare="2026-10", by=["tier"]),
        lambda: kpitree.explain(tree, path, base="2026-09", compare="2026-10"),
    ):
        with pytest.raises(kpitree.DataError) as info:
            run()
        assert str(info.value).startswith(expected)
