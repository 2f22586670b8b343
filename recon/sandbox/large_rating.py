"""Exact integer rating of the `large` world's seat lines (nce-billing-math.md §4-§6).

Prices are in the customer's market currency (cents; P1M +20 %, monthly billing of P1Y/P3Y +5 % from
2025-04-01, annual = 12 × the monthly price, each product's price list rising once; a term keeps the price of
its start), the exchange rate is the month's pcToBCExchangeRate (9 decimals), and with the undivided
EUP = price × (1 − promotion) / cycle days × billing days (a rational number, never rounded):

* rounding B: subtotal = ROUNDDOWN(EUP × FX, 2) × quantity
* rounding A: subtotal = ROUNDDOWN(EUP × quantity × FX, 2)
* taxTotal = ROUNDDOWN(subtotal × the market's tax rate, 2) (toward zero, so a refund mirrors its charge)

All in Int128 floor divisions, so no intermediate rounding can lose a cent. The line shows EUP with six
decimals (half-up), signed.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from recon.sandbox.catalog import (
    AVAILABILITIES,
    EUR_VALUE,
    MONTHLY_BILLING_PREMIUM_FROM,
    _list_price,
    price_change_date,
)
from recon.sandbox.large_population import SeatPopulation, days_of, first_day, month_index
from recon.sandbox.lines import Rating
from recon.sandbox.population import Customer
from recon.sandbox.usage import PEC_TEXT

CURRENCIES = list(EUR_VALUE)
PROMO_PCTS = [5, 10, 15, 20, 25]
# priceAdjustmentDescription of a line, by code: none, a promotion's percent, partner-earned credit (Azure)
ADJUSTMENTS = ["[]", *(f'["{p:.1f}% Promotion discount"]' for p in PROMO_PCTS), PEC_TEXT]
_I128 = pl.Int128


def price_table(seed: int) -> np.ndarray:
    """Unit price in cents by [availability, currency, before the product's price rise, monthly premium]."""
    out = np.zeros((len(AVAILABILITIES), len(CURRENCIES), 2, 2), dtype=np.int64)
    for a, av in enumerate(AVAILABILITIES):
        for c, cur in enumerate(CURRENCIES):
            for before in (0, 1):
                for premium in (0, 1):
                    out[a, c, before, premium] = int(_list_price(seed, av, cur, bool(before), bool(premium)) * 100)
    return out


def fx_table(rating: Rating, first: date, last: date) -> tuple[np.ndarray, int]:
    """pcToBCExchangeRate in billionths by [currency, month − first month], and the first month's index."""
    m0, m1 = (month_index(np.array([days_of(d)]))[0] for d in (first, last))
    months = [date(int(m // 12), int(m % 12) + 1, 1) for m in range(m0, m1 + 1)]
    table = np.array([[int(rating.fx(cur, m) * 10**9) for m in months] for cur in CURRENCIES], dtype=np.int64)
    return table, int(m0)


def rate(
    lines: pl.DataFrame, pop: SeatPopulation, customers: list[Customer], rating: Rating, first: date, last: date
) -> pl.DataFrame:
    """The replay's lines with their customer, offer, amounts and adjustment code (the `large` line columns)."""
    sub = lines["sub"].to_numpy()
    k, t_start, on = lines["k"].to_numpy(), lines["t_start"].to_numpy(), lines["on"].to_numpy()
    cust = pop.cust[sub]
    avail = pop.avail[sub]
    cur = np.array([CURRENCIES.index(c.currency) for c in customers], dtype=np.int64)[cust]
    tax = np.array([int(c.tax_rate * 1000) for c in customers], dtype=np.int64)[cust]
    rise = np.array([days_of(price_change_date(rating.seed, a.product)) for a in AVAILABILITIES])[avail]
    premium = t_start >= days_of(MONTHLY_BILLING_PREMIUM_FROM)
    price = price_table(rating.seed)[avail, cur, (t_start < rise).astype(np.int64), premium.astype(np.int64)]
    fx, m0 = fx_table(rating, first, last)
    dpct = np.where(k == 0, pop.dpct[sub], 0)
    frame = lines.with_columns(
        cust=pl.Series(cust, dtype=pl.Int32),
        cur=pl.Series(cur, dtype=pl.Int8),
        bdays=(lines["ce"] - lines["on"] + 1).cast(pl.Int16),
        av=pl.Series(avail, dtype=pl.Int16),
        price=pl.Series(price),
        dpct=pl.Series(dpct, dtype=pl.Int8),
        fx=pl.Series(fx[cur, month_index(on) - m0]),
        tax3=pl.Series(tax, dtype=pl.Int16),
        adj=pl.Series(np.searchsorted([0, *PROMO_PCTS], dpct), dtype=pl.UInt8),
    )
    return finish_amounts(frame, rating.rounding)


def finish_amounts(frame: pl.DataFrame, rounding: str) -> pl.DataFrame:
    """subtotal, taxTotal and totalForCustomer (cents) from price, promotion, billing days, FX and seats."""
    e4 = pl.col("price").cast(_I128) * (100 - pl.col("dpct"))  # EUP of a full cycle in 1e-4 units
    days = pl.col("bdays")
    num = e4 * days * pl.col("fx")  # × 1e-13, to be divided by the cycle days
    den = pl.col("clen").cast(_I128) * 10**11
    if rounding == "B":
        cents = (num // den) * pl.col("qty")
    elif rounding == "A":
        cents = (num * pl.col("qty")) // den
    else:
        raise ValueError(f"seat_rounding must be A or B, not {rounding!r}")
    return (
        frame.with_columns(subtotal=(cents * pl.col("sign")).cast(pl.Int64))
        .with_columns(tax=pl.col("subtotal").abs() * pl.col("tax3") // 1000 * pl.col("sign"))
        .with_columns(total=pl.col("subtotal") + pl.col("tax"))
    )


def shown_eup() -> pl.Expr:
    """effectiveUnitPrice as shown (six decimals, half-up, signed) in 1e-15 units."""
    e4 = pl.col("price").cast(_I128) * (100 - pl.col("dpct"))
    eup6 = (2 * e4 * pl.col("bdays") * 100 + pl.col("clen")) // (2 * pl.col("clen").cast(_I128))
    return eup6 * pl.col("sign") * 10**9


def month_starts(days: np.ndarray) -> np.ndarray:
    """First day of each date's month (days since 1970-01-01)."""
    return first_day(month_index(days))
