"""``drivers`` on PostgreSQL and Spark for real: the same units, contributions and intervals as
DuckDB, to the cent.

The engines and the generated log are the session fixtures of ``tests/conftest.py``
(one PostgreSQL server, one local Spark session). Each engine aggregates period × dims for the
search and sums the bootstrap replicates under the hashed per-user counts
(:mod:`kpitree.io.events.cells`); a small bootstrap (20 replicates) keeps Spark short.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import kpitree
from kpitree.analysis.drivers import drivers
from kpitree.core.resample import hashed_counts, user_keys
from kpitree.io.events import aggregate
from kpitree.io.events.cells import hashed_count, replicate_cells, user_key
from tests.conftest import ROOT

TREE = ROOT / "trees" / "arpu_blended.yaml"
DIMS = ["tier", "region", "channel"]
REPLICATES, SEED = 20, 3


def _drivers_on(source, base, compare):
    tree = kpitree.load_tree(TREE)
    point = aggregate(tree, source, periods=[base, compare], by=DIMS)
    result = drivers(tree, point.frame, base=base, compare=compare, dims=DIMS)
    frame = replicate_cells(tree, source, periods=[base, compare], dims=DIMS,
                            replicates=REPLICATES, seed=SEED)
    return json.loads(result.with_replicate_cells(frame, replicates=REPLICATES,
                                                  seed=SEED).to_json())


@pytest.fixture(scope="module")
def documents(sources, generated):
    return {engine: _drivers_on(source, generated.base, generated.compare)
            for engine, source in sources.items()}


@pytest.mark.parametrize("engine", ["postgres", "spark"])
def test_drivers_with_intervals_equal_duckdb_to_the_cent(documents, engine):
    reference, got = documents["duckdb"], documents[engine]
    assert [s["kind"] for s in reference["drivers"]["segments"]][-1] == "rest"
    assert abs(got["delta"] - reference["delta"]) < 1e-9
    want = {s["segment"]: s for s in reference["drivers"]["segments"]}
    have = {s["segment"]: s for s in got["drivers"]["segments"]}
    assert list(have) == list(want)
    for segment, item in want.items():
        assert have[segment]["kind"] == item["kind"]
        assert abs(have[segment]["contribution"] - item["contribution"]) < 1e-9, segment
        for mine, theirs in zip(have[segment]["interval"], item["interval"], strict=True):
            assert abs(mine - theirs) < 1e-9, segment
    assert any(s["interval"][0] < s["interval"][1] for s in want.values())


def test_engine_counts_are_the_in_memory_counts(sources):
    """The one hashed-count recipe (kpitree.core.resample), as the engine's expression and as
    numpy's: the same count for every (user, replicate)."""
    ids = [str(i) for i in range(0, 3000, 7)] + ["u-17", "x", "Ωmega"]
    source = sources["duckdb"]
    ibis = __import__("ibis")
    table = ibis.memtable(pd.DataFrame({"uid": ids}))
    numbers = ibis.memtable(pd.DataFrame({"rep": np.arange(40, dtype="int64")}))
    crossed = table.cross_join(numbers)
    frame = source.backend.execute(crossed.select(
        crossed.uid, crossed.rep,
        k=hashed_count(ibis, user_key(ibis, crossed.uid, SEED), crossed.rep)))
    expected = hashed_counts(user_keys(ids, seed=SEED), 40)
    row = {u: i for i, u in enumerate(ids)}
    got = np.zeros_like(expected)
    got[frame["uid"].map(row).to_numpy(), frame["rep"].to_numpy()] = frame["k"].to_numpy()
    np.testing.assert_array_equal(got, expected)
    assert 0.9 < expected.mean() < 1.1  # Poisson(1): mean one


@pytest.fixture(scope="module")
def account_cells(sources, generated):
    """Replicate sums of the accounts tree (accounts resampled, each counted once per cell)."""
    tree = kpitree.load_tree(ROOT / "trees" / "arpu_account.yaml")
    return {engine: replicate_cells(tree, source, periods=[generated.base, generated.compare],
                                    dims=["region"], replicates=REPLICATES, seed=SEED)
            for engine, source in sources.items()}


@pytest.mark.parametrize("engine", ["postgres", "spark"])
def test_account_replicates_equal_duckdb_to_the_cent(account_cells, engine):
    key = ["period", "region", "replicate"]
    reference = account_cells["duckdb"].sort_values(key).reset_index(drop=True)
    got = account_cells[engine].sort_values(key).reset_index(drop=True)
    assert len(reference) > 0 and (reference["accounts"] > 0).all()
    pd.testing.assert_frame_equal(got[reference.columns], reference, check_exact=False,
                                  rtol=0, atol=1e-9)
