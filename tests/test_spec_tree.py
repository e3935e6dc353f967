"""Tree files (kpitree.core.spec) and the tree model (kpitree.core.tree): messages, structure,
graph."""

from __future__ import annotations

import re
import textwrap

import networkx as nx
import pytest

import kpitree
from kpitree import TreeError, load_tree, tree_from_text
from kpitree.core.structure import Driver, Linear, Product
from tests.conftest import ROOT, SAAS_TREE

SOURCE = "my_tree.yaml"


def tree_text(nodes: str, header: str | None = None) -> str:
    """A tree file: a 5-line header (lines 1–5), then ``nodes`` from line 6 on."""
    if header is None:
        header = "name: t\nroot: arpu\nweight: users\nsegments: [tier]\nnodes:\n"
    return header + textwrap.indent(textwrap.dedent(nodes).strip("\n"), "  ") + "\n"


def error_of(text: str, source: str = SOURCE) -> str:
    with pytest.raises(TreeError) as info:
        tree_from_text(text, source)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def assert_located(message: str, line: int, source: str = SOURCE) -> None:
    assert message.startswith(f"{source}:{line}:"), message


OK_NODES = """
arpu: {formula: base / users}
users: {column: active_users}
base: {column: base_revenue}
"""


def test_minimal_tree_loads():
    tree = tree_from_text(tree_text(OK_NODES), SOURCE)
    assert tree.root == "arpu"
    assert tree.weight == "users"
    assert tree.segments == ("tier",)
    assert tree.columns == {"users": "active_users", "base": "base_revenue"}
    assert [d.path for d in tree.drivers] == [("arpu",)]


def test_name_defaults_to_the_file_stem():
    text = "root: arpu\nweight: users\nnodes:\n" + textwrap.indent(OK_NODES.strip(), "  ")
    assert tree_from_text(text, "trees/whatever_arpu.yaml").name == "whatever_arpu"


# --- Shape errors (spec), each located file:line -----------------------------------------------


def test_unknown_top_level_key_with_suggestion():
    header = "name: t\nroot: arpu\nweight: users\nsegmnts: [tier]\nnodes:\n"
    message = error_of(tree_text(OK_NODES, header))
    assert_located(message, 4)
    assert "unknown key 'segmnts'" in message
    assert "Did you mean 'segments'?" in message


def test_unknown_node_key_with_suggestion():
    message = error_of(tree_text("""
        arpu: {formula: base / users, fromula: x}
        users: {column: active_users}
        base: {column: base_revenue}
    """))
    assert_located(message, 6)
    assert "node 'arpu'" in message
    assert "unknown key 'fromula'" in message
    assert "Did you mean 'formula'?" in message


def test_node_with_both_column_and_formula():
    message = error_of(tree_text("""
        arpu: {formula: base / users}
        users: {column: active_users, formula: base}
        base: {column: base_revenue}
    """))
    assert_located(message, 7)
    assert "'users'" in message
    assert "both 'column' and 'formula'" in message


def test_node_with_neither_column_nor_formula():
    message = error_of(tree_text("""
        arpu: {formula: base / users}
        users: {label: Users}
        base: {column: base_revenue}
    """))
    assert_located(message, 7)
    assert "'users'" in message
    assert "'column'" in message and "'formula'" in message


def test_bad_format_value_with_suggestion():
    message = error_of(tree_text("""
        arpu: {formula: base / users}
        users: {column: active_users}
        base: {column: base_revenue, format: percnt}
    """))
    assert_located(message, 8)
    assert "format 'percnt'" in message
    assert "Did you mean 'percent'?" in message


def test_segments_not_a_list():
    header = "name: t\nroot: arpu\nweight: users\nsegments: {tier: 1}\nnodes:\n"
    message = error_of(tree_text(OK_NODES, header))
    assert_located(message, 4)
    assert "'segments' must be a list" in message


def test_segments_as_one_name_is_a_list_of_one():
    header = "name: t\nroot: arpu\nweight: users\nsegments: tier\nnodes:\n"
    assert tree_from_text(tree_text(OK_NODES, header), SOURCE).segments == ("tier",)


def test_segments_listing_a_dimension_twice():
    header = "name: t\nroot: arpu\nweight: users\nsegments: [tier, tier]\nnodes:\n"
    message = error_of(tree_text(OK_NODES, header))
    assert_located(message, 4)
    assert "twice" in message


def test_node_name_must_be_an_identifier():
    message = error_of(tree_text(OK_NODES + "my-node: {column: x}\n"))
    assert_located(message, 9)
    assert "'my-node'" in message


def test_several_problems_are_reported_together():
    # the weight is required because the file declares segments (DESIGN §1)
    header = "segments: [tier]\nroot: arpu\nwieght: users\nnodes:\n"
    message = error_of(tree_text(OK_NODES, header))
    assert message.startswith(f"2 problems in {SOURCE}:")
    assert f"{SOURCE}:3: unknown key 'wieght'" in message
    assert "Did you mean 'weight'?" in message
    assert "missing required key 'weight'" in message


def test_not_a_mapping():
    assert_located(error_of("- a\n- b\n"), 1)


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_empty_tree_text(text):
    message = error_of(text)
    assert message.startswith(SOURCE)
    assert "empty" in message


# --- Strict YAML -------------------------------------------------------------------------------


def test_yaml_syntax_error_has_line_and_column():
    message = error_of(tree_text("""
        arpu: {formula: base / users
        users: {column: active_users}
    """))
    assert re.match(rf"{re.escape(SOURCE)}:7:\d+: YAML syntax error", message), message


def test_yaml_python_tag_is_refused():
    message = error_of(tree_text("""
        arpu: !!python/object/apply:os.system ['echo pwned']
        users: {column: active_users}
    """))
    assert_located(message, 6)
    assert "tags" in message and "python/object/apply:os.system" in message


def test_yaml_plain_tag_is_refused():
    message = error_of(tree_text("""
        arpu: {formula: !!str base / users}
        users: {column: active_users}
        base: {column: base_revenue}
    """))
    assert_located(message, 6)
    assert "tags" in message


def test_yaml_anchors_and_aliases_are_refused():
    laughs = 'a: &a ["lol", "lol"]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n'
    message = error_of(laughs + tree_text(OK_NODES))
    assert_located(message, 1)
    assert "anchors ('&a')" in message


def test_yaml_duplicate_node_is_refused():
    message = error_of(tree_text(OK_NODES + "base: {column: addon_revenue}\n"))
    assert_located(message, 9)
    assert "duplicate key 'base'" in message


def test_yaml_duplicate_key_inside_a_node_is_refused():
    message = error_of(tree_text("""
        arpu: {formula: base / users, formula: users / base}
        users: {column: active_users}
        base: {column: base_revenue}
    """))
    assert_located(message, 6)
    assert "duplicate key 'formula'" in message


# --- Meaning errors (tree) ---------------------------------------------------------------------


def test_unknown_node_in_formula_with_suggestion():
    message = error_of(tree_text("""
        arpu: {formula: base / usres}
        users: {column: active_users}
        base: {column: base_revenue}
    """))
    assert_located(message, 6)
    assert "node 'arpu' uses unknown node 'usres'" in message
    assert "Did you mean 'users'?" in message


def test_unknown_root_with_suggestion():
    header = "name: t\nroot: arpuu\nweight: users\nsegments: [tier]\nnodes:\n"
    message = error_of(tree_text(OK_NODES, header))
    assert_located(message, 2)
    assert "root 'arpuu'" in message
    assert "Did you mean 'arpu'?" in message


def test_cycle_is_named():
    message = error_of(tree_text("""
        arpu: {formula: a / users}
        a: {formula: b + base}
        b: {formula: a * 2}
        users: {column: active_users}
        base: {column: base_revenue}
    """))
    assert re.match(rf"{re.escape(SOURCE)}:(7|8): formulas form a cycle", message), message
    assert "a → b → a" in message or "b → a → b" in message


def test_self_reference():
    message = error_of(tree_text("""
        arpu: {formula: arpu / users}
        users: {column: active_users}
    """))
    assert_located(message, 6)
    assert "'arpu' uses itself" in message


def test_ill_formed_formula_names_node_formula_and_column():
    message = error_of(tree_text("""
        arpu: {formula: base_pu + * addon}
        base_pu: {formula: base / users}
        addon: {formula: base / users}
        users: {column: active_users}
        base: {column: base_revenue}
    """))
    assert_located(message, 6)
    assert "node 'arpu'" in message
    assert "'base_pu + * addon'" in message
    assert "column 11" in message


@pytest.mark.parametrize(
    ("formula", "words"),
    [
        ("\"__import__('os')\"", "not allowed"),
        ("'base / users + __import__(base)'", "function calls are not allowed"),
        ("users.__class__", "attribute access is not allowed"),
        ("'base[0] / users'", "indexing is not allowed"),
    ],
)
def test_unsafe_formulas_are_refused(formula, words):
    message = error_of(tree_text(f"""
        arpu: {{formula: {formula}}}
        users: {{column: active_users}}
        base: {{column: base_revenue}}
    """))
    assert_located(message, 6)
    assert words in message
    assert "column " in message


def test_root_that_is_a_column():
    message = error_of(tree_text("""
        arpu: {column: base_revenue}
        users: {column: active_users}
    """))
    assert_located(message, 6)
    assert "root 'arpu' is a column" in message


def test_root_not_a_weighted_average():
    message = error_of(tree_text("""
        arpu: {formula: revenue * users}
        users: {column: active_users}
        revenue: {column: base_revenue}
    """))
    assert_located(message, 6)
    assert "not a weighted average" in message
    assert "'users'" in message


def test_root_averaged_over_the_wrong_weight():
    header = "segments: [tier]\nroot: arpu\nweight: accounts\nnodes:\n"
    message = error_of(tree_text("""
        arpu: {formula: revenue / users}
        users: {column: active_users}
        accounts: {column: accounts}
        revenue: {column: base_revenue}
    """, header))
    assert_located(message, 5)
    assert "not a weighted average" in message


def test_weight_not_additive():
    header = "segments: [tier]\nroot: arpu\nweight: w\nnodes:\n"
    message = error_of(tree_text("""
        arpu: {formula: base / users}
        w: {formula: users * users}
        users: {column: active_users}
        base: {column: base_revenue}
    """, header))
    assert_located(message, 6)
    assert "weight 'w' must be additive" in message


def test_weight_may_be_a_sum_of_columns():
    header = "name: t\nroot: arpu\nweight: users\nnodes:\n"
    tree = tree_from_text(tree_text("""
        arpu: {formula: base / users}
        users: {formula: paid + trial}
        paid: {column: paid_users}
        trial: {column: trial_users}
        base: {column: base_revenue}
    """, header), SOURCE)
    assert tree.weight == "users"
    assert tree.count_columns == ("paid_users", "trial_users")


def test_division_by_constant_zero_is_located():
    message = error_of(tree_text("""
        arpu: {formula: base / users / 0}
        users: {column: active_users}
        base: {column: base_revenue}
    """))
    assert_located(message, 6)
    assert "'arpu'" in message


def test_division_by_an_identically_zero_expression_is_a_tree_error():
    error_of(tree_text("""
        arpu: {formula: base / users + base / (users - users)}
        users: {column: active_users}
        base: {column: base_revenue}
    """))


def test_constant_root_is_a_tree_error():
    error_of(tree_text("""
        arpu: {formula: 5}
        users: {column: active_users}
    """))


def test_block_scalar_formula_error_is_one_line():
    error_of(tree_text("""
        arpu:
          formula: |
            base / users +
            * base
        users: {column: active_users}
        base: {column: base_revenue}
    """))


def test_block_scalar_formula_is_accepted():
    tree = tree_from_text(tree_text("""
        arpu:
          formula: >
            base / users
            + usage / users
        users: {column: active_users}
        base: {column: base_revenue}
        usage: {column: usage_revenue}
    """),
    SOURCE)
    expected = kpitree.core.tree.parse_formula("base / users + usage / users")
    assert tree.expressions["arpu"] == expected


# --- load_tree(path) -----------------------------------------------------------------------------


def test_load_tree_locates_errors_in_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(tree_text("""
        arpu: {formula: base / usres}
        users: {column: active_users}
        base: {column: base_revenue}
    """), encoding="utf-8")
    with pytest.raises(TreeError) as info:
        load_tree(path)
    assert str(info.value).startswith(f"{path}:6:")


def test_load_tree_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(TreeError, match="not found") as info:
        load_tree(path)
    assert str(path) in str(info.value)


def test_load_tree_empty_file(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(TreeError, match="empty") as info:
        load_tree(path)
    assert str(path) in str(info.value)


def test_load_tree_not_utf8(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(TreeError, match="UTF-8") as info:
        load_tree(path)
    assert str(path) in str(info.value)


# --- The bundled tree's driver structure -------------------------------------------------------

SAAS = load_tree(SAAS_TREE)


def test_saas_driver_paths():
    assert [d.path for d in SAAS.drivers] == [
        ("arpu", "base_pu"),
        ("arpu", "addon_pu", "attach"),
        ("arpu", "addon_pu", "addon_per_adopter"),
        ("arpu", "usage_pu"),
    ]
    assert [d.label for d in SAAS.drivers] == [
        "Base / user", "Add-on attach rate", "Add-on revenue / adopter", "Usage / user",
    ]


def test_saas_structure_is_sum_with_a_product():
    structure = SAAS.structure
    assert isinstance(structure, Linear)
    assert structure.path == ("arpu",)
    assert structure.constant == 0.0
    kinds = [(coef, type(part)) for coef, part in structure.terms]
    assert kinds == [(1.0, Driver), (1.0, Product), (1.0, Driver)]
    product = structure.terms[1][1]
    assert product.path == ("arpu", "addon_pu")
    assert [e for e, _ in product.factors] == [1, 1]
    assert [f.path[-1] for _, f in product.factors] == ["attach", "addon_per_adopter"]


def test_saas_all_bundled_trees_load():
    for name in ("saas_arpu", "arppu", "arpa_seats"):
        tree = load_tree(ROOT / "trees" / f"{name}.yaml")
        assert tree.name == name
        assert tree.drivers


def test_design_sugar_ratio_of_named_sum():
    tree = tree_from_text(tree_text("""
        arpu: {formula: revenue / users}
        revenue: {formula: base + addon + usage}
        users: {column: active_users}
        base: {column: base_revenue}
        addon: {column: addon_revenue}
        usage: {column: usage_revenue}
    """), SOURCE)
    assert [d.path for d in tree.drivers] == [
        ("arpu", "revenue", "base"),
        ("arpu", "revenue", "addon"),
        ("arpu", "revenue", "usage"),
    ]
    assert all(d.expr == kpitree.core.tree.parse_formula(f"{d.path[-1]} / users")
               for d in tree.drivers)


def test_design_sugar_with_a_subtraction_keeps_the_sign():
    tree = tree_from_text(tree_text("""
        arpu: {formula: revenue / users}
        revenue: {formula: gross - refunds}
        users: {column: active_users}
        gross: {column: gross_revenue}
        refunds: {column: refunds}
    """), SOURCE)
    assert [d.path for d in tree.drivers] == [
        ("arpu", "revenue", "gross"), ("arpu", "revenue", "refunds"),
    ]
    assert [coef for coef, _ in tree.structure.terms] == [1.0, -1.0]


def test_inline_sum_over_users_distributes():
    tree = tree_from_text(tree_text("""
        arpu: {formula: (base + addon) / users}
        users: {column: active_users}
        base: {column: base_revenue}
        addon: {column: addon_revenue}
    """), SOURCE)
    assert isinstance(tree.structure, Linear)
    assert len(tree.drivers) == 2
    assert [d.path[-1] for d in tree.drivers] == ["base", "addon"]
    assert all(d.path[0] == "arpu" for d in tree.drivers)
    assert [references_of(d) for d in tree.drivers] == [
        ["base", "users"], ["addon", "users"],
    ]


def references_of(driver: Driver) -> list[str]:
    return kpitree.core.expr.references(driver.expr)


def test_three_factor_product():
    header = "name: t\nroot: arpa\nweight: accounts\nnodes:\n"
    tree = tree_from_text(tree_text("""
        arpa: {formula: seats_pa * price * realisation}
        seats_pa: {formula: seats / accounts}
        price: {formula: list_revenue / seats}
        realisation: {formula: revenue / list_revenue}
        accounts: {column: accounts}
        seats: {column: seats}
        list_revenue: {column: list_revenue}
        revenue: {column: revenue}
    """, header), SOURCE)
    assert isinstance(tree.structure, Product)
    assert len(tree.structure.factors) == 3
    assert [e for e, _ in tree.structure.factors] == [1, 1, 1]
    assert [d.path for d in tree.drivers] == [
        ("arpa", "seats_pa"), ("arpa", "price"), ("arpa", "realisation"),
    ]


def test_bundled_arpa_is_a_two_factor_product():
    tree = load_tree(ROOT / "trees" / "arpa_seats.yaml")
    assert isinstance(tree.structure, Product)
    assert [f.path for _, f in tree.structure.factors] == [
        ("arpa", "seats_per_account"), ("arpa", "price_per_seat"),
    ]


# --- Graph, order, count columns ---------------------------------------------------------------


def test_graph_is_a_digraph_from_formula_to_inputs():
    graph = SAAS.graph
    assert isinstance(graph, nx.DiGraph)
    assert set(graph.nodes) == set(SAAS.nodes)
    assert set(graph.edges) == {
        ("arpu", "base_pu"), ("arpu", "addon_pu"), ("arpu", "usage_pu"),
        ("base_pu", "base"), ("base_pu", "users"),
        ("addon_pu", "attach"), ("addon_pu", "addon_per_adopter"),
        ("attach", "addon_users"), ("attach", "users"),
        ("addon_per_adopter", "addon"), ("addon_per_adopter", "addon_users"),
        ("usage_pu", "usage"), ("usage_pu", "users"),
    }
    assert nx.is_directed_acyclic_graph(graph)
    assert graph.nodes["users"]["kind"] == "column"
    assert graph.nodes["users"]["column"] == "active_users"
    assert graph.nodes["base_pu"]["kind"] == "formula"
    assert graph.nodes["base_pu"]["formula"] == "base / users"
    # Column nodes have no inputs.
    assert all(graph.out_degree(n) == 0 for n in SAAS.columns)


def test_order_puts_inputs_first():
    order = SAAS.order
    assert sorted(order) == sorted(SAAS.nodes)
    position = {name: i for i, name in enumerate(order)}
    for user, used in SAAS.graph.edges:
        assert position[used] < position[user], (used, user)
    assert order[-1] == "arpu"


def test_order_is_stable_whatever_the_file_order():
    text = SAAS_TREE.read_text(encoding="utf-8")
    head, nodes = text.split("nodes:\n")
    reversed_text = head + "nodes:\n" + "\n".join(reversed(nodes.strip("\n").splitlines())) + "\n"
    shuffled = tree_from_text(reversed_text, "reversed.yaml")
    assert [n.name for n in shuffled.spec.nodes] != [n.name for n in SAAS.spec.nodes]
    assert shuffled.order == SAAS.order
    assert load_tree(SAAS_TREE).order == SAAS.order


def test_count_columns():
    # The weight's column and every column used as a denominator; not revenue columns.
    assert SAAS.count_columns == ("active_users", "addon_users")
    arppu = load_tree(ROOT / "trees" / "arppu.yaml")
    assert arppu.count_columns == ("active_users", "paying_users")
    arpa = load_tree(ROOT / "trees" / "arpa_seats.yaml")
    assert arpa.count_columns == ("accounts", "seats")
