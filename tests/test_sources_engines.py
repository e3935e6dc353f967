"""The same generated events on DuckDB, PostgreSQL and Spark: identical to the cent.

One PostgreSQL server and one local Spark session for the whole test session, small data (the
session fixtures ``generated``, ``postgres_url``, ``spark`` and ``sources`` live in
``tests/conftest.py``, so every engine test shares them).
"""

from __future__ import annotations

import pandas as pd
import pytest

import kpitree
from kpitree.io.events import aggregate
from kpitree.io.sources import connect
from tests.conftest import ROOT

TREES = ["arpu_blended", "arpu_realised", "arpu_cohort_quarter", "arpu_trailing"]
PERIODS = {
    "arpu_cohort_quarter": ("2026-Q2", "2026-Q3"),
    "arpu_trailing": ("2026-09", "2026-10"),
}


def _tree(name):
    path = ROOT / "trees" / f"{name}.yaml"
    if not path.exists():
        path = ROOT / "tests" / "cases" / "raw" / f"{name}.yaml"
    return kpitree.load_tree(path)


@pytest.mark.parametrize("name", TREES)
def test_three_engines_agree_to_the_cent(sources, generated, name):
    tree = _tree(name)
    base, compare = PERIODS.get(name, (generated.base, generated.compare))
    results = {engine: aggregate(tree, source, periods=[base, compare])
               for engine, source in sources.items()}
    reference = results["duckdb"]
    assert len(reference.cents) > 0
    for engine, result in results.items():
        pd.testing.assert_frame_equal(result.cents, reference.cents, check_exact=True,
                                      obj=f"{engine} vs duckdb")
        assert result.notes == reference.notes, engine
        assert result.currency == reference.currency == "USD"
    explained = {engine: kpitree.explain(tree, result.frame, base=base, compare=compare)
                 for engine, result in results.items()}
    expected = explained["duckdb"].to_dict()
    for engine, result in explained.items():
        assert result.to_dict() == expected, engine


def test_postgres_reports_unknown_table(postgres_url, generated):
    tree = _tree("arpu_blended")
    with (connect(postgres_url, events="event_log") as source,
          pytest.raises(kpitree.DataError, match=r"no table 'event_log'.*Did you mean 'events'")):
        aggregate(tree, source, periods=[generated.base, generated.compare])


def test_every_command_runs_on_postgres_and_spark_with_duckdb_s_numbers(sources, postgres_url,
                                                                      generated, tmp_path):
    import json

    from tests.conftest import run_cli

    tree = ROOT / "trees" / "arpu_blended.yaml"
    base, compare = generated.base, generated.compare
    trend = ["trend", tree, "--no-charts", "--from", base, "--to", compare, "--format", "json"]
    documents = {}
    for engine, where in (("duckdb", [generated.folder]), ("postgres", [postgres_url]),
                          ("spark", [generated.folder, "--master", "local[2]"])):
        done = run_cli(trend[0], trend[1], *where, *trend[2:])
        assert done.returncode == 0, (engine, done.stderr)
        documents[engine] = json.loads(done.stdout)
        assert documents[engine].pop("data")["engine"] == engine
        checked = run_cli("validate", tree, *where)
        assert checked.returncode == 0 and f"OK ({engine})" in checked.stdout, checked.stderr
    assert documents["postgres"] == documents["duckdb"] == documents["spark"]
    done = run_cli("aggregate", tree, postgres_url, "--out", tmp_path / "agg.parquet",
                   "--periods", base, compare)
    assert done.returncode == 0, done.stderr
    reference = aggregate(_tree("arpu_blended"), sources["duckdb"], periods=[base, compare])
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "agg.parquet"), reference.frame,
                                  check_exact=True)
