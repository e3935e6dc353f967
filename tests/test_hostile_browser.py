"""The review pack with hostile labels, opened in headless Chromium with JavaScript ON.

Labels, the title, the tree's name and segment values carry scripts, event handlers,
``javascript:`` links and Graphviz attribute injections. The pages are opened as a browser
would: ``report.html``, ``tree.svg`` on its own (where Graphviz's ``URL`` attribute would make a
live link), and ``report.md`` rendered to HTML by a CommonMark renderer with raw HTML allowed
(as wikis do). In none of them may a script run (a dialog, a changed title, a page error) or a
link point at ``javascript:``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import kpitree
from kpitree.present.report import write_report
from tests.test_report import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot not installed")

SCRIPT = "<script>document.title='PWNED'</script>"
HANDLER = "<img src=x onerror=\"document.title='PWNED'\">"
LINK = "[click](javascript:document.title='PWNED')"
DOT = '<x> { pwn [URL="javascript:document.title=1"] ; i [image="/etc/hostname"] } digraph <y>'

TREE = f"""
name: '{DOT}'
title: "T {SCRIPT}"
root: arpu
weight: users
segments: [tier]
unit: "<b>u</b>"
nodes:
  arpu: {{label: "{LINK} {HANDLER.replace('"', "'")}", formula: revenue / users}}
  revenue: {{label: 'R"] [URL="javascript:alert(2)"]', column: revenue}}
  users: {{column: users}}
"""


@pytest.fixture(scope="module")
def hostile_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "tree.yaml").write_text(TREE, encoding="utf-8")
    segments = [HANDLER, SCRIPT, "a|b", LINK, "=cmd|' /C calc'!A0"]
    data = pd.DataFrame({
        "period": ["1"] * 5 + ["2"] * 5, "tier": segments * 2,
        "users": [10, 8, 6, 4, 2, 11, 8, 7, 3, 2],
        "revenue": [100.0, 90, 80, 70, 60, 120, 85, 84, 66, 61],
    })
    tree = kpitree.load_tree(folder / "tree.yaml")
    result = kpitree.explain(tree, data, base="1", compare="2")
    out = folder / "pack"
    write_report(result, out)
    markdown_it = pytest.importorskip("markdown_it")
    body = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(
        (out / "report.md").read_text(encoding="utf-8"))
    (folder / "report_md.html").write_text(f"<!doctype html><title>md</title>{body}",
                                           encoding="utf-8")
    return folder


def open_pages(folder: Path) -> dict[str, dict[str, object]]:
    """Open each page with JavaScript on; what ran, what links exist, what failed."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed: scripts/install.sh should install it")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    seen: dict[str, dict[str, object]] = {}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, path in (("report.html", folder / "pack" / "report.html"),
                               ("tree.svg", folder / "pack" / "tree.svg"),
                               ("bridge.svg", folder / "pack" / "bridge.svg"),
                               ("report.md", folder / "report_md.html")):
                page = browser.new_page(java_script_enabled=True)
                events: list[str] = []
                page.on("dialog", lambda d, events=events: (events.append(f"dialog {d.message}"),
                                                            d.dismiss()))
                page.on("pageerror", lambda e, events=events: events.append(f"error {e}"))
                page.route("**/*", lambda route, events=events: (
                    events.append(f"request {route.request.url[:80]}"), route.abort())
                    if not route.request.url.startswith(("file:", "data:")) else
                    route.continue_())
                page.goto(path.as_uri(), wait_until="load")
                page.wait_for_timeout(100)
                seen[name] = {
                    "events": events,
                    "title": page.evaluate("document.title"),
                    "links": page.evaluate(
                        "[...document.querySelectorAll('[href], [*|href], [src]')].map(e => "
                        "e.getAttribute('href') || e.getAttributeNS("
                        "'http://www.w3.org/1999/xlink', 'href') || e.getAttribute('src'))"),
                    "scripts": page.evaluate("document.querySelectorAll('script').length"),
                    "handlers": page.evaluate(
                        "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes])"
                        ".filter(a => a.name.startsWith('on')).length"),
                }
                page.close()
        finally:
            browser.close()
    return seen


def test_no_script_runs_and_no_javascript_link_in_any_page(hostile_pack: Path) -> None:
    seen = open_pages(hostile_pack)
    assert set(seen) == {"report.html", "tree.svg", "bridge.svg", "report.md"}
    for name, page in seen.items():
        assert page["events"] == [], (name, page["events"])
        assert page["title"] != "PWNED", name  # what every payload would set
        assert page["scripts"] == 0, name
        assert page["handlers"] == 0, name
        links = [str(link) for link in page["links"] if link is not None]
        assert not [link for link in links if "javascript:" in link.lower()], (name, links)
        # Only the page's own parts and embedded images: nothing local, nothing remote.
        assert all(link.startswith(("#", "data:", "bridge.png", "tree.png")) for link in links), \
            (name, links)


def test_hostile_text_is_still_shown_as_text(hostile_pack: Path) -> None:
    """Escaping must not drop what the data says: the labels are there, as text."""
    html = (hostile_pack / "pack" / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;document.title=" in html
    markdown = (hostile_pack / "report_md.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;" in markdown and "a|b" in markdown
    svg = (hostile_pack / "pack" / "tree.svg").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=" in svg
    csv = (hostile_pack / "pack" / "effects.csv").read_text(encoding="utf-8")
    assert "'=cmd" in csv
