"""Period traps (issue 10 §3): partial periods, labels that are not ISO, dates, datetimes,
ordered categoricals, roll-ups to quarters and years, YoY in the trend, words that follow the
period, and the convention of a rolled-up ratio stated where the numbers are shown."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

import kpitree
from kpitree.cli.main import main
from kpitree.core.errors import DataError


def monthly(first: str = "2024-01", months: int = 24) -> pd.DataFrame:
    """Two tiers, one row per month × tier; revenue grows 1 % a month."""
    rows = []
    start = pd.Period(first, "M")
    for k in range(months):
        label = str(start + k)
        for tier, users, arpu in (("basic", 100 + k, 10.0), ("pro", 20 + k, 50.0)):
            rows.append({"period": label, "tier": tier, "users": float(users),
                         "revenue": users * arpu * 1.01 ** k})
    return pd.DataFrame(rows)


def write(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def tree_file(tmp_path: Path) -> Path:
    path = tmp_path / "tree.yaml"
    path.write_text(MINIMAL_TREE_TEXT)
    return path


MINIMAL_TREE_TEXT = """
name: t
root: arpu
weight: users
segments: [tier]
nodes:
  arpu: {label: ARPU, formula: revenue / users}
  users: {label: Users, column: users}
  revenue: {column: revenue}
"""


TREE = kpitree.tree_from_text(MINIMAL_TREE_TEXT)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("kpitree: error: ")
    return err[0]


# --- partial periods -------------------------------------------------------------------------

def test_partial_quarter_is_refused_with_the_fix(tmp_path, capsys):
    data = write(tmp_path, monthly("2024-01", 10))  # 2024-Q4 holds October only
    code = main(["explain", str(tree_file(tmp_path)), str(data), "--base", "2024-Q3",
                 "--compare", "2024-Q4", "--period", "quarter"])
    assert code == 2
    message = one_line_error(capsys)
    assert "2024-Q4 is incomplete" in message and "1 of 3 months" in message
    assert "2024-11, 2024-12" in message and "--allow-partial" in message


def test_partial_year_is_refused_and_allowed_with_a_note(tmp_path, capsys):
    data = write(tmp_path, monthly("2024-11", 12))  # 2024: two months, 2025: ten
    args = ["explain", str(tree_file(tmp_path)), str(data), "--base", "2024", "--compare",
            "2025", "--period", "year"]
    assert main(args) == 2
    message = one_line_error(capsys)
    assert "year 2024 is incomplete" in message and "2 of 12 months" in message
    assert main([*args, "--allow-partial", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any("2024 is incomplete" in note for note in out["notes"])
    assert any("per user-month" in note for note in out["notes"])


def test_trend_refuses_a_partial_quarter_in_its_range(tmp_path, capsys):
    data = write(tmp_path, monthly("2024-01", 10))
    args = ["trend", str(tree_file(tmp_path)), str(data), "--period", "quarter", "--no-charts"]
    assert main(args) == 2
    assert "2024-Q4 is incomplete" in one_line_error(capsys)
    assert main([*args, "--to", "2024-Q3"]) == 0
    out = capsys.readouterr().out
    assert "quarter over quarter" in out and "month over month" not in out
    assert "per user-month" in out


# --- roll-ups: exact, YoY, words ---------------------------------------------------------------

def test_quarter_roll_up_sums_the_months():
    data = monthly()
    result = kpitree.explain(TREE, data, base="2024-Q1", compare="2024-Q2", period="quarter")
    q1 = data[data["period"].isin(["2024-01", "2024-02", "2024-03"])]
    assert result.base.value == pytest.approx(q1["revenue"].sum() / q1["users"].sum())
    assert result.effects["value"].sum() == pytest.approx(result.delta, abs=1e-12)
    assert "per user-month" in result.notes[0]
    assert "Note: quarters" in str(result)


def test_trend_has_year_over_year(tmp_path, capsys):
    data = monthly()
    series = kpitree.trend(TREE, data)
    values = series.values.set_index("period")
    assert values.loc["2025-03", "yoy"] == pytest.approx(
        values.loc["2025-03", "value"] - values.loc["2024-03", "value"])
    assert pd.isna(values.loc["2024-12", "yoy"])
    # a range that starts after the year-earlier month still finds it in the data
    later = kpitree.trend(TREE, data, start="2025-06").values.set_index("period")
    assert later.loc["2025-06", "yoy"] == pytest.approx(values.loc["2025-06", "yoy"])
    quarters = kpitree.trend(TREE, data, period="quarter")
    assert quarters.step_words == "quarter over quarter"
    q = quarters.values.set_index("period")
    assert q.loc["2025-Q2", "yoy"] == pytest.approx(q.loc["2025-Q2", "value"]
                                                    - q.loc["2024-Q2", "value"])
    years = kpitree.trend(TREE, data, period="year")
    assert years.periods == ("2024", "2025") and years.step_words == "year over year"
    code = main(["trend", str(tree_file(tmp_path)), str(write(tmp_path, data)), "--no-charts"])
    assert code == 0
    out = capsys.readouterr().out
    assert "YoY" in out and "same month a year earlier" in out


def test_roll_up_needs_month_labels(tmp_path, capsys):
    data = monthly().assign(period=lambda f: f["period"].str.replace("-", "/"))
    code = main(["explain", str(tree_file(tmp_path)), str(write(tmp_path, data)), "--base",
                 "2024-Q1", "--compare", "2024-Q2", "--period", "quarter"])
    assert code == 2
    assert "not a month like 2026-10" in one_line_error(capsys)


# --- labels: order and matching ------------------------------------------------------------------

def test_month_names_are_parsed_and_ordered(tmp_path, capsys):
    data = monthly("2025-01", 12)
    data["period"] = pd.to_datetime(data["period"]).dt.strftime("%b %Y")  # "Jan 2025"
    series = kpitree.trend(TREE, data)
    assert series.periods[:4] == ("2025-01", "2025-02", "2025-03", "2025-04")
    code = main(["explain", str(tree_file(tmp_path)), str(write(tmp_path, data)), "--base",
                 "Sep 2025", "--compare", "Oct 2025"])
    assert code == 0
    assert "2025-09" in capsys.readouterr().out


def test_timestamps_dates_and_datetimes_match():
    data = monthly("2025-01", 6)
    stamped = data.assign(period=pd.to_datetime(data["period"]))
    result = kpitree.explain(TREE, stamped, base=pd.Timestamp("2025-02-01"),
                             compare=dt.date(2025, 3, 1))
    assert (result.base.period, result.compare.period) == ("2025-02-01", "2025-03-01")
    text = kpitree.explain(TREE, data, base=pd.Timestamp("2025-02-01"), compare="Mar 2025")
    assert (text.base.period, text.compare.period) == ("2025-02", "2025-03")
    assert text.delta == pytest.approx(result.delta, abs=1e-12)
    with_time = data.assign(period=pd.to_datetime(data["period"]) + pd.Timedelta(hours=6))
    timed = kpitree.trend(TREE, with_time)
    assert timed.periods[0] == "2025-01-01 06:00"


def test_ordered_categorical_periods_keep_their_order():
    data = monthly("2025-01", 3)
    names = {"2025-01": "winter", "2025-02": "spring", "2025-03": "summer"}
    data["period"] = pd.Categorical(data["period"].map(names),
                                    categories=["winter", "spring", "summer"], ordered=True)
    series = kpitree.trend(TREE, data)
    assert series.periods == ("winter", "spring", "summer")  # not alphabetical


def test_natural_order_of_plain_labels():
    data = monthly("2025-01", 11)
    data["period"] = "p" + (pd.to_datetime(data["period"]).dt.month - 1).astype(str)
    assert kpitree.trend(TREE, data).periods[-3:] == ("p8", "p9", "p10")


def test_unknown_period_still_lists_the_periods():
    with pytest.raises(DataError, match="Periods present"):
        kpitree.explain(TREE, monthly("2025-01", 3), base="Dec 2030", compare="2025-02")
