"""Making text from the user's files safe for each kind of output: one function per output kind.

What belongs here: the escaping and sanitising rules that keep data (a label, a segment value, a
tree name, a URL) from becoming live content — Graphviz DOT identifiers, Markdown text and code
spans, CSV cells (formula injection), terminal text (control characters and bidirectional
overrides), file names made from data, and URLs with their credentials. Also the check that a
label holds no control characters, used when a tree file is read. What does not: HTML escaping
(Jinja2's autoescape and :func:`html.escape` do it where HTML is written), where a file is
written (:mod:`kpitree.core.files`), and any formatting of numbers
(:mod:`kpitree.core.formatting`).

Pure standard library: the core, the presentations, the raw sources and the command line all
import it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["CSV_TRIGGERS", "REDACTED", "control_characters", "csv_cell", "csv_safe", "dot_id",
           "markdown", "markdown_code", "redact_url", "redact_urls", "safe_filename",
           "terminal"]

# --- Control characters ------------------------------------------------------------------------

# Bidirectional overrides and isolates ("Trojan source"): they reorder what a terminal shows.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_control(char: str, *, keep: str = "") -> bool:
    """A C0/C1 control character, DEL, or a bidirectional override (``keep`` excepted)."""
    if char in keep:
        return False
    return unicodedata.category(char) == "Cc" or char in _BIDI


def control_characters(text: str) -> list[str]:
    """The control characters in ``text``, each shown escaped (``\\x1b``), in order of first use.

    Example:
        >>> control_characters("ok\\x1b]0;pwn\\x07")
        ['\\\\x1b', '\\\\x07']
        >>> control_characters("ARPU / user")
        []
    """
    found: list[str] = []
    for char in text:
        shown = _escaped(char)
        if _is_control(char) and shown not in found:
            found.append(shown)
    return found


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str) -> str:
    """``text`` safe to print on a terminal: control characters shown as ``\\x1b``, ``\\u202e``.

    Newlines and tabs are kept (tables and messages use them); every other C0/C1 control
    character, DEL and the bidirectional overrides are replaced by their escaped form, so a
    segment value cannot set the window title, clear the screen or reorder a line.

    Example:
        >>> terminal("pro\\x1b[2J\\n")
        'pro\\\\x1b[2J\\n'
    """
    if text.isprintable():
        return text
    return "".join(_escaped(c) if _is_control(c, keep="\n\t") else c for c in text)


# --- Graphviz DOT ------------------------------------------------------------------------------

# Characters that may end a DOT quoted string, start an HTML-like string, separate a port or an
# attribute list, or break a line: percent-encoded in identifiers.
_DOT_UNSAFE = frozenset('%:"\\<>{}[];=\n\r')


def dot_id(text: str) -> str:
    """``text`` as a DOT node or graph identifier that can only ever be one quoted name.

    ``%``, ``:`` (a port separator), quotes, backslashes, ``<`` ``>`` (which would make it an
    HTML-like string), braces, brackets, ``;`` and every character that is not printable
    (control characters, line separators) are percent-encoded,
    so the identifier can never close its quotes, start an attribute list or become markup.
    ``=`` is kept only between segment keys made by the caller (see
    :func:`kpitree.present.tree_view.segment_key`), so it is encoded here too when it comes from
    data.

    Example:
        >>> dot_id('<x> { pwn [URL="javascript:alert(1)"] }')
        '%3Cx%3E %7B pwn %5BURL%3D%22javascript%3Aalert(1)%22%5D %7D'
    """
    return "".join(f"%{ord(c):02X}" if c in _DOT_UNSAFE or not (c.isprintable() or c == " ")
                   else c for c in str(text))


# --- Markdown ----------------------------------------------------------------------------------

# Inline Markdown syntax (emphasis, code, links, images, tables, strikethrough) and raw HTML.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# A block marker at the start of a value: heading, list item, numbered item (space after it).
_MARKDOWN_LINE_START = re.compile(r"^(\s*)([#+\-]|\d+)([.)]?)(?=\s|$)")


def markdown(text: object) -> str:
    """``text`` as literal Markdown text: no emphasis, link, image, table cell break or HTML.

    ``\\ ` * _ [ ] | ~`` are backslash-escaped, ``& < >`` become HTML entities (so ``<img
    onerror=…>`` shows as text), line breaks become spaces (a cell stays in its row) and a
    leading ``#``, ``-``, ``+`` or list number followed by a space is escaped. Control
    characters are shown escaped.

    Example:
        >>> markdown('<img src=x onerror=alert(1)> | [a](javascript:x)')
        '&lt;img src=x onerror=alert(1)&gt; \\\\| \\\\[a\\\\](javascript:x)'
    """
    # "&" only where it would start an entity ("&lt;"), so "FP&A" stays as written.
    value = re.sub(r"&(?=#?\w+;)", "&amp;", str(text)).replace("<", "&lt;").replace(">", "&gt;")
    value = " ".join(value.splitlines()) if ("\n" in value or "\r" in value) else value
    value = _MARKDOWN_SPECIAL.sub(r"\\\1", terminal(value).replace("\t", " "))
    return _MARKDOWN_LINE_START.sub(_line_start, value)


def _line_start(match: re.Match[str]) -> str:
    r"""Escape a block marker: ``\#``, ``\-``, ``\+`` or ``1\.`` (CommonMark escapes
    punctuation only, so a list number keeps its digits and loses its dot)."""
    space, marker, dot = match.groups()
    if marker.isdigit():
        return f"{space}{marker}\\{dot}" if dot else match.group(0)
    return f"{space}\\{marker}{dot}"


def markdown_code(text: object) -> str:
    """``text`` as a Markdown code span, whatever backticks it holds (CommonMark §6.1)."""
    value = terminal(" ".join(str(text).splitlines())).replace("\t", " ")
    runs = [len(run) for run in re.findall(r"`+", value)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value.strip() else ""
    return f"{fence}{pad}{value}{pad}{fence}"


# --- CSV ---------------------------------------------------------------------------------------

CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet cannot run as a formula (OWASP CSV injection).

    Text starting with ``= + - @``, a tab or a carriage return gets a leading ``'``; plain
    numbers written as text (``-12.5``) and values that are not text are returned unchanged,
    so numbers stay numbers.

    Example:
        >>> csv_cell("+cmd|' /C calc'!A0"), csv_cell("-12.5"), csv_cell(-3.0), csv_cell("pro")
        ("'+cmd|' /C calc'!A0", '-12.5', -3.0, 'pro')
    """
    if not isinstance(value, str) or not value.startswith(CSV_TRIGGERS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_safe(frame: Any) -> Any:
    """A copy of a pandas DataFrame whose text cells and headers pass through :func:`csv_cell`.

    Numeric columns are left as they are. (Duck-typed, so this module needs no pandas.)
    """
    safe = frame.copy()
    safe.columns = [csv_cell(str(column)) for column in safe.columns]
    for position, dtype in enumerate(safe.dtypes):
        if getattr(dtype, "kind", "O") in "OSU" or str(dtype) == "string":
            safe.isetitem(position, safe.iloc[:, position].map(csv_cell))
    return safe


# --- File names --------------------------------------------------------------------------------

_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_FILENAME = 120


def safe_filename(text: object, *, default: str = "kpitree") -> str:
    """A file name piece made from data: letters, digits, ``.``, ``_`` and ``-`` only.

    Separators (``/``, ``\\``), ``..``, spaces and anything else become ``_``; a leading dot or
    dash is dropped (no hidden files, no option-looking names); the result is at most
    :data:`MAX_FILENAME` characters and never empty (``default``).

    Example:
        >>> safe_filename("../../etc/x"), safe_filename("2026/10"), safe_filename("")
        ('etc_x', '2026_10', 'kpitree')
    """
    value = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    value = _FILENAME_UNSAFE.sub("_", value).replace("..", "_")
    value = re.sub(r"_+", "_", value).strip("._-")
    return value[:MAX_FILENAME] or default


# --- URLs --------------------------------------------------------------------------------------

REDACTED = "***"
_SECRET_KEYS = re.compile(r"pass|pwd|secret|token|key|auth|credential|signature|sig$",
                          re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """``url`` with its password and secret query parameters replaced by ``***``.

    The user name, host, port, path and the other parameters are kept, so a message still says
    which database was meant.

    Example:
        >>> redact_url("postgresql://ann:s3cret@db:5432/x?sslmode=require&password=p")
        'postgresql://ann:***@db:5432/x?sslmode=require&password=***'
        >>> redact_url("mysql://db/x?token=abc&user=bo")
        'mysql://db/x?token=***&user=bo'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        credentials, host = netloc.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in credentials else \
            f"{REDACTED}@{host}" if _SECRET_KEYS.search(user) else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if _SECRET_KEYS.search(k) else v) for k, v in pairs],
                          safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_urls(text: str) -> str:
    """Every URL inside ``text`` (an error message, a description) passed through
    :func:`redact_url`."""
    def redacted(match: re.Match[str]) -> str:
        url = match.group(0)
        stripped = url.rstrip(".,:;)!?")  # punctuation after a URL is the sentence's
        return redact_url(stripped) + url[len(stripped):]

    return _URL_IN_TEXT.sub(redacted, text)
