"""The driver structure of a tree: its root's formula rewritten as parts, and their visitors.

What belongs here: the three kinds of part, how a tree's parsed formulas become them
(:func:`build_structure`), and the generic walks over parts every method and view shares
(:func:`all_parts`, :func:`leaves`, :func:`expand_products`). What does not: checking the tree
(see :mod:`kpitree.core.tree`, which re-exports the part types) or numbers (what a part is
worth in a period is computed by the attribution methods from the data).

The three kinds of part:

* :class:`Driver` — a leaf: a formula over columns only (e.g. ``base / users``). Its change is
  attributed to its path ``(root, …, driver)``.
* :class:`Linear` — a weighted sum of parts plus a constant; a change splits linearly.
* :class:`Product` — a product of parts with exponents ±1; a change splits by the exact Shapley
  value over the factors (Das Gupta's symmetric decomposition for products).

A ratio whose numerator is a sum is distributed first (``(base + addon) / users`` becomes
``base/users + addon/users``), so each revenue component becomes its own driver with the path
``(arpu, revenue, base)``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from kpitree.core.errors import FormulaError, MethodError
from kpitree.core.expr import BinOp, Const, Expr, Neg, Ref, references, to_text


@dataclass(frozen=True)
class Driver:
    """A leaf of the driver structure: an expression over columns only."""

    path: tuple[str, ...]
    expr: Expr
    label: str


@dataclass(frozen=True)
class Linear:
    """``constant + Σ coefficient · part``: changes split linearly."""

    path: tuple[str, ...]
    terms: tuple[tuple[float, Part], ...]
    constant: float = 0.0


@dataclass(frozen=True)
class Product:
    """``coefficient · Π part ** exponent`` (exponents ±1): changes split by Shapley."""

    path: tuple[str, ...]
    factors: tuple[tuple[int, Part], ...]
    coefficient: float = 1.0


Part = Driver | Linear | Product
# A sum of products of drivers: [(coefficient, [(exponent, driver path), …]), …].
Products = list[tuple[float, list[tuple[int, tuple[str, ...]]]]]


@dataclass(frozen=True)
class _Sum:
    """An expression flattened into ``constant + Σ sign · term``."""

    terms: list[tuple[float, Expr]]
    constant: float


@dataclass(frozen=True)
class _Prod:
    """An expression flattened into ``coefficient · Π factor ** exponent``."""

    factors: list[tuple[int, Expr]]
    coefficient: float


def _flatten(expr: Expr) -> Ref | Const | _Sum | _Prod:
    """Classify an expression: a name, a constant, a flattened sum or a flattened product."""
    match expr:
        case Ref() | Const():
            return expr
        case Neg(operand):
            return _Sum([(-1.0, operand)], 0.0)
        case BinOp("+" | "-", _, _):
            terms: list[tuple[float, Expr]] = []
            constant = 0.0

            def add(sub: Expr, sign: float) -> None:
                nonlocal constant
                match sub:
                    case BinOp("+", left, right):
                        add(left, sign)
                        add(right, sign)
                    case BinOp("-", left, right):
                        add(left, sign)
                        add(right, -sign)
                    case Neg(operand):
                        add(operand, -sign)
                    case Const(value):
                        constant += sign * value
                    case _:
                        terms.append((sign, sub))

            add(expr, 1.0)
            return _Sum(terms, constant)
        case BinOp("*" | "/", _, _):
            factors: list[tuple[int, Expr]] = []
            coefficient = 1.0

            def mul(sub: Expr, exponent: int) -> None:
                nonlocal coefficient
                match sub:
                    case BinOp("*", left, right):
                        mul(left, exponent)
                        mul(right, exponent)
                    case BinOp("/", left, right):
                        mul(left, exponent)
                        mul(right, -exponent)
                    case Neg(operand):
                        coefficient = -coefficient
                        mul(operand, exponent)
                    case Const(value):
                        if exponent < 0 and value == 0:
                            raise FormulaError("division by the constant 0")
                        coefficient *= value if exponent > 0 else 1.0 / value
                    case _:
                        factors.append((exponent, sub))

            mul(expr, 1)
            return _Prod(factors, coefficient)
    raise TypeError(f"not an expression: {expr!r}")


def _product_expr(factors: list[tuple[int, Expr]], coefficient: float) -> Expr:
    """Rebuild an expression from product factors (numerators first)."""
    numerator: Expr | None = None if coefficient == 1.0 else Const(coefficient)
    for exponent, factor in factors:
        if exponent > 0:
            numerator = factor if numerator is None else BinOp("*", numerator, factor)
    result: Expr = numerator if numerator is not None else Const(1.0)
    for exponent, factor in factors:
        if exponent < 0:
            result = BinOp("/", result, factor)
    return result


class _StructureBuilder:
    """Builds a tree's parts from its parsed formulas (see :func:`build_structure`)."""

    def __init__(
        self, columns: Collection[str], expressions: Mapping[str, Expr],
        label: Callable[[str], str],
    ) -> None:
        self.columns, self.expressions, self.label = columns, expressions, label
        self.additive = {name for name in expressions if self._is_additive(name, set())}

    def _is_additive(self, name: str, seen: set[str]) -> bool:
        """Whether a formula node is a sum or difference of columns (``free + paid``): it adds
        up over rows like a column, so a formula over it and columns is still a driver."""
        if name in self.columns:
            return True
        if name in seen or name not in self.expressions:
            return False
        flat = _flatten(self.expressions[name])
        terms = [(1.0, flat)] if isinstance(flat, Ref) else (
            flat.terms if isinstance(flat, _Sum) and flat.constant == 0.0 else None)
        return terms is not None and all(
            isinstance(t, Ref) and self._is_additive(t.name, seen | {name}) for _, t in terms)

    def column_only(self, expr: Expr) -> bool:
        """Whether ``expr`` uses only columns and additive nodes (see :meth:`_is_additive`)."""
        return all(ref in self.columns or ref in self.additive for ref in references(expr))

    def inline(self, expr: Expr) -> Expr:
        """``expr`` with every additive formula node replaced by its formula (down to columns),
        so a driver is evaluated on the column sums alone."""
        match expr:
            case Ref(name) if name in self.additive and name not in self.columns:
                return self.inline(self.expressions[name])
            case BinOp(op, left, right):
                return BinOp(op, self.inline(left), self.inline(right))
            case Neg(operand):
                return Neg(self.inline(operand))
        return expr

    def driver(self, path: tuple[str, ...], expr: Expr, label: str) -> Driver:
        """A driver over the column sums (additive nodes inlined)."""
        return Driver(path, self.inline(expr), label)

    def sum_of(self, expr: Expr) -> tuple[tuple[str, ...], _Sum] | None:
        """If ``expr`` is a sum (inline or a named formula node), return (path suffix, sum)."""
        if isinstance(expr, Ref) and expr.name in self.expressions:
            inner = self.expressions[expr.name]
            flat = _flatten(inner)
            if isinstance(flat, _Sum):
                return (expr.name,), flat
            found = self.sum_of(inner) if isinstance(inner, Ref) else None
            return ((expr.name, *found[0]), found[1]) if found else None
        flat = _flatten(expr)
        return ((), flat) if isinstance(flat, _Sum) else None

    def part_for_ref(self, name: str, path: tuple[str, ...]) -> Part:
        here = (*path, name)
        if name in self.columns:
            return Driver(here, Ref(name), self.label(name))
        expr = self.expressions[name]
        # DESIGN §1: the sugar splits a numerator that is a *named* sum node; a node the user
        # wrote with an inline sum, ``str_1: (A_11 + A_12) / total``, stays one driver with its
        # own label (only the root's own formula distributes an inline sum).
        if self.column_only(expr) and self.distributed(expr, here, inline=not path) is None:
            return self.driver(here, expr, self.label(name))
        return self.part_for_expr(expr, here)

    def part_for_expr(self, expr: Expr, path: tuple[str, ...]) -> Part:
        match _flatten(expr):
            case Ref(name):
                return self.part_for_ref(name, path)
            case Const(value):
                return Linear(path, (), float(value))
            case _Sum(terms, constant):
                return Linear(
                    path, tuple((c, self.part_for_term(t, path)) for c, t in terms), constant
                )
            case _Prod(factors, coefficient):
                distributed = self.distributed(expr, path)
                if distributed is not None:
                    return distributed
                return Product(
                    path, tuple((e, self.part_for_term(f, path)) for e, f in factors), coefficient
                )
        raise TypeError(f"not an expression: {expr!r}")

    def part_for_term(self, expr: Expr, path: tuple[str, ...]) -> Part:
        """A term or factor: named nodes extend the path; inline column-only pieces are drivers."""
        if isinstance(expr, Ref):
            return self.part_for_ref(expr.name, path)
        if self.column_only(expr) and self.distributed(expr, path) is None:
            return self.driver((*path, to_text(expr)), expr, to_text(expr))
        return self.part_for_expr(expr, path)

    def distributed(self, expr: Expr, path: tuple[str, ...], *,
                    inline: bool = True) -> Part | None:
        """Distribute ``(a + b) · rest`` into ``a·rest + b·rest`` when ``rest`` is column-only.

        This is DESIGN.md's sugar: ``revenue / users`` with ``revenue = base + addon + usage``
        splits into the per-user components with paths ``(…, revenue, base)``.
        """
        product = _flatten(expr)
        if not isinstance(product, _Prod):
            return None
        factors, coefficient = product.factors, product.coefficient
        sums = [(i, found) for i, (e, f) in enumerate(factors)
                if e > 0 and (found := self.sum_of(f)) is not None]
        if len(sums) != 1:
            return None
        index, (suffix, flat_sum) = sums[0]
        if not suffix and not inline:
            return None
        rest = [factor for i, factor in enumerate(factors) if i != index]
        if not rest or not all(self.column_only(f) for _, f in rest):
            return None
        terms, constant = flat_sum.terms, flat_sum.constant
        if constant != 0.0:
            return None
        here = (*path, *suffix)
        parts: list[tuple[float, Part]] = []
        for sign, term in terms:
            component = _product_expr([(1, term), *rest], coefficient)
            if isinstance(term, Ref) and term.name in self.columns:
                label = f"{self.label(term.name)} / {self._rest_label(rest)}"
                parts.append((sign, self.driver((*here, term.name), component, label)))
            elif isinstance(term, Ref):
                parts.append((sign, self._distributed_named(term.name, rest, coefficient, here)))
            else:
                parts.append((sign, self.part_for_term(component, here)))
        return Linear(here, tuple(parts))

    def _distributed_named(
        self, name: str, rest: list[tuple[int, Expr]], coefficient: float, path: tuple[str, ...]
    ) -> Part:
        """A named formula inside a distributed sum: recurse with its own name on the path."""
        inner = _product_expr([(1, self.expressions[name]), *rest], coefficient)
        here = (*path, name)
        if self.column_only(inner) and self.distributed(inner, here) is None:
            return self.driver(here, inner, f"{self.label(name)} / {self._rest_label(rest)}")
        return self.part_for_expr(inner, here)

    def _rest_label(self, rest: list[tuple[int, Expr]]) -> str:
        labels = [
            self.label(f.name) if isinstance(f, Ref) else to_text(f) for _, f in rest
        ]
        return " · ".join(labels).lower() if len(labels) > 1 else labels[0].lower()


def build_structure(
    root: str, *, columns: Collection[str], expressions: Mapping[str, Expr],
    label: Callable[[str], str], split_root: bool = False,
) -> Part:
    """The driver structure under ``root``.

    Args:
        root: the node to decompose.
        columns: the column nodes (a column is a driver when a formula uses it as a term).
        expressions: every formula node's parsed formula.
        label: a node's label (drivers are labelled with it).
        split_root: split a root written over columns only into its terms (``crude = alpha *
            beta``: the drivers are the columns) instead of making it one driver. Used for a
            root that is no weighted average, decomposed through its formula alone.

    Raises:
        FormulaError: a formula divides by the constant 0.
        RecursionError: the formulas nest deeper than Python's recursion limit (the caller
            words this for the tree file).
    """
    builder = _StructureBuilder(columns, expressions, label)
    if split_root and root in expressions:
        return builder.part_for_expr(expressions[root], (root,))
    return builder.part_for_ref(root, ())


def all_parts(part: Part) -> list[Part]:
    """Every part, pre-order: the part itself, then the parts under it, in formula order.

    Example:
        >>> d = Driver(("arpu", "base_pu"), Ref("base_pu"), "Base / user")
        >>> [p.path for p in all_parts(Linear(("arpu",), ((1.0, d),)))]
        [('arpu',), ('arpu', 'base_pu')]
    """
    match part:
        case Driver():
            return [part]
        case Linear(_, terms, _):
            return [part, *(p for _, sub in terms for p in all_parts(sub))]
        case Product(_, factors, _):
            return [part, *(p for _, sub in factors for p in all_parts(sub))]
    raise TypeError(f"not a part: {part!r}")


def leaves(part: Part) -> list[Driver]:
    """The drivers under a part (the part itself if it is one), in formula order."""
    match part:
        case Driver():
            return [part]
        case Linear(_, terms, _):
            return [leaf for _, sub in terms for leaf in leaves(sub)]
        case Product(_, factors, _):
            return [leaf for _, sub in factors for leaf in leaves(sub)]
    raise TypeError(f"not a part: {part!r}")


def expand_products(part: Part) -> Products:
    """A part as a sum of products of drivers: ``[(coefficient, [(exponent, path), …]), …]``.

    Sums are multiplied out; a constant term is a product with no drivers. This is the form
    LMDI decomposes.

    Raises:
        MethodError: the part divides by a sum (which is no sum of products).

    Example:
        >>> a, b = (Driver(("r", n), Ref(n), n) for n in "ab")
        >>> expand_products(Product(("r",), ((1, a), (-1, b)), 2.0))
        [(2.0, [(1, ('r', 'a')), (-1, ('r', 'b'))])]
    """
    match part:
        case Driver(path, _, _):
            return [(1.0, [(1, path)])]
        case Linear(_, terms, constant):
            expanded: Products = [(constant, [])] if constant else []
            for coefficient, sub in terms:
                expanded += [(coefficient * c, f) for c, f in expand_products(sub)]
            return expanded
        case Product(_, factors, coefficient):
            result: Products = [(coefficient, [])]
            for exponent, sub in factors:
                sub_terms = expand_products(sub)
                if exponent < 0:
                    if len(sub_terms) != 1:
                        raise MethodError(
                            f"lmdi needs the formula as a sum of products, but "
                            f"{' → '.join(sub.path) or 'a node'} divides by a sum; use "
                            "--method shapley"
                        )
                    c, f = sub_terms[0]
                    sub_terms = [(1.0 / c, [(-e, p) for e, p in f])]
                result = [(c1 * c2, f1 + f2) for c1, f1 in result for c2, f2 in sub_terms]
            return result
    raise TypeError(f"not a part: {part!r}")
