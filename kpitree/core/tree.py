"""The tree model: a validated metric tree and its graph.

What belongs here: turning a :class:`~kpitree.core.spec.TreeSpec` into a :class:`Tree` whose
formulas are parsed, whose references resolve, which has no cycles, whose root is a weighted
average over segments, and whose rate can be split down to drivers. What does not: the driver
structure itself — the parts :class:`Driver`, :class:`Linear`, :class:`Product`, how they are
built and walked (see :mod:`kpitree.core.structure`; the part types are re-exported here) —
data (see :mod:`kpitree.core.data`) and numbers (see :mod:`kpitree.core.evaluate`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import networkx as nx
import numpy as np

from kpitree.core.errors import FormulaError, Problem, TreeError, did_you_mean
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
from kpitree.core.periods import Period
from kpitree.core.spec import NodeSpec, TreeSpec, parse_tree_text, read_tree_spec
from kpitree.core.structure import Driver, Linear, Part, Product, build_structure, leaves

# The part types live in kpitree.core.structure; they stay importable from here.
__all__ = ["UNIT_WEIGHT", "Driver", "Linear", "Part", "Product", "Tree", "build_tree",
           "load_tree", "tree_from_text"]

# The weight of a tree written without one (DESIGN §1: a root decomposed through its formula
# alone, no segments): the constant 1, so every period weighs the same. Not a valid node name
# in a file, so it never clashes with the user's nodes.
UNIT_WEIGHT = "(unit weight)"


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
    # Why the root is no weighted average over segments (None when it is): such a tree is
    # decomposed through its formula alone and refused as soon as segments are asked for.
    not_averaged: str | None = field(default=None, compare=False, hash=False, repr=False)

    def with_period(self, kind: str) -> Tree:
        """This tree with its ``data.period`` set to ``month``, ``quarter`` or ``year`` (the
        CLI's ``--period`` on raw events: no need to edit the file).

        Raises:
            TreeError: the tree has no ``data:`` section.
        """
        if self.spec.data is None:
            raise TreeError(f"{self.spec.source}: --period {kind} on raw events needs the "
                            "tree's data: section")
        data = replace(self.spec.data, period=Period(kind))
        return replace(self, spec=replace(self.spec, data=data))

    def check_segments(self, dims: Sequence[str]) -> None:
        """Refuse segments for a root that is no weighted average (DESIGN.md §1).

        Raises:
            TreeError: ``dims`` is not empty and the root cannot be split into segments.
        """
        if dims and self.not_averaged is not None:
            raise TreeError(f"{self.not_averaged}; segments ({', '.join(dims)}) need a root "
                            "that is a weighted average — explain it without --by")

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
        """The weight node (:data:`UNIT_WEIGHT` when the file has none)."""
        return self.spec.weight or UNIT_WEIGHT

    @property
    def decimals(self) -> int | None:
        """The tree's ``decimals:`` (every money and number figure), or ``None``."""
        return self.spec.decimals

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
        return tuple(leaves(self.structure))

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
        if spec is None and node == UNIT_WEIGHT:
            return "Weight (none: 1 per period)"
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
        >>> tree = load_tree("trees/saas_arpu.yaml")
        >>> [d.path[-1] for d in tree.drivers]
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
    problems: list[Problem] = []
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
                spec.problem(f"node '{node.name}': formula '{shown}': {exc}", node.line, node.name)
            )
            continue
        if _divides_by_constant_zero(expressions[node.name]):
            problems.append(
                spec.problem(f"node '{node.name}' divides by the constant 0", node.line, node.name)
            )

    graph: nx.DiGraph = nx.DiGraph()
    if not spec.weight:
        expressions[UNIT_WEIGHT] = Const(1.0)
        graph.add_node(UNIT_WEIGHT, label=UNIT_WEIGHT, kind="formula", formula="1")
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
                problems.append(spec.problem(
                    f"node '{name}' uses unknown node '{ref}'.{did_you_mean(ref, nodes)}",
                    nodes[name].line, name,
                ))
            elif ref == name:
                problems.append(spec.problem(f"node '{name}' uses itself", nodes[name].line, name))
            else:
                graph.add_edge(name, ref)

    for key in ("root", "weight"):
        target = getattr(spec, key)
        if target and target not in nodes:
            problems.append(spec.problem(
                f"{key} '{target}' is not a node.{did_you_mean(target, nodes)}",
                spec.lines.get("@" + key),
            ))
    if problems:
        raise TreeError.collected(problems, spec.source)

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
        structure = build_structure(spec.root, columns=tree.columns,
                                    expressions=expressions, label=tree.label)
    except RecursionError:
        raise TreeError(
            f"{tree.where(spec.root)}: the formulas under '{spec.root}' nest too deeply "
            "(hundreds of levels); flatten the tree"
        ) from None
    tree = Tree(spec=spec, expressions=expressions, graph=graph, structure=structure)
    if not spec.weight:
        reason = (f"{spec.where(spec.lines.get('@root'))}: the tree has no 'weight', so its "
                  f"root '{spec.root}' cannot be averaged over segments; add e.g. "
                  "'weight: users'")
    else:
        try:
            _check_weighted_average(tree)
        except TreeError as exc:
            if spec.segments:  # the file asks for segments: refuse now
                raise
            reason = str(exc)
        else:
            return tree
    # No weighted average: the root is decomposed through its formula alone (DESIGN §1).
    structure = build_structure(spec.root, columns=tree.columns, expressions=expressions,
                                label=tree.label, split_root=True)
    return replace(tree, structure=structure, not_averaged=reason)


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
            divisor = exc.expr.right if isinstance(exc.expr, BinOp) else exc.expr  # always a '/'
            raise TreeError(
                f"{tree.where(node)}: node '{node}' divides by '{to_text(divisor)}', "
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
    shape = np.shape(next(iter(columns.values()))) if columns else ()
    for name in tree.order:
        values[name] = (
            np.asarray(columns[name], dtype=float)
            if name in tree.columns
            else np.broadcast_to(evaluate(tree.expressions[name], values), shape)
        )
    return values


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
