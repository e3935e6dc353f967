"""Running one query where the data lives, with the progress callback on long scans.

What belongs here: :func:`execute`, the only place an aggregation's ibis expressions are run
(DuckDB reports how far its scan is, so the callback gets a fraction while the query runs on a
worker thread); :func:`report`, which calls the callback when there is one. What does not:
building the expressions (:mod:`kpitree.io.events.query`, :mod:`kpitree.io.events.checks`).
"""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd

from kpitree.io.events.plan import Plan

POLL_SECONDS = 0.25  # how often DuckDB's progress is read while a query runs


def report(plan: Plan, stage: str, fraction: float | None) -> None:
    """Tell the progress callback (if any) how far ``stage`` is."""
    if plan.progress is not None:
        plan.progress(stage, fraction)


def execute(plan: Plan, expr: Any, stage: str) -> pd.DataFrame:
    """Run one query, reporting progress (DuckDB reports how far its scan is)."""
    report(plan, stage, 0.0)
    backend = plan.source.backend
    if plan.source.engine != "duckdb" or plan.progress is None:
        frame = backend.execute(expr)
        report(plan, stage, 1.0)
        return frame
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["frame"] = backend.execute(expr)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(POLL_SECONDS)
        try:
            done = backend.con.query_progress()
        except Exception:  # progress is best effort
            done = -1
        if done is not None and done >= 0:
            report(plan, stage, min(float(done) / 100.0, 1.0))
    if "error" in outcome:
        raise outcome["error"]
    report(plan, stage, 1.0)
    return outcome["frame"]
