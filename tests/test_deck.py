"""The slides (``--pptx``): they open in python-pptx, hold the JSON's numbers, render readably.

One LibreOffice conversion per case (module-scoped): the slides are turned into PDF then PNG
pages, whose count and size are checked; the pictures were looked at by hand when written
(README, "Monthly review pack").
"""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import kpitree
from kpitree.present.bridge import TOP, bridge_steps
from kpitree.present.deck import MIN_TEXT_PT, SLIDE, build_deck, segment_rows, slide_bars
from kpitree.present.style import DPI, TEXT_SIZE
from kpitree.present.tree_pages import tree_pages
from kpitree.present.wording import Numbers
from tests.conftest import SAAS_DATA, SAAS_TREE
from tests.packdata import BASE, COMPARE, LARGE_BY, large_csv

pptx = pytest.importorskip("pptx", reason="python-pptx is in the deck extra")

CASES = ("example", "large")


@pytest.fixture(scope="module", params=CASES)
def case(request, tmp_path_factory) -> dict:
    tree = kpitree.load_tree(SAAS_TREE)
    if request.param == "example":
        result = kpitree.explain(tree, SAAS_DATA, base=BASE, compare=COMPARE)
    else:
        data = large_csv(tmp_path_factory.mktemp("large"))
        result = kpitree.explain(tree, data, base=BASE, compare=COMPARE, by=list(LARGE_BY))
    data = build_deck(result)
    folder = tmp_path_factory.mktemp(f"deck-{request.param}")
    path = folder / "deck.pptx"
    path.write_bytes(data)
    return {"name": request.param, "result": result, "bytes": data, "path": path,
            "deck": pptx.Presentation(str(path)), "json": result.to_dict()}


def _texts(slide) -> list[str]:
    texts = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            texts.append(shape.text_frame.text)
        if shape.has_table:
            texts.extend(cell.text for row in shape.table.rows for cell in row.cells)
    return texts


def _table(slide) -> list[list[str]]:
    for shape in slide.shapes:
        if shape.has_table:
            return [[cell.text for cell in row.cells] for row in shape.table.rows]
    raise AssertionError("no table on this slide")


def _slide(deck, starts: str):
    for slide in deck.slides:
        if any(t.startswith(starts) for t in _texts(slide)):
            return slide
    raise AssertionError(f"no slide starting with {starts!r}")


def test_the_deck_is_16_9_and_byte_stable(case) -> None:
    deck = case["deck"]
    assert (deck.slide_width, deck.slide_height) == (pptx.util.Inches(SLIDE[0]),
                                                     pptx.util.Inches(SLIDE[1]))
    assert build_deck(case["result"]) == case["bytes"]


def test_title_and_split_hold_the_json_numbers(case) -> None:
    doc, deck = case["json"], case["deck"]
    numbers = Numbers.of(case["result"].tree)
    move = numbers.move(doc["base"]["value"], doc["compare"]["value"], doc["delta"])
    assert move in _texts(deck.slides[0])
    split = dict(map(tuple, _table(deck.slides[1])[1:]))
    assert split["Total change"] == numbers.change(doc["delta"])
    assert split["Rate (drivers)"] == numbers.change(doc["totals"]["rate"])
    mix = next(v for k, v in split.items() if k.startswith("Mix"))
    assert mix == numbers.change(doc["totals"]["mix"])


def test_largest_effects_are_the_json_effects(case) -> None:
    doc, deck = case["json"], case["deck"]
    numbers = Numbers.of(case["result"].tree)
    rows = _table(_slide(deck, "The 10 largest effects"))[1:]
    values = sorted((e["value"] for e in doc["effects"]), key=abs, reverse=True)[:10]
    assert [r[-1] for r in rows] == [numbers.change(v) for v in values]


def test_segment_tables_add_up_and_match_the_json(case) -> None:
    result, deck = case["result"], case["deck"]
    numbers = Numbers.of(result.tree)
    for depth, level in enumerate(result.by):
        rows, other = segment_rows(result, level)
        table = _table(_slide(deck, f"Segments by {level}"))
        shown = sum(r["total"] for r in rows) + (other["total"] if other else 0.0)
        every = result.segments[result.segments["level"] == level]
        whole = sum(float(every[c].sum()) for c in ("mix", "inner_mix", "rate", "interaction",
                                                    "inner_interaction") if c in every)
        assert shown == pytest.approx(whole, abs=1e-9)
        assert len(table) == 1 + len(rows) + (other is not None)
        for row, cells in zip(rows, table[1:], strict=False):
            assert cells[-1] == numbers.change(row["total"])
            assert cells[-2] == numbers.change(row["rate"])
        if depth == 0:
            assert shown == pytest.approx(result.delta, abs=1e-9)


def test_tree_pages_keep_text_at_10pt_on_the_slides(case) -> None:
    """Each tree picture is shown at a scale that keeps its smallest text at ≥ 10 pt."""
    result, deck = case["result"], case["deck"]
    room = ((SLIDE[0] - 0.9) * 72, (SLIDE[1] - 0.5) * 72)
    pages = tree_pages(result, room=room)
    assert len(pages) > (1 if case["name"] == "large" else 0)
    by_png = {page.png: page for page in pages}
    shown = 0
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.shape_type == pptx.enum.shapes.MSO_SHAPE_TYPE.PICTURE:
                page = by_png.get(shape.image.blob)
                if page is None:
                    continue  # a chart
                width_px = struct.unpack(">II", page.png[16:24])[0]
                scale = (shape.width / 914400) / (width_px / page.dpi)
                assert page.min_text * scale >= MIN_TEXT_PT - 0.05, page.title
                shown += 1
    assert shown == len(pages)


@pytest.fixture(scope="module")
def rendered(case, tmp_path_factory) -> list[Path]:
    """The slides as PNG pages (LibreOffice → PDF, poppler → PNG at 50 dpi)."""
    if shutil.which("soffice") is None or shutil.which("pdftoppm") is None:
        pytest.fail("LibreOffice (soffice) and poppler (pdftoppm) are needed: "
                    "apt-get install libreoffice-impress-nogui poppler-utils")
    folder = tmp_path_factory.mktemp(f"slides-{case['name']}")
    profile = folder / "profile"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(folder), str(case["path"])],
                   check=True, capture_output=True, timeout=180)
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(folder / "deck.pdf"),
                    str(folder / "slide")], check=True, capture_output=True, timeout=120)
    return sorted(folder.glob("slide-*.png"))


def test_slides_render_to_one_picture_each(case, rendered) -> None:
    from PIL import Image

    assert len(rendered) == len(case["deck"].slides)
    for path in rendered:
        with Image.open(path) as image:
            assert image.size == (round(SLIDE[0] * 50), round(SLIDE[1] * 50))
            grey = image.convert("L")
            low, high = grey.getextrema()
            assert high - low > 100, f"{path.name} is blank"


def _charts(deck, known: set[bytes]) -> list[tuple[float, object]]:
    """(scale shown at, shape) of each picture that is not a tree page."""
    out = []
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.shape_type == pptx.enum.shapes.MSO_SHAPE_TYPE.PICTURE:
                blob = shape.image.blob
                if blob in known:
                    continue
                width_px = struct.unpack(">II", blob[16:24])[0]
                out.append(((shape.width / 914400) / (width_px / DPI), shape))
    return out


def test_the_bridge_keeps_its_text_at_10pt_and_folds_exactly(case) -> None:
    """The bridge slide keeps fewer bars where needed, so its 8.5 pt text shows at ≥ 10 pt;
    its folded bars still add up to the change."""
    result, deck = case["result"], case["deck"]
    room = ((SLIDE[0] - 0.9) * 72, (SLIDE[1] - 0.5) * 72)
    pages = {page.png for page in tree_pages(result, room=room)}
    charts = _charts(deck, pages)
    assert len(charts) == 1  # the bridge
    assert TEXT_SIZE * charts[0][0] >= MIN_TEXT_PT - 0.05
    bars = slide_bars(result, rate_by="component", top=TOP)
    steps = bridge_steps(result, rate_by="component", top=bars)
    assert math.fsum(s.value for s in steps[1:-1]) == pytest.approx(result.delta, abs=1e-9)


def test_report_drivers_add_a_readable_slide() -> None:
    """``report --drivers`` puts the named drivers' chart on a slide at ≥ 10 pt, the sentence
    in its notes."""
    from kpitree.present.drivers_chart import TEXT_PT
    from kpitree.present.drivers_table import drivers_sentence

    tree = kpitree.load_tree(SAAS_TREE)
    result = kpitree.explain(tree, SAAS_DATA, base=BASE, compare=COMPARE)
    found = kpitree.drivers(tree, SAAS_DATA, base=BASE, compare=COMPARE,
                            dims=["tier", "region"])
    plain = pptx.Presentation(io.BytesIO(build_deck(result)))
    deck = pptx.Presentation(io.BytesIO(build_deck(result, drivers=found)))
    assert len(deck.slides) == len(plain.slides) + 1
    notes = [s.notes_slide.notes_text_frame.text for s in deck.slides if s.has_notes_slide]
    assert drivers_sentence(found) in notes
    room = ((SLIDE[0] - 0.9) * 72, (SLIDE[1] - 0.5) * 72)
    pages = {page.png for page in tree_pages(result, room=room)}
    charts = _charts(deck, pages)
    assert len(charts) == 2  # the bridge and the drivers
    assert TEXT_PT * charts[1][0] >= MIN_TEXT_PT - 0.05
