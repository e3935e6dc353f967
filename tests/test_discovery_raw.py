"""``kpitree drivers`` on raw events: the pushed-down cells give the in-memory result, to the cent.

The raw path aggregates period × candidate dimensions where the data lives (DuckDB here, on a
Parquet folder and on a DuckDB file); the in-memory path brings one row per user into pandas
and runs the same search. Both must name the same units with the same contributions.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

import kpitree
from kpitree.analysis.drivers import drivers
from kpitree.io.events import aggregate
from kpitree.io.generate import generate
from kpitree.io.sources import connect
from tests.conftest import ROOT, run_cli

TREE = ROOT / "trees" / "arpu_blended.yaml"
BASE, COMPARE = "2026-09", "2026-10"
DIMS = ["tier", "region", "channel"]


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("gen"), events=20_000, seed=3)


@pytest.fixture(scope="module")
def per_user(gen):
    """One row per user × period in pandas (the user id kept as a column)."""
    tree = kpitree.load_tree(TREE)
    frame = aggregate(tree, connect(gen.folder), periods=[BASE, COMPARE],
                      by=[*DIMS, "user_id"]).frame
    assert frame.groupby("period").size().min() > 100  # really one row per user
    return frame


@pytest.fixture(scope="module")
def in_memory(per_user):
    """The search in memory on the per-user rows."""
    return drivers(kpitree.load_tree(TREE), per_user, base=BASE, compare=COMPARE, dims=DIMS)


def _units(payload) -> dict[str, tuple[str, float]]:
    return {s["segment"]: (s["kind"], s["contribution"])
            for s in payload["drivers"]["segments"]}


def _same_to_the_cent(raw: dict, memory: kpitree.Explanation) -> None:
    expected = _units(json.loads(memory.to_json()))
    got = _units(raw)
    assert list(got) == list(expected)
    for segment, (kind, value) in expected.items():
        assert got[segment][0] == kind
        assert abs(got[segment][1] - value) < 1e-9, segment
        assert round(got[segment][1], 2) == round(value, 2)
    assert abs(raw["delta"] - memory.delta) < 1e-9


def test_raw_folder_equals_in_memory_to_the_cent(gen, in_memory):
    done = run_cli("drivers", TREE, gen.folder, "--base", BASE, "--compare", COMPARE,
                   "--dims", *DIMS, "--bootstrap", "0", "--format", "json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["data"]["engine"] == "duckdb"
    _same_to_the_cent(payload, in_memory)
    kinds = [s["kind"] for s in payload["drivers"]["segments"]]
    assert kinds[0] == "launch" and kinds[-1] == "rest"  # the business tier launches


def test_raw_duckdb_file_equals_in_memory_to_the_cent(gen, in_memory, tmp_path):
    path = tmp_path / "log.duckdb"
    with duckdb.connect(str(path)) as con:
        for table in ("events", "users"):
            con.execute(f"create table {table} as select * from "
                        f"read_parquet('{gen.folder / table}/*.parquet')")
    done = run_cli("drivers", TREE, path, "--base", BASE, "--compare", COMPARE,
                   "--dims", *DIMS, "--bootstrap", "0", "--format", "json")
    assert done.returncode == 0, done.stderr
    _same_to_the_cent(json.loads(done.stdout), in_memory)


def test_raw_intervals_pushed_down_equal_in_memory_to_the_cent(gen, per_user):
    """--bootstrap on a raw source: replicate sums made in the engine under hashed per-user
    counts give the in-memory intervals (same hashed counts, from the user id) to the cent."""
    done = run_cli("drivers", TREE, gen.folder, "--base", BASE, "--compare", COMPARE,
                   "--dims", *DIMS, "--bootstrap", "30", "--seed", "4", "--format", "json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    memory = drivers(kpitree.load_tree(TREE), per_user, base=BASE, compare=COMPARE, dims=DIMS,
                     replicates=30, seed=4, user_id="user_id")
    expected = json.loads(memory.to_json())
    _same_to_the_cent(payload, memory)
    got = {s["segment"]: s["interval"] for s in payload["drivers"]["segments"]}
    want = {s["segment"]: s["interval"] for s in expected["drivers"]["segments"]}
    assert got.keys() == want.keys()
    for segment, (low, high) in want.items():
        assert abs(got[segment][0] - low) < 1e-9 and abs(got[segment][1] - high) < 1e-9
        assert low < high  # a real spread, not a degenerate replicate
    assert payload["intervals"] == expected["intervals"] or all(
        abs(a - b) < 1e-9 for k in ("mix", "rate", "delta")
        for a, b in zip(payload["intervals"]["totals"][k],
                        expected["intervals"]["totals"][k], strict=True))
    # a different seed gives other counts, hence other intervals
    other = drivers(kpitree.load_tree(TREE), per_user, base=BASE, compare=COMPARE, dims=DIMS,
                    replicates=30, seed=5, user_id="user_id")
    moved = {s["segment"]: s["interval"]
             for s in json.loads(other.to_json())["drivers"]["segments"]}
    assert moved != want


def test_user_level_file_with_user_id_gives_the_raw_intervals(gen, per_user, tmp_path):
    """``drivers FILE --user-id COL`` on user-level rows: the hashed per-user counts, so the
    intervals are the raw source's to the cent; without it, each row draws its own counts."""
    path = tmp_path / "users.csv"
    per_user.to_csv(path, index=False)
    args = ["--base", BASE, "--compare", COMPARE, "--dims", *DIMS, "--bootstrap", "30",
            "--seed", "4", "--format", "json"]
    raw = json.loads(run_cli("drivers", TREE, gen.folder, *args).stdout)
    done = run_cli("drivers", TREE, path, *args, "--user-id", "user_id")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    got = {s["segment"]: s["interval"] for s in rows["drivers"]["segments"]}
    want = {s["segment"]: s["interval"] for s in raw["drivers"]["segments"]}
    assert got.keys() == want.keys()
    for segment, (low, high) in want.items():
        assert abs(got[segment][0] - low) < 1e-9 and abs(got[segment][1] - high) < 1e-9
    plain = json.loads(run_cli("drivers", TREE, path, *args).stdout)
    assert {s["segment"]: s["interval"] for s in plain["drivers"]["segments"]} != want
    refused = run_cli("drivers", TREE, gen.folder, *args, "--user-id", "user_id")
    assert refused.returncode == 2 and "--user-id" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_raw_bootstrap_refuses_too_many_replicate_cells(gen, monkeypatch, capsys):
    """Replicates × cells come back from the engine: bounded, refused in one line."""
    from kpitree.cli import commands
    from kpitree.cli.main import main

    monkeypatch.setattr(commands, "MAX_REPLICATE_CELLS", 1_000)
    code = main(["drivers", str(TREE), str(gen.folder), "--base", BASE, "--compare", COMPARE,
                 "--dims", *DIMS, "--bootstrap", "50", "--format", "json"])
    line = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in line and "--bootstrap 50" in line and "--dims" in line, line


def test_raw_intervals_with_buckets_equal_in_memory_to_the_cent(gen):
    """--buckets with --bootstrap on a raw source: the engine's replicate sums per seat count
    are summed into the point estimate's buckets, giving the in-memory intervals to the cent."""
    tree = kpitree.load_tree(TREE)
    rows = aggregate(tree, connect(gen.folder), periods=[BASE, COMPARE],
                     by=["seats", "user_id"]).frame
    args = ["--base", BASE, "--compare", COMPARE, "--dims", "seats", "--buckets", "seats=2,6",
            "--min-effect", "0", "--bootstrap", "30", "--seed", "4", "--format", "json"]
    done = run_cli("drivers", TREE, gen.folder, *args)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    memory = drivers(tree, rows, base=BASE, compare=COMPARE, dims=["seats"], min_effect=0.0,
                     buckets={"seats": [2, 6]}, replicates=30, seed=4, user_id="user_id")
    _same_to_the_cent(payload, memory)
    expected = json.loads(memory.to_json())
    got = {s["segment"]: s["interval"] for s in payload["drivers"]["segments"]}
    want = {s["segment"]: s["interval"] for s in expected["drivers"]["segments"]}
    assert got.keys() == want.keys() and any("[2, 6)" in s for s in got)  # a bucket named
    for segment, (low, high) in want.items():
        assert abs(got[segment][0] - low) < 1e-9 and abs(got[segment][1] - high) < 1e-9
    assert any(low < high for low, high in want.values())


def test_raw_quantile_buckets_are_the_users_quantiles(gen):
    """--buckets seats=3 on a raw source: the quantiles are over users (each cell weighs its
    active users), so the buckets — and the whole search — equal those of the same data as
    one row per user."""
    tree = kpitree.load_tree(TREE)
    rows = aggregate(tree, connect(gen.folder), periods=[BASE, COMPARE],
                     by=["seats", "user_id"]).frame
    done = run_cli("drivers", TREE, gen.folder, "--base", BASE, "--compare", COMPARE,
                   "--dims", "seats", "--buckets", "seats=3", "--min-effect", "0",
                   "--bootstrap", "0", "--format", "json")
    assert done.returncode == 0, done.stderr
    memory = drivers(tree, rows, base=BASE, compare=COMPARE, dims=["seats"], min_effect=0.0,
                     buckets={"seats": 3})
    payload = json.loads(done.stdout)
    _same_to_the_cent(payload, memory)
    assert memory.buckets and memory.buckets["seats"]  # quantile edges were found
    assert any("seats" in s["segment"] for s in payload["drivers"]["segments"])


def test_account_trees_resample_accounts_and_count_each_once(gen):
    """A tree that counts accounts: the engine's replicates resample accounts (an account's
    users share its hashed count) and count each account once per cell — the replicate sums
    equal numpy's from the per-user rows, to the cent."""
    from kpitree.core.resample import hashed_counts, user_keys
    from kpitree.io.events.cells import replicate_cells

    tree = kpitree.load_tree(ROOT / "trees" / "arpu_account.yaml")
    replicates, seed = 12, 3
    with connect(gen.folder) as source:
        cells = replicate_cells(tree, source, periods=[BASE, COMPARE], dims=["region"],
                                replicates=replicates, seed=seed)
        rows = aggregate(tree, source, periods=[BASE, COMPARE],
                         by=["region", "user_id", "account_id"]).cents
    assert rows.groupby(["period", "region"])["account_id"].nunique().lt(
        rows.groupby(["period", "region"]).size()).any()  # accounts with several users
    counts = hashed_counts(user_keys(("a:" + rows["account_id"]).tolist(), seed=seed),
                           replicates).astype(np.int64)
    expected = {}
    for (period, region), group in rows.groupby(["period", "region"]):
        index = group.index.to_numpy()
        position = rows.index.get_indexer(index)
        first = ~group.duplicated("account_id").to_numpy()
        for r in range(replicates):
            c = counts[position, r]
            expected[(period, region, r)] = (int((c * first).sum()),
                                             int((c * group["revenue"].to_numpy()).sum()),
                                             int((c * group["seats"].to_numpy()).sum()))
    got = {(p, g, int(r)): (int(a), round(v * 100), int(s)) for p, g, r, a, v, s in
           cells[["period", "region", "replicate", "accounts", "revenue", "seats"]]
           .itertuples(index=False)}
    assert {k: v for k, v in expected.items() if any(v)} == got
