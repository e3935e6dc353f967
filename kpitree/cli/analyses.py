"""The analyses beyond one explanation on the command line: ``kpitree whatif`` and
``kpitree explain --total``.

What belongs here: reading ``--lever KEY=VALUE`` and ``--goal LEVER=TARGET`` options, the one
library call per analysis (:mod:`kpitree.analysis.scenario`, :mod:`kpitree.analysis.totals`)
and handing the result to :func:`kpitree.cli.output.emit`, plus the checks that need several
options. What does not: the lever grammar (:mod:`kpitree.analysis.scenario.levers`), the
text of the results (:mod:`kpitree.present.analysis_text`) or the output path itself
(:mod:`kpitree.cli.output`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.cli.output import emit
from kpitree.core.errors import UsageError
from kpitree.core.tree import load_tree

if TYPE_CHECKING:
    from kpitree.analysis.scenario import GoalSeek, Scenario
    from kpitree.analysis.totals import TotalExplanation
    from kpitree.core.tree import Tree

__all__ = ["CHART_FORMATS", "lever_option", "pack_extras", "run_whatif", "split_option", "total_of",
           "whatif_of"]

CHART_FORMATS = (".png", ".svg", ".pdf")
LEVER_EXAMPLE = "'base_pu[tier=pro]=*1.10', 'attach[tier=pro]=+5pp' or 'share[tier=pro]==20%'"


def split_option(text: str, option: str) -> tuple[str, str]:
    """``KEY=VALUE`` with a selector in the key: ``attach[tier=pro]=+5pp`` →
    ``("attach[tier=pro]", "+5pp")``; the ``=`` that splits is the first outside brackets.

    >>> split_option("attach[tier=pro]=+5pp", "--lever")
    ('attach[tier=pro]', '+5pp')
    >>> split_option("share[tier=pro]==20%", "--lever")
    ('share[tier=pro]', '=20%')
    """
    depth = 0
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "=" and depth == 0:
            key, value = text[:i].strip(), text[i + 1:].strip()
            if key and value:
                return key, value
            break
    raise UsageError(f"{option} {text!r}: write KEY=VALUE, e.g. {LEVER_EXAMPLE}")


def lever_option(texts: Sequence[str]) -> list[tuple[str, str]]:
    """The ``--lever`` options as (key, value) pairs, in the order given."""
    return [split_option(text, "--lever") for text in texts]


def _chart_path(text: str | None, option: str) -> Path | None:
    if text is None:
        return None
    path = Path(text)
    if path.suffix.lower() not in CHART_FORMATS:
        raise UsageError(f"{option} {text}: use a .png, .svg or .pdf file name")
    return path


def whatif_of(tree: Tree, data: Any, *, period: str, by: Sequence[str] | None,
              levers: Sequence[tuple[str, str]], method: str = "shapley",
              period_column: str = "period", goal: str | None = None,
              sensitivity: float | None = None) -> dict[str, Any]:
    """The what-if analyses of one period: the scenario of ``levers`` (stacked in order),
    the goal seek of ``goal`` (``LEVER=TARGET``) and the sensitivity table, as asked."""
    from kpitree.analysis.scenario import Scenario, goal_seek, snapshot
    from kpitree.analysis.scenario import sensitivity as elasticities

    snap = snapshot(tree, data, period=period, by=by, period_column=period_column)
    found: dict[str, Any] = {"snapshot": snap, "scenario": None, "goal": None,
                             "sensitivity": None}
    if levers:  # stacked in the order given (a key may come twice)
        found["scenario"] = Scenario.build(snap, list(levers), method=method)
    if goal is not None:
        lever, target_text = split_option(goal, "--goal")
        try:
            target = float(target_text)
        except ValueError:
            raise UsageError(f"--goal {goal!r}: the target after '=' must be a number in the "
                             f"root's unit, e.g. 'share[tier=pro]=56'") from None
        found["goal"] = goal_seek(snap, lever, target=target, method=method)
    if sensitivity is not None:
        found["sensitivity"] = elasticities(snap, step=sensitivity)
    return found


def _plain(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records for JSON: NaN (a lever that cannot go that far) becomes null."""
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in records]


def run_whatif(args: argparse.Namespace) -> int:
    """``kpitree whatif``: a scenario bridge by lever, a goal seek, a sensitivity ranking."""
    from kpitree.present.analysis_text import (
        format_goal,
        format_sensitivity,
        format_whatif,
        goal_text,
    )
    from kpitree.present.table import format_table

    if not (args.lever or args.goal or args.sensitivity is not None):
        raise UsageError("say what to try: --lever KEY=VALUE (repeatable), --goal LEVER=TARGET "
                         "or --sensitivity")
    chart = _chart_path(args.chart, "--chart")
    tornado = _chart_path(args.tornado, "--tornado")
    if chart is not None and not args.lever:
        raise UsageError("--chart draws the scenario of --lever; add at least one --lever")
    if tornado is not None and args.sensitivity is None:
        raise UsageError("--tornado draws --sensitivity; add --sensitivity")
    tree = load_tree(args.tree)
    found = whatif_of(tree, args.data, period=args.period, by=args.by,
                      levers=lever_option(args.lever or []), method=args.method,
                      period_column=args.period_column, goal=args.goal,
                      sensitivity=args.sensitivity)
    scenario: Scenario | None = found["scenario"]
    goal: GoalSeek | None = found["goal"]
    table = found["sensitivity"]
    written = []
    if scenario is not None and chart is not None:
        scenario.chart(str(chart))
        written.append(chart)
    if table is not None and tornado is not None:
        from kpitree.analysis.scenario import tornado_chart

        tornado_chart(table, found["snapshot"], str(tornado))
        written.append(tornado)

    def document() -> dict[str, Any]:
        doc: dict[str, Any] = {"tree": tree.name, "metric": tree.root, "period": args.period,
                               "actual": found["snapshot"].value}
        if scenario is not None:
            doc["scenario"] = {**scenario.summary(),
                               "by_lever": _plain(scenario.by_lever().to_dict("records")),
                               "explanation": scenario.explanation.to_dict()}
        if goal is not None:
            doc["goal"] = {"lever": goal.lever, "target": goal.target, "current": goal.current,
                           "value": goal.value, "text": goal_text(goal),
                           "explanation": goal.scenario.explanation.to_dict()}
        if table is not None:
            doc["sensitivity"] = {"step": table.attrs.get("step"),
                                  "levers": _plain(table.to_dict("records"))}
        return doc

    def text() -> str:
        parts = []
        if scenario is not None:
            parts += [format_whatif(scenario), format_table(scenario.explanation,
                                                            top=args.top)]
        if goal is not None:
            parts.append(format_goal(goal))
        if table is not None:
            parts.append(format_sensitivity(table, tree, top=args.top))
        return "\n\n".join(p for p in parts if p is not None)

    def csv_table() -> Any:
        if scenario is not None:
            return scenario.by_lever()
        if table is not None:
            return table
        return goal.scenario.by_lever() if goal is not None else None

    return emit(args.output_format, document=document, table=csv_table, text=text,
                written=written)


def total_of(tree: Tree, data: Any, *, base: str, compare: str, by: Sequence[str] | None,
             method: str, period_column: str, fold: bool) -> TotalExplanation:
    """The total's volume/mix/rate bridge, the interaction folded into rate when ``fold``."""
    from kpitree.analysis.totals import explain_total, fold_interaction

    total = explain_total(tree, data, base=base, compare=compare, by=by, method=method,
                          period_column=period_column)
    if fold:
        if method != "sequential":
            raise UsageError("--fold-interaction needs --method sequential (the only method "
                             "with an interaction)")
        total = fold_interaction(total)
    return total


def run_total(args: argparse.Namespace, tree: Tree) -> int:
    """``kpitree explain --total``: volume, mix and rate of weight × root (MRR = users × ARPU)."""
    from kpitree.present.analysis_text import format_total, total_table

    if args.cross or args.image:
        raise UsageError("--total cannot be combined with --cross or --image; use --bridge "
                         "FILE for its bridge chart")
    total = total_of(tree, args.data, base=args.base, compare=args.compare, by=args.by,
                     method=args.method, period_column=args.period_column,
                     fold=args.fold_interaction)
    written = []
    if args.bridge_file:
        total.chart(args.bridge_file)
        written.append(args.bridge_file)

    def document() -> dict[str, Any]:
        table = total_table(total)
        return {**total.to_dict(), "totals_by_level": total.totals_by_level(),
                "folded_interaction": bool(args.fold_interaction),
                "effects": _plain(table.to_dict("records"))}

    return emit(args.output_format, document=document, table=lambda: total_table(total),
                text=lambda: format_total(total), written=written)


def pack_extras(args: argparse.Namespace, tree: Tree, data: Any, *,
                period_column: str) -> Any:
    """The review pack's extras from ``report``'s options (:class:`kpitree.present.pack.Extras`):
    ``--pptx``, ``--xlsx``, ``--lever`` (a what-if of the compare period), ``--sensitivity``,
    ``--total`` and the tree's ``--depth`` / ``--tree-top``."""
    from kpitree.present.pack import Extras
    from kpitree.present.tree_layout import Layout

    for option, value in (("--depth", args.depth), ("--tree-top", args.tree_top)):
        if value is not None and value < (0 if option == "--depth" else 1):
            raise UsageError(f"{option} {value}: use a whole number ≥ "
                             f"{0 if option == '--depth' else 1}")
    found = whatif_of(tree, data, period=args.compare, by=args.by,
                      levers=lever_option(args.lever or []), method=args.method,
                      period_column=period_column, sensitivity=args.sensitivity) \
        if (args.lever or args.sensitivity is not None) else {}
    total = total_of(tree, data, base=args.base, compare=args.compare, by=args.by,
                     method=args.method, period_column=period_column, fold=False) \
        if args.total else None
    return Extras(slides=args.pptx, workbook=args.xlsx, scenario=found.get("scenario"),
                  sensitivity=found.get("sensitivity"), total=total,
                  layout=Layout(depth=args.depth, top=args.tree_top))
