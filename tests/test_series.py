"""Multi-period series: chain-link exactness, the direct comparison, charts and the CLI."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import kpitree
from kpitree.cli.main import main
from kpitree.present.table import format_trend
from tests.conftest import SAAS_DATA, SAAS_TREE, SIMPLE_TREE

TREE = kpitree.load_tree(SAAS_TREE)

SIMPLE = kpitree.tree_from_text(SIMPLE_TREE)

# Three periods, two tiers: basic 10 → 11 → 11, pro 50 → 60 → 50; pro's share 20 → 40 → 20 %.
THREE = pd.DataFrame([
    ("p0", "basic", 80, 800.0), ("p0", "pro", 20, 1000.0),
    ("p1", "basic", 60, 660.0), ("p1", "pro", 40, 2400.0),
    ("p2", "basic", 80, 880.0), ("p2", "pro", 20, 1000.0),
], columns=["period", "tier", "users", "revenue"])


def close(a: float, b: float, scale: float = 1.0) -> bool:
    return math.isclose(a, b, rel_tol=0.0, abs_tol=1e-9 * max(1.0, abs(scale)))


@pytest.fixture(scope="module")
def year() -> kpitree.Trend:
    return kpitree.trend(TREE, SAAS_DATA)


@pytest.mark.parametrize("method", ["shapley", "sequential", "lmdi"])
@pytest.mark.parametrize("by", [["tier"], ["tier", "region"], []])
def test_chain_link_adds_up_per_kind(method: str, by: list[str]) -> None:
    result = kpitree.trend(TREE, SAAS_DATA, by=by, method=method)
    scale = result.last
    # The monthly effects, kind by kind, add up to the chained totals ...
    for kind, total in result.chained_totals.items():
        monthly = sum(step.totals.get(kind, 0.0) for step in result.steps)
        assert close(total, monthly, scale), kind
    # ... and all of them to the change from the first to the last period.
    assert close(result.chained["value"].sum(), result.last - result.first, scale)
    assert close(sum(result.chained_totals.values()), result.direct.delta, scale)
    assert len(result.steps) == len(result.periods) - 1 == 11


def test_chained_effect_is_the_sum_of_its_monthly_effects(year: kpitree.Trend) -> None:
    def pro_attach(effects: pd.DataFrame) -> float:
        rows = effects[(effects["kind"] == "rate") & (effects["tier"] == "pro")
                       & (effects["driver"] == "attach")]
        return float(rows["value"].sum())

    assert close(pro_attach(year.chained), sum(pro_attach(s.effects) for s in year.steps))
    business = year.chained[(year.chained["kind"] == "mix") & (year.chained["tier"] == "business")]
    assert len(business) == 1  # appears only in the last step, still one row


def test_values_are_the_tree_evaluated_on_each_period(year: kpitree.Trend) -> None:
    totals = kpitree.evaluate(TREE, SAAS_DATA, by=[])
    assert list(year.values["period"]) == list(totals["period"])
    for got, want in zip(year.values["value"], totals["arpu"], strict=True):
        assert close(got, want)
    assert year.values["delta"].iloc[1:].sum() == pytest.approx(year.delta, abs=1e-9)
    assert math.isnan(year.values["delta"].iloc[0])
    shares = year.segments.groupby("period")["share"].sum()
    assert shares.to_numpy() == pytest.approx(1.0)


def test_chain_differs_from_direct_by_path_dependence_only() -> None:
    result = kpitree.trend(SIMPLE, THREE)
    # Direct p0 → p2: the shares are back where they were, so no mix; basic's rate 10 → 11 at
    # share 0.8 is all of the change (A 18 → 18.8).
    assert result.direct.totals == pytest.approx({"mix": 0.0, "rate": 0.8}, abs=1e-12)
    # The chain sees pro's share rise while its rate was 50 → 60 and fall at 60 → 50:
    # p0→p1 (A 18 → 30.6): mix −0.2·(10.5 − 24.3) + 0.2·(55 − 24.3) = 8.9, rate 0.7 + 3;
    # p1→p2 (A 30.6 → 18.8): mix 0.2·(11 − 24.7) − 0.2·(55 − 24.7) = −8.8, rate 0 − 3.
    assert result.chained_totals == pytest.approx({"mix": 0.1, "rate": 0.7}, abs=1e-12)
    table = result.comparison().set_index("kind")
    assert table.loc["mix", "difference"] == pytest.approx(0.1, abs=1e-12)
    assert table.loc["total", "difference"] == pytest.approx(0.0, abs=1e-12)


def test_from_and_to_restrict_the_range() -> None:
    result = kpitree.trend(TREE, SAAS_DATA, start="2026-03", end="2026-06")
    assert result.periods == ("2026-03", "2026-04", "2026-05", "2026-06")
    direct = kpitree.explain(TREE, SAAS_DATA, base="2026-03", compare="2026-06")
    assert close(result.delta, direct.delta)
    assert result.direct.totals == pytest.approx(direct.totals, abs=1e-12)


def test_start_after_end_is_an_error() -> None:
    with pytest.raises(kpitree.DataError, match="start 2026-06 is after end 2026-03"):
        kpitree.trend(TREE, SAAS_DATA, start="2026-06", end="2026-03")


def test_a_single_period_is_not_a_trend() -> None:
    with pytest.raises(kpitree.DataError, match="at least two periods"):
        kpitree.trend(TREE, SAAS_DATA, start="2026-06", end="2026-06")


def test_unknown_period_suggests_one() -> None:
    with pytest.raises(kpitree.DataError, match="Did you mean '2026-10'"):
        kpitree.trend(TREE, SAAS_DATA, start="2026-1")


def test_text_and_dict_outputs(year: kpitree.Trend) -> None:
    text = format_trend(year)
    assert "ARPU  2025-11 $48.53 → 2026-10 $55.43   +$6.89" in text
    assert "chained" in text and "direct" in text
    summary = year.to_dict()
    assert summary["periods"][0] == "2025-11" and len(summary["values"]) == 12
    assert summary["delta"] == pytest.approx(year.delta)


def test_charts_render(year: kpitree.Trend, tmp_path) -> None:
    bridge = tmp_path / "bridge.png"
    trends = tmp_path / "trends.svg"
    year.bridge_chart(str(bridge))
    year.trends_chart(str(trends))
    assert bridge.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in trends.read_bytes()[:500]


def test_cli_trend_writes_the_charts(tmp_path, capsys) -> None:
    code = main(["trend", str(SAAS_TREE), str(SAAS_DATA), "--from", "2026-06",
                 "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "2026-06 $50.78 → 2026-10 $55.43" in captured.out
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["saas_arpu_2026-06_2026-10_bridge.png", "saas_arpu_2026-06_2026-10_trends.png"]
    assert "wrote" in captured.err


def test_cli_trend_json(capsys) -> None:
    code = main(["trend", str(SAAS_TREE), str(SAAS_DATA), "--no-charts", "--format", "json"])
    assert code == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["chained"]["mix"] + out["chained"]["rate"] == pytest.approx(out["delta"])


def test_cli_trend_bad_period_exits_2(capsys) -> None:
    code = main(["trend", str(SAAS_TREE), str(SAAS_DATA), "--to", "2027-01", "--no-charts"])
    assert code == 2
    assert capsys.readouterr().err.startswith("kpitree: error: ")
