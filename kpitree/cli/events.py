"""Raw sources on the command line: telling one from a table, opening it, aggregating it once.

What belongs here: telling a raw source from an aggregated table (:func:`is_raw`), the progress
line of long scans, opening the source the options name (a folder, a DuckDB file, a database
URL, ``--engine spark`` with ``--master``, or another ibis backend) and aggregating it once for
the periods a command needs (:func:`aggregate_raw`), ``explain`` straight from an event log and
the synthetic generator. The other commands on raw sources (``report``, ``trend``, ``drivers``,
``validate``, ``aggregate``) are in :mod:`kpitree.cli.raw`. Heavy engines are imported only when
a raw source is used. What does not: the options (:mod:`kpitree.cli.parser`) or how a result is
printed (:mod:`kpitree.cli.output`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.core.errors import RawUsageError

if TYPE_CHECKING:
    from kpitree.core.tree import Tree
    from kpitree.io.events import Aggregate

AGGREGATED_SUFFIXES = (".csv", ".parquet", ".pq")

__all__ = ["AGGREGATED_SUFFIXES", "RawUsageError", "aggregate_raw", "explain_raw", "is_raw",
           "progress_printer", "run_generate"]


def is_raw(args: argparse.Namespace) -> bool:
    """Raw events unless DATA is one aggregated CSV/Parquet file and no raw option is given.

    A DATA name ending in .csv/.parquet that does not exist is taken as a (missing) aggregated
    table, so the error says the file is missing rather than describing raw sources.
    """
    if getattr(args, "events", None) or getattr(args, "users", None) or \
            getattr(args, "engine", None) or getattr(args, "master", None):
        return True
    if args.data is None:
        raise RawUsageError(f"give DATA (an aggregated table or a raw source) or --events and "
                            f"--users (see 'kpitree {args.command} --help')")
    path = Path(args.data)
    if path.suffix.lower() in AGGREGATED_SUFFIXES and not path.exists():
        return False
    return not (path.is_file() and path.suffix.lower() in AGGREGATED_SUFFIXES)


def progress_printer(setting: bool | None) -> Callable[[str, float | None], None] | None:
    """A one-line progress indicator on stderr (only when asked, or on a terminal)."""
    show = sys.stderr.isatty() if setting is None else setting
    if not show:
        return None
    started = time.monotonic()

    def report(stage: str, fraction: float | None) -> None:
        filled = 0 if fraction is None else round(20 * min(max(fraction, 0.0), 1.0))
        done = "" if fraction is None else f" [{'#' * filled}{'.' * (20 - filled)}] {fraction:4.0%}"
        finished = fraction is not None and fraction >= 1.0
        print(f"\r{stage}{done} ({time.monotonic() - started:.1f} s)\033[K",
              end="\n" if finished else "", file=sys.stderr, flush=True)

    return report


def aggregate_raw(args: argparse.Namespace, tree: Tree, *, periods: Sequence[str] | None,
                  by: Sequence[str] | None) -> Aggregate:
    """Open the raw source the options name and aggregate it once for ``periods``.

    Args:
        args: the parsed DATA, ``--events``, ``--users``, ``--engine``, ``--master`` and
            ``--progress``.
        tree: a tree with a ``data:`` section.
        periods: the period labels wanted, or None for every complete period of the source.
        by: the segment dimensions (None: the tree's).
    """
    from kpitree.io.events import aggregate
    from kpitree.io.sources import connect

    with connect(args.data, events=getattr(args, "events", None),
                 users=getattr(args, "users", None), engine=getattr(args, "engine", None),
                 master=getattr(args, "master", None)) as source:
        return aggregate(tree, source, periods=None if periods is None else list(periods),
                         by=by, progress=progress_printer(getattr(args, "progress", None)))


def explain_raw(args: argparse.Namespace, tree: Tree) -> int:
    """``kpitree explain`` on a raw source: aggregate where the data is, then explain.

    The output is an explanation's, plus where the numbers came from: the JSON's ``"data"``,
    and the same in words under the text table (on stderr beside a CSV).
    """
    from kpitree.cli.output import emit_explanation
    from kpitree.core.attribution import explain
    from kpitree.present.table import format_table

    if getattr(args, "cross", False):
        raise RawUsageError("--cross takes an aggregated table; run without --cross on raw "
                            "events")
    raw = aggregate_raw(args, tree, periods=[args.base, args.compare], by=args.by)
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
                    end=args.end, force=args.force,
                    progress=(lambda line: print(line, file=sys.stderr)) if show else None)
    print(made.describe())
    return 0
