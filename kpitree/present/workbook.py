"""The review pack's workbook (``kpitree report --xlsx``): the numbers an analyst audits in Excel.

What belongs here: writing an :class:`~kpitree.core.result.Explanation` (and, when given, a
what-if scenario and the total's volume/mix/rate bridge) as an .xlsx with XlsxWriter — one
sheet per table, numbers as numbers with a format per kind (money, percent, counts), and every
total as a **live formula** over the rows above it, so the sums can be audited in the sheet.
What does not: any attribution (the rows come from the result), text formatting of figures
(:mod:`kpitree.core.formatting`, for the slides and the report), the choice of bridge bars
(:func:`kpitree.present.bridge.bridge_steps`, reused so the sheet and the chart agree).
XlsxWriter is imported only when a workbook is written.

Sheets::

    Summary      periods, base and compare value, change (=compare − base), mix / rate
                 (/ interaction) as SUMIF over Effects, and a check that should read 0
    Effects      the tidy effects table (path joined with "/"), total =SUM(...)
    Segments …   one sheet per level: shares, values, weights, mix, inner mix, rate,
                 [interaction], the segment's total (a formula per row) and column sums
    Bridge       the bridge's bars, each running total a formula on the one before; the
                 last bar checks against the compare value
    Drivers      rate per driver, each a SUMIF over Effects
    What-if      (with a scenario) each lever's step: value after it, change, mix, rate
    Total        (with a total explanation) volume, mix, rate of weight × root

Numbers are written in full double precision as XlsxWriter stores them (16 significant
digits; Excel itself computes with 15). Data text (segment names, labels) is always written as
a string, never as a formula. The same inputs give the same bytes
(:func:`kpitree.present.office.stable_zip`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.core.errors import RenderError
from kpitree.core.optional import require
from kpitree.present.office import (
    FIXED_TIME,
    excel_format,
    safe_text,
    stable_zip,
    write_office_file,
)
from kpitree.present.wording import Numbers, total_parts

if TYPE_CHECKING:
    from kpitree.analysis.scenario import Scenario
    from kpitree.analysis.totals import TotalExplanation
    from kpitree.core.result import Explanation

__all__ = ["SHEETS", "build_workbook", "cell", "write_workbook"]

SHEETS = ("Summary", "Effects", "Bridge", "Drivers")  # plus "Segments <level>" after Effects
EFFECT_KINDS = ("mix", "interaction", "rate")


def cell(row: int, col: int, *, absolute: bool = False) -> str:
    """The A1 name of a zero-based (row, column): ``cell(0, 0) == "A1"``.

    >>> cell(0, 0), cell(9, 27), cell(1, 2, absolute=True)
    ('A1', 'AB10', '$C$2')
    """
    name = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        name = chr(65 + rest) + name
    return f"${name}${row + 1}" if absolute else f"{name}{row + 1}"


@dataclass
class _Book:
    """The open workbook and its cell formats."""

    workbook: Any
    numbers: Numbers
    formats: dict[str, Any]

    def fmt(self, name: str) -> Any:
        return self.formats[name]

    def sheet(self, name: str, headers: Sequence[str], widths: Sequence[int]) -> Any:
        sheet = self.workbook.add_worksheet(name)
        for col, (header, width) in enumerate(zip(headers, widths, strict=True)):
            sheet.write_string(0, col, header, self.fmt("header"))
            sheet.set_column(col, col, width)
        sheet.freeze_panes(1, 0)
        return sheet

    def text(self, sheet: Any, row: int, col: int, value: object, fmt: str = "text") -> None:
        sheet.write_string(row, col, safe_text("" if value is None else value), self.fmt(fmt))

    def number(self, sheet: Any, row: int, col: int, value: float | None, fmt: str) -> None:
        if value is None or not math.isfinite(float(value)):
            sheet.write_blank(row, col, None, self.fmt(fmt))
        else:
            sheet.write_number(row, col, float(value) + 0.0, self.fmt(fmt))

    def formula(self, sheet: Any, row: int, col: int, formula: str, fmt: str,
                value: float) -> None:
        """A live formula, with the value kpitree computed cached for readers that do not
        recalculate (the formula is what Excel and LibreOffice show and recompute)."""
        sheet.write_formula(row, col, formula, self.fmt(fmt), float(value) + 0.0)


def build_workbook(result: Explanation, *, rate_by: str = "component", top: int | None = None,
                   scenario: Scenario | None = None,
                   total: TotalExplanation | None = None) -> bytes:
    """The workbook of ``result`` as .xlsx bytes (see the module docstring for its sheets).

    Raises:
        MissingExtraError: XlsxWriter is not installed.
        RenderError: see :func:`kpitree.present.bridge.bridge_steps`.
    """
    xlsxwriter = require("xlsxwriter", purpose="the workbook")
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    workbook.set_properties({"title": f"{result.tree.title}: {result.base.period} → "
                                      f"{result.compare.period}",
                             "author": "kpitree", "created": FIXED_TIME})
    book = _Book(workbook, Numbers.of(result.tree), _formats(workbook, Numbers.of(result.tree)))
    effects_at = _effects_at(result)
    _summary(book, result, effects_at)
    _effects(book, result, effects_at)
    for depth, level in enumerate(result.by):
        _segments(book, result, level, depth)
    _bridge(book, result, rate_by=rate_by, top=top)
    _drivers(book, result, effects_at)
    if scenario is not None:
        _whatif(book, scenario)
    if total is not None:
        _total(book, total)
    workbook.worksheets_objs[0].activate()
    workbook.close()
    return stable_zip(out.getvalue())


def write_workbook(result: Explanation, path: str | Path, **options: Any) -> Path:
    """Write :func:`build_workbook` to ``path`` and return it.

    Raises:
        RenderError: ``path`` cannot be written.
    """
    return write_office_file(path, build_workbook(result, **options))


# --- Formats ------------------------------------------------------------------------------------

def _formats(workbook: Any, numbers: Numbers) -> dict[str, Any]:
    unit = numbers.unit
    specs: dict[str, dict[str, Any]] = {
        "header": {"bold": True, "bg_color": "#f2f2f2", "bottom": 1, "text_wrap": True,
                   "valign": "bottom"},
        "text": {},
        "bold": {"bold": True},
        "title": {"bold": True, "font_size": 14},
        "value": {"num_format": excel_format(numbers.kind, unit)},
        "change": {"num_format": excel_format(numbers.kind, unit, change=True)},
        "percent": {"num_format": excel_format("percent", None)},
        "count": {"num_format": excel_format("number", None, whole=True)},
        "number": {"num_format": excel_format("number", None)},
    }
    for name in ("value", "change"):
        specs[f"{name}_total"] = {**specs[name], "bold": True, "top": 1}
    specs["bold_total"] = {"bold": True, "top": 1}
    return {name: workbook.add_format(spec) for name, spec in specs.items()}


def _node_format(book: _Book, node: str) -> str:
    kind = book.numbers.kind_of(node)
    return "percent" if kind == "percent" else "value" if kind == "currency" else "number"


# --- Sheets -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _EffectsAt:
    """Where the Effects sheet keeps its columns, for the formulas of other sheets."""

    first: int  # first data row (0-based)
    last: int  # last data row
    kind: int  # column of ``kind``
    path: int  # column of ``path``
    value: int  # column of ``value``
    total: str  # the absolute A1 name of the total cell

    def column(self, col: int) -> str:
        first, last = cell(self.first, col, absolute=True), cell(self.last, col, absolute=True)
        return f"Effects!{first}:{last}"


def _effects_at(result: Explanation) -> _EffectsAt:
    dims = len(result.by)
    last = max(len(result.effects), 1)
    value = 5 + dims
    return _EffectsAt(1, last, 0, 2 + dims, value,
                      f"Effects!{cell(last + 1, value, absolute=True)}")


def _effects(book: _Book, result: Explanation, at: _EffectsAt) -> None:
    dims = list(result.by)
    headers = ["kind", "level", *dims, "path", "driver", "label", "value"]
    sheet = book.sheet("Effects", headers, [12, 10, *[14] * len(dims), 28, 18, 26, 14])
    rows = result.effects.to_dict("records")
    value_col = len(headers) - 1
    for r, row in enumerate(rows, start=1):
        book.text(sheet, r, 0, row["kind"])
        book.text(sheet, r, 1, row["level"])
        for c, dim in enumerate(dims, start=2):
            book.text(sheet, r, c, row[dim])
        book.text(sheet, r, 2 + len(dims), "/".join(row["path"]))
        book.text(sheet, r, 3 + len(dims), row["driver"])
        book.text(sheet, r, 4 + len(dims), row["label"])
        book.number(sheet, r, value_col, row["value"], "change")
    last = max(len(rows), 1)
    total_row = last + 1
    book.text(sheet, total_row, 0, "Total", "bold_total")
    for c in range(1, value_col):
        sheet.write_blank(total_row, c, None, book.fmt("bold_total"))
    book.formula(sheet, total_row, value_col,
                 f"=SUM({cell(1, value_col)}:{cell(last, value_col)})", "change_total",
                 math.fsum(float(r["value"]) for r in rows))
    sheet.autofilter(0, 0, last, value_col)
    if (total_row, value_col) != (at.last + 1, at.value):  # pragma: no cover - a bug
        raise RenderError("the Effects sheet's layout differs from its formulas' references")


def _summary(book: _Book, result: Explanation, at: _EffectsAt) -> None:
    sheet = book.sheet("Summary", ["", "value"], [34, 16])
    numbers = book.numbers
    tree = result.tree
    info = [("Tree", tree.title), ("Metric", numbers.root_label), ("Method", result.method),
            ("Segments", " × ".join(result.by) or "none"),
            ("Base period", result.base.period), ("Compare period", result.compare.period)]
    for r, (name, value) in enumerate(info, start=1):
        book.text(sheet, r, 0, name, "bold")
        book.text(sheet, r, 1, value)
    r = len(info) + 2
    base_at, compare_at = cell(r, 1), cell(r + 1, 1)
    book.text(sheet, r, 0, f"{numbers.root_label} {result.base.period}", "bold")
    book.number(sheet, r, 1, result.base.value, "value")
    book.text(sheet, r + 1, 0, f"{numbers.root_label} {result.compare.period}", "bold")
    book.number(sheet, r + 1, 1, result.compare.value, "value")
    book.text(sheet, r + 2, 0, "Change", "bold")
    book.formula(sheet, r + 2, 1, f"={compare_at}-{base_at}", "change", result.delta)
    change_at = cell(r + 2, 1)
    r += 4
    totals = result.totals
    for kind in EFFECT_KINDS:
        if kind not in totals:
            continue
        label = {"mix": f"Mix ({' × '.join(result.by)})" if result.by else "Mix",
                 "rate": "Rate (drivers)", "interaction": "Interaction"}[kind]
        book.text(sheet, r, 0, label)
        book.formula(sheet, r, 1, f'=SUMIF({at.column(at.kind)},"{kind}",{at.column(at.value)})',
                     "change", totals[kind])
        r += 1
    book.text(sheet, r, 0, "Sum of the effects", "bold_total")
    book.formula(sheet, r, 1, f"={at.total}", "change_total", result.delta)
    book.text(sheet, r + 1, 0, "Check: sum of the effects − change (0)")
    book.formula(sheet, r + 1, 1, f"=ROUND({cell(r, 1)}-{change_at},9)", "change", 0.0)


def _segments(book: _Book, result: Explanation, level: str, depth: int) -> None:
    dims = list(result.by[:depth + 1])
    frame = result.segments
    rows = [s for s in frame[frame["level"] == level].to_dict("records")
            if s["status"] != "empty"]
    rows.sort(key=lambda s: tuple(str(s[d]) for d in dims))
    sequential = result.method == "sequential"
    effect_names = ["mix", "inner_mix", "rate", *(["interaction", "inner_interaction"]
                                                  if sequential else [])]
    effect_names = [e for e in effect_names if e in frame.columns]
    b, c = result.base.period, result.compare.period
    weight = result.tree.label(result.tree.weight)
    headers = [*dims, "status", f"share {b}", f"share {c}", f"{book.numbers.root_label} {b}",
               f"{book.numbers.root_label} {c}", f"{weight} {b}", f"{weight} {c}",
               *[e.replace("_", " ") for e in effect_names], "total effect"]
    sheet = book.sheet(f"Segments {level}"[:31], headers,
                       [14] * len(dims) + [9] + [12] * (len(headers) - len(dims) - 1))
    first_effect = len(dims) + 7
    total_col = first_effect + len(effect_names)
    formats = ["percent", "percent", "value", "value", "count", "count"]
    keys = ["base_share", "compare_share", "base_value", "compare_value", "base_weight",
            "compare_weight"]
    for r, s in enumerate(rows, start=1):
        for col, dim in enumerate(dims):
            book.text(sheet, r, col, s[dim])
        book.text(sheet, r, len(dims), s["status"])
        for offset, (key, fmt) in enumerate(zip(keys, formats, strict=True)):
            book.number(sheet, r, len(dims) + 1 + offset, s[key], fmt)
        for offset, name in enumerate(effect_names):
            book.number(sheet, r, first_effect + offset, s[name], "change")
        book.formula(sheet, r, total_col,
                     f"=SUM({cell(r, first_effect)}:{cell(r, total_col - 1)})", "change",
                     math.fsum(float(s[name]) for name in effect_names))
    last = max(len(rows), 1)
    total_row = last + 1
    book.text(sheet, total_row, 0, f"Sum over {level} segments", "bold_total")
    for col in range(1, first_effect):
        sheet.write_blank(total_row, col, None, book.fmt("bold_total"))
    for col in range(first_effect, total_col + 1):
        names = effect_names[col - first_effect:col - first_effect + 1] if col < total_col \
            else effect_names
        value = math.fsum(float(s[n]) for s in rows for n in names)
        book.formula(sheet, total_row, col, f"=SUM({cell(1, col)}:{cell(last, col)})",
                     "change_total", value)
    sheet.autofilter(0, 0, last, total_col)


def _bridge(book: _Book, result: Explanation, *, rate_by: str, top: int | None) -> None:
    from kpitree.present.bridge import TOP, bridge_steps

    steps = bridge_steps(result, rate_by=rate_by, top=TOP if top is None else top)
    sheet = book.sheet("Bridge", ["bar", "group", "effects folded", "change", "running total"],
                       [30, 12, 10, 14, 16])
    running = steps[0].value
    for r, step in enumerate(steps, start=1):
        book.text(sheet, r, 0, step.label.replace("\n", " "))
        book.text(sheet, r, 1, step.group)
        sheet.write_number(r, 2, step.folded, book.fmt("count"))
        if step.group == "start":
            book.number(sheet, r, 4, step.value, "value")
        elif step.group == "end":
            # the end bar: the compare value, and the check that the bars reach it
            book.formula(sheet, r, 3, f"={cell(r, 4)}-{cell(r - 1, 4)}", "change",
                         step.value - running)
            book.number(sheet, r, 4, step.value, "value_total")
        else:
            running += step.value
            book.number(sheet, r, 3, step.value, "change")
            book.formula(sheet, r, 4, f"={cell(r - 1, 4)}+{cell(r, 3)}", "value", running)
    check = len(steps) + 1
    book.text(sheet, check, 0, "Check: last running total − compare value (0)")
    book.formula(sheet, check, 4, f"=ROUND({cell(check - 2, 4)}-{cell(check - 1, 4)},9)",
                 "change", 0.0)


def _drivers(book: _Book, result: Explanation, at: _EffectsAt) -> None:
    sheet = book.sheet("Drivers", ["driver", "path", "rate effect"], [30, 30, 14])
    table = result.by_driver()
    for r, row in enumerate(table.to_dict("records"), start=1):
        path = "/".join(row["path"])
        book.text(sheet, r, 0, row["label"])
        book.text(sheet, r, 1, path)
        book.formula(sheet, r, 2, f'=SUMIF({at.column(at.path)},{cell(r, 1)},'
                                  f"{at.column(at.value)})", "change", float(row["value"]))
    last = max(len(table), 1)
    book.text(sheet, last + 1, 0, "Rate total", "bold_total")
    sheet.write_blank(last + 1, 1, None, book.fmt("bold_total"))
    book.formula(sheet, last + 1, 2, f"=SUM({cell(1, 2)}:{cell(last, 2)})", "change_total",
                 math.fsum(float(v) for v in table["value"]))


def _whatif(book: _Book, scenario: Scenario) -> None:
    table = scenario.by_lever()
    kinds = [k for k in EFFECT_KINDS if k in table.columns]
    sheet = book.sheet("What-if", ["lever", f"{book.numbers.root_label} after", "change", *kinds],
                       [34, 14, 14, *[12] * len(kinds)])
    book.text(sheet, 1, 0, f"actual {scenario.actual.period}", "bold")
    book.number(sheet, 1, 1, scenario.explanation.base.value, "value")
    for r, row in enumerate(table.to_dict("records"), start=2):
        book.text(sheet, r, 0, row["lever"])
        book.number(sheet, r, 1, row["value"], "value")
        book.formula(sheet, r, 2, f"={cell(r, 1)}-{cell(r - 1, 1)}", "change", row["delta"])
        for c, kind in enumerate(kinds, start=3):
            book.number(sheet, r, c, row[kind], "change")
    last = len(table) + 1
    book.text(sheet, last + 1, 0, "Scenario − actual", "bold_total")
    book.formula(sheet, last + 1, 1, f"={cell(last, 1)}-{cell(1, 1)}", "change_total",
                 scenario.delta)
    for c in range(2, 3 + len(kinds)):
        book.formula(sheet, last + 1, c, f"=SUM({cell(2, c)}:{cell(max(last, 2), c)})",
                     "change_total", scenario.delta if c == 2 else
                     math.fsum(float(v) for v in table[kinds[c - 3]]))


def _total(book: _Book, total: TotalExplanation) -> None:
    label, parts = total_parts(total)
    sheet = book.sheet("Total", ["", "value"], [40, 18])
    book.text(sheet, 1, 0, f"{label} {total.base_period}", "bold")
    book.number(sheet, 1, 1, total.base_value, "value")
    r = 2
    for name, value in parts:
        book.text(sheet, r, 0, name)
        book.number(sheet, r, 1, value, "change")
        r += 1
    book.text(sheet, r, 0, f"{label} {total.compare_period}", "bold_total")
    book.formula(sheet, r, 1, f"=SUM({cell(1, 1)}:{cell(r - 1, 1)})", "value_total",
                 total.compare_value)
    book.text(sheet, r + 1, 0, f"Check: − actual {total.compare_period} (0)")
    book.formula(sheet, r + 1, 1, f"=ROUND({cell(r, 1)}-{total.compare_value!r},6)", "change",
                 0.0)
