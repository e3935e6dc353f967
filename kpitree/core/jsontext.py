"""Indented JSON text, fast: the same bytes as ``json.dumps(obj, indent=2, allow_nan=False)``.

What belongs here: :func:`dumps`, the one way kpitree writes its JSON documents (the
``--format json`` output, ``Explanation.to_json``). The standard library's C encoder is used
only without ``indent``; with it, ``json`` falls back to a generator per value, which is slow
for a result with 100,000 segments. This encoder walks the document once, appending text to a
list, with the C string escaper and ``float.__repr__`` for the leaves — the standard library's
own rules, so the output is byte for byte the same (a test checks it on every bundled result).
Also here: :func:`building`, which pauses the cyclic garbage collector while a large document
of small dicts is built (it holds no cycles; the collector would otherwise walk every dict
made so far, again and again). What does not: what the document holds (the results'
``to_dict``), or reading JSON.
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

try:  # the C escaper json itself uses (always present in CPython)
    from json.encoder import encode_basestring_ascii as _escape
except ImportError:  # pragma: no cover - other interpreters
    _escape = json.encoder.py_encode_basestring_ascii


def dumps(document: Any, *, indent: int = 2) -> str:
    """``document`` as indented JSON text; NaN and infinities are refused.

    Same output as ``json.dumps(document, indent=indent, allow_nan=False)`` for documents of
    dicts (string keys), lists, tuples, strings, ints, floats, booleans and None; anything else
    goes through :func:`json.dumps` itself.

    Raises:
        ValueError: a NaN or infinite float (as ``json.dumps`` with ``allow_nan=False``).

    Example:
        >>> print(dumps({"a": [1, 2.5, None], "b": {}}))
        {
          "a": [
            1,
            2.5,
            null
          ],
          "b": {}
        }
    """
    parts: list[str] = []
    _encode(document, parts, "\n", " " * indent)
    return "".join(parts)


def _encode(value: Any, parts: list[str], newline: str, step: str) -> None:
    """Append ``value`` to ``parts``; ``newline`` is a line break plus the current indent.

    Leaves inside a container are written in the container's loop (no call per leaf): that
    is where the time goes for a document of many small records.
    """
    leaf = _leaf(value)
    if leaf is not None:
        parts.append(leaf)
        return
    kind = type(value)
    if kind is dict and all(type(key) is str for key in value):
        if not value:
            parts.append("{}")
            return
        inner = newline + step
        separator = "," + inner
        head = "{" + inner
        for key, item in value.items():
            text = _leaf(item)
            if text is not None:
                parts.append(f"{head}{_escape(key)}: {text}")
            else:
                parts.append(f"{head}{_escape(key)}: ")
                _encode(item, parts, inner, step)
            head = separator
        parts.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            parts.append("[]")
            return
        inner = newline + step
        separator = "," + inner
        head = "[" + inner
        for item in value:
            text = _leaf(item)
            if text is not None:
                parts.append(head + text)
            else:
                parts.append(head)
                _encode(item, parts, inner, step)
            head = separator
        parts.append(newline + "]")
    else:  # numpy scalars, non-text keys, other mappings…: exactly what json would write
        text = json.dumps(value, indent=len(step), allow_nan=False)
        parts.append(text.replace("\n", newline))


def _leaf(value: Any) -> str | None:
    """A scalar's JSON text, or None for a container (or anything json must handle)."""
    kind = type(value)
    if kind is str:
        return _escape(value)
    if kind is float:
        return _float(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    return None


def _float(value: float) -> str:
    """A float as json writes it; NaN and infinities are refused (``allow_nan=False``)."""
    if value != value or value in (math.inf, -math.inf):
        raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
    return float.__repr__(value)


@contextmanager
def building() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large JSON document is built.

    Building 400,000 small dicts triggers a collection every 700 allocations, each walking the
    young objects and, now and then, all of them; none of them form cycles, so the pause only
    saves time (3× for a result with 100,000 segments). Nested uses are fine.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
