"""The purchase loop on the sandbox: buy -> order -> subscription -> seat changes -> invoice -> reconcile."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from recon.api import PartnerCenterClient
from recon.commerce import CartLine, buy, checkout_cart, create_cart
from recon.commerce.catalog import availability_terms, list_availabilities, list_products, list_skus
from recon.commerce.customers import agreement_status, confirm_agreement
from recon.commerce.orders import list_orders
from recon.commerce.subscriptions import Change, change_subscription, list_subscriptions
from recon.extract import extract
from recon.reconcile import reconcile
from recon.reconcile.evaluate import matches
from recon.sandbox import SandboxServer
from recon.settings import Settings
from recon.store import reader
from tests.conftest import admin, settings_for

pytestmark = pytest.mark.slow
BLUE = "0fc7f0a5-60ca-496a-9a45-5a7c29bd0705"  # seed 1: NL customer with a confirmed MCA
NOVA = "45a74ec0-8e08-4b33-be47-c5b24fbc6b99"  # seed 1: GB customer without one
STANDARD = "CFQ7TTC0LDPB:0001:J29FFVKQPH6J"  # Microsoft 365 Business Standard, P1Y billed monthly


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[SandboxServer, Settings]]:
    with SandboxServer(tmp_path / "sb", inject_rates={"all": 0}, switches={"export_retry_after_s": "0"}) as sb:
        yield sb, settings_for(sb, tmp_path / "r.duckdb")


def other_item(client: PartnerCenterClient, country: str) -> str:
    """A P1M monthly catalog item of another product than STANDARD, found through the catalog functions."""
    for product in list_products(client, country, search="Microsoft 365"):
        if product["id"] == STANDARD.split(":")[0]:
            continue
        sku = list_skus(client, product["id"], country)[0]
        for availability in list_availabilities(client, product["id"], sku["id"], country):
            if ("P1M", "monthly") in availability_terms(availability):
                return str(availability["catalogItemId"])
    raise AssertionError("no P1M item in the catalog")


def purchase_and_change(sb: SandboxServer, settings: Settings, withhold: bool) -> tuple[list[str], str]:
    """Confirm, buy two items, add and remove seats, close the month; the bought subscriptions and the changed one."""
    with PartnerCenterClient(settings) as client:
        assert not agreement_status(client, NOVA).confirmed
        confirm_agreement(client, NOVA, first_name="Ana", last_name="Lee", email="ana@nova.example")
        assert agreement_status(client, NOVA).confirmed
        lines = [CartLine(STANDARD, 5, "P1Y", "monthly"), CartLine(other_item(client, "GB"), 2, "P1M", "monthly")]
        result = buy(client, NOVA, lines, review=lambda cart: len(cart["lineItems"]) == 2)
        assert result.orders and not result.order_errors and not result.unlisted
        order_ids = {o["id"] for o in result.orders}
        assert order_ids <= {o["id"] for o in list_orders(client, NOVA)}
        subs = [s for oid in order_ids for s in list_subscriptions(client, NOVA, oid)]
        assert sorted(s["quantity"] for s in subs) == [2, 5]
        main = next(s["id"] for s in subs if s["offerId"] == STANDARD)
        admin(sb, "POST", "/clock/advance", json={"days": 3})
        assert change_subscription(client, NOVA, main, Change(quantity=8))["quantity"] == 8
        admin(sb, "POST", "/clock/advance", json={"days": 2})
        assert change_subscription(client, NOVA, main, Change(quantity=6))["quantity"] == 6
    if withhold:
        admin(sb, "POST", "/inject", json={"kind": "credit_missing", "subscription_id": main})
    admin(sb, "POST", "/clock/close-month")
    admin(sb, "POST", "/clock/advance", json={"days": 8})  # past the invoice date
    return [s["id"] for s in subs], main


def findings_on(settings: Settings, subs: list[str]) -> pl.DataFrame:
    with reader(settings.db) as con:
        return con.sql("SELECT * FROM recon.findings").pl().filter(pl.col("subscription_id").is_in(subs))


def test_buy_change_invoice_reconcile_clean(world: tuple[SandboxServer, Settings]) -> None:
    sb, settings = world
    subs, main = purchase_and_change(sb, settings, withhold=False)
    assert not extract(settings).failed
    reconcile(settings)
    with reader(settings.db) as con:
        billed = con.execute(
            "SELECT charge_type, count(*) FROM raw.recon_lines WHERE subscription_id = ? AND invoice_number <> '' "
            "GROUP BY ALL",
            [main],
        ).fetchall()
    kinds = dict(billed)
    assert kinds.get("new") == 1  # the purchase
    assert kinds.get("addQuantity", 0) >= 2 and kinds.get("removeQuantity", 0) >= 2  # refund-and-charge pairs
    above_info = findings_on(settings, subs).filter(pl.col("severity") != "info")
    assert above_info.is_empty(), above_info.select("rule", "subscription_id", "explanation").to_dicts()


def test_withheld_credit_raises_r07_matching_the_key(world: tuple[SandboxServer, Settings]) -> None:
    sb, settings = world
    subs, main = purchase_and_change(sb, settings, withhold=True)
    assert not extract(settings).failed
    reconcile(settings)
    found = findings_on(settings, subs).filter(pl.col("severity") != "info")
    assert "R07" in {r.split("-")[0] for r in found.filter(pl.col("subscription_id") == main)["rule"]}
    key = pl.DataFrame(admin(sb, "GET", "/answer-key").json(), infer_schema_length=None)
    key = key.select(
        pl.col("case_id").cast(pl.String),
        pl.col("rule"),
        pl.col("also").fill_null(""),
        *(pl.col(k).cast(pl.String).replace("", None) for k in ("customer_id", "subscription_id", "invoice_number")),
        pl.lit(None, pl.String).alias("order_id"),
        pl.col("period").cast(pl.String).str.slice(0, 10),
    ).filter(pl.col("subscription_id").is_in(subs))
    assert key.height == 1
    pairs = matches(found.with_row_index("fid"), key)
    unmatched = found.with_row_index("fid").filter(~pl.col("fid").is_in(pairs["fid"].to_list()))
    assert unmatched.is_empty(), unmatched.select("rule", "subscription_id", "explanation").to_dicts()


def test_dropped_checkout_is_retried_with_the_same_request_id(world: tuple[SandboxServer, Settings]) -> None:
    sb, settings = world
    with PartnerCenterClient(settings) as client:
        cart = create_cart(client, BLUE, [CartLine(STANDARD, 4, "P1Y", "monthly")])
        before = len(list_orders(client, BLUE))
        admin(sb, "PUT", "/faults", json=["drop:1.0@checkout#1"])
        result = checkout_cart(client, BLUE, cart["id"])
        admin(sb, "PUT", "/faults", json=[])
        assert len(result.orders) == 1
        assert len(list_orders(client, BLUE)) == before + 1
        assert client.retries >= 1
    log = admin(sb, "GET", "/requests").json()
    checkouts = [e for e in log if e["method"] == "POST" and e["path"].endswith(f"/carts/{cart['id']}/checkout")]
    assert len(checkouts) == 2
    assert checkouts[0]["fault"] == "drop:1.0@checkout#1" and not checkouts[1].get("fault")
    assert len({e["headers"]["ms-requestid"] for e in checkouts}) == 1


def test_dry_run_never_checks_out(world: tuple[SandboxServer, Settings], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from recon.cli import cli

    sb, _ = world
    cart_file = tmp_path / "cart.json"
    cart_file.write_text(
        json.dumps([{"catalog_item_id": STANDARD, "quantity": 2, "term": "P1Y", "billing": "monthly"}])
    )
    env = {"RECON_SANDBOX": str(sb.sandbox_json), "RECON_DB": str(tmp_path / "r.duckdb")}
    result = CliRunner().invoke(cli, ["buy", "--customer", BLUE, "--cart-file", str(cart_file), "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "dry run: cart" in result.output
    log = admin(sb, "GET", "/requests").json()
    assert any(e["method"] == "POST" and e["path"].endswith("/carts") for e in log)
    assert not [e for e in log if e["path"].endswith("/checkout")]
