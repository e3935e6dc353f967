"""Many segments: the JSON is streamed from columns, byte for byte ``json.dumps(indent=2)``.

The columnar writer (:class:`kpitree.core.jsontext.Records`) is checked against the standard
library on results whose rows cross chunk boundaries, with nested dimensions (keys left out per
row), undefined values (null), every method, and on hand-made columns of every field kind.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from kpitree.core import jsontext
from kpitree.core.attribution import explain
from kpitree.core.tree import load_tree


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsontext, "CHUNK", 3)  # every result crosses many chunk boundaries


def _standard(document: object) -> str:
    return json.dumps(document, indent=2, allow_nan=False)


@pytest.mark.parametrize("method", ["shapley", "sequential", "lmdi"])
@pytest.mark.parametrize("by", [["tier"], ["tier", "region"], []])
def test_streamed_json_is_json_dumps_of_to_dict(small_chunks: None, method: str,
                                                by: list[str]) -> None:
    result = explain(load_tree("trees/saas_arpu.yaml"), "data/saas_monthly.csv",
                     base="2025-11", compare="2026-10", by=by, method=method)
    stream = io.StringIO()
    jsontext.write(result.json_document(), stream)
    expected = _standard(result.to_dict())
    assert stream.getvalue() == expected + "\n"
    assert result.to_json() == expected
    # to_dict reads the streamed text back, so the lines above agree by construction; the
    # document is checked here against the result's own frames, built without the writer.
    document = json.loads(stream.getvalue())
    assert document["delta"] == result.delta and document["totals"] == result.totals
    effects = result.effects
    assert [e["value"] for e in document["effects"]] == (effects["value"] + 0.0).tolist()
    assert [e["kind"] for e in document["effects"]] == effects["kind"].tolist()
    assert [e["label"] for e in document["effects"]] == effects["label"].tolist()
    assert [e["segment"] for e in document["effects"]] == [
        {d: row[d] for d in by if isinstance(row[d], str)} for _, row in effects.iterrows()]
    segments = result.segments
    assert len(document["segments"]) == len(segments)
    for entry, (_, row) in zip(document["segments"], segments.iterrows(), strict=True):
        assert entry["segment"] == row["segment"] and entry["status"] == row["status"]
        assert entry["base"]["share"] == row["base_share"]
        assert entry["compare"]["weight"] == row["compare_weight"]
        assert entry["effects"]["mix"] == row["mix"] + 0.0
        parts = [row[c] for c in ("mix", "inner_mix", "rate", "interaction",
                                  "inner_interaction") if c in row and row[c] == row[c]]
        assert entry["effects"]["total"] == math.fsum(parts)


def test_undefined_values_are_null(small_chunks: None) -> None:
    # the business tier enters in 2026-10: its base value is undefined
    result = explain(load_tree("trees/saas_arpu.yaml"), "data/saas_monthly.csv",
                     base="2026-09", compare="2026-10")
    document = result.to_dict()
    assert [s["status"] for s in document["segments"] if s["base"]["value"] is None] == [
        "entered"]
    assert result.to_json() == _standard(document)


def test_records_of_every_field_kind_match_json_dumps(small_chunks: None) -> None:
    values = [0.1, -0.0, 1e-7, float("nan"), 2.5e300, 0.0, 3.0]
    dicts = [{"a": "x"}, {}, {"a": "y", "b": 1}, {"a": "é\n"}, {"b": None}, {"a": "x"}, {}]
    present = [True, False, True, True, False, True, True]
    paths = [("arpu",), ("arpu", "a%s"), ("arpu",), (), ("arpu",), ("x", "y"), ("arpu",)]
    records = jsontext.Records(len(values), [
        ("f", jsontext.Floats(values, nulls=True)),
        ("zeros", jsontext.Floats(np.zeros(len(values)))),
        ("d", jsontext.Dicts(dicts)),
        ("maybe%", jsontext.Values(["v"] * len(values), present=present)),
        ("path", jsontext.Values(paths)),
        ("pair", jsontext.Arr([jsontext.Floats(np.arange(7.0)), jsontext.Values([True] * 7)])),
        ("o", jsontext.Obj([("k", jsontext.Values(list(range(7)),
                                                  present=[False] * 7))])),
    ])
    expected = [
        {"f": None if v != v else v, "zeros": 0.0, "d": d, **({"maybe%": "v"} if p else {}),
         "path": list(path), "pair": [float(i), True], "o": {}}
        for i, (v, d, p, path) in enumerate(zip(values, dicts, present, paths, strict=True))]
    document = {"x": 1, "rows": records, "nested": [{"rows": records}]}
    plain = {"x": 1, "rows": expected, "nested": [{"rows": expected}]}
    assert jsontext.dumps(document) == _standard(plain)
    assert jsontext.plain(document) == json.loads(_standard(plain))
    assert jsontext.dumps({"rows": jsontext.Records(0, [])}) == _standard({"rows": []})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_value_json_cannot_hold_is_refused_before_anything_is_written(bad: float) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        jsontext.Floats([1.0, bad])
    if bad != bad:
        assert jsontext.Floats([1.0, bad], nulls=True).texts(0, 2, "\n", "  ")[0] == [
            "1.0", "null"]
    else:
        with pytest.raises(ValueError, match="not JSON compliant"):
            jsontext.Floats([1.0, bad], nulls=True)


def test_many_segments_through_the_cli_are_streamed_chunk_by_chunk(tmp_path, monkeypatch,
                                                                   capsys) -> None:
    from kpitree.cli.main import main

    rng = np.random.default_rng(1)
    lines = ["period,tier,users,revenue"]
    for period in ("2026-09", "2026-10"):
        for i in range(250):
            users = int(rng.integers(0, 50))  # some segments empty in one period
            lines.append(f"{period},s{i:03d},{users},{users * rng.uniform(1, 9):.2f}")
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "tree.yaml").write_text(
        "name: t\nroot: arpu\nweight: users\nsegments: [tier]\nnodes:\n"
        "  arpu: {formula: revenue / users}\n  revenue: {column: revenue}\n"
        "  users: {column: users}\n")
    writes: list[int] = []
    monkeypatch.setattr(jsontext, "CHUNK", 40)
    flush = jsontext._Out.flush

    def counted(self: jsontext._Out) -> None:
        writes.append(sum(map(len, self.parts)))
        flush(self)

    monkeypatch.setattr(jsontext._Out, "flush", counted)
    code = main(["explain", str(tmp_path / "tree.yaml"), str(tmp_path / "data.csv"),
                 "--base", "2026-09", "--compare", "2026-10", "--format", "json"])
    out = capsys.readouterr()
    assert code == 0 and out.err == ""
    result = explain(load_tree(tmp_path / "tree.yaml"), tmp_path / "data.csv",
                     base="2026-09", compare="2026-10")
    assert out.out == _standard(result.to_dict()) + "\n"
    # 250 segments and 500 effects in chunks of 40: the text went out in many small writes
    assert len(writes) >= 19 and max(writes) < len(out.out) / 5


def test_csv_is_written_in_chunks_with_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from kpitree.cli import output
    from kpitree.core.safety import csv_safe, terminal

    frame = pd.DataFrame({"segment": ["pro", "=cmd()", "a\x1b[2J", "-1.5", "x,y", "t\tz", "ok"],
                          "value": [0.1, -0.0, 1e-7, 2.5, 3.0, 4.0, 5.0]})
    whole = terminal(csv_safe(frame).to_csv(index=False))
    for chunk in (2, 3, 100):
        monkeypatch.setattr(output, "CSV_CHUNK", chunk)
        stream = io.StringIO()
        output.write_csv(frame, stream)
        assert stream.getvalue() == whole
    assert "'=cmd()" in whole and "\\x1b[2J" in whole and "\x1b" not in whole
    stream = io.StringIO()
    output.write_csv(frame.iloc[:0], stream)
    assert stream.getvalue() == "segment,value\n"
