"""R12 by example: a rate that disagrees with the same date and pair elsewhere; a currency outside the market."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import polars as pl

from recon.reconcile.currency import r12_market, r12_rate
from tests.reconcile.test_rules_fixtures import as_lines, edit, ev, events, frames, fx, rate, run, summary

MAR = date(2025, 3, 1)
RATES = fx(("USD", "EUR", MAR, "0.846202666"))
THREE = pl.concat(
    [events(ev("purchase", date(2025, 3, d), 5, price="16.20"), subscription_id=f"s{d}") for d in (3, 4, 5)]
).with_columns(pricing_currency=pl.lit("USD"))


def test_rate_off_against_the_other_lines_and_against_fx() -> None:
    expected = rate(THREE, until=date(2025, 3, 31), fx_frame=RATES)
    lines = edit(as_lines(expected, country="US"), pl.col("subscription_id") == "s4", pc_to_bc_exchange_rate=D("0.87"))
    for inputs in (frames(expected, lines, periods=[MAR]), frames(expected, lines, periods=[MAR], fx=RATES)):
        out = run(r12_rate, inputs)
        assert summary(out) == [("R12-rate", "s4", "INV-202503", MAR, "new", D("0.023797334"))]
        assert out["measure"].to_list() == ["rate"]
        assert out["amount_at_stake"].to_list() == [D("1.927584")]  # 16.20 x 5 x 0.023797334


def test_rates_that_agree_and_a_tie_without_fx_are_not_findings() -> None:
    expected = rate(THREE, until=date(2025, 3, 31), fx_frame=RATES)
    lines = as_lines(expected, country="US")
    assert run(r12_rate, frames(expected, lines, periods=[MAR])).is_empty()
    two = edit(
        lines.filter(pl.col("subscription_id") != "s5"),
        pl.col("subscription_id") == "s4",
        pc_to_bc_exchange_rate=D("0.9"),
    )
    assert run(r12_rate, frames(expected, two, periods=[MAR])).is_empty()  # 1 vote against 1: no reference
    assert len(run(r12_rate, frames(expected, two, periods=[MAR], fx=RATES))) == 1


def test_same_currency_rate_must_be_one() -> None:
    expected = rate(events(ev("purchase", date(2025, 3, 3), 5)), until=date(2025, 3, 31))
    lines = edit(as_lines(expected), pl.lit(True), pc_to_bc_exchange_rate=D("1.01"))
    assert [r["rule"] for r in run(r12_rate, frames(expected, lines, periods=[MAR])).iter_rows(named=True)] == [
        "R12-rate"
    ]


def test_license_priced_outside_the_customer_market() -> None:
    expected = rate(THREE, until=date(2025, 3, 31), fx_frame=RATES)
    inputs = frames(expected, as_lines(expected, country="NL"), periods=[MAR])
    out = run(r12_market, inputs)
    assert sorted(out["subscription_id"].to_list()) == ["s3", "s4", "s5"]
    assert set(out["rule"]) == {"R12-market-currency"}
    assert run(r12_market, frames(expected, as_lines(expected, country="US"), periods=[MAR])).is_empty()
    assert run(r12_market, frames(expected, as_lines(expected, country="ZZ"), periods=[MAR])).is_empty()
