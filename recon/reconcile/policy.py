"""Dated policy calendar: windows, premiums and price lock with effective dates, so a past month re-runs by its rules.

Premiums are part of a price-list price. `premium_factor` / `premium_expr` turn a base price into the price of
another plan only when a price comes from a price list that has no price of its own for that plan; they are
never applied on top of an order's locked price (the shadow rater takes `unit_price` as given).
The base is the annual-term, annual-billing price per month (annual price / 12).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Final

import polars as pl

FACTOR: Final = pl.Decimal(18, 9)
NCE_START: Final = date(2021, 1, 1)  # no start date in the sources; before the earliest NCE example (Jan 2021)


@dataclass(frozen=True)
class PolicyEntry:
    """One dated rule: `value` in `unit`, in force from `effective_from` to `effective_to` (inclusive, open if None)."""

    name: str
    value: Decimal
    unit: str
    effective_from: date
    effective_to: date | None
    source: str
    description: str

    def in_force(self, on: date) -> bool:
        """True when the rule applies on `on`."""
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


POLICY: Final[tuple[PolicyEntry, ...]] = (
    PolicyEntry(
        "cancellation_window", Decimal(7), "days", NCE_START, None, "MS-SUB, MS-CXL",
        "Prorated refund when a subscription is cancelled within 7 days of the start of a term (purchase or renewal).",
    ),
    PolicyEntry(
        "seat_reduction_window", Decimal(7), "days", NCE_START, None, "MS-SUB",
        "Seats can be removed with a prorated refund only within 7 days of when those seats were added.",
    ),
    PolicyEntry(
        "monthly_term_premium", Decimal("0.20"), "fraction", NCE_START, None, "3P-5PCT (third party)",
        "P1M (monthly term) price = 1.20 x the annual-term price per month.",
    ),
    PolicyEntry(
        "annual_billed_monthly_premium", Decimal("0.05"), "fraction", date(2025, 4, 1), None, "3P-5PCT, MS-ANN-25",
        "P1Y and P3Y billed monthly cost 1.05 x the annual-billing price per month; annual/upfront unchanged.",
    ),
    PolicyEntry(
        "extended_service_term_premium", Decimal("0.03"), "fraction", date(2026, 5, 4), None, "MS-EST, 3P-EST",
        "Extended service term: billed monthly at the current P1M price x 1.03.",
    ),
    PolicyEntry(
        "extended_service_term_premium_no_monthly_term", Decimal("0.23"), "fraction", date(2026, 5, 4), None,
        "MS-EST, 3P-EST", "Extended service term of a SKU without a P1M option: annual-term price per month x 1.23.",
    ),
    PolicyEntry(
        "price_lock", Decimal(1), "flag", NCE_START, None, "MS-BAS, TC-LOCK",
        "License prices are locked for the term; a price change applies from the next renewal.",
    ),
)  # fmt: skip

_ONE: Final = Decimal(1)


def policy_entry(name: str, on: date) -> PolicyEntry | None:
    """The entry called `name` in force on `on`, or None."""
    matches = [entry for entry in POLICY if entry.name == name and entry.in_force(on)]
    return matches[-1] if matches else None


def policy_value(name: str, on: date, default: Decimal = Decimal(0)) -> Decimal:
    """Value of the rule `name` on `on`, or `default` when none is in force."""
    entry = policy_entry(name, on)
    return entry.value if entry is not None else default


def _premium_name(term: str, billing: str) -> str | None:
    if term == "P1M":
        return "monthly_term_premium"
    if term in ("P1Y", "P3Y") and billing == "monthly":
        return "annual_billed_monthly_premium"
    return None


def premium_factor(term: str, billing: str, on: date) -> Decimal:
    """Multiplier from the annual-term price per month to the price-list price of (term, billing) on `on`."""
    name = _premium_name(term, billing)
    return _ONE + (policy_value(name, on) if name is not None else Decimal(0))


def extended_service_term_factor(on: date, *, has_monthly_term: bool = True) -> Decimal:
    """Multiplier for an extended service term: over the P1M price, or over the annual-term price per month."""
    name = "extended_service_term_premium" if has_monthly_term else "extended_service_term_premium_no_monthly_term"
    return _ONE + policy_value(name, on)


def _dated_value(name: str, on: pl.Expr) -> pl.Expr:
    # A loop over the handful of calendar entries, not over rows.
    value: pl.Expr = pl.lit(Decimal(0), dtype=FACTOR)
    for entry in (e for e in POLICY if e.name == name):
        in_force = on >= pl.lit(entry.effective_from)
        if entry.effective_to is not None:
            in_force = in_force & (on <= pl.lit(entry.effective_to))
        value = pl.when(in_force).then(pl.lit(entry.value, dtype=FACTOR)).otherwise(value)
    return value


def premium_expr(term_col: str, billing_col: str, date_col: str) -> pl.Expr:
    """Vectorised `premium_factor` over columns (Decimal(18,9)); same table, same dates."""
    term, billing, on = pl.col(term_col), pl.col(billing_col), pl.col(date_col)
    premium = (
        pl.when(term == "P1M")
        .then(_dated_value("monthly_term_premium", on))
        .when(term.is_in(["P1Y", "P3Y"]) & (billing == "monthly"))
        .then(_dated_value("annual_billed_monthly_premium", on))
        .otherwise(pl.lit(Decimal(0), dtype=FACTOR))
    )
    return (pl.lit(_ONE, dtype=FACTOR) + premium).cast(FACTOR)


POLICY_SCHEMA: Final[dict[str, pl.DataType]] = {
    "name": pl.String(),
    "value": FACTOR,
    "unit": pl.String(),
    "effective_from": pl.Date(),
    "effective_to": pl.Date(),
    "source": pl.String(),
    "description": pl.String(),
}


def policy_frame() -> pl.DataFrame:
    """The calendar as a frame for `recon.policy_calendar`."""
    columns = {f.name: [getattr(entry, f.name) for entry in POLICY] for f in fields(PolicyEntry)}
    return pl.DataFrame(columns, schema=POLICY_SCHEMA)


def policy_expr(name: str, on: pl.Expr) -> pl.Expr:
    """Vectorised `policy_value`: the value of rule `name` in force on each date of `on` (0 when none)."""
    return _dated_value(name, on)
