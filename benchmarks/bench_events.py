"""Raw events to ARPU: kpitree against a hand-written pandas notebook and a bare DuckDB query.

    .venv/bin/python benchmarks/bench_events.py --events 10000000          # generates if needed
    .venv/bin/python benchmarks/bench_events.py --events 100000000 --skip pandas

Each approach runs in its own fresh Python process, so its end-to-end wall time (imports,
reading, checking, aggregating and, for kpitree, explaining) and its peak resident memory
(``ru_maxrss``, DuckDB's memory included) are its own. The three produce the same period × tier
aggregate of ``trees/arpu_blended.yaml`` for 2026-09 and 2026-10 — checked to the cent — and
print side by side:

- ``kpitree``: ``kpitree.explain`` path on the folder: checks (nulls, kinds, currencies, duplicate
  ids, one row per user-month, orphan events), the aggregate, the attribution;
- ``duckdb``: one hand-written SQL query over the Parquet files, no checks, no attribution;
- ``pandas``: the notebook way — read the Parquet columns into DataFrames, filter, group, merge.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "trees" / "arpu_blended.yaml"
BASE, COMPARE = "2026-09", "2026-10"
COLUMNS = ["period", "tier", "active_users", "addon_users", "subscription_revenue",
           "addon_revenue", "usage_revenue", "one_time_revenue"]

BARE_SQL = """
WITH ev AS (
  SELECT user_id, strftime(ts AT TIME ZONE 'UTC', '%Y-%m') AS period, type,
         CASE WHEN kind = 'charge' AND status = 'paid' THEN amount_cents
              WHEN kind IN ('refund', 'chargeback') THEN -amount_cents ELSE 0 END AS cents
  FROM read_parquet('{folder}/events/*.parquet')
  WHERE ts >= TIMESTAMPTZ '2026-09-01 00:00:00+00' AND ts < TIMESTAMPTZ '2026-11-01 00:00:00+00'
), per_user AS (
  SELECT user_id, period,
         SUM(cents) AS revenue,
         SUM(CASE WHEN type = 'subscription' THEN cents ELSE 0 END) AS subscription,
         SUM(CASE WHEN type = 'addon' THEN cents ELSE 0 END) AS addon,
         SUM(CASE WHEN type = 'usage' THEN cents ELSE 0 END) AS usage,
         SUM(CASE WHEN type = 'one_time' THEN cents ELSE 0 END) AS one_time
  FROM ev GROUP BY ALL
), u AS (
  SELECT user_id, strftime(month, '%Y-%m') AS period, tier, logins
  FROM read_parquet('{folder}/users/*.parquet')
  WHERE month IN (DATE '2026-09-01', DATE '2026-10-01')
)
SELECT u.period, u.tier, COUNT(*) AS active_users,
       SUM(CASE WHEN COALESCE(addon, 0) > 0 THEN 1 ELSE 0 END) AS addon_users,
       SUM(COALESCE(subscription, 0))::BIGINT AS subscription_revenue,
       SUM(COALESCE(addon, 0))::BIGINT AS addon_revenue,
       SUM(COALESCE(usage, 0))::BIGINT AS usage_revenue,
       SUM(COALESCE(one_time, 0))::BIGINT AS one_time_revenue
FROM u LEFT JOIN per_user p USING (user_id, period)
WHERE u.logins >= 1 OR COALESCE(p.revenue, 0) > 0
GROUP BY ALL ORDER BY 1, 2
"""


def run_kpitree(folder: Path) -> list[list]:
    import kpitree
    from kpitree.io.events import aggregate
    from kpitree.io.sources import connect

    tree = kpitree.load_tree(TREE)
    agg = aggregate(tree, connect(folder), periods=[BASE, COMPARE])
    result = kpitree.explain(tree, agg.frame, base=BASE, compare=COMPARE)
    assert abs(result.effects["value"].sum() - result.delta) < 1e-9
    return agg.cents[COLUMNS].values.tolist()


def run_duckdb(folder: Path) -> list[list]:
    import duckdb

    con = duckdb.connect()
    return [list(row) for row in con.execute(BARE_SQL.format(folder=folder)).fetchall()]


def run_pandas(folder: Path) -> list[list]:
    import pandas as pd

    events = pd.read_parquet(folder / "events",
                             columns=["user_id", "ts", "type", "kind", "status", "amount_cents"])
    events = events[(events["ts"] >= pd.Timestamp(f"{BASE}-01", tz="UTC")) &
                    (events["ts"] < pd.Timestamp("2026-11-01", tz="UTC"))].copy()
    events["period"] = events["ts"].dt.strftime("%Y-%m")
    kind = events["kind"].astype(str)
    paid = (kind == "charge") & (events["status"].astype(str) == "paid")
    back = kind.isin(["refund", "chargeback"])
    events["cents"] = events["amount_cents"].where(paid, 0) - events["amount_cents"].where(back, 0)
    events["type"] = events["type"].astype(str)
    per_type = events.pivot_table(index=["user_id", "period"], columns="type", values="cents",
                                  aggfunc="sum", fill_value=0)
    per_type["revenue"] = per_type.sum(axis=1)
    users = pd.read_parquet(folder / "users", columns=["user_id", "month", "tier", "logins"])
    users["period"] = pd.to_datetime(users["month"]).dt.strftime("%Y-%m")
    users = users[users["period"].isin([BASE, COMPARE])]
    merged = users.merge(per_type.reset_index(), on=["user_id", "period"], how="left").fillna(
        {c: 0 for c in [*per_type.columns]})
    merged = merged[(merged["logins"] >= 1) | (merged["revenue"] > 0)]
    merged["tier"] = merged["tier"].astype(str)
    merged["addon_user"] = (merged["addon"] > 0).astype(int)
    out = merged.groupby(["period", "tier"]).agg(
        active_users=("user_id", "size"), addon_users=("addon_user", "sum"),
        subscription_revenue=("subscription", "sum"), addon_revenue=("addon", "sum"),
        usage_revenue=("usage", "sum"), one_time_revenue=("one_time", "sum")).reset_index()
    return [[r[0], r[1], *(int(v) for v in r[2:])] for r in out.values.tolist()]


APPROACHES = {"kpitree": run_kpitree, "duckdb": run_duckdb, "pandas": run_pandas}


def child(name: str, folder: Path) -> None:
    started = time.perf_counter()
    rows = APPROACHES[name](folder)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB on Linux
    print(json.dumps({"seconds": seconds, "peak_mib": peak,
                      "rows": [[str(r[0]), str(r[1]), *(int(v) for v in r[2:])] for r in rows]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--folder", type=Path, default=None,
                        help="generated folder (default: out/events_<size>)")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(APPROACHES))
    parser.add_argument("--repeat", type=int, default=1, help="runs per approach (best kept)")
    parser.add_argument("--child", choices=list(APPROACHES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.folder or ROOT / "out" / f"events_{args.events // 1_000_000}m"
    if args.child:
        child(args.child, folder)
        return
    if not (folder / "planted.json").exists():
        from kpitree.io.generate import generate

        started = time.perf_counter()
        made = generate(folder, events=args.events)
        print(f"generated {made.events:,} events in {time.perf_counter() - started:.1f} s")
    planted = json.loads((folder / "planted.json").read_text())
    print(f"{planted['events']:,} events, {planted['user_months']:,} user-months in {folder}")
    results = {}
    for name in APPROACHES:
        if name in args.skip:
            continue
        best = None
        for _ in range(args.repeat):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, __file__, "--child", name, "--folder",
                                   str(folder)], capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            if done.returncode:
                print(f"{name}: failed: {done.stderr.strip().splitlines()[-1]}")
                break
            measured = json.loads(done.stdout.strip().splitlines()[-1])
            measured["wall"] = wall
            if best is None or wall < best["wall"]:
                best = measured
        if best is not None:
            results[name] = best
    reference = results.get("duckdb", next(iter(results.values())))["rows"]
    print(f"\n{'approach':<10}{'end-to-end s':>14}{'work s':>10}{'peak MiB':>11}"
          f"{'× duckdb':>10}  same aggregate")
    bare = results.get("duckdb", {}).get("wall")
    for name, r in results.items():
        ratio = f"{r['wall'] / bare:.2f}" if bare else "—"
        same = "yes" if r["rows"] == reference else "NO"
        print(f"{name:<10}{r['wall']:>14.2f}{r['seconds']:>10.2f}{r['peak_mib']:>11.0f}"
              f"{ratio:>10}  {same}")


if __name__ == "__main__":
    main()
