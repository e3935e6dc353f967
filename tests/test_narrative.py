"""The plain-language narrative: golden files on the bundled example, and its rules.

Golden files live in ``tests/golden/narrative/<case>.txt``; after a deliberate change of wording
regenerate them with ``KPITREE_UPDATE_GOLDEN=1 pytest tests/test_narrative.py`` and review the diff.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

import kpitree
from kpitree.present.narrative import SMALL_SHARE, narrate
from tests.conftest import ROOT, SAAS_DATA, SAAS_TREE

GOLDEN = ROOT / "tests" / "golden" / "narrative"
CASES = {
    "saas_by_tier": {},
    "saas_by_tier_region": {"by": ["tier", "region"]},
    "saas_sequential": {"method": "sequential"},
    "saas_totals_only": {"by": []},
    "saas_backwards": {"base": "2026-10", "compare": "2026-09"},
}


def saas() -> pd.DataFrame:
    return pd.read_csv(SAAS_DATA, keep_default_na=False)  # region "NA" is North America


def explain(data: pd.DataFrame | None = None, **kwargs: object) -> kpitree.Explanation:
    options = {"base": "2026-09", "compare": "2026-10", **kwargs}
    return kpitree.explain(kpitree.load_tree(SAAS_TREE), saas() if data is None else data,
                           **options)


@pytest.mark.parametrize("case", sorted(CASES))
def test_narrative_matches_the_golden_file(case: str) -> None:
    text = str(narrate(explain(**CASES[case]))) + "\n"
    path = GOLDEN / f"{case}.txt"
    if os.environ.get("KPITREE_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_headline_gives_direction_size_and_periods() -> None:
    narrative = narrate(explain())
    assert narrative.headline == ("ARPU rose by $4.13 (+8.1 %), from $51.29 in 2026-09 to "
                                  "$55.43 in 2026-10.")
    assert narrate(explain(base="2026-10", compare="2026-09")).headline.startswith(
        "ARPU fell by $4.13 (−7.5 %)")


def test_flat_when_the_change_rounds_to_zero() -> None:
    narrative = narrate(explain(base="2026-09", compare="2026-09"))
    assert narrative.headline.startswith("ARPU was flat ($0.00)")


def test_split_names_mix_and_monetization_with_shares() -> None:
    split = narrate(explain()).points[0]
    assert "Mix (active users shifting between tier segments) accounts for +$3.48" in split
    assert "84.3 % of the change" in split and "monetization within tier segments" in split


def test_largest_drivers_carry_their_numbers() -> None:
    drivers = narrate(explain()).points[1]
    assert "new business tier (3.6 % of active users at ARPU $170.77): +$4.21" in drivers
    assert "the pro tier's share of active users (15.6 % → 13.6 %" in drivers
    assert "−$0.96" in drivers


def test_entered_segment_is_reported_once() -> None:
    narrative = narrate(explain(by=["tier", "region"]))
    entered = [p for p in narrative.points if p.startswith("New in 2026-10")]
    assert len(entered) == 1 and "business tier (1,681 active users" in entered[0]
    assert "region" not in entered[0]  # its regions entered with it


def test_exited_segment_is_reported() -> None:
    narrative = narrate(explain(base="2026-10", compare="2026-09"))
    assert any(p.startswith("Gone in 2026-09: business tier") for p in narrative.points)


def test_caution_on_small_shares_only_when_there_are_some() -> None:
    assert narrate(explain()).cautions == ()
    cautions = narrate(explain(by=["tier", "region"])).cautions
    assert len(cautions) == 1
    assert "enterprise tier, APAC region (0.6 %, 269 active users)" in cautions[0]
    assert f"under {SMALL_SHARE * 100:.1f} %" in cautions[0]


def test_caution_on_a_tiny_weight() -> None:
    data = saas()
    tiny = (data["tier"] == "enterprise") & (data["region"] == "APAC")
    data.loc[tiny, ["active_users", "addon_users"]] = [[12, 3]] * int(tiny.sum())
    cautions = narrate(explain(data, by=["tier", "region"])).cautions
    assert cautions and "12 active users" in cautions[0]


def test_narrative_is_deterministic_and_has_a_markdown_form() -> None:
    first = narrate(explain(by=["tier", "region"]))
    again = narrate(explain(by=["tier", "region"]))
    assert first == again
    markdown = first.to_markdown()
    assert markdown.startswith("**ARPU rose by $4.13")
    assert markdown.count("\n- ") == len(first.points) + len(first.cautions)


def test_explanation_exposes_the_narrative() -> None:
    assert explain().narrative() == narrate(explain())


def test_readme_quotes_the_current_narrative() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    narrative = narrate(explain())
    assert f"> **{narrative.headline}**" in readme
    for point in narrative.points:
        assert f"> - {point}" in readme
    for image in ("docs/saas_arpu_bridge.png", "docs/saas_arpu_tree.png"):
        assert f"({image})" in readme and (ROOT / image).read_bytes()[:4] == b"\x89PNG"
