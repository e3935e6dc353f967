"""Raw events to ARPU: kpitree against a bare DuckDB query, a polars script and a pandas script.

    .venv/bin/python benchmarks/bench_events.py --events 10000000          # generates if needed
    .venv/bin/python benchmarks/bench_events.py --events 100000000 --repeat 1 --skip pandas

Each approach runs in its own fresh Python process, interleaved (round after round, so a change
in the machine's load hits all of them alike), and reports the median over ``--repeat`` rounds
of its wall time and its CPU time (user + system of the whole process, DuckDB's and polars'
threads included: what the machine spent), with its peak resident memory. All produce the same
period × tier aggregate of ``trees/arpu_blended.yaml`` for 2026-09 and 2026-10 — checked to the
cent against the bare query — and the machine's load average is printed before and after.

- ``kpitree``: ``kpitree explain`` on the folder, the command itself (in-process, so its
  figures are the command's): imports, every data check (NULLs, kinds, currencies, duplicate
  event ids, one row per user-month, orphan events), the aggregate, the attribution and its
  text table. Its aggregate is made again after the measurement (not counted) to compare;
- ``duckdb``: one hand-written SQL query over the Parquet files, no checks, no attribution;
- ``polars``: the same as a lazy polars query (only the needed columns, the time filter pushed
  into the scan);
- ``pandas``: what a good analyst would write — pyarrow reads only the needed columns and, by
  the time filter on the row-group statistics, only the two months; categoricals; groupby and
  unstack (no ``pivot_table``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "trees" / "arpu_blended.yaml"
BASE, COMPARE = "2026-09", "2026-10"
COLUMNS = ["period", "tier", "active_users", "addon_users", "subscription_revenue",
           "addon_revenue", "usage_revenue", "one_time_revenue"]
TYPES = ["subscription", "addon", "usage", "one_time"]
LO = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
HI = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
OCT = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
MONTHS = [dt.date(2026, 9, 1), dt.date(2026, 10, 1)]

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
    """``kpitree explain TREE FOLDER --base … --compare …`` — the command itself, in-process
    (:func:`kpitree.cli.main.main`, its table printed to a discarded buffer)."""
    import contextlib
    import io

    from kpitree.cli.main import main

    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["explain", str(TREE), str(folder), "--base", BASE, "--compare", COMPARE])
    if code:
        raise SystemExit(f"kpitree explain exited with {code}")
    return []  # the aggregate to compare is made after the measurement: check_kpitree


def check_kpitree(folder: Path) -> list[list]:
    """The aggregate ``kpitree explain`` explained, to compare with the others' (not timed)."""
    from kpitree.core.tree import load_tree
    from kpitree.io.events import aggregate
    from kpitree.io.sources import connect

    with connect(folder) as source:
        agg = aggregate(load_tree(TREE), source, periods=[BASE, COMPARE])
    return agg.cents[COLUMNS].values.tolist()


def run_duckdb(folder: Path) -> list[list]:
    import duckdb

    con = duckdb.connect()
    return [list(row) for row in con.execute(BARE_SQL.format(folder=folder)).fetchall()]


def run_polars(folder: Path) -> list[list]:
    import polars as pl

    events = (
        pl.scan_parquet(f"{folder}/events/*.parquet")
        .select("user_id", "ts", "type", "kind", "status", "amount_cents")
        .filter((pl.col("ts") >= LO) & (pl.col("ts") < HI))
        .with_columns(
            period=pl.when(pl.col("ts") < OCT).then(pl.lit(BASE)).otherwise(pl.lit(COMPARE)),
            cents=pl.when((pl.col("kind") == "charge") & (pl.col("status") == "paid"))
            .then(pl.col("amount_cents"))
            .when(pl.col("kind").is_in(["refund", "chargeback"]))
            .then(-pl.col("amount_cents")).otherwise(0))
        .group_by("user_id", "period")
        .agg(pl.col("cents").sum().alias("revenue"),
             *[pl.col("cents").filter(pl.col("type") == t).sum().alias(t) for t in TYPES]))
    users = (
        pl.scan_parquet(f"{folder}/users/*.parquet")
        .select("user_id", "month", "tier", "logins")
        .filter(pl.col("month").is_in(MONTHS))
        .with_columns(period=pl.col("month").dt.strftime("%Y-%m"),
                      tier=pl.col("tier").cast(pl.String)))
    out = (
        users.join(events, on=["user_id", "period"], how="left")
        .with_columns(pl.col("revenue", *TYPES).fill_null(0))
        .filter((pl.col("logins") >= 1) | (pl.col("revenue") > 0))
        .group_by("period", "tier")
        .agg(pl.len().alias("active_users"),
             (pl.col("addon") > 0).sum().alias("addon_users"),
             *[pl.col(t).sum().alias(f"{t}_revenue") for t in TYPES])
        .sort("period", "tier")
        .collect())
    return [list(row) for row in out.select(COLUMNS).iter_rows()]


def run_pandas(folder: Path) -> list[list]:
    import pyarrow as pa
    import pyarrow.dataset as ds

    events_set = ds.dataset(folder / "events", format="parquet")
    ts_type = events_set.schema.field("ts").type
    when = ds.field("ts")
    events = events_set.to_table(
        columns=["user_id", "ts", "type", "kind", "status", "amount_cents"],
        filter=(when >= pa.scalar(LO, ts_type)) & (when < pa.scalar(HI, ts_type)),
    ).to_pandas()
    events["period"] = (events["ts"] >= OCT).map({False: BASE, True: COMPARE})
    kind = events["kind"]
    paid = (kind == "charge") & (events["status"] == "paid")
    back = kind.isin(["refund", "chargeback"])
    events["cents"] = events["amount_cents"].where(paid, 0) - events["amount_cents"].where(back, 0)
    per_type = (events.groupby(["user_id", "period", "type"], observed=True)["cents"].sum()
                .unstack("type", fill_value=0))
    for t in TYPES:
        if t not in per_type.columns:
            per_type[t] = 0
    per_type["revenue"] = per_type[TYPES].sum(axis=1)
    users_set = ds.dataset(folder / "users", format="parquet")
    month_type = users_set.schema.field("month").type
    users = users_set.to_table(
        columns=["user_id", "month", "tier", "logins"],
        filter=ds.field("month").isin(pa.array(MONTHS, month_type)),
    ).to_pandas()
    users["period"] = (users["month"] >= MONTHS[1]).map({False: BASE, True: COMPARE})
    merged = users.merge(per_type.reset_index(), on=["user_id", "period"], how="left")
    merged[[*TYPES, "revenue"]] = merged[[*TYPES, "revenue"]].fillna(0)
    merged = merged[(merged["logins"] >= 1) | (merged["revenue"] > 0)]
    merged["addon_user"] = merged["addon"] > 0
    out = merged.groupby(["period", "tier"], observed=True).agg(
        active_users=("user_id", "size"), addon_users=("addon_user", "sum"),
        subscription_revenue=("subscription", "sum"), addon_revenue=("addon", "sum"),
        usage_revenue=("usage", "sum"), one_time_revenue=("one_time", "sum")).reset_index()
    out["tier"] = out["tier"].astype(str)
    out = out.sort_values(["period", "tier"])
    return [[r[0], r[1], *(int(v) for v in r[2:])] for r in out[COLUMNS].values.tolist()]


APPROACHES = {"kpitree": run_kpitree, "duckdb": run_duckdb, "polars": run_polars,
              "pandas": run_pandas}


def child(name: str, folder: Path) -> None:
    rows = APPROACHES[name](folder)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    if name == "kpitree":  # the command printed no aggregate: make it again, untimed
        rows = check_kpitree(folder)
    print(json.dumps({"cpu": cpu, "untimed": time.perf_counter() - started,
                      "peak_mib": usage.ru_maxrss / 1024,  # MiB on Linux
                      "rows": [[str(r[0]), str(r[1]), *(int(v) for v in r[2:])] for r in rows]}))


def measure(name: str, folder: Path) -> dict | None:
    """One fresh process of ``name``: its wall time, CPU time, peak memory and rows."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", name, "--folder", str(folder)],
                          capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - started
    if done.returncode:
        print(f"{name}: failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        return None
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    measured["wall"] = wall - measured.pop("untimed")  # less the untimed check afterwards
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--folder", type=Path, default=None,
                        help="generated folder (default: out/events_<size>)")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(APPROACHES))
    parser.add_argument("--repeat", type=int, default=3, help="rounds (the median is kept)")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
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
    load_before = os.getloadavg()
    print(f"{planted['events']:,} events, {planted['user_months']:,} user-months in {folder}; "
          f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before")
    names = [n for n in APPROACHES if n not in args.skip]
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for _ in range(args.repeat):
        for name in names:  # interleaved: each round runs every approach once
            measured = measure(name, folder)
            if measured is not None:
                runs[name].append(measured)
    load_after = os.getloadavg()
    results = {}
    for name, done in runs.items():
        if done:
            results[name] = {"wall": statistics.median(r["wall"] for r in done),
                             "cpu": statistics.median(r["cpu"] for r in done),
                             "peak_mib": max(r["peak_mib"] for r in done),
                             "rows": done[0]["rows"],
                             "same_every_run": all(r["rows"] == done[0]["rows"] for r in done)}
    reference = results.get("duckdb", next(iter(results.values())))["rows"]
    bare = results.get("duckdb")
    print(f"\n{'approach':<10}{'wall s':>9}{'CPU s':>9}{'peak MiB':>10}{'÷ duckdb wall':>15}"
          f"{'÷ duckdb CPU':>14}  same aggregate")
    for name, r in results.items():
        ratios = (f"{r['wall'] / bare['wall']:>15.2f}{r['cpu'] / bare['cpu']:>14.2f}" if bare
                  else f"{'—':>15}{'—':>14}")
        same = "yes" if r["rows"] == reference and r["same_every_run"] else "NO"
        print(f"{name:<10}{r['wall']:>9.2f}{r['cpu']:>9.2f}{r['peak_mib']:>10.0f}{ratios}  {same}")
    print(f"\nmedians of {args.repeat} interleaved rounds; load average {load_before[0]:.2f} "
          f"before, {load_after[0]:.2f} after")
    if args.json:
        args.json.write_text(json.dumps({
            "events": planted["events"], "repeat": args.repeat,
            "load": [load_before[0], load_after[0]],
            "results": {n: {k: v for k, v in r.items() if k != "rows"}
                        for n, r in results.items()},
            "same": {n: r["rows"] == reference for n, r in results.items()}}, indent=2))


if __name__ == "__main__":
    main()
