"""The same generated events on DuckDB, PostgreSQL and Spark: identical to the cent.

One PostgreSQL server and one local Spark session for the whole test session, small data.
"""

from __future__ import annotations

import pandas as pd
import pytest

import kpitree
from kpitree.io.events import aggregate
from kpitree.io.generate import generate
from kpitree.io.sources import connect, copy_to_postgres
from tests.conftest import ROOT
from tests.engines import postgres_server, skip_engines

TREES = ["arpu_blended", "arpu_realised", "arpu_cohort_quarter", "arpu_trailing"]
PERIODS = {
    "arpu_cohort_quarter": ("2026-Q2", "2026-Q3"),
    "arpu_trailing": ("2026-09", "2026-10"),
}


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen")
    return generate(folder, events=40_000, seed=11)


@pytest.fixture(scope="session")
def postgres_url():
    yield from postgres_server()


@pytest.fixture(scope="session")
def spark():
    skip_engines()
    from kpitree.io.sources import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sources(generated, postgres_url, spark):
    copy_to_postgres(generated.folder, postgres_url)
    opened = {
        "duckdb": connect(generated.folder),
        "postgres": connect(postgres_url),
        "spark": connect(generated.folder, spark=spark),
    }
    yield opened
    for source in opened.values():
        source.close()


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
