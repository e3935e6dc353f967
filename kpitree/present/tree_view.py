"""What the annotated tree image shows: its boxes, their figures, order and folding.

What belongs here: turning an :class:`~kpitree.core.result.Explanation` into the list of
:class:`Node` boxes of the tree image — which box says what (already formatted, as Graphviz
HTML-like fragments), which is whose parent, its contribution to the root's change, the order
of segments and drivers, and the folding of small segments into exactly summed "other" boxes.
What does not: the DOT text, the box styles and running Graphviz
(:mod:`kpitree.present.tree_image`), colours (:mod:`kpitree.present.style`) or any arithmetic
beyond adding up effects already computed.

Order, so that the same explanation always gives the same boxes: segments are sorted by their
mean root value over the two periods (a plan ladder, cheapest first; a segment undefined in one
period uses the other), then by name; inner segments inside an inner-mix box by name, so every
outer segment lists them alike; driver structure in formula order. Box ids are built from the
segment and the node path (``rate/tier=pro/addon_pu.attach``).

Large trees: with more than :data:`MAX_SEGMENTS` segments only the :data:`TOP_SEGMENTS` with
the largest effect get boxes — the largest ``|mix|`` under the mix branch, the largest ``|rate|``
under the rate branch; the others fold into one "other N segments" box per branch whose figures
are exact sums of theirs (no residual). An inner-mix table of more than :data:`MAX_INNER_ROWS`
rows keeps the :data:`TOP_INNER_ROWS` largest inner mix effects and sums the rest.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from kpitree.core.formatting import format_change, format_pct_change, format_value, is_defined
from kpitree.core.safety import dot_id, terminal
from kpitree.present.style import MUTED
from kpitree.present.wording import Numbers, marked, status_word, title_case

if TYPE_CHECKING:
    from kpitree.core.result import Explanation

MAX_SEGMENTS = 12
TOP_SEGMENTS = 10
MAX_INNER_ROWS = 12  # rows of an inner-mix table before the smallest fold into "other N"
TOP_INNER_ROWS = 10

__all__ = ["MAX_INNER_ROWS", "MAX_SEGMENTS", "TOP_INNER_ROWS", "TOP_SEGMENTS", "Node",
           "TreeView", "escape", "identifier", "muted"]


@dataclass(frozen=True)
class Node:
    """One box: its id, its parent's id, what it says, and its contribution to the root."""

    id: str
    parent: str | None
    title: str
    contribution: float
    lines: tuple[str, ...]  # HTML fragments, already formatted and escaped
    status: str = "both"
    note: str | None = None  # a badge, e.g. "NEW in 2026-10"
    role: str = "part"  # root | branch | segment | part | inner
    interval: tuple[float, float] | None = None  # bootstrap interval of the contribution


@dataclass(frozen=True)
class TreeView:
    """The explanation plus the figures of its tree: builds the boxes (:meth:`nodes`)."""

    result: Explanation
    numbers: Numbers

    @classmethod
    def of(cls, result: Explanation) -> TreeView:
        """The view of ``result``."""
        # one number of decimals for the whole image, from its own changes (or decimals:)
        changes = [result.delta, *result.totals.values(), *result.effects["value"]]
        return cls(result, Numbers.for_changes(result.tree, changes))

    @property
    def root_label(self) -> str:
        """The root's label, e.g. ``ARPU``."""
        return self.numbers.root_label

    def nodes(self) -> list[Node]:
        """Every box, each after its parent, siblings in the order they are drawn."""
        result = self.result
        root = Node(
            id="root", parent=None, title=self.root_label, contribution=result.delta,
            lines=_value_lines(result.base.value, result.compare.value, self.numbers.kind,
                               self.numbers.unit, decimals=self.numbers.decimals,
                               periods=(result.base.period, result.compare.period)),
            role="root",
        )
        if not result.by:
            total = _group(result.parts, level=None)
            nodes = [root, *self.structure(total, parent="root", prefix="total", status="both")]
        else:
            nodes = [root, *self.segmented()]
        intervals = self.intervals()
        return [replace(n, interval=intervals.get(n.id)) for n in nodes] if intervals else nodes

    def intervals(self) -> dict[str, tuple[float, float]]:
        """Bootstrap intervals by node id: the change, the totals, each mix and driver effect.

        A segment's rate box has none: an interval of a sum is not the sum of intervals, and
        the bootstrap reports intervals per effect row.
        """
        result = self.result
        if result.intervals is None:
            return {}
        totals = result.intervals.totals
        found = {node: totals[kind] for node, kind in
                 (("root", "delta"), ("mix", "mix"), ("rate", "rate")) if kind in totals}
        bounds = result.intervals.effects
        dim = result.by[0] if result.by else None
        for index, row in result.effects.iterrows():
            interval = (float(bounds.at[index, "low"]), float(bounds.at[index, "high"]))
            if dim is not None and row["kind"] == "mix" and row["level"] == dim:
                found[f"mix/{segment_key({dim: row[dim]})}"] = interval
            elif row["kind"] == "rate" and len(result.by) <= 1:
                prefix = f"rate/{segment_key({dim: row[dim]})}" if dim else "total"
                found[f"{prefix}/{'.'.join(row['path'][1:])}"] = interval
        return found

    def segmented(self) -> list[Node]:
        """The mix, [interaction] and rate branches of a segmented explanation.

        DESIGN.md §4a: the Mix branch holds every level's mix (the outer segments' mix, then,
        with nested dimensions, the inner mix inside each outer segment), the Rate branch only
        the cells' rate effects, so the branches add up to the headline totals.
        """
        result = self.result
        dim = result.by[0]
        nested = len(result.by) > 1
        every = _rows(result.segments, dim)
        # Each branch keeps its own largest contributors (mix and rate rarely share them).
        mix_kept, mix_folded = _fold(_ordered(every), by=("mix",))
        segments, folded = _fold(_ordered(every), by=("rate",))
        weight_label = result.tree.label(result.tree.weight)
        dims_text = " and ".join(result.by)
        nodes = [Node(
            id="mix", parent="root", title="Mix" if nested else f"{title_case(dim)} mix",
            contribution=_sum(s["mix"] + s["inner_mix"] for s in every),
            lines=(muted(f"{weight_label} shifting between {dims_text} segments"),),
            role="branch",
        )]
        if result.method == "sequential":  # between mix and rate: no edge crosses it
            nodes.append(Node(
                id="interaction", parent="root", title="Interaction",
                contribution=_sum(s["interaction"] + s["inner_interaction"] for s in every),
                lines=(muted(f"Δ share × Δ {self.root_label} between {dims_text} segments"),),
                role="branch"))
        inner_name = " × ".join(result.by[1:])
        nodes.append(Node(
            id="rate", parent="root", title=f"Rate within {' × '.join(result.by)}",
            contribution=_sum(s["rate"] for s in every),
            lines=(muted(f"{self.root_label} change inside each {dim}"
                         + (f" at constant {inner_name} mix" if nested else "")),),
            role="branch",
        ))
        mix_parent = "mix"
        if nested:
            nodes.append(Node(
                id="mix/outer", parent="mix", title=f"{title_case(dim)} mix",
                contribution=_sum(s["mix"] for s in every), role="segment",
                lines=(muted(f"{weight_label} shifting between {dim} segments"),)))
            mix_parent = "mix/outer"
        for s in mix_kept:
            key = segment_key(s["segment"])
            status, note = s["status"], self.badge(s["status"])
            nodes.append(Node(
                id=f"mix/{key}", parent=mix_parent, title=str(s["segment"][dim]),
                contribution=s["mix"], status=status, note=note, role="segment",
                lines=_value_lines(s["base_share"], s["compare_share"], "percent", None,
                                   prefix="share "),
            ))
        if mix_folded:
            nodes.append(replace(self.other(mix_folded, branch="mix", dim=dim),
                                 parent=mix_parent))
        if nested:
            nodes.extend(self.inner_branches(every))
        for s in segments:
            key = segment_key(s["segment"])
            status, note = s["status"], self.badge(s["status"])
            rate_id = f"rate/{key}"
            parts = _group(result.parts, level=dim, segment=s["segment"])
            base, compare = s["base_value"], s["compare_value"]
            root_rows = parts[parts["path"].map(tuple) == (result.tree.root,)]
            if nested and len(root_rows):  # the values the rate effect was computed from
                base, compare = root_rows["base"].iloc[0], root_rows["compare"].iloc[0]
            nodes.append(Node(
                id=rate_id, parent="rate", title=str(s["segment"][dim]),
                contribution=s["rate"], status=status, note=note, role="segment",
                lines=_value_lines(base, compare, self.numbers.kind, self.numbers.unit,
                                   prefix=f"{self.root_label} ",
                                   decimals=self.numbers.decimals),
            ))
            nodes.extend(self.structure(parts, parent=rate_id, prefix=rate_id, status=status))
        if folded:
            nodes.append(self.other(folded, branch="rate", dim=dim))
        return nodes

    def inner_branches(self, every: list[dict]) -> list[Node]:
        """Under Mix (and Interaction): the inner levels' mix inside each outer segment."""
        result = self.result
        dim, inner_name = result.by[0], " × ".join(result.by[1:])
        nodes = [Node(
            id="mix/inner", parent="mix", title=f"{title_case(inner_name)} mix within {dim}",
            contribution=_sum(s["inner_mix"] for s in every), role="segment",
            lines=(muted(f"{result.tree.label(result.tree.weight)} shifting between "
                         f"{inner_name} segments inside each {dim}"),))]
        for s in _ordered(every):
            key = segment_key(s["segment"])
            nodes.extend(self.inner(s["segment"], parent="mix/inner", key=key,
                                    status=s["status"]))
        return nodes

    def other(self, folded: list[dict], *, branch: str, dim: str) -> Node:
        """The box standing for the folded segments of a branch: exact sums, no children."""
        result = self.result
        counts = {status: sum(s["status"] == status for s in folded)
                  for status in ("entered", "exited")}
        badges = ", ".join(f"{count} {status_word(status)}" for status, count in counts.items()
                           if count)
        if branch == "mix":
            lines = _value_lines(_sum(s["base_share"] for s in folded),
                                 _sum(s["compare_share"] for s in folded), "percent", None,
                                 prefix="share ")
            contribution = _sum(s["mix"] for s in folded)
        else:
            weight = result.tree.label(result.tree.weight)
            lines = (muted(f"{weight} {_weight(folded, 'base')} → "
                           f"{_weight(folded, 'compare')}"),
                     muted("smaller contributors, summed exactly"))
            contribution = _sum(s["rate"] for s in folded)
        return Node(id=f"{branch}/other", parent=branch,
                    title=f"other {len(folded)} {dim} segments", contribution=contribution,
                    lines=lines, note=badges or None, role="segment")

    def inner(self, segment: Mapping[str, Any], *, parent: str, key: str,
              status: str) -> list[Node]:
        """The inner-mix (and for sequential, inner-interaction) box of an outer segment."""
        result = self.result
        inner_dims = result.by[1:]
        deeper = [s for level in inner_dims for s in _rows(result.segments, level)
                  if _within(s["segment"], segment)]
        name = " × ".join(inner_dims)
        outer = ", ".join(str(value) for value in segment.values())
        lines: tuple[str, ...] = ()
        if len(inner_dims) == 1:
            lines = (self.inner_table(sorted(
                (s for s in deeper if s["status"] != "empty"),
                key=lambda s: str(s["segment"][inner_dims[0]])), inner_dims[0]),)
        nodes = [Node(id=f"inner-mix/{key}", parent=parent,
                      title=f"{outer}: {' × '.join(inner_dims)} mix",
                      contribution=_sum(s["mix"] for s in deeper), lines=lines,
                      status=status, role="inner")]
        if result.method == "sequential":
            nodes.append(Node(
                id=f"inner-interaction/{key}", parent="interaction",
                title=f"{outer}: {name} interaction",
                contribution=_sum(s["interaction"] for s in deeper),
                lines=(muted(f"Δ share × Δ {self.root_label} within {outer}"),),
                status=status, role="inner"))
        return nodes

    def inner_table(self, rows: list[dict], dim: str) -> str:
        """A small table of inner segments: name, share base → compare, mix effect."""
        cells = []
        shown, folded = _fold(rows, limit=MAX_INNER_ROWS, keep=TOP_INNER_ROWS, by=("mix",))
        if folded:
            rows = [s for s in rows if any(s is k for k in shown)]
            rows.append({"segment": {dim: f"other {len(folded)}"}, "status": "both",
                         "base_share": _sum(s["base_share"] for s in folded),
                         "compare_share": _sum(s["compare_share"] for s in folded),
                         "mix": _sum(s["mix"] for s in folded)})
        for s in rows:
            share = (f"{format_value(s['base_share'], 'percent')} → "
                     f"{format_value(s['compare_share'], 'percent')}")
            cells.append(
                f'<TR><TD ALIGN="LEFT">{escape(marked(str(s["segment"][dim]), s["status"]))}'
                f'</TD><TD WIDTH="8"></TD><TD ALIGN="RIGHT">{escape(share)}</TD>'
                f'<TD WIDTH="8"></TD><TD ALIGN="RIGHT">{escape(self.numbers.change(s["mix"]))}'
                "</TD></TR>"
            )
        return (f'<FONT POINT-SIZE="10" COLOR="{MUTED}"><TABLE BORDER="0" CELLBORDER="0" '
                f'CELLSPACING="0" CELLPADDING="1">{"".join(cells)}</TABLE></FONT>')

    def structure(self, group: pd.DataFrame, *, parent: str, prefix: str,
                  status: str) -> list[Node]:
        """The driver structure of one segment (or of the total), in formula order."""
        root_path = (self.result.tree.root,)
        nodes = []
        for row in group.to_dict("records"):
            path = tuple(row["path"])
            if path == root_path:
                continue
            up = parent if path[:-1] == root_path else f"{prefix}/{'.'.join(path[1:-1])}"
            nodes.append(Node(
                id=f"{prefix}/{'.'.join(path[1:])}", parent=up, title=str(row["label"]),
                contribution=float(row["effect"]), status=status, role="part",
                lines=_value_lines(row["base"], row["compare"], self.numbers.kind_of(row["node"]),
                                   self.numbers.unit, decimals=self.numbers.decimals),
            ))
        return nodes

    def badge(self, status: str) -> str | None:
        """``NEW in 2026-10`` / ``gone in 2026-10`` for a segment present in one period."""
        word = status_word(status)
        if not word:
            return None
        return f"{word.upper() if status == 'entered' else word} in {self.result.compare.period}"


def muted(text: str) -> str:
    """``text``, escaped, as a grey Graphviz HTML fragment."""
    return f'<FONT COLOR="{MUTED}">{escape(text)}</FONT>'


def escape(text: str) -> str:
    """``text`` escaped for a Graphviz HTML-like label (control characters shown escaped)."""
    return html.escape(terminal(str(text)), quote=True)


def segment_key(segment: Mapping[str, Any]) -> str:
    """``tier=pro,region=EU``: a readable, stable id piece (``%`` and ``:`` escaped)."""
    return ",".join(f"{identifier(str(dim))}={identifier(str(value))}"
                    for dim, value in segment.items())


def identifier(text: str) -> str:
    """``text`` safe in a DOT id: percent-encoded by :func:`kpitree.core.safety.dot_id`."""
    return dot_id(text)


def _value_lines(
    base: float | None, compare: float | None, kind: Any, unit: str | None, *,
    prefix: str = "", periods: tuple[str, str] | None = None, decimals: int | None = None,
) -> tuple[str, ...]:
    """``base → compare`` and ``change (relative change)`` as two HTML lines."""
    b = format_value(base, kind, unit, decimals=decimals, compact=True)
    c = format_value(compare, kind, unit, decimals=decimals, compact=True)
    if periods is not None:
        values = f"{escape(periods[0])}  {escape(b)}  →  {escape(periods[1])}  {escape(c)}"
    else:
        values = f"{escape(prefix)}{escape(b)}  →  {escape(c)}"
    if is_defined(base) and is_defined(compare):
        change = format_change(float(compare) - float(base), kind, unit,  # type: ignore[arg-type]
                               decimals=decimals, compact=True)
        change_text = f"{change}  ({format_pct_change(base, compare)})"
    else:
        change_text = format_pct_change(base, compare)
    return values, muted(change_text)


def _weight(folded: list[dict], side: str) -> str:
    return format_value(_sum(s[f"{side}_weight"] for s in folded), "number")


def _rows(segments: pd.DataFrame, level: str) -> list[dict]:
    if segments.empty:
        return []
    return [s for s in segments[segments["level"] == level].to_dict("records")
            if s["status"] != "empty"]


def _ordered(segments: list[dict]) -> list[dict]:
    """Cheapest segment first (mean root value over the defined periods), then by name."""
    def key(s: dict) -> tuple[float, str]:
        values = [float(v) for v in (s["base_value"], s["compare_value"]) if is_defined(v)]
        mean = sum(values) / len(values) if values else math.inf
        return mean, segment_key(s["segment"])

    return sorted(segments, key=key)


def _fold(segments: list[dict], *, limit: int = MAX_SEGMENTS, keep: int = TOP_SEGMENTS,
          by: tuple[str, ...] = ("mix", "rate", "interaction")) -> tuple[list[dict], list[dict]]:
    """Split off the smallest contributors when there are more than ``limit`` segments.

    The ``keep`` segments with the largest ``Σ |effect|`` (over ``by``) stay; ties break by
    name so the choice is stable. Returns (kept, folded), each in the input order.
    """
    if len(segments) <= limit:
        return segments, []

    def size(s: dict) -> tuple[float, str]:
        return -_sum(abs(float(s[k])) for k in by if is_defined(s[k])), segment_key(s["segment"])

    ranked = sorted(range(len(segments)), key=lambda i: size(segments[i]))
    top = set(ranked[:keep])
    return ([s for i, s in enumerate(segments) if i in top],
            [s for i, s in enumerate(segments) if i not in top])


def _group(parts: pd.DataFrame, *, level: str | None,
           segment: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The parts rows of the total (``level=None``) or of one segment of ``level``."""
    if level is None:
        return parts[parts["level"].isna()]
    target = dict(segment or {})
    mask = (parts["level"] == level) & parts["segment"].map(lambda s: dict(s) == target)
    return parts[mask]


def _within(inner: Mapping[str, Any], outer: Mapping[str, Any]) -> bool:
    return all(inner.get(dim) == value for dim, value in outer.items())


def _sum(values: Iterable[float]) -> float:
    return math.fsum(float(v) for v in values if is_defined(v))
