"""Commerce building blocks without a server: token bucket, seat batches, fault limits, route families, the
ledger's world hook, audit ids, switches."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from recon.sandbox.audit import ticks
from recon.sandbox.catalog import AVAILABILITIES
from recon.sandbox.commerce import Commerce, Event, LiveSub, change_batches
from recon.sandbox.faults import FaultPlan, parse_fault, route_family
from recon.sandbox.ratelimit import RateLimiter
from recon.sandbox.world import build_world, resolve_switches

D = Decimal


def test_token_bucket() -> None:
    bucket = RateLimiter()
    assert [bucket.take("t", "orders", 500, 50, now=0.0) for _ in range(50)] == [0.0] * 50
    wait = bucket.take("t", "orders", 500, 50, now=0.0)
    assert wait == pytest.approx(0.12)  # one token per 60/500 s
    assert bucket.take("t", "orders", 500, 50, now=0.12) == 0.0
    assert bucket.take("t", "customers", 500, 50, now=0.12) == 0.0  # another family, another bucket
    assert bucket.take("t", "orders", 500, 50, now=60.0) == 0.0  # refilled, capped at the burst
    assert sum(bucket.take("t", "orders", 500, 50, now=60.0) == 0.0 for _ in range(60)) == 49


def test_seat_batches() -> None:
    start = [(10, date(2025, 11, 17))]
    added = change_batches(start, 4, date(2025, 11, 12))
    assert added == [(10, date(2025, 11, 17)), (4, date(2025, 11, 19))]
    assert change_batches(added, -3, date(2025, 11, 15)) == [(10, date(2025, 11, 17)), (1, date(2025, 11, 19))]
    assert change_batches(added, -6, date(2025, 11, 15)) == [(8, date(2025, 11, 17))]  # most recent first
    assert change_batches(added, 2, date(2025, 11, 18)) == [(4, date(2025, 11, 19)), (2, date(2025, 11, 25))]


def test_fault_times_limit_and_commerce_families() -> None:
    fault = parse_fault("drop:1.0@checkout#1")
    assert (fault.kind, fault.route, fault.times, str(fault)) == ("drop", "checkout", 1, "drop:1.0@checkout#1")
    plan = FaultPlan([fault], 1)
    assert plan.decide("checkout", "a") == fault
    assert plan.decide("checkout", "b") is None and plan.decide("checkout", "a") is None
    with pytest.raises(ValueError):
        parse_fault("drop:1.0@checkout#x")
    families = {
        "/v1/customers": "customers",
        "/v1/customers/c": "customers",
        "/v1/customers/c/orders/o": "orders",
        "/v1/customers/c/subscriptions/s": "subscriptions",
        "/v1/customers/c/carts": "carts",
        "/v1/customers/c/carts/x/checkout": "checkout",
        "/v1/customers/c/agreements": "agreements",
        "/v1/agreements": "agreements",
        "/v1/products/p/skus": "catalog",
        "/v1/customers/c/products": "catalog",
        "/v1/auditrecords": "audit",
    }
    assert {p: route_family(p) for p in families} == families


def test_audit_ticks_match_the_documented_id() -> None:
    assert ticks("2020-09-02T17:58:10.9268372Z") == 637346662909268372  # audit.md §6


def test_commerce_switches() -> None:
    sw = resolve_switches("tiny", {"app_user_only": "ON", "order_list_delay_s": "0", "rate_limit_burst": "7"})
    assert (sw["app_user_only"], sw["order_list_delay_s"], sw["rate_limit_burst"]) == ("on", "0", "7")
    assert sw["rate_limit_per_min"] == "500" and sw["audit_long_window"] == "reject"
    for bad in ({"app_user_only": "maybe"}, {"rate_limit_burst": "0"}, {"order_list_delay_s": "-1"}):
        with pytest.raises(ValueError):
            resolve_switches("tiny", bad)


def test_empty_ledger_leaves_the_world_unchanged() -> None:
    plain = build_world(1, "tiny")
    hooked = build_world(1, "tiny", extra=Commerce(1).extend_lines)
    assert plain.billed.equals(hooked.billed) and plain.unbilled.equals(hooked.unbilled)
    assert plain.invoices == hooked.invoices and plain.answer_key == hooked.answer_key


def test_ledger_lines_in_the_world_and_a_closed_month() -> None:
    """A triennial purchase (one charge for 36 months) and a seat add two days later, with rounding A."""
    ledger = Commerce(1)
    av = next(a for a in AVAILABILITIES if a.product.product_id == "CFQ7TTC0LHJD" and a.plan == "triennial")
    today = date(2025, 11, 10)
    sub = LiveSub(
        "11111111-2222-4333-8444-555555555555", 0, av, today, today, 2, True, D(0), "", "abcdefabcdef", 7, "BC", ""
    )
    sub.events.append(Event(1, date(2025, 11, 12), "addQuantity", 2, 3, "0123456789ab"))
    ledger.subs[sub.id] = sub
    sw, rates = {"seat_rounding": "A"}, {"all": 0.0}
    world = build_world(1, "tiny", date(2025, 11, 12), sw, rates, anchor=today, extra=ledger.extend_lines)
    rows = world.unbilled.filter(world.unbilled["subscriptionId"] == sub.id)
    assert rows["chargeType"].to_list() == ["new", "addQuantity", "addQuantity"]  # at once, dated today
    price = rows["unitPrice"][0]
    assert price == D("65.52") * 36 == D("2358.72")  # 70.00 USD x 0.936 a month (its price rose on 2024-01-01)
    assert rows["subtotal"][0] == price * 2 and rows["chargeEndDate"][0] == date(2028, 11, 9)
    days, length = (date(2028, 11, 9) - date(2025, 11, 12)).days + 1, (date(2028, 11, 9) - today).days + 1
    assert (days, length) == (1094, 1096)
    exact = price / length * days
    cents = D("0.01")
    assert rows["subtotal"].to_list()[1:] == [
        -(exact * 2).quantize(cents, "ROUND_DOWN"),
        (exact * 3).quantize(cents, "ROUND_DOWN"),
    ]
    closed = build_world(
        1,
        "tiny",
        date(2025, 12, 1),
        sw,
        rates,
        anchor=today,
        extra=ledger.extend_lines,
        closed_early=frozenset({date(2025, 11, 1)}),
    )
    nov = next(i for i in closed.invoices if i["periodStart"] == date(2025, 11, 1))
    assert nov["invoiceDate"] == date(2025, 12, 1)
    assert closed.billed.filter(closed.billed["subscriptionId"] == sub.id).height == 3
    assert closed.unbilled.filter(closed.unbilled["subscriptionId"] == sub.id).height == 0  # nothing due in December
