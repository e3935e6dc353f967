"""Golden files of the presentations: tree DOT and SVG, the JSON contract, the review pack.

A few fixed explanations of the bundled trees (``CASES``) are rendered and compared byte for
byte with ``tests/golden/<case>/``: the Graphviz DOT text (``tree.dot``), the tree image as SVG
(``tree.svg``), ``result.to_json()`` (``result.json``) and, from ``kpitree.write_report``, the
Markdown report (``report.md``) and the effects table (``effects.csv``). All of them are
deterministic (two runs give the same bytes); the HTML report is not stored, as it embeds PNG
images and repeats the Markdown's text. A mismatch prints a unified diff.

After a deliberate change of output, regenerate the files and review the diff::

    KPITREE_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q -p no:cacheprovider \
        tests/test_golden_views.py

The narrative's own golden files (``tests/golden/narrative/``) belong to test_narrative.py.
Unlike tests/test_golden.py (published numbers, checked at their printed precision), these
files were produced by kpitree itself: they catch drift, not errors.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import kpitree
from kpitree.present.tree_image import tree_dot
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = bool(os.environ.get("KPITREE_UPDATE_GOLDEN"))

# case → (tree, data, by, method); every case explains 2026-09 → 2026-10.
CASES: dict[str, tuple[str, str, list[str], str]] = {
    "saas_tier": ("trees/saas_arpu.yaml", "data/saas_monthly.csv", ["tier"], "shapley"),
    "saas_tier_region": ("trees/saas_arpu.yaml", "data/saas_monthly.csv", ["tier", "region"],
                         "shapley"),
    "saas_tier_sequential": ("trees/saas_arpu.yaml", "data/saas_monthly.csv", ["tier"],
                             "sequential"),
    "saas_tier_lmdi": ("trees/saas_arpu.yaml", "data/saas_monthly.csv", ["tier"], "lmdi"),
    "arpa_seats_tier": ("trees/arpa_seats.yaml", "data/accounts_monthly.csv", ["tier"],
                        "shapley"),
    "arppu_plan": ("trees/arppu.yaml", "data/freemium_monthly.csv", ["plan"], "shapley"),
}
FILES = ["tree.dot", "tree.svg", "result.json", "report.md", "effects.csv"]


def _explain(case: str) -> kpitree.Explanation:
    tree, data, by, method = CASES[case]
    return kpitree.explain(kpitree.load_tree(ROOT / tree), ROOT / data, base="2026-09",
                           compare="2026-10", by=by, method=method)


def _report(result: kpitree.Explanation, tmp_path: Path) -> dict[str, bytes]:
    paths = kpitree.write_report(result, tmp_path / "report")
    return {path.name: path.read_bytes() for path in paths}


def _views(case: str, tmp_path: Path) -> dict[str, bytes]:
    """Every golden file of one case: name → bytes."""
    result = _explain(case)
    report = _report(result, tmp_path)
    return {
        "tree.dot": tree_dot(result).encode("utf-8"),
        "tree.svg": result.render(format="svg"),
        "result.json": result.to_json().encode("utf-8"),
        "report.md": report["report.md"],
        "effects.csv": report["effects.csv"],
    }


def _diff(expected: bytes, actual: bytes, name: str) -> str:
    lines = difflib.unified_diff(
        expected.decode("utf-8", "replace").splitlines(keepends=True),
        actual.decode("utf-8", "replace").splitlines(keepends=True),
        fromfile=f"golden/{name}", tofile=f"now/{name}", n=2)
    text = "".join(lines)
    return text if len(text) <= 8000 else text[:8000] + "\n… (diff cut at 8000 characters)"


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, bytes]]:
    """The rendered views of a case, computed once per case for the whole module."""
    cache: dict[str, dict[str, bytes]] = {}

    def get(case: str) -> dict[str, bytes]:
        if case not in cache:
            cache[case] = _views(case, tmp_path_factory.mktemp(case))
        return cache[case]
    return get


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_view_matches_the_golden_file(case: str, name: str,
                                      views: Callable[[str], dict[str, bytes]]) -> None:
    actual = views(case)[name]
    path = GOLDEN / case / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
    assert path.is_file(), f"{path} is missing: run with KPITREE_UPDATE_GOLDEN=1 to create it"
    expected = path.read_bytes()
    assert actual == expected, (
        f"{case}/{name} differs from {path.relative_to(ROOT)} "
        f"(KPITREE_UPDATE_GOLDEN=1 regenerates it after a deliberate change):\n"
        + _diff(expected, actual, f"{case}/{name}"))


def test_every_golden_folder_is_a_case() -> None:
    """A golden folder left behind by a renamed case would never be compared again."""
    folders = {path.name for path in GOLDEN.iterdir() if path.is_dir()} - {"narrative"}
    assert folders == set(CASES)
    for case in CASES:
        assert sorted(path.name for path in (GOLDEN / case).iterdir()) == sorted(FILES)
