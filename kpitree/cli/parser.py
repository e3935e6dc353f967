"""The ``kpitree`` command's arguments: every subcommand and the argument groups they share.

What belongs here: argparse only — the subcommands, their options, help texts and the checks
argparse can make on one option (``--top 0``). Bad usage raises :class:`UsageError`, so it is
reported like any other input error (one line, exit 2). What does not: running a command
(:mod:`kpitree.cli.commands`), checks that need several options or the files
(``--cross`` with ``--method``, an ``--image`` suffix), or printing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import NoReturn, overload

from kpitree.cli.analysis_options import add_explain_extras, add_pack_extras, add_whatif
from kpitree.core import VERSION
from kpitree.core.errors import UsageError

FORMATS = ("table", "json", "csv")
TREE_HELP = "tree file (YAML), e.g. trees/saas_arpu.yaml"
AGGREGATED_HELP = "aggregated data: CSV or Parquet, one row per period × segment"
RAW_HELP = ("aggregated data (CSV or Parquet, one row per period × segment), or, for a tree "
            "with a data: section, raw events: a folder with events/ and users/ files, a "
            "DuckDB file or a postgresql:// URL")


class LazyMethods(Sequence[str]):
    """The attribution methods (``kpitree.core.cells.METHODS``), read when first needed.

    argparse looks at ``choices`` only when it checks a value or prints a subcommand's help,
    so ``kpitree --help`` builds the parser without importing the maths (and pandas).
    """

    def names(self) -> tuple[str, ...]:
        from kpitree.core.cells import METHODS

        return tuple(METHODS)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self.names()[index]

    def __len__(self) -> int:
        return len(self.names())


class Parser(argparse.ArgumentParser):
    """An argument parser that raises :class:`UsageError` instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """As argparse's, but words left over point to the subcommand's own ``--help``."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = getattr(parsed, "command", None)
            prog = f"{self.prog} {command}" if command else self.prog
            raise UsageError(f"unrecognized arguments: {' '.join(extras)} (see '{prog} --help')")
        return parsed


def positive(text: str) -> int:
    """Argument type: a whole number ≥ 1 (``--top``, ``--depth``, ``--max-segments``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return value


def add_periods(parser: argparse.ArgumentParser) -> None:
    """``--base`` and ``--compare``: the two periods a command compares."""
    parser.add_argument("--base", required=True, help="base period, as in the period column")
    parser.add_argument("--compare", required=True, help="compare period")


def add_segments_and_method(parser: argparse.ArgumentParser) -> None:
    """``--by`` and ``--method``: how the change is split."""
    parser.add_argument("--by", nargs="*", metavar="DIM",
                        help="segment dimensions, outermost first (default: the tree's segments; "
                             "--by with no names for totals only)")
    parser.add_argument("--method", default="shapley", choices=LazyMethods(), metavar="METHOD",
                        help="attribution method: %(choices)s (default: shapley)")


def add_output(parser: argparse.ArgumentParser, *, image: bool = True) -> None:
    """``--format`` and, for commands that draw the tree, ``--image`` and ``--top``."""
    parser.add_argument("--format", default="table", choices=FORMATS, dest="output_format",
                        help="output on stdout (default: table)")
    if image:
        parser.add_argument("--image", metavar="FILE",
                            help="also write the annotated tree (.png, .svg or .pdf)")
        parser.add_argument("--top", type=positive, default=10, metavar="N",
                            help="effects shown by --format table (default: 10)")


def add_debug(parser: argparse.ArgumentParser) -> None:
    """``--debug`` after the subcommand too (hidden: the top-level option documents it)."""
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every subcommand that reads a tree takes."""
    parser.add_argument("--period-column", default="period", metavar="NAME",
                        help="name of the period column (default: period)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar on stderr (it shows only on a terminal anyway)")
    add_debug(parser)


def add_period_length(parser: argparse.ArgumentParser) -> None:
    """``--period month|quarter|year`` and ``--allow-partial`` (roll monthly data up)."""
    parser.add_argument("--period", default="month", choices=("month", "quarter", "year"),
                        help="roll monthly data (YYYY-MM) up to quarters (2026-Q3) or years "
                             "(2026) first; raw events: the tree's data.period for this run "
                             "(default: month, the data's own periods)")
    parser.add_argument("--allow-partial", action="store_true",
                        help="compare a quarter or year that misses months (noted) instead of "
                             "refusing it")


def add_raw_arguments(parser: argparse.ArgumentParser) -> None:
    """Options for raw sources (:mod:`kpitree.cli.events`), on every command that reads data."""
    parser.add_argument("--events", metavar="GLOB|TABLE",
                        help="raw events (tree with a data: section): CSV/Parquet files — a "
                             "glob or folder — or a table name in the database given as DATA")
    parser.add_argument("--users", metavar="GLOB|TABLE",
                        help="raw user-month table: files or a table name, like --events")
    parser.add_argument("--engine", metavar="NAME", default=None,
                        help="engine for raw files: duckdb (default), spark (a local session, "
                             "or the one --master names), or another ibis backend, attempted "
                             "(e.g. polars)")
    parser.add_argument("--master", metavar="URL", default=None,
                        help="Spark master to run on (spark://host:7077, yarn, local[4]); "
                             "implies --engine spark; only the aggregate comes back")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress of long scans on stderr (default: when it is a terminal)")


def _explain(run: argparse.ArgumentParser) -> None:
    run.add_argument("tree", help=TREE_HELP)
    run.add_argument("data", nargs="?", help=RAW_HELP)
    add_periods(run)
    add_segments_and_method(run)
    add_output(run)
    run.add_argument("--cross", action="store_true",
                     help="order-free cross-classified mix over the --by dimensions (Das Gupta "
                          "as in DasGuptR; per-category effects after Chevan & Sutherland)")
    add_explain_extras(run)
    add_period_length(run)
    add_raw_arguments(run)
    add_common(run)


def _generate(make: argparse.ArgumentParser) -> None:
    make.add_argument("--events", type=int, default=1_000_000, metavar="N",
                      help="about how many events (1,000 … 200,000,000; default 1,000,000)")
    make.add_argument("--out", default="out/events", metavar="DIR",
                      help="output folder (default: out/events)")
    make.add_argument("--months", type=int, default=12, help="months of history (default 12)")
    make.add_argument("--end", default="2026-10", metavar="YYYY-MM",
                      help="last month, where the effects are planted (default 2026-10)")
    make.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    make.add_argument("--force", action="store_true",
                      help="replace a log already in --out (its users-*, events-* and "
                           "planted.json files; nothing else is touched)")
    add_debug(make)


def _trend(series: argparse.ArgumentParser) -> None:
    series.add_argument("tree", help=TREE_HELP)
    series.add_argument("data", nargs="?", help=RAW_HELP)
    series.add_argument("--from", dest="start", metavar="PERIOD",
                        help="first period (default: the first in the data)")
    series.add_argument("--to", dest="end", metavar="PERIOD",
                        help="last period (default: the last in the data)")
    add_segments_and_method(series)
    add_output(series, image=False)
    series.add_argument("--out", default="out", metavar="DIR",
                        help="folder for the charts (default: out)")
    series.add_argument("--chart-format", default="png", choices=("png", "svg", "pdf"),
                        help="chart file type (default: png)")
    series.add_argument("--no-charts", action="store_true", help="do not write the charts")
    add_period_length(series)
    add_raw_arguments(series)
    add_common(series)


def _drivers(find: argparse.ArgumentParser) -> None:
    find.add_argument("tree", help=TREE_HELP)
    find.add_argument("data", nargs="?",
                      help="user-level (one row per user × period) or aggregated data, or raw "
                           "events (read once, one row per user, for a tree with a data: "
                           "section)")
    add_periods(find)
    find.add_argument("--dims", nargs="+", required=True, metavar="DIM",
                      help="candidate dimensions, e.g. tier region channel cohort")
    find.add_argument("--depth", type=positive, default=2, metavar="N",
                      help="most conditions per segment (default: 2)")
    find.add_argument("--max-segments", type=positive, default=5, metavar="K",
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
    find.add_argument("--user-id", metavar="COLUMN",
                      help="user-level rows: the user id column, so a user counts once per "
                           "period (dimensions at period end) and the bootstrap resamples "
                           "users, as on raw events (a raw source knows its own id)")
    find.add_argument("--buckets", nargs="+", metavar="DIM=K|E1,E2",
                      help="bucket numeric dimensions first: DIM=K quantile buckets, or "
                           "DIM=E1,E2,… edges (e.g. seats=4 tenure=3,12,24)")
    find.add_argument("--chart", metavar="FILE",
                      help="also write the chart of the named drivers (.png, .svg or .pdf)")
    add_output(find)
    add_raw_arguments(find)
    add_common(find)


def _report(pack: argparse.ArgumentParser) -> None:
    pack.add_argument("tree", help=TREE_HELP)
    pack.add_argument("data", nargs="?", help=RAW_HELP)
    add_periods(pack)
    pack.add_argument("--out", required=True, metavar="DIR", help="folder to write the pack into")
    add_segments_and_method(pack)
    pack.add_argument("--bridge", default="component", choices=("component", "segment"),
                      help="rate bars of the bridge: per driver or per segment "
                           "(default: component)")
    pack.add_argument("--top", type=positive, default=None, metavar="N",
                      help="bridge bars kept per group before the rest fold into 'other' "
                           "(default: 6)")
    pack.add_argument("--drivers", nargs="+", metavar="DIM",
                      help="add the driver search over these dimensions (its table, sentence "
                           "and chart)")
    add_pack_extras(pack)
    add_raw_arguments(pack)
    add_common(pack)


def _whatif(scenario: argparse.ArgumentParser) -> None:
    scenario.add_argument("tree", help=TREE_HELP)
    scenario.add_argument("data", help=AGGREGATED_HELP)
    add_whatif(scenario)
    add_segments_and_method(scenario)
    add_output(scenario, image=False)
    scenario.add_argument("--top", type=positive, default=10, metavar="N",
                          help="effects and levers shown by --format table (default: 10)")
    add_common(scenario)


def _validate(check: argparse.ArgumentParser) -> None:
    check.add_argument("tree", help="tree file (YAML)")
    check.add_argument("data", nargs="?",
                       help="optional data to check against the tree: an aggregated file, or a "
                            "raw source (tables, columns, periods, definitions, every check)")
    add_raw_arguments(check)
    add_common(check)


def _aggregate(write: argparse.ArgumentParser) -> None:
    write.add_argument("tree", help="tree file (YAML) with a data: section")
    write.add_argument("data", nargs="?", help="raw events: a folder with events/ and users/ "
                                               "files, a DuckDB file or a postgresql:// URL")
    write.add_argument("--out", required=True, metavar="FILE",
                       help="the period × segment table to write (.parquet: definitions in its "
                            "metadata; .csv: definitions in FILE.csv.json beside it)")
    write.add_argument("--periods", nargs="+", metavar="PERIOD",
                       help="the periods to aggregate (default: every complete period)")
    write.add_argument("--from", dest="start", metavar="PERIOD", help="first period")
    write.add_argument("--to", dest="end", metavar="PERIOD", help="last period")
    write.add_argument("--by", nargs="*", metavar="DIM",
                       help="segment dimensions (default: the tree's segments)")
    add_raw_arguments(write)
    add_debug(write)


def _serve(app: argparse.ArgumentParser) -> None:
    app.add_argument("tree", help=TREE_HELP)
    app.add_argument("data", help=AGGREGATED_HELP)
    app.add_argument("--base", help="base period shown first (default: the second last)")
    app.add_argument("--compare", help="compare period shown first (default: the last)")
    app.add_argument("--dims", nargs="+", metavar="DIM",
                     help="dimensions to drill by (default: every column that is not the "
                          "period or a measure)")
    app.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default: 127.0.0.1, this machine only; "
                          "anything else prints a warning)")
    app.add_argument("--port", type=int, default=8765, metavar="N",
                     help="port (default: 8765; 0 for a free one)")
    app.add_argument("--no-browser", action="store_true", help="do not open the browser")
    add_common(app)


# Each subcommand: its one-line help and the function adding its arguments, in --help order.
SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "explain": ("attribute the change between two periods", _explain),
    "generate": ("write a synthetic SaaS event log with planted effects (Parquet)", _generate),
    "trend": ("chain-linked month-over-month attribution over a range of periods, with charts",
              _trend),
    "drivers": ("find the dimensions and the few segments that explain the change, with "
                "intervals", _drivers),
    "report": ("write the review pack: HTML report, Markdown, tree and bridge images, "
               "effects.csv", _report),
    "whatif": ("what-if levers on one period, explained like a month: the bridge by lever, "
               "goal seek, sensitivity", _whatif),
    "validate": ("check a tree file (and optionally data)", _validate),
    "aggregate": ("write the period × segment table of raw events, with its definitions",
                  _aggregate),
    "serve": ("the interactive explorer in the browser: drill into the change, try levers, "
              "export", _serve),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``kpitree`` parser; the subcommands appear in ``--help`` in this order."""
    parser = Parser(prog="kpitree", description="Explain why ARPU moved.")
    parser.add_argument("--version", action="version", version=f"kpitree {VERSION}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, (text, add_arguments) in SUBCOMMANDS.items():
        add_arguments(commands.add_parser(name, help=text))
    return parser
