"""The raw-event parts of the ``kpitree`` command: ``explain`` on raw sources, ``generate``.

What belongs here: the arguments and the printing for explaining straight from an event log
(files, a DuckDB file, PostgreSQL, Spark) and for the synthetic generator, kept apart from
:mod:`kpitree.cli.main` so that the shared command module only delegates. Heavy engines are imported
only when a raw source is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kpitree.core.errors import KpitreeError

AGGREGATED_SUFFIXES = (".csv", ".parquet", ".pq")


class RawUsageError(KpitreeError):
    """Bad command-line usage of a raw source."""


def add_raw_arguments(run: argparse.ArgumentParser) -> None:
    """``explain`` options for raw sources."""
    run.add_argument("--events", metavar="GLOB|TABLE",
                     help="raw events (tree with a data: section): CSV/Parquet files — a glob "
                          "or folder — or a table name in the database given as DATA")
    run.add_argument("--users", metavar="GLOB|TABLE",
                     help="raw user-month table: files or a table name, like --events")
    run.add_argument("--engine", choices=("duckdb", "spark"), default=None,
                     help="engine for raw files (default: duckdb; spark: a local session)")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress of long scans on stderr (default: when it is a terminal)")


def add_generate_parser(commands: Any) -> None:
    make = commands.add_parser("generate", help="write a synthetic SaaS event log with planted "
                                                "effects (Parquet)")
    make.add_argument("--events", type=int, default=1_000_000, metavar="N",
                      help="about how many events (1,000 … 200,000,000; default 1,000,000)")
    make.add_argument("--out", default="out/events", metavar="DIR",
                      help="output folder (default: out/events)")
    make.add_argument("--months", type=int, default=12, help="months of history (default 12)")
    make.add_argument("--end", default="2026-10", metavar="YYYY-MM",
                      help="last month, where the effects are planted (default 2026-10)")
    make.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    make.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def is_raw(args: argparse.Namespace) -> bool:
    """Raw events unless DATA is one aggregated CSV/Parquet file and no raw option is given."""
    if getattr(args, "events", None) or getattr(args, "users", None) or \
            getattr(args, "engine", None):
        return True
    if args.data is None:
        raise RawUsageError("give DATA (an aggregated table or a raw source) or --events and "
                            "--users (see 'kpitree explain --help')")
    path = Path(args.data)
    return not (path.is_file() and path.suffix.lower() in AGGREGATED_SUFFIXES)


def progress_printer(setting: bool | None) -> Callable[[str, float | None], None] | None:
    """A one-line progress indicator on stderr (only when asked, or on a terminal)."""
    show = sys.stderr.isatty() if setting is None else setting
    if not show:
        return None
    started = time.monotonic()

    def report(stage: str, fraction: float | None) -> None:
        done = "" if fraction is None else f" {fraction:4.0%}"
        finished = fraction is not None and fraction >= 1.0
        print(f"\r{stage}{done} ({time.monotonic() - started:.1f} s)\033[K",
              end="\n" if finished else "", file=sys.stderr, flush=True)

    return report


def explain_raw(args: argparse.Namespace, tree: Any) -> int:
    """``kpitree explain`` on a raw source: aggregate where the data is, then explain."""
    from kpitree.core.attribution import explain
    from kpitree.io.events import aggregate
    from kpitree.io.sources import connect

    if getattr(args, "cross", False):
        raise RawUsageError("--cross takes an aggregated table; run without --cross on raw "
                            "events")
    with connect(args.data, events=args.events, users=args.users, engine=args.engine) as source:
        raw = aggregate(tree, source, periods=[args.base, args.compare], by=args.by,
                        progress=progress_printer(args.progress))
    base, compare = (p.label for p in raw.periods)
    result = explain(tree, raw.frame, base=base, compare=compare, by=args.by,
                     method=args.method)
    if args.image:
        result.render(args.image)
    if args.output_format == "json":
        print(json.dumps({**result.to_dict(), "data": raw.to_dict()}, indent=2,
                         allow_nan=False))
    elif args.output_format == "csv":
        table = result.effects.copy()
        table["path"] = ["/".join(p) for p in table["path"]]
        print(table.to_csv(index=False), end="")
        print(raw.describe(), file=sys.stderr)
    else:
        from kpitree.present.table import format_table

        print(format_table(result, top=args.top))
        print()
        print(raw.describe())
    if args.image:
        print(f"wrote {args.image}", file=sys.stderr)
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from kpitree.io.generate import generate

    show = sys.stderr.isatty()
    made = generate(args.out, events=args.events, months=args.months, seed=args.seed,
                    end=args.end,
                    progress=(lambda line: print(line, file=sys.stderr)) if show else None)
    print(made.describe())
    return 0
