"""The synthetic event log: deterministic, the size asked for, and its planted effects recovered.

The generator plants five effects between its last two months; explaining the generated events
with the bundled trees must find each with the stated sign and about the stated size.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import kpitree
from kpitree.io.events import aggregate
from kpitree.io.generate import GenerateError, generate
from kpitree.io.sources import connect
from tests.conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    made = generate(tmp_path_factory.mktemp("gen"), events=400_000, seed=5)
    source = connect(made.folder)
    results = {}
    for name in ("arpu_blended", "arpu_realised"):
        tree = kpitree.load_tree(ROOT / "trees" / f"{name}.yaml")
        agg = aggregate(tree, source, periods=[made.base, made.compare])
        results[name] = kpitree.explain(tree, agg.frame, base=made.base, compare=made.compare)
    return made, results


def _effect(result, kind, tier, driver=None):
    rows = result.effects[(result.effects["kind"] == kind) & (result.effects["tier"] == tier)]
    if driver is not None:
        rows = rows[rows["driver"] == driver]
    return float(rows["value"].sum())


def _expected(made, segment_tier, effect="rate"):
    for item in made.planted:
        if item.get("segment", {}).get("tier") == segment_tier and item["effect"] == effect:
            return item
    raise KeyError(segment_tier)


def test_size_is_about_what_was_asked(planted):
    made, _ = planted
    assert 0.85 * 400_000 <= made.events <= 1.15 * 400_000
    stored = json.loads((made.folder / "planted.json").read_text())
    assert stored["events"] == made.events and stored["base"] == made.base == "2026-09"


def test_business_launch_is_positive_mix_entered(planted):
    _, results = planted
    result = results["arpu_blended"]
    assert _effect(result, "mix", "business") > 0
    segment = result.segments[result.segments["segment"].map(dict).map(
        lambda s: s.get("tier")) == "business"]
    assert segment["status"].iloc[0] == "entered"


@pytest.mark.parametrize(("tier", "driver"), [("starter", "base_pu"), ("pro", "attach")])
def test_planted_rate_effects_are_recovered_within_tolerance(planted, tier, driver):
    made, results = planted
    expected = _expected(made, tier)
    found = _effect(results["arpu_blended"], "rate", tier, driver)
    assert (found > 0) == (expected["sign"] == "+")
    assert found == pytest.approx(expected["size"], rel=0.35)


def test_enterprise_usage_rises(planted):
    _, results = planted
    assert _effect(results["arpu_blended"], "rate", "enterprise", "usage_pu") > 0


def test_payment_failures_show_as_a_lower_collection_rate(planted):
    made, results = planted
    result = results["arpu_realised"]
    tree = kpitree.load_tree(ROOT / "trees" / "arpu_realised.yaml")
    agg = aggregate(tree, connect(made.folder), periods=[made.base, made.compare])
    totals = agg.cents.groupby("period")[["billed", "collected"]].sum()
    rate = totals["collected"] / totals["billed"]
    assert rate[made.compare] - rate[made.base] == pytest.approx(-0.03, abs=0.01)
    rate_effects = result.effects[(result.effects["kind"] == "rate") &
                                  (result.effects["driver"] == "collection")]
    assert rate_effects["value"].sum() < 0


def test_same_seed_same_files(tmp_path):
    one = generate(tmp_path / "a", events=2_000, seed=9)
    two = generate(tmp_path / "b", events=2_000, seed=9)
    for part in ("events", "users"):
        pd.testing.assert_frame_equal(pd.read_parquet(one.folder / part),
                                      pd.read_parquet(two.folder / part))
    events = pd.read_parquet(one.folder / "events")
    assert events["event_id"].is_unique
    assert str(events["ts"].dtype) == "datetime64[us, UTC]"


def test_bad_sizes_are_refused(tmp_path):
    with pytest.raises(GenerateError, match="choose between 1,000"):
        generate(tmp_path, events=10)


def test_cli_generate_states_the_planted_effects(tmp_path):
    done = run_cli("generate", "--events", "3000", "--out", tmp_path / "g")
    assert done.returncode == 0, done.stderr
    assert "planted effects, 2026-09 → 2026-10" in done.stdout
    assert "starter price per seat cut" in done.stdout
