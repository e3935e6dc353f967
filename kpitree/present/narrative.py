"""A short plain-language summary of an :class:`~kpitree.core.result.Explanation` (no LLM).

What belongs here: picking what an analyst would say first about a move — its direction and
size, the mix vs monetization split, the largest drivers with their numbers, segments that
entered or left, and a caution when some segment rests on little weight — and phrasing it with
fixed templates. What does not: any attribution (see :mod:`kpitree.core.attribution`) or number
formatting (every figure goes through :mod:`kpitree.core.formatting`).

The text is deterministic: the same explanation always gives the same words, so narratives can
be kept as golden files. The rules, in order:

1. **Headline**: the root rose / fell / was flat (the change rounds to zero), by how much, in %.
2. **Split** (with segments): the mix total and the rate ("monetization within …") total. When
   both push the same way as the change each gets its share of it; otherwise both are given
   with their signs. The sequential method's interaction is named too.
3. **Largest drivers**: the two or three effects with the largest absolute value (the third
   only when it is at least :data:`THIRD_DRIVER` of the largest), each with the numbers behind
   it — shares for a mix effect, the driver's values for a rate effect.
4. **Components**: the rate total split by driver, largest first (with segments and at least
   two drivers).
5. **Entered / exited** segments (the outermost level at which it happens), with their weight,
   share and value.
6. **Caution** when a segment with a non-zero effect holds less than :data:`SMALL_SHARE` of the
   total weight in a period where it is present, or fewer than :data:`TINY_WEIGHT` units; and
   when bootstrap intervals say a total is indistinguishable from noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kpitree.core.formatting import format_pct_change, format_value
from kpitree.present.wording import Numbers

if TYPE_CHECKING:
    from kpitree.core.result import Explanation

SMALL_SHARE = 0.02  # of the total weight
TINY_WEIGHT = 30.0  # units of the weight node (e.g. users)
THIRD_DRIVER = 0.1  # the third driver is named when at least this fraction of the largest
LISTED = 3  # names listed in an entered/exited/caution sentence before "and N more"

__all__ = ["SMALL_SHARE", "TINY_WEIGHT", "Narrative", "narrate"]


@dataclass(frozen=True)
class Narrative:
    """A summary: a headline, the points that follow it, and cautions (possibly none).

    ``str(narrative)`` is the plain text, one sentence group per line.
    """

    headline: str
    points: tuple[str, ...]
    cautions: tuple[str, ...]

    @property
    def lines(self) -> tuple[str, ...]:
        return (self.headline, *self.points, *self.cautions)

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def to_markdown(self) -> str:
        """The headline in bold, then the points and cautions as a list."""
        items = [f"- {line}" for line in (*self.points, *self.cautions)]
        return "\n".join([f"**{self.headline}**", "", *items]) + "\n"


def narrate(result: Explanation) -> Narrative:
    """The plain-language summary of ``result`` (see the module docstring for the rules).

    Example:
        >>> print(narrate(result).headline)
        ARPU rose by $4.13 (+8.1 %), from $51.29 in 2026-09 to $55.43 in 2026-10.
    """
    words = _Words.of(result)
    points = [p for p in (words.split(), words.drivers(), words.components()) if p]
    points += words.entered_exited()
    if getattr(result, "found", None) is not None:  # a driver search: its units in one sentence
        from kpitree.present.drivers_table import drivers_sentence

        points.append(drivers_sentence(result))  # type: ignore[arg-type]
    return Narrative(headline=words.headline(), points=tuple(points),
                     cautions=tuple(words.cautions()))


@dataclass(frozen=True)
class _Words:
    result: Explanation
    numbers: Numbers
    root: str
    weight: str

    @classmethod
    def of(cls, result: Explanation) -> _Words:
        tree = result.tree
        numbers = Numbers.of(tree)
        return cls(result, numbers, numbers.root_label, tree.label(tree.weight).lower())

    # --- sentences ---------------------------------------------------------------------------

    def headline(self) -> str:
        r = self.result
        frame = (f"from {self.numbers.value(r.base.value)} in {r.base.period} to "
                 f"{self.numbers.value(r.compare.value)} in {r.compare.period}")
        shown = self.numbers.change(r.delta)
        if shown[0] not in "+−":  # rounds to zero
            return f"{self.root} was flat ({shown}), {frame}."
        verb = "rose" if r.delta > 0 else "fell"
        return (f"{self.root} {verb} by {self.numbers.value(abs(r.delta))} "
                f"({format_pct_change(r.base.value, r.compare.value)}), {frame}.")

    def split(self) -> str | None:
        r = self.result
        if not r.by:
            return None
        dim = " and ".join(r.by)  # nested: mix at every level, rate within the deepest
        totals = r.totals
        mix, rate = totals["mix"], totals["rate"]
        interaction = totals.get("interaction")
        mix_name = f"Mix ({self.weight} shifting between {dim} segments)"
        rate_name = f"monetization within {dim} segments"
        parts = [mix, rate] + ([interaction] if interaction is not None else [])
        same_way = r.delta != 0 and all(p * r.delta >= 0 for p in parts)
        if same_way:
            def share(x: float) -> str:
                return (f"{self.numbers.change(x)}, {format_value(x / r.delta, 'percent')} "
                        "of the change")
            text = f"{mix_name} accounts for {share(mix)}; {rate_name} for {share(rate)}"
            if interaction is not None:
                text += f"; their interaction for {share(interaction)}"
        else:
            change = self.numbers.change
            text = f"{mix_name} contributed {change(mix)} and {rate_name} {change(rate)}"
            if interaction is not None:
                text += f", their interaction {change(interaction)}"
        return text + "."

    def drivers(self) -> str | None:
        effects = self.result.effects
        if effects.empty:
            return None
        top = self.result.top_effects(3)
        rows = [row for row in top.to_dict("records") if row["value"] != 0.0]
        if not rows:
            return None
        largest = abs(rows[0]["value"])
        if len(rows) == 3 and abs(rows[2]["value"]) < THIRD_DRIVER * largest:
            rows = rows[:2]
        described = [f"{self.describe(row)}: {self.numbers.change(row['value'])}" for row in rows]
        noun = {1: "largest driver was", 2: "two largest drivers were",
                3: "three largest drivers were"}[len(described)]
        return f"The {noun} {_join(described, sep='; ')}."

    def describe(self, row: Mapping[str, Any]) -> str:
        """What an effect row stands for, with its numbers."""
        r = self.result
        segment = {d: row[d] for d in r.by if row.get(d) is not None}
        name = _name(segment)
        if row["kind"] == "rate":
            node = row["path"][-1]
            base, compare = self.part(segment, tuple(row["path"]))
            where = f" in {name}" if name else ""
            return (f"{row['label']}{where} ({self.numbers.node_value(node, base)} → "
                    f"{self.numbers.node_value(node, compare)})")
        s = self.segment(segment)
        if row["kind"] == "interaction":
            return f"the interaction of share and {self.root} for {name}"
        if s is None:
            return f"the mix of {name}"
        of_parent = self.share_of(row["level"])
        if s["status"] == "entered":
            return (f"the new {name} ({format_value(s['compare_share'], 'percent')} "
                    f"of {of_parent} at {self.root} {self.numbers.value(s['compare_value'])})")
        if s["status"] == "exited":
            return (f"the loss of the {name} (had {format_value(s['base_share'], 'percent')} "
                    f"of {of_parent} at {self.root} {self.numbers.value(s['base_value'])})")
        return (f"the shift in the {name}'s share of {of_parent} "
                f"({format_value(s['base_share'], 'percent')} → "
                f"{format_value(s['compare_share'], 'percent')}; {self.root} "
                f"{self.numbers.value(s['compare_value'])} vs "
                f"{self.numbers.value(r.compare.value)} overall)"
                if row["level"] == r.by[0] else
                f"the shift in the {name}'s share of {of_parent} "
                f"({format_value(s['base_share'], 'percent')} → "
                f"{format_value(s['compare_share'], 'percent')})")

    def share_of(self, level: str) -> str:
        by = self.result.by
        depth = by.index(level)
        return self.weight if depth == 0 else f"its {by[depth - 1]}'s {self.weight}"

    def components(self) -> str | None:
        r = self.result
        if not r.by:
            return None
        table = r.by_driver()
        table = table[table["value"] != 0.0]
        if len(table) < 2:
            return None
        items = [f"{label} {self.numbers.change(value)}"
                 for label, value in zip(table["label"], table["value"], strict=True)]
        if len(items) > 4:
            items = [*items[:3], f"{len(items) - 3} more drivers "
                     f"{self.numbers.change(math.fsum(table['value'].iloc[3:]))}"]
        return f"Within {r.by[0]} segments the rate effect splits by driver into {_join(items)}."

    def entered_exited(self) -> list[str]:
        r = self.result
        if r.segments.empty:
            return []
        sentences = []
        for status, verb in (("entered", "New in"), ("exited", "Gone in")):
            rows = [s for s in r.segments.to_dict("records") if s["status"] == status
                    and not self.parent_has_status(s, status)]
            if not rows:
                continue
            side = "compare" if status == "entered" else "base"
            total = r.compare.weight if side == "compare" else r.base.weight
            described = []
            for s in rows[:LISTED]:
                weight = float(s[f"{side}_weight"])
                described.append(
                    f"{_name(s['segment'])} ({format_value(weight, 'number')} {self.weight}, "
                    f"{format_value(weight / total if total else None, 'percent')} of all, "
                    f"{self.root} {self.numbers.value(s[f'{side}_value'])})")
            if len(rows) > LISTED:
                described.append(f"{len(rows) - LISTED} more")
            mix = math.fsum(float(s["mix"]) for s in rows)
            whole = "its" if len(rows) == 1 else "their"
            sentences.append(f"{verb} {r.compare.period}: {_join(described)}; {whole} whole "
                             f"effect is mix ({self.numbers.change(mix)}).")
        return sentences

    def parent_has_status(self, s: Mapping[str, Any], status: str) -> bool:
        by = self.result.by
        depth = by.index(s["level"])
        if depth == 0:
            return False
        parent = {d: s["segment"][d] for d in by[:depth]}
        found = self.segment(parent)
        return found is not None and found["status"] == status

    def cautions(self) -> list[str]:
        r = self.result
        out = []
        if not r.segments.empty:
            small = []
            for s in r.segments.to_dict("records"):
                if s["status"] == "empty" or all(
                        s.get(k, 0.0) == 0.0 for k in ("mix", "inner_mix", "rate", "interaction",
                                                       "inner_interaction")):
                    continue
                weights = [w for w in (float(s["base_weight"]), float(s["compare_weight"]))
                           if w > 0]
                shares = [float(s[f"{p}_weight"]) / total for p, total in
                          (("base", r.base.weight), ("compare", r.compare.weight))
                          if float(s[f"{p}_weight"]) > 0 and total > 0]
                if weights and (min(shares, default=1.0) < SMALL_SHARE
                                or min(weights) < TINY_WEIGHT):
                    small.append((min(shares, default=0.0), min(weights), s))
            if small:
                small.sort(key=lambda t: (t[0], _name(t[2]["segment"])))
                named = [f"{_name(s['segment'])} ({format_value(share, 'percent')}, "
                         f"{format_value(weight, 'number')} {self.weight})"
                         for share, weight, s in small[:LISTED]]
                if len(small) > LISTED:
                    named.append(f"{len(small) - LISTED} more")
                count = "1 segment rests" if len(small) == 1 else f"{len(small)} segments rest"
                out.append(
                    f"Caution: {count} on a small weight (under "
                    f"{format_value(SMALL_SHARE, 'percent')} of {self.weight} or fewer than "
                    f"{format_value(TINY_WEIGHT, 'number')}): {_join(named)}. Their rates "
                    "can swing on a few accounts; read their effects with care.")
        intervals = getattr(r, "intervals", None)
        if intervals is not None:
            noisy = [k for k in ("mix", "rate") if k in intervals.totals and intervals.noise(k)]
            if noisy:
                level = format_value(intervals.level, "percent")
                out.append(f"Caution: the {' and '.join(noisy)} total's {level} interval "
                           "includes zero; it cannot be told apart from noise.")
        return out

    # --- lookups -----------------------------------------------------------------------------

    def segment(self, segment: Mapping[str, Any]) -> dict | None:
        target = dict(segment)
        for s in self.result.segments.to_dict("records"):
            if dict(s["segment"]) == target:
                return s
        return None

    def part(self, segment: Mapping[str, Any], path: tuple[str, ...]
             ) -> tuple[float | None, float | None]:
        """A driver's base and compare values in a segment (the deepest level it is part of)."""
        parts = self.result.parts
        target = dict(segment)
        for row in parts.to_dict("records"):
            if tuple(row["path"]) == path and dict(row["segment"]) == target:
                return row["base"], row["compare"]
        return None, None


def _name(segment: Mapping[str, Any]) -> str:
    """``{'tier': 'pro', 'region': 'EU'}`` → ``pro tier, EU region``."""
    return ", ".join(f"{value} {dim}" for dim, value in segment.items())


def _join(items: list[str], sep: str = ", ") -> str:
    if len(items) <= 1:
        return "".join(items)
    last = " and " if sep == ", " else "; and "
    return sep.join(items[:-1]) + last + items[-1]
