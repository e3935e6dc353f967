"""The one tokenizer and recursive-descent parser behind kpitree's two small languages.

kpitree reads two kinds of text: tree formulas (``base / users``, see :mod:`kpitree.core.expr`)
and the conditions of a tree's ``data:`` section (``logins >= 1 or tier in ('pro', 'team')``,
see :mod:`kpitree.core.conditions`). Both are operator grammars over atoms, so both are parsed
here, by :class:`Parser`: a grammar states its tokens (a :class:`Lexicon`), its binary operator
levels, its prefix operators, how to read an atom, which nodes to build and how to word its
errors. Nothing is ever handed to ``eval``.

What belongs here: tokens and their 1-based columns, the token cursor, the precedence and
prefix rules, the empty / unexpected / too-deep checks every grammar makes. What does not: any
node type, any grammar's atoms, or the wording of its errors.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

Node = TypeVar("Node")
Item = TypeVar("Item")


@dataclass(frozen=True)
class Token:
    """One token: its kind (a group of the lexicon, ``keyword`` or ``end``), text and column."""

    kind: str
    text: str
    column: int  # 1-based; the end token sits one past the last character


@dataclass(frozen=True)
class Lexicon:
    """The tokens of a grammar.

    Attributes:
        pattern: alternatives as named groups, tried in order at each position; the group name
            is the token kind, and matches of the group ``space`` are skipped.
        keywords: ``name`` tokens that are keywords instead (matched case-insensitively); they
            become kind ``keyword`` with lower-case text.
    """

    pattern: re.Pattern[str]
    keywords: frozenset[str] = frozenset()


class Parser(ABC, Generic[Node]):
    """Recursive descent over an operator grammar, the same for formulas and conditions::

        operators(level) := operators(level + 1) (OP[level] operators(level + 1))*
        operators(last)  := unary
        unary            := PREFIX unary | atom

    Binary operators are left-associative; ``levels`` lists them loosest first. A subclass
    gives the lexicon, ``levels``, ``prefixes``, its :meth:`atom` rule (which calls
    :meth:`operators` for a parenthesised part), the nodes to build and its errors.
    """

    lexicon: ClassVar[Lexicon]
    levels: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]]  # (token kind, operators)
    prefixes: ClassVar[tuple[str, tuple[str, ...]]]  # (token kind, operators)

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self.tokenise(text)
        self.index = 0

    # -- what a grammar supplies ------------------------------------------------------------

    @abstractmethod
    def atom(self) -> Node:
        """Read one operand at the current token."""

    @abstractmethod
    def binary(self, op: str, left: Node, right: Node) -> Node:
        """The node for ``left op right``."""

    @abstractmethod
    def prefixed(self, op: str, operand: Node) -> Node:
        """The node for ``op operand``."""

    @abstractmethod
    def unreadable(self, index: int) -> Exception:
        """The error for ``text[index:]``, where no token of the lexicon matches."""

    @abstractmethod
    def empty(self) -> Exception:
        """The error for a text without tokens."""

    @abstractmethod
    def unexpected(self) -> Exception:
        """The error for the current token, which cannot stand where it is."""

    @abstractmethod
    def too_deep(self) -> Exception:
        """The error for a text nested deeper than Python's recursion limit allows."""

    # -- the machinery ------------------------------------------------------------------------

    def tokenise(self, text: str) -> list[Token]:
        """Split ``text`` into tokens, ending with an ``end`` token."""
        tokens: list[Token] = []
        pattern, keywords = self.lexicon.pattern, self.lexicon.keywords
        position = 0
        while position < len(text):
            match = pattern.match(text, position)
            if match is None:
                raise self.unreadable(position)
            kind, value = match.lastgroup or "", match.group()
            if kind == "name" and value.lower() in keywords:
                kind, value = "keyword", value.lower()
            if kind != "space":
                tokens.append(Token(kind, value, position + 1))
            position = match.end()
        tokens.append(Token("end", "", len(text) + 1))
        return tokens

    def parse(self) -> Node:
        """Read the whole text as one expression of the grammar."""
        if self.current.kind == "end":
            raise self.empty()
        try:
            node = self.operators()
        except RecursionError:
            raise self.too_deep() from None
        if self.current.kind != "end":
            raise self.unexpected()
        return node

    @property
    def current(self) -> Token:
        """The token being looked at (the end token once all are consumed)."""
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        """The token ``offset`` places after the current one (the end token past the end)."""
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def at(self, kind: str, *texts: str) -> bool:
        """Whether the current token has this kind (and, if given, one of these texts)."""
        token = self.current
        return token.kind == kind and (not texts or token.text in texts)

    def advance(self) -> Token:
        """Consume the current token and return it (the end token is never passed)."""
        token = self.current
        if token.kind != "end":
            self.index += 1
        return token

    def operators(self, level: int = 0) -> Node:
        """Binary operators from ``levels[level]`` on, loosest first, left-associative."""
        # The tightest level reads its operands with unary() directly: one Python frame per
        # level and per parenthesis keeps the deepest nesting a text may have (before
        # too_deep()) the same as that of a parser written out by hand for the grammar.
        last = level + 1 == len(self.levels)
        kind, ops = self.levels[level]
        left = self.unary() if last else self.operators(level + 1)
        while self.at(kind, *ops):
            op = self.advance().text
            right = self.unary() if last else self.operators(level + 1)
            left = self.binary(op, left, right)
        return left

    def unary(self) -> Node:
        """Prefix operators, then an atom."""
        kind, ops = self.prefixes
        if self.at(kind, *ops):
            op = self.advance().text
            return self.prefixed(op, self.unary())
        return self.atom()

    def separated(self, item: Callable[[], Item], kind: str, separator: str) -> list[Item]:
        """One or more ``item`` separated by the ``separator`` token."""
        items = [item()]
        while self.at(kind, separator):
            self.advance()
            items.append(item())
        return items
