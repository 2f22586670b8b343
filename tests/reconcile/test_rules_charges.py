"""R01, R02, R03, R06, R07 by example: one fixture per business case, the expected findings out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import polars as pl

from recon.reconcile.catalogue import run_rules
from recon.reconcile.charges import r01_quantity, r02_unit_price, r03_proration, r06_duplicate, r07_credit
from recon.reconcile.matching import FULL, license_lines, match
from recon.reconcile.rating import expected_charges
from tests.reconcile.test_rules_fixtures import (
    NO_FX,
    as_lines,
    edit,
    ev,
    events,
    frames,
    fx,
    rate,
    run,
    subscriptions,
    summary,
)

JUN, JUL = date(2021, 6, 1), date(2021, 7, 1)


def rule_ids(inputs: dict[str, pl.LazyFrame]) -> set[str]:
    """Rule ids (text before the first `-`) of every finding above info from the whole catalogue."""
    out = run_rules(inputs).collect()
    return {r.split("-")[0] for r in out.filter(pl.col("severity") != "info")["rule"]}


def is_(charge_type: str, sign: str = "+") -> pl.Expr:
    """Lines of a charge type whose subtotal has the sign."""
    return (pl.col("charge_type") == charge_type) & ((pl.col("subtotal") < 0) == (sign == "-"))


# ---- proration on add (nce-billing-math.md Example 3) --------------------------------------------------------

ADD = events(ev("purchase", date(2021, 6, 18), 10), ev("add", date(2021, 6, 20), 12))


def test_proration_on_add_billed_as_rated_matches_in_full() -> None:
    expected = rate(ADD, until=date(2021, 6, 30))
    paired = match(expected.lazy(), license_lines(as_lines(expected).lazy())).collect()
    assert paired["status"].to_list() == [FULL] * 3
    assert rule_ids(frames(expected, as_lines(expected), periods=[JUN])) == set()


def test_proration_on_add_over_wrong_days_is_r03_only() -> None:
    expected = rate(ADD, until=date(2021, 6, 30))
    # 12 seats prorated over 27 of 30 days instead of 28: ROUNDDOWN(10.08/30*27, 2) x 12 = 9.07 x 12 = 108.84
    lines = edit(as_lines(expected), is_("addQuantity").and_(pl.col("billable_quantity") == 12), subtotal=D("108.84"))
    inputs = frames(expected, lines, periods=[JUN])
    out = run(r03_proration, inputs)
    assert summary(out) == [("R03-proration", "s1", "INV-202106", JUN, "addQuantity", D("-3.96"))]
    assert out["amount_at_stake"].to_list() == [D("3.96")]
    assert rule_ids(inputs) == {"R03"}


# ---- proration on remove and missing credit --------------------------------------------------------------------

REMOVE = events(ev("purchase", date(2021, 6, 18), 12), ev("remove", date(2021, 6, 20), 8))


def test_proration_on_remove_clean_and_missing_credit() -> None:
    expected = rate(REMOVE, until=date(2021, 6, 30))
    lines = as_lines(expected)
    assert rule_ids(frames(expected, lines, periods=[JUN])) == set()
    without_refund = lines.filter(~((pl.col("charge_type") == "removeQuantity") & (pl.col("subtotal") < 0)))
    inputs = frames(expected, without_refund, periods=[JUN])
    out = run(r07_credit, inputs)
    assert summary(out) == [("R07-missing-credit", "s1", "INV-202106", JUN, "removeQuantity", D("112.80"))]
    assert out["amount_at_stake"].to_list() == [D("112.80")]
    assert rule_ids(inputs) == {"R07"}


def test_missing_credit_in_an_open_period_is_not_a_finding_yet() -> None:
    expected = rate(REMOVE, until=date(2021, 6, 30))
    lines = as_lines(expected).filter(~((pl.col("charge_type") == "removeQuantity") & (pl.col("subtotal") < 0)))
    assert run(r07_credit, frames(expected, lines, periods=[])).is_empty()


# ---- proration on cancel, the credit note, a credit applied twice ------------------------------------------------

CANCEL = events(ev("purchase", date(2021, 7, 15), 10), ev("cancel", date(2021, 7, 17), 0))


def test_cancel_credit_note_billed_as_rated_is_clean() -> None:
    expected = rate(CANCEL, until=date(2021, 7, 31))
    refund = expected.filter(pl.col("charge_type") == "cancelImmediate")
    assert refund["subtotal"].to_list() == [D("-94.20")]  # Example 5, rounding B
    assert rule_ids(frames(expected, as_lines(expected), periods=[JUL])) == set()


def test_cancel_credit_applied_twice_is_r07_only() -> None:
    expected = rate(CANCEL, until=date(2021, 7, 31))
    lines = as_lines(expected)
    doubled = pl.concat([lines, lines.filter(pl.col("charge_type") == "cancelImmediate")])
    inputs = frames(expected, doubled, periods=[JUL])
    out = run(r07_credit, inputs)
    assert summary(out) == [("R07-credit-twice", "s1", "INV-202107", JUL, "cancelImmediate", D("-94.20"))]
    assert rule_ids(inputs) == {"R07"}


def test_cancel_refund_amount_off_is_r07_credit_amount() -> None:
    expected = rate(CANCEL, until=date(2021, 7, 31))
    lines = edit(as_lines(expected), pl.col("charge_type") == "cancelImmediate", subtotal=D("-90.00"))
    out = run(r07_credit, frames(expected, lines, periods=[JUL]))
    assert summary(out) == [("R07-credit-amount", "s1", "INV-202107", JUL, "cancelImmediate", D("4.20"))]


# ---- windows opened before the data's first month -----------------------------------------------------------------


def rate_since(frame: pl.LazyFrame, since: date, until: date) -> pl.DataFrame:
    """Expected lines from `since` on, as the engine rates when the data begins at `since`."""
    return expected_charges(frame, NO_FX, billing_currency="EUR", until=until, since=since).collect()


def without_refunds(expected: pl.DataFrame) -> pl.DataFrame:
    return as_lines(expected).filter(pl.col("subtotal") >= 0)


def test_cancel_days_after_a_renewal_before_the_data_misses_its_credit() -> None:
    # P1M renews on the 28th; the term began on June 28, before the data (July on); the cancel is 3 days into it
    sub = events(ev("purchase", date(2021, 3, 28), 10), ev("cancel", date(2021, 7, 1), 0))
    expected = rate_since(sub, since=JUL, until=date(2021, 7, 31))
    assert expected.filter(pl.col("charge_type") == "renew").is_empty()  # the term's opening is not in the data
    refund = expected.filter(pl.col("charge_type") == "cancelImmediate")
    assert refund["window_opened"].to_list() == [date(2021, 6, 28)]
    inputs = frames(expected, without_refunds(expected), periods=[JUL])
    out = run(r07_credit, inputs)
    assert summary(out) == [("R07-missing-credit", "s1", "INV-202107", JUL, "cancelImmediate", D("90.70"))]
    assert rule_ids(inputs) == {"R07"}


def test_cancel_after_the_window_of_a_renewal_before_the_data_owes_no_credit() -> None:
    sub = events(ev("purchase", date(2021, 3, 20), 10), ev("cancel", date(2021, 7, 2), 0))  # 12 days in
    expected = rate_since(sub, since=JUL, until=date(2021, 7, 31))
    assert run(r07_credit, frames(expected, without_refunds(expected), periods=[JUL])).is_empty()


def test_removal_days_after_seats_bought_before_the_data_misses_its_credit() -> None:
    # seats added June 29, removed July 2: inside the add's window though the term began June 10
    sub = events(
        ev("purchase", date(2021, 5, 10), 10), ev("add", date(2021, 6, 29), 12), ev("remove", date(2021, 7, 2), 9)
    )
    expected = rate_since(sub, since=JUL, until=date(2021, 7, 31))
    refund = expected.filter((pl.col("charge_type") == "removeQuantity") & (pl.col("sign") == "-"))
    assert refund["window_opened"].to_list() == [date(2021, 6, 29)]
    out = run(r07_credit, frames(expected, without_refunds(expected), periods=[JUL]))
    assert [(r[0], r[4]) for r in summary(out)] == [("R07-missing-credit", "removeQuantity")]


# ---- renewal at a new price -------------------------------------------------------------------------------------

RENEWED = events(ev("purchase", date(2021, 6, 18), 10), ev("renew", date(2021, 7, 18), 10, price="12.00"))


def test_renewal_at_the_new_price_is_clean() -> None:
    expected = rate(RENEWED, until=date(2021, 7, 31))
    assert expected.filter(pl.col("charge_type") == "renew")["unit_price"].to_list() == [D("12.00")]
    assert rule_ids(frames(expected, as_lines(expected), periods=[JUN, JUL])) == set()


def test_renewal_billed_at_a_wrong_price_is_r02_only() -> None:
    expected = rate(RENEWED, until=date(2021, 7, 31))
    renew = pl.col("charge_type") == "renew"
    lines = edit(as_lines(expected), renew, unit_price=D("13.10"), effective_unit_price=D("13.10"), subtotal=D(131))
    inputs = frames(expected, lines, periods=[JUN, JUL])
    out = run(r02_unit_price, inputs)
    assert summary(out) == [("R02-unit-price", "s1", "INV-202107", JUL, "renew", D("1.10"))]
    assert out["measure"].to_list() == ["unit_price"]
    assert out["amount_at_stake"].to_list() == [D("11.00")]
    assert rule_ids(inputs) == {"R02"}


# ---- annual term billed monthly: seats and price lock -------------------------------------------------------------

ANNUAL_MONTHLY = events(ev("purchase", date(2025, 1, 15), 10, price="37.80"), term="P1Y", billing="monthly")
FEB = date(2025, 2, 1)


def test_annual_billed_monthly_over_billed_seats_is_r01_only() -> None:
    expected = rate(ANNUAL_MONTHLY, until=date(2025, 3, 31))
    assert expected["charge_type"].to_list() == ["new", "cycleCharge", "cycleCharge"]
    feb = pl.col("period") == FEB
    lines = edit(as_lines(expected), feb, billable_quantity=D(12), quantity=D(12), subtotal=D("453.60"))
    inputs = frames(expected, lines, periods=[date(2025, 1, 1), FEB], subscriptions=subscriptions({"term": "P1Y"}))
    out = run(r01_quantity, inputs)
    assert summary(out) == [("R01-quantity", "s1", "INV-202502", FEB, "cycleCharge", D(2))]
    assert out["amount_at_stake"].to_list() == [D("75.60")]
    assert rule_ids(inputs) == {"R01"}


def test_annual_billed_monthly_price_not_locked_is_r02() -> None:
    expected = rate(ANNUAL_MONTHLY, until=date(2025, 3, 31))
    feb = pl.col("period") == FEB
    lines = edit(as_lines(expected), feb, unit_price=D("39.69"), effective_unit_price=D("39.69"), subtotal=D("396.90"))
    inputs = frames(expected, lines, periods=[date(2025, 1, 1), FEB])
    assert summary(run(r02_unit_price, inputs)) == [
        ("R02-unit-price", "s1", "INV-202502", FEB, "cycleCharge", D("1.89"))
    ]
    assert rule_ids(inputs) == {"R02"}


def test_doubled_cycle_charge_is_r06_only() -> None:
    expected = rate(ANNUAL_MONTHLY, until=date(2025, 3, 31))
    lines = as_lines(expected)
    doubled = pl.concat([lines, lines.filter(pl.col("period") == FEB)])
    inputs = frames(expected, doubled, periods=[date(2025, 1, 1), FEB, date(2025, 3, 1)])
    out = run(r06_duplicate, inputs)
    assert summary(out) == [("R06-duplicate", "s1", "INV-202502", FEB, "cycleCharge", D("378.00"))]
    assert rule_ids(inputs) == {"R06"}


# ---- triennial upfront with a seat add, billed in the other rounding order -----------------------------------------

TRIENNIAL = events(
    ev("purchase", date(2024, 3, 1), 5, price="1296.00"),
    ev("add", date(2024, 9, 10), 7),
    term="P3Y",
    billing="triennial",
)


def test_triennial_seat_add_in_either_rounding_order_is_clean() -> None:
    rated_b = rate(TRIENNIAL, until=date(2024, 9, 30), rounding="B")
    rated_a = rate(TRIENNIAL, until=date(2024, 9, 30), rounding="A")
    assert rated_b["cycle_days"].to_list()[0] == 1095  # 2024-03-01 .. 2027-02-28 holds no 29 February
    periods = [date(2024, 3, 1), date(2024, 9, 1)]
    assert rule_ids(frames(rated_b, as_lines(rated_a), periods=periods)) == set()
    assert rule_ids(frames(rated_a, as_lines(rated_b), periods=periods)) == set()


# ---- FX rounding in both orders: within tolerance no finding, beyond it a finding ---------------------------------

USD = events(ev("purchase", date(2025, 3, 3), 15, price="16.20"), pricing_currency="USD")
RATES = fx(("USD", "EUR", date(2025, 3, 1), "0.846202666"))
MAR = date(2025, 3, 1)


def test_fx_rounding_orders_differ_within_tolerance() -> None:
    rated_b = rate(USD, until=date(2025, 3, 31), rounding="B", fx_frame=RATES)
    rated_a = rate(USD, until=date(2025, 3, 31), rounding="A", fx_frame=RATES)
    assert rated_b["subtotal"].to_list() == [D("205.50")]  # Example 10: 13.70 x 15
    assert rated_a["subtotal"].to_list() == [D("205.62")]  # 0.12 apart; tol = 0.01 x 15 + 0.01 = 0.16
    assert rule_ids(frames(rated_b, as_lines(rated_a, country="US"), periods=[MAR])) == set()
    assert rule_ids(frames(rated_a, as_lines(rated_b, country="US"), periods=[MAR])) == set()


def test_fx_amount_beyond_tolerance_is_r03() -> None:
    rated_b = rate(USD, until=date(2025, 3, 31), rounding="B", fx_frame=RATES)
    lines = edit(as_lines(rated_b, country="US"), pl.lit(True), subtotal=D("205.67"))  # 0.17 > 0.16
    inputs = frames(rated_b, lines, periods=[MAR])
    assert summary(run(r03_proration, inputs)) == [("R03-amount", "s1", "INV-202503", MAR, "new", D("0.17"))]
    assert rule_ids(inputs) == {"R03"}


def test_fx_rate_off_is_r12_and_may_be_r03() -> None:
    rated_b = rate(USD, until=date(2025, 3, 31), rounding="B", fx_frame=RATES)
    lines = edit(
        as_lines(rated_b, country="US"), pl.lit(True), pc_to_bc_exchange_rate=D("0.870000000"), subtotal=D("211.35")
    )
    inputs = frames(rated_b, lines, periods=[MAR], fx=RATES)
    assert rule_ids(inputs) == {"R12", "R03"}


def test_nothing_in_a_clean_multi_subscription_world() -> None:
    other = events(ev("purchase", date(2021, 6, 18), 12), ev("remove", date(2021, 6, 20), 8), subscription_id="s2")
    expected = rate(ADD, other, until=date(2021, 6, 30))
    assert rule_ids(frames(expected, as_lines(expected), periods=[JUN])) == set()
    assert r02_unit_price(frames(expected, as_lines(expected), periods=[JUN])).collect().is_empty()
