"""Shared test helpers: repository paths, the published examples, printed-precision checks."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT.parent / "shared" / "published"
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
    """Folder of a published worked example; skip the test when ../shared is absent."""
    folder = PUBLISHED / example
    if not folder.is_dir():
        pytest.skip(f"published example {example} not found at {folder} (../shared is absent)")
    return folder


def read_expected(path: Path) -> dict:
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
