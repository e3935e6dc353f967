"""Benchmark: ``kpitree drivers`` against wise-pizza as whole processes, on data neither was
tuned on.

Data: the generators of :mod:`kpitree.io.generate.planted` (``issue``: 8 dimensions with a
launched plan, a uniform billing shift, an iOS usage rise and a partner × LATAM price cut;
``correlated``: correlated dimensions, a new region, a contract shift, a premium × EU price
rise; ``overlap``: a mobile shift overlapping a mid-market × US price rise, a discontinued
market and an even distractor), several seeds. Each run is a **fresh process** — `python -m
kpitree drivers … --format json --bootstrap 0`, or a small wise-pizza script — timed from start
to exit, so import and compile time count as a user pays them.

Scored per planted effect (as the generators state them): *found* when a reported item has the
planted conditions and the right sign (for kpitree also the right kind: launch, mix or rate;
wise-pizza's ``split_fits`` mode reports size and average segments, matched to mix and rate).
*Precision* is found / reported. *Reconciliation*: whether the reported items (plus kpitree's
named rest) add up to the change, and by how much they miss.

wise-pizza (PyPI ``wise-pizza``) is not a dependency of kpitree; install it into the
environment that runs this script (``.venv/bin/pip install wise-pizza``), or the script runs
kpitree alone and says so.

Run: .venv/bin/python benchmarks/bench_discovery.py [--users 200000] [--seeds 0 1 2]
     [--generators issue correlated overlap] [--modes lasso tree split_fits]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kpitree.io.generate.planted import GENERATORS, dimensions

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "trees" / "saas_arpu.yaml"
REVENUE = ["base_revenue", "addon_revenue", "usage_revenue"]

WISE_PIZZA = r"""
import json, sys, pandas as pd
from wise_pizza import explain_changes_in_average
data, dims, mode = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
frames = [pd.read_parquet(f"{data}/p{t}.parquet") for t in (0, 1)]
options = dict(dims=dims, total_name="revenue", size_name="users", max_segments=5,
               max_depth=2)
if mode == "split_fits":
    fit = explain_changes_in_average(*frames, how="split_fits", **options)
    parts = [("mix", fit.s1), ("rate", fit.s2)]
else:
    parts = [("any", explain_changes_in_average(*frames, solver=mode, **options))]
out = []
for kind, sf in parts:
    for s in sf.segments:
        out.append({"kind": kind, "segment": {k: str(v) for k, v in dict(s["segment"]).items()},
                    "impact": float(s["impact"])})
print(json.dumps(out))
"""


def project_users(users: int, seed: int) -> tuple[pd.DataFrame, tuple]:
    """The project's own generator (the search *was* tuned on it), for comparison."""
    from kpitree.io.generate import PLANTED, planted_users

    return planted_users(users, seed=seed), PLANTED


def prepare(folder: Path, generator: str, users: int, seed: int) -> tuple[list[str], tuple]:
    """Write the user rows (kpitree) and the per-period aggregates (wise-pizza)."""
    frame, planted = (project_users(users, seed) if generator == "project"
                      else GENERATORS[generator](users, seed))
    dims = dimensions(frame)
    frame.to_parquet(folder / "users.parquet")
    for t in (0, 1):
        rows = frame[frame["period"] == f"p{t}"]
        agg = rows[dims].assign(users=rows["active_users"], revenue=rows[REVENUE].sum(axis=1))
        agg.groupby(dims, as_index=False)[["users", "revenue"]].sum().to_parquet(
            folder / f"p{t}.parquet")
    return dims, planted


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}…: {done.stderr[-2000:]}")
    return seconds, done.stdout


def run_kpitree(folder: Path, dims: list[str]) -> dict:
    seconds, out = timed([sys.executable, "-m", "kpitree", "drivers", str(TREE),
                          str(folder / "users.parquet"), "--base", "p0", "--compare", "p1",
                          "--dims", *dims, "--bootstrap", "0", "--format", "json"])
    payload = json.loads(out)
    items = [{"kind": s["kind"], "segment": s["conditions"], "impact": s["contribution"]}
             for s in payload["drivers"]["segments"] if s["kind"] != "rest"]
    rest = sum(s["contribution"] for s in payload["drivers"]["segments"] if s["kind"] == "rest")
    return {"seconds": seconds, "items": items, "rest": rest, "delta": payload["delta"]}


def run_wise_pizza(folder: Path, dims: list[str], mode: str, delta: float) -> dict:
    seconds, out = timed([sys.executable, "-c", WISE_PIZZA, str(folder), ",".join(dims), mode])
    return {"seconds": seconds, "items": json.loads(out), "rest": None, "delta": delta}


def score(run: dict, planted: tuple, *, strict_kind: bool) -> dict:
    found = 0
    for p in planted:
        want = dict(p.conditions)
        for item in run["items"]:
            kind_ok = (item["kind"] == p.kind or item["kind"] == "any"
                       or (not strict_kind and p.kind == "launch"))
            if kind_ok and item["segment"] == want and np.sign(item["impact"]) == p.sign:
                found += 1
                break
    total = sum(i["impact"] for i in run["items"]) + (run["rest"] or 0.0)
    return {"found": found, "planted": len(planted), "reported": len(run["items"]),
            "miss": run["delta"] - total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--generators", nargs="+", default=sorted(GENERATORS),
                        help="generators of kpitree.io.generate.planted, and 'project' (the "
                             "planted_users generator the search was tuned on)")
    parser.add_argument("--modes", nargs="*", default=["lasso", "tree", "split_fits"],
                        help="wise-pizza modes (solvers lasso, tree; how=split_fits)")
    args = parser.parse_args()
    try:
        import wise_pizza  # noqa: F401
        modes = list(args.modes)
    except ImportError:
        modes = []
        print("wise-pizza is not installed: kpitree only")
    rows = []
    for generator in args.generators:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as name:
                folder = Path(name)
                dims, planted = prepare(folder, generator, args.users, seed)
                runs = {"kpitree": run_kpitree(folder, dims)}
                for mode in modes:
                    runs[f"wise-pizza {mode}"] = run_wise_pizza(folder, dims, mode,
                                                                runs["kpitree"]["delta"])
            for tool, run in runs.items():
                s = score(run, planted, strict_kind=tool == "kpitree")
                rows.append({"generator": generator, "seed": seed, "tool": tool,
                             "seconds": run["seconds"], **s, "delta": run["delta"]})
                labels = "; ".join(
                    f"{i['kind']}:{','.join(f'{k}={v}' for k, v in i['segment'].items())}"
                    f" {i['impact']:+.2f}" for i in run["items"])
                print(f"{generator:<10} seed {seed}  {tool:<22} {run['seconds']:6.1f} s  found "
                      f"{s['found']}/{s['planted']}  reported {s['reported']}  Δ "
                      f"{run['delta']:+.3f}  miss {s['miss']:+.3f}\n      {labels}",
                      flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("tool").agg(
        recall=("found", lambda x: x.sum() / table.loc[x.index, "planted"].sum()),
        precision=("found", lambda x: x.sum() / max(table.loc[x.index, "reported"].sum(), 1)),
        exact=("miss", lambda x: float((x.abs() < 1e-9).mean())),
        worst_miss=("miss", lambda x: float(x.abs().max())),
        seconds_median=("seconds", "median"), seconds_max=("seconds", "max"))
    print(f"\n{args.users:,} users per run; fresh process per run")
    print(summary.to_string())


if __name__ == "__main__":
    main()
