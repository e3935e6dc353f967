"""The tree model: a validated metric tree, its graph, and its driver structure.

What belongs here: turning a :class:`~kpitree.core.spec.TreeSpec` into a :class:`Tree` whose
formulas
are parsed, whose references resolve, which has no cycles, whose root is a weighted average over
segments, and whose rate can be split down to drivers. What does not: data (see
:mod:`kpitree.core.data`) and numbers (see :mod:`kpitree.core.evaluate`).

The driver structure is the formula of the root rewritten into three kinds of parts:

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

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import networkx as nx
import numpy as np

from kpitree.core.errors import FormulaError, TreeError, did_you_mean
from kpitree.core.expr import (
    BinOp,
    Const,
    Expr,
    Neg,
    Ref,
    ZeroDenominator,
    evaluate,
    parse_formula,
    references,
    to_text,
)
from kpitree.core.spec import NodeSpec, TreeSpec, parse_tree_text, read_tree_spec


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


@dataclass(frozen=True)
class Tree:
    """A validated metric tree.

    Attributes:
        spec: the file as written.
        expressions: the parsed formula of every formula node.
        graph: a networkx DiGraph with an edge from each formula node to each node it uses.
        structure: the root's driver structure (see the module docstring).
    """

    spec: TreeSpec
    expressions: Mapping[str, Expr]
    graph: nx.DiGraph = field(compare=False, hash=False, repr=False)
    structure: Part = field(compare=False, hash=False, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def root(self) -> str:
        return self.spec.root

    @property
    def weight(self) -> str:
        return self.spec.weight

    @property
    def segments(self) -> tuple[str, ...]:
        return self.spec.segments

    @property
    def unit(self) -> str:
        return self.spec.unit

    @cached_property
    def nodes(self) -> dict[str, NodeSpec]:
        return {node.name: node for node in self.spec.nodes}

    @cached_property
    def columns(self) -> dict[str, str]:
        """Column nodes mapped to the data column each sums."""
        return {n.name: n.column for n in self.spec.nodes if n.column is not None}

    @cached_property
    def order(self) -> tuple[str, ...]:
        """Every node, inputs before the nodes that use them, in a stable order."""
        return tuple(nx.lexicographical_topological_sort(self.graph.reverse(copy=False)))

    @cached_property
    def drivers(self) -> tuple[Driver, ...]:
        """The leaves of the driver structure, in formula order."""
        return tuple(_leaves(self.structure))

    @cached_property
    def count_columns(self) -> tuple[str, ...]:
        """Data columns that count things (used by the weight or as a denominator): must be ≥ 0."""
        names: set[str] = set(self.column_nodes_under(self.weight))
        for expr in self.expressions.values():
            names.update(_denominator_columns(expr, self))
        return tuple(sorted(self.columns[n] for n in names))

    def column_nodes_under(self, node: str) -> list[str]:
        """Column nodes that ``node`` depends on (itself if it is a column)."""
        reachable = nx.descendants(self.graph, node) | {node}
        return sorted(n for n in reachable if n in self.columns)

    def label(self, node: str) -> str:
        spec = self.nodes.get(node)
        return spec.label if spec else node

    def format_of(self, node: str) -> str | None:
        spec = self.nodes.get(node)
        return spec.format if spec else None

    def where(self, node: str) -> str:
        """``file:line`` of a node's definition."""
        spec = self.nodes.get(node)
        return self.spec.where(spec.line if spec else None)


def load_tree(path: str | Path) -> Tree:
    """Read, parse and validate a tree file.

    Raises:
        TreeError: naming the file, the line, the node and the problem.

    Example:
        >>> tree = load_tree("trees/saas_arpu.yaml")  # doctest: +SKIP
        >>> [d.path[-1] for d in tree.drivers]  # doctest: +SKIP
        ['base_pu', 'attach', 'addon_per_adopter', 'usage_pu']
    """
    return build_tree(read_tree_spec(path))


def tree_from_text(text: str, source: str = "<tree>") -> Tree:
    """Parse and validate a tree given as YAML text (handy in tests and notebooks)."""
    return build_tree(parse_tree_text(text, source))


def build_tree(spec: TreeSpec) -> Tree:
    """Validate a spec's meaning and build the :class:`Tree`.

    Raises:
        TreeError: unknown nodes, cycles, bad formulas, a root that is not a weighted average.
    """
    nodes = {node.name: node for node in spec.nodes}
    problems: list[str] = []
    expressions: dict[str, Expr] = {}
    for node in spec.nodes:
        if node.formula is None:
            continue
        try:
            expressions[node.name] = parse_formula(node.formula)
        except FormulaError as exc:
            shown = " ".join(node.formula.split())  # messages stay on one line
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            problems.append(
                f"{spec.where(node.line)}: node '{node.name}': formula '{shown}': {exc}"
            )
            continue
        if _divides_by_constant_zero(expressions[node.name]):
            problems.append(
                f"{spec.where(node.line)}: node '{node.name}' divides by the constant 0"
            )

    graph = nx.DiGraph()
    for node in spec.nodes:
        graph.add_node(
            node.name,
            label=node.label,
            kind="column" if node.is_column else "formula",
            column=node.column,
            formula=node.formula,
        )
    for name, expr in expressions.items():
        for ref in references(expr):
            if ref not in nodes:
                problems.append(
                    f"{spec.where(nodes[name].line)}: node '{name}' uses unknown node "
                    f"'{ref}'.{did_you_mean(ref, nodes)}"
                )
            elif ref == name:
                problems.append(f"{spec.where(nodes[name].line)}: node '{name}' uses itself")
            else:
                graph.add_edge(name, ref)

    for key in ("root", "weight"):
        target = getattr(spec, key)
        if target and target not in nodes:
            problems.append(
                f"{spec.where(spec.lines.get('@' + key))}: {key} '{target}' is not a node."
                f"{did_you_mean(target, nodes)}"
            )
    _raise(problems, spec)

    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        loop = " → ".join([edge[0] for edge in cycle] + [cycle[0][0]])
        raise TreeError(f"{spec.where(nodes[cycle[0][0]].line)}: formulas form a cycle: {loop}")

    tree = Tree(spec=spec, expressions=expressions, graph=graph, structure=Linear((), ()))
    if not tree.column_nodes_under(spec.root):
        raise TreeError(
            f"{tree.where(spec.root)}: root '{spec.root}' uses no column, so it cannot move; "
            f"write it over data columns, e.g. revenue / {spec.weight}"
        )
    if spec.root in tree.columns:
        raise TreeError(
            f"{tree.where(spec.root)}: root '{spec.root}' is a column; the root must be a formula "
            f"that averages over '{spec.weight}', e.g. revenue / {spec.weight}"
        )
    try:
        structure = _StructureBuilder(tree).part_for_ref(spec.root, ())
    except RecursionError:
        raise TreeError(
            f"{tree.where(spec.root)}: the formulas under '{spec.root}' nest too deeply "
            "(hundreds of levels); flatten the tree"
        ) from None
    tree = Tree(spec=spec, expressions=expressions, graph=graph, structure=structure)
    _check_weighted_average(tree)
    return tree


def _raise(problems: list[str], spec: TreeSpec) -> None:
    if len(problems) == 1:
        raise TreeError(problems[0])
    if problems:
        error = TreeError(f"{len(problems)} problems in {spec.source}: " + "; ".join(problems))
        error.problems = tuple(problems)  # type: ignore[attr-defined]
        raise error


def _check_weighted_average(tree: Tree) -> None:
    """Reject a root that is not a weighted average over segments by the weight.

    The identity root(all)·W(all) = Σ_s root(s)·W(s) must hold for *any* data, i.e. root·W must
    be additive over rows. We test it the way polynomial identities are tested (Schwartz–Zippel):
    on random positive column values for two segments, where a non-identity fails with
    probability one. The weight itself must be additive too.
    """
    rng = np.random.default_rng(20260922)
    columns = list(tree.columns)
    for _ in range(3):
        first = {c: rng.uniform(1.0, 10.0, size=1) for c in columns}
        second = {c: rng.uniform(1.0, 10.0, size=1) for c in columns}
        both = {c: first[c] + second[c] for c in columns}
        try:
            values = [_node_values(tree, data) for data in (first, second, both)]
        except ZeroDenominator as exc:
            node = next(n for n, e in tree.expressions.items() if exc.expr in _subexpressions(e))
            raise TreeError(
                f"{tree.where(node)}: node '{node}' divides by '{to_text(exc.expr.right)}', "
                "which is zero whatever the data"
            ) from None
        weight = [v[tree.weight][0] for v in values]
        root = [v[tree.root][0] for v in values]
        if not np.isclose(weight[2], weight[0] + weight[1], rtol=1e-9):
            raise TreeError(
                f"{tree.where(tree.weight)}: weight '{tree.weight}' must be additive over rows "
                "(a column such as active users, or a sum of columns)"
            )
        if not np.isclose(root[2] * weight[2], root[0] * weight[0] + root[1] * weight[1],
                          rtol=1e-9):
            raise TreeError(
                f"{tree.where(tree.root)}: root '{tree.root}' is not a weighted average over "
                f"segments weighted by '{tree.weight}': {tree.root} × {tree.weight} must add up "
                f"over segments (e.g. revenue / {tree.weight}). Check the formula or the weight"
            )


def _subexpressions(expr: Expr) -> list[Expr]:
    match expr:
        case BinOp(_, left, right):
            return [expr, *_subexpressions(left), *_subexpressions(right)]
        case Neg(operand):
            return [expr, *_subexpressions(operand)]
        case _:
            return [expr]


def _divides_by_constant_zero(expr: Expr) -> bool:
    return any(isinstance(e, BinOp) and e.op == "/" and isinstance(e.right, Const)
               and e.right.value == 0 for e in _subexpressions(expr))


def _node_values(tree: Tree, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate every node from column-node arrays (used by validation only)."""
    values: dict[str, np.ndarray] = {}
    for name in tree.order:
        values[name] = (
            np.asarray(columns[name], dtype=float)
            if name in tree.columns
            else evaluate(tree.expressions[name], values)
        )
    return values


# --- Driver structure ------------------------------------------------------------------------

_Flat = tuple[str, object]


def _flatten(expr: Expr) -> _Flat:
    """Classify an expression: ('ref', name), ('const', v), ('sum', (terms, const)), ('prod', …)."""
    match expr:
        case Ref(name):
            return ("ref", name)
        case Const(value):
            return ("const", value)
        case Neg(operand):
            return ("sum", ([(-1.0, operand)], 0.0))
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
            return ("sum", (terms, constant))
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
            return ("prod", (factors, coefficient))
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
    def __init__(self, tree: Tree) -> None:
        self.tree = tree

    def column_only(self, expr: Expr) -> bool:
        return all(ref in self.tree.columns for ref in references(expr))

    def sum_of(self, expr: Expr) -> tuple[tuple[str, ...], Expr] | None:
        """If ``expr`` is a sum (inline or a named formula node), return (path suffix, sum)."""
        if isinstance(expr, Ref) and expr.name in self.tree.expressions:
            inner = self.tree.expressions[expr.name]
            if _flatten(inner)[0] == "sum":
                return (expr.name,), inner
            found = self.sum_of(inner) if isinstance(inner, Ref) else None
            return ((expr.name, *found[0]), found[1]) if found else None
        if _flatten(expr)[0] == "sum":
            return (), expr
        return None

    def part_for_ref(self, name: str, path: tuple[str, ...]) -> Part:
        here = (*path, name)
        if name in self.tree.columns:
            return Driver(here, Ref(name), self.tree.label(name))
        expr = self.tree.expressions[name]
        if self.column_only(expr) and self.distributed(expr, here) is None:
            return Driver(here, expr, self.tree.label(name))
        return self.part_for_expr(expr, here)

    def part_for_expr(self, expr: Expr, path: tuple[str, ...]) -> Part:
        kind, payload = _flatten(expr)
        if kind == "ref":
            return self.part_for_ref(str(payload), path)
        if kind == "const":
            return Linear(path, (), float(payload))  # type: ignore[arg-type]
        if kind == "sum":
            terms, constant = payload  # type: ignore[misc]
            return Linear(
                path, tuple((c, self.part_for_term(t, path)) for c, t in terms), constant
            )
        distributed = self.distributed(expr, path)
        if distributed is not None:
            return distributed
        factors, coefficient = payload  # type: ignore[misc]
        return Product(
            path, tuple((e, self.part_for_term(f, path)) for e, f in factors), coefficient
        )

    def part_for_term(self, expr: Expr, path: tuple[str, ...]) -> Part:
        """A term or factor: named nodes extend the path; inline column-only pieces are drivers."""
        if isinstance(expr, Ref):
            return self.part_for_ref(expr.name, path)
        if self.column_only(expr) and self.distributed(expr, path) is None:
            return Driver((*path, to_text(expr)), expr, to_text(expr))
        return self.part_for_expr(expr, path)

    def distributed(self, expr: Expr, path: tuple[str, ...]) -> Part | None:
        """Distribute ``(a + b) · rest`` into ``a·rest + b·rest`` when ``rest`` is column-only.

        This is DESIGN.md's sugar: ``revenue / users`` with ``revenue = base + addon + usage``
        splits into the per-user components with paths ``(…, revenue, base)``.
        """
        kind, payload = _flatten(expr)
        if kind != "prod":
            return None
        factors, coefficient = payload  # type: ignore[misc]
        sums = [(i, self.sum_of(f)) for i, (e, f) in enumerate(factors) if e > 0]
        sums = [(i, s) for i, s in sums if s is not None]
        if len(sums) != 1:
            return None
        index, (suffix, sum_expr) = sums[0]
        rest = [factor for i, factor in enumerate(factors) if i != index]
        if not rest or not all(self.column_only(f) for _, f in rest):
            return None
        terms, constant = _flatten(sum_expr)[1]  # type: ignore[misc]
        if constant != 0.0:
            return None
        here = (*path, *suffix)
        parts: list[tuple[float, Part]] = []
        for sign, term in terms:
            component = _product_expr([(1, term), *rest], coefficient)
            if isinstance(term, Ref) and term.name in self.tree.columns:
                label = f"{self.tree.label(term.name)} / {self._rest_label(rest)}"
                parts.append((sign, Driver((*here, term.name), component, label)))
            elif isinstance(term, Ref):
                parts.append((sign, self._distributed_named(term.name, rest, coefficient, here)))
            else:
                parts.append((sign, self.part_for_term(component, here)))
        return Linear(here, tuple(parts))

    def _distributed_named(
        self, name: str, rest: list[tuple[int, Expr]], coefficient: float, path: tuple[str, ...]
    ) -> Part:
        """A named formula inside a distributed sum: recurse with its own name on the path."""
        inner = _product_expr([(1, self.tree.expressions[name]), *rest], coefficient)
        here = (*path, name)
        if self.column_only(inner) and self.distributed(inner, here) is None:
            return Driver(here, inner, f"{self.tree.label(name)} / {self._rest_label(rest)}")
        return self.part_for_expr(inner, here)

    def _rest_label(self, rest: list[tuple[int, Expr]]) -> str:
        labels = [
            self.tree.label(f.name) if isinstance(f, Ref) else to_text(f) for _, f in rest
        ]
        return " · ".join(labels).lower() if len(labels) > 1 else labels[0].lower()


def _leaves(part: Part) -> list[Driver]:
    match part:
        case Driver():
            return [part]
        case Linear(_, terms, _):
            return [leaf for _, sub in terms for leaf in _leaves(sub)]
        case Product(_, factors, _):
            return [leaf for _, sub in factors for leaf in _leaves(sub)]
    raise TypeError(f"not a part: {part!r}")


def _denominator_columns(expr: Expr, tree: Tree) -> set[str]:
    """Column nodes used directly as a denominator (``x / users``)."""
    found: set[str] = set()

    def visit(node: Expr) -> None:
        match node:
            case BinOp("/", left, right):
                visit(left)
                if isinstance(right, Ref) and right.name in tree.columns:
                    found.add(right.name)
                visit(right)
            case BinOp(_, left, right):
                visit(left)
                visit(right)
            case Neg(operand):
                visit(operand)
            case _:
                pass

    visit(expr)
    return found
