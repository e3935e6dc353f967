"""The condition language of a tree's ``data:`` section: ``logins >= 1 or revenue > 0``.

Conditions say which user-months are active (``active:``) or paying (``paying:``). They are
read by kpitree's one recursive-descent parser (:mod:`kpitree.core.grammar`, which also reads
formulas) into small immutable values; nothing is ever handed to ``eval``.

What belongs here: the condition values (:class:`Name`, :class:`Literal`, :class:`Compare`,
:class:`InList`, :class:`BoolOp`, :class:`Not`, :class:`Condition`), their grammar, and the
reading of a money literal as exact cents. What does not: what a name means or how a condition
runs against a database (see :mod:`kpitree.io.events`), or the rest of the ``data:`` section
(see :mod:`kpitree.core.definitions`, which re-exports these names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from kpitree.core.errors import Problem, TreeError
from kpitree.core.grammar import Lexicon, Parser


@dataclass(frozen=True)
class Name:
    """A column or measure, as a bare true/false test or the left side of a comparison."""

    name: str


@dataclass(frozen=True)
class Literal:
    """A number (exact), a 'quoted text' or true/false."""

    value: str | Decimal | bool


@dataclass(frozen=True)
class Compare:
    """``name OP literal``."""

    op: str  # = != < <= > >=
    left: Name
    right: Literal


@dataclass(frozen=True)
class InList:
    """``name [not] in (literal, …)``."""

    name: Name
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class BoolOp:
    """``left and right`` or ``left or right``."""

    op: str  # and | or
    left: CondExpr
    right: CondExpr


@dataclass(frozen=True)
class Not:
    """``not operand``."""

    operand: CondExpr


CondExpr = Name | Compare | InList | BoolOp | Not


@dataclass(frozen=True)
class Condition:
    """A parsed filter, with its text for the output statement."""

    text: str
    expr: CondExpr

    def names(self) -> set[str]:
        """Every name the condition reads."""
        return _names(self.expr)


def _names(expr: CondExpr) -> set[str]:
    match expr:
        case Name(name):
            return {name}
        case Compare(_, left, _):
            return {left.name}
        case InList(name, _, _):
            return {name.name}
        case BoolOp(_, left, right):
            return _names(left) | _names(right)
        case Not(operand):
            return _names(operand)
    raise TypeError(f"not a condition: {expr!r}")


_CONDITION_TOKENS = Lexicon(
    re.compile(
        r"(?P<space>\s+)|(?P<number>-?\d+(?:\.\d+)?)|(?P<string>'(?:[^']|'')*')"
        r"|(?P<op><=|>=|!=|<>|==|=|<|>|\(|\)|,)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    ),
    keywords=frozenset({"and", "or", "not", "in", "true", "false"}),
)
_COMPARISONS = ("=", "==", "!=", "<>", "<", "<=", ">", ">=")
_SPELLINGS = {"==": "=", "<>": "!="}


def _error(message: str, column: int | None = None) -> TreeError:
    return TreeError(message, problems=[Problem(message, column=column)])


class _ConditionParser(Parser[CondExpr]):
    """The condition grammar on the shared parser (:mod:`kpitree.core.grammar`)::

    condition := conjunction ('or' conjunction)*
    conjunction := negation ('and' negation)*
    negation := 'not' negation | atom
    atom := '(' condition ')' | NAME [['not'] 'in' '(' literal (',' literal)* ')'
                                      | COMPARISON literal]
    literal := NUMBER | 'TEXT' | 'true' | 'false'
    """

    lexicon = _CONDITION_TOKENS
    levels = (("keyword", ("or",)), ("keyword", ("and",)))
    prefixes = ("keyword", ("not",))

    def __init__(self, text: str, where: str, key: str) -> None:
        self.where, self.key = where, key
        super().__init__(text)

    def fail(self, problem: str) -> TreeError:
        """The error for ``problem`` at the current token, naming the file, key and condition."""
        return _error(f"{self.where}: data.{self.key}: {problem} in '{self.text}'; write "
                      "conditions like \"logins >= 1 or tier in ('pro', 'team')\"",
                      self.current.column)

    def binary(self, op: str, left: CondExpr, right: CondExpr) -> CondExpr:
        return BoolOp(op, left, right)

    def prefixed(self, op: str, operand: CondExpr) -> CondExpr:
        return Not(operand)

    def unreadable(self, index: int) -> TreeError:
        return _error(f"{self.where}: data.{self.key}: cannot read "
                      f"'{self.text[index:].strip()}' in '{self.text}'; write conditions like "
                      "'logins >= 1 or revenue > 0'", index + 1)

    def empty(self) -> TreeError:
        return TreeError(f"{self.where}: data.{self.key} is empty; write e.g. 'logins >= 1'")

    def unexpected(self) -> TreeError:
        return self.fail(f"unexpected '{self.current.text}'")

    def too_deep(self) -> TreeError:
        return self.fail("conditions nest too deeply")

    def found(self) -> str:
        """The current token as messages quote it."""
        return self.current.text or "the end"

    def atom(self) -> CondExpr:
        if self.at("op", "("):
            self.advance()
            inner = self.operators()
            if not self.at("op", ")"):
                raise self.fail("missing ')'")
            self.advance()
            return inner
        if not self.at("name"):
            raise self.fail(f"expected a column name, found '{self.found()}'")
        name = Name(self.advance().text)
        negated = self.at("keyword", "not") and self.peek().kind == "keyword" and \
            self.peek().text == "in"
        if negated:
            self.advance()
        if self.at("keyword", "in"):
            self.advance()
            if not self.at("op", "("):
                raise self.fail("'in' needs a list like ('pro', 'team')")
            self.advance()
            values = self.separated(self.literal, "op", ",")
            if not self.at("op", ")"):
                raise self.fail("missing ')' after the 'in' list")
            self.advance()
            return InList(name, tuple(values), negated)
        if self.at("op", *_COMPARISONS):
            op = self.advance().text
            return Compare(_SPELLINGS.get(op, op), name, self.literal())
        return name

    def literal(self) -> Literal:
        token = self.current
        if token.kind == "number":
            value: str | Decimal | bool = Decimal(token.text)
        elif token.kind == "string":
            value = token.text[1:-1].replace("''", "'")
        elif self.at("keyword", "true", "false"):
            value = token.text == "true"
        else:
            raise self.fail(f"expected a number, 'text', true or false, found '{self.found()}'")
        self.advance()
        return Literal(value)


def parse_condition(text: str, where: str, key: str) -> Condition:
    """Parse a filter like ``logins >= 1 or revenue > 0``.

    Grammar: ``or`` of ``and`` of [``not``] atoms; an atom is ``name OP literal``,
    ``name [not] in (literal, …)``, a bare boolean ``name``, or a parenthesised condition.
    Literals are numbers, 'quoted text', true or false; keywords are case-insensitive.

    Raises:
        TreeError: naming the file (``where``), the key and the offending token.

    Example:
        >>> parse_condition("tier in ('pro', 'team')", "t.yaml:9", "active").names()
        {'tier'}
    """
    source = str(text)
    return Condition(text=source.strip(), expr=_ConditionParser(source, where, key).parse())


def money_literal_cents(value: Decimal, where: str, key: str) -> int:
    """A money literal in a condition, as exact cents.

    Raises:
        TreeError: the amount has more than two decimals.
    """
    try:
        cents = value * 100
    except InvalidOperation:  # pragma: no cover - Decimal from our tokenizer is finite
        cents = Decimal("NaN")
    if cents != cents.to_integral_value():
        raise TreeError(f"{where}: data.{key}: money amount {value} has more than two decimals")
    return int(cents)
