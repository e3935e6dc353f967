"""The workbook (``--xlsx``): numbers as numbers equal to the JSON's, totals as live formulas
that recompute (LibreOffice, with the cached values removed) to the totals of the result."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import kpitree
from kpitree.analysis.scenario import snapshot
from kpitree.analysis.totals import explain_total
from kpitree.present.bridge import TOP, bridge_steps
from kpitree.present.office import excel_format, safe_text
from kpitree.present.workbook import build_workbook
from tests.conftest import SAAS_DATA, SAAS_TREE
from tests.packdata import BASE, COMPARE, LARGE_BY, large_csv

openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is in the test extra")


def _stored(value: float) -> float:
    """A double as XlsxWriter stores it: 16 significant digits (Excel computes with 15)."""
    return float(f"{value:.16G}")


@pytest.fixture(scope="module", params=("example", "large"))
def case(request, tmp_path_factory) -> dict:
    tree = kpitree.load_tree(SAAS_TREE)
    folder = tmp_path_factory.mktemp(f"book-{request.param}")
    if request.param == "example":
        data, by = SAAS_DATA, None
    else:
        data, by = large_csv(folder), list(LARGE_BY)
    result = kpitree.explain(tree, data, base=BASE, compare=COMPARE, by=by)
    scenario = snapshot(tree, data, period=COMPARE, by=by).whatif(
        {"base_pu[tier=pro]": "*1.10", "attach[tier=team]": "+2pp"})
    total = explain_total(tree, data, base=BASE, compare=COMPARE, by=by)
    path = folder / "pack.xlsx"
    path.write_bytes(build_workbook(result, scenario=scenario, total=total))
    return {"result": result, "json": result.to_dict(), "path": path, "scenario": scenario,
            "total": total, "book": openpyxl.load_workbook(path),
            "cached": openpyxl.load_workbook(path, data_only=True), "folder": folder}


def _rows(sheet) -> list[list]:
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_sheets(case) -> None:
    names = case["book"].sheetnames
    levels = [f"Segments {d}" for d in case["result"].by]
    assert names == ["Summary", "Effects", *levels, "Bridge", "Drivers", "What-if", "Total"]


def test_effects_are_numbers_equal_to_the_json(case) -> None:
    rows = _rows(case["book"]["Effects"])
    header, body = rows[0], rows[1:-1]
    effects = case["json"]["effects"]
    assert len(body) == len(effects)
    value = header.index("value")
    for row, effect in zip(body, effects, strict=True):
        assert isinstance(row[value], (int, float))  # openpyxl reads 0 back as int
        assert row[value] == _stored(effect["value"])
        assert row[header.index("path")] == "/".join(effect["path"])
        assert row[0] == effect["kind"]
    assert rows[-1][value].startswith("=SUM(")


def test_summary_and_segment_values_are_the_json(case) -> None:
    doc = case["json"]
    summary = {r[0]: r[1] for r in _rows(case["book"]["Summary"]) if r[0]}
    metric = "ARPU"
    assert summary[f"{metric} {BASE}"] == _stored(doc["base"]["value"])
    assert summary[f"{metric} {COMPARE}"] == _stored(doc["compare"]["value"])
    for level in case["result"].by:
        rows = _rows(case["book"][f"Segments {level}"])
        header = rows[0]
        expected = {tuple(s["segment"].values()): s for s in doc["segments"]
                    if s["level"] == level and s["status"] != "empty"}
        width = len(case["result"].by[:case["result"].by.index(level) + 1])
        assert len(rows) - 2 == len(expected)
        for row in rows[1:-1]:
            s = expected[tuple(row[:width])]
            assert row[header.index("mix")] == _stored(s["effects"]["mix"])
            assert row[header.index("rate")] == _stored(s["effects"]["rate"])
            assert row[header.index(f"share {BASE}")] == _stored(s["base"]["share"])


def test_formats_per_kind(case) -> None:
    sheet = case["book"]["Segments " + case["result"].by[0]]
    assert sheet.cell(2, sheet.max_column).number_format == excel_format("currency", "USD",
                                                                         change=True)
    header = [c.value for c in sheet[1]]
    share = header.index(f"share {BASE}") + 1
    assert sheet.cell(2, share).number_format == "0.0%"
    weight = header.index(f"Active users {BASE}") + 1
    assert sheet.cell(2, weight).number_format == "#,##0"


def _without_cached_values(path: Path, target: Path) -> Path:
    """A copy of the workbook whose formula cells hold no value: a reader must recompute."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"(<f>[^<]*</f>)<v>[^<]*</v>", rb"\1", data)
            out.writestr(item, data)
    return target


@pytest.fixture(scope="module")
def recomputed(case) -> dict[str, list[list[str]]]:
    """Every sheet as LibreOffice computes it from the formulas (one conversion)."""
    if shutil.which("soffice") is None:
        pytest.fail("LibreOffice Calc is needed: apt-get install libreoffice-calc-nogui")
    folder = case["folder"] / "recomputed"
    folder.mkdir()
    stripped = _without_cached_values(case["path"], folder / "bare.xlsx")
    with zipfile.ZipFile(stripped) as bare:
        sheets_xml = [bare.read(n) for n in bare.namelist() if n.startswith("xl/worksheets/")]
    assert all(b"</f><v>" not in xml for xml in sheets_xml)
    assert any(b"</f>" in xml for xml in sheets_xml)
    subprocess.run(["soffice", f"-env:UserInstallation=file://{folder / 'profile'}",
                    "--headless", "--convert-to",
                    "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,"
                    "false,-1", "--outdir", str(folder), str(stripped)],
                   check=True, capture_output=True, timeout=180)
    sheets = {}
    for path in folder.glob("bare-*.csv"):
        sheets[path.stem.removeprefix("bare-")] = list(csv.reader(io.StringIO(
            path.read_text(encoding="utf-8"))))
    assert "Summary" in sheets, sorted(sheets)
    return sheets


def _number(text: str) -> float:
    return float(text)


def test_formulas_recompute_to_the_totals(case, recomputed) -> None:
    result, doc = case["result"], case["json"]
    summary = {row[0]: row[1] for row in recomputed["Summary"] if row and row[0]}
    assert _number(summary["Change"]) == pytest.approx(doc["delta"], abs=1e-9)
    assert _number(summary["Sum of the effects"]) == pytest.approx(doc["delta"], abs=1e-9)
    assert _number(summary["Rate (drivers)"]) == pytest.approx(doc["totals"]["rate"], abs=1e-9)
    mix = next(v for k, v in summary.items() if k.startswith("Mix"))
    assert _number(mix) == pytest.approx(doc["totals"]["mix"], abs=1e-9)
    assert _number(summary["Check: sum of the effects − change (0)"]) == 0.0

    effects = recomputed["Effects"]
    assert _number(effects[-1][-1]) == pytest.approx(result.delta, abs=1e-9)

    outer = recomputed[f"Segments {result.by[0]}"]
    assert _number(outer[-1][-1]) == pytest.approx(result.delta, abs=1e-9)
    for row in outer[1:-1]:  # each segment's total is its effects' sum
        header = outer[0]
        first = header.index("mix")
        assert _number(row[-1]) == pytest.approx(sum(_number(v) for v in row[first:-1]),
                                                 abs=1e-12)

    bridge = recomputed["Bridge"]
    steps = bridge_steps(result, top=TOP)
    running = [_number(row[4]) for row in bridge[1:len(steps) + 1]]
    assert running[-2] == pytest.approx(result.compare.value, abs=1e-9)
    assert _number(bridge[-1][4]) == 0.0

    drivers = recomputed["Drivers"]
    expected = {"/".join(p): v for p, v in zip(result.by_driver()["path"],
                                                result.by_driver()["value"], strict=True)}
    for row in drivers[1:-1]:
        assert _number(row[2]) == pytest.approx(expected[row[1]], abs=1e-9)
    assert _number(drivers[-1][2]) == pytest.approx(doc["totals"]["rate"], abs=1e-9)

    whatif = recomputed["What-if"]
    assert _number(whatif[-1][1]) == pytest.approx(case["scenario"].delta, abs=1e-9)
    assert _number(whatif[-1][2]) == pytest.approx(case["scenario"].delta, abs=1e-9)
    total = {row[0]: row[1] for row in recomputed["Total"] if row and row[0]}
    assert _number(total[f"Active users × ARPU {COMPARE}"]) == pytest.approx(
        case["total"].compare_value, rel=1e-12)


def test_data_text_never_becomes_a_formula() -> None:
    assert safe_text("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert safe_text("@SUM(A1)") == "'@SUM(A1)"
    assert safe_text("pro") == "pro"


def test_same_result_same_bytes(case) -> None:
    again = build_workbook(case["result"], scenario=case["scenario"], total=case["total"])
    assert again == case["path"].read_bytes()
