"""Indented JSON text, fast and streamed: the same bytes as ``json.dumps(obj, indent=2)``.

What belongs here: :func:`dumps` and :func:`write`, the one way kpitree writes its JSON
documents (the ``--format json`` output, ``Explanation.to_json``), and :class:`Records`, a
JSON array of objects held as columns (a result's segments and effects) that is written chunk
by chunk, straight from the columns, never as one dict per row. The standard library's C
encoder is used only without ``indent``; with it, ``json`` falls back to a generator per value,
which is slow for a result with 100,000 segments. This encoder walks the document once, with
the C string escaper and ``float.__repr__`` for the leaves — the standard library's own rules,
so the output is byte for byte the same (tests check it on every bundled result). What does
not: what the document holds (the results' ``to_dict`` / ``json_document``), or reading JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, Protocol, TextIO

import numpy as np

try:  # the C escaper json itself uses (always present in CPython)
    from json.encoder import encode_basestring_ascii as _escape
except ImportError:  # pragma: no cover - other interpreters
    _escape = json.encoder.py_encode_basestring_ascii

CHUNK = 20_000  # records formatted (and, by write, flushed) at a time: bounds the memory used


def dumps(document: Any, *, indent: int = 2) -> str:
    """``document`` as indented JSON text; NaN and infinities are refused.

    Same output as ``json.dumps(document, indent=indent, allow_nan=False)`` for documents of
    dicts (string keys), lists, tuples, strings, ints, floats, booleans and None, with any
    :class:`Records` written as the list of its records; anything else goes through
    :func:`json.dumps` itself.

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
    out = _Out(None)
    _encode(document, out, "\n", " " * indent)
    return "".join(out.parts)


def write(document: Any, stream: TextIO, *, indent: int = 2) -> None:
    """:func:`dumps` of ``document`` written to ``stream`` as it is made, then a newline.

    The text of a :class:`Records` is written :data:`CHUNK` records at a time, so the memory
    used does not grow with the number of records (the document itself stays as columns).
    """
    out = _Out(stream)
    _encode(document, out, "\n", " " * indent)
    out.parts.append("\n")
    out.flush()


def plain(document: Any) -> Any:
    """``document`` with every :class:`Records` turned into its list of dicts (plain Python)."""
    if isinstance(document, Records):
        return document.tolist()
    if type(document) is dict:
        return {key: plain(value) for key, value in document.items()}
    if type(document) is list:
        return [plain(value) for value in document]
    return document


class _Out:
    """Where text goes: a list of pieces, written to ``stream`` (if any) on :meth:`flush`."""

    def __init__(self, stream: TextIO | None) -> None:
        self.parts: list[str] = []
        self.stream = stream

    def flush(self) -> None:
        if self.stream is not None and self.parts:
            self.stream.write("".join(self.parts))
            self.parts.clear()


# --- Columns -----------------------------------------------------------------------------------

Mask = np.ndarray | None  # per row: is the key present (None: in every row)


class Field(Protocol):
    """A column of a :class:`Records`: the JSON text of rows ``start:stop``.

    ``newline`` is a line break plus the indent of the key the column is written under; the
    mask says in which rows the key is present (None: all).
    """

    def texts(self, start: int, stop: int, newline: str, step: str) -> tuple[list[str], Mask]:
        ...


class Floats:
    """A column of floats, each written as ``float.__repr__`` (as json does).

    NaN is written as ``null`` with ``nulls=True`` and refused otherwise; infinities are always
    refused. Both are checked when the column is made, so nothing is written before an error.

    Raises:
        ValueError: a value JSON cannot hold (as ``json.dumps`` with ``allow_nan=False``).
    """

    def __init__(self, values: Any, *, nulls: bool = False) -> None:
        self.values = np.asarray(values, dtype=float)
        self.null = None
        finite = np.isfinite(self.values)
        if not finite.all():
            nan = np.isnan(self.values)
            bad = ~finite & ~nan if nulls else ~finite
            if bad.any():
                value = float(self.values[np.flatnonzero(bad)[0]])
                raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
            self.null = nan

    def texts(self, start: int, stop: int, newline: str, step: str) -> tuple[list[str], Mask]:
        values = self.values[start:stop]
        if not values.any():  # all zeros (e.g. a one-dimension result's inner mix)
            zero = np.signbit(values)
            if not zero.any():
                return ["0.0"] * len(values), None
        texts = list(map(float.__repr__, values.tolist()))
        if self.null is not None:
            for index in np.flatnonzero(self.null[start:stop]).tolist():
                texts[index] = "null"
        return texts, None


class Values:
    """A column of plain values (text, numbers, None, tuples or lists of them, dicts…).

    ``present`` (per row) leaves the key out of the rows where it is False.
    """

    def __init__(self, values: Sequence[Any], *, present: Sequence[bool] | None = None) -> None:
        self.values = values
        self.present = None if present is None else np.asarray(present, dtype=bool)

    def texts(self, start: int, stop: int, newline: str, step: str) -> tuple[list[str], Mask]:
        mask = None if self.present is None else self.present[start:stop]
        return _texts(self.values[start:stop], newline, step), mask


class Obj:
    """A column of JSON objects with the keys of ``fields`` (a key may be absent per row)."""

    def __init__(self, fields: Sequence[tuple[str, Field]]) -> None:
        self.fields = tuple(fields)

    def texts(self, start: int, stop: int, newline: str, step: str) -> tuple[list[str], Mask]:
        inner = newline + step
        keys, columns, masks = [], [], []
        for key, field in self.fields:
            text, mask = field.texts(start, stop, inner, step)
            keys.append(_escape(key))
            columns.append(text)
            masks.append(mask)
        return _objects(keys, columns, masks, stop - start, newline, inner), None


class Arr:
    """A column of fixed-length JSON arrays, one item from each of ``fields``."""

    def __init__(self, fields: Sequence[Field]) -> None:
        self.fields = tuple(fields)

    def texts(self, start: int, stop: int, newline: str, step: str) -> tuple[list[str], Mask]:
        inner = newline + step
        columns = [field.texts(start, stop, inner, step)[0] for field in self.fields]
        if not columns:
            return ["[]"] * (stop - start), None
        template = "[" + inner + ("," + inner).join(["%s"] * len(columns)) + newline + "]"
        return list(map(template.__mod__, zip(*columns, strict=True))), None


class Dicts:
    """A column of dicts (string keys) such as segments' ``{"tier": "pro"}``, key sets varying."""

    def __init__(self, values: Sequence[dict[str, Any]]) -> None:
        self.values = values

    def texts(self, start: int, stop: int, newline: str, step: str) -> tuple[list[str], Mask]:
        chunk = self.values[start:stop]
        shapes = list(map(tuple, chunk))
        kinds = dict.fromkeys(shapes)
        if not all(type(key) is str for shape in kinds for key in shape):
            return _texts(chunk, newline, step), None
        inner = newline + step
        out = np.empty(len(chunk), dtype=object)
        for shape in kinds:
            rows = [i for i, s in enumerate(shapes) if s == shape] if len(kinds) > 1 else None
            items = chunk if rows is None else [chunk[i] for i in rows]
            columns = [_texts([item[key] for item in items], inner, step) for key in shape]
            texts = _objects([_escape(k) for k in shape], columns, [None] * len(shape),
                             len(items), newline, inner)
            if rows is None:
                return texts, None
            _place(out, rows, texts)
        return out.tolist(), None


class Records:
    """A JSON array of objects held as columns: ``length`` records with the keys of ``fields``.

    :func:`dumps` and :func:`write` write it as the list of its records (byte for byte as
    ``json.dumps`` of that list), :data:`CHUNK` records at a time; :meth:`tolist` makes the
    list itself (plain dicts) for the Python API.
    """

    def __init__(self, length: int, fields: Sequence[tuple[str, Field]]) -> None:
        self.length = length
        self.record = Obj(fields)

    def __len__(self) -> int:
        return self.length

    def tolist(self) -> list[dict[str, Any]]:
        """The records as plain dicts, read back from their JSON text (the one source)."""
        items: list[dict[str, Any]] = []
        for start in range(0, self.length, CHUNK):
            texts, _ = self.record.texts(start, min(start + CHUNK, self.length), "", "")
            items.extend(json.loads("[" + ",".join(texts) + "]"))
        return items

    def _write(self, out: _Out, newline: str, step: str) -> None:
        if not self.length:
            out.parts.append("[]")
            return
        inner = newline + step
        head, separator = "[" + inner, "," + inner
        for start in range(0, self.length, CHUNK):
            texts, _ = self.record.texts(start, min(start + CHUNK, self.length), inner, step)
            out.parts.append(head + separator.join(texts))
            head = separator
            out.flush()
        out.parts.append(newline + "]")


def _objects(keys: list[str], columns: list[list[str]], masks: list[Mask], size: int,
             newline: str, inner: str) -> list[str]:
    """The text of ``size`` objects: escaped ``keys``, their values' ``columns``, and per key
    a mask of the rows it is present in (rows sharing a set of keys are formatted together)."""
    optional = [i for i, mask in enumerate(masks) if mask is not None and not mask.all()]
    if not optional:
        return _format(keys, columns, size, newline, inner)
    code = np.zeros(size, dtype=np.int64)
    for bit, i in enumerate(optional):
        code |= np.asarray(masks[i], dtype=np.int64) << bit
    out = np.empty(size, dtype=object)
    for value in np.unique(code).tolist():
        rows = np.flatnonzero(code == value).tolist()
        shown = [i for i in range(len(keys))
                 if i not in optional or value >> optional.index(i) & 1]
        _place(out, rows, _format([keys[i] for i in shown],
                                  [[columns[i][r] for r in rows] for i in shown], len(rows),
                                  newline, inner))
    return out.tolist()


def _format(keys: list[str], columns: list[list[str]], size: int, newline: str,
            inner: str) -> list[str]:
    """``size`` objects whose every key is present: one ``%`` template for all of them."""
    if not keys:
        return ["{}"] * size
    template = ("{" + inner
                + ("," + inner).join(key.replace("%", "%%") + ": %s" for key in keys)
                + newline + "}")
    return list(map(template.__mod__, zip(*columns, strict=True)))


def _place(out: np.ndarray, rows: list[int], texts: list[str]) -> None:
    for row, text in zip(rows, texts, strict=True):
        out[row] = text


def _texts(values: Sequence[Any], newline: str, step: str) -> list[str]:
    """The JSON text of each value, with text and repeated paths taken the fast way."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return list(map(_escape, values))
    if kinds <= {str, type(None)}:
        return ["null" if value is None else _escape(value) for value in values]
    if kinds <= {tuple}:  # paths: few distinct ones, written once each
        distinct = set(values)
        if all(type(item) is str for value in distinct for item in value):
            memo = {value: _text(value, newline, step) for value in distinct}
            return [memo[value] for value in values]
    return [_text(value, newline, step) for value in values]


def _text(value: Any, newline: str, step: str) -> str:
    """One value's JSON text at the indent ``newline``."""
    leaf = _leaf(value)
    if leaf is not None:
        return leaf
    out = _Out(None)
    _encode(value, out, newline, step)
    return "".join(out.parts)


# --- The encoder -------------------------------------------------------------------------------


def _encode(value: Any, out: _Out, newline: str, step: str) -> None:
    """Append ``value`` to ``out``; ``newline`` is a line break plus the current indent.

    Leaves inside a container are written in the container's loop (no call per leaf): that
    is where the time goes for a document of many small records.
    """
    parts = out.parts
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
                _encode(item, out, inner, step)
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
                _encode(item, out, inner, step)
            head = separator
        parts.append(newline + "]")
    elif kind is Records:
        value._write(out, newline, step)
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
