"""Customers and seat subscriptions of a sandbox world, drawn deterministically from the seed."""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from recon.sandbox.catalog import AVAILABILITIES, MARKET_WEIGHTS, MARKETS, Availability
from recon.sandbox.rand import base128, det_code, det_guid, guid_of, mix, stream

_ADJ = [
    "Blue",
    "North",
    "Bright",
    "Silver",
    "Oak",
    "Harbor",
    "Delta",
    "Summit",
    "Polder",
    "Rhine",
    "Atlas",
    "Nova",
    "Cedar",
    "Maple",
    "Granite",
    "Tulip",
    "Orbit",
    "Falcon",
    "Linden",
    "Coastal",
]
_NOUN = [
    "Logistics",
    "Dental",
    "Engineering",
    "Legal",
    "Retail",
    "Foods",
    "Analytics",
    "Bakery",
    "Consulting",
    "Architects",
    "Health",
    "Freight",
    "Media",
    "Energy",
    "Insurance",
    "Labs",
]
_SUFFIX = {
    "NL": "B.V.",
    "DE": "GmbH",
    "BE": "NV",
    "FR": "SAS",
    "GB": "Ltd",
    "US": "Inc.",
    "DK": "ApS",
    "CH": "AG",
}
_PLAN_WEIGHTS = {
    ("P1M", "monthly"): 30,
    ("P1Y", "monthly"): 45,
    ("P1Y", "annual"): 15,
    ("P3Y", "monthly"): 6,
    ("P3Y", "annual"): 4,
}


@dataclass(slots=True)
class Customer:
    """A customer tenant of the partner."""

    idx: int
    id: str
    name: str
    domain: str
    country: str
    currency: str
    tax_rate: Decimal
    reseller_mpn: int


@dataclass(slots=True)
class Subscription:
    """A seat subscription as first purchased; its later life is replayed by lifecycle.py."""

    idx: int
    id: str
    customer: int
    avail: Availability
    start: date
    quantity: int
    auto_renew: bool
    discount: Decimal
    promotion_id: str
    order_id: str
    base: int  # root of the subscription's derived ids and draws
    ghost: bool = False  # exists only on injected lines, never in the subscription list

    @property
    def anchor_day(self) -> int:
        """Day of month that every charge cycle starts on."""
        return self.start.day


def make_customers(seed: int, count: int) -> list[Customer]:
    """The world's customers: unique names and domains across the partner's markets."""
    rng = stream(seed, "customers")
    countries = list(MARKET_WEIGHTS)
    weights = list(MARKET_WEIGHTS.values())
    seen: set[str] = set()
    out = []
    for i in range(count):
        country = rng.choices(countries, weights)[0]
        base = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}"
        name = base
        n = 2
        while name in seen:
            name = f"{base} {n}"
            n += 1
        seen.add(name)
        slug = "".join(ch for ch in name.lower() if ch.isalnum())
        currency, tax = MARKETS[country]
        reseller = 0 if rng.random() < 0.7 else 1000000 + rng.randrange(8999999)
        out.append(
            Customer(
                i,
                det_guid(seed, "customer", i),
                f"{name} {_SUFFIX[country]}",
                f"{slug}.onmicrosoft.com",
                country,
                currency,
                tax,
                reseller,
            )
        )
    return out


def make_subscriptions(
    seed: int, customers: list[Customer], per_customer: tuple[int, int], window_start: date, anchor: date
) -> list[Subscription]:
    """Each customer's seat subscriptions, started before or during the world's months."""
    plans = list(_PLAN_WEIGHTS)
    cum = list(itertools.accumulate(_PLAN_WEIGHTS.values()))
    by_plan: dict[tuple[str, str], list[Availability]] = {}
    for av in AVAILABILITIES:
        by_plan.setdefault((av.term, av.plan), []).append(av)
    latest = anchor + timedelta(days=62)
    earliest = {t: window_start - timedelta(days=back) for t, back in (("P1M", 730), ("P1Y", 365), ("P3Y", 1095))}
    discounts = [Decimal(p) / 100 for p in (5, 10, 15, 20, 25)]
    out: list[Subscription] = []
    for cust in customers:
        ids = base128(seed, "sub-of", cust.idx)
        low, high = per_customer
        for n in range(low + mix(ids, 0) % (high - low + 1)):
            v = mix(ids, n)  # 128 random bits: eight 16-bit draws
            u = [((v >> (16 * i)) & 0xFFFF) / 65536 for i in range(8)]
            term, plan = plans[bisect.bisect_right(cum, u[0] * cum[-1])]
            options = by_plan[(term, plan)]
            avail = options[int(u[1] * len(options))]
            first = earliest[term]
            start = first + timedelta(days=int(u[2] * (latest - first).days))
            start = start.replace(day=min(start.day, 28))  # see docs/sandbox.md: no 29th-31st anchors yet
            cap = 40 if avail.product.family == "d365" else 250
            qty = max(1, min(cap, int(math.exp(u[3] * 5.6))))
            promo = u[4] < 0.08
            idx = len(out)
            product = avail.product
            promo_id = f"{product.product_id}:{product.sku_id}:{det_code(12, seed, 'promo', idx)}" if promo else ""
            discount = discounts[int(u[5] * len(discounts))] if promo else Decimal(0)
            order = f"{mix(v, 1) & 0xFFFFFFFFFFFF:012x}"
            out.append(
                Subscription(
                    idx,
                    guid_of(mix(v, 2)),
                    cust.idx,
                    avail,
                    start,
                    qty,
                    u[6] > 0.08,
                    discount,
                    promo_id,
                    order,
                    mix(v, 3),
                )
            )
    return out
