"""``--master spark://…`` for real: a standalone Spark master and worker on loopback.

The command runs in its own process (a subprocess smoke test: an in-process run would reuse the
local session of the other engine tests), its driver talks to the master, the worker's executor
reads the Parquet files and sums them, and only the aggregate comes back. The numbers must be
DuckDB's, to the cent, and the output must say where they came from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from kpitree.io.generate import generate
from tests.conftest import ROOT, run_cli
from tests.engines import spark_standalone

TREE = ROOT / "trees" / "arpu_blended.yaml"
PERIODS = ["--base", "2026-09", "--compare", "2026-10"]


@pytest.fixture(scope="module")
def master() -> Iterator[str]:
    yield from spark_standalone()


def test_explain_on_a_standalone_master_gives_duckdb_s_numbers(master, tmp_path) -> None:
    folder = generate(tmp_path / "log", events=20_000, seed=5).folder
    expected = run_cli("explain", TREE, folder, *PERIODS, "--format", "json")
    assert expected.returncode == 0, expected.stderr
    done = subprocess.run(
        [sys.executable, "-m", "kpitree", "explain", str(TREE), str(folder), *PERIODS,
         "--master", master, "--format", "json", "--no-progress"],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got, want = json.loads(done.stdout), json.loads(expected.stdout)
    assert got["data"]["engine"] == "spark" and want["data"]["engine"] == "duckdb"
    assert got["delta"] == want["delta"]
    assert got["effects"] == want["effects"]
    assert "Traceback" not in done.stderr
