"""The `large` world, built with a few customers: its lines against the per-subscription replay, exact invoice
totals, the answer key, and pages served by continuation token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from recon.cli import cli
from recon.sandbox import SandboxServer
from recon.sandbox.billing import display_eup
from recon.sandbox.jsonenc import loads
from recon.sandbox.large_population import make_population, subscriptions
from recon.sandbox.large_rating import ADJUSTMENTS, rate
from recon.sandbox.large_replay import CHARGE_TYPES, Replay
from recon.sandbox.lifecycle import replay
from recon.sandbox.lines import Rating
from recon.sandbox.population import make_customers, make_subscriptions
from recon.sandbox.world import World, build_world

from .helpers import https_session, msal_app

FEW = {"customers": "3"}
WS, TODAY, HORIZON = date(2025, 10, 1), date(2025, 11, 10), date(2025, 12, 1)
SEAT_KINDS = {
    "qty_overbilled",
    "qty_underbilled",
    "price_not_locked",
    "renewal_price_wrong",
    "proration_wrong",
    "charge_missing",
    "duplicate_line",
    "credit_missing",
    "credit_twice",
    "fx_rate_off",
}


def lines_of(world: World) -> list[dict[str, Any]]:
    """Every billed line of every invoice, as served (Decimal amounts)."""
    return [ln for inv in world.invoices for ln in world.line_page(inv["id"], 0, 10**7)]


@pytest.fixture(scope="module")
def clean() -> World:
    return build_world(7, "large", switches=FEW, inject_rates={"all": 0})


@pytest.fixture(scope="module")
def injected() -> World:
    return build_world(7, "large", switches=FEW, inject_rates={"all": 0.02})


def test_population_is_make_subscriptions() -> None:
    customers = make_customers(5, 4)
    want = make_subscriptions(5, customers, (150, 420), WS, TODAY)
    got = subscriptions(make_population(5, customers, (150, 420), WS, TODAY))

    def fields(s: Any) -> tuple[Any, ...]:  # promotion ids share product and SKU; their code is a vectorised hash
        return (
            s.idx,
            s.id,
            s.customer,
            s.avail,
            s.start,
            s.quantity,
            s.auto_renew,
            s.discount,
            s.order_id,
            s.base,
            s.promotion_id.rsplit(":", 1)[0],
        )

    assert [fields(s) for s in got] == [fields(s) for s in want]


@pytest.mark.parametrize(("rounding", "currency"), [("B", "EUR"), ("A", "GBP")])
def test_lines_are_the_replays(rounding: str, currency: str) -> None:
    """Every vectorised line is the per-subscription replay's line; amounts are the exact rational formula, which
    the replay's Decimal arithmetic (28 digits) also gives unless it floors a value sitting on a cent."""
    customers = make_customers(11, 6)
    pop = make_population(11, customers, (150, 420), WS, TODAY)
    rating = Rating(11, currency, rounding)
    want = [
        ln
        for s in subscriptions(pop)
        for ln in replay(rating, s, customers[s.customer], WS, TODAY, HORIZON)
        if ln.period >= WS
    ]
    got = rate(Replay(pop, WS, TODAY, HORIZON).run(), pop, customers, rating, WS, TODAY).sort(["sub", "seq"])
    assert got.height == len(want) > 1000
    off_cent = 0
    for ln, row in zip(want, got.iter_rows(named=True), strict=True):
        assert (ln.sub, ln.charge_type, ln.order_id, ln.quantity, ln.cycle_len, ln.rid) == (
            row["sub"],
            CHARGE_TYPES[row["ctype"]],
            f"{row['oid']:012x}",
            row["qty"],
            row["clen"],
            (row["rid_hi"] << 64) | row["rid_lo"],
        )
        assert (ln.order_date - date(1970, 1, 1)).days == row["on"]
        assert ln.price_adjustment == ADJUSTMENTS[row["adj"]] and bool(ln.promotion_id) == (row["dpct"] > 0)
        assert ln.unit_price == Decimal(row["price"]).scaleb(-2) and ln.fx == Decimal(row["fx"]).scaleb(-9)
        eup = Fraction(row["price"] * (100 - row["dpct"]), 10**4) * row["bdays"] / row["clen"]
        fx = Fraction(row["fx"], 10**9)
        cents = (
            (eup * fx * 100).__floor__() * row["qty"] if rounding == "B" else (eup * fx * row["qty"] * 100).__floor__()
        )
        sign = 1 if ln.eup > 0 else -1
        assert row["subtotal"] == sign * cents
        assert row["tax"] == sign * (cents * int(customers[row["cust"]].tax_rate * 1000) // 1000)
        assert display_eup(ln.eup) == display_eup(Decimal(eup.numerator) / eup.denominator) * sign
        off_cent += ln.subtotal != Decimal(row["subtotal"]).scaleb(-2)
    assert off_cent < len(want) / 200  # the replay's 28-digit artefacts (e.g. 33.70 / 30 × 6 = 6.7399…)


def test_same_seed_same_world(clean: World) -> None:
    again = build_world(7, "large", switches=FEW, inject_rates={"all": 0})
    assert again.billed.equals(clean.billed) and again.unbilled.equals(clean.unbilled)
    other = build_world(8, "large", switches=FEW, inject_rates={"all": 0})
    assert not other.billed.equals(clean.billed)


def test_clean_world_totals_and_key(clean: World) -> None:
    assert clean.answer_key == []
    assert clean.billed.height > 500 and clean.unbilled.height > 100
    assert clean.billed.equals(clean.billed.sort(["period", "cust", "sub", "seq"]))
    for inv in clean.invoices:
        lines = clean.line_page(inv["id"], 0, 10**7)
        assert {ln["currency"] for ln in lines} == {inv["currency"]}
        assert sum((ln["totalForCustomer"] for ln in lines), Decimal("0.00")) == inv["totalCharges"]
        assert all(ln["subtotal"] + ln["taxTotal"] == ln["totalForCustomer"] for ln in lines)


def test_injections_are_in_the_key(clean: World, injected: World) -> None:
    key = injected.answer_key
    kinds = {r["kind"] for r in key}
    assert (
        {"invoice_total_off", "qty_overbilled", "duplicate_line", "credit_missing"}
        <= kinds
        <= {*SEAT_KINDS, "invoice_total_off", "usage_sum_off", "usage_spike"}
    )
    assert all(r["amount_at_stake"] != 0 and r["currency"] == "EUR" for r in key)
    assert all(r["amount_at_stake"] > 0 for r in key if r["kind"] in ("qty_overbilled", "credit_missing"))
    # the seat kinds' amounts are exactly what they moved the billed subtotals by
    seats = len(clean.subs)
    moved = sum(injected.billed.filter(pl.col("sub") < seats)["subtotal"]) - sum(
        clean.billed.filter(pl.col("sub") < seats)["subtotal"]
    )
    assert Decimal(moved).scaleb(-2) == sum(r["amount_at_stake"] for r in key if r["kind"] in SEAT_KINDS)
    inv = injected.invoices[0]
    off = sum((r["amount_at_stake"] for r in key if r["kind"] == "invoice_total_off"), Decimal("0.00"))
    lines = injected.line_page(inv["id"], 0, 10**7)
    assert inv["totalCharges"] - off == sum((ln["totalForCustomer"] for ln in lines), Decimal("0.00"))


def test_kinds_large_does_not_inject_are_refused() -> None:
    with pytest.raises(ValueError, match="not generated in the large world"):
        build_world(7, "large", switches=FEW, inject_rates={"unbilled_vanished": 0.1})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with SandboxServer(tmp_path_factory.mktemp("large"), seed=7, size="large", switches=FEW) as server:
        yield server


def test_page_by_continuation_token(served: SandboxServer) -> None:
    info = served.info
    token = msal_app(info, info["client_secret"]).acquire_token_for_client([info["pc_scope"]])["access_token"]
    http = https_session(info)
    http.headers["Authorization"] = f"Bearer {token}"
    world = served.state.world
    inv = world.invoices[0]["id"]
    first = loads(
        http.get(f"{info['pc_base_url']}/v1/invoices/{inv}/lineitems/OneTime/BillingLineItems?size=300").content
    )
    assert first["items"] == world.line_page(inv, 0, 300)
    nxt = first["links"]["next"]
    for _ in range(2):  # the token names the page: asking twice gives the same page
        page = loads(
            http.get(
                info["pc_base_url"] + "/v1" + nxt["uri"], headers={"MS-ContinuationToken": first["continuationToken"]}
            ).content
        )
        assert page["items"] == world.line_page(inv, 300, 300) and len(page["items"]) == 300


def test_cli_answer_key(tmp_path: Path) -> None:
    out = tmp_path / "key.csv"
    result = CliRunner().invoke(
        cli,
        [
            "sandbox",
            "answer-key",
            "--size",
            "large",
            "--seed",
            "7",
            "--switch",
            "customers=3",
            "--inject-rate",
            "all=0.02",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert pl.read_csv(out).height == len(build_world(7, "large", switches=FEW, inject_rates={"all": 0.02}).answer_key)
