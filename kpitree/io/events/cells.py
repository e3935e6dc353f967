"""Bootstrap replicates pushed down to the engine: period × dimensions × replicate sums.

What belongs here: :func:`replicate_cells`, the one query that gives ``kpitree drivers
--bootstrap N`` on a raw source its replicates without bringing one row per user into Python —
each active user-period row of the aggregation (:func:`kpitree.io.events.query.aggregation`,
grouped by the dimensions *and* the user id, in the engine) is crossed with the replicate
numbers, weighted by a hashed Poisson(1) count of (user id, replicate, seed), and summed per
period × dimensions × replicate (a tree that counts accounts resamples accounts instead, each
counted once per cell); and :func:`user_key` and :func:`hashed_count`, that count as
ibis expressions.
What does not: the point estimate and the data checks (:func:`kpitree.io.events.aggregate`,
run first by the caller), the attribution of the replicates (:mod:`kpitree.analysis`).

The count is the recipe of :mod:`kpitree.core.resample` (its constants imported from there;
``tests/test_drivers_engines.py`` checks the engine's counts equal numpy's). Only MD5, ASCII
codes, substrings and integers below 2⁵³: DuckDB, PostgreSQL and Spark give the same counts,
and the sums are of integer cents, so every engine returns the in-memory bootstrap's numbers.

The expression is written so that the costly parts are not repeated per row: ibis inlines
every intermediate column, so the key is made once per user in its own aggregation (each hex
digit is ``(ascii − 48) mod 39``, one reference) and joined back; each round squares with
``POWER(x, 2)`` (exact: ``x² < 2⁵²``) instead of ``x · x``, which would double the expression
at every round; the count is a CASE that stops at the first threshold above the uniform (most
rows evaluate it about twice); and the big grouping (rows × replicates) is on a small integer
per cell, the labels joined back at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from kpitree.core.errors import DataError, TreeError
from kpitree.core.resample import (
    KEY_FACTOR,
    KEY_HEX_DIGITS,
    PRIME,
    REPLICATE_FACTOR,
    ROUNDS,
    THRESHOLDS,
)
from kpitree.core.tree import Tree
from kpitree.io.events.execute import execute
from kpitree.io.events.frame import in_units
from kpitree.io.events.plan import Plan, Progress, make_plan
from kpitree.io.events.query import aggregation
from kpitree.io.events.windows import instant, resolve_windows, time_is_aware

REPLICATE = "replicate"  # the replicate number's column in the result


def user_key(ibis: Any, user: Any, seed: int) -> Any:
    """The user's hash key (BIGINT below 2²⁸) from the text id ``user``: the first seven hex
    digits of the engine's ``md5("<id>:<seed>")``."""

    @ibis.udf.scalar.builtin(name="md5")
    def md5(value: str) -> str:  # type: ignore[empty-body]  # pragma: no cover
        """The engine's own MD5 (hex text): compiled to SQL, never run in Python."""

    digest = md5(user + ibis.literal(f":{seed}"))
    key = ibis.literal(0, type="int64")
    for i in range(KEY_HEX_DIGITS):
        code = digest.substr(i, 1).ascii_str().cast("int64")
        key = key * 16 + (code - 48) % 39  # '0'-'9' → 0-9, 'a'-'f' → 10-15
    return key


def hashed_count(ibis: Any, key: Any, replicate: Any) -> Any:
    """The Poisson(1) count (BIGINT) in ``replicate`` of the user with hash ``key``."""
    x = (key * KEY_FACTOR + (replicate.cast("int64") + 1) * REPLICATE_FACTOR) % PRIME
    for c in ROUNDS:
        x = (x.pow(2).cast("int64") + c) % PRIME
    uniform = x % 65536
    # The first threshold above the uniform gives the count; a CASE stops at it, so most rows
    # compute the uniform about twice, not once per threshold (ibis inlines it in every WHEN).
    return ibis.cases(*((uniform < t, ibis.literal(k, type="int64"))
                        for k, t in enumerate(THRESHOLDS)),
                      else_=ibis.literal(len(THRESHOLDS), type="int64"))


def replicate_cells(
    tree: Tree,
    source: Any,
    *,
    periods: Sequence[object],
    dims: Sequence[str],
    replicates: int,
    seed: int,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Bootstrap replicate sums of the tree's measures per period × ``dims`` × replicate.

    Run after :func:`kpitree.io.events.aggregate` on the same source, periods and ``dims``
    (which made the checks and gives the point estimate). Returns ``period``, the ``dims``,
    ``replicate`` (0 … replicates − 1) and one column per measure — money in currency units
    (per 30 days when the tree asks), as in :class:`~kpitree.io.events.Aggregate`; a cell that
    no resampled user reaches in a replicate has no row (its sums are zero).

    Raises:
        TreeError: the tree has no ``data:`` section.
        DataError: as :func:`kpitree.io.events.aggregate`.
    """
    definition = tree.spec.data
    if definition is None:
        raise TreeError(f"{tree.spec.source}: the tree has no 'data:' section, so it cannot "
                        "read raw events")
    if replicates < 1:
        raise DataError(f"replicates must be at least 1, not {replicates}")
    uid = definition.users.id
    dims = list(dims)
    # A tree weighed or divided by accounts resamples accounts (all of an account's users
    # together), so each replicate's accounts are distinct accounts, as the point estimate's.
    account = definition.users.account if "accounts" in tree.columns.values() else None
    grouped = [*dims, *(c for c in (uid, account) if c is not None and c not in dims)]
    plan = make_plan(tree, definition, source, grouped, progress)
    windows = resolve_windows(plan, periods)
    aware = time_is_aware(plan)
    ts = plan.events[definition.events.time]
    lo, hi = min(w.start for w in windows), max(w.end for w in windows)
    in_range = (ts >= instant(plan, lo, aware)) & (ts < instant(plan, hi, aware))
    per_user = aggregation(plan, windows, in_range, aware)
    expr = _replicate_sums(plan, per_user, uid, dims, replicates, seed, account)
    frame = execute(plan, expr, "bootstrap replicates")
    return _named(plan, frame, dims, windows)


def _replicate_sums(plan: Plan, per_user: Any, uid: str, dims: Sequence[str],
                    replicates: int, seed: int, account: str | None = None) -> Any:
    """The engine's query: active user-periods × replicates, weighted sums per cell.

    The resampled unit is the user, or with ``account`` the account: its users share its
    count, and each account counts once per cell (on the row of its first user there); a user
    with no account is a unit of its own and counts no account, as in the point estimate.
    """
    ibis = plan.ibis
    active = per_user.filter(per_user.k_state == "active")
    user = f"k_dim_{uid}"
    labels = ["k_period", *(f"k_dim_{d}" for d in dims)]
    # Each cell gets a small integer, so the big grouping (rows × replicates) is on integers.
    ranked = active.mutate(k_cell=ibis.dense_rank().over(order_by=labels))
    unit = ranked[user]
    if account is not None:
        owner = ranked[f"k_dim_{account}"]
        unit = ibis.ifelse(owner.isnull(), "u:" + ranked[user], "a:" + owner)
        first = ibis.row_number().over(group_by=[owner, ranked.k_cell], order_by=ranked[user])
        ranked = ranked.mutate(
            k_unit=unit,
            m_accounts=ibis.ifelse(owner.notnull() & (first == 0),
                                   ibis.literal(1, type="int64"), ibis.literal(0, type="int64")))
        unit = ranked.k_unit
    keys = ranked.group_by(k_user_of_key=unit).aggregate(
        k_key=user_key(ibis, unit, seed).max())  # one key per unit, made once
    keyed = ranked.join(keys, unit == keys.k_user_of_key)
    numbers = ibis.memtable(pd.DataFrame({"k_rep": pd.Series(range(replicates),
                                                             dtype="int64")}))
    crossed = keyed.cross_join(numbers)
    weight = hashed_count(ibis, crossed.k_key, crossed.k_rep)
    weighted = crossed.select("k_cell", "k_rep", k_w=weight,
                              **{f"m_{m}": crossed[f"m_{m}"] for m in plan.measures})
    sums = weighted.group_by(["k_cell", "k_rep"]).aggregate(**{
        f"m_{m}": (weighted[f"m_{m}"] * weighted.k_w).sum().cast("int64")
        for m in plan.measures})
    cells = ranked.select("k_cell", *labels).distinct()
    named = sums.join(cells, "k_cell").select(*labels, "k_rep",
                                              *(f"m_{m}" for m in plan.measures))
    return named.order_by([*labels, "k_rep"])


def _named(plan: Plan, frame: pd.DataFrame, dims: Sequence[str], windows: Sequence[Any]
           ) -> pd.DataFrame:
    """The engine's columns renamed, then integer cents to currency units as the point
    aggregate (:func:`kpitree.io.events.frame.in_units`)."""
    out = pd.DataFrame({"period": frame["k_period"].astype(str).to_numpy()})
    for dim in dims:
        out[dim] = frame[f"k_dim_{dim}"].astype(str).to_numpy()
    out[REPLICATE] = frame["k_rep"].astype("int64").to_numpy()
    for measure in plan.measures:
        out[measure] = frame[f"m_{measure}"].astype("int64").to_numpy()
    return in_units(plan, out, windows)


__all__ = ["REPLICATE", "hashed_count", "replicate_cells", "user_key"]
