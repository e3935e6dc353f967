"""The one output path of the ``kpitree`` command: a result on stdout, written files on stderr.

What belongs here: how every command that prints a result (``explain`` on a table or on raw
events, ``drivers``, ``trend``) writes it for ``--format json|csv|table``, writes the tree image
for ``--image``, and says which files it wrote. What does not: the text tables themselves
(:mod:`kpitree.present.table`, :mod:`kpitree.present.drivers_table`), the JSON document
(the results' ``to_dict`` / ``json_document``) or any other formatting rule.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from kpitree.core.frames import export_effects
from kpitree.core.safety import csv_safe, terminal

if TYPE_CHECKING:
    import pandas as pd

    from kpitree.core.result import Explanation


def show(text: object, *, file: TextIO | None = None, end: str = "\n") -> None:
    """Print ``text`` with its control characters shown escaped (``\x1b``), never raw.

    Every line the command prints goes through here or :func:`emit`, so a segment value or a
    label cannot set the terminal's title, clear the screen or reorder a line.
    """
    print(terminal(str(text)), file=sys.stdout if file is None else file, end=end)


def wrote(paths: Iterable[object]) -> None:
    """Tell stderr about each file a command wrote (stdout stays the result alone)."""
    for path in paths:
        show(f"wrote {path}", file=sys.stderr)


def emit(
    output_format: str,
    *,
    document: Callable[[], Mapping[str, Any]],
    table: Callable[[], pd.DataFrame],
    text: Callable[[], str],
    note: str | None = None,
    written: Iterable[object] = (),
) -> int:
    """Print a result in the asked ``--format`` and return the exit code 0.

    Args:
        output_format: ``json`` (the ``document``, indented, NaN refused; control characters
            are escaped by JSON itself), ``csv`` (the ``table`` without its index, text cells
            that a spreadsheet would run as a formula prefixed with ``'``) or ``table`` (the
            ``text``, control characters shown escaped).
        document, table, text: the result in each form; only the asked one is built.
        note: a note on where the numbers came from (raw events): printed after the text
            table, on stderr beside a CSV, and left out of JSON, whose document carries it.
        written: files the command wrote, announced on stderr after the result.
    """
    if output_format == "json":
        write_json(document(), sys.stdout)
    elif output_format == "csv":
        write_csv(table(), sys.stdout)
        if note is not None:
            show(note, file=sys.stderr)
    else:
        show(text())
        if note is not None:
            print()
            show(note)
    wrote(written)
    return 0


CSV_CHUNK = 50_000  # rows made into text (and written) at a time


def write_csv(frame: pd.DataFrame, stream: TextIO) -> None:
    """``frame`` as CSV without its index, formula-like text cells guarded
    (:func:`~kpitree.core.safety.csv_safe`), control characters shown escaped; written
    :data:`CSV_CHUNK` rows at a time (the same bytes as one ``to_csv`` of the whole frame)."""
    for start in range(0, max(len(frame), 1), CSV_CHUNK):
        text = csv_safe(frame.iloc[start:start + CSV_CHUNK]).to_csv(index=False,
                                                                    header=start == 0)
        # terminal() keeps newlines and tabs: text printable without them needs no escaping
        plain = text.replace("\n", "").replace("\t", "").isprintable()
        stream.write(text if plain else terminal(text))


def write_json(document: Mapping[str, Any], stream: TextIO) -> None:
    """The JSON document, indented, on ``stream`` (NaN refused; non-ASCII escaped by JSON).

    Written as it is made (``json.dumps(indent=2)``'s bytes): a result's segments and effects
    go out chunk by chunk from their columns, so memory does not grow with the segments.
    """
    from kpitree.core import jsontext

    jsontext.write(document, stream, indent=2)


def effects_table(result: Explanation) -> pd.DataFrame:
    """The effects as CSV rows: the two periods first, paths joined with ``/``, bootstrap
    intervals beside them (:func:`kpitree.core.frames.export_effects`)."""
    table = export_effects(result.effects, result.base.period, result.compare.period)
    if result.intervals is not None:
        table = table.join(result.intervals.effects)
    return table


def emit_explanation(
    result: Explanation,
    args: argparse.Namespace,
    format_text: Callable[..., str],
    *,
    data: Mapping[str, Any] | None = None,
    note: str | None = None,
) -> int:
    """Write ``--image`` if asked, then print an explanation (or a driver search) by ``emit``.

    Args:
        result: the explanation.
        args: the parsed ``--format``, ``--image`` and ``--top``.
        format_text: the text table, called as ``format_text(result, top=args.top)``.
        data: where the data came from (raw events), added to the JSON as ``"data"``.
        note: the same in words, as :func:`emit`'s ``note``.
    """
    if args.image:
        result.render(args.image)

    def document() -> Mapping[str, Any]:  # columns, streamed by write_json
        body = result.json_document()
        return body if data is None else {**body, "data": data}

    return emit(args.output_format, document=document, table=lambda: effects_table(result),
                text=lambda: format_text(result, top=args.top), note=note,
                written=[args.image] if args.image else [])
