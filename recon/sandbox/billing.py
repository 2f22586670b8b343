"""New-commerce seat rating: cycles, proration, rounding orders A/B, FX and tax (nce-billing-math.md)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import lru_cache

CENT = Decimal("0.01")
EUP_PLACES = Decimal("0.000001")
ZERO = Decimal(0)
ONE_DAY = timedelta(days=1)

# Months per charge cycle for each billing plan; "term" means one charge for the whole term.
PLAN_MONTHS = {"monthly": 1, "annual": 12, "triennial": 36}
TERM_MONTHS = {"P1M": 1, "P1Y": 12, "P3Y": 36}


def rounddown(value: Decimal, places: Decimal = CENT) -> Decimal:
    """Truncate toward zero (Excel ROUNDDOWN), the only rounding Microsoft's subtotal formulas use."""
    return value.quantize(places, rounding=ROUND_DOWN)


def display_eup(eup: Decimal) -> Decimal:
    """Effective unit price as shown on a line: six decimals, half-up (as in Microsoft's tables)."""
    return eup.quantize(EUP_PLACES, rounding=ROUND_HALF_UP)


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _dim(year: int, month: int) -> int:
    if month == 2 and calendar.isleap(year):
        return 29
    return _DAYS[month - 1]


def days_in_month(d: date) -> int:
    """Number of days in the month of `d`."""
    return _dim(d.year, d.month)


def add_months(start: date, months: int, anchor_day: int | None = None) -> date:
    """`start` moved by whole months, keeping `anchor_day` (clamped to the month's last day)."""
    day = anchor_day if anchor_day is not None else start.day
    year, month0 = divmod(start.year * 12 + start.month - 1 + months, 12)
    last = _dim(year, month0 + 1)
    return date(year, month0 + 1, day if day <= last else last)


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from `earlier`'s month to `later`'s month."""
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def term_end(term_start: date, term: str, anchor_day: int | None = None) -> date:
    """Inclusive last day of a term that starts on `term_start`."""
    return add_months(term_start, TERM_MONTHS[term], anchor_day) - ONE_DAY


def cycle_months(term: str, plan: str) -> int:
    """Length in months of one charge cycle (annual billing of a one-year term is the whole term)."""
    return min(PLAN_MONTHS[plan], TERM_MONTHS[term])


def cycle_bounds(term_start: date, term: str, plan: str, index: int, anchor_day: int) -> tuple[date, date]:
    """Start and inclusive end of charge cycle `index` (0-based) of the term starting `term_start`."""
    months = cycle_months(term, plan)
    start = add_months(term_start, index * months, anchor_day)
    end = add_months(term_start, (index + 1) * months, anchor_day) - ONE_DAY
    return start, end


def cycle_days(cycle_start: date, cycle_end: date, plan_months: int) -> int:
    """Proration denominator: days of the cycle's start month (monthly) or the cycle's real length."""
    if plan_months == 1:
        return days_in_month(cycle_start)
    return (cycle_end - cycle_start).days + 1


def billing_days(event: date, cycle_end: date) -> int:
    """Days billed to the new state: the event day through the cycle end, inclusive."""
    return (cycle_end - event).days + 1


def prorated_eup(price: Decimal, cycle_len: int, days: int) -> Decimal:
    """Exact effective unit price for `days` of a cycle of `cycle_len` days (not rounded)."""
    if days == cycle_len:
        return price
    return price / cycle_len * days


def seat_subtotal(eup: Decimal, quantity: int, fx: Decimal, rounding: str = "B") -> Decimal:
    """Seat line subtotal in billing currency: B = ROUNDDOWN(EUP×FX,2)×qty, A = ROUNDDOWN(EUP×qty×FX,2)."""
    if rounding == "B":
        return rounddown(eup * fx) * quantity
    if rounding == "A":
        return rounddown(eup * quantity * fx)
    raise ValueError(f"seat_rounding must be A or B, not {rounding!r}")


def usage_subtotal(eup: Decimal, billable_quantity: Decimal, fx: Decimal) -> Decimal:
    """Usage line subtotal: ROUNDDOWN(ROUNDDOWN(EUP×qty,2)×FX,2)."""
    return rounddown(rounddown(eup * billable_quantity) * fx)


def tax_total(subtotal: Decimal, rate: Decimal) -> Decimal:
    """Tax of a line, truncated to cents toward zero so a refund mirrors its charge."""
    return rounddown(subtotal * rate)


@lru_cache(maxsize=65536)
def unit_rate(
    price: Decimal, discount: Decimal, cycle_len: int, days: int, fx: Decimal, rounding: str
) -> tuple[Decimal, Decimal | None]:
    """Exact EUP after discount and proration, and (rounding B) the per-seat billing amount, else None."""
    if rounding not in ("A", "B"):
        raise ValueError(f"seat_rounding must be A or B, not {rounding!r}")
    eup = prorated_eup(price * (1 - discount) if discount else price, cycle_len, days)
    return eup, (rounddown(eup * fx) if rounding == "B" else None)


def rate_seat_line(
    price: Decimal, discount: Decimal, cycle_len: int, days: int, quantity: int, fx: Decimal, rounding: str
) -> tuple[Decimal, Decimal]:
    """Exact EUP (after discount and proration) and subtotal of one positive seat line."""
    eup, unit = unit_rate(price, discount, cycle_len, days, fx, rounding)
    return eup, (unit * quantity if unit is not None else rounddown(eup * quantity * fx))
