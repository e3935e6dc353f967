"""Safe formula parsing: ``base / users``, ``attach * (addon / addon_users)``, ``12 * mrr_pu``.

Formulas are arithmetic over node names: ``+ - * /``, unary minus, parentheses and numeric
constants. They are tokenised and parsed by kpitree's one recursive-descent parser
(:mod:`kpitree.core.grammar`, which also reads the ``data:`` conditions) — never handed to
``eval`` — so a tree file cannot call, import or reach attributes of anything. Errors carry the
1-based column of the offending character.

What belongs here: the formula grammar and its expression values (``Const``, ``Ref``, ``Neg``,
``BinOp``), and what every caller does with one: its references, its text, its element-wise
value with the 0/0 rules. What does not: trees or data (this module only turns text into an
expression value and evaluates it on arrays it is given).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from kpitree.core.errors import FormulaError, Problem
from kpitree.core.grammar import Lexicon, Parser


@dataclass(frozen=True)
class Const:
    """A numeric constant."""

    value: float


@dataclass(frozen=True)
class Ref:
    """A reference to another node by name."""

    name: str


@dataclass(frozen=True)
class Neg:
    """Unary minus."""

    operand: Expr


@dataclass(frozen=True)
class BinOp:
    """A binary operation; ``op`` is one of ``+ - * /``."""

    op: str
    left: Expr
    right: Expr


Expr = Const | Ref | Neg | BinOp

_FORMULA_TOKENS = Lexicon(re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>[-+*/()])
    """,
    re.VERBOSE,
))

# Characters that suggest an attempt at something formulas deliberately cannot do.
_FORBIDDEN_HINTS = {
    ".": "attribute access is not allowed in formulas",
    "[": "indexing is not allowed in formulas",
    "'": "strings are not allowed in formulas",
    '"': "strings are not allowed in formulas",
    "%": "only + - * / are allowed",
    "^": "only + - * / are allowed (no powers)",
    ",": "function calls are not allowed in formulas",
    "=": "comparisons and assignments are not allowed in formulas",
    "<": "comparisons are not allowed in formulas",
    ">": "comparisons are not allowed in formulas",
    "@": "only + - * / are allowed",
    "!": "only + - * / are allowed",
}

MAX_FORMULA_LENGTH = 2000
MAX_FORMULA_TOKENS = 400  # keeps every recursive walk of a formula far from Python's limit
_CALL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*\(")


def _error(message: str, column: int | None = None) -> FormulaError:
    return FormulaError(message, problems=[Problem(message, column=column)])


class _FormulaParser(Parser[Expr]):
    """The formula grammar on the shared parser (:mod:`kpitree.core.grammar`)::

    expr   := term (('+' | '-') term)*
    term   := unary (('*' | '/') unary)*
    unary  := '-' unary | '+' unary | atom
    atom   := NUMBER | NAME | '(' expr ')'
    """

    lexicon = _FORMULA_TOKENS
    levels = (("op", ("+", "-")), ("op", ("*", "/")))
    prefixes = ("op", ("-", "+"))

    def __init__(self, text: str) -> None:
        super().__init__(text)
        if len(self.tokens) > MAX_FORMULA_TOKENS:
            raise _error(
                f"formula has {len(self.tokens) - 1} names, numbers and operators; formulas are "
                f"limited to {MAX_FORMULA_TOKENS} (name intermediate nodes instead)"
            )

    def binary(self, op: str, left: Expr, right: Expr) -> Expr:
        return BinOp(op, left, right)

    def prefixed(self, op: str, operand: Expr) -> Expr:
        return Neg(operand) if op == "-" else operand

    def unreadable(self, index: int) -> FormulaError:
        char = self.text[index]
        hint = _FORBIDDEN_HINTS.get(char, "only names, numbers, + - * / and parentheses")
        return _error(f"unexpected '{char}' at column {index + 1}: {hint}", index + 1)

    def empty(self) -> FormulaError:
        return _error("formula is empty")

    def too_deep(self) -> FormulaError:
        return _error("formula is nested too deeply; name intermediate nodes")

    def unexpected(self) -> FormulaError:
        token = self.current
        if token.kind == "end":
            return _error(f"formula ends unexpectedly at column {token.column}", token.column)
        if token.text == "(":
            return _error(
                f"unexpected '(' at column {token.column}: function calls are not allowed "
                "in formulas", token.column
            )
        return _error(f"unexpected '{token.text}' at column {token.column}", token.column)

    def atom(self) -> Expr:
        token = self.current
        if token.kind == "number":
            self.advance()
            value = float(token.text)
            if not math.isfinite(value):
                raise _error(f"number '{token.text}' at column {token.column} is too large",
                             token.column)
            return Const(value)
        if token.kind == "name":
            self.advance()
            if self.at("op", "("):
                raise _call_error(token.text, token.column)
            return Ref(token.text)
        if self.at("op", "("):
            self.advance()
            inner = self.operators()
            if not self.at("op", ")"):
                if self.current.kind == "end":
                    raise _error(f"missing ')' for the '(' at column {token.column}",
                                 token.column)
                raise self.unexpected()
            self.advance()
            return inner
        raise self.unexpected()


def _call_error(name: str, column: int) -> FormulaError:
    return _error(f"'{name}(' at column {column}: function calls are not allowed in formulas",
                  column)


def parse_formula(text: str) -> Expr:
    """Parse a formula into an expression value.

    Raises:
        FormulaError: with the 1-based column of the problem (in the message and in its
            :class:`~kpitree.core.errors.Problem`).

    Example:
        >>> parse_formula("base / users")
        BinOp(op='/', left=Ref(name='base'), right=Ref(name='users'))
    """
    if len(text) > MAX_FORMULA_LENGTH:
        raise _error(
            f"formula is {len(text)} characters long; formulas are limited to "
            f"{MAX_FORMULA_LENGTH} (name intermediate nodes instead)"
        )
    call = _CALL.search(text)
    if call:
        raise _call_error(call.group().rstrip("( "), call.start() + 1)
    return _FormulaParser(text).parse()


def references(expr: Expr) -> list[str]:
    """Names an expression refers to, in first-appearance order, without repeats."""
    names: list[str] = []

    def visit(node: Expr) -> None:
        match node:
            case Ref(name):
                if name not in names:
                    names.append(name)
            case Const():
                pass
            case Neg(operand):
                visit(operand)
            case BinOp(_, left, right):
                visit(left)
                visit(right)

    visit(expr)
    return names


def to_text(expr: Expr) -> str:
    """Render an expression back to compact text (for labels and messages)."""
    match expr:
        case Const(value):
            return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
        case Ref(name):
            return name
        case Neg(operand):
            return f"-{_wrap(operand, 3)}"
        case BinOp(op, left, right):
            level = 1 if op in "+-" else 2
            # Right operands of equal precedence keep their parentheses: with 0/0 semantics
            # even a * (b / c) and a * b / c can differ.
            right_level = level + 1
            return f"{_wrap(left, level)} {op} {_wrap(right, right_level)}"
    raise TypeError(f"not an expression: {expr!r}")


def _precedence(expr: Expr) -> int:
    if isinstance(expr, BinOp):
        return 1 if expr.op in "+-" else 2
    return 4


def _wrap(expr: Expr, level: int) -> str:
    text = to_text(expr)
    return f"({text})" if _precedence(expr) < level else text


# --- Numeric semantics ------------------------------------------------------------------------
# Formulas are evaluated element-wise over numpy arrays (one element per segment). Two rules
# make ratios of sums behave as analysts expect:
#   * 0/0 is *undefined* (NaN): e.g. revenue per add-on adopter in a tier with no adopters;
#   * 0 × undefined is 0: "no adopters × undefined revenue per adopter" contributes nothing.
# A non-zero number over zero is bad data and raises ZeroDenominator with the offending rows.


class ZeroDenominator(ArithmeticError):
    """A non-zero numerator over a zero denominator; ``mask`` marks the offending elements."""

    def __init__(self, mask: np.ndarray, expr: Expr) -> None:
        super().__init__(f"non-zero over zero in '{to_text(expr)}'")
        self.mask = mask
        self.expr = expr


def safe_divide(numerator: np.ndarray, denominator: np.ndarray, expr: Expr) -> np.ndarray:
    """``numerator / denominator`` with 0/0 → NaN; raises :class:`ZeroDenominator` for x/0."""
    numerator, denominator = np.broadcast_arrays(
        np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    )
    zero = denominator == 0
    bad = zero & (numerator != 0) & ~np.isnan(numerator)
    if bad.any():
        raise ZeroDenominator(bad, expr)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(zero, np.nan, numerator / np.where(zero, 1.0, denominator))


def safe_multiply(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``left * right`` where 0 × undefined (NaN) is 0."""
    left, right = np.broadcast_arrays(np.asarray(left, dtype=float), np.asarray(right, dtype=float))
    with np.errstate(invalid="ignore"):
        product = left * right
    zero_times_undefined = ((left == 0) & np.isnan(right)) | ((right == 0) & np.isnan(left))
    return np.where(zero_times_undefined, 0.0, product)


def evaluate(expr: Expr, values: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate an expression element-wise; ``values`` maps every referenced name to an array.

    Example:
        >>> import numpy as np
        >>> evaluate(parse_formula("a / b"), {"a": np.array([1.0, 0.0]), "b": np.array([2.0, 0.0])})
        array([0.5, nan])
    """
    match expr:
        case Const(value):
            return np.asarray(value, dtype=float)
        case Ref(name):
            return np.asarray(values[name], dtype=float)
        case Neg(operand):
            return -evaluate(operand, values)
        case BinOp("+", left, right):
            return evaluate(left, values) + evaluate(right, values)
        case BinOp("-", left, right):
            return evaluate(left, values) - evaluate(right, values)
        case BinOp("*", left, right):
            return safe_multiply(evaluate(left, values), evaluate(right, values))
        case BinOp("/", left, right):
            return safe_divide(evaluate(left, values), evaluate(right, values), expr)
    raise TypeError(f"not an expression: {expr!r}")
