"""The exception hierarchy: one root class, one subclass per phase.

Every user-facing error is a :class:`KpitreeError`; the CLI turns exactly these into a one-line
message and exit code 2. Each class also inherits the matching builtin, so ``except ValueError``
keeps working for callers who do not know kpitree.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class KpitreeError(Exception):
    """Base class of every error kpitree raises on bad input."""


class TreeError(ValueError, KpitreeError):
    """A tree file is malformed: YAML syntax, unknown node, cycle, bad formula, …"""


class FormulaError(TreeError):
    """A formula cannot be parsed or uses something formulas may not use."""


class DataError(ValueError, KpitreeError):
    """The data does not fit the tree: missing column, bad value, unknown period, …"""


class MethodError(ValueError, KpitreeError):
    """An attribution method cannot be applied to this tree or data (e.g. LMDI on negatives)."""


class RenderError(RuntimeError, KpitreeError):
    """An optional rendering piece (e.g. Graphviz's ``dot``) is missing or failed."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return `` Did you mean 'x'?`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def listing(names: Iterable[object], limit: int = 12) -> str:
    """Render a short, quoted, comma-separated list (truncated with a count)."""
    items = [str(n) for n in names]
    shown = ", ".join(f"'{n}'" for n in items[:limit])
    if len(items) > limit:
        shown += f", … ({len(items) - limit} more)"
    return shown or "(none)"


class MissingExtraError(RuntimeError, KpitreeError):
    """An optional library is not installed; the message names the extra to install."""
