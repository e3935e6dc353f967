"""The escaping rules of kpitree.core.safety, one output kind at a time, and the exit-code policy.

The catalogue in tests/hostile/ checks the promises end to end through the CLI; these tests pin
each rule down on its own, including inputs the catalogue cannot hold in a file.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpitree.cli.errors import EXIT_BAD_INPUT, EXIT_BUG, guarded
from kpitree.core.safety import (
    control_characters,
    csv_cell,
    dot_id,
    markdown,
    markdown_code,
    redact_url,
    redact_urls,
    safe_filename,
    terminal,
)


@given(st.text())
def test_a_dot_id_can_never_leave_its_quotes(text: str) -> None:
    ident = dot_id(text)
    assert not set(ident) & set('"\\<>{}[];:\n\r')
    assert all(c.isprintable() or c == " " for c in ident)


def test_dot_id_keeps_ordinary_names_readable() -> None:
    assert dot_id("rate/tier=pro/addon_pu.attach") == "rate/tier%3Dpro/addon_pu.attach"
    assert dot_id("North America") == "North America"
    assert dot_id("Süd") == "Süd"


@given(st.text())
def test_terminal_text_has_no_control_character_but_newline_and_tab(text: str) -> None:
    shown = terminal(text)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", shown)


def test_control_characters_are_listed_escaped() -> None:
    assert control_characters("a\x1b[2J\u202eb\x1b") == ["\\x1b", "\\u202e"]


@given(st.text())
def test_markdown_text_has_no_raw_tag_pipe_or_line_break(text: str) -> None:
    shown = markdown(text)
    assert "<" not in shown and ">" not in shown and "\n" not in shown
    assert not re.search(r"(?<!\\)\|", shown.replace("\\\\", ""))


def test_markdown_leaves_plain_figures_alone() -> None:
    for plain in ("$51.29", "+$4.13 (+8.1 %)", "0.0 %", "2026-09 → 2026-10", "−$0.96"):
        assert markdown(plain) == plain
    assert markdown("1. first") == "1\\. first"
    assert markdown("- item") == "\\- item"


def test_markdown_code_spans_hold_any_backticks() -> None:
    assert markdown_code("saas_arpu") == "`saas_arpu`"
    assert markdown_code("a`b") == "``a`b``"
    assert markdown_code("`x`") == "`` `x` ``"


def test_csv_cells_that_start_a_formula_are_neutralised_numbers_are_not() -> None:
    for formula in ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(formula) == "'" + formula
    for kept in ("-12.5", "+3", "1e-5", "pro", "", -3.0, 7, None):
        assert csv_cell(kept) == kept


def test_safe_filenames_stay_plain() -> None:
    assert safe_filename("../../etc/passwd") == "etc_passwd"
    assert safe_filename("/tmp/x") == "tmp_x"
    assert safe_filename("..") == "kpitree"
    assert safe_filename(".hidden") == "hidden"
    assert safe_filename("saas_arpu_2025-11_2026-10") == "saas_arpu_2025-11_2026-10"
    assert len(safe_filename("x" * 1000)) <= 120


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://ann:s3cret@db:5432/shop", "postgresql://ann:***@db:5432/shop"),
    ("postgresql://db/shop?password=s3cret&sslmode=require",
     "postgresql://db/shop?password=***&sslmode=require"),
    ("mysql://bob:s3cret@h/db", "mysql://bob:***@h/db"),
    ("snowflake://acct/db?token=s3cret&warehouse=w", "snowflake://acct/db?token=***&warehouse=w"),
    ("duckdb://local.db", "duckdb://local.db"),
    ("postgresql://ann@db/shop", "postgresql://ann@db/shop"),
])
def test_urls_are_shown_without_their_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_urls(f"{url}: cannot connect.") == f"{shown}: cannot connect."


def _run(error: BaseException) -> tuple[int, str]:
    def command() -> int:
        raise error

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = guarded(command)
    return code, stderr.getvalue()


def test_running_out_of_memory_is_one_line_of_bad_input() -> None:
    code, stderr = _run(MemoryError())
    assert code == EXIT_BAD_INPUT
    assert stderr.startswith("kpitree: error: out of memory") and stderr.count("\n") == 1


def test_every_message_is_one_line_with_escapes_and_no_secret() -> None:
    from kpitree.core.errors import DataError

    code, stderr = _run(DataError("postgresql://a:pw@h/x: bad\nsecond line \x1b[2J"))
    assert code == EXIT_BAD_INPUT and stderr.count("\n") == 1
    assert "pw@" not in stderr and "\x1b" not in stderr and "\\x1b[2J" in stderr
    code, stderr = _run(RuntimeError("boom\nmore"))
    assert code == EXIT_BUG and stderr.count("\n") == 1
