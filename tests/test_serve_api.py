"""The explorer's JSON API (``kpitree serve``), through Starlette's TestClient on the real app.

Every endpoint is called; its numbers are checked against the Python API that computes them
(:func:`kpitree.explain`, :func:`kpitree.drivers`, the scenario package, :func:`kpitree.trend`),
``/api/explain`` against the CLI's ``--format json`` byte for byte as parsed JSON, a drill's
children against their parent and against the nested explanation, and bad input against the
CLI's one-line messages.
"""

from __future__ import annotations

import json
import math
import warnings

import pandas as pd
import pytest

import kpitree
from kpitree.cli.main import main
from kpitree.serve.app import create_app
from kpitree.serve.schema import SCHEMA
from kpitree.serve.session import Explorer
from tests.conftest import SAAS_DATA, SAAS_TREE

pytest.importorskip("starlette")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TREE, DATA = str(SAAS_TREE), str(SAAS_DATA)
PERIODS = {"base": "2026-09", "compare": "2026-10"}


@pytest.fixture(scope="module")
def explorer() -> Explorer:
    return Explorer.open(TREE, DATA)


@pytest.fixture(scope="module")
def client(explorer: Explorer) -> TestClient:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TestClient(create_app(explorer), base_url="http://127.0.0.1")


def cli_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one line ``kpitree`` prints on stderr for bad input (exit 2)."""
    capsys.readouterr()
    assert main(list(args)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kpitree: error: ") and "\n" not in err
    return err


def bad(client: TestClient, response_or_url: object) -> str:
    response = (client.get(response_or_url) if isinstance(response_or_url, str)
                else response_or_url)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["message"] == f"kpitree: error: {body['error']}"
    assert "\n" not in body["message"] and "Traceback" not in body["message"]
    return str(body["message"])


def saas() -> kpitree.Tree:
    return kpitree.load_tree(TREE)


# --- explain ----------------------------------------------------------------------------------

def test_explain_is_exactly_the_cli_json(client: TestClient, capsys) -> None:
    url = "/api/explain?base=2026-09&compare=2026-10&by=tier&by=region&method=shapley"
    api = client.get(url)
    assert api.status_code == 200
    capsys.readouterr()
    assert main(["explain", TREE, DATA, "--base", "2026-09", "--compare", "2026-10",
                 "--by", "tier", "region", "--method", "shapley", "--format", "json"]) == 0
    assert api.json() == json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("query", ["method=sequential", "by=", "by=region&method=lmdi"])
def test_explain_options_match_the_python_api(client: TestClient, query: str) -> None:
    options = dict(item.split("=") for item in query.split("&"))
    by = [v for k, v in (item.split("=") for item in query.split("&")) if k == "by" and v]
    expected = kpitree.explain(saas(), DATA, **PERIODS, by=by if "by" in options else None,
                               method=options.get("method", "shapley")).to_dict()
    assert client.get(f"/api/explain?base=2026-09&compare=2026-10&{query}").json() == expected


# --- drill: exact, adding up, equal to explain on the same filter -------------------------------

def contributions(doc: dict) -> dict[str, float]:
    return {c["value"]: c["total"]["contribution"] for c in doc["children"]}


def test_the_root_split_is_the_explanation_by_that_dimension(client: TestClient) -> None:
    doc = client.get("/api/drill?base=2026-09&compare=2026-10&by=tier").json()
    result = kpitree.explain(saas(), DATA, **PERIODS, by=["tier"])
    expected = {row.segment["tier"]: row.mix + row.rate for row in result.segments.itertuples()}
    assert contributions(doc) == pytest.approx(expected, abs=1e-12)
    assert math.fsum(contributions(doc).values()) == pytest.approx(result.delta, abs=1e-12)
    assert doc["node"]["contribution"] == pytest.approx(result.delta, abs=1e-12)
    business = next(c for c in doc["children"] if c["value"] == "business")
    assert (business["status"], business["mark"], business["drillable"]) == ("entered", "new",
                                                                             False)
    assert business["text"]["mix"] == "+$4.21" and business["text"]["base_value"] == "—"


def test_drilling_tier_then_region_gives_explain_by_tier_region(client: TestClient) -> None:
    doc = client.get("/api/drill?where=tier=pro&by=region").json()
    nested = kpitree.explain(saas(), DATA, **PERIODS, by=["tier", "region"])
    effects = nested.effects[nested.effects["tier"] == "pro"]
    inside = effects[effects["region"].notna()].groupby("region")["value"].sum()
    assert contributions(doc) == pytest.approx(inside.to_dict(), abs=1e-12)
    # The children add up exactly to the node's rate; its contribution is its mix + that.
    pro = nested.segments[nested.segments["level"] == "tier"].set_index(
        nested.segments[nested.segments["level"] == "tier"]["tier"]).loc["pro"]
    assert doc["node"]["mix"] == pytest.approx(pro["mix"], abs=1e-12)
    assert doc["check"]["children"] == pytest.approx(doc["node"]["rate"], abs=1e-12)
    assert doc["node"]["rate"] == pytest.approx(pro["inner_mix"] + pro["rate"], abs=1e-12)
    # ... and, split, it reads as explain --by tier region: the inner mix, then the rate.
    assert doc["node"]["split"]["mix"] == pytest.approx(
        pro["inner_mix"] + pro["inner_interaction"], abs=1e-12)
    assert doc["node"]["split"]["rate"] == pytest.approx(pro["rate"] + pro["interaction"],
                                                         abs=1e-12)
    assert doc["node"]["text"]["split_mix"] == "+$0.01"


def test_local_numbers_are_explain_on_the_filtered_rows(client: TestClient) -> None:
    doc = client.get("/api/drill?where=tier=pro&by=region").json()
    rows = pd.read_csv(DATA, dtype=str, keep_default_na=False)
    local = kpitree.explain(saas(), rows[rows["tier"] == "pro"], **PERIODS, by=["region"])
    assert doc["node"]["delta"] == local.delta
    assert doc["node"]["base"]["value"] == local.base.value
    for child, row in zip(doc["children"], local.segments.itertuples(), strict=True):
        assert child["value"] == row.segment["region"]
        assert child["local"]["mix"] == row.mix and child["local"]["rate"] == row.rate
        assert child["base"]["share"] == row.base_share
        assert child["compare"]["value"] == row.compare_value
    assert doc["check"]["local_children"] == pytest.approx(local.delta, abs=1e-12)


def test_branches_split_by_other_dimensions_still_add_up(client: TestClient) -> None:
    root = client.get("/api/drill?by=region").json()
    eu = client.get("/api/drill?where=region=EU&by=tier").json()
    nested = kpitree.explain(saas(), DATA, **PERIODS, by=["region", "tier"])
    effects = nested.effects[nested.effects["region"] == "EU"]
    inside = effects[effects["tier"].notna()].groupby("tier")["value"].sum()
    assert contributions(eu) == pytest.approx(inside.to_dict(), abs=1e-12)
    eu_row = next(c for c in root["children"] if c["value"] == "EU")
    assert eu["node"]["contribution"] == pytest.approx(eu_row["total"]["contribution"],
                                                       abs=1e-12)
    assert eu["node"]["mix"] + math.fsum(contributions(eu).values()) == pytest.approx(
        eu_row["total"]["contribution"], abs=1e-12)


def test_biggest_mover_is_the_driver_searchs_first_dimension(client: TestClient) -> None:
    doc = client.get("/api/drill?by=auto").json()
    ranking = kpitree.drivers(saas(), DATA, **PERIODS, dims=["tier", "region"], depth=1,
                              max_segments=1).ranking
    assert doc["chosen"] == "biggest mover"
    assert doc["by"] == ranking.iloc[0]["dimension"]
    assert [r["dimension"] for r in doc["ranking"]] == list(ranking["dimension"])


@pytest.mark.parametrize("method", ["sequential", "lmdi"])
def test_other_methods_drill_exactly_too(client: TestClient, method: str) -> None:
    root = client.get(f"/api/drill?by=region&method={method}").json()
    doc = client.get(f"/api/drill?where=tier=pro&by=region&method={method}").json()
    by_tier = kpitree.explain(saas(), DATA, **PERIODS, by=["tier"], method=method)
    pro = by_tier.segments.set_index(by_tier.segments["tier"]).loc["pro"]
    assert doc["node"]["contribution"] == pytest.approx(
        pro["mix"] + pro["interaction"] + pro["rate"], abs=1e-12)
    assert doc["check"]["children"] == pytest.approx(doc["node"]["rate"], abs=1e-12)
    assert math.fsum(contributions(root).values()) == pytest.approx(by_tier.delta, abs=1e-12)
    assert doc["method"] == method


# --- bad input: 400 with the CLI's line -------------------------------------------------------

def test_unknown_dimension_is_the_cli_message(client: TestClient, capsys) -> None:
    expected = cli_error(capsys, "explain", TREE, DATA, "--base", "2026-09", "--compare",
                         "2026-10", "--by", "tire")
    assert bad(client, "/api/explain?by=tire") == expected
    assert bad(client, "/api/drill?by=tire") == expected
    assert bad(client, "/api/drill?where=tire=pro&by=region") == expected


def test_period_not_in_the_data_is_the_cli_message(client: TestClient, capsys) -> None:
    expected = cli_error(capsys, "explain", TREE, DATA, "--base", "2026-13", "--compare",
                         "2026-10")
    assert bad(client, "/api/explain?base=2026-13") == expected
    assert bad(client, "/api/drill?base=2026-13&by=tier") == expected
    assert bad(client, "/api/levers?period=2026-13") == expected
    response = client.post("/api/whatif", json={"period": "2026-13", "levers": []})
    assert bad(client, response) == expected


def test_bad_lever_is_the_python_api_message(client: TestClient) -> None:
    snap = kpitree.snapshot(saas(), DATA, period="2026-10")
    for lever, change in [("atach[tier=pro]", "+5pp"), ("attach[tier=gold]", "+5pp"),
                          ("attach[tier=pro]", "lots"), ("share[tier=pro]", "+95pp")]:
        with pytest.raises(kpitree.ScenarioError) as raised:
            snap.whatif({lever: change})
        response = client.post("/api/whatif",
                               json={"levers": [{"key": lever, "value": change}]})
        assert bad(client, response) == f"kpitree: error: {raised.value}"


def test_other_bad_input_is_one_line(client: TestClient) -> None:
    assert "unknown method 'shaply'" in bad(client, "/api/explain?method=shaply")
    assert "new in 2026-10" in bad(client, "/api/drill?where=tier=business&by=region")
    assert "has no rows in 2026-08 or 2026-09" in bad(
        client, "/api/drill?base=2026-08&compare=2026-09&where=tier=business&by=region")
    assert "'gold' is not in the data" in bad(client, "/api/drill?where=tier=gold&by=region")
    assert "already split by tier" in bad(client, "/api/drill?where=tier=pro&by=tier")
    assert "not dim=value" in bad(client, "/api/drill?where=tier")
    assert "measure column" in bad(client, "/api/drill?by=active_users")
    assert "every dimension" in bad(client, "/api/drill?where=tier=pro&where=region=EU&by=auto")
    assert "not JSON" in bad(client, client.post("/api/whatif", content=b"{"))
    assert "target" in bad(client, client.post("/api/goal", json={"lever": "attach"}))
    assert "not a number" in bad(client, client.post(
        "/api/goal", json={"lever": "attach[tier=pro]", "target": "high"}))
    assert "cannot be reached" in bad(client, client.post(
        "/api/goal", json={"lever": "share[tier=pro]", "target": 1000}))
    assert "unknown format" in bad(client, "/api/export?format=docx")
    assert "positive whole number" in bad(client, "/api/drivers?depth=0")
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and "/api/schema" in missing.json()["message"]


# --- drivers, levers, what-if, goal, trend, export ------------------------------------------

def test_drivers_is_the_driver_search(client: TestClient) -> None:
    expected = kpitree.drivers(saas(), DATA, **PERIODS, dims=["tier", "region"]).to_dict()
    assert client.get("/api/drivers?dim=tier&dim=region").json() == expected


def test_levers_have_the_python_apis_values_and_bounds(client: TestClient) -> None:
    doc = client.get("/api/levers?period=2026-10").json()
    levers = {lever["key"]: lever for lever in doc["levers"]}
    snap = kpitree.snapshot(saas(), DATA, period="2026-10")
    found = kpitree.goal_seek(snap, "attach[tier=pro]", target=56.0)
    assert levers["attach[tier=pro]"]["current"] == pytest.approx(found.current, abs=1e-15)
    assert (levers["attach[tier=pro]"]["min"], levers["attach[tier=pro]"]["max"]) == (0.0, 1.0)
    assert levers["share[tier=pro]"]["max"] == 1.0 and levers["share[tier=pro]"]["text"] \
        == "13.6 %"
    assert levers["base_pu[tier=pro]"]["max"] is None  # ≥ 0, no upper bound
    assert levers["base_pu[tier=pro]"]["text"] == "$80.36"
    assert {lever["segment"].get("tier") for lever in doc["levers"]} == {
        None, "business", "enterprise", "pro", "starter", "team"}


def test_whatif_is_the_scenario_by_lever(client: TestClient) -> None:
    levers = [("base_pu[tier=pro]", "+10%"), ("attach[tier=pro]", "+5pp")]
    doc = client.post("/api/whatif", json={
        "period": "2026-10", "levers": [{"key": k, "value": v} for k, v in levers]}).json()
    scenario = kpitree.snapshot(saas(), DATA, period="2026-10").whatif(dict(levers))
    assert doc["value"] == scenario.value and doc["delta"] == scenario.delta
    assert [s["delta"] for s in doc["bridge"]] == list(scenario.by_lever()["delta"])
    assert math.fsum(s["delta"] for s in doc["bridge"]) == pytest.approx(doc["delta"],
                                                                         abs=1e-12)
    assert doc["explanation"] == scenario.explanation.to_dict()
    assert [s["change"] for s in doc["bridge"]] == ["base_pu[tier=pro] +10%",
                                                    "attach[tier=pro] +5pp"]
    assert doc["bridge"][0]["after"] == pytest.approx(doc["bridge"][0]["before"] * 1.1)
    assert doc["bridge"][1]["text"]["label"] == "attach[tier=pro]: 32.4 % → 37.4 %"
    assert doc["text"]["actual"] == "$55.43"


def test_goal_is_goal_seek(client: TestClient) -> None:
    doc = client.post("/api/goal", json={"lever": "share[tier=pro]", "target": 56}).json()
    found = kpitree.goal_seek(kpitree.snapshot(saas(), DATA, period="2026-10"),
                              "share[tier=pro]", target=56.0)
    assert doc["value"] == found.value and doc["current"] == found.current
    assert doc["scenario"]["value"] == pytest.approx(56.0, abs=1e-8)
    assert doc["text"]["target"] == "$56.00"


def test_trend_is_the_chained_series(client: TestClient) -> None:
    doc = client.get("/api/trend?start=2026-06&end=2026-10").json()
    series = kpitree.trend(saas(), DATA, start="2026-06", end="2026-10")
    expected = series.to_dict()
    assert [row["value"] for row in doc["values"]] == [row["value"] for row in
                                                       expected["values"]]
    assert doc["chained"] == expected["chained"] and doc["delta"] == expected["delta"]
    assert doc["values"][-1]["text"]["delta"] == "+$4.13"


def test_export_json_and_html(client: TestClient) -> None:
    response = client.get("/api/export?format=json&by=region&where=tier=pro")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == \
        'attachment; filename="saas_arpu_2026-09_2026-10_tier-pro.json"'
    rows = pd.read_csv(DATA, dtype=str, keep_default_na=False)
    local = kpitree.explain(saas(), rows[rows["tier"] == "pro"], **PERIODS, by=["region"])
    assert response.json() == {**local.to_dict(), "where": [{"dim": "tier", "value": "pro"}]}
    page = client.get("/api/export?format=html&by=tier&by=region")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "ARPU rose by $4.13" in page.text and "<script" not in page.text


def test_pptx_export_is_the_deck_with_the_whatif(client: TestClient) -> None:
    assert "pptx" in client.get("/api/meta").json()["exports"]
    levers = json.dumps([{"key": "base_pu[tier=pro]", "value": "+10%"}])
    response = client.get("/api/export", params={"format": "pptx", "by": "tier",
                                                 "levers": levers})
    assert response.status_code == 200 and response.content[:2] == b"PK"
    pptx = pytest.importorskip("pptx")
    import io

    deck = pptx.Presentation(io.BytesIO(response.content))
    titles = [shape.text_frame.text for slide in deck.slides for shape in slide.shapes
              if shape.has_text_frame]
    scenario = kpitree.snapshot(saas(), DATA, period="2026-10").whatif(
        {"base_pu[tier=pro]": "+10%"})
    assert "What-if on 2026-10: ARPU $55.43 → $56.52, +$1.09 (+2.0 %)" in titles
    assert f"{scenario.value:.2f}" == "56.52"
    document = client.get("/api/export", params={"format": "json", "levers": levers}).json()
    assert document["scenario"]["value"] == scenario.value
    assert "levers: give JSON" in bad(client, "/api/export?format=json&levers=oops")


def test_every_route_is_in_the_schema(client: TestClient, explorer: Explorer) -> None:
    app = create_app(explorer)
    routes = {r.path for r in app.routes if r.path.startswith("/api/")}
    assert routes == {e["path"] for e in SCHEMA["endpoints"]}
    assert client.get("/api/schema").json() == SCHEMA


def test_meta_and_the_page(client: TestClient) -> None:
    meta = client.get("/api/meta").json()
    assert meta["dimensions"] == ["tier", "region"]
    assert (meta["base"], meta["compare"], meta["periods"][0]) == ("2026-09", "2026-10",
                                                                   "2025-11")
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert client.get("/static/app.js").status_code == 200


def test_the_page_is_packaged() -> None:
    """The static page ships in the wheel (package data) and needs nothing from a CDN."""
    import tomllib

    from kpitree.serve.app import STATIC
    from tests.conftest import ROOT

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "serve/static/*" in config["tool"]["setuptools"]["package-data"]["kpitree"]
    assert sorted(p.name for p in STATIC.iterdir()) == ["app.css", "app.js", "index.html"]
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, path.name
        assert "innerHTML" not in text and "eval(" not in text, path.name


def test_only_loopback_host_names_are_answered(explorer: Explorer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rebound = TestClient(create_app(explorer), base_url="http://attacker.example")
    assert rebound.get("/api/meta").status_code == 400


def test_dimensions_are_the_columns_that_are_not_measures() -> None:
    rows = pd.read_csv(DATA, dtype=str, keep_default_na=False)
    rows["refunds"] = [f"{i * 1.5:.2f}" for i in range(len(rows))]  # an unused measure
    rows["plan_id"] = rows["tier"].map({t: str(i) for i, t in enumerate(sorted(set(rows.tier)))})
    assert Explorer.open(TREE, rows).dimensions == ("tier", "region", "plan_id")
    assert Explorer.open(TREE, rows, dims=["region"]).dimensions == ("region",)
    with pytest.raises(kpitree.DataError, match="period column"):
        Explorer.open(TREE, rows, dims=["period"])


# --- the command and the notebook -------------------------------------------------------------

def test_serve_checks_its_input_before_listening(capsys) -> None:
    err = cli_error(capsys, "serve", TREE, DATA, "--base", "2026-13", "--no-browser")
    assert "period '2026-13' is not in the data" in err
    assert main(["serve", "--help"]) == 0
    assert "--no-browser" in capsys.readouterr().out


def test_serve_reports_a_taken_port(capsys) -> None:
    from kpitree.serve.server import bind

    taken = bind("127.0.0.1", 0)
    try:
        port = str(taken.getsockname()[1])
        err = cli_error(capsys, "serve", TREE, DATA, "--port", port, "--no-browser")
        assert f"--port {port}: cannot listen there" in err
    finally:
        taken.close()


def test_kpitree_serve_serves_and_warns_off_loopback() -> None:
    """The real command in a subprocess: the warning, the URL, the API answering, Ctrl-C."""
    import signal
    import subprocess
    import sys
    import urllib.request

    from tests.conftest import ROOT

    command = [sys.executable, "-m", "kpitree", "serve", TREE, DATA, "--host", "0.0.0.0",
               "--port", "0", "--no-browser"]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        warning = process.stderr.readline()
        assert warning.startswith("kpitree: warning: --host 0.0.0.0 lets other machines")
        ready = process.stderr.readline()
        assert ready.startswith("kpitree explorer: ARPU by plan tier on ")
        url = ready.split(" at ")[1].split(" ")[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith(
            "/?base=2026-09&compare=2026-10")
        with urllib.request.urlopen(url.split("?")[0] + "api/meta", timeout=20) as answer:
            assert json.load(answer)["tree"] == "saas_arpu"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert process.returncode in (0, 130)


def test_hosts_and_loopback() -> None:
    from kpitree.serve.server import hosts_for, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert hosts_for("0.0.0.0") == ["*"] and "192.168.1.4" in hosts_for("192.168.1.4")


def test_explore_serves_the_result_inline() -> None:
    import urllib.request

    result = kpitree.explain(saas(), DATA, **PERIODS, method="sequential")
    with pytest.raises(kpitree.KpitreeError, match="needs the data"):
        kpitree.explore(result)
    view = kpitree.explore(result, data=DATA)
    try:
        assert view.url.startswith("http://127.0.0.1:")
        assert "method=sequential" in view.url and "base=2026-09" in view.url
        assert view._repr_html_().startswith('<iframe src="http://127.0.0.1:')
        with urllib.request.urlopen(view.url.split("?")[0] + "api/meta", timeout=10) as answer:
            assert json.load(answer)["compare"] == "2026-10"
    finally:
        view.stop()
