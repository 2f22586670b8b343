"""The `large` world's seat subscriptions as numpy arrays, drawn exactly as population.make_subscriptions draws them.

Each customer's count and each subscription's 128 random bits come from the same rand.mix chain, so the arrays
hold the same subscriptions make_subscriptions would build (only the promotion id's code is derived by a
vectorised hash instead of SHA-256). Subscription objects are made on first use only (the commerce API), by
`LazySubs`; building and serving billing lines never needs them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, SupportsIndex, overload

import numpy as np
import numpy.typing as npt

from recon.sandbox.billing import TERM_MONTHS, cycle_months
from recon.sandbox.catalog import AVAILABILITIES
from recon.sandbox.large_hash import U64, chunk, code_text, draw64, guid_text, hex_text, low48, mix, split
from recon.sandbox.population import _PLAN_WEIGHTS, Customer, Subscription
from recon.sandbox.rand import base128
from recon.sandbox.rand import mix as mix1

I64 = npt.NDArray[np.integer[Any]]  # integer arrays (dates as days since 1970-01-01, indices, counts)
EPOCH = date(1970, 1, 1)
_EPOCH_ORD = EPOCH.toordinal()
_PLANS = list(_PLAN_WEIGHTS)
_CUM = np.cumsum(list(_PLAN_WEIGHTS.values()))
_BACK = {"P1M": 730, "P1Y": 365, "P3Y": 1095}  # how far before the window a subscription may start
_DISCOUNTS = np.array([5, 10, 15, 20, 25])  # promotion discount percents
_EXP = np.array([int(math.exp(c / 65536 * 5.6)) for c in range(65536)])  # math.exp, bit for bit
AV_TERM = np.array([TERM_MONTHS[a.term] for a in AVAILABILITIES])
AV_CYCLE = np.array([cycle_months(a.term, a.plan) for a in AVAILABILITIES])
_AV_CAP = np.array([40 if a.product.family == "d365" else 250 for a in AVAILABILITIES])


def days_of(d: date) -> int:
    """Days since 1970-01-01 (polars' Date)."""
    return d.toordinal() - _EPOCH_ORD


# Calendar lookups for 1900-2199 (numpy's datetime64 month conversions are slow on millions of dates).
_DAY0, _MONTH0 = days_of(date(1900, 1, 1)), 1900 * 12
_MONTH_OF_DAY = np.arange(_DAY0, days_of(date(2200, 1, 1))).astype("M8[D]").astype("M8[M]").astype(np.int64) + 1970 * 12
_FIRST_DAY = (np.arange(_MONTH0, 2200 * 12 + 1) - 1970 * 12).astype("M8[M]").astype("M8[D]").astype(np.int64)


def month_index(days: I64) -> I64:
    """year × 12 + month − 1 of each date (days since 1970-01-01)."""
    return _MONTH_OF_DAY[days - _DAY0]


def first_day(month: I64) -> I64:
    """Days since 1970-01-01 of the first day of each month index."""
    return _FIRST_DAY[month - _MONTH0]


@dataclass
class SeatPopulation:
    """Seat subscriptions as arrays indexed by subscription idx (customers' subscriptions in customer order)."""

    seed: int
    cust: npt.NDArray[np.int32]
    avail: npt.NDArray[np.int16]  # index in catalog.AVAILABILITIES
    start: npt.NDArray[np.int32]  # days since 1970-01-01; day of month 1-28
    qty: npt.NDArray[np.int32]
    auto_renew: npt.NDArray[np.bool_]
    dpct: npt.NDArray[np.int8]  # promotion discount in percent (0: no promotion)
    order: U64  # 48-bit purchase order id
    id_hi: U64
    id_lo: U64
    base_hi: U64
    base_lo: U64

    def __len__(self) -> int:
        return len(self.cust)

    def promo_codes(self, subs: npt.NDArray[np.integer]) -> list[str]:
        """The 12-character code of each listed subscription's promotion id."""
        return code_text(draw64(self.seed & 0x7FFFFFFFFFFFFFFF, 0x70726F6D6F, subs), 12).to_list()


def make_population(
    seed: int, customers: list[Customer], per_customer: tuple[int, int], window_start: date, anchor: date
) -> SeatPopulation:
    """Every customer's seat subscriptions (population.make_subscriptions, as arrays)."""
    low, high = per_customer
    roots = [base128(seed, "sub-of", c.idx) for c in customers]
    counts = np.array([low + mix1(r, 0) % (high - low + 1) for r in roots], dtype=np.int64)
    cust = np.repeat(np.arange(len(customers), dtype=np.int64), counts)
    first_of_cust = np.cumsum(counts) - counts
    n = np.arange(len(cust), dtype=np.int64) - first_of_cust[cust]
    r_hi, r_lo = split(roots)
    v_hi, v_lo = mix(r_hi[cust], r_lo[cust], n)

    def u(i: int) -> npt.NDArray[np.float64]:
        return chunk(v_lo, v_hi, i) / 65536

    plan = np.searchsorted(_CUM, u(0) * _CUM[-1], side="right")
    options = [[i for i, a in enumerate(AVAILABILITIES) if (a.term, a.plan) == p] for p in _PLANS]
    table = np.array([o + [o[0]] * (max(map(len, options)) - len(o)) for o in options])
    lens = np.array([len(o) for o in options])
    avail = table[plan, (u(1) * lens[plan]).astype(np.int64)]
    latest = days_of(anchor + timedelta(days=62))
    first = np.array([days_of(window_start - timedelta(days=_BACK[t])) for t, _ in _PLANS])[plan]
    start = first + (u(2) * (latest - first)).astype(np.int64)
    dom = start - first_day(month_index(start)) + 1
    start = start - np.maximum(dom - 28, 0)  # see docs/sandbox.md: no 29th-31st anchors
    qty = np.maximum(1, np.minimum(_AV_CAP[avail], _EXP[chunk(v_lo, v_hi, 3)]))
    dpct = np.where(u(4) < 0.08, _DISCOUNTS[(u(5) * len(_DISCOUNTS)).astype(np.int64)], 0)
    id_hi, id_lo = mix(v_hi, v_lo, 2)
    base_hi, base_lo = mix(v_hi, v_lo, 3)
    return SeatPopulation(
        seed,
        cust.astype(np.int32),
        avail.astype(np.int16),
        start.astype(np.int32),
        qty.astype(np.int32),
        u(6) > 0.08,
        dpct.astype(np.int8),
        low48(mix(v_hi, v_lo, 1)[1]),
        id_hi,
        id_lo,
        base_hi,
        base_lo,
    )


def subscriptions(pop: SeatPopulation) -> list[Subscription]:
    """The population as Subscription objects (a few seconds for a million; only the commerce API needs them)."""
    ids = guid_text(pop.id_hi, pop.id_lo).to_list()
    orders = hex_text(pop.order, 12).to_list()
    promos = np.nonzero(pop.dpct)[0]
    codes = dict(zip(promos.tolist(), pop.promo_codes(promos), strict=True))
    starts = {d: EPOCH + timedelta(days=d) for d in np.unique(pop.start).tolist()}
    discounts = {p: Decimal(p) / 100 for p in (0, *_DISCOUNTS.tolist())}
    bases = [(h << 64) | lo for h, lo in zip(pop.base_hi.tolist(), pop.base_lo.tolist(), strict=True)]
    out = []
    for i, (c, a, s, q, auto, d) in enumerate(
        zip(*(x.tolist() for x in (pop.cust, pop.avail, pop.start, pop.qty, pop.auto_renew, pop.dpct)), strict=True)
    ):
        av = AVAILABILITIES[a]
        promo = f"{av.product.product_id}:{av.product.sku_id}:{codes[i]}" if d else ""
        out.append(Subscription(i, ids[i], c, av, starts[s], q, auto, discounts[d], promo, orders[i], bases[i]))
    return out


class LazySubs(list[Subscription]):
    """The world's subscriptions, made into objects on first read; appended ones (the ledger's) follow them."""

    def __init__(self, pop: SeatPopulation):
        super().__init__()
        self.population = pop
        self._ready = False

    def _fill(self) -> None:
        if not self._ready:
            self._ready = True
            tail = list(list.__iter__(self))
            list.clear(self)
            list.extend(self, subscriptions(self.population))
            list.extend(self, tail)

    def __len__(self) -> int:
        return list.__len__(self) + (0 if self._ready else len(self.population))

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[Subscription]:
        self._fill()
        return list.__iter__(self)

    def __reversed__(self) -> Iterator[Subscription]:
        self._fill()
        return list.__reversed__(self)

    def __contains__(self, item: object) -> bool:
        self._fill()
        return list.__contains__(self, item)

    @overload
    def __getitem__(self, i: SupportsIndex) -> Subscription: ...

    @overload
    def __getitem__(self, i: slice) -> list[Subscription]: ...

    def __getitem__(self, i: SupportsIndex | slice) -> Subscription | list[Subscription]:
        self._fill()
        return list.__getitem__(self, i)

    def __eq__(self, other: Any) -> bool:
        self._fill()
        return list.__eq__(self, other)
