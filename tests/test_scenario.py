"""What-if scenarios, goal seek and sensitivity: explained by the same exact attribution."""

from __future__ import annotations

import math

import numpy as np
import pytest

import kpitree
from kpitree.analysis.scenario import Lever, parse_lever, tornado_chart
from tests.conftest import SAAS_DATA, SAAS_TREE

TREE = kpitree.load_tree(SAAS_TREE)


@pytest.fixture(scope="module")
def snap() -> kpitree.Snapshot:
    return kpitree.snapshot(TREE, SAAS_DATA, period="2026-10")


@pytest.fixture(scope="module")
def nested() -> kpitree.Snapshot:
    return kpitree.snapshot(TREE, SAAS_DATA, period="2026-10", by=["tier", "region"])


def tier(snap: kpitree.Snapshot, name: str) -> dict:
    values = snap.values()
    return values[values["tier"] == name].iloc[0].to_dict()


def rate_effects(scenario: kpitree.Scenario):
    effects = scenario.explanation.effects
    return effects[effects["kind"] == "rate"]


def test_a_scenario_that_changes_nothing_has_zero_effects(snap) -> None:
    for levers in ({}, {"attach[tier=pro]": "+0pp"}, {"base_pu": "*1"}):
        scenario = snap.whatif(levers)
        assert scenario.value == snap.value
        assert (scenario.explanation.effects["value"] == 0).all(), levers


def test_changing_only_shares_gives_only_mix(snap, nested) -> None:
    for s, levers in ((snap, {"share[tier=pro]": "+2pp"}),
                      (snap, {"move[tier=starter->pro]": "10%"}),
                      (nested, {"share[tier=pro, region=EU]": "*1.2"}),
                      (nested, {"move[tier=team->enterprise]": "300"})):
        scenario = s.whatif(levers)
        assert scenario.delta != 0
        assert np.abs(rate_effects(scenario)["value"]).max() < 1e-12, levers
        assert scenario.explanation.totals["mix"] == pytest.approx(scenario.delta, abs=1e-12)


def test_share_lever_rebalances_the_others_proportionally(snap) -> None:
    scenario = snap.whatif({"share[tier=pro]": "+2pp"})
    before, after = snap.values(), scenario.snapshot.values()
    assert after.set_index("tier").loc["pro", "share"] == pytest.approx(
        before.set_index("tier").loc["pro", "share"] + 0.02, abs=1e-15)
    others_before = before[before["tier"] != "pro"].set_index("tier")
    others_after = after[after["tier"] != "pro"].set_index("tier")
    ratio = others_after["share"] / others_before["share"]
    assert ratio.to_numpy() == pytest.approx(ratio.iloc[0], rel=1e-12)  # same factor for all
    assert after["users"].sum() == pytest.approx(before["users"].sum(), rel=1e-12)
    assert after["arpu"].to_numpy() == pytest.approx(before["arpu"].to_numpy(), rel=1e-12)


def test_move_users_takes_the_destination_rates(snap) -> None:
    starter, pro = tier(snap, "starter"), tier(snap, "pro")
    total = snap.values()["users"].sum()
    moved = 0.10 * starter["users"]
    expected = snap.value + moved * (pro["arpu"] - starter["arpu"]) / total
    scenario = snap.whatif({"move[tier=starter->pro]": "10%"})
    assert scenario.value == pytest.approx(expected, rel=1e-12)


def test_attach_lever_changes_only_that_driver(snap) -> None:
    pro = tier(snap, "pro")
    scenario = snap.whatif({"attach[tier=pro]": "+5pp"})
    after = tier(scenario.snapshot, "pro")
    assert after["attach"] == pytest.approx(pro["attach"] + 0.05, abs=1e-15)
    for node in ("addon_per_adopter", "base_pu", "usage_pu", "users"):
        assert after[node] == pytest.approx(pro[node], rel=1e-12), node
    # ΔARPU = pro's share × Δattach × revenue per adopter, all of it pro's attach rate effect.
    assert scenario.delta == pytest.approx(pro["share"] * 0.05 * pro["addon_per_adopter"],
                                           rel=1e-12)
    rate = rate_effects(scenario)
    nonzero = rate[rate["value"].abs() > 1e-12]
    assert list(zip(nonzero["tier"], nonzero["driver"], strict=True)) == [("pro", "attach")]
    assert scenario.explanation.totals["mix"] == 0.0


def test_price_lever_and_value_forms(snap) -> None:
    pro = tier(snap, "pro")
    for value, new in (("*1.10", pro["base_pu"] * 1.1), ("+10%", pro["base_pu"] * 1.1),
                       ("+5", pro["base_pu"] + 5), ("-2.5", pro["base_pu"] - 2.5),
                       ("=90", 90.0), ("=90.0", 90.0)):
        scenario = snap.whatif({"base_pu[tier=pro]": value})
        assert tier(scenario.snapshot, "pro")["base_pu"] == pytest.approx(new, rel=1e-12), value
        assert scenario.delta == pytest.approx(pro["share"] * (new - pro["base_pu"]), rel=1e-9)


def test_lever_without_selector_applies_everywhere(snap) -> None:
    scenario = snap.whatif({"usage_pu": "*1.2"})
    usage = snap.total()["usage_pu"]
    assert scenario.delta == pytest.approx(0.2 * usage, rel=1e-12)


def test_nested_lever_on_an_outer_segment(nested) -> None:
    scenario = nested.whatif({"attach[tier=pro]": "=40%"})
    assert tier(scenario.snapshot, "pro")["attach"] == pytest.approx(0.40, abs=1e-15)
    assert scenario.explanation.totals["mix"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("method", ["shapley", "sequential", "lmdi"])
def test_scenarios_are_exact_with_every_method(snap, method) -> None:
    scenario = snap.whatif({"attach[tier=pro]": "+5pp", "move[tier=starter->team]": "5%",
                            "usage_pu[tier=enterprise]": "-10%"}, method=method)
    assert scenario.explanation.effects["value"].sum() == pytest.approx(scenario.delta,
                                                                        abs=1e-12)


def test_stacked_scenarios_chain_like_months(snap) -> None:
    first = snap.whatif({"attach[tier=pro]": "+5pp"}, name="attach")
    stacked = first.whatif({"base_pu[tier=pro]": "*1.10"})
    at_once = snap.whatif({"attach[tier=pro]": "+5pp", "base_pu[tier=pro]": "*1.10"})
    assert stacked.value == pytest.approx(at_once.value, rel=1e-14)
    assert stacked.name == "attach + base_pu[tier=pro] ×1.1"
    by_lever = stacked.by_lever()
    assert list(by_lever["lever"]) == ["attach[tier=pro]", "base_pu[tier=pro]"]
    assert by_lever["delta"].sum() == pytest.approx(stacked.delta, abs=1e-12)
    assert by_lever["delta"].iloc[0] == pytest.approx(first.delta, abs=1e-12)


def test_compare_scenarios_side_by_side(snap, tmp_path) -> None:
    scenarios = [snap.whatif({"attach[tier=pro]": "+5pp"}, name="attach"),
                 snap.whatif({"base_pu[tier=pro]": "*1.10"}, name="price"),
                 snap.whatif({"move[tier=starter->team]": "10%"}, name="upsell")]
    table = kpitree.compare_scenarios(scenarios)
    assert list(table["scenario"]) == ["attach", "price", "upsell"]
    assert (table["mix"] + table["rate"]).to_numpy() == pytest.approx(table["delta"].to_numpy())
    assert "rate: Add-on attach rate" in table.columns
    from kpitree.present.charts import scenarios_chart

    scenarios_chart(scenarios, tmp_path / "side.png")
    scenarios[0].chart(str(tmp_path / "one.png"))
    assert (tmp_path / "side.png").stat().st_size > 1000
    assert (tmp_path / "one.png").stat().st_size > 1000


# --- goal seek ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("lever", "target"), [
    ("share[tier=pro]", 56.0), ("attach[tier=pro]", 56.0), ("base_pu[tier=starter]", 54.0),
    ("share[tier=business]", 60.0),
])
def test_goal_seek_hits_the_target(snap, lever, target) -> None:
    found = kpitree.goal_seek(snap, lever, target=target)
    assert found.scenario.value == pytest.approx(target, abs=1e-9)
    # Re-evaluating the lever at the returned value reaches the target too.
    key = lever
    again = snap.whatif({key: f"={found.value!r}"})
    assert again.value == pytest.approx(target, abs=1e-9)


def test_goal_seek_nested(nested) -> None:
    found = kpitree.goal_seek(nested, "attach[tier=team]", target=56.0)
    assert found.scenario.value == pytest.approx(56.0, abs=1e-9)


def test_goal_that_cannot_be_reached(snap) -> None:
    with pytest.raises(kpitree.GoalError, match=r"ARPU \$500.00 cannot be reached by "
                                                r"share\[tier=pro\] alone: it ranges from"):
        kpitree.goal_seek(snap, "share[tier=pro]", target=500.0)


def test_goal_seek_needs_a_driver_or_share(snap) -> None:
    with pytest.raises(kpitree.ScenarioError, match="goal seek needs a driver or share lever"):
        kpitree.goal_seek(snap, "move[tier=starter->pro]", target=56.0)


# --- sensitivity -------------------------------------------------------------------------------

def test_sensitivity_matches_finite_differences(snap) -> None:
    table = kpitree.sensitivity(snap)
    assert len(table) == 5 * (4 + 1)  # 5 tiers × (4 drivers + share)
    h = 1e-6
    for row in table.itertuples(index=False):
        selector = (("tier", row.segment),)
        base = Lever(row.lever, row.kind, row.node, selector, None, "*", 1.0, "")
        up = snap.apply(Lever(**{**base.__dict__, "amount": 1 + h})).value
        down = snap.apply(Lever(**{**base.__dict__, "amount": 1 - h})).value
        numeric = (up - down) / (2 * h) / snap.value
        assert row.elasticity == pytest.approx(numeric, abs=1e-7), row.lever
    assert table["elasticity"].abs().is_monotonic_decreasing


def test_sensitivity_known_values(snap) -> None:
    table = kpitree.sensitivity(snap).set_index("lever")
    pro = tier(snap, "pro")
    # ARPU is linear in pro's base price: elasticity = share × base_pu / ARPU.
    assert table.loc["base_pu[tier=pro]", "elasticity"] == pytest.approx(
        pro["share"] * pro["base_pu"] / snap.value, rel=1e-12)
    assert table.loc["base_pu[tier=pro]", "high_value"] == pytest.approx(
        snap.value + 0.1 * pro["share"] * pro["base_pu"], rel=1e-12)


def test_tornado_chart(snap, tmp_path) -> None:
    table = kpitree.sensitivity(snap)
    tornado_chart(table, snap, str(tmp_path / "tornado.png"))
    assert (tmp_path / "tornado.png").read_bytes()[:4] == b"\x89PNG"


# --- errors: one per user-facing message ------------------------------------------------------

@pytest.mark.parametrize(("levers", "message"), [
    ({"attach[tier=pro]": "five"}, r"cannot read the change 'five'; write one of \+5pp"),
    ({"attach[tier=pro]": "*5%"}, r"'\*' takes a plain factor"),
    ({"atach[tier=pro]": "+5pp"}, r"unknown node 'atach'. Did you mean 'attach'\?"),
    ({"attach[tier=prp]": "+5pp"}, r"unknown tier 'prp'. Did you mean 'pro'\?"),
    ({"attach[plan=pro]": "+5pp"}, r"unknown dimension 'plan'"),
    ({"attach[tier pro]": "+5pp"}, r"'tier pro' is not dim=value"),
    ({"attach(tier=pro)": "+5pp"}, r"cannot read the lever"),
    ({"share[tier=pro]": "+90pp"}, r"the share of tier=pro would be 103\.6 %; a share must "
                                   r"stay between 0 % and 100 %"),
    ({"share[tier=pro]": "-20pp"}, r"would be −6\.4 %"),
    ({"move[tier=starter->pro]": "120%"}, r"cannot move 120 % of a segment"),
    ({"move[tier=starter->pro]": "30000"}, r"cannot move 30,000 from tier=starter"),
    ({"move[tier=starter]": "10%"}, r"write move\[tier=from->to\]"),
    ({"move[tier=starter->starter]": "10%"}, r"source and destination are the same"),
    ({"attach[tier=pro]": "-50pp"}, r"attach would become −17\.6 % \(below zero\) in tier=pro"),
    ({"attach[tier=pro->team]": "+5pp"}, r"'a->b' is only for one dimension of move"),
])
def test_lever_errors(snap, levers, message) -> None:
    with pytest.raises(kpitree.ScenarioError, match=message):
        snap.whatif(levers)


def test_share_lever_must_name_outer_dimensions(nested) -> None:
    with pytest.raises(kpitree.ScenarioError, match=r"names a segment by its dimensions from "
                                                    r"the outermost \(tier, region\)"):
        nested.whatif({"share[region=EU]": "+1pp"})


def test_lever_on_a_zero_driver_says_so() -> None:
    tree = kpitree.tree_from_text("""
root: arpu
weight: users
segments: [tier]
nodes:
  arpu: {formula: attach * per_adopter}
  attach: {formula: adopters / users, format: percent}
  per_adopter: {formula: revenue / adopters}
  users: {column: users}
  adopters: {column: adopters}
  revenue: {column: revenue}
""")
    import pandas as pd

    data = pd.DataFrame([("p", "a", 10, 0, 0.0), ("p", "b", 10, 5, 50.0)],
                        columns=["period", "tier", "users", "adopters", "revenue"])
    snap = kpitree.snapshot(tree, data, period="p")
    with pytest.raises(kpitree.ScenarioError, match=r"attach is 0 in tier=a .* nothing scales "
                                                    "up from zero: choose a segment"):
        snap.whatif({"attach[tier=a]": "+5pp"})
    scenario = snap.whatif({"attach[tier=b]": "+10pp"})
    assert scenario.value == pytest.approx((0.6 * 10) / 2, rel=1e-12)  # b: 0.6 × 10, half users


def test_parse_lever_reports_forms() -> None:
    lever = parse_lever("attach[tier=pro]", "-2pp", TREE, ["tier"], {"tier": ["pro"]})
    assert (lever.op, lever.amount, lever.unit) == ("+", -2.0, "pp")
    assert math.isclose(lever.new_value(0.3), 0.28)


def test_scenario_errors_are_kpitree_errors_with_exit_2_semantics(snap) -> None:
    with pytest.raises(kpitree.KpitreeError):
        snap.whatif({"nonsense": "+1"})
    with pytest.raises(ValueError):
        snap.whatif({"nonsense": "+1"})
