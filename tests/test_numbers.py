"""Numbers people read (issue 10 §5): one number of decimals per table from its own values,
K/M/B for large money, the tree's ``decimals:``, ``n/m`` where mix and rate offset; JSON and
CSV at full precision with no ``-0.0`` and the two periods on every effect row."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

import kpitree
from kpitree.cli.main import main
from kpitree.core.errors import TreeError
from kpitree.core.formatting import format_change, format_value, table_decimals
from kpitree.present.tree_view import TreeView


def tree(unit: str, extra: str = "") -> kpitree.Tree:
    return kpitree.tree_from_text(f"""
root: arpu
weight: users
segments: [tier]
unit: {unit}
{extra}
nodes:
  arpu: {{label: ARPU, formula: revenue / users}}
  users: {{column: users}}
  revenue: {{column: revenue}}
""")


def small_change() -> pd.DataFrame:
    """ARPU ~€10 moving by −€0.038: mix −€0.024, rate −€0.014 (both round to cents badly)."""
    return pd.DataFrame([("p0", "a", 100, 1000.0), ("p0", "b", 100, 1100.0),
                         ("p1", "a", 104, 1039.5), ("p1", "b", 96, 1055.0)],
                        columns=["period", "tier", "users", "revenue"])


def test_small_changes_get_the_decimals_that_make_them_add_up():
    result = kpitree.explain(tree("EUR"), small_change(), base="p0", compare="p1")
    totals = result.totals
    assert abs(result.delta) < 0.1
    decimals = table_decimals([result.delta, *totals.values()], "currency", "EUR")
    assert decimals == 3
    text = str(result)
    shown = [format_change(v, "currency", "EUR", decimals=3) for v in
             (totals["mix"], totals["rate"], result.delta)]
    for figure in shown:
        assert figure in text
    # the shown parts add up to the shown total (to the last shown digit)
    parse = [float(f.replace("−", "-").replace("€", "")) for f in shown]
    assert parse[0] + parse[1] == pytest.approx(parse[2], abs=0.0011)


def test_yen_arpu_is_not_zero():
    data = small_change().assign(revenue=lambda f: f["revenue"] * 1.3)
    text = str(kpitree.explain(tree("JPY"), data, base="p0", compare="p1"))
    assert "¥0 " not in text and "mix" in text
    assert "¥13.65" in text  # two decimals chosen from the table's own changes


def test_large_money_is_compact_in_the_views():
    assert format_value(2_364_630.42, "currency", "USD", compact=True) == "$2.36M"
    assert format_change(-1_234_567_890.0, "currency", "USD", compact=True) == "−$1.23B"
    assert format_value(2_364_630.42, "currency", "USD") == "$2,364,630.42"  # JSON/CSV-like
    data = small_change().assign(revenue=lambda f: f["revenue"] * 1e6)  # ARPU ~ $10.5M
    result = kpitree.explain(tree("USD"), data, base="p0", compare="p1")
    assert "$10.5M → p1 $10.5M" in str(result).splitlines()[1]
    assert any("M" in line for node in TreeView.of(result).nodes() for line in node.lines)


def test_tree_decimals_option_fixes_every_view():
    result = kpitree.explain(tree("EUR", "decimals: 4"), small_change(), base="p0",
                             compare="p1")
    assert format_change(result.delta, "currency", "EUR", decimals=4) in str(result)
    root = TreeView.of(result).nodes()[0]
    assert format_value(result.base.value, "currency", "EUR", decimals=4) in root.lines[0]


@pytest.mark.parametrize("bad", ["-1", "2.5", "'two'", "true", "9"])
def test_tree_decimals_must_be_a_small_whole_number(bad):
    with pytest.raises(TreeError, match="'decimals' must be a whole number from 0 to 6"):
        tree("EUR", f"decimals: {bad}")


def test_offsetting_mix_and_rate_show_n_m():
    data = pd.DataFrame([("p0", "a", 100, 1000.0), ("p0", "b", 100, 3000.0),
                         ("p1", "a", 50, 600.0), ("p1", "b", 150, 4200.0)],
                        columns=["period", "tier", "users", "revenue"])
    result = kpitree.explain(tree("USD"), data, base="p0", compare="p1")
    assert result.totals["mix"] * result.totals["rate"] < 0 or result.delta == 0
    head = str(result).split("Segments")[0]
    assert "n/m" in head and "%" not in head.split("\n", 2)[2].split("total")[0]


def test_json_and_csv_keep_full_precision_and_the_periods(capsys):
    args = ["explain", "trees/saas_arpu.yaml", "data/saas_monthly.csv", "--base", "2026-09",
            "--compare", "2026-10"]
    assert main([*args, "--format", "json"]) == 0
    text = capsys.readouterr().out
    assert "-0.0," not in text and "-0.0\n" not in text
    data = json.loads(text)
    assert data["delta"] == pytest.approx(4.130494818427223, abs=1e-12)
    assert main([*args, "--format", "csv"]) == 0
    sheet = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(sheet.columns[:2]) == ["base_period", "compare_period"]
    assert set(sheet["base_period"]) == {"2026-09"} and set(sheet["compare_period"]) == {"2026-10"}
    assert sheet["value"].sum() == pytest.approx(data["delta"], abs=1e-9)
