"""The review pack: files, reproducibility, self-containment, the CLI, and a real browser.

The browser test opens ``report.html`` in Debian's headless Chromium (``/usr/bin/chromium``,
installed by ``scripts/install.sh``) through Playwright's Python client — never Playwright's own
browser download — and saves a screenshot to ``test-artifacts/report.png``. Without Chromium it
is skipped, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

import kpitree
from kpitree.cli.main import main
from kpitree.present.report import write_report
from tests.conftest import ROOT, SAAS_DATA, SAAS_TREE
from tests.test_render import wide_data

FILES = ["report.html", "report.md", "tree.png", "tree.svg", "bridge.png", "bridge.svg",
         "effects.csv",  # and the tree's pages, which the Markdown shows (the HTML embeds them)
         "tree-overview.png", "tree-rate-tier-starter.png", "tree-rate-tier-team.png",
         "tree-rate-tier-pro.png", "tree-rate-tier-enterprise.png"]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             "/usr/bin/chromium") if p and Path(p).exists()), None)
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot not installed")
pytestmark = needs_dot


def explain(data: object = None, **kwargs: object) -> kpitree.Explanation:
    if data is None:
        data = pd.read_csv(SAAS_DATA, keep_default_na=False)
    options = {"base": "2026-09", "compare": "2026-10", **kwargs}
    return kpitree.explain(kpitree.load_tree(SAAS_TREE), data, **options)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pack") / "2026-10"
    write_report(explain(), out)
    return out


def test_the_pack_has_every_file(pack: Path) -> None:
    assert sorted(p.name for p in pack.iterdir()) == sorted(FILES)


def test_written_twice_the_pack_is_byte_identical(pack: Path, tmp_path: Path) -> None:
    again = tmp_path / "elsewhere"
    write_report(explain(), again)
    for name in FILES:
        assert (again / name).read_bytes() == (pack / name).read_bytes(), name


def test_images_are_real_images(pack: Path) -> None:
    for name in ("tree.png", "bridge.png"):
        data = (pack / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", data[16:24])
        assert width > 500 and height > 300, name
    for name in ("tree.svg", "bridge.svg"):
        assert ET.parse(pack / name).getroot().tag.endswith("svg"), name


def test_html_is_self_contained(pack: Path) -> None:
    page = (pack / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)  # only data: URIs
    assert "http://" not in page and "https://" not in page
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    # the bridge, and the tree as readable pages (an overview, then one page per segment)
    embedded = [base64.b64decode(u) for u in uris]
    assert len(embedded) >= 3 and (pack / "bridge.png").read_bytes() in embedded
    assert all(image.startswith(b"\x89PNG\r\n") for image in embedded)


def test_html_carries_narrative_table_and_method(pack: Path) -> None:
    page = (pack / "report.html").read_text(encoding="utf-8")
    narrative = kpitree.narrate(explain())
    assert narrative.headline in page
    for heading in ("Summary", "Bridge: 2026-09 → 2026-10", "Annotated tree", "Segments",
                    "Largest effects", "Method"):
        assert heading in page
    # per-segment table: shares, rates, mix, rate, components in both periods
    assert "15.6 %" in page and "$99.20" in page and "−$0.96" in page
    assert "27.3 % → 32.4 %" in page  # pro's add-on attach rate
    assert "Kitagawa" in page


def test_markdown_references_the_image_files(pack: Path) -> None:
    text = (pack / "report.md").read_text(encoding="utf-8")
    assert "](bridge.png)" in text and "](tree-overview.png)" in text
    assert "| pro | 15.6 % | 13.6 % | $99.20 | $101.66 | −$0.96 | +$0.36 |" in text
    assert "data:" not in text


def test_effects_csv_sums_to_the_change(pack: Path) -> None:
    table = pd.read_csv(pack / "effects.csv", keep_default_na=False)
    assert list(table.columns[:4]) == ["base_period", "compare_period", "kind", "level"]
    assert set(table["base_period"]) == {"2026-09"} and set(table["compare_period"]) == {"2026-10"}
    result = explain()
    assert table["value"].sum() == pytest.approx(result.delta, abs=1e-9)
    assert "arpu/addon_pu/attach" in set(table["path"])


def test_large_and_nested_reports_are_written(tmp_path: Path) -> None:
    write_report(explain(wide_data(40)), tmp_path / "wide", rate_by="segment")
    write_report(explain(by=["tier", "region"], method="sequential"), tmp_path / "nested")
    page = (tmp_path / "nested" / "report.html").read_text(encoding="utf-8")
    assert "By region (shares within each tier)" in page and "Interaction" in page
    wide = (tmp_path / "wide" / "report.md").read_text(encoding="utf-8")
    assert sum(line.startswith("| s") for line in wide.splitlines()) == 40  # every segment


def test_markdown_shows_a_large_tree_in_its_pages(tmp_path: Path) -> None:
    """A tree too large for one picture: the Markdown shows the pages the HTML shows, each a
    file of the pack (not the whole tree.png, unreadable at a wiki's width)."""
    import re

    from kpitree.present.pack import tree_figures
    from tests.packdata import LARGE_BY, large_csv

    tree = kpitree.load_tree(SAAS_TREE)
    result = kpitree.explain(tree, large_csv(tmp_path), base="2026-09", compare="2026-10",
                             by=list(LARGE_BY))
    pages = tree_figures(result)
    assert len(pages) > 1
    write_report(result, tmp_path / "pack")
    text = (tmp_path / "pack" / "report.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\((tree[^)]*\.png)\)", text)
    assert shown == [page["name"] for page in pages]  # the slugs here are all distinct
    for name in shown:
        assert (tmp_path / "pack" / name).read_bytes() == next(
            p["png"] for p in pages if p["name"] == name)
    assert "](tree.png)" not in text and "`tree.png`" in text


def test_cli_report_writes_the_pack(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cli"
    code = main(["report", str(SAAS_TREE), str(SAAS_DATA), "--base", "2026-09",
                 "--compare", "2026-10", "--out", str(out), "--bridge", "segment"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert f"wrote {out / 'report.html'}" in capsys.readouterr().err


def test_cli_report_bad_input_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["report", str(SAAS_TREE), str(SAAS_DATA), "--base", "1999-01",
                 "--compare", "2026-10", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("kpitree: error:")
    assert main(["report", str(SAAS_TREE), str(SAAS_DATA), "--base", "2026-09"]) == 2


def test_notebook_html_shows_narrative_and_tree() -> None:
    page = explain()._repr_html_()
    assert "ARPU rose by $4.13" in page and "<script" not in page
    assert 'src="data:image/png;base64,' in page  # the tree's pages, at most 1000 px wide


def test_importing_kpitree_loads_no_drawing_library() -> None:
    code = ("import sys, kpitree; "
            "print(sorted(m for m in ('matplotlib', 'jinja2', 'graphviz') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_report_renders_in_headless_chromium(pack: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed: scripts/install.sh should install it "
                        "(apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # No JavaScript needed to read the report: the page is opened with it disabled.
            page = browser.new_page(viewport={"width": 1280, "height": 900},
                                    java_script_enabled=False)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.route(re.compile(r"^https?://"), lambda route: (
                problems.append(f"network request: {route.request.url}"), route.abort()))
            page.goto((pack / "report.html").as_uri(), wait_until="load")
            images = page.locator("img")
            html = (pack / "report.html").read_text(encoding="utf-8")
            assert images.count() == html.count("<img") >= 3
            for i in range(images.count()):
                image = images.nth(i)
                natural = image.evaluate("img => [img.complete, img.naturalWidth, "
                                         "img.naturalHeight]")
                assert natural[0] and natural[1] > 0 and natural[2] > 0, natural
            assert page.title().startswith("ARPU by plan tier")
            assert page.locator("p.headline").inner_text().startswith("ARPU rose by $4.13")
            assert page.locator("table").count() >= 2
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
    shot = (ARTIFACTS / "report.png").read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", shot[16:24])[1] > 2000  # the whole page, not a blank viewport
