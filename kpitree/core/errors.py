"""The exception hierarchy: one root class, one subclass per phase, and located problems.

What belongs here: every exception class kpitree defines (input errors, whose root is
:class:`KpitreeError`, and the one internal :class:`AttributionError`), the :class:`Problem`
value an error carries, and the small helpers that word messages (``did_you_mean``,
``listing``). What does not: the checks themselves — they live with what they check.

Every user-facing error is a :class:`KpitreeError`; the CLI turns exactly these into a one-line
message and exit code 2. Each class also inherits the matching builtin, so ``except ValueError``
keeps working for callers who do not know kpitree. An error carries its problems as structured
values (``error.problems``), so tools can read the file, line and node of each without parsing
the message; ``str(error)`` is the message as printed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar


@dataclass(frozen=True)
class Problem:
    """One located problem: what is wrong, and where.

    Attributes:
        message: the problem and its fix, without the location prefix.
        file: the file (or source name) it was found in, if known.
        line: the 1-based line in ``file``, if known.
        column: the 1-based column on ``line``, or within the formula or condition being read
            when the problem has no file; shown in the prefix only together with a line.
        node: the tree node concerned, if any.

    ``str(problem)`` is ``file:line: message`` (or ``file: message``, or just the message).

    Example:
        >>> str(Problem("node 'arpu' uses unknown node 'user'.", file="t.yaml", line=7))
        "t.yaml:7: node 'arpu' uses unknown node 'user'."
    """

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    node: str | None = None

    @property
    def where(self) -> str:
        """The location prefix: ``file``, ``file:line`` or ``file:line:column`` ('' if none)."""
        if not self.file:
            return ""
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}" if self.column else \
            f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


_E = TypeVar("_E", bound="KpitreeError")


class KpitreeError(Exception):
    """Base class of every error kpitree raises on bad input.

    ``KpitreeError(message)`` carries one :class:`Problem` holding the message;
    ``KpitreeError(message, problems=[...])`` carries the problems it sums up (a file with
    several problems is reported once, with all of them).
    """

    problems: tuple[Problem, ...]

    def __init__(self, *args: object, problems: Iterable[Problem] = ()) -> None:
        super().__init__(*args)
        given = tuple(problems)
        self.problems = given or ((Problem(str(self)),) if args else ())

    def __init_subclass__(cls, **kwargs: object) -> None:
        # Subclasses list a builtin first (``class TreeError(ValueError, KpitreeError)``), whose
        # ``__init__`` would shadow ours in the MRO and never set ``problems``: install ours.
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            cls.__init__ = KpitreeError.__init__  # type: ignore[method-assign]

    @classmethod
    def collected(cls: type[_E], problems: Iterable[Problem], source: str) -> _E:
        """One error for all the problems found in ``source`` (raise it if any were found).

        One problem is reported as itself; several as ``N problems in SOURCE: p1; p2; …``.
        """
        found = tuple(problems)
        if len(found) == 1:
            return cls(str(found[0]), problems=found)
        text = "; ".join(str(problem) for problem in found)
        return cls(f"{len(found)} problems in {source}: {text}", problems=found)


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


class MissingExtraError(RuntimeError, KpitreeError):
    """An optional library is not installed; the message names the extra to install."""


class ScenarioError(ValueError, KpitreeError):
    """A lever cannot be read or applied: unknown syntax, node, segment, or impossible value."""


class GoalError(ScenarioError):
    """A goal that no value of the lever can reach."""


class GenerateError(ValueError, KpitreeError):
    """Bad arguments for the generator (size, months, folder)."""


class UsageError(KpitreeError):
    """Bad command-line usage (reported like any other input error)."""


class RawUsageError(KpitreeError):
    """Bad command-line usage of a raw source."""


class WriteError(OSError, KpitreeError):
    """A file or folder cannot be written: no space, no permission, outside the given folder."""


class AttributionError(AssertionError):
    """Internal: effects failed to add up to the change (a bug, never bad input)."""


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
