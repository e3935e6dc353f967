"""Dimensions that change within a period: the driver search counts a user once per period,
at the period end, as the raw-events layer does.

A hand-made quarterly log: user 1 upgrades basic → pro in June (inside Q2), user 2 downgrades
pro → basic in August (inside Q3). The data layer takes the users row at period end (one
user-period, its plan of June or September) and sums the quarter's revenue; ``drivers`` on
user-month rows with ``user_id=`` makes the same user-periods (:func:`one_row_per_user`), so
both paths name the same units with the same contributions, to the cent.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import kpitree
from kpitree.analysis.drivers import drivers
from kpitree.io.events import aggregate
from kpitree.io.sources import connect

TREE = """\
name: quarterly
root: arpu
weight: users
segments: [tier]
unit: USD
data:
  period: quarter
  revenue: {types: [subscription]}
  users: {table: users}
  events: {table: events}
nodes:
  arpu: {formula: revenue / users}
  users: {column: active_users}
  revenue: {column: subscription_revenue}
"""
PRICE = {"basic": 1000, "pro": 3000}  # cents a month
MONTHS = [dt.date(2026, m, 1) for m in range(4, 10)]  # Q2 and Q3
# user → (region, plan per month Apr … Sep)
PLANS = {
    1: ("EU", ["basic", "basic", "pro", "pro", "pro", "pro"]),  # upgrade inside Q2
    2: ("EU", ["pro", "pro", "pro", "pro", "basic", "basic"]),  # downgrade inside Q3
    3: ("US", ["basic"] * 6),
    4: ("US", ["pro"] * 6),
    5: ("EU", ["basic"] * 3 + ["pro"] * 3),  # upgrade between the quarters
    6: ("US", ["basic"] * 6),
}


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quarterly")
    users, events = [], []
    for user, (region, plans) in PLANS.items():
        for month, plan in zip(MONTHS, plans, strict=True):
            users.append({"user_id": user, "month": month, "tier": plan, "region": region,
                          "signup_date": dt.date(2026, 1, 1), "account_id": user, "seats": 1,
                          "logins": 5})
            amount = PRICE[plan] + (500 * user if month.month >= 7 and plan == "pro" else 0)
            events.append({"event_id": len(events) + 1, "user_id": user,
                           "ts": pd.Timestamp(month, tz="UTC") + pd.Timedelta(hours=3),
                           "type": "subscription", "kind": "charge", "status": "paid",
                           "amount_cents": amount, "discount_cents": 0, "currency": "USD"})
    for name, rows in (("users", users), ("events", events)):
        (folder / name).mkdir()
        pd.DataFrame(rows).to_parquet(folder / name / "part-0.parquet")
    tree_file = folder / "quarterly.yaml"
    tree_file.write_text(TREE)
    return folder, kpitree.load_tree(tree_file), pd.DataFrame(users), pd.DataFrame(events)


def _user_months(users: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """User-month rows labelled with their quarter, in time order (what an analyst exports)."""
    revenue = events.assign(month=events["ts"].dt.tz_convert(None).dt.to_period("M")
                            .dt.to_timestamp().dt.date).groupby(["user_id", "month"])[
        "amount_cents"].sum() / 100
    rows = users.copy()
    rows["period"] = [f"{m.year}-Q{(m.month - 1) // 3 + 1}" for m in rows["month"]]
    rows["active_users"] = 1.0
    rows["subscription_revenue"] = [revenue[(u, m)] for u, m in zip(rows["user_id"],
                                                                     rows["month"], strict=True)]
    return rows.sort_values(["month", "user_id"]).reset_index(drop=True)


def _units(result) -> dict[str, tuple[str, float]]:
    return dict(zip(result.found["segment"],
                    zip(result.found["kind"], result.found["contribution"], strict=True),
                    strict=True))


def test_a_plan_change_inside_a_quarter_counts_once_at_quarter_end(log):
    folder, tree, users, events = log
    raw = aggregate(tree, connect(folder), periods=["2026-Q2", "2026-Q3"],
                    by=["tier", "region"])
    # the data layer: six user-periods a quarter, user 1 on pro in Q2, user 2 on basic in Q3
    assert raw.frame.groupby("period")["active_users"].sum().tolist() == [6.0, 6.0]
    from_raw = drivers(tree, raw.frame, base="2026-Q2", compare="2026-Q3",
                       dims=["tier", "region"], min_effect=0.0)
    months = _user_months(users, events)
    in_memory = drivers(tree, months, base="2026-Q2", compare="2026-Q3",
                        dims=["tier", "region"], min_effect=0.0, user_id="user_id")
    assert in_memory.base.weight == from_raw.base.weight == 6.0
    expected, got = _units(from_raw), _units(in_memory)
    assert list(got) == list(expected)
    for segment, (kind, value) in expected.items():
        assert got[segment][0] == kind
        assert abs(got[segment][1] - value) < 1e-9, segment
    assert abs(in_memory.delta - from_raw.delta) < 1e-9
    # without the user id, every user-month row is a user: 18 a quarter, another story
    by_row = drivers(tree, months, base="2026-Q2", compare="2026-Q3",
                     dims=["tier", "region"], min_effect=0.0)
    assert by_row.base.weight == 18.0


def test_the_user_counts_once_in_the_bootstrap_too(log):
    """A user's rows share one hashed count per replicate: with user_id the replicates
    resample six users a quarter, never a month of one user."""
    _, tree, users, events = log
    months = _user_months(users, events)
    result = drivers(tree, months, base="2026-Q2", compare="2026-Q3", dims=["tier", "region"],
                     user_id="user_id", replicates=200, seed=2)
    low, high = result.intervals.totals["delta"]
    assert low <= result.delta <= high
    assert np.isfinite([low, high]).all() and low < high


def test_user_id_is_not_a_dimension(log):
    _, tree, users, events = log
    with pytest.raises(kpitree.MethodError, match="user_id 'user_id' is also one of the dims"):
        drivers(tree, _user_months(users, events), base="2026-Q2", compare="2026-Q3",
                dims=["tier", "user_id"], user_id="user_id")
