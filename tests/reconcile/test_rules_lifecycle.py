"""R04, R05, R11 by example."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import polars as pl

from recon.reconcile.catalogue import run_rules
from recon.reconcile.lifecycle import r04_unknown_or_ended, r05_missing_charge, r11_orphans
from tests.reconcile.test_rules_fixtures import as_lines, ev, events, frames, orders, rate, run, subscriptions, summary

JUL, AUG = date(2021, 7, 1), date(2021, 8, 1)
CANCEL = events(ev("purchase", date(2021, 7, 15), 10), ev("cancel", date(2021, 7, 17), 0))
SUB_CANCELLED = subscriptions({"status": "deleted", "cancelled_on": date(2021, 7, 17), "term_start": date(2021, 7, 15)})


def rule_ids(inputs: dict[str, pl.LazyFrame]) -> set[str]:
    out = run_rules(inputs).collect()
    return {r.split("-")[0] for r in out.filter(pl.col("severity") != "info")["rule"]}


def after_cancel_line(lines: pl.DataFrame) -> pl.DataFrame:
    """The `new` line moved to the next cycle as a renew: a charge after the cancellation."""
    new = lines.filter(pl.col("charge_type") == "new")
    return new.with_columns(
        charge_type=pl.lit("renew"),
        charge_start=pl.lit(date(2021, 8, 15)),
        charge_end=pl.lit(date(2021, 9, 14)),
        period=pl.lit(AUG),
        invoice_number=pl.lit("INV-202108"),
        unit=pl.lit("INV-202108"),
        reference_id=pl.lit("r-after"),
    )


def test_charge_after_cancel_is_r04_only() -> None:
    expected = rate(CANCEL, until=date(2021, 8, 31))
    lines = as_lines(expected)
    inputs = frames(expected, [lines, after_cancel_line(lines)], periods=[JUL, AUG], subscriptions=SUB_CANCELLED)
    out = run(r04_unknown_or_ended, inputs)
    assert summary(out) == [("R04-after-cancellation", "s1", "INV-202108", AUG, "renew", D("100.80"))]
    assert out["customer_id"].to_list() == ["c1"]
    assert rule_ids(inputs) == {"R04"}


def test_charge_after_term_end_of_an_expired_subscription() -> None:
    annual = events(ev("purchase", date(2020, 8, 15), 10, price="120.96"), term="P1Y", billing="annual")
    expected = rate(annual, until=date(2021, 8, 31))
    lines = as_lines(expected)
    late = lines.with_columns(
        charge_type=pl.lit("renew"),
        charge_start=pl.lit(date(2021, 8, 15)),
        charge_end=pl.lit(date(2022, 8, 14)),
        period=pl.lit(AUG),
        invoice_number=pl.lit("INV-202108"),
    )
    subs = subscriptions({"status": "expired", "term_end": date(2021, 8, 14), "term": "P1Y", "billing": "annual"})
    out = run(r04_unknown_or_ended, frames(expected, [lines, late], periods=[AUG], subscriptions=subs))
    assert [r["rule"] for r in out.iter_rows(named=True)] == ["R04-after-term-end"]


def test_unknown_subscription_is_r04_only() -> None:
    expected = rate(CANCEL, until=date(2021, 7, 31))
    lines = as_lines(expected)
    ghost = lines.filter(pl.col("charge_type") == "new").with_columns(subscription_id=pl.lit("ghost"), line_no=99)
    inputs = frames(expected, [lines, ghost], periods=[JUL], subscriptions=SUB_CANCELLED)
    out = run(r04_unknown_or_ended, inputs)
    assert summary(out) == [("R04-unknown-subscription", "ghost", "INV-202107", JUL, "new", D("100.80"))]
    assert out["amount_at_stake"].to_list() == [D("100.80")]
    assert rule_ids(inputs) == {"R04"}


MONTHLY = events(ev("purchase", date(2025, 1, 15), 10, price="37.80"), term="P1Y", billing="monthly")
FEB, MAR = date(2025, 2, 1), date(2025, 3, 1)


def test_missing_charge_in_a_closed_period_is_r05() -> None:
    expected = rate(MONTHLY, until=date(2025, 3, 31))
    lines = as_lines(expected).filter(pl.col("period") != FEB)
    inputs = frames(expected, lines, periods=[date(2025, 1, 1), FEB])
    out = run(r05_missing_charge, inputs)
    # the invoice is named by periods_closed: the period's only EUR invoice
    assert summary(out) == [("R05-missing-charge", "s1", "INV-202502", FEB, "cycleCharge", D("-378.00"))]
    assert out["amount_at_stake"].to_list() == [D("378.00")]
    assert rule_ids(inputs) == {"R05"}


def test_missing_charge_of_an_open_period_is_not_a_finding() -> None:
    expected = rate(MONTHLY, until=date(2025, 3, 31))
    lines = as_lines(expected).filter(pl.col("period") != MAR)
    assert run(r05_missing_charge, frames(expected, lines, periods=[date(2025, 1, 1), FEB])).is_empty()


def test_order_without_subscription_and_subscription_without_order() -> None:
    subs = subscriptions({}, {"subscription_id": "s2", "order_id": None})
    ords = orders(
        {},
        {"order_id": "o2", "subscription_id": "s9"},
        {"order_id": "o3", "subscription_id": None},
        {"order_id": "o4", "subscription_id": None, "status": "pending"},
        {"order_id": "o1", "line_number": 2, "subscription_id": "s1", "transaction_type": "addQuantity"},
    )
    out = run(r11_orphans, {"orders": ords, "subscriptions": subs})
    got = [(r["rule"], r["order_id"], r["subscription_id"], r["severity"]) for r in out.iter_rows(named=True)]
    assert got == [
        ("R11-order-without-subscription", "o2", "s9", "low"),
        ("R11-order-without-subscription", "o3", None, "low"),
        ("R11-subscription-without-order", None, "s2", "low"),
    ]


def test_orders_and_subscriptions_that_agree_are_clean() -> None:
    assert run(r11_orphans, {"orders": orders({}), "subscriptions": subscriptions({})}).is_empty()
