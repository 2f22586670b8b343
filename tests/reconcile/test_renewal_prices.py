"""Renewal prices from an imported price list: the lookup, the premium rule, and renewals fed to the rater."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import polars as pl

from recon.reconcile.pricelist import (
    PRICE_LIST_SCHEMA,
    REQUEST_SCHEMA,
    customer_markets,
    empty_price_list,
    list_prices,
    renewal_events,
)
from recon.reconcile.rating import EVENT_SCHEMA, expected_charges
from tests.reconcile.test_rules_fixtures import NO_FX, ev, events, subscriptions

NL = pl.LazyFrame({"customer_id": ["c1"], "market": ["NL"]})
BOUGHT, RENEWED = date(2025, 1, 15), date(2026, 1, 15)
UNTIL = date(2026, 2, 28)


def price_list(*rows: dict[str, Any]) -> pl.LazyFrame:
    """Price-list lines over defaults (P1/0001 P1Y monthly, NL, EUR, no tier, open-ended)."""
    base = {
        "product_id": "P1", "sku_id": "0001", "term": "P1Y", "billing": "monthly", "market": "NL", "currency": "EUR",
        "tier_min": None, "tier_max": None, "is_trial": False, "valid_from": date(2025, 1, 1), "valid_to": None,
    }  # fmt: skip
    typed = [{k: D(v) if k in ("unit_price", "tier_min", "tier_max") and v is not None else v for k, v in r.items()}
             for r in ({**base, **row} for row in rows)]  # fmt: skip
    return pl.LazyFrame(typed, schema=PRICE_LIST_SCHEMA)


def ask(*rows: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(list_price normalised, source, problem) per request, in request order."""
    base = {
        "product_id": "P1", "sku_id": "0001", "term": "P1Y", "billing": "monthly", "market": "NL", "currency": "EUR",
        "on": RENEWED, "quantity": D(10),
    }  # fmt: skip
    requests = pl.LazyFrame([{"request_id": i, **base, **r} for i, r in enumerate(rows)], schema=REQUEST_SCHEMA)
    return [
        (r["list_price"].normalize() if r["list_price"] is not None else None, r["price_source"], r["price_problem"])
        for r in list_prices(requests, PRICES).collect().sort("request_id").iter_rows(named=True)
    ]


PRICES = price_list(
    {"billing": "annual", "unit_price": "150.00"},
    {"term": "P1M", "billing": "monthly", "unit_price": "15.00", "valid_from": date(2026, 2, 1)},
    {"product_id": "P2", "billing": "annual", "unit_price": "150.00"},
    {"product_id": "P2", "billing": "monthly", "unit_price": "13.00"},
    {"product_id": "P3", "unit_price": "9.00", "valid_to": date(2025, 12, 31)},
    {"product_id": "P3", "unit_price": "9.50", "valid_from": date(2026, 1, 1)},
    {"product_id": "P4", "unit_price": "20.00"},
    {"product_id": "P4", "unit_price": "18.00"},  # another segment the request cannot tell apart
    {"product_id": "P5", "unit_price": "0", "is_trial": True},
    {"product_id": "P5", "unit_price": "7.00", "tier_min": "1", "tier_max": "300"},
    {"product_id": "P5", "unit_price": "6.00", "tier_min": "301", "tier_max": "0"},
)


def test_the_plans_own_price_wins_over_a_derived_one() -> None:
    assert ask({"product_id": "P2"}) == [(D("13"), "list", None)]


def test_a_monthly_plan_without_its_own_price_is_derived_with_the_premium_of_its_date() -> None:
    assert ask(
        {"on": date(2025, 3, 31)},  # before the annual-billed-monthly premium: 150 / 12
        {"on": date(2025, 4, 1)},  # 150 / 12 x 1.05 = 13.125, rounded half up as list prices are
        {"term": "P1M", "on": date(2026, 1, 15)},  # 150 / 12 x 1.20
        {"term": "P1M", "on": date(2026, 2, 15)},  # the list's own P1M price from February
    ) == [
        (D("12.5"), "derived", None),
        (D("13.13"), "derived", None),
        (D("15"), "derived", None),
        (D("15"), "list", None),
    ]


def test_annual_billing_is_never_derived() -> None:
    assert ask({"product_id": "P2", "billing": "annual"}, {"product_id": "P3", "billing": "annual"}) == [
        (D("150"), "list", None),
        (None, None, "missing"),
    ]


def test_the_price_in_force_on_the_date_counts() -> None:
    assert ask({"product_id": "P3", "on": date(2025, 12, 31)}, {"product_id": "P3"}) == [
        (D("9"), "list", None),
        (D("9.5"), "list", None),
    ]


def test_several_prices_or_none_leave_the_request_unpriced() -> None:
    assert ask({"product_id": "P4"}, {"product_id": "P1", "market": "DE"}, {"currency": "USD"}) == [
        (None, None, "ambiguous"),
        (None, None, "missing"),
        (None, None, "missing"),
    ]


def test_trial_lines_are_never_prices_and_tiers_follow_the_seats() -> None:
    assert ask({"product_id": "P5"}, {"product_id": "P5", "quantity": D(500)}) == [
        (D("7"), "list", None),
        (D("6"), "list", None),
    ]


def test_a_customers_market_is_its_country_else_the_country_on_its_lines() -> None:
    customers = pl.LazyFrame({"customer_id": ["c1", "c2"], "country": ["nl", None]})
    lines = pl.LazyFrame({"customer_id": ["c1", "c2", "c3"], "customer_country": ["DE", "be", None]})
    out = customer_markets(customers, lines).collect().sort("customer_id")
    assert out.rows() == [("c1", "NL"), ("c2", "BE")]


# ---- renewals fed to the rater ---------------------------------------------------------------------------------

P1Y = {"term": "P1Y", "billing": "monthly"}
SNAPSHOT = subscriptions({**P1Y, "term_start": RENEWED, "term_end": date(2027, 1, 14)})


def renewals(evs: pl.LazyFrame, prices: pl.LazyFrame, snapshot: pl.LazyFrame = SNAPSHOT) -> tuple[pl.DataFrame, ...]:
    """(priced events, unpriced renewals, expected lines from the renewal date on)."""
    out, unpriced = renewal_events(evs, snapshot, prices, NL, until=UNTIL)
    expected = expected_charges(out, NO_FX, billing_currency="EUR", until=UNTIL).collect()
    return out.collect(), unpriced.collect(), expected.filter(pl.col("charge_start") >= RENEWED)


def test_a_renewal_without_a_renewal_order_is_unpriced_without_a_list() -> None:
    out, unpriced, expected = renewals(events(ev("purchase", BOUGHT, 10, "30.00"), **P1Y), empty_price_list())
    assert out.height == 1 and expected.is_empty()  # rated up to the renewal, as before
    assert unpriced.rows() == [
        (
            "s1",
            "c1",
            "from its renewal on 2026-01-15, there is no renewal order with pricing and no price list is loaded "
            "(recon load pricelist FILE)",
            RENEWED,
        )
    ]


def test_a_renewal_without_a_renewal_order_takes_the_list_price_of_the_renewal_date() -> None:
    evs = events(ev("purchase", BOUGHT, 10, "30.00"), ev("add", date(2025, 12, 20), 12, "30.00"), **P1Y)
    prices = price_list({"unit_price": "30.00", "valid_to": date(2025, 12, 31)}, {"unit_price": "31.50"})
    out, unpriced, expected = renewals(evs, prices)
    assert unpriced.is_empty()
    renew = out.filter(pl.col("event") == "renew").row(0, named=True)
    assert (renew["event_id"], renew["event_date"], renew["quantity"], renew["unit_price"]) == (
        "s1:pricelist:1", RENEWED, D(12), D("31.50"),
    )  # fmt: skip
    assert renew["order_id"] is None and renew["promotion_discount"] is None
    assert expected.select("charge_type", "unit_price", "subtotal").rows() == [
        ("renew", D("31.50"), D("378.00")),
        ("cycleCharge", D("31.50"), D("378.00")),
    ]


def test_the_list_never_overrides_a_renewal_orders_price() -> None:
    evs = events(ev("purchase", BOUGHT, 10, "30.00"), ev("renew", RENEWED, 10, "29.00", order_id="o2"), **P1Y)
    out, unpriced, expected = renewals(evs, price_list({"unit_price": "31.50"}))
    assert unpriced.is_empty() and out.height == 2
    assert expected["unit_price"].unique().to_list() == [D("29.00")]


def test_a_renewal_order_without_pricing_keeps_its_order_and_gets_the_list_price() -> None:
    evs = events(ev("purchase", BOUGHT, 10, "30.00"), ev("renew", RENEWED, 8, None, order_id="o2"), **P1Y)
    out, _unpriced, expected = renewals(evs, price_list({"unit_price": "31.50"}))
    assert out.filter(pl.col("event") == "renew").select("order_id", "event_id", "quantity", "unit_price").rows() == [
        ("o2", "s1-e1", D(8), D("31.50"))
    ]
    assert expected.select("order_id", "quantity", "unit_price").row(0) == ("o2", D(8), D("31.50"))
    # without a list it is left out (the rater refuses a price-less event) and reported
    out, unpriced, _ = renewals(evs, empty_price_list())
    assert out["event"].to_list() == ["purchase"] and unpriced["since"].to_list() == [RENEWED]


def test_p1m_keeps_its_last_price_without_a_list_and_takes_the_lists_with_one() -> None:
    evs = events(ev("purchase", date(2025, 12, 15), 5, "15.00"))
    p1m = subscriptions({"term_start": date(2026, 2, 15), "term_end": date(2026, 3, 14)})
    out, unpriced, expected = renewals(evs, empty_price_list(), p1m)
    assert out.height == 1 and unpriced.is_empty()
    assert expected["unit_price"].to_list() == [D("15.00"), D("15.00")]
    prices = price_list(
        {"term": "P1M", "unit_price": "15.00", "valid_to": date(2026, 1, 31)},
        {"term": "P1M", "unit_price": "16.00", "valid_from": date(2026, 2, 1)},
    )
    out, unpriced, expected = renewals(evs, prices, p1m)
    assert sorted(out["event_id"].to_list()) == ["s1-e0", "s1:pricelist:1", "s1:pricelist:2"]  # rows in any order
    assert sorted(expected.select("charge_start", "unit_price").rows()) == [
        (date(2026, 1, 15), D("15.00")),
        (date(2026, 2, 15), D("16.00")),
    ]


def test_an_unknown_market_or_a_missing_price_is_said_in_the_reason() -> None:
    evs = events(ev("purchase", BOUGHT, 10, "30.00"), **P1Y)
    prices = price_list({"product_id": "P9", "unit_price": "1.00"})
    _, unpriced, _ = renewals(evs, prices)
    assert unpriced["reason"][0].endswith(
        "the price list has no price for P1:0001 P1Y/monthly in NL (EUR) on that date"
    )
    out, unpriced = renewal_events(evs, SNAPSHOT, prices, NL.clear(), until=UNTIL)
    assert unpriced.collect()["reason"][0].endswith("the customer's market (country) is unknown")
    assert out.collect_schema() == pl.Schema(EVENT_SCHEMA)
