"""The catalogue of hostile inputs: one file per case in ``tests/hostile/cases/``, run by the CLI.

Each case (``cases/<name>.yaml``) states the promise it checks (``promise:``, also listed in
``tests/hostile/README.md``), the command line (``args:``), the files it needs (``files:``,
written into a fresh folder; a default ``tree.yaml`` and ``data.csv`` are there unless
replaced), the exit code (``exit:``) and, for a refused input, a pattern the one stderr line
must match (``culprit:``: the file, node, column or row named). Every case is run in-process
through :func:`tests.conftest.run_cli` and checked for:

- the exit code, and no traceback on stderr;
- bad input (exit 2): exactly one line, ``kpitree: error: …``, matching ``culprit``;
- no file written or changed in the folder, except the ``writes:`` the case expects;
- nothing live in any output: stdout and stderr carry no control characters; written SVG and
  HTML carry no script, no event handler, no ``javascript:`` link and no image of a local file;
  written Markdown carries no raw HTML tag from the data and its table rows keep their cells;
  written CSV (and ``--format csv`` on stdout) has no text cell a spreadsheet would run as a
  formula.

Binary inputs are built by name (``parquet:`` columns, ``raw:`` a mutated generated event log),
so the case files stay readable text.
"""

from __future__ import annotations

import csv
import glob as globbing
import hashlib
import io
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import SIMPLE_TREE, run_cli

HERE = Path(__file__).resolve().parent
CASES = sorted((HERE / "cases").glob("*.yaml"))
DEFAULT_DATA = ("period,tier,users,revenue\n1,a,10,100\n2,a,12,130\n1,b,5,50\n2,b,5,55\n")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
RAW_TAG = re.compile(r"<(img|script|a|iframe|svg|b|u|i|div|span)\b", re.IGNORECASE)
FORMULA = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def load_case(path: Path) -> dict[str, Any]:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(case, dict) and case.get("promise") and case.get("args"), path.name
    return case


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` → a digest of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_parquet(path: Path, spec: dict[str, Any]) -> None:
    """A Parquet file from ``columns: [[name, [values…]], …]`` (names may repeat)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [name for name, _values in spec["columns"]]
    arrays = [pa.array(values) for _name, values in spec["columns"]]
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path)


@pytest.fixture(scope="session")
def event_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated event log (two months) that raw cases copy and break."""
    pytest.importorskip("duckdb")
    from kpitree.io.generate import generate

    folder = tmp_path_factory.mktemp("log") / "gen"
    generate(folder, events=2_000, months=2, seed=3)
    return folder


def write_raw(folder: Path, how: str, log: Path) -> None:
    """``folder/events`` and ``folder/users`` from ``log``, broken as ``how`` says."""
    import pandas as pd

    events = pd.concat(pd.read_parquet(p) for p in sorted((log / "events").glob("*.parquet")))
    users = pd.concat(pd.read_parquet(p) for p in sorted((log / "users").glob("*.parquet")))
    for frame in (events, users):
        for column in frame.select_dtypes("category"):
            frame[column] = frame[column].astype(str)
    amount = events.columns.get_loc("amount_cents")
    if how == "text_amounts":
        events["amount_cents"] = events["amount_cents"].astype(str)
    elif how == "half_cents":
        events["amount_cents"] = events["amount_cents"].astype(float)
        events.iloc[::2, amount] += 0.5
    elif how == "overflow":
        events.iloc[:3, amount] = 2**62
        events.iloc[:3, events.columns.get_loc("user_id")] = events.iloc[0]["user_id"]
    elif how == "user_id_type":
        events["user_id"] = events["user_id"].astype(str)
    elif how == "segment_escape":
        users["tier"] = users["tier"].astype(str) + "\x1b]0;pwned\x07"
    elif how != "intact":
        raise AssertionError(f"unknown raw case {how!r}")
    (folder / "events").mkdir(parents=True)
    (folder / "users").mkdir(parents=True)
    events.to_parquet(folder / "events" / "events.parquet")
    users.to_parquet(folder / "users" / "users.parquet")


def prepare(case: dict[str, Any], folder: Path, request: pytest.FixtureRequest) -> None:
    (folder / "tree.yaml").write_text(SIMPLE_TREE, encoding="utf-8")
    (folder / "data.csv").write_text(DEFAULT_DATA, encoding="utf-8")
    for name, content in (case.get("files") or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict) and "parquet" in content:
            write_parquet(path, content["parquet"])
        elif isinstance(content, dict) and "copy" in content:
            source = Path(__file__).resolve().parents[2] / content["copy"]
            shutil.copy(source, path)
        else:
            path.write_bytes(str(content).encode("utf-8"))
    if case.get("raw"):
        write_raw(folder / "raw", case["raw"], request.getfixturevalue("event_log"))
    for command in case.get("before") or []:  # e.g. an earlier pack the case must not change
        assert run_cli(*command, cwd=folder).returncode == 0, command


def check_nothing_live(folder: Path, written: list[str], stdout: str, stderr: str) -> None:
    assert not CONTROL.search(stdout), f"control character on stdout: {stdout!r:.300}"
    assert not CONTROL.search(stderr), f"control character on stderr: {stderr!r:.300}"
    for name in written:
        path = folder / name
        if path.suffix in (".svg", ".html"):
            live = LiveMarkup.find(path.read_text(encoding="utf-8"))
            assert live == [], f"{name}: live content {live[:3]}"
        elif path.suffix == ".md":
            text = path.read_text(encoding="utf-8")
            # Code spans show their content literally; elsewhere a tag would be live HTML.
            prose = re.sub(r"(`+)(.+?)\1", "", text)
            assert RAW_TAG.search(prose) is None, f"{name}: raw HTML tag from the data"
            assert not re.search(r"(?<!\\)\]\(\s*javascript", text, re.IGNORECASE), name
            check_markdown_tables(text, name)
        elif path.suffix == ".csv":
            check_csv(path.read_text(encoding="utf-8"), name)


class LiveMarkup(HTMLParser):
    """What in an SVG or HTML page could run or reach out: kpitree's own pages have none.

    Text and comments are fine (escaped data is text); a tag from the data would be parsed as
    a tag here and reported: a script, a link, an embedded object or foreign content, an event
    handler, a ``javascript:`` value, or a reference that is not internal (``#id``) or an
    embedded image (``data:``).
    """

    LIVE_TAGS = frozenset({"script", "a", "iframe", "object", "embed", "foreignobject", "image",
                           "use"})
    URL_ATTRIBUTES = frozenset({"href", "xlink:href", "src", "action", "formaction", "data",
                                "poster", "background", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    @classmethod
    def find(cls, text: str) -> list[str]:
        parser = cls()
        parser.feed(text)
        parser.close()
        return parser.found

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            value = (value or "").strip()
            if key.startswith("on"):
                self.found.append(f"<{tag} {key}=…>")
            if key in self.URL_ATTRIBUTES and "javascript:" in value.lower().replace(" ", ""):
                self.found.append(f"<{tag} {key}={value[:60]}>")
            if key in ("href", "xlink:href", "src") and not value.startswith(
                    ("#", "data:image/png;base64,", "data:image/svg+xml;base64,", "data:,")):
                self.found.append(f"<{tag} {key}={value[:60]}>")
        if tag in self.LIVE_TAGS and not (tag == "use" and all(
                (v or "").startswith("#") for k, v in attrs if k.endswith("href"))):
            self.found.append(f"<{tag}>")

    handle_startendtag = handle_starttag


def check_markdown_tables(text: str, name: str) -> None:
    """Every row of a Markdown table has as many cells as its header (``|`` kept in cells)."""
    width = None
    for line in text.splitlines():
        if not line.startswith("|"):
            width = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line)) - 1
        if width is None:
            width = cells
        assert cells == width, f"{name}: a table row lost its shape: {line!r}"


def check_csv(text: str, name: str) -> None:
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert not (cell.startswith(FORMULA) and not NUMBER.fullmatch(cell)), \
                f"{name}: formula cell {cell!r}"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_hostile_case(path: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    case = load_case(path)
    folder = tmp_path / "work"
    folder.mkdir()
    prepare(case, folder, request)
    before = snapshot(folder)
    outside_before = snapshot(tmp_path)
    result = run_cli(*case["args"], cwd=folder)
    expected = int(case.get("exit", 2))
    assert result.returncode == expected, (result.returncode, result.stderr, result.stdout[:500])
    assert "Traceback" not in result.stderr
    if expected == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("kpitree: error: "), result.stderr
        assert re.search(case["culprit"], lines[0]), (case["culprit"], lines[0])
        for forbidden in case.get("secret") or []:
            assert forbidden not in result.stderr, f"secret {forbidden!r} printed"
    after = snapshot(folder)
    writes = [str(w) for w in case.get("writes") or []]
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    unexpected = [k for k in changed if not any(k == w or k.startswith(w.rstrip("/") + "/")
                                                for w in writes)]
    assert unexpected == [], f"files written or changed: {unexpected}"
    # Nothing beside the working folder either (paths made from data stay inside it).
    outside_after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("work/")}
    assert outside_after == {k: v for k, v in outside_before.items()
                             if not k.startswith("work/")}
    for pattern in case.get("absent") or []:  # absolute paths a hostile name aimed at
        assert globbing.glob(pattern) == [], f"written outside the folder: {pattern}"
    for pattern in case.get("stdout") or []:
        assert re.search(pattern, result.stdout), (pattern, result.stdout[:500])
    for pattern in case.get("stderr") or []:
        assert re.search(pattern, result.stderr), (pattern, result.stderr[:500])
    for name, patterns in (case.get("contains") or {}).items():
        text = (folder / name).read_text(encoding="utf-8")
        for pattern in patterns:
            assert re.search(pattern, text), (name, pattern)
    outputs = [k for k in after if any(k == w or k.startswith(w.rstrip("/") + "/")
                                       for w in writes)]
    check_nothing_live(folder, outputs, result.stdout, result.stderr)
    if "--format" in case["args"] and case["args"][case["args"].index("--format") + 1] == "csv":
        check_csv(result.stdout, "stdout")


def test_catalogue_has_at_least_60_cases() -> None:
    assert len(CASES) >= 60


def test_readme_table_lists_every_case_with_its_promise() -> None:
    """The table in tests/hostile/README.md names each case and the promise it checks."""
    table = (HERE / "README.md").read_text(encoding="utf-8")
    missing = []
    for path in CASES:
        promise = load_case(path)["promise"].strip()
        if f"| `{path.stem}` | {promise} |" not in table:
            missing.append(path.stem)
    assert missing == [], f"cases missing from tests/hostile/README.md: {missing}"
