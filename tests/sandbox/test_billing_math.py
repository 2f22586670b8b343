"""nce-billing-math.md §8 worked examples, reproduced to the cent by the sandbox's own rating functions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from recon.sandbox.billing import (
    add_months,
    billing_days,
    cycle_bounds,
    cycle_days,
    prorated_eup,
    rate_seat_line,
    seat_subtotal,
    tax_total,
    term_end,
    usage_subtotal,
)


def pair(price: str, start: date, end: date, on: date, old: int, new: int, rounding: str) -> tuple[D, D]:
    """Refund of `old` seats and charge of `new` seats for a mid-cycle change on `on` (monthly cycle)."""
    eup = prorated_eup(D(price), cycle_days(start, end, 1), billing_days(on, end))
    return -seat_subtotal(eup, old, D(1), rounding), seat_subtotal(eup, new, D(1), rounding)


def test_example_1_p1m_purchase_and_renewal() -> None:
    start, end = cycle_bounds(date(2021, 6, 18), "P1M", "monthly", 0, 18)
    assert (start, end) == (date(2021, 6, 18), date(2021, 7, 17))
    assert term_end(date(2021, 6, 18), "P1M") == date(2021, 7, 17)
    renew = add_months(date(2021, 6, 18), 1)
    assert (renew, term_end(renew, "P1M")) == (date(2021, 7, 18), date(2021, 8, 17))
    assert rate_seat_line(D("10.08"), D(0), 30, 30, 10, D(1), "B") == (D("10.08"), D("100.80"))


def test_example_2_p1y_monthly_and_prepaid() -> None:
    assert cycle_bounds(date(2021, 6, 18), "P1Y", "monthly", 1, 18) == (date(2021, 7, 18), date(2021, 8, 17))
    assert seat_subtotal(D("10.08"), 10, D(1), "B") == D("100.80")
    start, end = cycle_bounds(date(2021, 6, 18), "P1Y", "annual", 0, 18)
    assert (start, end) == (date(2021, 6, 18), date(2022, 6, 17))
    assert seat_subtotal(D("10.08") * 12, 10, D(1), "B") == D("1209.60")


def test_example_3_seat_change_rounding_a() -> None:
    start, end = date(2021, 6, 18), date(2021, 7, 17)
    assert cycle_days(start, end, 1) == 30
    assert billing_days(date(2021, 6, 20), end) == 28
    assert prorated_eup(D("10.08"), 30, 28) == D("9.408")
    assert pair("10.08", start, end, date(2021, 6, 20), 10, 12, "A") == (D("-94.08"), D("112.89"))
    assert pair("10.08", start, end, date(2021, 6, 20), 12, 8, "A") == (D("-112.89"), D("75.26"))
    assert pair("10.08", start, end, date(2021, 6, 20), 10, 12, "B") == (D("-94.00"), D("112.80"))


def test_example_4_five_changes_rounding_a() -> None:
    start, end = date(2022, 3, 5), date(2022, 4, 4)
    changes = [
        (date(2022, 3, 7), 10, 15),
        (date(2022, 3, 10), 15, 25),
        (date(2022, 3, 12), 25, 23),
        (date(2022, 3, 14), 23, 20),
        (date(2022, 3, 25), 20, 30),
    ]
    expected = [
        "-112.25",
        "168.38",
        "-150.96",
        "251.61",
        "-232.25",
        "213.67",
        "-195.87",
        "170.32",
        "-85.16",
        "127.74",
    ]
    got = [amount for on, old, new in changes for amount in pair("12", start, end, on, old, new, "A")]
    assert got == [D(x) for x in expected]
    assert D(120) + sum(got) == D("275.23")


def test_example_5_cancel_inside_window_rounding_b() -> None:
    start, end = date(2021, 7, 15), date(2021, 8, 14)
    eup = prorated_eup(D("10.08"), cycle_days(start, end, 1), billing_days(date(2021, 7, 17), end))
    assert eup.quantize(D("0.000001")) == D("9.429677")
    assert -seat_subtotal(eup, 10, D(1), "B") == D("-94.20")
    assert -seat_subtotal(eup, 10, D(1), "A") == D("-94.29")


def test_example_9_annual_prorations() -> None:
    eup = prorated_eup(D(432), 365, billing_days(date(2025, 7, 1), date(2026, 1, 14)))
    assert (seat_subtotal(eup, 10, D(1), "A"), seat_subtotal(eup, 10, D(1), "B")) == (
        D("2343.45"),
        D("2343.40"),
    )
    assert (seat_subtotal(eup, 12, D(1), "A"), seat_subtotal(eup, 12, D(1), "B")) == (
        D("2812.14"),
        D("2812.08"),
    )


def test_example_10_fx_seat_and_usage() -> None:
    fx = D("0.846202666")
    assert seat_subtotal(D("16.20"), 15, fx, "B") == D("205.50")
    assert seat_subtotal(D("16.20"), 15, fx, "A") == D("205.62")
    assert usage_subtotal(D("2.5415"), D(32), fx) == D("68.81")


def test_example_15_promotion_subtotal() -> None:
    assert rate_seat_line(D(16), D("0.10"), 31, 31, 50, D(1), "B") == (D("14.40"), D("720.00"))


def test_end_of_month_anchor_cycles() -> None:
    # nce-billing-math.md §3.1: P1Y monthly bought Jan 31 2021
    starts = [cycle_bounds(date(2021, 1, 31), "P1Y", "monthly", j, 31) for j in range(3)]
    assert starts == [
        (date(2021, 1, 31), date(2021, 2, 27)),
        (date(2021, 2, 28), date(2021, 3, 30)),
        (date(2021, 3, 31), date(2021, 4, 29)),
    ]


def test_tax_truncates_toward_zero_symmetrically() -> None:
    assert tax_total(D("100.80"), D("0.21")) == D("21.16")
    assert tax_total(D("-100.80"), D("0.21")) == D("-21.16")


def test_unknown_rounding_is_refused() -> None:
    with pytest.raises(ValueError, match="A or B"):
        seat_subtotal(D(1), 1, D(1), "C")
