"""The ``kpitree`` command end to end (DESIGN.md §5), in this process, plus a few real processes.

Every bad input must exit 2 with exactly one line ``kpitree: error: …`` on stderr that names
what is wrong and where (file, line, node, column, row, period), nothing on stdout, no traceback,
and no image written. Successful runs exit 0 and follow the JSON contract of DESIGN.md §4.

Most cases call ``kpitree.cli.main(argv)`` in this process (:func:`tests.conftest.run_cli`: a new
interpreter per case cost about two seconds each); the section "In a real process" keeps what
only a real process shows: the console script, ``python -m kpitree``, exit codes and stderr of
an interpreter, the ``--debug`` traceback and a reader that stops early.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import kpitree
from kpitree.cli import commands, main
from tests.conftest import ROOT, SAAS_DATA, run_cli

TREE = "trees/saas_arpu.yaml"
DATA = "data/saas_monthly.csv"
PERIODS = ["--base", "2026-09", "--compare", "2026-10"]
HEADER = "name: t\nroot: arpu\nweight: users\nsegments: [tier]\nnodes:\n"  # nodes from line 6


def kpitree_cli(*args: object) -> subprocess.CompletedProcess[str]:
    """``kpitree ARGS…`` in this process, from the repository root."""
    return run_cli(*args)


def kpitree_process(*args: object, program: list[str] | None = None,
                    ) -> subprocess.CompletedProcess[str]:
    """``python -m kpitree ARGS…`` (or ``program ARGS…``) in a new process."""
    return subprocess.run(
        [*(program or [sys.executable, "-m", "kpitree"]), *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )


def explain(tree: object, data: object, *extra: object) -> subprocess.CompletedProcess[str]:
    return kpitree_cli("explain", tree, data, *PERIODS, *extra)


def assert_bad_input(
    result: subprocess.CompletedProcess[str], *needles: str, image: Path | None = None
) -> str:
    """Exit 2, one ``kpitree: error:`` line naming every needle, empty stdout, no image."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{result.stderr}"
    message = lines[0]
    assert message.startswith("kpitree: error: "), message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    if image is not None:
        assert not image.exists(), f"{image} was written despite the error"
    return message


def sample_lines() -> list[str]:
    """The sample CSV, one string per line; index i is file line i + 1."""
    return SAAS_DATA.read_text(encoding="utf-8").splitlines()


def find_line(lines: list[str], prefix: str) -> int:
    """0-based index of the line starting with ``prefix`` (file line = index + 1)."""
    return next(i for i, line in enumerate(lines) if line.startswith(prefix))


def set_field(line: str, column: str, value: str) -> str:
    header = sample_lines()[0].split(",")
    fields = line.split(",")
    fields[header.index(column)] = value
    return ",".join(fields)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_lines(path: Path, lines: list[str]) -> Path:
    return write(path, "\n".join(lines) + "\n")


def write_tree(tmp_path: Path, nodes: str, name: str = "tree.yaml") -> Path:
    body = "".join(f"  {line.strip()}\n" for line in nodes.strip().splitlines())
    return write(tmp_path / name, HEADER + body)


# --- Bad data -------------------------------------------------------------------------------------


def test_misspelt_column_suggests_the_close_name(tmp_path):
    data = write(tmp_path / "typo.csv",
                 SAAS_DATA.read_text(encoding="utf-8").replace("active_users", "activ_users", 1))
    image = tmp_path / "out.png"
    assert_bad_input(
        explain(TREE, data, "--image", image),
        str(data), "'active_users'", "Did you mean 'activ_users'?", "Columns present:",
        "node 'users'", image=image,
    )


def test_missing_column_lists_the_columns_present(tmp_path):
    frame = pd.read_csv(SAAS_DATA, keep_default_na=False).drop(columns="usage_revenue")
    data = tmp_path / "short.csv"
    frame.to_csv(data, index=False)
    image = tmp_path / "out.png"
    assert_bad_input(
        explain(TREE, data, "--image", image),
        str(data), "missing column 'usage_revenue'", "node 'usage'",
        "Columns present: 'period', 'tier', 'region', 'active_users'", image=image,
    )


def assert_unknown_period(run, tmp_path: Path) -> None:
    image = tmp_path / "out.png"
    result = run("explain", TREE, DATA, "--base", "2026-13", "--compare", "2026-10",
                 "--image", image)
    assert_bad_input(result, DATA, "'2026-13'", "Periods present:", "'2025-11'", "'2026-10'",
                     image=image)


def test_period_not_in_the_data_lists_the_periods(tmp_path):
    assert_unknown_period(kpitree_cli, tmp_path)


def test_empty_measure_value_names_column_and_line(tmp_path):
    lines = sample_lines()
    lines[24] = set_field(lines[24], "base_revenue", "")
    data = write_lines(tmp_path / "gap.csv", lines)
    image = tmp_path / "out.png"
    message = assert_bad_input(explain(TREE, data, "--image", image),
                               str(data), "'base_revenue'", "line 25", image=image)
    assert "missing" in message


def test_nan_measure_value_names_column_and_line(tmp_path):
    lines = sample_lines()
    lines[40] = set_field(lines[40], "usage_revenue", "NaN")
    data = write_lines(tmp_path / "nan.csv", lines)
    assert_bad_input(explain(TREE, data), str(data), "'usage_revenue'", "line 41")


def test_non_numeric_value_names_column_value_and_first_bad_line(tmp_path):
    lines = sample_lines()
    lines[30] = set_field(lines[30], "addon_revenue", "1O0.50")  # letter O
    lines[50] = set_field(lines[50], "addon_revenue", "n/a")
    data = write_lines(tmp_path / "typo.csv", lines)
    image = tmp_path / "out.png"
    message = assert_bad_input(explain(TREE, data, "--image", image),
                               str(data), "'addon_revenue'", "line 31", "'1O0.50'", image=image)
    assert "non-numeric" in message
    assert "line 51" not in message


def test_negative_user_count(tmp_path):
    lines = sample_lines()
    lines[29] = set_field(lines[29], "active_users", "-3")
    data = write_lines(tmp_path / "neg.csv", lines)
    image = tmp_path / "out.png"
    message = assert_bad_input(explain(TREE, data, "--image", image),
                               str(data), "'active_users'", "line 30", "-3", image=image)
    assert "negative" in message


def test_nonzero_over_zero_in_a_driver_names_node_segment_and_period(tmp_path):
    lines = sample_lines()
    row = find_line(lines, "2026-10,pro,EU,")
    lines[row] = set_field(lines[row], "addon_users", "0")  # add-on revenue stays > 0
    data = write_lines(tmp_path / "adopters.csv", lines)
    image = tmp_path / "out.png"
    assert_bad_input(
        explain(TREE, data, "--by", "tier", "region", "--image", image),
        "node 'addon_per_adopter'", "tier=pro", "region=EU", "2026-10", "saas_arpu.yaml:",
        image=image,
    )


def test_segment_with_revenue_but_zero_users(tmp_path):
    lines = sample_lines()
    row = find_line(lines, "2026-10,team,APAC,")
    for column in ("active_users", "addon_users", "addon_revenue"):
        lines[row] = set_field(lines[row], column, "0")  # base revenue stays > 0
    data = write_lines(tmp_path / "nousers.csv", lines)
    image = tmp_path / "out.png"
    assert_bad_input(
        explain(TREE, data, "--by", "tier", "region", "--image", image),
        "node 'base_pu'", "tier=team", "region=APAC", "2026-10", image=image,
    )


ZERO_WEIGHT = (
    "period,tier,active_users,addon_users,base_revenue,addon_revenue,usage_revenue\n"
    "2026-09,pro,10,2,100,20,5\n"
    "2026-09,team,5,0,40,0,1\n"
    "2026-10,pro,0,0,0,0,0\n"
    "2026-10,team,0,0,0,0,0\n"
)


def test_zero_total_weight_in_a_period(tmp_path):
    data = write(tmp_path / "zero.csv", ZERO_WEIGHT)
    image = tmp_path / "out.png"
    message = assert_bad_input(explain(TREE, data, "--image", image),
                               "'users'", "'active_users'", "2026-10", image=image)
    assert "zero" in message


def test_zero_total_weight_names_the_data_file(tmp_path):
    data = write(tmp_path / "zero.csv", ZERO_WEIGHT)
    assert_bad_input(explain(TREE, data), str(data), "2026-10")


def test_empty_data_file(tmp_path):
    data = write(tmp_path / "empty.csv", "")
    image = tmp_path / "out.png"
    assert_bad_input(explain(TREE, data, "--image", image), str(data), "empty", image=image)


def test_unknown_data_file_path(tmp_path):
    data = tmp_path / "nope.csv"
    image = tmp_path / "out.png"
    assert_bad_input(explain(TREE, data, "--image", image), str(data), "not found", image=image)


def test_csv_with_trailing_commas_is_bad_input(tmp_path):
    lines = sample_lines()
    data = write_lines(tmp_path / "trailing.csv", [lines[0], *(f"{ln}," for ln in lines[1:])])
    assert_bad_input(explain(TREE, data), str(data), "line 2")


# --- Bad trees ------------------------------------------------------------------------------------


def test_empty_tree_file(tmp_path):
    tree = write(tmp_path / "empty.yaml", "")
    image = tmp_path / "out.png"
    assert_bad_input(explain(tree, DATA, "--image", image), str(tree), "empty", image=image)


def test_unknown_tree_file_path(tmp_path):
    tree = tmp_path / "nope.yaml"
    image = tmp_path / "out.png"
    assert_bad_input(explain(tree, DATA, "--image", image), str(tree), "not found", image=image)


def test_unknown_node_in_formula(tmp_path):
    tree = write_tree(tmp_path, """
        arpu: {formula: base / usres}
        users: {column: active_users}
        base: {column: base_revenue}
    """)
    image = tmp_path / "out.png"
    assert_bad_input(explain(tree, DATA, "--image", image),
                     f"{tree}:6:", "node 'arpu'", "'usres'", "Did you mean 'users'?", image=image)


def test_cyclic_formulas(tmp_path):
    tree = write_tree(tmp_path, """
        arpu: {formula: a / users}
        a: {formula: b + base}
        b: {formula: a * 2}
        users: {column: active_users}
        base: {column: base_revenue}
    """)
    image = tmp_path / "out.png"
    message = assert_bad_input(explain(tree, DATA, "--image", image), str(tree), "cycle",
                               image=image)
    assert "a → b → a" in message or "b → a → b" in message


def test_ill_formed_formula_with_position(tmp_path):
    tree = write_tree(tmp_path, """
        arpu: {formula: base_pu + * addon}
        base_pu: {formula: base / users}
        addon: {formula: base / users}
        users: {column: active_users}
        base: {column: base_revenue}
    """)
    image = tmp_path / "out.png"
    assert_bad_input(explain(tree, DATA, "--image", image),
                     f"{tree}:6:", "node 'arpu'", "'base_pu + * addon'", "column 11",
                     image=image)


@pytest.mark.parametrize(
    ("formula", "needles"),
    [
        ("\"__import__('os')\"", ("function calls are not allowed", "column 1")),
        ("users.__class__", ("attribute access is not allowed", "column 6")),
        ("'base[0] / users'", ("indexing is not allowed", "column 5")),
    ],
    ids=["call", "attribute", "index"],
)
def test_unsafe_formula_is_refused(tmp_path, formula, needles):
    tree = write_tree(tmp_path, f"""
        arpu: {{formula: {formula}}}
        users: {{column: active_users}}
        base: {{column: base_revenue}}
    """)
    image = tmp_path / "out.png"
    assert_bad_input(explain(tree, DATA, "--image", image), f"{tree}:6:", "node 'arpu'",
                     *needles, image=image)


def test_yaml_python_tag_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    tree = write_tree(tmp_path, f"""
        arpu: !!python/object/apply:os.system ['touch {marker}']
        users: {{column: active_users}}
    """)
    image = tmp_path / "out.png"
    assert_bad_input(explain(tree, DATA, "--image", image),
                     f"{tree}:6:", "tags", "python/object/apply:os.system", image=image)
    assert not marker.exists()


def test_yaml_anchors_and_aliases_are_refused(tmp_path):
    laughs = ('lol1: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
              "lol2: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
              "lol3: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n")
    tree = write(tmp_path / "laughs.yaml", laughs + HEADER +
                 "  arpu: {formula: base / users}\n  users: {column: active_users}\n")
    image = tmp_path / "out.png"
    assert_bad_input(explain(tree, DATA, "--image", image), f"{tree}:1:", "anchors",
                     image=image)


def test_yaml_duplicate_keys_are_refused(tmp_path):
    tree = write_tree(tmp_path, """
        arpu: {formula: base / users}
        users: {column: active_users}
        base: {column: base_revenue}
        base: {column: addon_revenue}
    """)
    image = tmp_path / "out.png"
    assert_bad_input(explain(tree, DATA, "--image", image), f"{tree}:9:", "duplicate key 'base'",
                     image=image)


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    tree = write_tree(tmp_path, """
        arpu: {formula: base / users
        users: {column: active_users}
    """)
    image = tmp_path / "out.png"
    message = assert_bad_input(explain(tree, DATA, "--image", image), "YAML syntax error",
                               image=image)
    assert re.search(rf"{re.escape(str(tree))}:7:\d+: ", message), message


def test_node_without_column_or_formula(tmp_path):
    tree = write_tree(tmp_path, """
        arpu: {formula: base / users}
        users: {label: Active users}
        base: {column: base_revenue}
    """)
    image = tmp_path / "out.png"
    assert_bad_input(explain(tree, DATA, "--image", image), f"{tree}:7:", "node 'users'",
                     "'column'", "'formula'", image=image)


def test_root_not_a_weighted_average(tmp_path):
    tree = write_tree(tmp_path, """
        arpu: {formula: revenue * users}
        users: {column: active_users}
        revenue: {column: base_revenue}
    """)
    image = tmp_path / "out.png"
    assert_bad_input(explain(tree, DATA, "--image", image), f"{tree}:6:", "root 'arpu'",
                     "not a weighted average", "'users'", image=image)


def test_overflowing_constant_is_bad_input(tmp_path):
    tree = write_tree(tmp_path, """
        arpu: {formula: 1e999 * base / users}
        users: {column: active_users}
        base: {column: base_revenue}
    """)
    assert_bad_input(explain(tree, DATA), f"{tree}:6:", "node 'arpu'")


# --- Bad options ----------------------------------------------------------------------------------


def test_unknown_method(tmp_path):
    image = tmp_path / "out.png"
    assert_bad_input(explain(TREE, DATA, "--method", "shapely", "--image", image),
                     "'shapely'", "shapley", "sequential", "lmdi", image=image)


def test_bad_image_suffix(tmp_path):
    image = tmp_path / "out.gif"
    assert_bad_input(explain(TREE, DATA, "--image", image), str(image), ".png", ".svg", ".pdf",
                     image=image)


def test_unknown_by_dimension(tmp_path):
    image = tmp_path / "out.png"
    assert_bad_input(explain(TREE, DATA, "--by", "tierr", "--image", image),
                     "'tierr'", "Did you mean 'tier'?", image=image)


# --- Success --------------------------------------------------------------------------------------


def expected_arpu(period: str) -> float:
    raw = pd.read_csv(SAAS_DATA, dtype={"period": str}, keep_default_na=False)
    rows = raw[raw["period"] == period]
    revenue = rows[["base_revenue", "addon_revenue", "usage_revenue"]].to_numpy().sum()
    return revenue / rows["active_users"].sum()


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    """Exit 0 with no traceback and no error on stderr."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "error" not in result.stderr.lower()


def check_contract(doc: dict, *, tree: str, metric: str, method: str, dims: list[str]) -> None:
    """The fixed keys of DESIGN.md §4 and exactness."""
    assert doc["tree"] == tree
    assert doc["metric"] == metric
    assert doc["method"] == method
    for side in ("base", "compare"):
        assert set(doc[side]) >= {"period", "value"}
    assert doc["delta"] == pytest.approx(doc["compare"]["value"] - doc["base"]["value"],
                                         abs=1e-12)
    total = sum(effect["value"] for effect in doc["effects"])
    assert abs(total - doc["delta"]) <= 1e-9, (total, doc["delta"])
    kinds = {"mix", "rate"} | ({"interaction"} if method == "sequential" else set())
    assert doc["segments"], "no segments"
    for segment in doc["segments"]:
        assert set(segment) >= {"segment", "status", "base", "compare"}
        assert segment["status"] in {"both", "entered", "exited", "empty"}
        assert set(segment["segment"]) <= set(dims) and segment["segment"]
        for side in ("base", "compare"):
            assert set(segment[side]) >= {"share", "value"}
    for effect in doc["effects"]:
        assert set(effect) >= {"kind", "segment", "path", "value"}
        assert effect["kind"] in kinds
        assert effect["path"][0] == metric
        assert set(effect["segment"]) <= set(dims)
        if effect["kind"] != "rate":
            assert effect["level"] in dims
    assert {e["kind"] for e in doc["effects"]} >= {"mix", "rate"}


def test_explain_json_follows_the_contract():
    result = explain(TREE, DATA, "--format", "json")
    assert_ok(result)
    doc = json.loads(result.stdout)
    check_contract(doc, tree="saas_arpu", metric="arpu", method="shapley", dims=["tier"])
    assert doc["base"]["period"] == "2026-09"
    assert doc["compare"]["period"] == "2026-10"
    assert doc["base"]["value"] == pytest.approx(expected_arpu("2026-09"), rel=1e-12)
    assert doc["compare"]["value"] == pytest.approx(expected_arpu("2026-10"), rel=1e-12)
    drivers = {tuple(e["path"]) for e in doc["effects"] if e["kind"] == "rate"}
    assert drivers <= {("arpu", "base_pu"), ("arpu", "addon_pu", "attach"),
                       ("arpu", "addon_pu", "addon_per_adopter"), ("arpu", "usage_pu")}
    assert ("arpu", "addon_pu", "attach") in drivers
    statuses = {s["segment"]["tier"]: s["status"] for s in doc["segments"]}
    assert statuses["business"] == "entered"  # first seen in 2026-10
    assert statuses["pro"] == "both"
    shares = [s["compare"]["share"] for s in doc["segments"]]
    assert sum(shares) == pytest.approx(1.0, abs=1e-12)


def test_explain_json_by_tier_and_region():
    result = explain(TREE, DATA, "--format", "json", "--by", "tier", "region")
    assert_ok(result)
    doc = json.loads(result.stdout)
    check_contract(doc, tree="saas_arpu", metric="arpu", method="shapley",
                   dims=["tier", "region"])
    levels = {e["level"] for e in doc["effects"] if e["kind"] == "mix"}
    assert levels == {"tier", "region"}
    regions = [s for s in doc["segments"] if set(s["segment"]) == {"tier", "region"}]
    assert {s["segment"]["region"] for s in regions} == {"NA", "EU", "APAC"}
    # Shares are within the parent: each tier's regions add up to 1 in the compare period.
    for tier in {s["segment"]["tier"] for s in regions}:
        shares = [s["compare"]["share"] for s in regions if s["segment"]["tier"] == tier]
        assert sum(shares) == pytest.approx(1.0, abs=1e-12)
    rate_segments = [e["segment"] for e in doc["effects"] if e["kind"] == "rate"]
    assert all(set(s) == {"tier", "region"} for s in rate_segments)


def assert_explain_table(result: subprocess.CompletedProcess[str]) -> None:
    assert_ok(result)
    out = result.stdout
    assert "2026-09" in out and "2026-10" in out
    assert "ARPU" in out
    assert "mix" in out and "rate" in out
    for tier in ("starter", "team", "business", "pro", "enterprise"):
        assert tier in out
    assert "Add-on attach rate" in out


def test_explain_table():
    assert_explain_table(explain(TREE, DATA))


def test_explain_csv():
    result = explain(TREE, DATA, "--format", "csv")
    assert_ok(result)
    table = pd.read_csv(io.StringIO(result.stdout), keep_default_na=False)
    assert {"kind", "level", "tier", "path", "value"} <= set(table.columns)
    delta = expected_arpu("2026-10") - expected_arpu("2026-09")
    assert abs(table["value"].sum() - delta) <= 1e-9
    assert set(table["kind"]) == {"mix", "rate"}
    rate_paths = set(table.loc[table["kind"] == "rate", "path"])
    assert "arpu/addon_pu/attach" in rate_paths
    assert (table.loc[table["kind"] == "mix", "level"] == "tier").all()


def test_validate_tree():
    result = kpitree_cli("validate", TREE)
    assert_ok(result)
    assert "OK" in result.stdout
    assert "arpu → addon_pu → addon_per_adopter" in result.stdout


def test_validate_tree_and_data():
    result = kpitree_cli("validate", TREE, DATA)
    assert_ok(result)
    assert result.stdout.count("OK") == 2
    assert "2025-11" in result.stdout and "2026-10" in result.stdout


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_explain_writes_a_png(tmp_path):
    image = tmp_path / "out.png"
    result = explain(TREE, DATA, "--image", image)
    assert_ok(result)
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.stat().st_size > 1000
    assert "ARPU" in result.stdout  # the table is still printed


BUNDLED = [
    ("saas_arpu", "data/saas_monthly.csv", "arpu"),
    ("arppu", "data/freemium_monthly.csv", "arpu"),
    ("arpa_seats", "data/accounts_monthly.csv", "arpa"),
]


@pytest.mark.parametrize("method", ["shapley", "sequential", "lmdi"])
@pytest.mark.parametrize(("tree", "data", "metric"), BUNDLED, ids=[b[0] for b in BUNDLED])
def test_bundled_trees_explain_with_every_method(tree, data, metric, method):
    result = kpitree_cli("explain", f"trees/{tree}.yaml", data, *PERIODS, "--method", method,
                         "--format", "json")
    assert_ok(result)
    doc = json.loads(result.stdout)
    loaded = kpitree.load_tree(ROOT / "trees" / f"{tree}.yaml")
    check_contract(doc, tree=tree, metric=metric, method=method, dims=list(loaded.segments))
    totals = kpitree.evaluate(loaded, ROOT / data, by=[], periods=["2026-09", "2026-10"])
    assert doc["base"]["value"] == pytest.approx(totals[metric].iloc[0], rel=1e-12)
    assert doc["compare"]["value"] == pytest.approx(totals[metric].iloc[1], rel=1e-12)
    if method == "sequential":
        assert any(e["kind"] == "interaction" for e in doc["effects"])


# --- The exit-code policy -------------------------------------------------------------------------


def raising(error: BaseException):
    def command(args: object) -> int:
        raise error

    return command


def test_a_bug_is_exit_1_with_one_line(monkeypatch):
    monkeypatch.setitem(commands.COMMANDS, "validate", raising(RuntimeError("boom")))
    result = kpitree_cli("validate", TREE)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == ("kpitree: internal error: RuntimeError: boom (run again with "
                             "--debug for the traceback)\n")


def test_a_bug_with_debug_is_raised(monkeypatch):
    monkeypatch.setitem(commands.COMMANDS, "validate", raising(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        kpitree_cli("validate", TREE, "--debug")


def test_an_interrupt_is_exit_130(monkeypatch):
    monkeypatch.setitem(commands.COMMANDS, "validate", raising(KeyboardInterrupt()))
    result = kpitree_cli("validate", TREE)
    assert (result.returncode, result.stdout, result.stderr) == (130, "",
                                                                  "kpitree: interrupted\n")


def test_help_and_version_return_0_without_exiting(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"kpitree {kpitree.core.VERSION}\n"
    assert main(["explain", "--help"]) == 0
    assert "--period-column NAME" in capsys.readouterr().out


def test_bad_usage_names_the_help():
    assert_bad_input(kpitree_cli("explian", TREE, DATA), "invalid choice: 'explian'",
                     "(see 'kpitree --help')")
    assert_bad_input(kpitree_cli("explain", TREE, DATA, *PERIODS, "--top", "0"),
                     "'0' is not a positive whole number", "(see 'kpitree explain --help')")
    assert_bad_input(kpitree_cli("generate", "out/x"), "unrecognized arguments: out/x",
                     "(see 'kpitree generate --help')")


# --- In a real process ----------------------------------------------------------------------------


def test_console_script_version_and_help():
    script = Path(sys.executable).with_name("kpitree")
    if not script.exists():
        pytest.skip(f"the console script is not installed beside {sys.executable}")
    version = kpitree_process("--version", program=[str(script)])
    assert (version.returncode, version.stdout, version.stderr) == (
        0, f"kpitree {kpitree.core.VERSION}\n", "")
    helped = kpitree_process("--help", program=[str(script)])
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: kpitree ")
    for command in ("explain", "generate", "trend", "drivers", "report", "validate"):
        assert command in helped.stdout


def test_python_m_kpitree_explains():
    assert_explain_table(kpitree_process("explain", TREE, DATA, *PERIODS))


def test_bad_input_in_a_real_process_is_one_line(tmp_path):
    assert_unknown_period(kpitree_process, tmp_path)


def test_debug_shows_the_traceback(tmp_path):
    tree = write_tree(tmp_path, """
        arpu: {formula: base / usres}
        users: {column: active_users}
        base: {column: base_revenue}
    """)
    result = kpitree_process("--debug", "explain", tree, DATA, *PERIODS)
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "TreeError" in result.stderr
    assert "usres" in result.stderr


def test_a_reader_that_stops_early_is_not_an_error():
    """``kpitree explain … | head -0``: the pipe closes before the table is written."""
    with subprocess.Popen([sys.executable, "-m", "kpitree", "explain", TREE, DATA, *PERIODS],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        process.stdout.close()  # long before the interpreter has started
        stderr = process.stderr.read()
        assert process.wait(timeout=180) == 0, stderr
    assert stderr == b""


ZERO_TREE = """name: zeros
root: arpu
weight: users
segments: [tier]
nodes:
  arpu: {formula: base_pu * attach + usage / users}
  base_pu: {formula: base / payers}
  attach: {formula: payers / users}
  users: {column: users}
  payers: {column: payers}
  base: {column: base}
  usage: {column: usage}
"""
# a launch (b), an exit (c), a segment with no payers in either period (d: base_pu is 0/0)
ZERO_DATA = """period,tier,users,payers,base,usage
p0,a,10,0,0,5
p1,a,12,3,30,0
p0,b,0,0,0,0
p1,b,5,5,50,1
p0,c,7,2,20,0
p1,c,0,0,0,0
p0,d,4,0,0,0
p1,d,4,0,0,0
"""


@pytest.mark.parametrize("method", ["shapley", "sequential", "lmdi"])
def test_zero_denominators_print_no_numpy_warning(tmp_path: Path, method: str) -> None:
    """0/0 drivers, launches and exits through every method: a fresh process with numpy's
    RuntimeWarnings as errors exits 0 with an empty stderr (nothing leaks from the maths)."""
    (tmp_path / "tree.yaml").write_text(ZERO_TREE)
    (tmp_path / "data.csv").write_text(ZERO_DATA)
    done = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "kpitree", "explain",
         str(tmp_path / "tree.yaml"), str(tmp_path / "data.csv"), "--base", "p0",
         "--compare", "p1", "--method", method, "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    document = json.loads(done.stdout)
    assert {s["segment"]["tier"]: s["status"] for s in document["segments"]} == {
        "a": "both", "b": "entered", "c": "exited", "d": "both"}
