"""The examples in kpitree's docstrings run, so a broken example fails the suite.

Every module of the package (found by walking ``kpitree``, so a module that moves is still
found) has its doctests run with :mod:`doctest` and the ``ELLIPSIS`` flag, in a scratch folder
where ``trees/`` and ``data/`` point at the repository's bundled files: an example reads
``"trees/saas_arpu.yaml"`` and ``"data/saas_monthly.csv"`` as written, and whatever it writes
(``"out/2026-10"``) lands in the scratch folder. ``kpitree.__main__`` is not imported: importing
it runs the command line (``pytest --doctest-modules`` skips ``__main__.py`` too).

Besides the module's own names, every example can use those of the package docstring's example
(the ``example_names`` fixture): ``kpitree``, ``tree`` (``trees/saas_arpu.yaml``) and ``result``
(its explanation from 2026-09 to 2026-10 by tier), so that ``narrate(result)`` runs as written.

Also here: importing any module, which doctest collection does, needs none of the optional
extras (:data:`kpitree.core.optional.EXTRAS`); they are imported when a function needs them.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import kpitree
from kpitree.core.optional import EXTRAS
from tests.conftest import ROOT, SAAS_DATA, SAAS_TREE

# Importing it runs the CLI (``run()`` at module level).
NOT_IMPORTED = {"kpitree.__main__"}


def _modules() -> list[str]:
    names = {"kpitree"} | {
        info.name for info in pkgutil.walk_packages(kpitree.__path__, prefix="kpitree.")}
    return sorted(names - NOT_IMPORTED)


MODULES = _modules()


@pytest.fixture(scope="module")
def example_names() -> dict[str, object]:
    """``kpitree``, ``tree`` and ``result`` as the package docstring defines them."""
    tree = kpitree.load_tree(SAAS_TREE)
    result = kpitree.explain(tree, SAAS_DATA, base="2026-09", compare="2026-10")
    return {"kpitree": kpitree, "tree": tree, "result": result}


@pytest.fixture
def bundled_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch working directory whose ``trees`` and ``data`` are the repository's."""
    for name in ("trees", "data"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _doctests(module_name: str) -> list[doctest.DocTest]:
    """The module's own docstring examples (the finder skips names it imports)."""
    module = importlib.import_module(module_name)
    return doctest.DocTestFinder(exclude_empty=True).find(module, module_name)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str, bundled_workdir: Path,
                                example_names: dict[str, object]) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    failed = attempted = 0
    for test in _doctests(module_name):
        test.globs.update(example_names)
        outcome = runner.run(test, out=report.write)
        failed, attempted = failed + outcome.failed, attempted + outcome.attempted
    assert failed == 0, f"{failed} of {attempted} examples failed in {module_name}:\n" + (
        report.getvalue())


def test_the_examples_are_found() -> None:
    """The walk finds the package's modules, and examples in the core and the presentation."""
    assert {"kpitree.core.formatting", "kpitree.core.attribution"} <= set(MODULES)
    counted = {name: sum(len(t.examples) for t in _doctests(name)) for name in MODULES}
    assert counted["kpitree.core.formatting"] > 10
    assert counted["kpitree.core.attribution"] > 0


_IMPORT_WITHOUT_EXTRAS = """
import importlib, importlib.abc, sys
blocked = set(sys.argv[1].split(","))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Block())
failed = []
for name in sys.argv[2].split(","):
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed.append(f"{name}: {exc}")
print("\\n".join(failed))
"""


def test_importing_a_module_needs_no_optional_extra() -> None:
    """With every optional library made unimportable, every module still imports."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_WITHOUT_EXTRAS, ",".join(sorted(EXTRAS)),
         ",".join(MODULES)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", "modules that import an optional extra at import time:\n" + (
        done.stdout)
