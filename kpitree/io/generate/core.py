"""What both synthetic outputs share: seeded categorical draws and the planted effect.

What belongs here: :class:`Planted`, the statement of one effect planted between the base and
the compare period (its segment, kind, sign and, when known, driver and expected size), which
both outputs use to say what an explanation should find; :func:`draw_codes` and
:func:`choose`, the one way either output draws a category (tier, region, channel, cohort …)
from its probabilities. What does not: what is simulated (the event log,
:mod:`kpitree.io.generate.log`; user-level rows, :mod:`kpitree.io.generate.users`).

Same seed, same draws: every random number comes from one ``numpy.random.Generator``
(``numpy.random.default_rng(seed)``) consumed in a fixed order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Planted:
    """An effect planted between the base and the compare period.

    Attributes:
        conditions: the segment, as ``(dimension, value)`` pairs (empty: everyone).
        kind: ``rate`` (monetisation within the segment), ``mix`` (its share moves),
            ``launch`` (a segment that only exists in the compare period) or ``gap`` (between
            two measures of revenue, e.g. collected against billed).
        sign: +1 or -1, the sign of its contribution to the change.
        what: what was planted, in words.
        expect: what an explanation should find.
        driver: the driver a rate effect sits at (a node of the tree), if stated.
        size: the contribution an explanation should find (approximately), if stated.
    """

    conditions: tuple[tuple[str, str], ...]
    kind: str
    sign: int
    what: str = ""
    expect: str = ""
    driver: str | None = None
    size: float | None = None

    @property
    def segment(self) -> dict[str, str]:
        """The segment as a mapping, e.g. ``{"tier": "pro", "region": "EU"}``."""
        return dict(self.conditions)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``planted.json`` (``sign`` as ``+`` or ``-``).

        Example:
            >>> Planted((("tier", "pro"),), "rate", -1, driver="base_pu").to_dict()["segment"]
            {'tier': 'pro'}
            >>> Planted((), "gap", -1, size=-0.03).to_dict()
            {'effect': 'gap', 'sign': '-', 'size': -0.03, 'what': '', 'expect': ''}
        """
        entry: dict[str, Any] = {"effect": self.kind}
        if self.conditions:
            entry["segment"] = self.segment
        if self.driver is not None:
            entry["driver"] = self.driver
        entry["sign"] = "+" if self.sign > 0 else "-"
        if self.size is not None:
            entry["size"] = self.size
        entry["what"] = self.what
        entry["expect"] = self.expect
        return entry


def draw_codes(draws: np.ndarray, probabilities: Sequence[float] | np.ndarray) -> np.ndarray:
    """Category codes for uniform ``draws`` in [0, 1): the inverse of the cumulative shares.

    ``probabilities`` need not sum to exactly 1 (they are normalised); a category of
    probability 0 is never drawn. The same draws under two sets of probabilities (base and
    compare period) give codes that differ only where the shares moved.
    """
    shares = np.asarray(probabilities, dtype=float)
    cdf = np.cumsum(shares / shares.sum())
    return np.minimum(np.searchsorted(cdf, draws, side="right"), len(shares) - 1)


def choose(rng: np.random.Generator, probabilities: Sequence[float] | np.ndarray,
           size: int) -> np.ndarray:
    """``size`` category codes drawn with ``probabilities`` (one uniform draw each).

    Like ``rng.choice(len(p), size, p=p)``, it takes one uniform number per draw; the two agree
    draw for draw wherever their cumulative shares agree to the last bit, as they do for every
    share table of the event log.
    """
    return draw_codes(rng.random(size), probabilities)
