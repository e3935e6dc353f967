"""The review-pack test cases: the bundled example, and a 3-dimension, 40-segment month.

The large case is seeded synthetic data on the bundled tree (``trees/saas_arpu.yaml``): five
tiers × four regions × two channels, with planted effects (a tier launched in the compare
month, a price rise in ``pro``, a shift from ``self-serve`` to ``sales``), so every view of the
pack has mix at three levels, entered segments and rate effects to draw.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import SAAS_DATA, SAAS_TREE

TIERS = {"starter": 16.0, "team": 42.0, "pro": 100.0, "business": 170.0, "enterprise": 370.0}
REGIONS = ("NA", "EU", "APAC", "LATAM")
CHANNELS = ("self-serve", "sales")
BASE, COMPARE = "2026-09", "2026-10"
EXAMPLE = (SAAS_TREE, SAAS_DATA, ("tier",))
LARGE_BY = ("tier", "region", "channel")


def large_frame(seed: int = 14) -> pd.DataFrame:
    """Two months × 40 segments (business only in the compare month: 32 + 8 segments)."""
    rng = np.random.default_rng(seed)
    rows = []
    for period in (BASE, COMPARE):
        later = period == COMPARE
        for tier, price in TIERS.items():
            if tier == "business" and not later:
                continue
            for r, region in enumerate(REGIONS):
                for channel in CHANNELS:
                    users = int(rng.integers(300, 6000) / (1 + r) * (0.6 if channel == "sales"
                                                                     else 1.0))
                    if later and channel == "sales":
                        users = int(users * 1.15)
                    attach = 0.05 + 0.25 * rng.random()
                    adopters = int(users * attach * (1.12 if later and tier == "pro" else 1.0))
                    uplift = 1.06 if later and tier == "pro" else 1.0
                    base = users * price * (0.9 + 0.2 * rng.random()) * uplift
                    rows.append({
                        "period": period, "tier": tier, "region": region, "channel": channel,
                        "active_users": users, "addon_users": adopters,
                        "base_revenue": round(base, 2),
                        "addon_revenue": round(adopters * price * 0.4 * (0.8 + 0.4 * rng.random()),
                                               2),
                        "usage_revenue": round(users * price * 0.1 * rng.random(), 2),
                    })
    return pd.DataFrame(rows)


def large_csv(folder: Path) -> Path:
    """Write :func:`large_frame` as CSV into ``folder`` and return its path."""
    path = folder / "large_monthly.csv"
    large_frame().to_csv(path, index=False)
    return path
