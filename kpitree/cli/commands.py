"""One small function per ``kpitree`` subcommand: load, call the public API, hand over the result.

What belongs here: for each subcommand, the checks that need several options or a file name
(``--cross`` with ``--method``, the ``--image`` suffix, ``--out`` for charts), the one library
call, and handing the result to :mod:`kpitree.cli.output`. What does not: the options
(:mod:`kpitree.cli.parser`), raw sources and the generator (:mod:`kpitree.cli.events`), the
exit-code policy (:mod:`kpitree.cli.errors`), or any maths and formatting.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.cli.analyses import pack_extras, run_total, run_whatif
from kpitree.cli.events import explain_raw, is_raw, progress_printer, run_generate
from kpitree.cli.output import emit, emit_explanation, show, wrote
from kpitree.cli.raw import Input, command_input, run_aggregate, trend_periods, validate_raw
from kpitree.cli.serve import run_serve
from kpitree.core import progress
from kpitree.core.attribution import explain
from kpitree.core.data import load_data
from kpitree.core.errors import UsageError
from kpitree.core.files import inside, output_folder, staged_folder
from kpitree.core.safety import safe_filename
from kpitree.core.tree import load_tree

if TYPE_CHECKING:
    from kpitree.analysis.drivers_result import Drivers
    from kpitree.core.result import Explanation
    from kpitree.core.tree import Tree

IMAGE_FORMATS = (".png", ".svg", ".pdf")
MAX_BOOTSTRAP = 10_000  # replicates: intervals settle long before; memory grows with each
MAX_REPLICATE_CELLS = 20_000_000  # period × dims cells × replicates a raw source may return


def check_image(args: argparse.Namespace) -> None:
    """Refuse an ``--image`` name that is not .png, .svg or .pdf before any work is done."""
    if args.image and Path(args.image).suffix.lower() not in IMAGE_FORMATS:
        raise UsageError(f"--image {args.image}: use a .png, .svg or .pdf file name")


def explain_periods(tree: Tree, args: argparse.Namespace) -> Explanation:
    """:func:`kpitree.explain` with the parsed DATA, periods, ``--by``, ``--method`` options."""
    return explain(tree, args.data, base=args.base, compare=args.compare, by=args.by,
                   method=args.method, period_column=args.period_column,
                   period=getattr(args, "period", "month"),
                   allow_partial=getattr(args, "allow_partial", False))


def run_explain(args: argparse.Namespace) -> int:
    """``kpitree explain``: an aggregated table (or ``--cross``), or a raw source."""
    from kpitree.present.table import format_table

    check_image(args)
    if args.bridge_file and Path(args.bridge_file).suffix.lower() not in IMAGE_FORMATS:
        raise UsageError(f"--bridge {args.bridge_file}: use a .png, .svg or .pdf file name")
    if args.fold_interaction and not args.total:
        raise UsageError("--fold-interaction applies to --total; add --total")
    tree = load_tree(args.tree)
    if is_raw(args):
        if args.period != "month":  # raw events: the tree's data.period for this run
            tree = tree.with_period(args.period)
        return explain_raw(args, tree)
    if args.period != "month" and (args.total or args.cross):
        raise UsageError("--period quarter|year applies to explain and trend; leave out "
                         "--total/--cross or roll the data up first")
    if args.total:
        return run_total(args, tree)
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
    code = emit_explanation(result, args, format_table)
    if args.bridge_file:
        result.plot_bridge(args.bridge_file)
        wrote([args.bridge_file])
    return code


def run_trend(args: argparse.Namespace) -> int:
    """``kpitree trend``: the charts into ``--out`` (unless ``--no-charts``), then the trend."""
    from kpitree.analysis.trend import trend
    from kpitree.present.table import format_trend

    tree = load_tree(args.tree)
    raw = is_raw(args)
    if raw and args.period != "month":  # raw events: the tree's data.period for this run
        tree = tree.with_period(args.period)
    source = command_input(args, tree, periods=trend_periods(args, tree), by=args.by)
    result = trend(tree, source.data, start=args.start, end=args.end, by=args.by,
                   method=args.method, period_column=source.period_column,
                   period="month" if raw else args.period, allow_partial=args.allow_partial)
    written = []
    if not args.no_charts:
        out = output_folder(args.out)
        # File names made from data are sanitised and stay inside --out; both charts are
        # written into a staging folder first, so a failure leaves --out as it was.
        stem = safe_filename(f"{tree.name}_{result.periods[0]}_{result.periods[-1]}")
        names = [f"{stem}_bridge.{args.chart_format}"]
        if result.by:
            names.append(f"{stem}_trends.{args.chart_format}")
        with staged_folder(out) as staging:
            result.bridge_chart(str(inside(staging, names[0])))
            if result.by:
                result.trends_chart(str(inside(staging, names[1])))
        written = [inside(out, name) for name in names]
    return emit(args.output_format, document=lambda: source.document(result.to_dict()),
                table=lambda: result.values, text=lambda: format_trend(result),
                note=source.note, written=written)


def run_drivers(args: argparse.Namespace) -> int:
    """``kpitree drivers``: the driver search, printed like an explanation.

    On a raw source the engine aggregates period × ``--dims`` for the search and, with
    ``--bootstrap N``, the period × dims × replicate sums under hashed Poisson counts per user
    (:func:`kpitree.io.events.cells.replicate_cells`): no per-user rows reach Python.
    """
    from kpitree.analysis.dimensions import parse_buckets
    from kpitree.analysis.drivers import drivers
    from kpitree.present.drivers_table import format_drivers

    check_image(args)
    if getattr(args, "chart", None) and Path(args.chart).suffix.lower() not in IMAGE_FORMATS:
        raise UsageError(f"--chart {args.chart}: use a .png, .svg or .pdf file name")
    if args.bootstrap < 0 or args.bootstrap > MAX_BOOTSTRAP:
        raise UsageError(f"--bootstrap {args.bootstrap}: use 0 (no intervals) or a count from "
                         f"10 to {MAX_BOOTSTRAP:,}")
    tree = load_tree(args.tree)
    source = command_input(args, tree, periods=[args.base, args.compare],
                           by=drivers_dims(tree, args))
    replicates, note = args.bootstrap, source.note
    raw = is_raw(args)
    if replicates and not raw:
        from kpitree.analysis.bootstrap import aggregated_rows

        # The bootstrap resamples users: on aggregated rows its intervals mean nothing.
        why = aggregated_rows(tree, source.data, period_column=source.period_column)
        if why is not None:
            replicates = 0
            note = "\n".join(filter(None, [note, (
                f"note: no intervals: {why}; the bootstrap resamples users, so it needs one "
                "row per user (pass user-level rows; --bootstrap 0 silences this note)")]))
    buckets = parse_buckets(args.buckets) if getattr(args, "buckets", None) else None
    user_id = getattr(args, "user_id", None)
    if user_id is not None and raw:
        raise UsageError(f"--user-id {user_id}: a raw source's user id is its data: section's "
                         "users.id; leave --user-id out")
    result = drivers(tree, source.data, base=args.base, compare=args.compare, dims=args.dims,
                     depth=args.depth, max_segments=args.max_segments,
                     min_effect=args.min_effect, replicates=0 if raw else replicates,
                     level=args.level, seed=args.seed, period_column=source.period_column,
                     buckets=buckets, user_id=user_id)
    if raw and replicates:
        result = raw_intervals(args, tree, source, result, replicates)
    if getattr(args, "chart", None):
        result.chart(args.chart)
    return emit_explanation(result, args, format_drivers, data=source.document({}).get("data"),
                            note=note)


def raw_intervals(args: argparse.Namespace, tree: Tree, source: Input, result: Drivers,
                  replicates: int) -> Drivers:
    """``drivers --bootstrap N`` on a raw source: the replicates summed in the engine, then the
    same decomposition as the point estimate; refused when period × dims cells × replicates
    would pass :data:`MAX_REPLICATE_CELLS` rows."""
    from kpitree.io.events.cells import replicate_cells
    from kpitree.io.sources import connect

    cells = len(source.data)
    if cells * replicates > MAX_REPLICATE_CELLS:
        raise UsageError(
            f"--bootstrap {replicates} × {cells:,} period × dims cells = "
            f"{cells * replicates:,} replicate sums, over the {MAX_REPLICATE_CELLS:,} limit; "
            "use fewer --bootstrap replicates or fewer / coarser --dims")
    with connect(args.data, events=getattr(args, "events", None),
                 users=getattr(args, "users", None), engine=getattr(args, "engine", None),
                 master=getattr(args, "master", None)) as opened:
        frame = replicate_cells(tree, opened, periods=[args.base, args.compare],
                                dims=args.dims, replicates=replicates, seed=args.seed,
                                progress=progress_printer(getattr(args, "progress", None)))
    return result.with_replicate_cells(frame, replicates=replicates, level=args.level,
                                       seed=args.seed)


def drivers_dims(tree: Tree, args: argparse.Namespace) -> list[str]:
    """What a raw source is aggregated by for ``drivers``: the ``--dims`` (intervals are
    summed per replicate in the engine, :func:`raw_intervals`, not from per-user rows)."""
    return list(args.dims)


def run_report(args: argparse.Namespace) -> int:
    """``kpitree report``: write the review pack into ``--out`` and list its files."""
    from kpitree.present.report import write_report

    tree = load_tree(args.tree)
    source, searched = report_inputs(args, tree)
    result = explain(tree, source.data, base=args.base, compare=args.compare, by=args.by,
                     method=args.method, period_column=source.period_column)
    extras = pack_extras(args, tree, source.data, period_column=source.period_column)
    found = report_drivers(args, tree, searched)
    wrote(write_report(result, args.out, rate_by=args.bridge, top=args.top, extras=extras,
                       drivers=found))
    if source.raw is not None:
        from kpitree.cli.raw import write_aggregate

        wrote(write_aggregate(source.raw, source.raw.frame, Path(args.out) / "aggregate.csv",
                              tree=tree, by=args.by))
        print(source.note, file=sys.stderr)
    return 0


def report_inputs(args: argparse.Namespace, tree: Tree) -> tuple[Input, Input]:
    """What ``report`` explains (by ``--by``) and what its ``--drivers DIMS`` search reads.

    A raw source is aggregated once, by both's dimensions, and each rolled up from it
    (:meth:`~kpitree.io.events.Aggregate.rolled_up`: the same numbers as two aggregations);
    twice only when the tree counts distinct accounts, which do not add up over segments.
    """
    periods = [args.base, args.compare]
    dims = list(getattr(args, "drivers", None) or [])
    by = list(tree.segments if args.by is None else args.by)
    if not is_raw(args) or not dims:
        source = command_input(args, tree, periods=periods, by=args.by)
        return source, source
    if "accounts" in tree.columns.values():
        return (command_input(args, tree, periods=periods, by=args.by),
                command_input(args, tree, periods=periods, by=dims))
    both = command_input(args, tree, periods=periods, by=[*by, *(d for d in dims if d not in by)])
    assert both.raw is not None
    shown, searched = both.raw.rolled_up(by), both.raw.rolled_up(dims)
    return Input(shown.frame, "period", shown), Input(searched.frame, "period", searched)


def report_drivers(args: argparse.Namespace, tree: Tree, source: Input) -> Explanation | None:
    """``report --drivers DIMS``: the driver search for the pack (on ``source``, from
    :func:`report_inputs`), without intervals."""
    dims = getattr(args, "drivers", None)
    if not dims:
        return None
    from kpitree.analysis.drivers import drivers

    return drivers(tree, source.data, base=args.base, compare=args.compare, dims=dims,
                   period_column=source.period_column)


def run_validate(args: argparse.Namespace) -> int:
    """``kpitree validate``: load the tree (and the data) and say what was found."""
    tree = load_tree(args.tree)
    drivers = ", ".join(" → ".join(d.path) for d in tree.drivers)
    show(f"{args.tree}: OK — root '{tree.root}' weighted by '{tree.weight}', "
         f"{len(tree.nodes)} nodes, drivers: {drivers}")
    if (args.data or args.events or args.users) and is_raw(args):
        return validate_raw(args, tree)
    if args.data:
        frame = load_data(args.data, tree, period_column=args.period_column)
        periods = sorted(frame[args.period_column].unique())
        show(f"{args.data}: OK — {len(frame)} rows, periods {', '.join(periods)}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "explain": run_explain,
    "generate": run_generate,
    "trend": run_trend,
    "drivers": run_drivers,
    "report": run_report,
    "validate": run_validate,
    "whatif": run_whatif,
    "aggregate": run_aggregate,
    "serve": run_serve,
}


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed subcommand; return its exit code.

    Long runs (a trend, bootstrap intervals, a pack with slides) report their progress through
    :mod:`kpitree.core.progress`: a bar on stderr when it is a terminal, never when piped or
    with ``--quiet``.
    """
    setting = False if getattr(args, "quiet", False) else getattr(args, "progress", None)
    with progress.reporting(progress_printer(setting)):
        return COMMANDS[args.command](args)


__all__ = ["COMMANDS", "IMAGE_FORMATS", "check_image", "explain_periods", "run_command"]
