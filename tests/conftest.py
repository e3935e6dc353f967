"""Shared test helpers: repository paths, the published examples, printed-precision checks."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The published worked examples, vendored from ../shared/published (see its README.md).
PUBLISHED = ROOT / "tests" / "published"
SAAS_TREE = ROOT / "trees" / "saas_arpu.yaml"
SAAS_DATA = ROOT / "data" / "saas_monthly.csv"

# The smallest useful tree: ARPU = revenue / users by tier, on columns tier, users, revenue.
SIMPLE_TREE = """
root: arpu
weight: users
segments: [tier]
nodes:
  arpu: {formula: revenue / users}
  revenue: {column: revenue}
  users: {column: users}
"""


def published(example: str) -> Path:
    """Folder of a vendored published worked example, ``tests/published/<example>``.

    The examples are part of the repository, so a missing folder is an error, not a skip.
    """
    folder = PUBLISHED / example
    if not folder.is_dir():
        raise FileNotFoundError(f"published example {example!r} is not vendored at {folder}")
    return folder


def read_expected(path: Path) -> dict:
    """The parsed ``*expected.json`` of a published example."""
    return json.loads(path.read_text(encoding="utf-8"))


def printed_tolerance(printed: float) -> float:
    """Half a unit of the last printed digit (JSON drops trailing zeros: only looser)."""
    exponent = Decimal(repr(float(printed))).normalize().as_tuple().exponent
    return 0.5 * 10.0 ** min(int(exponent), 0) + 1e-12


def assert_printed(actual: float, printed: float, what: str = "") -> None:
    """Assert ``actual`` rounds to ``printed`` at its printed precision."""
    tolerance = printed_tolerance(printed)
    assert abs(actual - printed) <= tolerance, (
        f"{what}: computed {actual!r}, published {printed!r} (±{tolerance:g})"
    )


def run_cli(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run ``kpitree ARGS…`` in this process from ``cwd``; return its exit code, stdout, stderr.

    The in-process twin of ``subprocess.run([sys.executable, "-m", "kpitree", …], cwd=ROOT,
    capture_output=True, text=True)`` (same result type), without a new interpreter per run.
    The working directory is restored afterwards; ``--debug`` lets the exception through.
    """
    from kpitree.cli import main

    argv = [str(arg) for arg in args]
    stdout, stderr = io.StringIO(), io.StringIO()
    before = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(argv)
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(["kpitree", *argv], code, stdout.getvalue(),
                                       stderr.getvalue())


# --- The real engines the raw-source tests share (one of each per test session) ---------------

@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """A small generated event log (40,000 events) the engine tests share."""
    from kpitree.io.generate import generate

    folder = tmp_path_factory.mktemp("gen")
    return generate(folder, events=40_000, seed=11)


@pytest.fixture(scope="session")
def postgres_url():
    """A throw-away PostgreSQL server for the session (tests/engines.py)."""
    from tests.engines import postgres_server

    yield from postgres_server()


@pytest.fixture(scope="session")
def spark():
    """A local Spark session (local[2]) for the session."""
    from tests.engines import skip_engines

    skip_engines()
    from kpitree.io.sources import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sources(generated, postgres_url, spark):
    """The generated log opened on DuckDB, PostgreSQL (copied there) and Spark."""
    from kpitree.io.sources import connect, copy_to_postgres

    copy_to_postgres(generated.folder, postgres_url)
    opened = {
        "duckdb": connect(generated.folder),
        "postgres": connect(postgres_url),
        "spark": connect(generated.folder, spark=spark),
    }
    yield opened
    for source in opened.values():
        source.close()
