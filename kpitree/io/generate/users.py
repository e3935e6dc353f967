"""The user-level output: one row per user × period with planted drivers, for the driver search.

What belongs here: :func:`planted_users`, one vectorised generator of user × period rows for
``trees/saas_arpu.yaml`` (columns ``active_users``, ``addon_users``, ``base_revenue``,
``addon_revenue``, ``usage_revenue``) over the six :data:`DIMENSIONS`, with the effects in
:data:`PLANTED` planted between the two periods, so a driver search (and its intervals) can be
checked against the truth; used by tests, benchmarks and demos. What does not: the draws and
the planted-effect type both outputs share (:mod:`kpitree.io.generate.core`), or a realistic
event log (:mod:`kpitree.io.generate.log`, ``kpitree generate``).

Planted by default (``change=True``), base ``p0`` → compare ``p1``:

* **rate +** ``tier=pro & region=EU``: base price up 30 %;
* **mix −** ``tier=enterprise``: its share falls from 6 % to 4 % (the most valuable users);
* **rate −** ``region=APAC & device=android``: base price down 40 %, usage down 70 %;
* **launch** ``tier=business``: a new tier, 4 % of users in ``p1`` (taken evenly from the
  others), priced between pro and enterprise.

With ``change=False`` both periods are drawn from the same distribution (no true change), for
checking interval coverage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kpitree.io.generate.core import Planted, draw_codes

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "tier": ("starter", "team", "pro", "enterprise", "business"),
    "region": ("NA", "EU", "APAC", "LATAM"),
    "channel": ("organic", "paid", "partner", "referral"),
    "cohort": tuple(f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13)),
    "device": ("web", "ios", "android"),
    "billing": ("monthly", "annual"),
}
_SHARES = {  # of each dimension's values in the base period
    "tier": (0.50, 0.28, 0.16, 0.06, 0.0),
    "region": (0.30, 0.30, 0.20, 0.20),
    "channel": (0.40, 0.20, 0.20, 0.20),
    "cohort": (1 / 24,) * 24,
    "device": (0.4, 0.3, 0.3),
    "billing": (0.6, 0.4),
}
_PRICE = np.array([15.0, 40.0, 100.0, 380.0, 170.0])  # base price by tier
ENTERPRISE_SHARE_AFTER = 0.04  # planted: the enterprise share falls from 6 %
BUSINESS_SHARE_AFTER = 0.04  # planted: the business tier launches with this share

PLANTED = (
    Planted((("tier", "pro"), ("region", "EU")), "rate", +1,
            what="pro users in EU: base price up 30 %"),
    Planted((("tier", "enterprise"),), "mix", -1,
            what="the enterprise share falls from 6 % to 4 %"),
    Planted((("region", "APAC"), ("device", "android")), "rate", -1,
            what="APAC android users: base price down 40 %, usage down 70 %"),
    Planted((("tier", "business"),), "launch", +1,
            what="the business tier launches with 4 % of users"),
)


def planted_users(
    users: int = 100_000, *, seed: int = 0, change: bool = True, as_codes: bool = False,
) -> pd.DataFrame:
    """User-level rows (one per user × period, half the users in each of ``p0``, ``p1``).

    Args:
        users: number of rows in total.
        seed: the random seed (same seed, same rows).
        change: plant the effects in :data:`PLANTED` (``False``: no true change).
        as_codes: return dimension labels as pandas categoricals (faster to build and read).
    """
    rng = np.random.default_rng(seed)
    period = (np.arange(users) >= users // 2).astype(np.int64)
    codes: dict[str, np.ndarray] = {}
    for dim in DIMENSIONS:
        p0 = np.array(_SHARES[dim], dtype=float)
        p1 = _compare_tiers(p0) if change and dim == "tier" else p0
        draws = rng.random(users)  # the same draw in both periods: only moved shares differ
        codes[dim] = np.where(period == 0, draw_codes(draws, p0), draw_codes(draws, p1))
    tier, region, channel = codes["tier"], codes["region"], codes["channel"]
    device = codes["device"]
    price = _PRICE[tier] * (1.0 + 0.1 * (region == 0)) * (0.85 + 0.3 * (codes["billing"] == 1))
    price = price * np.where(channel == 1, 0.8, 1.0)  # paid users pay less
    if change:
        price = price * np.where((period == 1) & (tier == 2) & (region == 1), 1.3, 1.0)
        price = price * np.where((period == 1) & (region == 2) & (device == 2), 0.6, 1.0)
    base = price * rng.gamma(20.0, 1 / 20.0, users)
    attach = 0.1 + 0.05 * tier
    addon_users = (rng.random(users) < attach).astype(float)
    addon = addon_users * rng.gamma(4.0, 5.0, users)
    usage = rng.gamma(1.5, 4.0 + 2.0 * tier, users)
    if change:
        usage = usage * np.where((period == 1) & (region == 2) & (device == 2), 0.3, 1.0)
    frame = pd.DataFrame({"period": np.where(period == 0, "p0", "p1")})
    for dim, labels in DIMENSIONS.items():
        values = pd.Categorical.from_codes(codes[dim], categories=list(labels))
        frame[dim] = values if as_codes else np.asarray(labels, dtype=object)[codes[dim]]
    frame["active_users"] = 1.0
    frame["addon_users"] = addon_users
    frame["base_revenue"] = np.round(base, 2)
    frame["addon_revenue"] = np.round(addon, 2)
    frame["usage_revenue"] = np.round(usage, 2)
    return frame


def _compare_tiers(base: np.ndarray) -> np.ndarray:
    """The compare period's tier shares: enterprise down, business launched, the rest scaled."""
    shares = base.copy()
    shares[3] = ENTERPRISE_SHARE_AFTER
    shares = shares / shares.sum() * (1 - BUSINESS_SHARE_AFTER)
    shares[4] = BUSINESS_SHARE_AFTER
    return shares
