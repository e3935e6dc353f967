"""The aggregation query: per-user sums, the user-period rows, the join, the measures.

What belongs here: the ibis expression that :func:`kpitree.io.events.aggregate` runs — the
events summed per user and period in integer cents (:func:`event_table`: counted revenue by
``data.revenue``'s basis, refunds, discounts, billed and collected, each revenue type), the
users table as one row per user and period (:func:`user_table`: the row at period end, with
``sum:`` columns summed over the period's months), their outer join, and the grouped measures
per period × state (active, inactive, orphan) × segment (:func:`aggregation`). What does not:
translating conditions (:mod:`kpitree.io.events.conditions`), the checks
(:mod:`kpitree.io.events.checks`), or turning the result into the frame
(:mod:`kpitree.io.events.frame`).

Column names: ``k_…`` are keys and per-user sums, ``m_<measure>`` the measures,
``k_dim_<dimension>`` the segment values.
"""

from __future__ import annotations

from typing import Any

from kpitree.core.definitions import PeriodWindow
from kpitree.io.events.conditions import USER_COLUMN_PREFIX, condition_expr, condition_names
from kpitree.io.events.plan import Plan, needs, ones, user_column
from kpitree.io.events.windows import (
    in_windows,
    instant,
    labelled,
    month_column,
    months_in,
    slot_edges,
    slot_windows,
    slotted,
)

EVENT_MEASURES = ("billed", "collected", "refunds", "discounts")  # summed as they are


def event_table(plan: Plan, windows: list[PeriodWindow], in_range: Any, aware: bool) -> Any:
    """Per user and period: counted revenue in cents and the other event measures."""
    d, rev, ibis = plan.definition.events, plan.definition.revenue, plan.ibis
    ev = plan.events.filter(in_range)
    amount = ev[d.amount]
    if d.amount_unit == "units":
        amount = (amount * 100).round().cast("int64")
    else:
        amount = amount.cast("int64")
    discount = (ev[d.discount].fill_null(0).cast("int64") if d.discount is not None
                else ibis.literal(0, type="int64"))
    if d.discount is not None and d.amount_unit == "units":
        discount = (ev[d.discount].fill_null(0) * 100).round().cast("int64")
    etype = ev[d.type].cast("string")
    kind = ev[d.kind].cast("string")
    status = ev[d.status].cast("string")
    counted = etype.isin(list(rev.types))
    charge = (kind == "charge") & counted
    reversal = kind.isin(["refund", "chargeback"]) & counted
    zero = ibis.literal(0, type="int64")
    value = amount + discount if rev.discounts == "gross" else amount
    billed_charge = ibis.ifelse(charge, value, zero)
    paid_charge = ibis.ifelse(charge & (status == "paid"), value, zero)
    back = ibis.ifelse(reversal, amount, zero) if rev.refunds == "net" else zero
    billed = billed_charge - back
    collected = paid_charge - back
    revenue = collected if rev.basis == "collected" else billed
    in_basis = charge if rev.basis == "billed" else charge & (status == "paid")
    columns: dict[str, Any] = {
        "k_user": ev[d.user], "k_rev": revenue, "k_billed": billed,
        "k_collected": collected, "k_refunds": ibis.ifelse(reversal, amount, zero),
        "k_discounts": ibis.ifelse(in_basis, discount, zero),
        "k_events": ones(plan, in_basis),
    }
    for t in rev.types:
        columns[f"k_rev_{t}"] = ibis.ifelse(etype == t, revenue, zero)
    slim = ev.select(k_ts=ev[d.time], **columns)
    measures = [c for c in columns if c != "k_user"]
    if plan.definition.period.overlapping:
        # One pass: each event's slot, summed per user and slot, then each slot's sums
        # counted in every window that holds it (exact: integer sums of sums).
        edges = slot_edges(windows)
        rows = slotted(plan, slim, edges,
                       lambda lo, hi: (slim.k_ts >= instant(plan, lo, aware)) &
                       (slim.k_ts < instant(plan, hi, aware)), "k_slot")
        per_slot = rows.group_by(["k_user", "k_slot"]).aggregate(
            **{c: rows[c].sum().cast("int64") for c in measures})
        mapping = slot_windows(plan, windows, edges, "k_slot")
        spread = per_slot.join(mapping, per_slot.k_slot == mapping.k_slot)
        return spread.group_by(["k_user", "k_period"]).aggregate(
            **{c: spread[c].sum().cast("int64") for c in measures})
    rows = labelled(plan, slim, windows,
                    lambda w: (slim.k_ts >= instant(plan, w.start, aware)) &
                    (slim.k_ts < instant(plan, w.end, aware)))
    sums = {c: rows[c].sum().cast("int64") for c in measures}
    return rows.group_by(["k_user", "k_period"]).aggregate(**sums)


def user_table(plan: Plan, windows: list[PeriodWindow]) -> Any:
    """Per user and period: the row at period end, with `sum:` columns summed."""
    d, ibis = plan.definition.users, plan.ibis
    needed = needs(plan)
    month = month_column(plan)
    columns: dict[str, Any] = {"k_uid": user_column(plan, d.id, "the user id"), "k_month": month}
    for dim in plan.dims:
        if dim == "cohort":
            signup = user_column(plan, d.signup, "the signup date, for the cohort")
            columns["k_dim_cohort"] = signup.cast("date").cast("string").substr(0, 7)
        else:
            columns[f"k_dim_{dim}"] = user_column(plan, dim, "a segment dimension").cast("string")
    if "accounts" in needed:
        columns["k_account"] = user_column(plan, d.account, "the account, for accounts")
    if "seats" in needed:
        columns["k_seats"] = user_column(plan, d.seats, "seats").cast("int64")
    if needed & {"new_users", "new_revenue", "new"}:
        columns["k_signup"] = user_column(plan, d.signup, "the signup date").cast("date")
    condition_columns = sorted(n for n in needed if n in plan.user_columns)
    for column in condition_columns:
        columns[f"{USER_COLUMN_PREFIX}{column}"] = plan.users[column]
    scoped = plan.users.filter(months_in(plan, month, windows)).select(**columns)
    if plan.definition.period.overlapping:
        rows = in_windows(plan, scoped, windows, "k_month")
    else:
        rows = labelled(plan, scoped, windows,
                        lambda w: (scoped.k_month >= ibis.date(w.first_month)) &
                        (scoped.k_month <= ibis.date(w.last_month)))
    if plan.definition.period.kind == "month":
        return rows
    summed = [f"{USER_COLUMN_PREFIX}{c}" for c in condition_columns if c in d.sum]
    last = rows.group_by(["k_uid", "k_period"]).aggregate(
        k_last=rows.k_month.max(),
        **{f"{c}__sum": rows[c].sum() for c in summed})
    joined = last.join(rows, [last.k_uid == rows.k_uid,
                              last.k_period == rows.k_period,
                              last.k_last == rows.k_month])
    keep = [c for c in rows.columns if c not in summed]
    return joined.select(*[joined[c] if c not in ("k_uid", "k_period") else last[c]
                           for c in keep],
                         **{c: joined[f"{c}__sum"] for c in summed})


def aggregation(plan: Plan, windows: list[PeriodWindow], in_range: Any, aware: bool) -> Any:
    """The whole query: one row per period × state × segment, ordered by those keys."""
    ibis = plan.ibis
    events = event_table(plan, windows, in_range, aware).rename(k_euser="k_user",
                                                                k_eperiod="k_period")
    users = user_table(plan, windows)
    joined = users.outer_join(events, [users.k_uid == events.k_euser,
                                       users.k_period == events.k_eperiod])
    zero = ibis.literal(0, type="int64")
    money = {c: joined[c].fill_null(zero) for c in events.columns
             if c not in ("k_euser", "k_eperiod")}
    period = joined.k_period.fill_null(joined.k_eperiod)
    orphan = joined.k_uid.isnull()
    new = None
    if "k_signup" in users.columns:
        new = ibis.cases(*[((period == w.label) & (joined.k_signup >= ibis.date(w.start)) &
                            (joined.k_signup < ibis.date(w.end)), True) for w in windows],
                         else_=False)
    names = condition_names(plan, joined, money, new)
    d = plan.definition
    active = condition_expr(plan, d.active, names, "active") if d.active else \
        ibis.literal(True)
    paying = condition_expr(plan, d.paying, names, "paying") if d.paying else \
        money["k_rev"] > 0
    state = ibis.cases((orphan, "orphan"), (active.fill_null(False), "active"),
                       else_="inactive")
    keys = {"k_period": period, "k_state": state}
    for dim in plan.dims:
        keys[f"k_dim_{dim}"] = joined[f"k_dim_{dim}"]
    one = ibis.literal(1, type="int64")
    metrics: dict[str, Any] = {
        "k_rows": one,
        "m_revenue_all": money["k_rev"],
        "k_example_user": joined.k_euser,
    }
    for measure in plan.measures:
        metrics[f"m_{measure}"] = _measure(plan, measure, joined, money, paying, new)
    table = joined.select(**keys, **{f"x_{i}": v for i, v in enumerate(metrics.values())})
    grouped = table.group_by(list(keys)).aggregate(**{
        name: _reduce(name, table[f"x_{i}"])
        for i, name in enumerate(metrics)})
    return grouped.order_by(list(keys))


def _reduce(name: str, column: Any) -> Any:
    """How a metric is combined over a group: an example user, distinct accounts, or a sum."""
    if name == "k_example_user":
        return column.min()
    if name == "m_accounts":
        return column.nunique()
    return column.sum().cast("int64")


def _measure(plan: Plan, measure: str, joined: Any, money: dict[str, Any], paying: Any,
             new: Any) -> Any:
    """One user-period row's contribution to ``measure``.

    ``measure`` is one the vocabulary provides (:func:`~kpitree.io.events.plan.make_plan`
    checked it).
    """
    ibis = plan.ibis
    one = ibis.literal(1, type="int64")
    zero = ibis.literal(0, type="int64")

    def flag(test: Any) -> Any:
        return ibis.ifelse(test.fill_null(False), one, zero)

    if measure == "active_users":
        return ibis.ifelse(joined.k_uid.isnull(), zero, one)
    if measure == "paying_users":
        return flag(paying)
    if measure == "new_users":
        return flag(new)
    if measure == "accounts":
        return joined.k_account
    if measure == "seats":
        return joined.k_seats.fill_null(zero)
    if measure == "revenue":
        return money["k_rev"]
    if measure == "new_revenue":
        return ibis.ifelse(new, money["k_rev"], zero)
    if measure in EVENT_MEASURES:
        return money[f"k_{measure}"]
    for t in plan.definition.revenue.types:
        if measure == f"{t}_revenue":
            return money[f"k_rev_{t}"]
        if measure == f"{t}_users":
            return flag(money[f"k_rev_{t}"] > 0)
    raise AssertionError(measure)  # the vocabulary was checked by make_plan
