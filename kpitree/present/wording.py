"""Words and figures that several views share, so that they say things the same way.

What belongs here: :class:`Numbers` — a tree's figures in its own units (the root's value and
changes, any node's value, the "ARPU $51.29 → $55.43, +$4.13 (+8.1 %)" phrase) — the status
words of segments present in one period only, title case and the "by tier × region" phrase.
The tree image, the bridges, the charts, the narrative and the report all use these. What does
not: the number formatting itself (:mod:`kpitree.core.formatting`, which :class:`Numbers` calls)
or the sentences only one view says (they stay in that view).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpitree.core import formatting

if TYPE_CHECKING:
    from kpitree.core.tree import Tree

__all__ = ["STATUS_WORDS", "Numbers", "marked", "segmented", "status_word", "title_case"]

# What a segment present in one period only is called (``both`` and ``empty``: nothing).
STATUS_WORDS = {"entered": "new", "exited": "gone"}


@dataclass(frozen=True)
class Numbers:
    """The figures of one tree in its units: the root's kind for values and changes.

    Example:
        >>> numbers = Numbers.of(result.tree)
        >>> numbers.move(result.base.value, result.compare.value, result.delta)
        'ARPU $51.29 → $55.43, +$4.13 (+8.1 %)'
        >>> numbers.node_value("attach", 0.3241), numbers.change(-0.96)
        ('32.4 %', '−$0.96')
    """

    tree: Tree
    unit: str | None
    kind: formatting.Kind

    @classmethod
    def of(cls, tree: Tree) -> Numbers:
        """The figures of ``tree`` (no unit: plain numbers)."""
        unit = tree.unit or None
        return cls(tree, unit, formatting.value_kind(tree.format_of(tree.root), unit))

    @property
    def root_label(self) -> str:
        """The root's label, e.g. ``ARPU``."""
        return self.tree.label(self.tree.root)

    def kind_of(self, node: str) -> formatting.Kind:
        """How the values of ``node`` are shown (its ``format`` and the tree's unit)."""
        return formatting.value_kind(self.tree.format_of(node), self.unit)

    def value(self, value: float | None) -> str:
        """A value of the root (``$51.29``; undefined: ``—``)."""
        return formatting.format_value(value, self.kind, self.unit)

    def change(self, value: float | None) -> str:
        """A signed change or contribution in the root's kind (``+$4.13``)."""
        return formatting.format_change(value, self.kind, self.unit)

    def node_value(self, node: str, value: float | None) -> str:
        """A value of ``node`` in its own kind (``32.4 %`` for a percent driver)."""
        return formatting.format_value(value, self.kind_of(node), self.unit)

    def move(self, base: float, compare: float, delta: float, *,
             label: str | None = None) -> str:
        """``ARPU $51.29 → $55.43, +$4.13 (+8.1 %)``: the root's move between two values.

        ``label`` names what moved when it is not the root (e.g. the total users × ARPU).
        """
        return (f"{label or self.root_label} {self.value(base)} → {self.value(compare)}, "
                f"{self.change(delta)} ({formatting.format_pct_change(base, compare)})")


def status_word(status: str) -> str:
    """``new`` for an entered segment, ``gone`` for an exited one, else an empty string.

    >>> status_word("entered"), status_word("exited"), status_word("both")
    ('new', 'gone', '')
    """
    return STATUS_WORDS.get(status, "")


def marked(name: str, status: str, *, sep: str = " ") -> str:
    """``business (new)``: a segment's name with its status word, if any, after ``sep``.

    >>> marked("business", "entered"), marked("pro", "both"), marked("team", "exited", sep="/")
    ('business (new)', 'pro', 'team/(gone)')
    """
    word = status_word(status)
    return f"{name}{sep}({word})" if word else name


def title_case(text: str) -> str:
    """The first letter in capitals, the rest as it is.

    >>> title_case("tier"), title_case("tier × region"), title_case("")
    ('Tier', 'Tier × region', '')
    """
    return text[:1].upper() + text[1:]


def segmented(by: Sequence[str]) -> str:
    """``by tier × region``, or ``no segments``.

    >>> segmented(["tier", "region"]), segmented([])
    ('by tier × region', 'no segments')
    """
    return f"by {' × '.join(by)}" if by else "no segments"
