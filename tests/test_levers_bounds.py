"""Levers that used to accept the impossible (issue 10 §4): a rate pushed past 100 %, a plain
``+10`` on a rate, a bare number that silently set a value. Each is one ``kpitree: error:`` line
naming the lever and the accepted forms."""

from __future__ import annotations

import pytest

import kpitree
from kpitree.cli.main import main
from kpitree.core.errors import ScenarioError
from tests.conftest import SAAS_TREE

DATA = "data/saas_monthly.csv"


def whatif(*levers: str) -> list[str]:
    return ["whatif", str(SAAS_TREE), DATA, "--period", "2026-10",
            *(arg for lever in levers for arg in ("--lever", lever))]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("kpitree: error: ")
    return err[0]


@pytest.fixture(scope="module")
def snap():
    return kpitree.snapshot(kpitree.load_tree(SAAS_TREE), DATA, period="2026-10")


def test_plain_number_added_to_a_rate_is_refused(capsys):
    assert main(whatif("attach[tier=pro]=+10")) == 2
    message = one_line_error(capsys)
    assert "attach is a rate" in message and "1,000 percentage points" in message
    assert "'+10pp'" in message and "'+10%'" in message and "'=10%'" in message


def test_a_rate_above_100_percent_is_refused(capsys):
    assert main(whatif("attach[tier=pro]=+80pp")) == 2
    message = one_line_error(capsys)
    assert "above 100 %" in message and "tier=pro" in message and "2026-10" in message
    assert main(whatif("attach[tier=pro]=*5")) == 2
    assert "above 100 %" in one_line_error(capsys)
    assert main(whatif("attach[tier=pro]==120%")) == 2
    assert "above 100 %" in one_line_error(capsys)


def test_a_rate_below_zero_is_refused(capsys):
    assert main(whatif("attach[tier=pro]=-90pp")) == 2
    assert "below zero" in one_line_error(capsys)


@pytest.mark.parametrize("value", ["1.1", "=x", "1.1pp"])
def test_bare_numbers_name_the_accepted_forms(capsys, value):
    assert main(whatif(f"base_pu[tier=pro]={value}")) == 2
    message = one_line_error(capsys)
    assert "+5pp" in message and "=30%" in message and "*1.1" in message


def test_bare_numbers_in_the_api(snap):
    for value in (1.1, "1.1", 2):
        with pytest.raises(ScenarioError, match=r"bare number .* '=.*' to set"):
            snap.whatif({"base_pu[tier=pro]": value})
    # the explicit forms work, a rate moves within 0–100 %
    assert snap.whatif({"base_pu[tier=pro]": "=1.1"}).delta < 0
    assert snap.whatif({"attach[tier=pro]": "+10pp"}).delta > 0
    assert snap.whatif({"attach[tier=pro]": "=100%"}).delta > 0
    # move keeps its bare fraction and count
    assert snap.whatif({"move[tier=starter->pro]": "10%"}).delta > 0


def test_goal_seek_on_a_rate_stays_within_bounds(snap):
    found = kpitree.goal_seek(snap, "attach[tier=pro]", target=snap.value + 0.5)
    assert 0.0 <= found.value <= 1.0


# --- intervals on aggregated rows ------------------------------------------------------------

def test_drivers_on_aggregated_rows_switch_intervals_off_with_a_note(capsys):
    code = main(["drivers", str(SAAS_TREE), DATA, "--base", "2026-09", "--compare", "2026-10",
                 "--dims", "tier", "region"])
    assert code == 0
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "no intervals" in text and "one row per user" in text
    assert "[" not in captured.out.split("Top")[0]  # no interval brackets in the summary
    code = main(["drivers", str(SAAS_TREE), DATA, "--base", "2026-09", "--compare", "2026-10",
                 "--dims", "tier", "--format", "json"])
    assert code == 0
    assert '"intervals"' not in capsys.readouterr().out


def test_with_intervals_refuses_aggregated_rows():
    from kpitree.analysis.bootstrap import with_intervals

    tree = kpitree.load_tree(SAAS_TREE)
    result = kpitree.explain(tree, DATA, base="2026-09", compare="2026-10")
    with pytest.raises(kpitree.DataError, match="one row per user"):
        with_intervals(result, DATA, replicates=20)
