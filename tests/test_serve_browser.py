"""The explorer in a real browser: the page drives the API, and shows the engine's numbers.

The server runs in a thread on a free loopback port; Playwright drives Debian's headless
Chromium (``/usr/bin/chromium``) launched exactly as the report's browser test does. The test
opens the page at 1280 × 800, drills October into tier then region, moves a lever (a pro price
rise) and adds an upsell, seeks a goal, shows the chained month-over-month bridge and exports
JSON, the review pack and the slides — checking the figures on the page against the Python API,
that no console error appeared and that no request left 127.0.0.1. A screenshot of each step
goes to ``test-artifacts/`` (and to ``$KPITREE_SHOTS`` when set).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import kpitree
from kpitree.present.wording import Numbers
from kpitree.serve.server import Running, start
from kpitree.serve.session import Explorer
from tests.conftest import ROOT, SAAS_DATA, SAAS_TREE
from tests.test_report import CHROMIUM, CHROMIUM_ARGS

pytest.importorskip("uvicorn")
ARTIFACTS = ROOT / "test-artifacts"
TREE, DATA = str(SAAS_TREE), str(SAAS_DATA)
PERIODS = {"base": "2026-09", "compare": "2026-10"}


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start(Explorer.open(TREE, DATA))
    yield running
    running.stop()


def shot(page: object, name: str) -> None:
    path = ARTIFACTS / f"serve_{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    if os.environ.get("KPITREE_SHOTS"):
        target = Path(os.environ["KPITREE_SHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)


def test_drill_whatif_goal_trend_export_in_chromium(server: Running, tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed: scripts/install.sh should install it")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    tree = kpitree.load_tree(TREE)
    numbers = Numbers.of(tree)
    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)

    def request(req: object) -> None:
        url = req.url  # type: ignore[attr-defined]
        if url.startswith(("blob:", "data:", "file:")):
            return
        if urlsplit(url).hostname != "127.0.0.1":
            problems.append(f"request leaving the machine: {url}")

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800},
                                    accept_downloads=True)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", request)
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(server.url + "?base=2026-09&compare=2026-10", wait_until="load")

            # 1. The October move, split by tier (the tree's segments) on opening.
            page.wait_for_selector('[data-where="tier=pro"]')
            by_tier = kpitree.explain(tree, DATA, **PERIODS, by=["tier"])
            assert page.locator("#headline").inner_text() == (
                "ARPU $51.29 → $55.43, +$4.13 (+8.1 %), 2026-09 → 2026-10")
            for row in by_tier.segments.itertuples():
                cell = page.locator(f'[data-where="tier={row.segment["tier"]}"] .bar .num')
                assert cell.inner_text() == numbers.change(row.mix + row.rate)
            assert "new" in page.locator('[data-where="tier=business"] .badge').inner_text()
            assert page.evaluate("getComputedStyle(document.body).fontSize") == "16px"
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280
            shot(page, "1_open")

            # 2. Drill: the total by tier (asked again through the menu), then pro by region.
            page.locator('[data-where=""]').click()
            shot(page, "2_tier_menu")
            page.locator('.menu [data-split="tier"]').click()
            page.wait_for_selector('[data-where="tier=pro"]')
            page.locator('[data-where="tier=pro"]').click()
            shot(page, "3_pro_menu")
            page.locator('.menu [data-split="region"]').click()
            page.wait_for_selector('[data-where="tier=pro|region=EU"]')
            nested = kpitree.explain(tree, DATA, **PERIODS, by=["tier", "region"])
            pro = nested.effects[(nested.effects["tier"] == "pro")
                                 & nested.effects["region"].notna()]
            for region, value in pro.groupby("region")["value"].sum().items():
                row = page.locator(f'[data-where="tier=pro|region={region}"]')
                assert row.locator(".bar .num").inner_text() == numbers.change(value)
                assert float(row.get_attribute("data-contribution")) == pytest.approx(
                    value, abs=1e-12)
            # Split, the pro row reads as explain --by tier region: its mix and the region
            # mix within it, then the rate within tier × region.
            tiers = nested.segments[nested.segments["level"] == "tier"]
            seg = tiers[tiers["tier"] == "pro"].iloc[0]
            cells = page.locator('[data-where="tier=pro"] > .num')
            assert cells.nth(2).inner_text().split("\n") == [
                numbers.change(seg["mix"] + seg["interaction"]),
                f"region {numbers.change(seg['inner_mix'] + seg['inner_interaction'])}"]
            assert cells.nth(3).inner_text() == numbers.change(seg["rate"])
            shot(page, "3_region")

            # 3. What-if on October: a pro price rise on the slider, then an upsell.
            page.select_option("#lever-segment", "tier=pro")
            slider = page.locator('input[data-lever="base_pu[tier=pro]"]')
            slider.fill("88.4")
            price = slider.input_value()
            page.wait_for_selector("#scenario p")
            page.fill("#lever-key", "attach[tier=pro]")
            page.fill("#lever-value", "+5pp")
            page.click("#lever-form button")
            page.wait_for_selector("#scenario .bridge .step:nth-child(2)")
            scenario = kpitree.snapshot(tree, DATA, period="2026-10").whatif(
                [("base_pu[tier=pro]", f"={price}"), ("attach[tier=pro]", "+5pp")])
            result = page.locator("#scenario p.result")
            assert float(result.get_attribute("data-value")) == pytest.approx(scenario.value,
                                                                              abs=1e-12)
            assert numbers.value(scenario.value) in result.inner_text()
            steps = page.locator("#scenario .step")
            for i, delta in enumerate(scenario.by_lever()["delta"]):
                assert numbers.change(delta) in steps.nth(i).inner_text()
            shot(page, "4_whatif")

            # 4. Goal seek: the share of pro that takes October's ARPU to $58.
            page.select_option("#goal-lever", "share[tier=pro]")
            page.fill("#goal-target", "58")
            page.click("#goal-form button")
            page.wait_for_selector("#goal-result p")
            found = kpitree.goal_seek(kpitree.snapshot(tree, DATA, period="2026-10"),
                                      "share[tier=pro]", target=58.0)
            goal = page.locator("#goal-result p")
            assert float(goal.get_attribute("data-value")) == pytest.approx(found.value,
                                                                            abs=1e-12)
            assert "reaches $58.00" in goal.inner_text()
            shot(page, "5_goal")

            # 5. The chained month-over-month bridge.
            page.click("#trend-load")
            page.wait_for_selector('#trend-table tr[data-period="2026-10"]')
            series = kpitree.trend(tree, DATA)
            october = page.locator('#trend-table tr[data-period="2026-10"]').inner_text()
            assert numbers.change(float(series.values["delta"].iloc[-1])) in october
            shot(page, "6_trend")

            # 6. Export: the view as JSON, the review pack, the slides with the what-if.
            with page.expect_download() as download:
                page.click("#export-json")
            view = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
            assert [d["label"] for d in view["drills"]] == ["the total", "tier=pro"]
            assert view["scenario"]["value"] == pytest.approx(scenario.value, abs=1e-12)
            with page.expect_download() as download:
                page.click("#export-html")
            assert download.value.suggested_filename == "saas_arpu_2026-09_2026-10.html"
            pack = Path(download.value.path()).read_text(encoding="utf-8")
            assert "ARPU rose by $4.13" in pack
            with page.expect_download() as download:
                page.click("#export-pptx")
            assert Path(download.value.path()).read_bytes()[:2] == b"PK"
            shot(page, "7_export")
            assert page.locator("#error").is_hidden()
            exported = tmp_path / "pack.html"
            exported.write_text(pack, encoding="utf-8")
            report = browser.new_page(viewport={"width": 1280, "height": 800},
                                      java_script_enabled=False)
            report.on("request", request)
            report.goto(exported.as_uri(), wait_until="load")
            shot(report, "8_pack")
            report.close()

            # 7. The goal as the scenario, biggest mover on another branch, other periods.
            page.click("#goal-apply")
            sync_api.expect(page.locator("#scenario p.result strong")).to_have_text("$58.00")
            assert page.locator("#lever-list li").count() == 1
            page.locator('[data-where="tier=team"]').click()
            page.locator('.menu [data-split="auto"]').click()
            page.wait_for_selector('[data-where="tier=team|region=EU"]')
            assert "(biggest mover)" in page.locator(
                '[data-split-of="tier=team"]').inner_text()
            page.select_option("#base", "2026-08")
            page.select_option("#compare", "2026-09")
            sync_api.expect(page.locator("#headline")).to_contain_text("2026-08 → 2026-09")
            page.wait_for_selector('[data-where="tier=team|region=EU"]')
            august = kpitree.explain(tree, DATA, base="2026-08", compare="2026-09")
            assert page.locator("#headline").inner_text().startswith(
                f"ARPU {numbers.value(august.base.value)} → "
                f"{numbers.value(august.compare.value)}, {numbers.change(august.delta)}")
            shot(page, "9_other_periods")
        finally:
            browser.close()
    assert problems == []
