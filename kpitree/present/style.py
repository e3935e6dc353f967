"""How every picture kpitree draws looks and is saved: palette, fonts, formats, stable bytes.

What belongs here: the colours (green raises the root, red lowers it, grey for totals and
near-zero), the fonts and text sizes, the image formats and how a path's suffix picks one, and
the one deterministic way to turn a drawing — a matplotlib figure or a Graphviz graph — into
bytes and write them. The tree image, the bridges and the charts all take these from here, so
a colour or a format changes in one place. What does not: what a picture shows or where its
boxes and bars go (see :mod:`kpitree.present.tree_image`, :mod:`kpitree.present.waterfall`,
:mod:`kpitree.present.charts`), and any number formatting (:mod:`kpitree.core.formatting`).

Graphviz and matplotlib are imported only inside the functions that need them
(:func:`new_figure`, :func:`image_bytes`), through :func:`kpitree.core.optional.require`, so
importing this module loads neither.

Reproducible bytes: PNGs carry no software stamp; SVG ids are salted with a fixed string and
SVGs carry no date; PDFs carry no creation date (matplotlib leaves it out, and the date Cairo
stamps into Graphviz PDFs is fixed to the Unix epoch, keeping its length so offsets stay valid).
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.core.errors import RenderError, WriteError
from kpitree.core.files import write_bytes
from kpitree.core.optional import require

if TYPE_CHECKING:
    import graphviz
    from matplotlib.figure import Figure

__all__ = ["DOT_MISSING", "DOWN_FILL", "DPI", "EDGE_COLOUR", "FALLBACK_FONTS", "FONT", "FORMATS",
           "GRID",
           "GROUP_TINT", "HEADING_SIZE", "INK", "LIGHT_GRID", "MIX_COLOUR", "MIX_TINT", "MUTED",
           "NEAR_ZERO", "NEGATIVE", "NEGATIVE_BORDER", "NEUTRAL_BORDER", "NEUTRAL_FILL",
           "POSITIVE", "POSITIVE_BORDER", "RATE_COLOUR", "RATE_TINT", "SEPARATOR",
           "SERIES_COLOURS", "STATUS_COLOUR", "TEXT_SIZE", "TITLE_SIZE", "TOTAL_BORDER",
           "TOTAL_FILL", "UP_FILL", "bar_colours", "fill_colours", "hex_colour",
           "image_bytes", "image_format", "new_figure", "save_image", "use_font_fallback"]

# --- Palette -----------------------------------------------------------------------------------

# Fills run from white to these colours (light enough for black text); borders are darker.
POSITIVE = ((255, 255, 255), (120, 198, 121))  # ColorBrewer RdYlGn greens
NEGATIVE = ((255, 255, 255), (244, 133, 106))
POSITIVE_BORDER = "#1a9850"
NEGATIVE_BORDER = "#d73027"
NEUTRAL_FILL = "#f2f2f2"
NEUTRAL_BORDER = "#9e9e9e"
MUTED = "#555555"  # secondary text: notes, legends, axis ticks
INK = "#222222"  # figures printed on a chart
STATUS_COLOUR = "#2c5aa0"  # the "NEW in …" / "gone in …" badges
EDGE_COLOUR = "#a0a0a0"  # the tree's edges
NEAR_ZERO = 1e-3  # a contribution within this fraction of the largest is drawn grey

TOTAL_FILL = "#bdbdbd"  # the base and compare bars of a bridge
TOTAL_BORDER = "#757575"
GROUP_TINT = "#f7f7f7"  # the backgrounds of a bridge's groups of bars
MIX_TINT = "#f4f6fa"
RATE_TINT = "#faf8f2"
SEPARATOR = "#d0d0d0"
GRID = "#e6e6e6"
LIGHT_GRID = "#eeeeee"

MIX_COLOUR, RATE_COLOUR = "#2c5aa0", "#e6a100"  # mix and rate lines and stacks of the charts
SERIES_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#666666")


def hex_colour(rgb: tuple[int, int, int]) -> str:
    """``(120, 198, 121)`` → ``#78c679``."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


UP_FILL, DOWN_FILL = hex_colour(POSITIVE[1]), hex_colour(NEGATIVE[1])


def bar_colours(value: float) -> tuple[str, str]:
    """The (fill, border) of a bar that raises (``value >= 0``) or lowers the root."""
    return (UP_FILL, POSITIVE_BORDER) if value >= 0 else (DOWN_FILL, NEGATIVE_BORDER)


def fill_colours(value: float, scale: float) -> tuple[str, str]:
    """The (fill, border) of a tree box contributing ``value`` when the largest is ``scale``.

    Grey when the contribution is about zero (within :data:`NEAR_ZERO` of ``scale``); otherwise
    green or red of strength ``sqrt(|value| / scale)``, from white to the full colour.
    """
    if scale <= 0 or not math.isfinite(value) or abs(value) <= NEAR_ZERO * scale:
        return NEUTRAL_FILL, NEUTRAL_BORDER
    strength = min(1.0, math.sqrt(abs(value) / scale))
    (low, high), border = (POSITIVE, POSITIVE_BORDER) if value > 0 else (NEGATIVE, NEGATIVE_BORDER)
    fill = tuple(round(a + (b - a) * strength) for a, b in zip(low, high, strict=True))
    return hex_colour(fill), border  # type: ignore[arg-type]


# --- Fonts -------------------------------------------------------------------------------------

FONT = "Helvetica"  # the tree image's face (matplotlib keeps its default, DejaVu Sans)
# Faces matplotlib falls back to, in order, for a glyph its default lacks (CJK segment names):
# the first installed ones are added after the default sans-serif faces (Graphviz's own
# fontconfig falls back by itself). fonts-noto-cjk on Debian/Ubuntu.
FALLBACK_FONTS = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK KR",
                  "Noto Sans", "Droid Sans Fallback", "WenQuanYi Zen Hei", "Arial Unicode MS")
# Text sizes (points) of the bridges: figures and labels, group titles, the figure title.
TEXT_SIZE = 8.5
HEADING_SIZE = 9
TITLE_SIZE = 12

# --- Formats and saving ------------------------------------------------------------------------

FORMATS = ("png", "svg", "pdf")
DPI = 150  # matplotlib figures; the tree's PNG uses Graphviz's 96 unless a dpi is asked for
DOT_MISSING = (
    "Graphviz's 'dot' is not installed: apt-get install graphviz (Debian/Ubuntu) "
    "or brew install graphviz (macOS)"
)


def image_format(
    path: str | Path | None, format: str | None, *, default: str = "svg", what: str = "image"
) -> str:
    """The output format from ``format`` or the path's suffix (they must agree).

    Shared by every image kpitree writes: the tree, the bridge and the charts.

    Raises:
        RenderError: an unknown format, a suffix that is not one, or the two disagreeing.
    """
    allowed = ", ".join(FORMATS)
    suffix = Path(path).suffix.lower().lstrip(".") if path is not None else ""
    if format is not None:
        fmt = format.lower().lstrip(".")
        if fmt not in FORMATS:
            raise RenderError(f"cannot write the {what} as '{format}'; formats: {allowed}")
        if suffix and suffix != fmt:
            raise RenderError(f"{path} ends in .{suffix} but format '{format}' was asked for; "
                              "make them agree")
        return fmt
    if path is None:
        return default
    if suffix not in FORMATS:
        raise RenderError(f"cannot tell the image format of {path}: use a .png, .svg or .pdf "
                          f"file, or pass format= ({allowed})")
    return suffix


def use_font_fallback() -> None:
    """Let matplotlib draw any segment name: the installed :data:`FALLBACK_FONTS` are added
    after the font families in use (once; text the first family can draw is unchanged —
    matplotlib falls back glyph by glyph along ``font.family``), so CJK names render instead
    of boxes and glyph warnings."""
    matplotlib = require("matplotlib", purpose="charts")
    font_manager = require("matplotlib.font_manager", purpose="charts")
    families = list(matplotlib.rcParams["font.family"])
    installed = {font.name for font in font_manager.fontManager.ttflist}
    extra = [name for name in FALLBACK_FONTS if name in installed and name not in families]
    if extra:
        matplotlib.rcParams["font.family"] = [*families, *extra]


def new_figure(width: float, height: float) -> Figure:
    """A headless matplotlib figure (no pyplot state, no GUI backend), constrained layout."""
    use_font_fallback()
    figure_module = require("matplotlib.figure", purpose="charts")
    return figure_module.Figure(figsize=(width, height), layout="constrained")


def image_bytes(picture: Figure | graphviz.Digraph, fmt: str) -> bytes:
    """The bytes of a matplotlib figure or a Graphviz graph in ``fmt``, the same every time.

    Raises:
        RenderError: Graphviz's ``dot`` is not installed or fails.
    """
    if hasattr(picture, "savefig"):
        return _figure_bytes(picture, fmt)
    return _graphviz_bytes(picture, fmt)


def save_image(picture: Figure | graphviz.Digraph, path: str | Path | None, fmt: str) -> bytes:
    """:func:`image_bytes`, written to ``path`` when one is given; returns the bytes.

    Raises:
        RenderError: see :func:`image_bytes`; ``path`` not writable.
    """
    data = image_bytes(picture, fmt)
    if path is not None:
        try:
            # The folder named in the path is made if missing (``render("out/tree.svg")``).
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RenderError(f"cannot make the folder for {path}: "
                              f"{exc.strerror or exc}") from None
        try:
            write_bytes(path, data)  # atomic: a failed write leaves the old image as it was
        except WriteError as exc:
            raise RenderError(str(exc)) from exc
    return data


def _figure_bytes(figure: Any, fmt: str) -> bytes:
    matplotlib = require("matplotlib", purpose="charts")
    metadata: dict[str, Any] = {
        "png": {"Software": None},
        "svg": {"Date": None},
        "pdf": {"CreationDate": None, "ModDate": None},
    }[fmt]
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "kpitree", "svg.fonttype": "path",
                                "pdf.fonttype": 42}):
        figure.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata, facecolor="white")
    return buffer.getvalue()


def _graphviz_bytes(graph: Any, fmt: str) -> bytes:
    graphviz = require("graphviz", purpose="the tree image")
    try:
        data = graphviz.pipe("dot", fmt, graph.source.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound:
        raise RenderError(DOT_MISSING) from None
    except graphviz.CalledProcessError as exc:
        stderr = (exc.stderr or b"").decode("utf-8", "replace").strip()
        raise RenderError(f"Graphviz's dot failed to draw the {fmt} image: {stderr}") from exc
    return _fixed_creation_date(data) if fmt == "pdf" else data


_CREATION_DATE = re.compile(rb"/CreationDate \((D:[^)]*)\)")


def _fixed_creation_date(pdf: bytes) -> bytes:
    """Cairo stamps PDFs with the time; fix it (same length, so offsets stay valid)."""
    def fixed(match: re.Match[bytes]) -> bytes:
        stamp = match.group(1)
        epoch = b"D:19700101000000Z"
        if len(stamp) != len(epoch):
            return match.group(0)
        return b"/CreationDate (" + epoch + b")"

    return _CREATION_DATE.sub(fixed, pdf)
