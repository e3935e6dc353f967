"""What the command costs before and after the work: ``--help``, and many segments as table / JSON.

    .venv/bin/python benchmarks/bench_cli.py            # --help, and 5 vs 100,000 segments
    .venv/bin/python benchmarks/bench_cli.py --segments 20000 --repeat 5

Each measurement is a fresh process (``python -m kpitree …``), the median of ``--repeat``
interleaved runs, wall and CPU (user + system); the machine's load average is printed.

- ``--help`` against a bare ``python -c pass`` (the interpreter's own start);
- ``explain`` on an aggregated CSV with 5 and with ``--segments`` segments (one dimension, two
  periods), as ``--format table`` and ``--format json``: the ratio of the large run to the small
  one is what many segments cost (the JSON is checked to be byte for byte
  ``json.dumps(…, indent=2)`` of the same document).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = """name: many
root: arpu
weight: users
segments: [tier]
unit: USD
nodes:
  arpu: {formula: base_pu + addon_pu}
  base_pu: {formula: base / users}
  addon_pu: {formula: addon / users}
  users: {column: users}
  base: {column: base}
  addon: {column: addon}
"""


def run(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh process (its output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def medians(commands: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, float]]:
    """The median wall and CPU of each command, interleaved over ``repeat`` rounds."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            runs[name].append(run(command))
    return {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r))
            for name, r in runs.items()}


def write_data(folder: Path, segments: int) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    names = np.array([f"s{i:06d}" for i in range(segments)])
    parts = []
    for period in ("2026-09", "2026-10"):
        users = rng.integers(10, 1000, segments).astype(float)
        parts.append(pd.DataFrame({"period": period, "tier": names, "users": users,
                                   "base": users * rng.uniform(10, 50, segments),
                                   "addon": users * rng.uniform(0, 5, segments)}))
    path = folder / f"data_{segments}.csv"
    pd.concat(parts).to_csv(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before")
    start = medians({"python -c pass": [python, "-c", "pass"],
                     "kpitree --help": [python, "-m", "kpitree", "--help"]}, args.repeat * 2)
    for name, (wall, cpu) in start.items():
        print(f"{name:<28}{wall:>8.3f} s wall{cpu:>8.3f} s CPU")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "tree.yaml").write_text(TREE)
        data = {n: write_data(folder, n) for n in (5, args.segments)}
        commands = {
            f"{n} segments {fmt}": [python, "-m", "kpitree", "explain", str(folder / "tree.yaml"),
                                    str(data[n]), "--base", "2026-09", "--compare", "2026-10",
                                    "--format", fmt]
            for fmt in ("table", "json") for n in data}
        measured = medians(commands, args.repeat)
        check_json(commands[f"{args.segments} segments json"])
    for fmt in ("table", "json"):
        small, large = measured[f"5 segments {fmt}"], measured[f"{args.segments} segments {fmt}"]
        print(f"{fmt:<6} 5 segments {small[0]:.2f} s wall {small[1]:.2f} s CPU; "
              f"{args.segments:,}: {large[0]:.2f} s wall {large[1]:.2f} s CPU "
              f"(× {large[0] / small[0]:.1f} wall, × {large[1] / small[1]:.1f} CPU)")
    print(f"medians of {args.repeat}; load average {os.getloadavg()[0]:.2f} after")


def check_json(command: list[str]) -> None:
    """The CLI's JSON is the standard library's indented text of the same document."""
    import json

    text = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    document = json.loads(text)
    if json.dumps(document, indent=2, allow_nan=False) + "\n" != text:
        raise SystemExit("the JSON output differs from json.dumps(indent=2)")


if __name__ == "__main__":
    main()
