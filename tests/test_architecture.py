"""The package's shape as tests: layers, cycles, private names, module size, docstrings, extras.

What belongs here: checks of how ``kpitree/`` is put together (docs/architecture.md) — the layer
contracts (import-linter, configured in ``pyproject.toml``), no import cycles, no use of another
module's ``_private`` names, no module over 500 lines, a docstring at the top of every module,
and the lean core: with the optional libraries blocked, ``import kpitree`` and an explanation
work and every optional feature fails with the one-line install hint. Each home-made checker is
also run on a small package built to break it, so none of them can pass vacuously. What does
not: behaviour (the other test modules).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT, SAAS_DATA, SAAS_TREE

PACKAGE = ROOT / "kpitree"
MAX_LINES = 500
# The optional libraries: each comes with one extra of pyproject.toml (kpitree.core.optional).
OPTIONAL = ("graphviz", "matplotlib", "jinja2", "duckdb", "ibis", "psycopg", "pyspark", "pptx",
            "xlsxwriter", "starlette", "uvicorn")
# What the core may import besides the standard library and itself (kpitree/core/__init__.py).
CORE_THIRD_PARTY = {"numpy", "pandas", "networkx", "yaml"}


# --- Reading a package's modules and imports (shared by the checkers below) -------------------

def modules(package: Path) -> dict[str, Path]:
    """Every module of the package folder ``package``, by dotted name (``pkg.sub.mod``)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _base(name: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` reads from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, node.module] if node.module else package)


def _known(dotted: str, known: dict[str, Path]) -> str | None:
    """The longest prefix of ``dotted`` that is one of the ``known`` modules."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The ``known`` modules that module ``name`` imports anywhere in it.

    Counts every import statement: at the top, inside functions (lazy) and under
    ``if TYPE_CHECKING:``. ``from a import b`` is an import of ``a.b`` when that is a module,
    else of ``a``.
    """
    found: set[str] = set()
    for node in ast.walk(_parse(path)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(name, path, node)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            module = _known(target, known)
            if module is not None and module != name:
                found.add(module)
    return found


def import_cycles(package: Path) -> list[list[str]]:
    """One cycle (a list of modules) for each group of modules that import each other."""
    known = modules(package)
    graph = nx.DiGraph()
    graph.add_nodes_from(known)
    for name, path in known.items():
        graph.add_edges_from((name, target) for target in imports(name, path, known))
    cycles = []
    for group in nx.strongly_connected_components(graph):
        if len(group) > 1:
            cycle = [edge[0] for edge in nx.find_cycle(graph.subgraph(group))]
            start = cycle.index(min(cycle))
            cycles.append(cycle[start:] + cycle[:start])
    return sorted(cycles)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything but names and attributes."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else [*inner, node.attr]
    return None


def private_uses(package: Path) -> list[str]:
    """Each place a module uses another module's ``_private`` name, as ``file:line: what``.

    Catches ``from pkg.mod import _name`` and ``mod._name`` / ``pkg.mod._name`` where ``mod``
    is bound to another module of the package (by ``import`` or ``from … import mod``).
    """
    known = modules(package)
    found = []
    for name, path in known.items():
        tree = _parse(path)
        where = path.relative_to(package.parent)
        bound: dict[str, str] = {}  # local name -> module of the package
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _known(alias.name, known):
                        local = alias.asname or alias.name.split(".")[0]
                        bound[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom):
                base = _base(name, path, node)
                if _known(base, known) is None:
                    continue
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target in known:
                        bound[alias.asname or alias.name] = target
                    if _is_private(alias.name) and _known(target, known) != name:
                        found.append(f"{where}:{node.lineno}: from {base} import {alias.name}")
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
                continue
            chain = _dotted(node.value)
            if chain is None or chain[0] not in bound:
                continue
            owner = ".".join([bound[chain[0]], *chain[1:]])
            if owner in known and owner != name:
                found.append(f"{where}:{node.lineno}: {'.'.join(chain)}.{node.attr}")
    return sorted(found)


def long_modules(package: Path, limit: int = MAX_LINES) -> list[str]:
    """The modules over ``limit`` lines, as ``file: N lines``."""
    counts = {path: len(path.read_text(encoding="utf-8").splitlines())
              for path in package.rglob("*.py")}
    return [f"{path.relative_to(package.parent)}: {count} lines"
            for path, count in sorted(counts.items()) if count > limit]


def undocumented_modules(package: Path) -> list[str]:
    """The modules whose first statement is not a (non-empty) docstring."""
    return [str(path.relative_to(package.parent)) for path in sorted(package.rglob("*.py"))
            if not (ast.get_docstring(_parse(path)) or "").strip()]


def third_party_imports(package: Path, root: str) -> dict[str, set[str]]:
    """Top-level names of non-stdlib, non-``root`` imports, by module of ``package``."""
    found: dict[str, set[str]] = {}
    for name, path in modules(package).items():
        for node in ast.walk(_parse(path)):
            tops: list[str] = []
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                tops = [node.module.split(".")[0]]
            for top in tops:
                if top != root and top not in sys.stdlib_module_names:
                    found.setdefault(name, set()).add(top)
    return found


# --- The rules on kpitree itself ----------------------------------------------------------------

def test_layer_contracts_hold() -> None:
    """core ← analysis, io ← present ← cli, and no optional library in the core (pyproject)."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache", "--config", "pyproject.toml"],
                          capture_output=True, text=True, cwd=ROOT)
    report = done.stdout[done.stdout.find("Contracts"):]
    assert done.returncode == 0, report + done.stderr
    assert " kept, 0 broken" in report, report


def test_no_import_cycles() -> None:
    assert import_cycles(PACKAGE) == []


def test_no_module_uses_another_modules_private_names() -> None:
    assert private_uses(PACKAGE) == []


def test_no_module_is_over_500_lines() -> None:
    assert long_modules(PACKAGE) == []


def test_every_module_opens_with_a_docstring() -> None:
    assert undocumented_modules(PACKAGE) == []


def test_core_imports_only_numpy_pandas_networkx_and_yaml() -> None:
    core = third_party_imports(PACKAGE / "core", "kpitree")
    assert {name: tops - CORE_THIRD_PARTY for name, tops in core.items()
            if tops - CORE_THIRD_PARTY} == {}


# --- Each checker catches what it is for ---------------------------------------------------------

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path / "pkg"


def test_cycle_check_counts_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "__init__.py": '"""Doc."""\n',
        "a.py": '"""Doc."""\n\ndef f():\n    from pkg import b\n',
        "b.py": ('"""Doc."""\nfrom typing import TYPE_CHECKING\n\n'
                 'if TYPE_CHECKING:\n    import pkg.a\n'),
        "c.py": '"""Doc."""\nfrom . import a\nfrom .a import f\n',
    })
    assert import_cycles(package) == [["pkg.a", "pkg.b"]]
    (package / "b.py").write_text('"""Doc."""\n', encoding="utf-8")
    assert import_cycles(package) == []


def test_private_check_catches_imports_and_attributes(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "__init__.py": '"""Doc."""\n',
        "a.py": '"""Doc."""\n_hidden = 1\npublic = 2\nown = _hidden\n__all__ = ["public"]\n',
        "b.py": '"""Doc."""\nfrom pkg.a import _hidden, public\n',
        "c.py": '"""Doc."""\nfrom pkg import a\nx = a._hidden + a.public + len(a.__all__)\n',
        "d.py": ('"""Doc."""\nimport pkg.a\nimport pkg.a as alias\n'
                 'y = pkg.a._hidden + alias._hidden\n'),
        "e.py": '"""Doc."""\nfrom .a import _hidden\nfrom . import a as _a\nz = _a.public\n',
    })
    assert private_uses(package) == [
        "pkg/b.py:2: from pkg.a import _hidden",
        "pkg/c.py:3: a._hidden",
        "pkg/d.py:4: alias._hidden",
        "pkg/d.py:4: pkg.a._hidden",
        "pkg/e.py:2: from pkg.a import _hidden",
    ]


def test_size_and_docstring_checks(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "__init__.py": '"""Doc."""\n',
        "fits.py": '"""Doc."""\n' + "x = 1\n" * (MAX_LINES - 1),
        "long.py": '"""Doc."""\n' + "x = 1\n" * MAX_LINES,
        "bare.py": "# a comment is not a docstring\nx = 1\n",
        "late.py": 'import os\n"""Too late."""\n',
    })
    assert long_modules(package) == [f"pkg/long.py: {MAX_LINES + 1} lines"]
    assert undocumented_modules(package) == ["pkg/bare.py", "pkg/late.py"]


def test_third_party_check_ignores_stdlib_and_the_package(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "__init__.py": '"""Doc."""\nimport os\nfrom pkg import a\nfrom . import a as b\n',
        "a.py": ('"""Doc."""\ndef f():\n    import matplotlib.pyplot\n'
                 '    from yaml import safe_load\n'),
    })
    assert third_party_imports(package, "pkg") == {"pkg.a": {"matplotlib", "yaml"}}


# --- Extras: the core installs and runs without them --------------------------------------------

def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _extra_requirements(extras: dict[str, list[str]], extra: str) -> set[str]:
    """The distributions an extra brings, following ``kpitree[other]`` references."""
    found = set()
    for line in extras[extra]:
        requirement = Requirement(line)
        if requirement.name == "kpitree":
            for inner in requirement.extras:
                found |= _extra_requirements(extras, inner)
        else:
            found.add(requirement.name.lower())
    return found


def test_core_dependencies_are_lean_and_every_optional_module_has_its_extra() -> None:
    from kpitree.core.optional import EXTRAS

    project = _pyproject()["project"]
    core = {Requirement(line).name.lower() for line in project["dependencies"]}
    assert core == {"numpy", "pandas", "pyarrow", "networkx", "pyyaml"}
    extras = project["optional-dependencies"]
    assert set(EXTRAS) == set(OPTIONAL)
    providers = importlib.metadata.packages_distributions()
    for module, extra in EXTRAS.items():
        assert extra in extras, f"kpitree.core.optional names extra {extra!r} for {module}"
        brings = _extra_requirements(extras, extra)
        assert {d.lower() for d in providers.get(module, [module])} & brings, (module, extra)
    assert {"graphviz", "matplotlib", "jinja2", "duckdb", "ibis-framework"} <= (
        _extra_requirements(extras, "all"))


# Run in a fresh interpreter with the optional libraries made unimportable (as if not installed);
# prints what happened to each request as JSON. (That every module imports without them is
# tests/test_doctests.py's test_importing_a_module_needs_no_optional_extra.)
BLOCKED_RUN = """
import contextlib, io, json, sys, traceback
BLOCKED = sys.argv[1].split(",")
out = {"preloaded": sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)}
for name in BLOCKED:
    sys.modules[name] = None  # `import name` (and name.sub) now raises ModuleNotFoundError
import kpitree
from kpitree.core.errors import KpitreeError
def attempt(what, call):
    try:
        call()
        out[what] = {"ok": True}
    except KpitreeError as exc:
        out[what] = {"error": type(exc).__name__, "message": str(exc)}
    except Exception:
        out[what] = {"traceback": traceback.format_exc()}
tree = kpitree.load_tree(sys.argv[2])
result = kpitree.explain(tree, sys.argv[3], base="2026-09", compare="2026-10")
out["json"] = result.to_json()
folder = sys.argv[4]
attempt("image", lambda: result.render(folder + "/tree.png"))
attempt("charts", lambda: result.plot_bridge(folder + "/bridge.png"))
attempt("report", lambda: kpitree.write_report(result, folder + "/pack"))
import pandas as pd
from kpitree.io.sources import connect
attempt("events", lambda: connect(events=pd.DataFrame({"x": [1]}), users=pd.DataFrame({"x": [1]})))
from kpitree.cli.main import main
for name, extra in [("cli", []), ("cli_image", ["--image", folder + "/cli.png"])]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["explain", sys.argv[2], sys.argv[3], "--base", "2026-09",
                     "--compare", "2026-10", *extra])
    out[name] = {"code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def without_extras(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What kpitree does when none of the optional libraries is installed."""
    folder = tmp_path_factory.mktemp("without_extras")
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, ",".join(OPTIONAL), str(SAAS_TREE), str(SAAS_DATA),
         str(folder)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_kpitree_imports_and_explains_without_the_extras(without_extras: dict) -> None:
    assert without_extras["preloaded"] == []
    import kpitree

    result = kpitree.explain(kpitree.load_tree(SAAS_TREE), SAAS_DATA,
                             base="2026-09", compare="2026-10")
    assert without_extras["json"] == result.to_json()
    assert without_extras["cli"]["code"] == 0 and without_extras["cli"]["stderr"] == ""
    assert without_extras["cli"]["stdout"].startswith("ARPU by plan tier")


@pytest.mark.parametrize("request_, extra", [
    ("image", "image"), ("charts", "charts"), ("report", "report"), ("events", "events"),
])
def test_each_optional_feature_names_its_extra(without_extras: dict, request_: str,
                                               extra: str) -> None:
    outcome = without_extras[request_]
    assert "error" in outcome, outcome
    assert "\n" not in outcome["message"]
    assert f"pip install 'kpitree[{extra}]'" in outcome["message"]


def test_cli_image_without_graphviz_is_one_line_and_exit_2(without_extras: dict) -> None:
    outcome = without_extras["cli_image"]
    assert outcome["code"] == 2
    assert outcome["stderr"].startswith("kpitree: error: ")
    assert outcome["stderr"].count("\n") == 1 and "kpitree[image]" in outcome["stderr"]
