"""Every command on a raw source: the input a command reads, ``validate`` and ``aggregate``.

What belongs here: :func:`command_input`, which gives ``report``, ``trend`` and ``drivers`` the
table they read — the aggregated file as given, or a raw source aggregated once, where the data
lives, for exactly the periods and dimensions the command needs — with where its numbers came
from; ``kpitree validate`` on a raw source (tables, columns, periods, definitions and every
data check, over every complete period); ``kpitree aggregate``, which writes the period ×
segment table with its definitions recorded (Parquet key-value metadata, or a JSON file beside
a CSV). What does not: opening sources and aggregating (:mod:`kpitree.cli.events`,
:mod:`kpitree.io`), the maths, or printing results (:mod:`kpitree.cli.output`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.cli.events import aggregate_raw, is_raw
from kpitree.core import VERSION
from kpitree.core.errors import UsageError, WriteError
from kpitree.core.files import write_text, write_with
from kpitree.core.safety import csv_safe

if TYPE_CHECKING:
    import pandas as pd

    from kpitree.core.tree import Tree
    from kpitree.io.events import Aggregate

METADATA_KEY = b"kpitree"  # the Parquet key-value metadata entry of `kpitree aggregate`
AGGREGATE_FORMATS = (".parquet", ".csv")

__all__ = ["AGGREGATE_FORMATS", "METADATA_KEY", "Input", "command_input", "read_metadata",
           "run_aggregate", "trend_periods", "validate_raw", "write_aggregate"]


@dataclass(frozen=True)
class Input:
    """What a command reads: the data (a path or a frame) and, for a raw source, its aggregate.

    Attributes:
        data: the aggregated file as given, or the raw source's aggregate as a frame.
        period_column: the period column of ``data`` (always ``period`` for a raw source).
        raw: the :class:`~kpitree.io.events.Aggregate` of a raw source, else None.
    """

    data: Any
    period_column: str
    raw: Aggregate | None = None

    @property
    def note(self) -> str | None:
        """Where the numbers came from, in words (raw sources only)."""
        return None if self.raw is None else self.raw.describe()

    def document(self, document: Mapping[str, Any]) -> Mapping[str, Any]:
        """A JSON document with the raw source's ``"data"`` entry added (as ``explain``)."""
        return document if self.raw is None else {**document, "data": self.raw.to_dict()}


def command_input(args: argparse.Namespace, tree: Tree, *, periods: Sequence[str] | None,
                  by: Sequence[str] | None) -> Input:
    """The table a command reads: DATA as given, or the raw source aggregated once.

    Args:
        args: the parsed options (DATA, ``--period-column`` and the raw-source options).
        tree: the loaded tree (a raw source needs its ``data:`` section).
        periods: the periods the command needs (None: every complete period).
        by: the dimensions it splits by (None: the tree's segments).
    """
    if not is_raw(args):
        return Input(args.data, args.period_column)
    raw = aggregate_raw(args, tree, periods=periods, by=by)
    return Input(raw.frame, "period", raw)


def trend_periods(args: argparse.Namespace, tree: Tree) -> list[str] | None:
    """The periods ``--from`` … ``--to`` on a raw source (None: every complete period)."""
    if args.start is None or args.end is None or tree.spec.data is None:
        return None
    from kpitree.core.errors import DataError, TreeError
    from kpitree.core.periods import period_window, windows_between

    period = tree.spec.data.period
    try:
        first, last = period_window(period, args.start), period_window(period, args.end)
    except TreeError as exc:
        raise DataError(str(exc)) from None
    labels = [w.label for w in windows_between(period, first.first_month, last.last_month)]
    if not labels:
        raise UsageError(f"--from {args.start} --to {args.end}: no complete period between "
                         "them")
    return labels


def validate_raw(args: argparse.Namespace, tree: Tree) -> int:
    """``kpitree validate TREE SOURCE`` on raw events: every check, over every period.

    Prints the tables and the columns the definitions use, the periods found, the definitions
    and the notes; any bad input is the usual one-line error (exit 2).
    """
    raw = aggregate_raw(args, tree, periods=None, by=None)
    first, last = raw.periods[0].label, raw.periods[-1].label
    segments = {dim: raw.frame[dim].nunique() for dim in raw.frame.columns
                if dim in tree.segments}
    split = ", ".join(f"{n} {dim} values" for dim, n in segments.items()) or "no segments"
    print(f"{args.data or 'files'}: OK ({raw.engine}) — {len(raw.periods)} complete "
          f"periods {first} … {last}, {len(raw.frame):,} period × segment rows ({split}), "
          f"measures {', '.join(tree.columns.values())}")
    print(raw.describe())
    return 0


def run_aggregate(args: argparse.Namespace) -> int:
    """``kpitree aggregate TREE SOURCE --out FILE``: the period × segment table, written."""
    from kpitree.core.tree import load_tree

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in AGGREGATE_FORMATS:
        raise UsageError(f"--out {args.out}: use a .parquet or .csv file name")
    tree = load_tree(args.tree)
    if args.periods and (args.start or args.end):
        raise UsageError("give either --periods or --from/--to, not both")
    periods = list(args.periods) if args.periods else trend_periods(args, tree)
    raw = aggregate_raw(args, tree, periods=periods, by=args.by)
    frame = raw.frame
    if periods is None and (args.start or args.end):
        keep = frame["period"].map(lambda p: (args.start is None or p >= args.start) and
                                   (args.end is None or p <= args.end))
        frame = frame[keep].reset_index(drop=True)
    written = write_aggregate(raw, frame, out, tree=tree, by=args.by)
    print(raw.describe(), file=sys.stderr)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def aggregate_metadata(raw: Aggregate, frame: pd.DataFrame, *, tree: Tree,
                       by: Sequence[str] | None) -> dict[str, Any]:
    """What a written aggregate records: the tree, the definitions, periods, notes, columns."""
    dims = list(tree.segments if by is None else by)
    return {
        "kpitree": VERSION, "tree": tree.name, "tree_file": str(tree.spec.source),
        "segments": dims, "period_column": "period",
        "measures": {column: raw.definition.measures()[column]
                     for column in dict.fromkeys(tree.columns.values())},
        "money": ("currency units per 30 days" if raw.definition.per_30_days
                  else "currency units") + " (exact: summed in integer cents)",
        "rows": len(frame), **raw.to_dict(),
    }


def write_aggregate(raw: Aggregate, frame: pd.DataFrame, out: Path, *, tree: Tree,
                    by: Sequence[str] | None) -> list[Path]:
    """Write ``frame`` to ``out`` (.parquet or .csv) with its definitions recorded.

    Parquet keeps them in the file's key-value metadata under ``kpitree``; a CSV gets them in
    ``FILE.csv.json`` beside it, and any text cell that a spreadsheet would run as a formula
    is prefixed with ``'``. Either file is what ``kpitree explain TREE FILE`` reads.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    metadata = aggregate_metadata(raw, frame, tree=tree, by=by)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".parquet":
            table = pa.Table.from_pandas(frame, preserve_index=False)
            meta = dict(table.schema.metadata or {})
            meta[METADATA_KEY] = json.dumps(metadata, sort_keys=True).encode()
            table = table.replace_schema_metadata(meta)
            write_with(out, lambda temporary: pq.write_table(table, temporary))
            return [out]
        write_text(out, csv_safe(frame).to_csv(index=False))
        sidecar = out.with_name(out.name + ".json")
        write_text(sidecar, json.dumps(metadata, indent=2, sort_keys=True) + "\n")
        return [out, sidecar]
    except WriteError as exc:
        raise UsageError(f"--out {out}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write it ({exc.strerror})") from None


def read_metadata(path: str | Path) -> dict[str, Any] | None:
    """The definitions recorded with an aggregate ``kpitree aggregate`` wrote, or None."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        return json.loads(meta[METADATA_KEY]) if METADATA_KEY in meta else None
    sidecar = path.with_name(path.name + ".json")
    return json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else None
