"""The event-log output: a synthetic SaaS revenue event log and user-month table, as Parquet.

What belongs here: :func:`generate` (``kpitree generate``), a vectorised (NumPy) and chunked
(one Parquet file per month) simulation of a subscription business — tiers launching, users
signing up, upgrading, downgrading and churning, add-on adoption, usage, discounts, refunds,
chargebacks, failed payments and seasonality — and the statement of the effects planted
between the last two months (:class:`~kpitree.io.generate.core.Planted`), so that an
explanation can be checked against the truth. What does not: the draws and the planted-effect
type both outputs share (:mod:`kpitree.io.generate.core`), user-level rows for the driver
search (:mod:`kpitree.io.generate.users`), reading the log back (:mod:`kpitree.io.sources`).

Output folder::

    DIR/users/users-2026-10.parquet    user_id, month, tier, region, channel, signup_date,
                                       account_id, seats, logins   (one row per user per month)
    DIR/events/events-2026-10.parquet  event_id, user_id, ts (UTC), type, kind, status,
                                       amount_cents, discount_cents, currency
    DIR/planted.json                   the planted effects and the generation parameters

Amounts are integer cents. ``kind`` is charge, refund or chargeback (refunds carry the type of
the revenue they reverse, with a positive amount); ``status`` is paid or failed (charges only).
Same seed and size → the same files.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kpitree.core.definitions import DEFAULT_TYPES, KINDS, STATUSES
from kpitree.core.errors import GenerateError, WriteError
from kpitree.core.files import staged_folder
from kpitree.core.periods import add_months
from kpitree.io.generate.core import Planted, choose

TIERS = ("free", "starter", "team", "pro", "business", "enterprise")
REGIONS = ("NA", "EU", "APAC")
CHANNELS = ("organic", "paid", "partner")
# The event log's vocabulary is the data: section's: revenue types (in the order of the type
# codes below), event kinds (charge, refund, chargeback) and payment statuses (paid, failed).
TYPES = DEFAULT_TYPES

FREE, STARTER, TEAM, PRO, BUSINESS, ENTERPRISE = range(6)
# List price per seat per month, in cents (starter is cut in the last month: planted).
PRICE = np.array([0, 1700, 4000, 9900, 17000, 35000])
STARTER_PRICE_CUT = 1500
ADDON_PRICE = 1500
ONE_TIME_PRICE = 5000
SIGNUP_MIX = np.array([0.40, 0.30, 0.15, 0.10, 0.0, 0.05])
BUSINESS_SIGNUP = 0.05  # share of sign-ups choosing the business tier once it is launched
REGION_MIX = (0.45, 0.35, 0.20)  # of accounts
CHANNEL_MIX = (0.5, 0.3, 0.2)
CHURN = np.array([0.06, 0.04, 0.03, 0.02, 0.02, 0.01])
ATTACH = np.array([0.0, 0.05, 0.15, 0.25, 0.30, 0.40])
PRO_ATTACH_AFTER = 0.40  # planted: pro add-on attach rises in the last month
USAGE_EVENTS = np.array([0.0, 2.0, 4.0, 6.0, 8.0, 10.0])
ENTERPRISE_USAGE_AFTER = 15.0  # planted: enterprise usage grows in the last month
USAGE_CENTS = np.array([0, 60, 90, 120, 150, 250])
LOGINS = np.array([2.0, 4.0, 8.0, 10.0, 12.0, 15.0])
FAIL_BEFORE, FAIL_AFTER = 0.02, 0.05  # planted: payment failures rise in the last month
PARTNER_DISCOUNT = 0.10
REFUND_RATE, CHARGEBACK_RATE, ONE_TIME_RATE = 0.01, 0.003, 0.005
BUSINESS_FROM_PRO = 0.25  # share of pro users moving to the new business tier at launch
EVENTS_PER_USER_MONTH = 3.4  # calibration for the requested size (measured, see tests)
MAX_EVENTS = 200_000_000


@dataclass(frozen=True)
class Generated:
    """What :func:`generate` wrote: folder, counts, periods and the planted effects."""

    folder: Path
    events: int
    user_months: int
    months: tuple[str, ...]
    base: str
    compare: str
    planted: tuple[dict[str, Any], ...] = field(default=())

    def describe(self) -> str:
        """What was written and what to look for: the summary ``kpitree generate`` prints."""
        lines = [f"wrote {self.events:,} events and {self.user_months:,} user-months "
                 f"({self.months[0]} … {self.months[-1]}) to {self.folder}",
                 f"planted effects, {self.base} → {self.compare} (explain with "
                 f"--base {self.base} --compare {self.compare}):"]
        for effect in self.planted:
            lines.append(f"  - {effect['what']}: expect {effect['expect']}")
        return "\n".join(lines)


def generate(
    folder: str | Path,
    *,
    events: int = 1_000_000,
    months: int = 12,
    seed: int = 7,
    end: str = "2026-10",
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> Generated:
    """Write a synthetic event log of about ``events`` events over ``months`` months.

    The planted effects sit between the last two months (``base`` → ``compare``): the new
    *business* tier launches (a quarter of *pro* users move up: positive mix), the *starter*
    price per seat is cut from $17 to $15 (negative rate), *pro* add-on attach rises from 25 % to
    40 %, *enterprise* usage grows by half, and payment failures rise from 2 % to 5 % (realised
    revenue falls against contracted).

    The files are written into a temporary folder beside ``folder`` and moved into place only
    once all of them are written, so a failure leaves ``folder`` as it was. A folder that
    already holds a generated log is refused unless ``force`` is given (then only the log's own
    files — ``users/users-*.parquet``, ``events/events-*.parquet``, ``planted.json`` — are
    replaced; other files are kept).

    Raises:
        GenerateError: a size or month count out of range, an empty folder name, a file in the
            way, or a folder holding a log and no ``force``.
    """
    if not 1_000 <= events <= MAX_EVENTS:
        raise GenerateError(f"--events {events:,}: choose between 1,000 and {MAX_EVENTS:,}")
    if not 2 <= months <= 120:
        raise GenerateError(f"--months {months}: choose between 2 and 120")
    try:
        end_month = dt.datetime.strptime(end, "%Y-%m").date()
    except ValueError:
        raise GenerateError(f"--end {end!r}: use a month like 2026-10") from None
    if not str(folder).strip():
        raise GenerateError("--out '': give a folder name for the event log (e.g. out/events)")
    final = Path(folder)
    if final.exists() and not final.is_dir():
        raise GenerateError(f"{final}: exists and is not a folder")
    old_files = [*(final / "users").glob("users-*.parquet"),
                 *(final / "events").glob("events-*.parquet"),
                 *([final / "planted.json"] if (final / "planted.json").is_file() else [])]
    if old_files and not force:
        raise GenerateError(f"{final} already holds a generated log ({len(old_files)} files); "
                            "pass --force to replace it, or choose another --out")
    try:
        with staged_folder(final) as staging:
            result = _write_log(staging, final, events=events, months=months, seed=seed,
                                end_month=end_month, progress=progress)
            for old in old_files:  # replaced only once the new log is complete
                old.unlink(missing_ok=True)
    except WriteError as exc:
        raise GenerateError(str(exc)) from None
    except OSError as exc:
        raise GenerateError(f"cannot write the event log into {final}: "
                            f"{exc.strerror or exc}") from None
    return result


def _write_log(out: Path, final: Path, *, events: int, months: int, seed: int,
               end_month: dt.date, progress: Callable[[str], None] | None) -> Generated:
    """Simulate and write the log into ``out`` (a staging folder); describe it as ``final``."""
    (out / "users").mkdir(parents=True, exist_ok=True)
    (out / "events").mkdir(parents=True, exist_ok=True)
    start = add_months(end_month, -(months - 1))

    # Size: users at the start so that the whole log holds about `events` events (the
    # population grows ~1.5 % a month and ~60 % of users are on a paid plan).
    growth = 0.015
    user_months_wanted = events / EVENTS_PER_USER_MONTH
    factor = sum((1 + growth) ** m for m in range(months))
    initial = max(10, round(user_months_wanted / factor))

    rng = np.random.default_rng(seed)
    state = _new_users(rng, initial, start, next_id=1, months_back=24)
    next_id = initial + 1
    next_event = 1
    total_events = 0
    total_user_months = 0
    labels: list[str] = []
    shares: dict[str, np.ndarray] = {}
    for index in range(months):
        month = add_months(start, index)
        label = f"{month.year:04d}-{month.month:02d}"
        labels.append(label)
        last = index == months - 1
        if index > 0:
            state = _advance(rng, state, launch_business=last)
            arrivals = int(rng.binomial(max(1, len(state["user_id"])), (growth + 0.035) *
                                        (1 + 0.3 * np.sin(2 * np.pi * month.month / 12))))
            newcomers = _new_users(rng, arrivals, month, next_id=next_id, months_back=0,
                                   allow_business=last)
            next_id += arrivals
            state = {k: np.concatenate([state[k], newcomers[k]]) for k in state}
        logins = rng.poisson(LOGINS[state["tier"]] * rng.uniform(0.2, 1.6, len(state["tier"])))
        logins[rng.random(len(logins)) < 0.15] = 0  # a sixth of users stay away each month
        _write_users(out, label, month, state, logins)
        table, next_event = _month_events(rng, state, month, last=last, first_id=next_event)
        pq.write_table(table, out / "events" / f"events-{label}.parquet",
                       row_group_size=1_000_000, compression="snappy")
        total_events += table.num_rows
        total_user_months += len(state["user_id"])
        if index >= months - 2:
            shares[label] = np.bincount(state["tier"], minlength=len(TIERS)) / len(state["tier"])
        if progress:
            progress(f"{label}: {table.num_rows:,} events, {len(state['user_id']):,} users")
    base, compare = labels[-2], labels[-1]
    planted = [effect.to_dict() for effect in _planted(shares[base], shares[compare])]
    result = Generated(final, total_events, total_user_months, tuple(labels), base, compare,
                       tuple(planted))
    (out / "planted.json").write_text(json.dumps({
        "base": base, "compare": compare, "events": total_events,
        "user_months": total_user_months, "seed": seed, "months": labels,
        "tree": "trees/arpu_blended.yaml", "planted": planted,
    }, indent=2) + "\n", encoding="utf-8")
    return result


def _new_users(rng: np.random.Generator, n: int, month: dt.date, *, next_id: int,
               months_back: int, allow_business: bool = False) -> dict[str, np.ndarray]:
    mix = SIGNUP_MIX.copy()
    if allow_business:
        mix[BUSINESS] = BUSINESS_SIGNUP
        mix /= mix.sum()
    tier = choose(rng, mix, n)
    ids = np.arange(next_id, next_id + n, dtype=np.int64)
    # Accounts: about one in five users joins the account of the user before them.
    joins = rng.random(n) < 0.2
    joins[:1] = False  # the first user opens an account (no-op when nobody arrives)
    starts = np.flatnonzero(~joins)
    owner = np.searchsorted(starts, np.arange(n), side="right") - 1  # the account's first user
    account = ids[starts][owner]
    region = choose(rng, REGION_MIX, n)[owner]
    channel = choose(rng, CHANNEL_MIX, n)
    base_day = np.datetime64(month, "D")
    back = rng.integers(0, months_back * 30 + 1, size=n) if months_back else 0
    days_in = (np.datetime64(add_months(month, 1), "D") - base_day).astype(int)
    signup = base_day - back + (rng.integers(0, days_in, size=n) if not months_back else 0)
    seats = np.where(tier <= STARTER, 1, rng.integers(1, 9, size=n)).astype(np.int64)
    return {"user_id": ids, "account_id": account, "tier": tier.astype(np.int8),
            "region": region.astype(np.int8), "channel": channel.astype(np.int8),
            "signup": signup.astype("datetime64[D]"), "seats": seats}


def _advance(rng: np.random.Generator, state: dict[str, np.ndarray], *,
             launch_business: bool) -> dict[str, np.ndarray]:
    tier = state["tier"].astype(np.int64)
    stay = rng.random(len(tier)) >= CHURN[tier]
    state = {k: v[stay] for k, v in state.items()}
    tier = state["tier"].astype(np.int64)
    draw = rng.random(len(tier))
    up = np.array([0.03, 0.02, 0.015, 0.0, 0.0, 0.0])[tier]
    down = np.array([0.0, 0.01, 0.01, 0.01, 0.0, 0.005])[tier]
    new_tier = tier.copy()
    moving_up = draw < up
    new_tier[moving_up] = np.where(tier[moving_up] == TEAM, PRO, tier[moving_up] + 1)
    moving_down = (draw >= up) & (draw < up + down)
    new_tier[moving_down] = np.where(tier[moving_down] == ENTERPRISE, PRO,
                                     np.where(tier[moving_down] == PRO, TEAM,
                                              tier[moving_down] - 1))
    if launch_business:
        pick = rng.random(len(tier))
        new_tier[(tier == PRO) & (pick < BUSINESS_FROM_PRO)] = BUSINESS
        new_tier[(tier == TEAM) & (pick < 0.03)] = BUSINESS
    seats = state["seats"].copy()
    seats[new_tier <= STARTER] = 1
    grow = (new_tier > STARTER) & (seats == 1) & (tier <= STARTER)
    seats[grow] = 2
    state["tier"] = new_tier.astype(np.int8)
    state["seats"] = seats
    return state


def _dictionary(codes: np.ndarray, names: tuple[str, ...]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(names))


def _write_users(out: Path, label: str, month: dt.date, state: dict[str, np.ndarray],
                 logins: np.ndarray) -> None:
    n = len(state["user_id"])
    order = np.argsort(state["user_id"], kind="stable")
    table = pa.table({
        "user_id": pa.array(state["user_id"][order]),
        "month": pa.array(np.full(n, np.datetime64(month, "D"))),
        "tier": _dictionary(state["tier"][order], TIERS),
        "region": _dictionary(state["region"][order], REGIONS),
        "channel": _dictionary(state["channel"][order], CHANNELS),
        "signup_date": pa.array(state["signup"][order]),
        "account_id": pa.array(state["account_id"][order]),
        "seats": pa.array(state["seats"][order]),
        "logins": pa.array(logins[order].astype(np.int64)),
    })
    pq.write_table(table, out / "users" / f"users-{label}.parquet", compression="snappy")


def _month_events(rng: np.random.Generator, state: dict[str, np.ndarray], month: dt.date, *,
                  last: bool, first_id: int) -> tuple[pa.Table, int]:
    tier = state["tier"].astype(np.int64)
    n = len(tier)
    start_us = int(dt.datetime(month.year, month.month, 1, tzinfo=dt.timezone.utc)
                   .timestamp() * 1_000_000)
    nxt = add_months(month, 1)
    end_us = int(dt.datetime(nxt.year, nxt.month, 1, tzinfo=dt.timezone.utc)
                 .timestamp() * 1_000_000)
    span = end_us - start_us
    season = 1 + 0.1 * np.sin(2 * np.pi * month.month / 12)
    price = PRICE.copy()
    attach = ATTACH.copy()
    usage = USAGE_EVENTS.copy()
    if last:
        price[STARTER] = STARTER_PRICE_CUT
        attach[PRO] = PRO_ATTACH_AFTER
        usage[ENTERPRISE] = ENTERPRISE_USAGE_AFTER
    fail = FAIL_AFTER if last else FAIL_BEFORE
    partner = state["channel"] == 2

    users, types, amounts, discounts, times = [], [], [], [], []
    # Subscriptions: one charge per paid user, on their billing day.
    paid = tier > FREE
    list_price = price[tier[paid]] * state["seats"][paid]
    discount = np.where(partner[paid], np.round(list_price * PARTNER_DISCOUNT), 0).astype(np.int64)
    billing_day = (state["signup"][paid].astype("datetime64[D]").astype(np.int64) % 28)
    users.append(state["user_id"][paid])
    types.append(np.zeros(paid.sum(), np.int32))
    amounts.append(list_price - discount)
    discounts.append(discount)
    times.append(start_us + billing_day * 86_400_000_000 + rng.integers(0, 86_400_000_000,
                                                                      paid.sum()))
    # Add-ons.
    adopt = rng.random(n) < attach[tier]
    users.append(state["user_id"][adopt])
    types.append(np.ones(adopt.sum(), np.int32))
    amounts.append(np.full(adopt.sum(), ADDON_PRICE, np.int64))
    discounts.append(np.zeros(adopt.sum(), np.int64))
    times.append(start_us + rng.integers(0, span, adopt.sum()))
    # Usage: a Poisson number of metered events per user.
    counts = rng.poisson(usage[tier] * season)
    who = np.repeat(np.arange(n), counts)
    users.append(state["user_id"][who])
    types.append(np.full(len(who), 2, np.int32))
    amounts.append(np.maximum(1, np.round(USAGE_CENTS[tier[who]] *
                                          rng.lognormal(0, 0.5, len(who)))).astype(np.int64))
    discounts.append(np.zeros(len(who), np.int64))
    times.append(start_us + rng.integers(0, span, len(who)))
    # One-time fees (setup, training).
    once = paid & (rng.random(n) < ONE_TIME_RATE)
    users.append(state["user_id"][once])
    types.append(np.full(once.sum(), 3, np.int32))
    amounts.append(np.full(once.sum(), ONE_TIME_PRICE, np.int64))
    discounts.append(np.zeros(once.sum(), np.int64))
    times.append(start_us + rng.integers(0, span, once.sum()))

    user = np.concatenate(users)
    kind_type = np.concatenate(types)
    amount = np.concatenate(amounts)
    disc = np.concatenate(discounts)
    ts = np.concatenate(times)
    keep = amount > 0
    user, kind_type, amount, disc, ts = (a[keep] for a in (user, kind_type, amount, disc, ts))
    status = (rng.random(len(user)) < fail).astype(np.int32)  # 1 = failed
    # Refunds (subscriptions) and chargebacks (any paid charge except usage), same month.
    charge_paid = status == 0
    refund = charge_paid & (kind_type == 0) & (rng.random(len(user)) < REFUND_RATE)
    chargeback = charge_paid & (kind_type != 2) & ~refund & \
        (rng.random(len(user)) < CHARGEBACK_RATE)
    reverse = np.flatnonzero(refund | chargeback)
    later = ts[reverse] + (rng.random(len(reverse)) * (end_us - 1 - ts[reverse])).astype(np.int64)
    all_user = np.concatenate([user, user[reverse]])
    all_type = np.concatenate([kind_type, kind_type[reverse]])
    all_kind = np.concatenate([np.zeros(len(user), np.int32),
                               np.where(refund[reverse], 1, 2).astype(np.int32)])
    all_status = np.concatenate([status, np.zeros(len(reverse), np.int32)])
    all_amount = np.concatenate([amount, amount[reverse]])
    all_disc = np.concatenate([disc, np.zeros(len(reverse), np.int64)])
    all_ts = np.concatenate([ts, later])
    order = np.argsort(all_ts, kind="stable")
    count = len(order)
    table = pa.table({
        "event_id": pa.array(np.arange(first_id, first_id + count, dtype=np.int64)),
        "user_id": pa.array(all_user[order]),
        "ts": pa.array(all_ts[order], type=pa.timestamp("us", tz="UTC")),
        "type": _dictionary(all_type[order], TYPES),
        "kind": _dictionary(all_kind[order], KINDS),
        "status": _dictionary(all_status[order], STATUSES),
        "amount_cents": pa.array(all_amount[order]),
        "discount_cents": pa.array(all_disc[order]),
        "currency": pa.DictionaryArray.from_arrays(pa.array(np.zeros(count, np.int32)),
                                                   pa.array(["USD"])),
    })
    return table, first_id + count


def _planted(share0: np.ndarray, share1: np.ndarray) -> list[Planted]:
    """The planted effects with the size an explanation should find (approximately).

    Sizes are first-order expectations from the generation parameters and the tier shares
    (paying charges net of the average discount, failures and refunds); the test suite checks
    the explanation recovers each sign and size within a tolerance.
    """
    mean = (share0 + share1) / 2
    kept0, kept1 = 1 - FAIL_BEFORE, 1 - FAIL_AFTER
    net = (1 - 0.2 * PARTNER_DISCOUNT) * (1 - REFUND_RATE - CHARGEBACK_RATE)
    # Starter subscription / user: the price cut, net of discounts, refunds and failures.
    starter = (STARTER_PRICE_CUT * kept1 - PRICE[STARTER] * kept0) / 100 * net * mean[STARTER]
    # Pro attach (adopters are users with a paid add-on charge) × revenue per adopter.
    attach_change = PRO_ATTACH_AFTER * kept1 - ATTACH[PRO] * kept0
    pro_addon = attach_change * ADDON_PRICE / 100 * (1 - CHARGEBACK_RATE) * mean[PRO]
    return [
        Planted((("tier", "business"),), "mix", +1,
                what="the business tier launches (a quarter of pro users move up)",
                expect="positive mix for tier=business, entered in the compare month"),
        Planted((("tier", "starter"),), "rate", -1, driver="base_pu",
                size=round(float(starter), 2),
                what="starter price per seat cut from $17.00 to $15.00",
                expect=f"rate effect on starter base / user about {starter:+.2f}"),
        Planted((("tier", "pro"),), "rate", +1, driver="attach",
                size=round(float(pro_addon), 2),
                what="pro add-on attach rises from 25 % to 40 %",
                expect=f"rate effect on pro add-on attach about {pro_addon:+.2f}"),
        Planted((("tier", "enterprise"),), "rate", +1, driver="usage_pu",
                what="enterprise usage rises from 10 to 15 metered events per user",
                expect="positive rate effect on enterprise usage / user"),
        Planted((), "gap", -1, size=FAIL_BEFORE - FAIL_AFTER,
                what="payment failures rise from 2 % to 5 %",
                expect="realised / contracted falls by about 3 points (trees/arpu_realised.yaml)"),
    ]
