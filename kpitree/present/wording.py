"""Words and figures that several views share, so that they say things the same way.

What belongs here: the method notes (:data:`METHOD_NOTES`, :data:`COMMON_NOTE`),
:class:`Numbers` — a tree's figures in its own units (the root's value and
changes, any node's value, the "ARPU $51.29 → $55.43, +$4.13 (+8.1 %)" phrase) — the status
words of segments present in one period only, title case, the "by tier × region" phrase and
the names of the volume / mix / rate parts of weight × root (:func:`total_parts`).
The tree image, the bridges, the charts, the narrative and the report all use these. What does
not: the number formatting itself (:mod:`kpitree.core.formatting`, which :class:`Numbers` calls)
or the sentences only one view says (they stay in that view).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kpitree.core import formatting

if TYPE_CHECKING:
    from kpitree.analysis.totals import TotalExplanation
    from kpitree.core.tree import Tree

__all__ = ["STATUS_WORDS", "Numbers", "marked", "segmented", "status_word", "title_case",
           "total_parts"]

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
    # decimals of money and numbers: the tree's ``decimals:``, else chosen from a view's own
    # changes (:meth:`for_changes`); None keeps each kind's default
    decimals: int | None = None

    @classmethod
    def of(cls, tree: Tree) -> Numbers:
        """The figures of ``tree`` (no unit: plain numbers; its ``decimals:`` if set)."""
        unit = tree.unit or None
        return cls(tree, unit, formatting.value_kind(tree.format_of(tree.root), unit),
                   getattr(tree, "decimals", None))

    @classmethod
    def for_changes(cls, tree: Tree, changes: Iterable[float]) -> Numbers:
        """The figures of one view whose changes are ``changes``: one number of decimals for
        all of them (:func:`kpitree.core.formatting.table_decimals`), the tree's
        ``decimals:`` first."""
        numbers = cls.of(tree)
        decimals = formatting.table_decimals(changes, numbers.kind, numbers.unit,
                                             fixed=numbers.decimals)
        default = formatting.default_decimals(numbers.kind, numbers.unit)
        return replace(numbers, decimals=None if decimals == default else decimals)

    @property
    def root_label(self) -> str:
        """The root's label, e.g. ``ARPU``."""
        return self.tree.label(self.tree.root)

    def kind_of(self, node: str) -> formatting.Kind:
        """How the values of ``node`` are shown (its ``format`` and the tree's unit)."""
        return formatting.value_kind(self.tree.format_of(node), self.unit)

    def value(self, value: float | None) -> str:
        """A value of the root (``$51.29``; undefined: ``—``)."""
        return formatting.format_value(value, self.kind, self.unit, decimals=self.decimals,
                                       compact=True)

    def change(self, value: float | None) -> str:
        """A signed change or contribution in the root's kind (``+$4.13``)."""
        return formatting.format_change(value, self.kind, self.unit, decimals=self.decimals,
                                        compact=True)

    def node_value(self, node: str, value: float | None) -> str:
        """A value of ``node`` in its own kind (``32.4 %`` for a percent driver)."""
        return formatting.format_value(value, self.kind_of(node), self.unit,
                                       decimals=self.decimals, compact=True)

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


def total_parts(total: TotalExplanation) -> tuple[str, list[tuple[str, float]]]:
    """``Active users × ARPU`` and the parts of its change, named as every view names them:
    ``volume (Active users)``, ``mix: tier`` per dimension, ``rate (price)``, ``mix × rate
    interaction``."""
    tree = total.tree
    weight = tree.label(tree.weight)
    names = {"volume": f"volume ({weight})", "rate": "rate (price)",
             "interaction": "mix × rate interaction"}
    parts = [(names.get(name, name.replace("mix:", "mix: ")), value)
             for name, value in total.totals_by_level().items()]
    return f"{weight} × {Numbers.of(tree).root_label}", parts


# The method notes the report, the deck and the workbook print under their numbers.
METHOD_NOTES = {
    "shapley": (
        "Shapley (default). For each segment with share w and rate r (the metric on its rows), "
        "the rate effect is (r₁ − r₀)·(w₀ + w₁)/2 and the mix effect (w₁ − w₀)·((r₀ + r₁)/2 − "
        "(A₀ + A₁)/2), A being the metric on all rows: Kitagawa's symmetric decomposition, "
        "centred so that a move into an above-average segment shows as positive mix. Each "
        "rate effect is split down the formula to the drivers: sums linearly, products and "
        "ratios by the exact Shapley value over their inputs. The split is hierarchical (mix "
        "vs rate first, then the drivers)."
    ),
    "sequential": (
        "Sequential (FP&A price-volume-mix). Mix at base rates Σ Δw·(r₀ − A₀), rate at base "
        "shares Σ w₀·Δr, and the interaction Σ Δw·Δr as its own effect. The result depends on "
        "this order."
    ),
    "lmdi": (
        "LMDI-I (additive, Ang). Each term of the expanded sum of products Σ shares·drivers "
        "splits its change L(V₁, V₀)·ln(x₁/x₀) per factor; zeros use the analytical limits. "
        "Needs positive values."
    ),
}
COMMON_NOTE = (
    "Every effect is exact: the effects add up to the change. A segment present in one period "
    "only takes the other period's rate, so its whole effect is mix. A driver undefined in one "
    "period (0/0) takes the other period's value. Every node is a ratio of sums over the rows "
    "of a period and segment."
)
