"""The Poisson(1) counts every bootstrap draws: by seed per row, or hashed from a user id.

What belongs here: the one recipe for resampling counts — the Poisson(1) inverse-CDF thresholds
on 16-bit uniforms, and the *hashed* count of a user in a replicate, with its constants — so the
in-memory bootstrap (:mod:`kpitree.analysis.bootstrap`) and the engine's copy as an ibis
expression (:mod:`kpitree.io.events.cells`) read the same numbers from one place. What does not:
summing or attributing replicates (:mod:`kpitree.analysis.bootstrap`), or any query.

Poisson(1) by inverse CDF: the count is the number of :data:`THRESHOLDS` at or below a 16-bit
uniform (each probability exact to 1/65 536).

Hashed counts: a user's count in replicate ``r`` is a function of (id, ``r``, ``seed``) alone —
the same in both periods (a user is resampled as one unit) and computable by a database. ``key``
= the first :data:`KEY_HEX_DIGITS` hex digits of ``md5("<id>:<seed>")``; ``x = (key·KEY_FACTOR
+ (r + 1)·REPLICATE_FACTOR) mod PRIME``, then one round ``x = (x² + c) mod PRIME`` per ``c`` in
:data:`ROUNDS`; the uniform is ``x mod 65536``. Every intermediate is an integer below 2⁵³
(``x²`` is exact even as a double, so an engine may square with ``POWER``), so DuckDB,
PostgreSQL and Spark compute it exactly.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np

UNIFORM = 65_536  # 16-bit uniforms
THRESHOLDS: tuple[int, ...] = tuple(
    t for t in (round(UNIFORM * sum(math.exp(-1) / math.factorial(i) for i in range(k + 1)))
                for k in range(9))
    if t < UNIFORM
)
KEY_HEX_DIGITS = 7
PRIME = 67_108_859  # the largest prime below 2**26: x² stays exact in a double
KEY_FACTOR, REPLICATE_FACTOR = 40_499, 2_654_435_761
ROUNDS = (1_013_904_223, 12_345, 7)

_THRESHOLDS = np.array(THRESHOLDS, dtype=np.uint16)


def poisson_counts(uniform: np.ndarray) -> np.ndarray:
    """Poisson(1) counts (uint8) of 16-bit ``uniform`` values, by the inverse CDF."""
    k = np.zeros(uniform.shape, dtype=np.uint8)
    for threshold in _THRESHOLDS:
        k += uniform >= threshold
    return k


def user_keys(ids: Sequence[object] | np.ndarray, *, seed: int) -> np.ndarray:
    """Each user id's hash key for :func:`hashed_counts` (int64, below 2²⁸): the first seven
    hex digits of ``md5("<id>:<seed>")``, ``id`` as text."""
    return np.array([int(hashlib.md5(f"{i}:{seed}".encode()).hexdigest()[:KEY_HEX_DIGITS], 16)
                     for i in ids], dtype=np.int64)


def hashed_counts(keys: np.ndarray, replicates: int, *, first: int = 0) -> np.ndarray:
    """Poisson(1) counts of users with hash ``keys`` in replicates ``first`` … ``first +
    replicates − 1``: shape (users, replicates), uint8 (module notes)."""
    r = np.arange(first + 1, first + replicates + 1, dtype=np.int64)
    x = (keys.astype(np.int64)[:, None] * KEY_FACTOR + r[None, :] * REPLICATE_FACTOR) % PRIME
    for c in ROUNDS:
        x = (x * x + c) % PRIME
    return poisson_counts((x % UNIFORM).astype(np.uint16))


__all__ = ["KEY_FACTOR", "KEY_HEX_DIGITS", "PRIME", "REPLICATE_FACTOR", "ROUNDS", "THRESHOLDS",
           "UNIFORM", "hashed_counts", "poisson_counts", "user_keys"]
