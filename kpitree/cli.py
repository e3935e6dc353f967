"""The ``kpitree`` command: a thin shell over the public API.

``main(argv) -> int`` parses arguments, calls the library, prints. kpitree's own errors become
one line ``kpitree: error: …`` and exit code 2; anything else is a bug: exit 1 with a one-line
message, or the full traceback with ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from kpitree import __version__
from kpitree.attribution import METHODS, explain
from kpitree.data import load_data
from kpitree.errors import KpitreeError
from kpitree.tree import load_tree

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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kpitree", description="Explain why ARPU moved.")
    parser.add_argument("--version", action="version", version=f"kpitree {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("explain", help="attribute the change between two periods")
    run.add_argument("tree", help="tree file (YAML), e.g. trees/saas_arpu.yaml")
    run.add_argument("data", help="aggregated data: CSV or Parquet, one row per period × segment")
    run.add_argument("--base", required=True, help="base period, as in the period column")
    run.add_argument("--compare", required=True, help="compare period")
    run.add_argument("--by", nargs="*", metavar="DIM",
                     help="segment dimensions, outermost first (default: the tree's segments; "
                          "--by with no names for totals only)")
    run.add_argument("--method", default="shapley", choices=METHODS,
                     help="attribution method (default: shapley)")
    run.add_argument("--format", default="table", choices=FORMATS, dest="output_format",
                     help="output on stdout (default: table)")
    run.add_argument("--image", metavar="FILE", help="also write the annotated tree "
                                                     "(.png, .svg or .pdf)")
    run.add_argument("--period-column", default="period", metavar="NAME",
                     help="name of the period column (default: period)")
    run.add_argument("--top", type=_positive, default=10, metavar="N",
                     help="effects shown by --format table (default: 10)")
    run.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    check = commands.add_parser("validate", help="check a tree file (and optionally data)")
    check.add_argument("tree", help="tree file (YAML)")
    check.add_argument("data", nargs="?", help="optional data file to check against the tree")
    check.add_argument("--period-column", default="period", metavar="NAME")
    check.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def _explain(args: argparse.Namespace) -> int:
    if args.image and Path(args.image).suffix.lower() not in IMAGE_FORMATS:
        raise UsageError(
            f"--image {args.image}: use a .png, .svg or .pdf file name"
        )
    tree = load_tree(args.tree)
    result = explain(tree, args.data, base=args.base, compare=args.compare, by=args.by,
                     method=args.method, period_column=args.period_column)
    if args.image:
        result.render(args.image)
    if args.output_format == "json":
        print(result.to_json())
    elif args.output_format == "csv":
        table = result.effects.copy()
        table["path"] = ["/".join(p) for p in table["path"]]
        print(table.to_csv(index=False), end="")
    else:
        from kpitree.table import format_table

        print(format_table(result, top=args.top))
    if args.image:
        print(f"wrote {args.image}", file=sys.stderr)
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
        return _validate(args)
    except KpitreeError as exc:
        if debug:
            raise
        print(f"kpitree: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kpitree: interrupted", file=sys.stderr)
        return 130
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
