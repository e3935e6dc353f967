"""Raw events on DuckDB: sources (files, CSV, DuckDB file, DataFrames), definitions, bad input.

Every bad input listed in the issue is either a clear error (one test per message) or a
reported note: unknown table or column, a user in two tiers in one month, events outside every
period, mixed currencies, naive timestamps near a period boundary, duplicate event ids.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

import kpitree
from kpitree.core.periods import period_window, windows_between
from kpitree.io.events import aggregate
from kpitree.io.generate import generate
from kpitree.io.sources import connect
from tests.conftest import ROOT, run_cli

BLENDED = ROOT / "trees" / "arpu_blended.yaml"
BASE, COMPARE = "2026-09", "2026-10"


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("gen"), events=8_000, seed=3)


@pytest.fixture(scope="module")
def frames(gen):
    events = pd.read_parquet(gen.folder / "events")
    users = pd.read_parquet(gen.folder / "users")
    return events, users


def _tree(extra_data: str = "", nodes: str = "", unit: str = "USD", segments: str = "[tier]"):
    return kpitree.tree_from_text(f"""
name: t
root: arpu
weight: users
segments: {segments}
unit: {unit}
data:
  active: logins >= 1 or revenue > 0
{extra_data}
nodes:
  arpu: {{formula: revenue / users}}
  users: {{column: active_users}}
  revenue: {{column: revenue}}
{nodes}
""", "t.yaml")


def _agg(tree, events, users, periods=(BASE, COMPARE)):
    return aggregate(tree, connect(events=events, users=users),
                     periods=None if periods is None else list(periods))


def test_every_bundled_variant_tree_runs_on_generated_events(gen):
    source = connect(gen.folder)
    for name in ("arpu_blended", "arpu_paying", "arpu_account", "arpu_seat", "arpu_new",
                 "arpu_cohort", "arpu_realised"):
        tree = kpitree.load_tree(ROOT / "trees" / f"{name}.yaml")
        agg = aggregate(tree, source, periods=[BASE, COMPARE])
        result = kpitree.explain(tree, agg.frame, base=BASE, compare=COMPARE)
        assert abs(result.effects["value"].sum() - result.delta) < 1e-9, name
        assert "net of refunds" in agg.describe()


def test_csv_glob_duckdb_file_and_dataframes_give_the_same_cents(gen, frames, tmp_path):
    tree = kpitree.load_tree(BLENDED)
    reference = aggregate(tree, connect(gen.folder), periods=[BASE, COMPARE]).cents
    events, users = frames
    events = events[events["ts"] >= pd.Timestamp("2026-09-01", tz="UTC")]
    users = users[users["month"].astype(str) >= "2026-09"]
    for name, frame in (("events", events), ("users", users)):
        for month, part in frame.groupby(frame["ts"].dt.strftime("%Y-%m") if name == "events"
                                         else frame["month"].astype(str).str[:7]):
            part.to_csv(tmp_path / f"{name}-{month}.csv", index=False)
    from_csv = aggregate(tree, connect(events=str(tmp_path / "events-*.csv"),
                                       users=str(tmp_path / "users-*.csv")),
                         periods=[BASE, COMPARE]).cents
    pd.testing.assert_frame_equal(from_csv, reference, check_exact=True)
    database = tmp_path / "shop.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(f"CREATE TABLE events AS SELECT * FROM '{gen.folder}/events/*.parquet'")
        con.execute(f"CREATE TABLE users AS SELECT * FROM '{gen.folder}/users/*.parquet'")
    from_file = aggregate(tree, connect(str(database)), periods=[BASE, COMPARE]).cents
    pd.testing.assert_frame_equal(from_file, reference, check_exact=True)
    from_frames = _agg(tree, events, users).cents
    pd.testing.assert_frame_equal(from_frames, reference, check_exact=True)


def test_aggregate_money_is_exact_cents_and_matches_pandas(gen, frames):
    events, users = frames
    tree = _tree(nodes="  refunds: {column: refunds}\n  billed: {column: billed}")
    agg = _agg(tree, events, users)
    month = events[events["ts"].dt.strftime("%Y-%m") == COMPARE]
    charges = month[month["kind"] == "charge"]
    back = month[month["kind"] != "charge"]["amount_cents"].sum()
    billed = charges["amount_cents"].sum() - back
    collected = charges[charges["status"] == "paid"]["amount_cents"].sum() - back
    rows = agg.cents[agg.cents["period"] == COMPARE]
    # Every user with an event is a paying (hence active) user in the generated data.
    assert rows["revenue"].sum() == collected
    assert rows["billed"].sum() == billed
    assert rows["refunds"].sum() == back
    assert agg.frame["revenue"].sum() == pytest.approx(agg.cents["revenue"].sum() / 100)


def test_per_30_days_scales_money_only(gen):
    tree = _tree("  per_30_days: true")
    agg = aggregate(tree, connect(gen.folder), periods=["2026-02", "2026-03"])
    for label, days in (("2026-02", 28), ("2026-03", 31)):
        rows = agg.frame["period"] == label
        assert agg.frame.loc[rows, "revenue"].tolist() == pytest.approx(
            (agg.cents.loc[rows, "revenue"] / 100 * 30 / days).tolist())
        counts = agg.cents.loc[rows, "active_users"].tolist()
        assert agg.frame.loc[rows, "active_users"].tolist() == counts
    assert "normalised to 30 days" in agg.describe()


def test_periods_quarter_year_trailing():
    quarter = kpitree.core.definitions.Period("quarter")
    assert period_window(quarter, "2026-q3").start == dt.date(2026, 7, 1)
    trailing = kpitree.core.definitions.Period("trailing", days=90)
    window = period_window(trailing, "2026-03")
    assert (window.start, window.end, window.days) == (dt.date(2026, 1, 1), dt.date(2026, 4, 1), 90)
    year = kpitree.core.definitions.Period("year")
    assert [w.label for w in windows_between(year, dt.date(2025, 1, 1), dt.date(2026, 6, 1))] \
        == ["2025"]


def test_all_periods_and_events_outside_every_period_are_reported(frames):
    events, users = frames
    users = users[users["month"].astype(str) >= "2026-08"]
    tree = _tree()
    agg = _agg(tree, events, users, periods=None)
    assert sorted(agg.frame["period"].unique()) == ["2026-08", "2026-09", "2026-10"]
    assert any("fall outside every period" in note for note in agg.notes)


# -- bad input: one test per message -----------------------------------------------------------


def test_unknown_table_suggests_the_closest(gen, tmp_path):
    database = tmp_path / "shop.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(f"CREATE TABLE event_log AS SELECT * FROM '{gen.folder}/events/*.parquet'")
        con.execute(f"CREATE TABLE users AS SELECT * FROM '{gen.folder}/users/*.parquet'")
    with pytest.raises(kpitree.DataError, match=r"no table 'events'.*Did you mean 'event_log'"):
        aggregate(_tree(), connect(str(database)), periods=[BASE, COMPARE])
    tree = _tree("  events: {table: event_log}")
    assert len(aggregate(tree, connect(str(database)), periods=[BASE, COMPARE]).frame)


def test_unknown_column_suggests_the_closest(frames):
    events, users = frames
    with pytest.raises(kpitree.DataError, match=r"no column 'kind'.*Did you mean 'kinds'"):
        _agg(_tree(), events.rename(columns={"kind": "kinds"}), users)
    with pytest.raises(kpitree.DataError, match=r"users table has no column 'region'"):
        _agg(_tree(segments="[region]"), events, users.drop(columns="region"))


def test_unknown_name_in_a_condition(frames):
    events, users = frames
    tree = _tree().spec
    bad = kpitree.tree_from_text(
        (ROOT / "trees" / "arpu_blended.yaml").read_text().replace(
            "active: logins >= 1", "active: login >= 1"), "b.yaml")
    with pytest.raises(kpitree.TreeError, match=r"unknown name 'login'.*Did you mean 'logins'"):
        _agg(bad, events, users)
    assert tree.data is not None


def test_unknown_measure_in_the_tree():
    tree = _tree(nodes="  x: {column: active_user}")
    with pytest.raises(kpitree.TreeError, match=r"'active_user'.*Did you mean 'active_users'"):
        aggregate(tree, None)


def test_a_user_in_two_tiers_in_one_month_is_an_error(frames):
    events, users = frames
    row = users[(users["month"].astype(str) == "2026-10-01") & (users["tier"] == "pro")].head(1)
    twice = pd.concat([users, row.assign(tier="business")], ignore_index=True)
    with pytest.raises(kpitree.DataError,
                       match=r"more than one row for the same month.*"
                             r"2026-10 \(tier business, pro\)"):
        _agg(_tree(), events, twice)


def test_events_of_users_without_a_row_are_an_error(frames):
    events, users = frames
    stray = events[events["ts"].dt.strftime("%Y-%m") == COMPARE].head(1).assign(
        user_id=99_999_999, event_id=99_999_999)
    with pytest.raises(kpitree.DataError,
                       match=r"no users row for their period.*99999999 in 2026-10"):
        _agg(_tree(), pd.concat([events, stray], ignore_index=True), users)


def test_mixed_currencies_are_an_error(frames):
    events, users = frames
    mixed = events.copy()
    mixed["currency"] = mixed["currency"].astype(str)
    mixed.loc[mixed.index[-5:], "currency"] = "EUR"
    with pytest.raises(kpitree.DataError, match=r"mixes currencies \(USD .*EUR"):
        _agg(_tree(), mixed, users)


def test_currency_must_match_the_tree_unit(frames):
    events, users = frames
    with pytest.raises(kpitree.DataError, match=r"events are in USD but the tree's unit is EUR"):
        _agg(_tree(unit="EUR"), events, users)


def test_naive_timestamps_near_a_boundary_need_a_time_zone(frames):
    events, users = frames
    naive = events.assign(ts=events["ts"].dt.tz_localize(None))
    with pytest.raises(kpitree.DataError, match=r"no time zone and .* within 14 hours of a period "
                                                "boundary.*timezone: UTC"):
        _agg(_tree(), naive, users)
    stated = _agg(_tree("  timezone: UTC"), naive, users)
    reference = _agg(_tree(), events, users)
    pd.testing.assert_frame_equal(stated.cents, reference.cents, check_exact=True)
    assert any("read as UTC wall-clock" in note for note in stated.notes)


def test_naive_timestamps_far_from_boundaries_are_reported(frames):
    events, users = frames
    middle = events[events["ts"].dt.day.between(3, 27)]
    naive = middle.assign(ts=middle["ts"].dt.tz_localize(None))
    agg = _agg(_tree(), naive, users)
    assert any("do not depend on it" in note for note in agg.notes)


def test_duplicate_event_ids_are_an_error(frames):
    events, users = frames
    copy = events[events["ts"].dt.strftime("%Y-%m") == COMPARE].head(2)
    with pytest.raises(kpitree.DataError, match=r"2 events repeat an event id \(event_id \d+ "
                                                r"appears 2 times\)"):
        _agg(_tree(), pd.concat([events, copy], ignore_index=True), users)


def test_unknown_event_kinds_and_negative_amounts_are_errors(frames):
    events, users = frames
    odd = events.copy()
    odd["kind"] = odd["kind"].astype(str)
    odd.loc[odd.index[-1], "kind"] = "credit"
    with pytest.raises(kpitree.DataError, match=r"events.kind holds 'credit'"):
        _agg(_tree(), odd, users)
    negative = events.copy()
    negative.loc[negative.index[-1], "amount_cents"] = -5
    with pytest.raises(kpitree.DataError, match=r"1 events have a negative amount_cents"):
        _agg(_tree(), negative, users)


def test_missing_data_section_and_bad_period_label(gen):
    tree = kpitree.load_tree(ROOT / "trees" / "saas_arpu.yaml")
    with pytest.raises(kpitree.TreeError, match="has no 'data:' section"):
        aggregate(tree, connect(gen.folder))
    with pytest.raises(kpitree.DataError, match=r"'2026-13' is not a month label"):
        aggregate(_tree(), connect(gen.folder), periods=["2026-13", COMPARE])


@pytest.mark.parametrize(("data", "message"), [
    ("  period: fortnight", "data.period must be month, quarter, year or a trailing window"),
    ("  period: {trailing: 12w}", "trailing window like"),
    ("  revenue: {types: [subscription], refund: net}", "unknown key 'refund'.*'refunds'"),
    ("  revenue: {basis: invoiced}", "basis must be collected or billed"),
    ("  paying: revenue >", "expected a number"),
    ("  paying: tier in ('pro'", "missing '\\)'"),
    ("  timezone: Mars/Olympus", "not a known time zone"),
    ("  per_30_days: sometimes", "per_30_days must be true or false"),
    ("  users: {tabel: u}", "unknown key 'tabel'.*'table'"),
    ("  events: {amount_unit: dollars}", "amount_unit must be 'cents'"),
    ("  colour: blue", "data: unknown key 'colour'"),
])
def test_data_section_errors_name_the_file_and_the_key(data, message):
    with pytest.raises(kpitree.TreeError, match=message) as info:
        _tree(data)
    assert "t.yaml" in str(info.value)


def test_conditions_money_literals_and_types(frames):
    events, users = frames
    paying = _agg(_tree("  paying: revenue >= 20.5 and tier not in ('free', 'starter')",
                        nodes="  payers: {column: paying_users}"), events, users)
    assert (paying.cents.loc[paying.cents["tier"].isin(["free", "starter"]), "paying_users"]
            == 0).all()
    with pytest.raises(kpitree.TreeError, match=r"'tier' is string; compare it with 'text'"):
        _agg(_tree("  paying: tier > 3", nodes="  payers: {column: paying_users}"), events,
             users)
    with pytest.raises(kpitree.TreeError, match="more than two decimals"):
        _agg(_tree("  paying: revenue > 0.001", nodes="  payers: {column: paying_users}"),
             events, users)


def test_cli_explains_raw_folder_with_definitions_stated(gen):
    command = ["explain", BLENDED, gen.folder, "--base", BASE, "--compare", COMPARE]
    done = run_cli(*command)
    assert done.returncode == 0, done.stderr
    assert "Data: revenue = subscription + addon + usage + one_time, net of refunds" in done.stdout
    as_json = run_cli(*command, "--format", "json")
    payload = json.loads(as_json.stdout)
    assert payload["data"]["currency"] == "USD" and payload["data"]["engine"] == "duckdb"
    files = run_cli("explain", BLENDED, "--events", gen.folder / "events" / "*.parquet",
                    "--users", gen.folder / "users", "--base", BASE, "--compare", COMPARE,
                    "--format", "json")
    assert json.loads(files.stdout)["delta"] == payload["delta"]


def test_cli_raw_errors_exit_2_with_one_line(gen):
    """In a real process: nothing the engines print may add to the one stderr line."""
    done = subprocess.run([sys.executable, "-m", "kpitree", "explain", str(BLENDED),
                           str(gen.folder / "nothing"), "--base", BASE, "--compare", COMPARE],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.startswith("kpitree: error: ") and done.stderr.count("\n") == 1
    assert "not found" in done.stderr


def _parquet_folder(folder, events, users):
    for table, frame in (("events", events), ("users", users)):
        (folder / table).mkdir(parents=True)
        frame.to_parquet(folder / table / f"{table}.parquet", index=False)
    return folder


def _checked_ids(monkeypatch):
    """Record which way the duplicate-id check went: by bitmap, by sorting, by grouping."""
    from kpitree.io.events import ids

    seen: list[str] = []
    for name, way in (("_bitmap_extra", "bitmap"), ("_sorted_extra", "sorted"),
                      ("repeats", "grouped")):
        original = getattr(ids, name)

        def spy(*args, _original=original, _way=way, **kwargs):
            seen.append(_way)
            return _original(*args, **kwargs)

        monkeypatch.setattr(ids, name, spy)
    return seen


def test_event_ids_in_parquet_are_checked_by_one_bitmap_pass(frames, tmp_path, monkeypatch):
    events, users = frames
    source = connect(_parquet_folder(tmp_path / "clean", events, users))
    seen = _checked_ids(monkeypatch)
    reference = _agg(_tree(), events, users)
    seen.clear()
    agg = aggregate(_tree(), source, periods=[BASE, COMPARE])
    pd.testing.assert_frame_equal(agg.cents, reference.cents, check_exact=True)
    assert seen == ["bitmap"]  # no sort and no grouping when every id is once


@pytest.mark.parametrize("case", ["same row", "charge and refund", "two without id"])
def test_repeated_event_ids_in_parquet_are_found_exactly(frames, tmp_path, monkeypatch, case):
    events, users = frames
    events = events.astype({"event_id": "Int64"})
    month = events[events["ts"].dt.strftime("%Y-%m") == COMPARE]
    if case == "same row":
        bad = pd.concat([events, month.head(1)], ignore_index=True)
        shown = rf"event_id {month['event_id'].iloc[0]} appears 2 times"
    elif case == "charge and refund":  # the same id on two different kinds of event
        other = month.tail(1).assign(event_id=month["event_id"].iloc[0], kind="refund")
        bad = pd.concat([events, other], ignore_index=True)
        shown = rf"event_id {month['event_id'].iloc[0]} appears 2 times"
    else:
        bad = events.copy()
        bad.loc[month.index[:2], "event_id"] = pd.NA
        shown = r"2 events have no event_id \(NULL\)"
    source = connect(_parquet_folder(tmp_path / "bad", bad, users))
    seen = _checked_ids(monkeypatch)
    with pytest.raises(kpitree.DataError, match=rf"1 events repeat an event id \(({shown})"):
        aggregate(_tree(), source, periods=[BASE, COMPARE])
    assert seen[0] == "bitmap" and "grouped" in seen
    one_missing = events.copy()
    one_missing.loc[month.index[:1], "event_id"] = pd.NA  # one event without an id repeats none
    source = connect(_parquet_folder(tmp_path / "one", one_missing, users))
    aggregate(_tree(), source, periods=[BASE, COMPARE])


def test_sparse_event_ids_fall_back_to_sorting_and_stay_exact(frames, tmp_path, monkeypatch):
    events, users = frames
    sparse = events.assign(event_id=events["event_id"] * 1_000_003)  # too wide for a bitmap
    month = sparse[sparse["ts"].dt.strftime("%Y-%m") == COMPARE]
    source = connect(_parquet_folder(tmp_path / "sparse", sparse, users))
    seen = _checked_ids(monkeypatch)
    aggregate(_tree(), source, periods=[BASE, COMPARE])
    assert seen == ["bitmap", "sorted"]
    copied = pd.concat([sparse, month.head(1)], ignore_index=True)
    source = connect(_parquet_folder(tmp_path / "copied", copied, users))
    with pytest.raises(kpitree.DataError, match=r"1 events repeat an event id"):
        aggregate(_tree(), source, periods=[BASE, COMPARE])


def test_a_user_twice_in_a_month_in_parquet_is_found_by_bitmap(frames, tmp_path, monkeypatch):
    from kpitree.io.events import checks

    events, users = frames
    grouped: list[object] = []
    original = checks.repeats
    monkeypatch.setattr(checks, "repeats",
                        lambda *a, **k: grouped.append(a) or original(*a, **k))
    aggregate(_tree(), connect(_parquet_folder(tmp_path / "clean", events, users)),
              periods=[BASE, COMPARE])
    assert grouped == []  # the bitmaps saw every user once a month: no grouping
    row = users[users["month"] == users["month"].max()].head(1)
    twice = pd.concat([users, row.assign(tier="business")], ignore_index=True)
    source = connect(_parquet_folder(tmp_path / "twice", events, twice))
    with pytest.raises(kpitree.DataError, match=rf"1 users have more than one row for the same "
                       rf"month — e.g. user_id {row['user_id'].iloc[0]} in {COMPARE} "
                       rf"\(tier business, {row['tier'].iloc[0]}\)"):
        aggregate(_tree(), source, periods=[BASE, COMPARE])
    assert len(grouped) == 1


def test_null_event_times_in_a_dataframe_are_counted_in_the_profiling_pass(frames):
    events, users = frames
    timeless = events.copy()
    far = timeless.index[timeless["ts"] < timeless["ts"].min() + pd.Timedelta(days=1)][:2]
    timeless.loc[far, "ts"] = pd.NaT  # outside the periods: still in no period, still an error
    stages: list[str] = []
    with pytest.raises(kpitree.DataError, match=r"2 events have no ts \(NULL\)"):
        aggregate(_tree(), connect(events=timeless, users=users), periods=[BASE, COMPARE],
                  progress=lambda stage, done: stages.append(stage) if done == 0.0 else None)
    assert stages == ["profiling events"]  # no separate scan for the NULL times
