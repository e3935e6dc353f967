"""Benchmark: ``kpitree drivers`` at scale, and side by side with wise-pizza on planted data.

The data are user-level rows from :func:`kpitree.io.generate.planted_users` (six dimensions,
≈ 11,500 combinations in the compare period at 1M users) with four known drivers planted: a
price rise in ``tier=pro & region=EU``, a mix shift out of ``tier=enterprise``, a price and
usage cut in ``region=APAC & device=android``, and a newly launched ``tier=business``.

kpitree's search (:mod:`kpitree.analysis.drivers`) names *units*: launched or discontinued
values first, then, greedily by score, mix shifts along one dimension (conditional on the
level-setting dimensions, each past a noise test — here ``tier mix (enterprise)``) and rate
pockets of one or two conditions or a group of values (each past a noise test), plus an exact
``rest``. A planted driver is *found* when a reported item has its conditions and its sign
(the kind is not scored here; ``benchmarks/bench_discovery.py`` scores it). For each tool:
runtime (best of ``--repeat``, in-process — the fresh-process comparison is
``bench_discovery.py``), whether the items (plus kpitree's rest) add up to the real change in
ARPU, the planted drivers found, and whether the launched tier appears; with ``--bootstrap N``
also the time of the search with N replicates.
wise-pizza (``explain_changes_in_average``, PyPI ``wise-pizza``) is **not** a
dependency of kpitree; install it in a separate environment to include it, e.g.::

    python -m venv /tmp/wpvenv && /tmp/wpvenv/bin/pip install wise-pizza -e .
    /tmp/wpvenv/bin/python benchmarks/bench_drivers.py

Without it the script runs kpitree alone and says so.

Run: .venv/bin/python benchmarks/bench_drivers.py [--users 1000000] [--seeds 0 1 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

import kpitree
from kpitree.io.generate import DIMENSIONS, PLANTED, planted_users

TREE = Path(__file__).resolve().parents[1] / "trees" / "saas_arpu.yaml"
DIMS = list(DIMENSIONS)
PLANTED_KEYS = {frozenset(p.conditions): p.sign for p in PLANTED}


def best_of(repeat: int, work):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def score(segments: list[tuple[dict, float]]) -> tuple[int, int, bool]:
    """(planted found with the right sign, segments reported, launched tier present)."""
    found = {frozenset(conditions.items()): value for conditions, value in segments}
    hits = sum(1 for key, sign in PLANTED_KEYS.items()
               if key in found and np.sign(found[key]) == sign)
    launch = any(conditions.get("tier") == "business" for conditions, _ in segments)
    return hits, len(segments), launch


def run_kpitree(tree, users: pd.DataFrame, repeat: int) -> dict:
    seconds, result = best_of(repeat, lambda: kpitree.drivers(
        tree, users, base="p0", compare="p1", dims=DIMS))
    rows = result.found[result.found["reason"] != "rest"]
    segments = [(dict(r.conditions), r.contribution) for r in rows.itertuples()]
    hits, count, launch = score(segments)
    rest = float(result.found.loc[result.found["reason"] == "rest", "contribution"].sum())
    return {"tool": "kpitree drivers", "seconds": seconds, "segments": count, "hits": hits,
            "launch": launch, "delta": result.delta, "sum": float(rows["contribution"].sum()),
            "rest": rest, "labels": [r.segment for r in rows.itertuples()]}


def per_period(users: pd.DataFrame, period: str) -> pd.DataFrame:
    rows = users[users["period"] == period]
    revenue = rows["base_revenue"] + rows["addon_revenue"] + rows["usage_revenue"]
    frame = rows[DIMS].assign(users=rows["active_users"], revenue=revenue)
    return frame.groupby(DIMS, observed=True, as_index=False)[["users", "revenue"]].sum()


def run_wise_pizza(users: pd.DataFrame, repeat: int, solver: str, delta: float) -> dict:
    from wise_pizza import explain_changes_in_average

    def work():
        df1, df2 = per_period(users, "p0"), per_period(users, "p1")
        return explain_changes_in_average(df1, df2, dims=DIMS, total_name="revenue",
                                          size_name="users", max_segments=5, max_depth=2,
                                          solver=solver)

    seconds, fitted = best_of(repeat, work)
    segments = [(dict(s["segment"]), float(s["impact"])) for s in fitted.segments]
    hits, count, launch = score(segments)
    total = sum(value for _, value in segments)
    return {"tool": f"wise-pizza ({solver})", "seconds": seconds, "segments": count,
            "hits": hits, "launch": launch, "delta": delta, "sum": total,
            "rest": delta - total,
            "labels": [", ".join(f"{k}={v}" for k, v in s.items()) for s, _ in segments]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--wise-pizza-repeat", type=int, default=1,
                        help="runs of each wise-pizza solver (it takes far longer; default 1)")
    parser.add_argument("--solvers", nargs="*", default=["lasso", "tree"],
                        help="wise-pizza solvers to run (default: lasso tree)")
    parser.add_argument("--bootstrap", type=int, default=200,
                        help="also time drivers with this many bootstrap replicates (0: skip)")
    args = parser.parse_args()
    tree = kpitree.load_tree(TREE)
    try:
        import wise_pizza  # noqa: F401

        have_wise_pizza = True
    except ImportError:
        have_wise_pizza = False
        print("wise-pizza is not installed in this environment: kpitree only "
              "(see the module docstring for a separate environment)")
    print(f"{args.users:,} users × {len(DIMS)} dimensions; {os.cpu_count()} CPUs; kpitree "
          f"best of {args.repeat}, wise-pizza best of {args.wise_pizza_repeat}")
    lines = []
    for seed in args.seeds:
        users = planted_users(args.users, seed=seed)
        cells = users[users["period"] == "p1"].groupby(DIMS, observed=True).ngroups
        print(f"\nseed {seed}: {cells:,} combinations in p1")
        results = [run_kpitree(tree, users, args.repeat)]
        if args.bootstrap and seed == args.seeds[0]:
            seconds, _ = best_of(1, lambda u=users: kpitree.drivers(
                tree, u, base="p0", compare="p1", dims=DIMS, replicates=args.bootstrap))
            print(f"  kpitree drivers with {args.bootstrap} bootstrap replicates: "
                  f"{seconds:.2f} s")
        if have_wise_pizza:
            for solver in args.solvers:
                results.append(run_wise_pizza(users, args.wise_pizza_repeat, solver,
                                              results[0]["delta"]))
        for r in results:
            exact = abs(r["sum"] + (r["rest"] if r["tool"].startswith("kpitree") else 0.0)
                        - r["delta"]) <= 1e-9 * 100
            lines.append((seed, r))
            print(f"  {r['tool']:<22} {r['seconds']:7.2f} s  segments {r['segments']}  "
                  f"planted found {r['hits']}/{len(PLANTED_KEYS)}  launched tier "
                  f"{'yes' if r['launch'] else 'NO'}  Δ {r['delta']:+.4f}  Σ segments "
                  f"{r['sum']:+.4f}  remainder {r['rest']:+.4f}"
                  + ("  (segments + rest = Δ exactly)" if exact and r["tool"].startswith(
                      "kpitree") else ""))
            print(f"      {'; '.join(r['labels'])}")


if __name__ == "__main__":
    main()
