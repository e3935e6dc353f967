"""Unit tests of the formula parser and its numeric semantics (kpitree.core.expr)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from kpitree.core.errors import FormulaError, TreeError
from kpitree.core.expr import (
    BinOp,
    Const,
    Neg,
    Ref,
    ZeroDenominator,
    evaluate,
    parse_formula,
    references,
    safe_divide,
    safe_multiply,
    to_text,
)

a, b, c, d = Ref("a"), Ref("b"), Ref("c"), Ref("d")


# --- Parsing: precedence, associativity, unary minus, parentheses ------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a + b * c", BinOp("+", a, BinOp("*", b, c))),
        ("a * b + c", BinOp("+", BinOp("*", a, b), c)),
        ("a - b / c", BinOp("-", a, BinOp("/", b, c))),
        ("a / b * c", BinOp("*", BinOp("/", a, b), c)),  # left-associative
        ("a - b - c", BinOp("-", BinOp("-", a, b), c)),  # left-associative
        ("a / b / c", BinOp("/", BinOp("/", a, b), c)),
        ("(a + b) * c", BinOp("*", BinOp("+", a, b), c)),
        ("a * (b + c)", BinOp("*", a, BinOp("+", b, c))),
        ("a - (b - c)", BinOp("-", a, BinOp("-", b, c))),
        ("((a))", a),
        ("-a", Neg(a)),
        ("-a * b", BinOp("*", Neg(a), b)),
        ("-(a * b)", Neg(BinOp("*", a, b))),
        ("a * -b", BinOp("*", a, Neg(b))),
        ("a - -b", BinOp("-", a, Neg(b))),
        ("--a", Neg(Neg(a))),
        ("+a", a),
        ("a+b*c-d", BinOp("-", BinOp("+", a, BinOp("*", b, c)), d)),
        ("  a\t+\nb  ", BinOp("+", a, b)),
        ("base_pu + addon_pu2", BinOp("+", Ref("base_pu"), Ref("addon_pu2"))),
        ("_x / y_", BinOp("/", Ref("_x"), Ref("y_"))),
    ],
)
def test_precedence_and_structure(text, expected):
    assert parse_formula(text) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", 12.0),
        ("1e3", 1000.0),
        ("1E3", 1000.0),
        ("2.5e-2", 0.025),
        ("1e+2", 100.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("0.125", 0.125),
        ("007", 7.0),
    ],
)
def test_numeric_constants(text, value):
    expr = parse_formula(text)
    assert expr == Const(value)
    assert isinstance(expr.value, float)


def test_constant_in_context():
    assert parse_formula("12 * mrr_pu") == BinOp("*", Const(12.0), Ref("mrr_pu"))
    assert parse_formula(".5*a+1e3") == BinOp(
        "+", BinOp("*", Const(0.5), a), Const(1000.0)
    )
    # A name may contain digits but cannot start with one: "2a" is a number then a name.
    with pytest.raises(FormulaError, match="column 2"):
        parse_formula("2a")


# --- references() -------------------------------------------------------------------------------


def test_references_first_appearance_order_without_repeats():
    expr = parse_formula("(users * b - a) / users + a * 2 + c")
    assert references(expr) == ["users", "b", "a", "c"]


def test_references_of_constants_and_negation():
    assert references(parse_formula("3 * 4")) == []
    assert references(parse_formula("-x")) == ["x"]


# --- to_text() round trip -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a + b * c",
        "(a + b) * c",
        "a - (b - c)",
        "a - (b + c)",
        "(a - b) - c",
        "a / (b / c)",
        "a / (b * c)",
        "(a / b) * c",
        "-(a + b)",
        "-(a * b)",
        "-a * b",
        "--a",
        "a * -b",
        "a - -b",
        "-(-a - b) / (c + d)",
        "12 * mrr_pu",
        ".5 * a + 1e3",
        "0.125 / x",
        "1e-7 * a",
        "(base + addon + usage) / users",
        "attach * addon_per_adopter",
    ],
)
def test_to_text_round_trip(text):
    expr = parse_formula(text)
    rendered = to_text(expr)
    assert parse_formula(rendered) == expr
    assert to_text(parse_formula(rendered)) == rendered  # a fixed point


def test_to_text_is_compact_and_drops_redundant_parentheses():
    assert to_text(parse_formula("((a)+((b*c)))")) == "a + b * c"
    assert to_text(parse_formula("(a*b)/c")) == "a * b / c"
    assert to_text(parse_formula("1e3*a")) == "1000 * a"


@pytest.mark.parametrize("text", ["a * (b / c)", "a * (b * c)", "a + (b - c)", "a + (b + c)"])
def test_to_text_round_trip_right_nested(text):
    expr = parse_formula(text)
    assert parse_formula(to_text(expr)) == expr


def test_right_nesting_matters_under_zero_times_undefined():
    zeros = {name: np.array([0.0]) for name in "abc"}
    assert evaluate(parse_formula("a * (b / c)"), zeros)[0] == 0.0
    assert np.isnan(evaluate(parse_formula("(a * b) / c"), zeros)[0])


@pytest.mark.parametrize("text", ["1234567 * a", "0.3333333333 * x", "3.14159265 * r"])
def test_to_text_round_trip_keeps_constant_precision(text):
    expr = parse_formula(text)
    assert parse_formula(to_text(expr)) == expr


# --- Errors carry the 1-based column ------------------------------------------------------------


def _column(message: str) -> int:
    match = re.search(r"column (\d+)", message)
    assert match, f"no column in {message!r}"
    return int(match.group(1))


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("base_pu + * addon", 11, "unexpected '*'"),
        ("a +", 4, "ends unexpectedly"),
        ("(a + b", 1, "missing ')'"),
        ("a + b)", 6, "unexpected ')'"),
        ("a b", 3, "unexpected 'b'"),
        ("a ** b", 4, "unexpected '*'"),
        ("f(x)", 1, "function calls are not allowed"),
        ("base / users + __import__(base)", 16, "function calls are not allowed"),
        ("(a)(b)", 4, "function calls are not allowed"),
        ("users.__class__", 6, "attribute access is not allowed"),
        ("base[0] / users", 5, "indexing is not allowed"),
        ("a ^ 2", 3, "no powers"),
        ("a % b", 3, "only + - * /"),
        ("'x'", 1, "strings are not allowed"),
        ("a, b", 2, "not allowed"),
        ("a == b", 3, "not allowed"),
        ("a $ b", 3, "unexpected '$'"),
    ],
)
def test_errors_name_the_column(text, column, words):
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    message = str(info.value)
    assert _column(message) == column
    assert words in message
    assert "\n" not in message


def test_import_call_is_refused():
    with pytest.raises(FormulaError) as info:
        parse_formula("__import__('os')")
    assert "function calls are not allowed" in str(info.value)
    assert _column(str(info.value)) == 1


def test_import_call_is_reported_as_a_call():
    with pytest.raises(FormulaError, match="function call"):
        parse_formula("__import__('os')")


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_empty_formula(text):
    with pytest.raises(FormulaError, match="empty"):
        parse_formula(text)


def test_formula_error_is_a_tree_error_and_value_error():
    with pytest.raises(TreeError):
        parse_formula("a +")
    with pytest.raises(ValueError):
        parse_formula("a +")


# --- evaluate(): numeric semantics --------------------------------------------------------------


def test_evaluate_elementwise_arithmetic():
    values = {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([4.0, 5.0, 6.0])}
    np.testing.assert_allclose(
        evaluate(parse_formula("(a + b) * 2 - a / b"), values),
        (values["a"] + values["b"]) * 2 - values["a"] / values["b"],
    )
    np.testing.assert_allclose(evaluate(parse_formula("-a"), values), [-1.0, -2.0, -3.0])
    assert float(evaluate(parse_formula("1e3 * .5"), {})) == 500.0


def test_zero_over_zero_is_nan_but_x_over_nonzero_is_fine():
    values = {"a": np.array([1.0, 0.0, 0.0]), "b": np.array([2.0, 0.0, 5.0])}
    result = evaluate(parse_formula("a / b"), values)
    assert result[0] == 0.5
    assert np.isnan(result[1])
    assert result[2] == 0.0


def test_zero_times_undefined_is_zero():
    # attach (0 adopters / users) × revenue per adopter (0/0): no adopters contribute nothing.
    values = {
        "adopters": np.array([0.0, 3.0, 0.0]),
        "users": np.array([10.0, 10.0, 10.0]),
        "addon": np.array([0.0, 30.0, 0.0]),
    }
    result = evaluate(parse_formula("adopters / users * (addon / adopters)"), values)
    np.testing.assert_allclose(result, [0.0, 3.0, 0.0])
    assert not np.isnan(result).any()
    # Either side may be the zero.
    left = safe_multiply(np.array([np.nan, 0.0]), np.array([0.0, np.nan]))
    np.testing.assert_array_equal(left, [0.0, 0.0])


def test_nonzero_times_undefined_stays_undefined():
    result = safe_multiply(np.array([2.0]), np.array([np.nan]))
    assert np.isnan(result[0])


def test_x_over_zero_raises_with_the_offending_mask():
    values = {"a": np.array([1.0, 0.0, 2.0, -3.0]), "b": np.array([0.0, 0.0, 1.0, 0.0])}
    with pytest.raises(ZeroDenominator) as info:
        evaluate(parse_formula("a / b"), values)
    np.testing.assert_array_equal(info.value.mask, [True, False, False, True])
    assert info.value.expr == BinOp("/", a, b)
    assert "a / b" in str(info.value)


def test_zero_denominator_names_the_inner_division():
    values = {
        "x": np.array([1.0, 1.0]),
        "n": np.array([1.0, 2.0]),
        "m": np.array([5.0, 0.0]),
    }
    with pytest.raises(ZeroDenominator) as info:
        evaluate(parse_formula("x / n + n / m"), values)
    assert info.value.expr == BinOp("/", Ref("n"), Ref("m"))
    np.testing.assert_array_equal(info.value.mask, [False, True])


def test_undefined_over_zero_is_not_an_error():
    # NaN numerator over zero: still undefined, not "non-zero over zero".
    result = safe_divide(np.array([np.nan]), np.array([0.0]), BinOp("/", a, b))
    assert np.isnan(result[0])


def test_evaluate_does_not_warn(recwarn):
    values = {"a": np.array([0.0, 1.0]), "b": np.array([0.0, 1.0])}
    evaluate(parse_formula("a / b * (b / a)"), values)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_non_finite_constant_is_refused():
    with pytest.raises(FormulaError, match="column 1"):
        parse_formula("1e999 * a")
