"""``kpitree whatif`` and ``kpitree explain --total`` / ``--bridge``, against the Python API."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

import kpitree
from kpitree.analysis.scenario import Scenario, goal_seek, sensitivity, snapshot
from kpitree.analysis.totals import explain_total, fold_interaction
from kpitree.cli.analyses import split_option
from kpitree.core.errors import UsageError
from tests.conftest import SAAS_DATA, SAAS_TREE, run_cli

PERIOD = "2026-10"
LEVERS = ("base_pu[tier=pro]=*1.10", "attach[tier=team]=+5pp", "share[tier=pro]==16%")


def _whatif(*extra: str):
    args = ["whatif", SAAS_TREE, SAAS_DATA, "--period", PERIOD]
    for lever in LEVERS:
        args += ["--lever", lever]
    return run_cli(*args, *extra)


@pytest.fixture(scope="module")
def api():
    tree = kpitree.load_tree(SAAS_TREE)
    snap = snapshot(tree, SAAS_DATA, period=PERIOD)
    scenario = Scenario.build(snap, [split_option(text, "--lever") for text in LEVERS])
    return tree, snap, scenario


def test_lever_options_split_outside_the_selector() -> None:
    assert split_option("base_pu[tier=pro]=*1.10", "--lever") == ("base_pu[tier=pro]", "*1.10")
    assert split_option("share[tier=pro]==16%", "--lever") == ("share[tier=pro]", "=16%")
    assert split_option("attach=0.3", "--lever") == ("attach", "0.3")
    with pytest.raises(UsageError, match="KEY=VALUE"):
        split_option("attach[tier=pro]", "--lever")


def test_whatif_json_is_the_python_scenario(api) -> None:
    _tree, snap, scenario = api
    done = _whatif("--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["actual"] == snap.value
    assert doc["scenario"]["value"] == scenario.value
    assert doc["scenario"]["delta"] == scenario.delta
    assert [r["delta"] for r in doc["scenario"]["by_lever"]] == list(scenario.by_lever()["delta"])
    assert doc["scenario"]["explanation"] == json.loads(scenario.explanation.to_json())
    # the bridge by lever adds up exactly to the scenario's change
    assert sum(r["delta"] for r in doc["scenario"]["by_lever"]) == pytest.approx(
        scenario.delta, abs=1e-12)


def test_whatif_table_and_csv(api) -> None:
    _tree, _snap, scenario = api
    table = _whatif()
    assert table.returncode == 0, table.stderr
    assert "What-if on 2026-10 (by tier, method shapley): ARPU $55.43 → $58.32" in table.stdout
    for lever in ("base_pu[tier=pro]", "attach[tier=team]", "share[tier=pro]"):
        assert lever in table.stdout
    rows = pd.read_csv(io.StringIO(_whatif("--format", "csv").stdout))
    pd.testing.assert_series_equal(rows["delta"], scenario.by_lever()["delta"], rtol=1e-15)


def test_goal_seek_and_sensitivity_match_the_api(api) -> None:
    _tree, snap, _scenario = api
    done = run_cli("whatif", SAAS_TREE, SAAS_DATA, "--period", PERIOD, "--goal",
                   "share[tier=pro]=56", "--sensitivity", "0.2", "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    goal = goal_seek(snap, "share[tier=pro]", target=56.0)
    assert doc["goal"]["value"] == goal.value
    assert doc["goal"]["explanation"]["compare"]["value"] == pytest.approx(56.0, abs=1e-8)
    table = sensitivity(snap, step=0.2)
    assert [r["lever"] for r in doc["sensitivity"]["levers"]] == list(table["lever"])
    assert [r["elasticity"] for r in doc["sensitivity"]["levers"]] == list(table["elasticity"])
    text = run_cli("whatif", SAAS_TREE, SAAS_DATA, "--period", PERIOD, "--goal",
                   "share[tier=pro]=56").stdout
    assert "share[tier=pro] = 14.7 % (now 13.6 %, +1.1 pp) brings ARPU to $56.00" in text


def test_whatif_charts_are_written(tmp_path) -> None:
    chart, tornado = tmp_path / "levers.png", tmp_path / "tornado.svg"
    done = _whatif("--sensitivity", "--chart", chart, "--tornado", tornado)
    assert done.returncode == 0, done.stderr
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in tornado.read_bytes()[:400]
    assert f"wrote {chart}" in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    ((), "say what to try"),
    (("--lever", "attach[tier=pro]"), "KEY=VALUE"),
    (("--lever", "attach[tier=gold]=+5pp"), "gold"),
    (("--goal", "share[tier=pro]=lots"), "must be a number"),
    (("--sensitivity", "2"), "between 0 and 1"),
    (("--lever", "attach=+1pp", "--chart", "x.gif"), ".png, .svg or .pdf"),
    (("--goal", "share[tier=pro]=56", "--tornado", "t.png"), "add --sensitivity"),
])
def test_whatif_bad_usage_is_one_line(args, message) -> None:
    done = run_cli("whatif", SAAS_TREE, SAAS_DATA, "--period", PERIOD, *args)
    assert done.returncode == 2
    assert done.stderr.startswith("kpitree: error: ") and message in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize("method", ["shapley", "sequential", "lmdi"])
def test_explain_total_is_the_python_total(method) -> None:
    tree = kpitree.load_tree(SAAS_TREE)
    total = explain_total(tree, SAAS_DATA, base="2026-09", compare=PERIOD, method=method)
    done = run_cli("explain", SAAS_TREE, SAAS_DATA, "--base", "2026-09", "--compare", PERIOD,
                   "--total", "--method", method, "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["totals"] == total.totals
    assert doc["delta"] == total.delta
    assert sum(e["value"] for e in doc["effects"]) == pytest.approx(total.delta, rel=1e-12)


def test_explain_total_folds_the_interaction_into_price() -> None:
    tree = kpitree.load_tree(SAAS_TREE)
    total = explain_total(tree, SAAS_DATA, base="2026-09", compare=PERIOD, method="sequential")
    folded = fold_interaction(total)
    assert "interaction" in total.totals and "interaction" not in folded.totals
    assert folded.totals["rate"] == pytest.approx(
        total.totals["rate"] + total.totals["interaction"], rel=1e-12)
    assert folded.totals["volume"] == total.totals["volume"]
    # one level: the price effect is each driver's rate at the compare shares, w1·Δr, so each
    # driver's folded effect is its rate scaled by w1/w0 of its segment
    done = run_cli("explain", SAAS_TREE, SAAS_DATA, "--base", "2026-09", "--compare", PERIOD,
                   "--total", "--method", "sequential", "--fold-interaction")
    assert done.returncode == 0, done.stderr
    assert "rate (price)" in done.stdout and "interaction" not in done.stdout
    assert "volume (Active users)" in done.stdout
    bad = run_cli("explain", SAAS_TREE, SAAS_DATA, "--base", "2026-09", "--compare", PERIOD,
                  "--total", "--fold-interaction")
    assert bad.returncode == 2 and "--method sequential" in bad.stderr


def test_explain_writes_the_bridge(tmp_path) -> None:
    path = tmp_path / "bridge.svg"
    done = run_cli("explain", SAAS_TREE, SAAS_DATA, "--base", "2026-09", "--compare", PERIOD,
                   "--bridge", path, "--format", "json")
    assert done.returncode == 0, done.stderr
    tree = kpitree.load_tree(SAAS_TREE)
    result = kpitree.explain(tree, SAAS_DATA, base="2026-09", compare=PERIOD)
    from kpitree.present.bridge import render_bridge

    assert path.read_bytes() == render_bridge(result, format="svg")
    assert json.loads(done.stdout) == json.loads(result.to_json())
    bad = run_cli("explain", SAAS_TREE, SAAS_DATA, "--base", "2026-09", "--compare", PERIOD,
                  "--bridge", tmp_path / "bridge.gif")
    assert bad.returncode == 2 and ".png, .svg or .pdf" in bad.stderr
