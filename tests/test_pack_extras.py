"""The review pack's extras from the CLI, notebook displays, progress and CJK segment names."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

import kpitree
from kpitree.analysis.scenario import goal_seek, snapshot
from kpitree.analysis.totals import explain_total
from kpitree.present.notebook import CELL_WIDTH
from tests.conftest import SAAS_DATA, SAAS_TREE, run_cli

PACK = ("report", SAAS_TREE, SAAS_DATA, "--base", "2026-09", "--compare", "2026-10")


def test_report_writes_the_whole_pack(tmp_path: Path) -> None:
    pptx = pytest.importorskip("pptx")
    openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / "pack"
    done = run_cli(*PACK, "--out", out, "--pptx", "--xlsx", "--lever",
                   "base_pu[tier=pro]=*1.10", "--lever", "attach[tier=team]=+5pp",
                   "--sensitivity", "--total")
    assert done.returncode == 0, done.stderr
    names = {p.name for p in out.iterdir()}
    assert names >= {"report.html", "report.md", "deck.pptx", "workbook.xlsx", "whatif.png",
                     "tornado.png", "total.png", "tree.png", "bridge.png", "effects.csv"}
    for name in ("deck.pptx", "workbook.xlsx", "whatif.png"):
        assert f"wrote {out / name}" in done.stderr
    html = (out / "report.html").read_text(encoding="utf-8")
    markdown = (out / "report.md").read_text(encoding="utf-8")
    for section in ("What-if on 2026-10", "Sensitivity on 2026-10",
                    "Active users × ARPU: volume, mix and rate"):
        assert section in html and section in markdown
    assert "](whatif.png)" in markdown and "| base\\_pu\\[tier=pro\\] |" in markdown
    deck = pptx.Presentation(str(out / "deck.pptx"))
    titles = [shape.text_frame.text for slide in deck.slides for shape in slide.shapes
              if shape.has_text_frame]
    assert any(t.startswith("What-if on 2026-10") for t in titles)
    assert any(t.startswith("Sensitivity") for t in titles)
    book = openpyxl.load_workbook(out / "workbook.xlsx")
    assert {"What-if", "Total"} <= set(book.sheetnames)


def test_report_depth_and_top_reach_the_tree(tmp_path: Path) -> None:
    done = run_cli(*PACK, "--out", tmp_path / "p", "--depth", "2", "--tree-top", "3")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "p" / "report.html").read_text(encoding="utf-8")
    assert html.count('class="tree') >= 1
    bad = run_cli(*PACK, "--out", tmp_path / "q", "--tree-top", "0")
    assert bad.returncode == 2 and "--tree-top 0" in bad.stderr


@pytest.fixture(scope="module")
def results():
    tree = kpitree.load_tree(SAAS_TREE)
    snap = snapshot(tree, SAAS_DATA, period="2026-10")
    scenario = snap.whatif({"attach[tier=pro]": "+5pp", "base_pu[tier=team]": "*1.1"})
    return {
        "explanation": kpitree.explain(tree, SAAS_DATA, base="2026-09", compare="2026-10"),
        "trend": kpitree.trend(tree, SAAS_DATA, start="2026-07", end="2026-10"),
        "snapshot": snap,
        "scenario": scenario,
        "goal": goal_seek(snap, "share[tier=pro]", target=56.0),
        "total": explain_total(tree, SAAS_DATA, base="2026-09", compare="2026-10"),
    }


@pytest.mark.parametrize("name", ["explanation", "trend", "snapshot", "scenario", "goal",
                                  "total"])
def test_every_result_displays_compactly(results, name) -> None:
    html = results[name]._repr_html_()
    assert html.startswith('<div class="kpitree"') and "<strong>" in html
    assert "ARPU" in html
    widths = [int(w) for w in re.findall(r'<img [^>]*width="(\d+)"', html)]
    if name != "snapshot":
        assert widths, name
    assert all(w <= CELL_WIDTH for w in widths), widths
    assert "<script" not in html


def test_render_writes_and_returns_the_path(results, tmp_path: Path) -> None:
    result = results["explanation"]
    path = result.render(tmp_path / "tree.svg")
    assert path == tmp_path / "tree.svg" and path.read_bytes().startswith(b"<?xml")
    assert isinstance(result.render(format="svg"), bytes)


def test_progress_bar_only_when_asked_or_on_a_terminal() -> None:
    args = ("trend", SAAS_TREE, SAAS_DATA, "--no-charts", "--format", "json")
    shown = run_cli(*args, "--progress")
    assert shown.returncode == 0 and "trend [####################] 100%" in shown.stderr
    assert "trend [" not in run_cli(*args).stderr  # piped (not a terminal): silent
    assert "trend [" not in run_cli(*args, "--progress", "--quiet").stderr


def test_cjk_segment_names_render_without_glyph_warnings(tmp_path: Path) -> None:
    frame = pd.read_csv(SAAS_DATA)
    frame["tier"] = frame["tier"].map({"starter": "スターター", "team": "チーム", "pro": "プロ",
                                       "business": "企业版", "enterprise": "엔터프라이즈"})
    data = tmp_path / "cjk.csv"
    frame.to_csv(data, index=False)
    tree = kpitree.load_tree(SAAS_TREE)
    result = kpitree.explain(tree, data, base="2026-09", compare="2026-10")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result.plot_bridge(tmp_path / "bridge.png")
    glyphs = [w for w in caught if "missing from font" in str(w.message)]
    assert glyphs == [], glyphs[:3]
