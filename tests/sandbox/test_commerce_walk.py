"""A month walked with the clock through the commerce API: buy through a cart, add seats, remove seats within 7
days, cancel another subscription within 7 days, close the month; then the orders, audit records, invoice,
billed lines and refund pairs, to the cent (amounts computed by hand from nce-billing-math.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from recon.sandbox import SandboxServer
from recon.sandbox.jsonenc import loads

from .helpers import https_session, msal_app

pytestmark = pytest.mark.slow

BLUE = "0fc7f0a5-60ca-496a-9a45-5a7c29bd0705"  # Blue Consulting B.V. (NL, EUR, 21 % tax, MCA confirmed), seed 1
STANDARD = "CFQ7TTC0LDPB:0001:J29FFVKQPH6J"  # Microsoft 365 Business Standard, P1Y billed monthly, 12.29 EUR
E1_MONTH = "CFQ7TTC0LF8Q:0001:38B6JSV72P0F"  # Office 365 E1, P1M, 11.23 EUR
D = Decimal


class Client:
    """A Partner Center client of one sandbox (bearer and admin sessions)."""

    def __init__(self, info: dict[str, Any]):
        token = msal_app(info, info["client_secret"]).acquire_token_for_client([info["pc_scope"]])["access_token"]
        self.pc = https_session(info)
        self.pc.headers["Authorization"] = f"Bearer {token}"
        self.admin = https_session(info)
        self.admin.headers["Authorization"] = f"Bearer {info['admin_token']}"
        self.base, self.admin_url = info["pc_base_url"] + "/v1", info["admin_url"]

    def call(self, method: str, uri: str, status: int = 200, **kw: Any) -> Any:
        resp = self.pc.request(method, self.base + uri, **kw)
        assert resp.status_code == status, resp.text
        return loads(resp.content)

    def adm(self, method: str, uri: str, **kw: Any) -> Any:
        resp = self.admin.request(method, self.admin_url + uri, **kw)
        assert resp.status_code in (200, 201), resp.text
        return loads(resp.content)

    def advance(self, days: int) -> None:
        self.adm("POST", "/clock/advance", json={"days": days})

    def lines(self, uri: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = self.call("GET", uri)
        out += page["items"]
        while "next" in page["links"]:
            nxt = page["links"]["next"]
            page = self.call(
                "GET", "/" + nxt["uri"].lstrip("/"), headers={h["key"]: h["value"] for h in nxt["headers"]}
            )
            out += page["items"]
        return out


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Run the walk once; the tests below check what it left."""
    with SandboxServer(tmp_path_factory.mktemp("walk"), inject_rates={"all": 0}) as server:
        c = Client(server.info)
        out: dict[str, Any] = {"client": c}
        body = {
            "lineItems": [
                {"id": 0, "catalogItemId": STANDARD, "quantity": 10, "billingCycle": "monthly", "termDuration": "P1Y"},
                {"Id": 1, "CatalogItemId": E1_MONTH, "Quantity": 5, "BillingCycle": "Monthly", "TermDuration": "P1M"},
            ]
        }
        cart = c.call("POST", f"/customers/{BLUE}/carts", 201, json=body)
        out["cart"] = cart
        result = c.call("POST", f"/customers/{BLUE}/carts/{cart['id']}/checkout", 201)
        out["checkout"] = result
        order = result["orders"][0]
        subs = {li["offerId"]: li["subscriptionId"] for li in order["lineItems"]}
        std, e1 = subs[STANDARD], subs[E1_MONTH]
        out["std"], out["e1"] = std, e1
        out["unbilled_day0"] = c.lines(
            "/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=billinglineitems&currencycode=EUR&period=current"
        )
        c.advance(2)  # 2025-11-12: 10 -> 14 seats
        sub = c.call("GET", f"/customers/{BLUE}/subscriptions/{std}")
        out["after_add"] = c.call("PATCH", f"/customers/{BLUE}/subscriptions/{std}", json=dict(sub, quantity=14))
        c.advance(3)  # 2025-11-15: 14 -> 11 seats (inside the add's window), cancel the E1 subscription
        out["after_remove"] = c.call("PATCH", f"/customers/{BLUE}/subscriptions/{std}", json={"quantity": 11})
        out["after_cancel"] = c.call("PATCH", f"/customers/{BLUE}/subscriptions/{e1}", json={"status": "deleted"})
        c.advance(5)  # 2025-11-20: every window has closed
        out["late_reduce"] = c.pc.patch(f"{c.base}/customers/{BLUE}/subscriptions/{std}", json={"quantity": 10})
        out["late_cancel"] = c.pc.patch(f"{c.base}/customers/{BLUE}/subscriptions/{std}", json={"status": "deleted"})
        out["orders"] = c.call("GET", f"/customers/{BLUE}/orders?include_price=true")
        out["audit"] = c.call(
            "GET",
            "/auditrecords?startDate=2025-11-10&endDate=2025-11-20&filter="
            + json.dumps({"Field": "CustomerId", "Value": BLUE, "Operator": "equals"}),
        )
        out["close"] = c.adm("POST", "/clock/close-month")
        out["invoice"] = c.call("GET", f"/invoices/{out['close']['invoice']}")
        out["billed"] = c.lines(
            f"/invoices/{out['close']['invoice']}/lineitems?provider=onetime&invoicelineitemtype=billinglineitems"
        )
        out["subs_after"] = {s["id"]: s for s in c.call("GET", f"/customers/{BLUE}/subscriptions")["items"]}
        yield out


def _mine(lines: list[dict[str, Any]], sub_id: str) -> list[tuple[str, str, int, Decimal, Decimal, Decimal]]:
    return [
        (
            ln["chargeType"],
            ln["chargeStartDate"][:10],
            ln["quantity"],
            ln["effectiveUnitPrice"],
            ln["subtotal"],
            ln["taxTotal"],
        )
        for ln in lines
        if ln["subscriptionId"] == sub_id
    ]


def test_checkout_order_and_unbilled_at_once(walk: dict[str, Any]) -> None:
    order = walk["checkout"]["orders"][0]
    assert walk["checkout"]["orderErrors"] == [] and order["status"] == "pending"
    assert [li["transactionType"] for li in order["lineItems"]] == ["New", "New"]
    assert walk["cart"]["status"] == "Active" and walk["cart"]["expirationTimestamp"][:10] == "2025-11-17"
    assert order["totalPrice"] == D("179.05")  # the order's billed amount: 122.90 + 56.15
    pricing = [li["pricing"] for li in walk["cart"]["lineItems"]]
    assert [p["extendedPrice"] for p in pricing] == [D("1474.80"), D("56.15")]  # carts: the whole term
    day0 = walk["unbilled_day0"]
    assert _mine(day0, walk["std"]) == [("new", "2025-11-10", 10, D("12.29"), D("122.90"), D("25.80"))]
    assert _mine(day0, walk["e1"]) == [("new", "2025-11-10", 5, D("11.23"), D("56.15"), D("11.79"))]


def test_seat_changes_and_cancel(walk: dict[str, Any]) -> None:
    add, rem, cancel = walk["after_add"], walk["after_remove"], walk["after_cancel"]
    assert add["quantity"] == 14
    assert add["refundableQuantity"] == {
        "totalQuantity": 14,
        "details": [
            {"quantity": 10, "allowedUntilDateTime": "2025-11-17T23:59:59Z"},
            {"quantity": 4, "allowedUntilDateTime": "2025-11-19T23:59:59Z"},
        ],
    }
    assert rem["quantity"] == 11 and rem["refundableQuantity"]["totalQuantity"] == 11
    assert cancel["status"] == "deleted" and cancel["autoRenewEnabled"] is False
    late = walk["late_reduce"]
    assert late.status_code == 400 and late.json() == {
        "code": 800090,
        "description": "Subscription quantity cannot be decreased.",
        "data": [],
        "source": "PartnerFD",
    }
    assert walk["late_cancel"].status_code == 400 and walk["late_cancel"].json()["code"] == 900117


def test_orders_carry_transaction_types_and_pricing(walk: dict[str, Any]) -> None:
    ours = (walk["std"], walk["e1"])
    mine = [o for o in walk["orders"]["items"] if o["lineItems"][0]["subscriptionId"] in ours]
    kinds = [
        (li["transactionType"], li["quantity"], li["pricing"]["extendedPrice"]) for o in mine for li in o["lineItems"]
    ]
    assert kinds == [
        ("New", 10, D("122.90")),
        ("New", 5, D("56.15")),
        ("AddQuantity", 4, D("45.88")),  # -114.70 + 160.58
        ("RemoveQuantity", 3, D("-30.72")),  # -143.36 + 112.64
        ("Cancel", 5, D("-46.75")),
    ]
    assert all(o["status"] == "completed" for o in mine)


def test_audit_records_with_old_and_new_values(walk: dict[str, Any]) -> None:
    ours = (walk["std"], walk["e1"], walk["checkout"]["orders"][0]["id"])
    items = [r for r in walk["audit"]["items"] if json.loads(r["resourceNewValue"])["Id"] in ours]
    assert [r["operationType"] for r in items] == [
        "update_subscription",
        "update_subscription",
        "update_subscription",
        "create_order",
    ]  # newest first
    cancel, remove, add, create = items
    assert (
        json.loads(add["resourceOldValue"])["Quantity"] == 10 and json.loads(add["resourceNewValue"])["Quantity"] == 14
    )
    assert json.loads(remove["resourceOldValue"])["Quantity"] == 14
    assert json.loads(remove["resourceNewValue"])["Quantity"] == 11
    assert json.loads(cancel["resourceOldValue"])["Status"] == "active"
    assert json.loads(cancel["resourceNewValue"])["Status"] == "deleted"
    assert "resourceOldValue" not in create and json.loads(create["resourceNewValue"])["Status"] == "pending"
    keys = [d["key"] for d in create["customizedData"]]
    assert keys[:3] == ["OrderId", "AlternateId", "BillingCycle"] and "SubscriptionId-1" in keys


def test_close_month_invoice_billed_lines_and_refund_pairs(walk: dict[str, Any]) -> None:
    close, inv, billed = walk["close"], walk["invoice"], walk["billed"]
    assert close["today"] == "2025-12-01" and close["closed"] == "2025-11-01"
    assert inv["billingPeriodStartDate"] == "2025-11-01T00:00:00Z" and inv["invoiceDate"] == "2025-12-01T00:00:00Z"
    assert inv["totalCharges"] == sum((ln["totalForCustomer"] for ln in billed), D("0"))
    assert _mine(billed, walk["std"]) == [
        ("new", "2025-11-10", 10, D("12.29"), D("122.90"), D("25.80")),
        ("addQuantity", "2025-11-12", 10, D("-11.470667"), D("-114.70"), D("-24.08")),
        ("addQuantity", "2025-11-12", 14, D("11.470667"), D("160.58"), D("33.72")),
        ("removeQuantity", "2025-11-15", 14, D("-10.241667"), D("-143.36"), D("-30.10")),
        ("removeQuantity", "2025-11-15", 11, D("10.241667"), D("112.64"), D("23.65")),
    ]
    assert _mine(billed, walk["e1"]) == [
        ("new", "2025-11-10", 5, D("11.23"), D("56.15"), D("11.79")),
        ("cancelImmediate", "2025-11-15", 5, D("-9.358333"), D("-46.75"), D("-9.81")),
    ]
    pairs = {}
    for ln in billed:
        if ln["subscriptionId"] == walk["std"] and ln["chargeType"] != "new":
            pairs.setdefault(ln["referenceId"], []).append(ln["subtotal"])
    assert sorted(pairs.values()) == [[D("-143.36"), D("112.64")], [D("-114.70"), D("160.58")]]
    assert all(
        ln["invoiceNumber"] == inv["id"] and ln["chargeEndDate"][:10] == "2025-12-09"
        for ln in billed
        if ln["subscriptionId"] in (walk["std"], walk["e1"]) and ln["chargeType"] != "new"
    )
    after = walk["subs_after"]
    assert after[walk["std"]]["quantity"] == 11 and after[walk["e1"]]["status"] == "deleted"


def test_walk_needs_no_files(walk: dict[str, Any], tmp_path: Path) -> None:
    assert isinstance(walk["client"].pc, requests.Session) and tmp_path.exists()
