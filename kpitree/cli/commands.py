"""One small function per ``kpitree`` subcommand: load, call the public API, hand over the result.

What belongs here: for each subcommand, the checks that need several options or a file name
(``--cross`` with ``--method``, the ``--image`` suffix, ``--out`` for charts), the one library
call, and handing the result to :mod:`kpitree.cli.output`. What does not: the options
(:mod:`kpitree.cli.parser`), raw sources and the generator (:mod:`kpitree.cli.events`), the
exit-code policy (:mod:`kpitree.cli.errors`), or any maths and formatting.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.cli.events import explain_raw, is_raw, run_generate
from kpitree.cli.output import emit, emit_explanation, wrote
from kpitree.core.attribution import explain
from kpitree.core.data import load_data
from kpitree.core.errors import UsageError
from kpitree.core.tree import load_tree

if TYPE_CHECKING:
    from kpitree.core.result import Explanation
    from kpitree.core.tree import Tree

IMAGE_FORMATS = (".png", ".svg", ".pdf")


def check_image(args: argparse.Namespace) -> None:
    """Refuse an ``--image`` name that is not .png, .svg or .pdf before any work is done."""
    if args.image and Path(args.image).suffix.lower() not in IMAGE_FORMATS:
        raise UsageError(f"--image {args.image}: use a .png, .svg or .pdf file name")


def explain_periods(tree: Tree, args: argparse.Namespace) -> Explanation:
    """:func:`kpitree.explain` with the parsed DATA, periods, ``--by``, ``--method`` options."""
    return explain(tree, args.data, base=args.base, compare=args.compare, by=args.by,
                   method=args.method, period_column=args.period_column)


def run_explain(args: argparse.Namespace) -> int:
    """``kpitree explain``: an aggregated table (or ``--cross``), or a raw source."""
    from kpitree.present.table import format_table

    check_image(args)
    tree = load_tree(args.tree)
    if is_raw(args):
        return explain_raw(args, tree)
    if args.cross:
        from kpitree.analysis.cross import explain_cross

        if args.method != "shapley":
            raise UsageError("--cross is its own method; leave out --method")
        if args.image:
            raise UsageError("--image does not draw --cross results yet; use --format json "
                             "or table")
        result = explain_cross(tree, args.data, base=args.base, compare=args.compare,
                               by=args.by, period_column=args.period_column)
    else:
        result = explain_periods(tree, args)
    return emit_explanation(result, args, format_table)


def run_trend(args: argparse.Namespace) -> int:
    """``kpitree trend``: the charts into ``--out`` (unless ``--no-charts``), then the trend."""
    from kpitree.analysis.trend import trend
    from kpitree.present.table import format_trend

    tree = load_tree(args.tree)
    result = trend(tree, args.data, start=args.start, end=args.end, by=args.by,
                   method=args.method, period_column=args.period_column)
    written = []
    if not args.no_charts:
        out = Path(args.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
        stem = f"{tree.name}_{result.periods[0]}_{result.periods[-1]}"
        bridge = out / f"{stem}_bridge.{args.chart_format}"
        result.bridge_chart(str(bridge))
        written.append(bridge)
        if result.by:
            trends = out / f"{stem}_trends.{args.chart_format}"
            result.trends_chart(str(trends))
            written.append(trends)
    return emit(args.output_format, document=result.to_dict, table=lambda: result.values,
                text=lambda: format_trend(result), written=written)


def run_drivers(args: argparse.Namespace) -> int:
    """``kpitree drivers``: the driver search, printed like an explanation."""
    from kpitree.analysis.drivers import drivers
    from kpitree.present.drivers_table import format_drivers

    check_image(args)
    if args.bootstrap < 0:
        raise UsageError(f"--bootstrap {args.bootstrap}: use 0 (no intervals) or a count ≥ 10")
    tree = load_tree(args.tree)
    result = drivers(tree, args.data, base=args.base, compare=args.compare, dims=args.dims,
                     depth=args.depth, max_segments=args.max_segments,
                     min_effect=args.min_effect, replicates=args.bootstrap, level=args.level,
                     seed=args.seed, period_column=args.period_column)
    return emit_explanation(result, args, format_drivers)


def run_report(args: argparse.Namespace) -> int:
    """``kpitree report``: write the review pack into ``--out`` and list its files."""
    from kpitree.present.report import write_report

    result = explain_periods(load_tree(args.tree), args)
    wrote(write_report(result, args.out, rate_by=args.bridge, top=args.top))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    """``kpitree validate``: load the tree (and the data) and say what was found."""
    tree = load_tree(args.tree)
    drivers = ", ".join(" → ".join(d.path) for d in tree.drivers)
    print(f"{args.tree}: OK — root '{tree.root}' weighted by '{tree.weight}', "
          f"{len(tree.nodes)} nodes, drivers: {drivers}")
    if args.data:
        frame = load_data(args.data, tree, period_column=args.period_column)
        periods = sorted(frame[args.period_column].unique())
        print(f"{args.data}: OK — {len(frame)} rows, periods {', '.join(periods)}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "explain": run_explain,
    "generate": run_generate,
    "trend": run_trend,
    "drivers": run_drivers,
    "report": run_report,
    "validate": run_validate,
}


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed subcommand; return its exit code."""
    return COMMANDS[args.command](args)


__all__ = ["COMMANDS", "IMAGE_FORMATS", "check_image", "explain_periods", "run_command"]
