"""``kpitree drivers`` on raw events: the pushed-down cells give the in-memory result, to the cent.

The raw path aggregates period × candidate dimensions where the data lives (DuckDB here, on a
Parquet folder and on a DuckDB file); the in-memory path brings one row per user into pandas
and runs the same search. Both must name the same units with the same contributions.
"""

from __future__ import annotations

import json

import duckdb
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
def in_memory(gen):
    """One row per user × period in pandas, then the search in memory."""
    tree = kpitree.load_tree(TREE)
    per_user = aggregate(tree, connect(gen.folder), periods=[BASE, COMPARE],
                         by=[*DIMS, "user_id"]).frame
    assert per_user.groupby("period").size().min() > 100  # really one row per user
    return drivers(tree, per_user, base=BASE, compare=COMPARE, dims=DIMS)


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


def test_raw_source_with_intervals(gen):
    done = run_cli("drivers", TREE, gen.folder, "--base", BASE, "--compare", COMPARE,
                   "--dims", *DIMS, "--bootstrap", "30", "--format", "json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert all("interval" in s for s in payload["drivers"]["segments"])
