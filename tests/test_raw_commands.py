"""Every command on a raw source, at the cost of one scan; lazy imports; fast, exact outputs.

An analyst with an event log gets a review pack (``report``), a year of bridges (``trend``), a
driver search (``drivers``), a check of tree and source (``validate``) and the aggregate itself
(``aggregate``) from the command line alone, on a folder and on a DuckDB file, with the same
numbers as ``explain``. ``kpitree --help`` and ``explain`` on a CSV import no database, drawing
or analysis module; the JSON text is byte for byte ``json.dumps(indent=2)``; the terminal table
folds a long segment list into an exact "other" line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

import kpitree
from kpitree.cli.raw import read_metadata
from kpitree.core import jsontext
from kpitree.io.events import aggregate
from kpitree.io.generate import generate
from kpitree.io.sources import connect
from tests.conftest import ROOT, SAAS_DATA, SAAS_TREE, SIMPLE_TREE, run_cli

BLENDED = ROOT / "trees" / "arpu_blended.yaml"
BASE, COMPARE = "2026-09", "2026-10"


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("gen"), events=8_000, months=6, seed=5)


@pytest.fixture(scope="module")
def duckdb_file(gen, tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        for table in ("events", "users"):
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM "
                        f"read_parquet('{gen.folder / table}/*.parquet')")
    return path


def _json(*args):
    done = run_cli(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_report_from_an_events_folder_writes_the_pack_and_its_aggregate(gen, tmp_path):
    out = tmp_path / "pack"
    done = run_cli("report", BLENDED, gen.folder, "--base", BASE, "--compare", COMPARE,
                   "--out", out)
    assert done.returncode == 0, done.stderr
    assert (out / "report.html").is_file() and (out / "effects.csv").is_file()
    assert "Data: revenue = subscription" in done.stderr
    written = pd.read_csv(out / "aggregate.csv")
    explained = _json("explain", BLENDED, gen.folder, "--base", BASE, "--compare", COMPARE)
    # The pack's effects are the raw explanation's, to the last digit.
    effects = pd.read_csv(out / "effects.csv")
    assert effects["value"].sum() == pytest.approx(explained["delta"], abs=1e-9)
    assert sorted(written["period"].unique()) == [BASE, COMPARE]
    meta = read_metadata(out / "aggregate.csv")
    assert meta["periods"] == [BASE, COMPARE] and meta["currency"] == "USD"


def test_report_with_drivers_aggregates_the_events_once(gen, tmp_path, monkeypatch, capsys):
    """report --drivers on a raw source: one aggregation by --by and the driver dimensions,
    each analysis rolled up from it; its pack equals the pack of two separate aggregations."""
    import kpitree.io.events as events
    from kpitree.cli import commands
    from kpitree.cli.main import main

    real, calls = events.aggregate, []

    def counted(*args, **kwargs):
        calls.append(kwargs.get("by"))
        return real(*args, **kwargs)

    monkeypatch.setattr(events, "aggregate", counted)
    argv = ["report", str(BLENDED), str(gen.folder), "--base", BASE, "--compare", COMPARE,
            "--drivers", "region", "channel"]
    assert main([*argv, "--out", str(tmp_path / "once")]) == 0
    assert calls == [["tier", "region", "channel"]]
    # The same pack from two aggregations (the path a tree counting accounts takes).
    monkeypatch.setattr(commands, "report_inputs", lambda args, tree: (
        commands.command_input(args, tree, periods=[BASE, COMPARE], by=args.by),
        commands.command_input(args, tree, periods=[BASE, COMPARE], by=args.drivers)))
    assert main([*argv, "--out", str(tmp_path / "twice")]) == 0
    assert calls[1:] == [None, ["region", "channel"]]
    capsys.readouterr()
    names = sorted(p.name for p in (tmp_path / "once").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "twice").iterdir())
    assert {"effects.csv", "aggregate.csv", "report.md", "drivers.png"} <= set(names)
    for name in names:  # text and images alike: the drivers' sentence, table and chart too
        assert (tmp_path / "once" / name).read_bytes() == \
            (tmp_path / "twice" / name).read_bytes(), name


def test_rolled_up_aggregate_equals_aggregating_by_fewer_dims(gen):
    tree = kpitree.load_tree(BLENDED)
    with connect(gen.folder) as source:
        fine = aggregate(tree, source, periods=[BASE, COMPARE], by=["tier", "region"])
        coarse = aggregate(tree, source, periods=[BASE, COMPARE], by=["region"])
    rolled = fine.rolled_up(["region"])
    pd.testing.assert_frame_equal(rolled.frame, coarse.frame, check_exact=True)
    pd.testing.assert_frame_equal(rolled.cents, coarse.cents, check_exact=True)
    assert rolled.dims == ("region",) and rolled.notes == coarse.notes
    with pytest.raises(ValueError, match="no dimension"):
        fine.rolled_up(["channel"])
    accounts = kpitree.load_tree(ROOT / "trees" / "arpu_account.yaml")
    with connect(gen.folder) as source:
        counted = aggregate(accounts, source, periods=[BASE, COMPARE], by=["region"])
    with pytest.raises(ValueError, match="accounts"):
        counted.rolled_up([])


def test_trend_scans_once_for_every_period(gen):
    tree = kpitree.load_tree(BLENDED)
    stages: list[str] = []
    agg = aggregate(tree, connect(gen.folder), periods=None,
                    progress=lambda stage, done: stages.append(stage) if done == 0.0 else None)
    assert len(agg.periods) >= 5
    assert stages.count("aggregating events") == 1  # one query for all the periods
    document = _json("trend", BLENDED, gen.folder, "--no-charts")
    assert document["periods"] == [w.label for w in agg.periods]
    assert document["data"]["periods"] == document["periods"]
    ranged = _json("trend", BLENDED, gen.folder, "--no-charts", "--from", "2026-08",
                   "--to", COMPARE)
    assert ranged["periods"] == ["2026-08", BASE, COMPARE]
    assert ranged["data"]["periods"] == ranged["periods"]  # only those periods were read


def test_trend_writes_its_charts(gen, tmp_path):
    done = run_cli("trend", BLENDED, gen.folder, "--from", BASE, "--to", COMPARE,
                   "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert any(p.suffix == ".png" for p in tmp_path.iterdir())
    assert "Note:" in done.stdout or "Data:" in done.stdout


def test_drivers_on_raw_events_agree_with_explain(gen):
    found = _json("drivers", BLENDED, gen.folder, "--base", BASE, "--compare", COMPARE,
                  "--dims", "tier", "region", "--bootstrap", "0")
    explained = _json("explain", BLENDED, gen.folder, "--base", BASE, "--compare", COMPARE)
    assert found["delta"] == pytest.approx(explained["delta"], abs=1e-9)
    assert sum(e["value"] for e in found["effects"]) == pytest.approx(found["delta"], abs=1e-9)
    assert found["data"]["currency"] == "USD"


def test_drivers_bootstrap_on_raw_events_resamples_users(gen):
    found = _json("drivers", BLENDED, gen.folder, "--base", BASE, "--compare", COMPARE,
                  "--dims", "tier", "--bootstrap", "20")
    assert found["intervals"]["replicates"] == 20
    assert all("interval" in e for e in found["effects"])


def test_validate_checks_tree_and_source(gen):
    done = run_cli("validate", BLENDED, gen.folder)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "OK — root 'arpu'" in lines[0]
    assert "OK (duckdb)" in lines[1] and f"… {COMPARE}" in lines[1]
    assert lines[2].startswith("Data: revenue")


def test_validate_reports_bad_input_in_one_line(gen, tmp_path):
    users = pd.read_parquet(gen.folder / "users")
    twice = pd.concat([users, users.iloc[:1]])
    (tmp_path / "users").mkdir()
    twice.to_parquet(tmp_path / "users" / "u.parquet")
    done = run_cli("validate", BLENDED, "--events", gen.folder / "events",
                   "--users", tmp_path / "users")
    assert done.returncode == 2
    assert done.stderr.startswith("kpitree: error: ") and done.stderr.count("\n") == 1
    assert "more than one row for the same month" in done.stderr


def test_aggregate_to_parquet_records_its_definitions_and_explains_the_same(gen, tmp_path):
    out = tmp_path / "agg.parquet"
    done = run_cli("aggregate", BLENDED, gen.folder, "--out", out, "--periods", BASE, COMPARE)
    assert done.returncode == 0, done.stderr
    meta = read_metadata(out)
    assert meta["tree"] == "arpu_blended" and meta["segments"] == ["tier"]
    assert meta["periods"] == [BASE, COMPARE] and meta["engine"] == "duckdb"
    assert "net of refunds" in meta["definitions"]
    assert set(meta["measures"]) == set(kpitree.load_tree(BLENDED).columns.values())
    from_file = _json("explain", BLENDED, out, "--base", BASE, "--compare", COMPARE)
    from_raw = _json("explain", BLENDED, gen.folder, "--base", BASE, "--compare", COMPARE)
    assert from_raw.pop("data")["periods"] == [BASE, COMPARE]
    assert from_file == from_raw


def test_aggregate_to_csv_neutralises_formulas_and_writes_a_sidecar(gen, tmp_path):
    users = pd.read_parquet(gen.folder / "users")
    users["tier"] = users["tier"].astype(str).replace({"pro": "=HYPERLINK(1)"})
    (tmp_path / "users").mkdir()
    users.to_parquet(tmp_path / "users" / "u.parquet")
    out = tmp_path / "agg.csv"
    done = run_cli("aggregate", BLENDED, "--events", gen.folder / "events", "--users",
                   tmp_path / "users", "--out", out, "--from", BASE, "--to", COMPARE)
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(out)
    assert "'=HYPERLINK(1)" in set(frame["tier"]) and "=HYPERLINK(1)" not in set(frame["tier"])
    assert read_metadata(out)["periods"] == [BASE, COMPARE]


def test_aggregate_refuses_an_unknown_file_type(gen, tmp_path):
    done = run_cli("aggregate", BLENDED, gen.folder, "--out", tmp_path / "agg.xlsx")
    assert done.returncode == 2 and "use a .parquet or .csv file name" in done.stderr


def test_a_duckdb_file_gives_the_folder_s_numbers(gen, duckdb_file, tmp_path):
    tree = kpitree.load_tree(BLENDED)
    folder = aggregate(tree, connect(gen.folder), periods=[BASE, COMPARE]).cents
    database = aggregate(tree, connect(duckdb_file), periods=[BASE, COMPARE]).cents
    pd.testing.assert_frame_equal(database, folder, check_exact=True)
    document = _json("trend", BLENDED, duckdb_file, "--no-charts", "--from", BASE,
                     "--to", COMPARE)
    assert document["periods"] == [BASE, COMPARE]
    done = run_cli("report", BLENDED, duckdb_file, "--base", BASE, "--compare", COMPARE,
                   "--out", tmp_path / "pack")
    assert done.returncode == 0, done.stderr
    assert run_cli("validate", BLENDED, duckdb_file).returncode == 0


def test_another_ibis_backend_is_attempted_and_gives_the_same_cents(gen):
    pytest.importorskip("polars")
    tree = kpitree.load_tree(BLENDED)
    reference = aggregate(tree, connect(gen.folder), periods=[BASE, COMPARE])
    other = aggregate(tree, connect(gen.folder, engine="polars"), periods=[BASE, COMPARE])
    assert other.engine == "polars"
    pd.testing.assert_frame_equal(other.cents, reference.cents, check_exact=True)


def test_an_unknown_engine_is_one_line(gen):
    done = run_cli("explain", BLENDED, gen.folder, "--base", BASE, "--compare", COMPARE,
                   "--engine", "nosuchengine")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "not an ibis backend" in done.stderr


def test_commands_on_a_folder_without_a_data_section_say_so(gen, tmp_path):
    done = run_cli("report", SAAS_TREE, gen.folder, "--base", BASE, "--compare", COMPARE,
                   "--out", tmp_path / "pack")
    assert done.returncode == 2 and "has no 'data:' section" in done.stderr
    missing = run_cli("report", SAAS_TREE, tmp_path / "nope.csv", "--base", BASE,
                      "--compare", COMPARE, "--out", tmp_path / "pack")
    assert missing.returncode == 2 and "nope.csv" in missing.stderr
    assert "events/" not in missing.stderr  # a missing table, not a raw-source message


def test_null_event_times_are_an_error_even_outside_the_periods(gen, tmp_path):
    events = pd.read_parquet(gen.folder / "events")
    events.loc[events.index[0], "ts"] = pd.NaT  # an event in an early month, now timeless
    tree = kpitree.load_tree(BLENDED)
    with pytest.raises(kpitree.DataError, match=r"1 events have no ts \(NULL\)"):
        aggregate(tree, connect(events=events, users=pd.read_parquet(gen.folder / "users")),
                  periods=[BASE, COMPARE])


# --- Pay only for what you use ------------------------------------------------------------------

IMPORTS = """
import contextlib, io, json, sys
from kpitree.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""
HEAVY = ("pandas", "numpy", "duckdb", "ibis", "matplotlib", "graphviz", "jinja2", "pyspark",
         "psycopg", "networkx")


def _imported(*args: object) -> tuple[int, set[str]]:
    done = subprocess.run([sys.executable, "-c", IMPORTS, *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    outcome = json.loads(done.stdout)
    return outcome["code"], set(outcome["modules"])


def test_help_imports_no_maths_and_no_engine():
    code, modules = _imported("--help")
    assert code == 0
    assert not {m.partition(".")[0] for m in modules} & set(HEAVY)
    assert not [m for m in modules if m.startswith(("kpitree.analysis", "kpitree.present",
                                                    "kpitree.io", "kpitree.core.attribution",
                                                    "kpitree.core.tree", "kpitree.core.data"))]


def test_explain_on_a_csv_imports_no_database_drawing_or_analysis():
    code, modules = _imported("explain", SAAS_TREE, SAAS_DATA, "--base", BASE,
                              "--compare", COMPARE)
    assert code == 0
    roots = {m.partition(".")[0] for m in modules}
    assert not roots & {"duckdb", "ibis", "matplotlib", "graphviz", "jinja2", "pyspark",
                        "psycopg"}
    assert not [m for m in modules if m.startswith(("kpitree.analysis", "kpitree.io"))]


def test_the_facade_imports_lazily_and_still_registers_the_views(tmp_path):
    script = ("import sys, kpitree; assert 'pandas' not in sys.modules; "
              "t = kpitree.load_tree(sys.argv[1]); "
              "r = kpitree.explain(t, sys.argv[2], base='2026-09', compare='2026-10'); "
              "print(str(r).splitlines()[0])")
    done = subprocess.run([sys.executable, "-c", script, str(SAAS_TREE), str(SAAS_DATA)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ARPU by plan tier")
    assert set(kpitree.__all__) <= set(dir(kpitree))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        kpitree.nope  # noqa: B018


# --- Many segments: exact, fast outputs ---------------------------------------------------------

@pytest.mark.parametrize("method", ["shapley", "sequential", "lmdi"])
@pytest.mark.parametrize("by", [None, ["tier", "region"]])
def test_json_text_is_byte_for_byte_the_standard_library_s(method, by):
    result = kpitree.explain(kpitree.load_tree(SAAS_TREE), SAAS_DATA, base=BASE,
                             compare=COMPARE, by=by, method=method)
    document = result.to_dict()
    assert result.to_json() == json.dumps(document, indent=2, allow_nan=False)
    assert jsontext.dumps(document) == json.dumps(document, indent=2, allow_nan=False)


def test_json_text_edge_cases_match_and_nan_is_refused():
    import numpy as np

    cases = [{"a": [1, 2.5, None, True, False, "é → \"x\"\n"], "b": {}, "c": [], 1: "k"},
             [], {}, "s", -0.0, 1e-05, 1e16, [[[]]], {"t": (1, 2)},
             {"n": np.float64(1.5), "m": [np.float64(2.0)]}]
    for case in cases:
        assert jsontext.dumps(case) == json.dumps(case, indent=2, allow_nan=False), case
    with pytest.raises(ValueError, match="not JSON compliant"):
        jsontext.dumps({"x": [float("nan")]})


def test_the_table_folds_long_segment_lists_into_an_exact_other_line(tmp_path):
    from kpitree.core.formatting import format_change
    from kpitree.present.table import SEGMENTS_SHOWN, format_table, metric_kind

    tiers = [f"t{i:02d}" for i in range(SEGMENTS_SHOWN + 10)]
    rows = [{"period": p, "tier": t, "users": 10 + i + (5 * i if p == COMPARE else 0),
             "revenue": (100 + 7 * i) * (1.1 if p == COMPARE and i % 2 else 1.0)}
            for p in (BASE, COMPARE) for i, t in enumerate(tiers)]
    path = tmp_path / "d.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    result = kpitree.explain(kpitree.tree_from_text(SIMPLE_TREE, "t.yaml"), path, base=BASE,
                             compare=COMPARE)
    text = format_table(result)
    lines = [line for line in text.splitlines() if re.match(r"  t\d\d ", line)]
    other = [line for line in text.splitlines() if line.strip().startswith("other (10)")]
    assert len(lines) == SEGMENTS_SHOWN and len(other) == 1
    segments = result.segments.copy()
    segments["total"] = segments["mix"] + segments["rate"]
    shown = {line.split()[0] for line in lines}
    rest = segments[~segments["tier"].isin(shown)]
    assert len(rest) == 10
    # The folded segments are the smallest, and "other" shows their exact sums.
    assert rest["total"].abs().max() <= segments[segments["tier"].isin(shown)]["total"].abs().min()
    kind = metric_kind(result)
    assert format_change(float(rest["mix"].sum()), kind, result.tree.unit) in other[0]
    assert format_change(float(rest["rate"].sum()), kind, result.tree.unit) in other[0]


def test_report_draws_the_bridge_once_with_the_same_bytes(monkeypatch):
    from kpitree.present import bridge
    from kpitree.present.report import build_report

    result = kpitree.explain(kpitree.load_tree(SAAS_TREE), SAAS_DATA, base=BASE,
                             compare=COMPARE)
    expected = {fmt: bridge.render_bridge(result, format=fmt) for fmt in ("png", "svg")}
    drawn = []
    real = bridge.bridge_figure

    def counted(*args, **kwargs):
        drawn.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(bridge, "bridge_figure", counted)
    report = build_report(result)
    assert len(drawn) == 1
    assert report.images["bridge.png"] == expected["png"]
    assert report.images["bridge.svg"] == expected["svg"]


def test_trailing_windows_in_one_scan_equal_each_window_alone(gen):
    tree = kpitree.load_tree(ROOT / "tests" / "cases" / "raw" / "arpu_trailing.yaml")
    source = connect(gen.folder)
    stages: list[str] = []
    periods = ["2026-08", BASE, COMPARE]
    together = aggregate(tree, source, periods=periods,
                         progress=lambda stage, done: stages.append(stage) if done == 0.0 else None)
    assert stages.count("aggregating events") == 1
    for label in periods:
        alone = aggregate(tree, source, periods=[label]).cents
        rows = together.cents[together.cents["period"] == label].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows, alone, check_exact=True, obj=label)


def test_null_event_times_in_parquet_files_are_counted_from_their_footers(gen, tmp_path):
    events = pd.read_parquet(gen.folder / "events")
    events.loc[events.index[:3], "ts"] = pd.NaT
    for table, frame in (("events", events), ("users", pd.read_parquet(gen.folder / "users"))):
        (tmp_path / table).mkdir()
        frame.to_parquet(tmp_path / table / f"{table}.parquet")
    source = connect(tmp_path)
    assert source.null_count("events", "ts") == 3  # the files' statistics, no scan
    assert source.null_count("events", "user_id") == 0
    with pytest.raises(kpitree.DataError, match=r"3 events have no ts \(NULL\)"):
        aggregate(kpitree.load_tree(BLENDED), source, periods=[BASE, COMPARE])
