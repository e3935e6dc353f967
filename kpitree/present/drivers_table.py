"""The terminal table of ``kpitree drivers``: totals, dimension ranking, named drivers in order.

What belongs here: laying out a driver search (with its bootstrap intervals) as plain text for
``--format table``. Rendering only formats: every number goes through
:mod:`kpitree.core.formatting`. What does not: the search itself
(:mod:`kpitree.analysis.drivers`), printing (:mod:`kpitree.cli.output`), or the explanation's
table (:mod:`kpitree.present.table`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kpitree.core.formatting import Kind, format_change, format_pct_change, format_value
from kpitree.present.table import metric_kind

if TYPE_CHECKING:
    from kpitree.analysis.drivers import Drivers

NOISE = "≈0?"  # the interval spans zero: not distinguishable from noise


def _interval(low: float, high: float, kind: Kind, unit: str | None) -> str:
    mark = f" {NOISE}" if low <= 0 <= high else ""
    return f"[{format_change(low, kind, unit)}, {format_change(high, kind, unit)}]{mark}"


def format_drivers(result: Drivers, *, top: int = 10) -> str:
    """A readable plain-text summary of a driver search."""
    tree = result.tree
    unit = tree.unit
    kind = metric_kind(result)
    base, compare = result.base, result.compare
    intervals = result.intervals
    lines = [
        f"{tree.title} — {tree.name} (drivers over {', '.join(result.dims)}; depth "
        f"{result.depth})",
        f"{tree.label(result.metric)}  {base.period} {format_value(base.value, kind, unit)}"
        f" → {compare.period} {format_value(compare.value, kind, unit)}   "
        f"{format_change(result.delta, kind, unit)} "
        f"({format_pct_change(base.value, compare.value)})",
        "",
    ]
    names = {"mix": "mix (between segments)", "rate": "rate (within segments)"}
    width = 30
    for name, value in result.totals.items():
        text = f"  {names.get(name, name):<{width}}{format_change(value, kind, unit):>12}"
        if intervals is not None:
            text += "   " + _interval(*intervals.totals[name], kind, unit)
        lines.append(text)
    lines.append("  " + "─" * (width + 12))
    total = f"  {'total':<{width}}{format_change(result.delta, kind, unit):>12}"
    if intervals is not None:
        total += "   " + _interval(*intervals.totals["delta"], kind, unit)
    lines.append(total)
    if intervals is not None:
        lines.append(f"  {intervals.level:.0%} intervals: {intervals.method}, "
                     f"{intervals.replicates} replicates, seed {intervals.seed}; "
                     f"{NOISE} = not distinguishable from noise")

    lines += ["", "Dimensions by concentration (score = Σ|mix| + Σ|rate − even rate change|)"]
    for row in result.ranking.itertuples(index=False):
        lines.append(
            f"  {row.rank:>2}. {row.dimension:<14}{row.values:>4} values  score "
            f"{format_value(row.score, kind, unit):>10}   mix "
            f"{format_change(row.mix, kind, unit):>9}  rate "
            f"{format_change(row.rate, kind, unit):>9}   most: {row.top}"
        )

    lines += ["", "Named drivers in split order: launches (new/gone values), mix shifts along one "
              "dimension (its share within like users), rate pockets; rest = everything else",
              f"  {'#':>2}  {'kind':<7}{'driver':<46}{'share ' + base.period:>12}"
              f"{'→ ' + compare.period:>9}{'mix':>11}{'rate':>11}{'total':>11}"
              + ("   interval" if intervals is not None else "")]
    for row in result.found.itertuples(index=False):
        flag = {"entered": " (new)", "exited": " (gone)"}.get(row.status, "")
        step = f"{row.step:>2}" if row.step else "  "
        share0 = row.base_share if row.status in ("both", "exited") else None
        share1 = row.compare_share if row.status in ("both", "entered") else None
        strata = getattr(row, "strata", None)
        name = row.segment + flag + (f" within {', '.join(strata)}" if strata else "")
        text = (f"  {step}  {row.kind:<7}{name[:46]:<46}"
                f"{format_value(share0, 'percent'):>12}{format_value(share1, 'percent'):>9}"
                f"{format_change(row.mix, kind, unit):>11}{format_change(row.rate, kind, unit):>11}"
                f"{format_change(row.contribution, kind, unit):>11}")
        if intervals is not None:
            text += "   " + _interval(*intervals.segments[row.segment], kind, unit)
        lines.append(text)

    lines += ["", f"Top {min(top, len(result.effects))} effects"]
    for index, row in result.top_effects(top).iterrows():
        what = row["label"] if row["kind"] == "rate" else row["kind"]
        text = (f"  {row['kind']:<6}{str(row[result.dimension])[:40]:<42}{what:<26}"
                f"{format_change(row['value'], kind, unit):>11}")
        if intervals is not None:
            bounds = intervals.effects.loc[index]
            text += "   " + _interval(bounds["low"], bounds["high"], kind, unit)
        lines.append(text)
    return "\n".join(lines)


def drivers_sentence(result: Drivers) -> str:
    """The named drivers in one sentence, in split order, ending with the rest.

    Example: ``Named drivers: plan=max launched (+$4.03); the billing mix shifted to annual
    (30.4 % → 42.2 % of users, within plan) +$1.46; the rate of os=ios +$2.41; the rest
    −$0.22 — exactly the change of +$5.28.``
    """
    kind = metric_kind(result)
    unit = result.tree.unit

    def money(value: float) -> str:
        return format_change(value, kind, unit)

    parts = []
    rest = None
    for row in result.found.itertuples(index=False):
        if row.kind == "rest":
            rest = f"the rest {money(row.contribution)}"
        elif row.kind == "launch":
            verb = "was discontinued" if row.status == "exited" else "launched"
            parts.append(f"{row.segment} {verb} ({money(row.contribution)})")
        elif row.kind == "mix":
            (dim, value), = row.conditions.items()
            within = f", within {', '.join(row.strata)}" if row.strata else ""
            way = "to" if row.compare_share > row.base_share else "from"
            shares = (f"{format_value(row.base_share, 'percent')} → "
                      f"{format_value(row.compare_share, 'percent')}")
            parts.append(f"the {dim} mix shifted {way} {value} ({shares} of users{within}) "
                         f"{money(row.contribution)}")
        else:
            parts.append(f"the rate of {row.segment} {money(row.contribution)}")
    if rest is not None:
        parts.append(rest)
    return (f"Named drivers: {'; '.join(parts)} — exactly the change of {money(result.delta)}."
            if parts else f"No driver stands out; the change is {money(result.delta)}.")
