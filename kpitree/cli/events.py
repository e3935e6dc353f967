"""The raw-event commands of ``kpitree``: ``explain`` on raw sources, and ``generate``.

What belongs here: telling a raw source from an aggregated table, the progress line of long
scans, explaining straight from an event log (files, a DuckDB file, PostgreSQL, Spark) and the
synthetic generator — kept apart from :mod:`kpitree.cli.commands`, which only delegates. Heavy
engines are imported only when a raw source is used. What does not: the options
(:mod:`kpitree.cli.parser`) or how a result is printed (:mod:`kpitree.cli.output`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.cli.output import emit_explanation
from kpitree.core.errors import RawUsageError

if TYPE_CHECKING:
    from kpitree.core.tree import Tree

AGGREGATED_SUFFIXES = (".csv", ".parquet", ".pq")

__all__ = ["AGGREGATED_SUFFIXES", "RawUsageError", "explain_raw", "is_raw", "progress_printer",
           "run_generate"]


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


def explain_raw(args: argparse.Namespace, tree: Tree) -> int:
    """``kpitree explain`` on a raw source: aggregate where the data is, then explain.

    The output is an explanation's, plus where the numbers came from: the JSON's ``"data"``,
    and the same in words under the text table (on stderr beside a CSV).
    """
    from kpitree.core.attribution import explain
    from kpitree.io.events import aggregate
    from kpitree.io.sources import connect
    from kpitree.present.table import format_table

    if getattr(args, "cross", False):
        raise RawUsageError("--cross takes an aggregated table; run without --cross on raw "
                            "events")
    with connect(args.data, events=args.events, users=args.users, engine=args.engine) as source:
        raw = aggregate(tree, source, periods=[args.base, args.compare], by=args.by,
                        progress=progress_printer(args.progress))
    base, compare = (p.label for p in raw.periods)
    result = explain(tree, raw.frame, base=base, compare=compare, by=args.by,
                     method=args.method)
    return emit_explanation(result, args, format_table, data=raw.to_dict(),
                            note=raw.describe())


def run_generate(args: argparse.Namespace) -> int:
    """``kpitree generate``: write the synthetic event log and state what was planted."""
    from kpitree.io.generate import generate

    show = sys.stderr.isatty()
    made = generate(args.out, events=args.events, months=args.months, seed=args.seed,
                    end=args.end,
                    progress=(lambda line: print(line, file=sys.stderr)) if show else None)
    print(made.describe())
    return 0
