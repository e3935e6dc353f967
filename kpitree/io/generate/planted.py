"""Independent user-level generators with planted effects the driver search was not tuned on.

What belongs here: :data:`GENERATORS` — three generators of user × period rows for
``trees/saas_arpu.yaml`` (``active_users``, ``addon_users``, ``base_revenue``,
``addon_revenue``, ``usage_revenue``), each built differently from
:func:`kpitree.io.generate.planted_users` (other dimensions, correlated dimensions, overlapping
effects, a distractor), and each with what was planted (:class:`~kpitree.io.generate.Planted`):
at least one **uniform mix shift** along a dimension independent of the others, one **rate
pocket of two conditions** under 10 % of users, and one **launch** (or discontinued value).
Used by tests (recall and precision of the driver search) and benchmarks. What does not: the
search (:mod:`kpitree.analysis`), the event log (:mod:`kpitree.io.generate.log`).

Every generator takes ``(users, seed)`` and returns ``(frame, planted)``; the same seed gives
the same rows. A mix shift is planted as ``Planted(((dim, value),), "mix", sign)`` with the value
whose share grows; pockets and launches name their segment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from kpitree.io.generate.core import Planted, draw_codes

Generated = tuple[pd.DataFrame, tuple[Planted, ...]]


def _draw(rng: np.random.Generator, period: np.ndarray, p0: Sequence[float],
          p1: Sequence[float] | None = None) -> np.ndarray:
    """Codes with shares ``p0`` in the base period and ``p1`` (default ``p0``) in the compare."""
    draws = rng.random(len(period))
    return np.where(period == 0, draw_codes(draws, p0), draw_codes(draws, p1 or p0))


def _conditional(rng: np.random.Generator, parent: np.ndarray,
                 table: Sequence[Sequence[float]]) -> np.ndarray:
    """Codes drawn from ``table[parent]``: a dimension correlated with ``parent``."""
    draws = rng.random(len(parent))
    out = np.zeros(len(parent), dtype=np.int64)
    for value, probabilities in enumerate(table):
        mask = parent == value
        out[mask] = draw_codes(draws[mask], probabilities)
    return out


def _frame(period: np.ndarray, codes: dict[str, np.ndarray],
           labels: Mapping[str, Sequence[str]], base: np.ndarray, addon_users: np.ndarray,
           addon: np.ndarray, usage: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"period": np.where(period == 0, "p0", "p1")})
    for dim, names in labels.items():
        frame[dim] = np.asarray(names, dtype=object)[codes[dim]]
    frame["active_users"] = 1.0
    frame["addon_users"] = addon_users.astype(float)
    frame["base_revenue"] = np.round(base, 2)
    frame["addon_revenue"] = np.round(addon * addon_users, 2)
    frame["usage_revenue"] = np.round(usage, 2)
    return frame


def _periods(users: int) -> np.ndarray:
    return (np.arange(users) >= users // 2).astype(np.int64)


def issue_users(users: int = 60_000, seed: int = 0) -> Generated:
    """Eight dimensions as in the report that started this generator family.

    plan (with ``max`` launched at 5 %), region, country (nested in region: correlated), channel,
    device, os (correlated with device), billing, cohort. Planted: the annual-billing share
    rises 30 % → 42 % in every segment with annual users paying 35 % more (mix +); iOS usage
    ×2.2 (rate +); partner × LATAM base price −50 % (≈ 2 % of users, rate −).
    """
    rng = np.random.default_rng(seed)
    period = _periods(users)
    labels = {
        "plan": ("lite", "standard", "pro", "ultimate", "max"),
        "region": ("NA", "EU", "APAC", "LATAM", "MEA"),
        "country": ("US", "CA", "DE", "FR", "JP", "IN", "BR", "MX", "AE", "ZA"),
        "channel": ("organic", "paid", "partner", "referral"),
        "device": ("desktop", "mobile", "tablet"),
        "os": ("windows", "macos", "ios", "android"),
        "billing": ("monthly", "annual"),
        "cohort": tuple(f"2025-{m:02d}" for m in range(1, 13)),
    }
    codes = {"plan": _draw(rng, period, (0.45, 0.30, 0.17, 0.08, 0.0),
                           (0.4275, 0.285, 0.1615, 0.076, 0.05))}
    codes["region"] = _draw(rng, period, (0.32, 0.25, 0.15, 0.20, 0.08))
    codes["country"] = _conditional(rng, codes["region"], [
        (0.85, 0.15, 0, 0, 0, 0, 0, 0, 0, 0), (0, 0, 0.55, 0.45, 0, 0, 0, 0, 0, 0),
        (0, 0, 0, 0, 0.4, 0.6, 0, 0, 0, 0), (0, 0, 0, 0, 0, 0, 0.6, 0.4, 0, 0),
        (0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.5)])
    codes["channel"] = _draw(rng, period, (0.40, 0.20, 0.25, 0.15))
    codes["device"] = _draw(rng, period, (0.50, 0.40, 0.10))
    codes["os"] = _conditional(rng, codes["device"], [
        (0.7, 0.3, 0, 0), (0, 0, 0.45, 0.55), (0, 0, 0.6, 0.4)])
    codes["billing"] = _draw(rng, period, (0.70, 0.30), (0.58, 0.42))
    codes["cohort"] = _draw(rng, period, (1 / 12,) * 12)
    price = np.array([12.0, 30.0, 70.0, 160.0, 110.0])[codes["plan"]]
    country = np.array([1.1, 1.0, 1.05, 1.0, 1.1, 0.6, 0.7, 0.75, 0.9, 0.8])
    price = price * country[codes["country"]] * np.where(codes["billing"] == 1, 1.35, 1.0)
    pocket = (codes["channel"] == 2) & (codes["region"] == 3)
    price = price * np.where((period == 1) & pocket, 0.4, 1.0)
    base = price * rng.gamma(25.0, 1 / 25.0, users)
    addon_users = rng.random(users) < 0.15 + 0.05 * np.minimum(codes["plan"], 3)
    addon = rng.gamma(4.0, 4.0, users)
    usage = rng.gamma(2.0, 3.0, users) * np.where(codes["os"] == 2, 1.5, 1.0)
    usage = usage * np.where((period == 1) & (codes["os"] == 2), 2.2, 1.0)
    planted = (
        Planted((("plan", "max"),), "launch", +1, what="plan max launches with 5 % of users"),
        Planted((("billing", "annual"),), "mix", +1,
                what="annual share 30 % → 42 % everywhere; annual users pay 35 % more"),
        Planted((("os", "ios"),), "rate", +1, what="iOS usage ×2.2"),
        Planted((("channel", "partner"), ("region", "LATAM")), "rate", -1,
                what="partner × LATAM base price −60 %"),
    )
    return _frame(period, codes, labels, base, addon_users, addon, usage), planted


def correlated_users(users: int = 60_000, seed: int = 0) -> Generated:
    """Correlated dimensions and overlapping effects.

    tier, company size (strongly tied to tier), region, channel (tied to region), contract,
    device (tied to tier), cohort. Planted: the biennial contract share rises 15 % → 30 % in
    every segment with biennial users paying 30 % less per month (mix −); premium × EU price
    +60 % (≈ 5 % of users, rate +); a new region LATAM with 6 % of users, paying less (launch,
    below the average: its contribution is negative). The pocket overlaps the contract shift.
    """
    rng = np.random.default_rng(seed + 1000)
    period = _periods(users)
    labels = {
        "tier": ("basic", "plus", "premium", "team"),
        "size": ("solo", "small", "mid", "large"),
        "region": ("NA", "EU", "APAC", "LATAM"),
        "channel": ("search", "social", "sales", "partner"),
        "contract": ("monthly", "annual", "biennial"),
        "device": ("web", "ios", "android"),
        "cohort": tuple(f"c{k}" for k in range(8)),
    }
    codes = {"tier": _draw(rng, period, (0.40, 0.30, 0.15, 0.15))}
    codes["size"] = _conditional(rng, codes["tier"], [
        (0.7, 0.25, 0.05, 0.0), (0.4, 0.4, 0.15, 0.05), (0.1, 0.3, 0.4, 0.2),
        (0.0, 0.1, 0.4, 0.5)])
    codes["region"] = _draw(rng, period, (0.45, 0.35, 0.20, 0.0), (0.423, 0.329, 0.188, 0.06))
    codes["channel"] = _conditional(rng, codes["region"], [
        (0.5, 0.2, 0.2, 0.1), (0.3, 0.3, 0.3, 0.1), (0.2, 0.5, 0.1, 0.2), (0.4, 0.4, 0.1, 0.1)])
    codes["contract"] = _draw(rng, period, (0.55, 0.30, 0.15), (0.45, 0.25, 0.30))
    codes["device"] = _conditional(rng, codes["tier"], [
        (0.3, 0.35, 0.35), (0.5, 0.25, 0.25), (0.7, 0.2, 0.1), (0.85, 0.1, 0.05)])
    codes["cohort"] = _draw(rng, period, (1 / 8,) * 8)
    price = np.array([20.0, 45.0, 90.0, 140.0])[codes["tier"]]
    price = price * np.array([0.9, 1.0, 1.1, 1.25])[codes["size"]]
    price = price * np.array([1.0, 1.0, 0.8, 0.45])[codes["region"]]
    price = price * np.array([1.0, 0.95, 0.7])[codes["contract"]]
    pocket = (codes["tier"] == 2) & (codes["region"] == 1)
    price = price * np.where((period == 1) & pocket, 1.6, 1.0)
    base = price * rng.gamma(20.0, 1 / 20.0, users)
    addon_users = rng.random(users) < 0.2
    addon = rng.gamma(3.0, 5.0, users)
    usage = rng.gamma(1.5, 4.0, users) * np.where(codes["device"] == 0, 1.2, 1.0)
    planted = (
        Planted((("region", "LATAM"),), "launch", -1,
                what="a new region LATAM with 6 % of users, paying less"),
        Planted((("contract", "biennial"),), "mix", -1,
                what="biennial share 15 % → 30 % everywhere; biennial pays 30 % less"),
        Planted((("tier", "premium"), ("region", "EU")), "rate", +1,
                what="premium × EU price +60 %"),
    )
    return _frame(period, codes, labels, base, addon_users, addon, usage), planted


def overlap_users(users: int = 60_000, seed: int = 0) -> Generated:
    """Overlapping effects, a discontinued market and a broad distractor.

    product, segment (tied to product), payment (tied to segment), market, platform, age.
    Planted: the mobile share rises 20 % → 40 % in every segment, mobile users paying 40 % less
    (mix −); mid-market × US price +50 % (≈ 8 % of users, rate +, overlapping the mobile
    shift); the RU market (4 % of users, paying half) discontinued (exit +). Distractor: every
    user's add-on attach rises a little (an even rate change, not a pocket).
    """
    rng = np.random.default_rng(seed + 2000)
    period = _periods(users)
    labels = {
        "product": ("core", "suite", "cloud"),
        "segment": ("smb", "mid", "ent"),
        "payment": ("card", "invoice", "wallet"),
        "market": ("US", "UK", "DE", "FR", "BR", "RU"),
        "platform": ("web", "desktop", "mobile"),
        "age": ("new", "1y", "2y+"),
    }
    codes = {"product": _draw(rng, period, (0.5, 0.3, 0.2))}
    codes["segment"] = _conditional(rng, codes["product"], [
        (0.7, 0.25, 0.05), (0.35, 0.45, 0.2), (0.2, 0.4, 0.4)])
    codes["payment"] = _conditional(rng, codes["segment"], [
        (0.8, 0.05, 0.15), (0.5, 0.4, 0.1), (0.1, 0.85, 0.05)])
    codes["market"] = _draw(rng, period, (0.30, 0.16, 0.18, 0.16, 0.16, 0.04),
                            (0.3125, 0.1667, 0.1875, 0.1667, 0.1666, 0.0))
    codes["platform"] = _draw(rng, period, (0.5, 0.3, 0.2), (0.375, 0.225, 0.4))
    codes["age"] = _draw(rng, period, (0.3, 0.3, 0.4))
    price = np.array([25.0, 60.0, 45.0])[codes["product"]]
    price = price * np.array([0.8, 1.3, 2.2])[codes["segment"]]
    price = price * np.array([1.0, 1.0, 1.05, 1.0, 0.7, 0.5])[codes["market"]]
    price = price * np.array([1.0, 1.0, 0.6])[codes["platform"]]
    pocket = (codes["segment"] == 1) & (codes["market"] == 0)
    price = price * np.where((period == 1) & pocket, 1.5, 1.0)
    base = price * rng.gamma(20.0, 1 / 20.0, users)
    addon_users = rng.random(users) < np.where(period == 1, 0.24, 0.20)
    addon = rng.gamma(3.0, 4.0, users)
    usage = rng.gamma(1.5, 3.0, users)
    planted = (
        Planted((("market", "RU"),), "launch", +1,
                what="the RU market (4 %, paying half) discontinued"),
        Planted((("platform", "mobile"),), "mix", -1,
                what="mobile share 20 % → 40 % everywhere; mobile pays 40 % less"),
        Planted((("segment", "mid"), ("market", "US")), "rate", +1,
                what="mid-market × US price +50 %"),
    )
    return _frame(period, codes, labels, base, addon_users, addon, usage), planted


GENERATORS: dict[str, Callable[[int, int], Generated]] = {
    "issue": issue_users,
    "correlated": correlated_users,
    "overlap": overlap_users,
}


def dimensions(frame: pd.DataFrame) -> list[str]:
    """The label columns of a generated frame (everything but the period and measures)."""
    measures = {"period", "active_users", "addon_users", "base_revenue", "addon_revenue",
                "usage_revenue"}
    return [c for c in frame.columns if c not in measures]


__all__ = ["GENERATORS", "Generated", "correlated_users", "dimensions", "issue_users",
           "overlap_users"]
