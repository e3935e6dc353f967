"""The one output path of the ``kpitree`` command: a result on stdout, written files on stderr.

What belongs here: how every command that prints a result (``explain`` on a table or on raw
events, ``drivers``, ``trend``) writes it for ``--format json|csv|table``, writes the tree image
for ``--image``, and says which files it wrote. What does not: the text tables themselves
(:mod:`kpitree.present.table`, :mod:`kpitree.present.drivers_table`), the JSON document
(the results' ``to_dict``) or any other formatting rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from kpitree.core.result import Explanation


def wrote(paths: Iterable[object]) -> None:
    """Tell stderr about each file a command wrote (stdout stays the result alone)."""
    for path in paths:
        print(f"wrote {path}", file=sys.stderr)


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
        output_format: ``json`` (the ``document``, indented, NaN refused), ``csv`` (the
            ``table`` without its index) or ``table`` (the ``text``).
        document, table, text: the result in each form; only the asked one is built.
        note: a note on where the numbers came from (raw events): printed after the text
            table, on stderr beside a CSV, and left out of JSON, whose document carries it.
        written: files the command wrote, announced on stderr after the result.
    """
    if output_format == "json":
        print(json.dumps(document(), indent=2, allow_nan=False))
    elif output_format == "csv":
        print(table().to_csv(index=False), end="")
        if note is not None:
            print(note, file=sys.stderr)
    else:
        print(text())
        if note is not None:
            print()
            print(note)
    wrote(written)
    return 0


def effects_table(result: Explanation) -> pd.DataFrame:
    """The effects as CSV rows: paths joined with ``/``, bootstrap intervals beside them."""
    table = result.effects.copy()
    table["path"] = ["/".join(p) for p in table["path"]]
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

    def document() -> Mapping[str, Any]:
        return result.to_dict() if data is None else {**result.to_dict(), "data": data}

    return emit(args.output_format, document=document, table=lambda: effects_table(result),
                text=lambda: format_text(result, top=args.top), note=note,
                written=[args.image] if args.image else [])
