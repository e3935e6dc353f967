"""Benchmark: kpitree.explain against a hand-written pandas notebook, side by side.

The baseline is what an analyst writes by hand: group by segment, shares and ARPU per period,
then Kitagawa's mix and rate per segment — no driver split, no validation, no result object.
kpitree does more (validation, drivers through the formula, tidy outputs, the exactness check),
so the ratio says what that costs.

Run: .venv/bin/python benchmarks/bench_explain.py [--sizes 1000 10000 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

import kpitree

TREE = Path(__file__).resolve().parents[1] / "trees" / "saas_arpu.yaml"


def synthetic(segments: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for period in ("2026-09", "2026-10"):
        users = rng.integers(1, 2000, segments).astype(float)
        adopters = np.floor(users * rng.uniform(0, 0.5, segments))
        frames.append(pd.DataFrame({
            "period": period,
            "tier": [f"t{i % 50}" for i in range(segments)],
            "region": [f"r{i // 50}" for i in range(segments)],
            "active_users": users, "addon_users": adopters,
            "base_revenue": users * rng.uniform(10, 100, segments),
            "addon_revenue": adopters * rng.uniform(5, 50, segments),
            "usage_revenue": users * rng.uniform(0, 20, segments),
        }))
    return pd.concat(frames, ignore_index=True)


def pandas_notebook(data: pd.DataFrame) -> tuple[float, float]:
    """The hand-written approach: Kitagawa totals per segment with groupby."""
    data = data.assign(revenue=data["base_revenue"] + data["addon_revenue"]
                       + data["usage_revenue"])
    cells = data.groupby(["period", "tier", "region"])[["active_users", "revenue"]].sum()
    wide = cells.unstack("period").fillna(0.0)
    users0, users1 = wide[("active_users", "2026-09")], wide[("active_users", "2026-10")]
    rev0, rev1 = wide[("revenue", "2026-09")], wide[("revenue", "2026-10")]
    w0, w1 = users0 / users0.sum(), users1 / users1.sum()
    r0, r1 = rev0 / users0, rev1 / users1
    mix = ((w1 - w0) * (r0 + r1) / 2).sum()
    rate = ((r1 - r0) * (w0 + w1) / 2).sum()
    return float(mix), float(rate)


def best_of(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tree = kpitree.load_tree(TREE)
    print(f"{'segments':>10} {'pandas notebook':>16} {'kpitree explain':>16} {'ratio':>7}"
          f"  {'kpitree (tier × region)':>24}")
    for size in args.sizes:
        data = synthetic(size)
        data["segment"] = data["tier"] + "/" + data["region"]
        baseline = best_of(args.repeat, lambda d=data: pandas_notebook(d))
        flat = best_of(args.repeat, lambda d=data: kpitree.explain(
            tree, d, base="2026-09", compare="2026-10", by=["segment"]))
        nested = best_of(args.repeat, lambda d=data: kpitree.explain(
            tree, d, base="2026-09", compare="2026-10", by=["tier", "region"]))
        result = kpitree.explain(tree, data, base="2026-09", compare="2026-10",
                                 by=["segment"])
        mix, rate = pandas_notebook(data)
        assert np.isclose(result.totals["mix"], mix) and np.isclose(result.totals["rate"], rate)
        print(f"{size:>10,} {baseline:>15.3f}s {flat:>15.3f}s {flat / baseline:>6.1f}×"
              f"  {nested:>23.3f}s")


if __name__ == "__main__":
    main()
