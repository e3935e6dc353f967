"""Generate the synthetic sample data sets used by kpitree's examples, tests and docs.

Writes three tidy, aggregated CSV files (one row per period x segment) next to this script,
covering the twelve monthly periods 2025-11 ... 2026-10:

* ``saas_monthly.csv`` -- a B2B SaaS with five plan tiers in three regions:
  ``period,tier,region,active_users,addon_users,base_revenue,addon_revenue,usage_revenue``.
  Goes with ``trees/saas_arpu.yaml``. The story between 2026-09 and 2026-10: the ``business``
  tier launches (no rows before 2026-10) and takes users from ``pro`` and ``team`` (mix up),
  the ``pro`` add-on attach rate rises, ``enterprise`` usage revenue per user rises, and a
  ``starter`` promotion lowers its base price per user slightly (rate effects). The starter
  add-on pack only reaches APAC in 2026-10, so ``starter``/``APAC`` has no adopters (0/0
  add-on revenue per adopter) up to 2026-09.
* ``freemium_monthly.csv`` -- a consumer freemium app: ``period,plan,active_users,
  paying_users,revenue`` for plans free/plus/pro/team (free never pays). Goes with
  ``trees/arppu.yaml``.
* ``accounts_monthly.csv`` -- account-based pricing: ``period,tier,accounts,seats,revenue``
  for smb/midmarket/enterprise. Goes with ``trees/arpa_seats.yaml``.

Everything is deterministic (seeded numpy generator); the CSVs in ``data/`` are committed
outputs of this script, so rerunning it must reproduce them byte for byte. Money is in USD,
rounded to cents; counts are integers.

Usage: ``python data/make_sample_data.py``
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261001
OUT_DIR = Path(__file__).resolve().parent
PERIODS = pd.period_range("2025-11", periods=12, freq="M").strftime("%Y-%m").tolist()
N = len(PERIODS)
T = np.arange(N)  # 0 = 2025-11, 10 = 2026-09, 11 = 2026-10
MONTH = np.array([int(p[-2:]) for p in PERIODS])
LAUNCH = PERIODS.index("2026-10")

# Seasonality: B2B seat counts soften over the holidays and in August; usage dips harder.
USER_SEASON = {12: -0.015, 1: -0.005, 7: -0.005, 8: -0.012}
USAGE_SEASON = {12: -0.10, 1: -0.04, 7: -0.04, 8: -0.08, 3: 0.03, 10: 0.02}


def season(table: dict[int, float]) -> np.ndarray:
    return np.array([1.0 + table.get(m, 0.0) for m in MONTH])


def path(start: float, end: float) -> np.ndarray:
    """A gentle linear trend from ``start`` (2025-11) to ``end`` (2026-09), extended to 2026-10."""
    return start + (end - start) * T / (N - 2)


def jitter(rng: np.random.Generator, size: int | tuple[int, ...], sd: float) -> np.ndarray:
    return np.exp(rng.normal(0.0, sd, size))


# ---------------------------------------------------------------------------------------------
# saas_monthly.csv
# ---------------------------------------------------------------------------------------------

TIERS = ["starter", "team", "pro", "business", "enterprise"]
REGIONS = ["NA", "EU", "APAC"]

# Region mix of each tier's users, and regional price / usage levels relative to NA.
REGION_SHARE = {
    "starter": [0.42, 0.31, 0.27],
    "team": [0.46, 0.32, 0.22],
    "pro": [0.50, 0.31, 0.19],
    "business": [0.52, 0.31, 0.17],
    "enterprise": [0.57, 0.29, 0.14],
}
REGION_PRICE = [1.06, 0.99, 0.87]  # averages to about 1 over the regional user mix
REGION_ATTACH = [1.00, 0.90, 0.75]


def saas_tier_paths() -> dict[str, dict[str, np.ndarray]]:
    """Per tier, the company-wide users and unit economics per period (before regional split)."""
    s = season(USER_SEASON)
    u = season(USAGE_SEASON)
    tiers: dict[str, dict[str, np.ndarray]] = {
        "starter": {
            "users": path(21_300, 23_700) * s,
            "price": path(15.60, 15.30),
            "attach": path(0.055, 0.062),
            "per_adopter": path(11.5, 12.0),
            "usage": path(0.70, 0.85) * u,
        },
        "team": {
            "users": path(11_900, 13_300) * s,
            "price": path(34.20, 35.10),
            "attach": path(0.15, 0.17),
            "per_adopter": path(21.0, 22.5),
            "usage": path(2.60, 3.10) * u,
        },
        "pro": {
            "users": path(6_100, 7_200) * s,
            "price": path(79.0, 80.5),
            "attach": path(0.26, 0.29),
            "per_adopter": path(33.0, 35.0),
            "usage": path(8.0, 9.5) * u,
        },
        "business": {
            "users": np.zeros(N),
            "price": np.full(N, 138.0),
            "attach": np.full(N, 0.31),
            "per_adopter": np.full(N, 44.0),
            "usage": np.full(N, 17.5) * u,
        },
        "enterprise": {
            "users": path(1_640, 1_900) * s,
            "price": path(292.0, 301.0),
            "attach": path(0.37, 0.40),
            "per_adopter": path(55.0, 58.0),
            "usage": path(40.0, 46.0) * u,
        },
    }

    # 2026-10: business launches. Existing customers upgrade into it from pro and team; a few
    # new customers sign up straight onto it.
    from_pro, from_team, new = 950, 520, 210
    tiers["pro"]["users"][LAUNCH] -= from_pro
    tiers["team"]["users"][LAUNCH] -= from_team
    tiers["business"]["users"][LAUNCH] = from_pro + from_team + new
    # Rate effects in the same month.
    tiers["pro"]["attach"][LAUNCH] = 0.36  # new AI add-on bundled into the pro upsell flow
    tiers["enterprise"]["usage"][LAUNCH] *= 1.15  # heavier API usage on enterprise contracts
    tiers["starter"]["price"][LAUNCH] = 14.90  # starter autumn promotion (first month -30%)
    return tiers


def make_saas(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for tier, p in saas_tier_paths().items():
        for i, period in enumerate(PERIODS):
            if p["users"][i] <= 0:
                continue  # tier not launched yet
            shares = np.asarray(REGION_SHARE[tier]) * jitter(rng, len(REGIONS), 0.015)
            shares /= shares.sum()
            for j, region in enumerate(REGIONS):
                users = round(p["users"][i] * shares[j])
                attach = min(p["attach"][i] * REGION_ATTACH[j] * jitter(rng, 1, 0.03)[0], 1.0)
                if tier == "starter" and region == "APAC" and period < "2026-10":
                    attach = 0.0  # the starter add-on pack reaches APAC only in 2026-10
                adopters = round(users * attach)
                price = REGION_PRICE[j]
                rows.append(
                    {
                        "period": period,
                        "tier": tier,
                        "region": region,
                        "active_users": users,
                        "addon_users": adopters,
                        "base_revenue": users * p["price"][i] * price * jitter(rng, 1, 0.005)[0],
                        "addon_revenue": adopters
                        * p["per_adopter"][i]
                        * price
                        * jitter(rng, 1, 0.02)[0],
                        "usage_revenue": users * p["usage"][i] * price * jitter(rng, 1, 0.04)[0],
                    }
                )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# freemium_monthly.csv
# ---------------------------------------------------------------------------------------------

# users at start/end of trend, paying share (trials are active but not paying), revenue per payer
PLANS = {
    "free": ((52_000, 61_000), (0.0, 0.0), (0.0, 0.0)),
    "plus": ((13_500, 15_800), (0.91, 0.93), (9.40, 9.70)),
    "pro": ((6_900, 8_300), (0.88, 0.90), (18.60, 19.30)),
    "team": ((2_400, 3_100), (0.94, 0.95), (27.50, 28.40)),
}
# Free sign-ups spike in January; the Black Friday promo (Nov) lowers paid prices for a month.
FREE_SEASON = {1: 0.06, 2: 0.03, 8: -0.03}
PROMO = {11: 0.93}


def make_freemium(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for plan, (users, paying, arppu) in PLANS.items():
        season_users = season(FREE_SEASON) if plan == "free" else season(USER_SEASON)
        n_users = np.round(path(*users) * season_users * jitter(rng, N, 0.01)).astype(int)
        share = np.clip(path(*paying) * jitter(rng, N, 0.005), 0.0, 1.0)
        n_paying = np.minimum(np.round(n_users * share).astype(int), n_users)
        promo = np.array([PROMO.get(m, 1.0) for m in MONTH])
        revenue = n_paying * path(*arppu) * promo * jitter(rng, N, 0.006)
        for i, period in enumerate(PERIODS):
            rows.append(
                {
                    "period": period,
                    "plan": plan,
                    "active_users": n_users[i],
                    "paying_users": n_paying[i],
                    "revenue": revenue[i],
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# accounts_monthly.csv
# ---------------------------------------------------------------------------------------------

# accounts at start/end, seats per account, price per seat
ACCOUNT_TIERS = {
    "smb": ((3_900, 4_450), (2.9, 3.1), (19.80, 20.40)),
    "midmarket": ((560, 640), (24.0, 26.0), (29.50, 30.60)),
    "enterprise": ((52, 61), (240.0, 258.0), (44.00, 46.20)),
}


def make_accounts(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for tier, (accounts, seats_pa, price) in ACCOUNT_TIERS.items():
        n_accounts = np.round(path(*accounts) * jitter(rng, N, 0.008)).astype(int)
        seats = np.round(n_accounts * path(*seats_pa) * jitter(rng, N, 0.01)).astype(int)
        revenue = seats * path(*price) * jitter(rng, N, 0.004)
        for i, period in enumerate(PERIODS):
            rows.append(
                {
                    "period": period,
                    "tier": tier,
                    "accounts": n_accounts[i],
                    "seats": seats[i],
                    "revenue": revenue[i],
                }
            )
    return pd.DataFrame(rows)


def write(df: pd.DataFrame, name: str, money: list[str], counts: list[str]) -> None:
    df = df.copy()
    df[money] = df[money].round(2)
    df[counts] = df[counts].astype("int64")
    assert not df.isna().any().any(), name
    assert (df[counts] >= 0).all().all(), name
    df.to_csv(OUT_DIR / name, index=False, float_format="%.2f", lineterminator="\n")
    print(f"wrote {OUT_DIR / name} ({len(df)} rows)")


def main() -> None:
    rng = np.random.default_rng(SEED)
    saas = make_saas(rng)
    assert (saas["addon_users"] <= saas["active_users"]).all()
    write(
        saas,
        "saas_monthly.csv",
        money=["base_revenue", "addon_revenue", "usage_revenue"],
        counts=["active_users", "addon_users"],
    )
    freemium = make_freemium(rng)
    assert (freemium["paying_users"] <= freemium["active_users"]).all()
    write(
        freemium, "freemium_monthly.csv", money=["revenue"], counts=["active_users", "paying_users"]
    )
    write(
        make_accounts(rng),
        "accounts_monthly.csv",
        money=["revenue"],
        counts=["accounts", "seats"],
    )


if __name__ == "__main__":
    main()
