"""Seat-line rounding strategies A, B and HALF_UP (nce-billing-math.md §5.1-5.2) as polars Decimal expressions.

Every strategy receives the exact per-seat amount as a fraction `numerator / cycle_days`, where the
numerator is unit price x (1 - discount) x billing days x exchange rate, and divides last. Dividing first
(EUP rounded to N places, then x quantity) turns an exact 10.00 into 9.99 whenever the quotient is a
repeating decimal (10.00 / 30 x 10 x 3 seats); dividing last is exact whatever the number of places.

- B (documented, MS-FLD):  ROUNDDOWN(EUP x FX, 2) x billableQuantity
- A (Microsoft's seat tables): ROUNDDOWN(EUP x billableQuantity x FX, 2)
- HALF_UP (one usage example): round half away from zero of EUP x billableQuantity x FX to 2 places

ROUNDDOWN truncates toward zero. The expressions expect non-negative inputs; the caller applies the sign,
which is the same as truncating the signed value toward zero (-94.296 -> -94.29).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from recon.reconcile.frames import AMOUNT, WIDE

ROUNDING_MODES: Final[tuple[str, ...]] = ("A", "B", "HALF_UP")
# Working precision: 18 integer digits, 20 places. Products of a price (<= 6 places in practice), a
# discount and a 9-place exchange rate stay exact; a quotient is off by at most 5e-21, far below any
# distance from a cent boundary that a non-boundary value of this kind can have.
CALC: Final = pl.Decimal(38, 20)
_CENTS: Final = pl.Decimal(38, 2)


def check_mode(mode: str) -> str:
    """Return `mode` if it is a known rounding strategy, else raise ValueError."""
    if mode not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDING_MODES)}, not {mode!r}")
    return mode


def truncate_cents(value: pl.Expr) -> pl.Expr:
    """ROUNDDOWN(value, 2): truncate a Decimal toward zero to whole cents, as AMOUNT."""
    # Decimal -> integer casts truncate toward zero; x100 is exact at the working scale.
    return ((value.cast(CALC) * 100).cast(pl.Int128).cast(_CENTS) / 100).cast(AMOUNT)


def half_up_cents(value: pl.Expr) -> pl.Expr:
    """Round a Decimal to cents, ties away from zero (never bare round(): polars' default is half-to-even)."""
    return value.cast(CALC).round(2, mode="half_away_from_zero").cast(AMOUNT)


def exact_quotient(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator at the working scale (a Decimal quotient keeps the left operand's scale)."""
    return numerator.cast(CALC) / denominator.cast(pl.Int64)


def rounded_subtotal(mode: str, numerator: pl.Expr, cycle_days: pl.Expr, quantity: pl.Expr) -> pl.Expr:
    """Unsigned subtotal of a seat line: per-seat amount numerator / cycle_days, rounded per `mode`, as AMOUNT."""
    check_mode(mode)
    qty = quantity.cast(CALC)
    if mode == "B":
        per_seat = truncate_cents(exact_quotient(numerator, cycle_days))
        return (per_seat * quantity.cast(AMOUNT)).cast(AMOUNT)
    line = exact_quotient(numerator.cast(CALC) * qty, cycle_days)
    if mode == "A":
        return truncate_cents(line)
    return half_up_cents(line)


def exact_subtotal(numerator: pl.Expr, cycle_days: pl.Expr, quantity: pl.Expr) -> pl.Expr:
    """Unrounded subtotal (numerator x quantity / cycle_days) at the working scale, for tolerance checks."""
    return exact_quotient(numerator.cast(CALC) * quantity.cast(CALC), cycle_days)


def signed_amounts(mode: str, unit_price: pl.Expr, discount: pl.Expr, rate: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(effective_unit_price WIDE, subtotal AMOUNT) of a line, signed by its `sign` column ("+"/"-").

    Uses the columns `billing_days`, `cycle_days`, `quantity` and `sign`: EUP = price x (1 - discount) /
    cycle_days x billing_days in pricing currency, subtotal in billing currency rounded per `mode`.
    """
    per_seat = unit_price.cast(CALC) * (1 - discount.cast(CALC)) * pl.col("billing_days")
    eup = exact_quotient(per_seat, pl.col("cycle_days")).cast(WIDE)
    subtotal = rounded_subtotal(mode, per_seat * rate.cast(CALC), pl.col("cycle_days"), pl.col("quantity"))
    negative = pl.col("sign") == "-"
    return pl.when(negative).then(-eup).otherwise(eup), pl.when(negative).then(-subtotal).otherwise(subtotal)
