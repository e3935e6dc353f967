"""The ``kpitree`` command: a thin shell over the public API.

``main(argv) -> int`` parses arguments, calls the library, prints. kpitree's own errors become
one line ``kpitree: error: …`` and exit code 2; anything else is a bug: exit 1 with a one-line
message, or the full traceback with ``--debug``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from kpitree.cli.events import (
    add_generate_parser,
    add_raw_arguments,
    explain_raw,
    is_raw,
    run_generate,
)
from kpitree.core import VERSION
from kpitree.core.attribution import METHODS, explain
from kpitree.core.data import load_data
from kpitree.core.errors import KpitreeError
from kpitree.core.tree import load_tree

if TYPE_CHECKING:
    from kpitree.core.result import Explanation

FORMATS = ("table", "json", "csv")
IMAGE_FORMATS = (".png", ".svg", ".pdf")


class UsageError(KpitreeError):
    """Bad command-line usage (reported like any other input error)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return value


def _add_periods(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="base period, as in the period column")
    parser.add_argument("--compare", required=True, help="compare period")


def _add_segments_and_method(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", nargs="*", metavar="DIM",
                        help="segment dimensions, outermost first (default: the tree's segments; "
                             "--by with no names for totals only)")
    parser.add_argument("--method", default="shapley", choices=METHODS,
                        help="attribution method (default: shapley)")


def _add_output(parser: argparse.ArgumentParser, *, image: bool = True) -> None:
    parser.add_argument("--format", default="table", choices=FORMATS, dest="output_format",
                        help="output on stdout (default: table)")
    if image:
        parser.add_argument("--image", metavar="FILE",
                            help="also write the annotated tree (.png, .svg or .pdf)")
        parser.add_argument("--top", type=_positive, default=10, metavar="N",
                            help="effects shown by --format table (default: 10)")


def _add_common(parser: argparse.ArgumentParser) -> None:
    """Options every subcommand takes."""
    parser.add_argument("--period-column", default="period", metavar="NAME",
                        help="name of the period column (default: period)")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kpitree", description="Explain why ARPU moved.")
    parser.add_argument("--version", action="version", version=f"kpitree {VERSION}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("explain", help="attribute the change between two periods")
    run.add_argument("tree", help="tree file (YAML), e.g. trees/saas_arpu.yaml")
    run.add_argument("data", nargs="?",
                     help="aggregated data (CSV or Parquet, one row per period × segment), or, "
                          "for a tree with a data: section, raw events: a folder with events/ "
                          "and users/ files, a DuckDB file or a postgresql:// URL")
    _add_periods(run)
    _add_segments_and_method(run)
    _add_output(run)
    run.add_argument("--cross", action="store_true",
                     help="order-free cross-classified mix over the --by dimensions (Das Gupta "
                          "as in DasGuptR; per-category effects after Chevan & Sutherland)")
    add_raw_arguments(run)
    _add_common(run)
    add_generate_parser(commands)

    series = commands.add_parser("trend", help="chain-linked month-over-month attribution "
                                               "over a range of periods, with charts")
    series.add_argument("tree", help="tree file (YAML), e.g. trees/saas_arpu.yaml")
    series.add_argument("data", help="aggregated data: CSV or Parquet, one row per period × "
                                     "segment")
    series.add_argument("--from", dest="start", metavar="PERIOD",
                        help="first period (default: the first in the data)")
    series.add_argument("--to", dest="end", metavar="PERIOD",
                        help="last period (default: the last in the data)")
    _add_segments_and_method(series)
    _add_output(series, image=False)
    series.add_argument("--out", default="out", metavar="DIR",
                        help="folder for the charts (default: out)")
    series.add_argument("--chart-format", default="png", choices=("png", "svg", "pdf"),
                        help="chart file type (default: png)")
    series.add_argument("--no-charts", action="store_true", help="do not write the charts")
    _add_common(series)

    find = commands.add_parser("drivers", help="find the dimensions and the few segments "
                                               "that explain the change, with intervals")
    find.add_argument("tree", help="tree file (YAML), e.g. trees/saas_arpu.yaml")
    find.add_argument("data", help="user-level (one row per user × period) or aggregated data")
    _add_periods(find)
    find.add_argument("--dims", nargs="+", required=True, metavar="DIM",
                      help="candidate dimensions, e.g. tier region channel cohort")
    find.add_argument("--depth", type=_positive, default=2, metavar="N",
                      help="most conditions per segment (default: 2)")
    find.add_argument("--max-segments", type=_positive, default=5, metavar="K",
                      help="most segments found by the search (default: 5; launched or "
                           "discontinued values come on top)")
    find.add_argument("--min-effect", type=float, default=0.05, metavar="FRACTION",
                      help="stop below this fraction of the change (default: 0.05)")
    find.add_argument("--bootstrap", type=int, default=200, metavar="N",
                      help="bootstrap replicates for intervals; 0 for none (default: 200; "
                           "needs one row per user)")
    find.add_argument("--level", type=float, default=0.95, help="interval coverage "
                                                                 "(default: 0.95)")
    find.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    _add_output(find)
    _add_common(find)

    pack = commands.add_parser("report", help="write the review pack: HTML report, Markdown, "
                                              "tree and bridge images, effects.csv")
    pack.add_argument("tree", help="tree file (YAML), e.g. trees/saas_arpu.yaml")
    pack.add_argument("data", help="aggregated data: CSV or Parquet, one row per period × segment")
    _add_periods(pack)
    pack.add_argument("--out", required=True, metavar="DIR", help="folder to write the pack into")
    _add_segments_and_method(pack)
    pack.add_argument("--bridge", default="component", choices=("component", "segment"),
                      help="rate bars of the bridge: per driver or per segment "
                           "(default: component)")
    pack.add_argument("--top", type=_positive, default=None, metavar="N",
                      help="bridge bars kept per group before the rest fold into 'other' "
                           "(default: 6)")
    _add_common(pack)

    check = commands.add_parser("validate", help="check a tree file (and optionally data)")
    check.add_argument("tree", help="tree file (YAML)")
    check.add_argument("data", nargs="?", help="optional data file to check against the tree")
    _add_common(check)
    return parser


def _explain(args: argparse.Namespace) -> int:
    _check_image(args)
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
        result = explain(tree, args.data, base=args.base, compare=args.compare, by=args.by,
                         method=args.method, period_column=args.period_column)
    from kpitree.present.table import format_table

    return _emit(result, args, format_table)


def _check_image(args: argparse.Namespace) -> None:
    if args.image and Path(args.image).suffix.lower() not in IMAGE_FORMATS:
        raise UsageError(f"--image {args.image}: use a .png, .svg or .pdf file name")


def _emit(result: Explanation, args: argparse.Namespace,
          format_text: Callable[..., str]) -> int:
    """Write the image if asked, then the result on stdout as json, csv or a text table."""
    if args.image:
        result.render(args.image)
    if args.output_format == "json":
        print(result.to_json())
    elif args.output_format == "csv":
        table = result.effects.copy()
        table["path"] = ["/".join(p) for p in table["path"]]
        if result.intervals is not None:
            table = table.join(result.intervals.effects)
        print(table.to_csv(index=False), end="")
    else:
        print(format_text(result, top=args.top))
    if args.image:
        print(f"wrote {args.image}", file=sys.stderr)
    return 0


def _trend(args: argparse.Namespace) -> int:
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
    if args.output_format == "json":
        import json

        print(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    elif args.output_format == "csv":
        print(result.values.to_csv(index=False), end="")
    else:
        print(format_trend(result))
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _drivers(args: argparse.Namespace) -> int:
    from kpitree.analysis.drivers import drivers
    from kpitree.present.drivers_table import format_drivers

    _check_image(args)
    if args.bootstrap < 0:
        raise UsageError(f"--bootstrap {args.bootstrap}: use 0 (no intervals) or a count ≥ 10")
    tree = load_tree(args.tree)
    result = drivers(tree, args.data, base=args.base, compare=args.compare, dims=args.dims,
                     depth=args.depth, max_segments=args.max_segments,
                     min_effect=args.min_effect, replicates=args.bootstrap, level=args.level,
                     seed=args.seed, period_column=args.period_column)
    return _emit(result, args, format_drivers)


def _report(args: argparse.Namespace) -> int:
    from kpitree.present.report import write_report

    tree = load_tree(args.tree)
    result = explain(tree, args.data, base=args.base, compare=args.compare, by=args.by,
                     method=args.method, period_column=args.period_column)
    for path in write_report(result, args.out, rate_by=args.bridge, top=args.top):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _validate(args: argparse.Namespace) -> int:
    tree = load_tree(args.tree)
    drivers = ", ".join(" → ".join(d.path) for d in tree.drivers)
    print(f"{args.tree}: OK — root '{tree.root}' weighted by '{tree.weight}', "
          f"{len(tree.nodes)} nodes, drivers: {drivers}")
    if args.data:
        frame = load_data(args.data, tree, period_column=args.period_column)
        periods = sorted(frame[args.period_column].unique())
        print(f"{args.data}: OK — {len(frame)} rows, periods {', '.join(periods)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 2 bad input, 1 internal error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if args.command == "explain":
            return _explain(args)
        if args.command == "generate":
            return run_generate(args)
        if args.command == "trend":
            return _trend(args)
        if args.command == "report":
            return _report(args)
        if args.command == "drivers":
            return _drivers(args)
        return _validate(args)
    except KpitreeError as exc:
        if debug:
            raise
        print(f"kpitree: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kpitree: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) stopped early: not an error of ours. Silence the flush
        # Python attempts at exit on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: say so in one line unless --debug
        if debug:
            raise
        print(f"kpitree: internal error: {type(exc).__name__}: {exc} "
              "(run again with --debug for the traceback)", file=sys.stderr)
        return 1


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
