"""Progress of long runs: a callback the command line sets and the analyses call.

What belongs here: the one progress protocol of kpitree — a callable taking a stage name and
a fraction done in [0, 1] (or ``None`` when unknown), the same as raw-event scans use
(:data:`kpitree.io.events.plan.Progress`) — the context that sets it for the duration of a
command (:func:`reporting`), and what library code calls (:func:`report`, :func:`steps`),
which does nothing when no callback is set. What does not: drawing a bar or deciding whether
one is shown (the CLI: a bar on a terminal, silent when piped or with ``--quiet``); library
code never prints.

>>> seen = []
>>> with reporting(lambda stage, fraction: seen.append((stage, fraction))):
...     [x for x in steps("months", range(2))]
[0, 1]
>>> seen
[('months', 0.0), ('months', 0.5), ('months', 1.0)]
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import TypeVar

__all__ = ["Progress", "report", "reporting", "steps"]

Progress = Callable[[str, "float | None"], None]
T = TypeVar("T")

_CURRENT: ContextVar[Progress | None] = ContextVar("kpitree_progress", default=None)


@contextlib.contextmanager
def reporting(callback: Progress | None) -> Iterator[None]:
    """Send progress to ``callback`` inside the ``with`` block (``None``: nowhere)."""
    token = _CURRENT.set(callback)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def report(stage: str, fraction: float | None) -> None:
    """Tell the current callback, if any, how far ``stage`` is."""
    callback = _CURRENT.get()
    if callback is not None:
        callback(stage, fraction)


def steps(stage: str, items: Iterable[T], total: int | None = None) -> Iterator[T]:
    """``items``, reporting ``stage`` at 0 %, after each item, and at 100 %."""
    sized = list(items) if total is None else items
    count = len(sized) if total is None else total  # type: ignore[arg-type]
    report(stage, 0.0)
    for done, item in enumerate(sized, start=1):
        yield item
        report(stage, done / count if count else 1.0)
    if not count:
        report(stage, 1.0)
