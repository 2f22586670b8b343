"""Commerce switches and limits over HTTPS: throttling (429 + Retry-After), app_user_only, order-list and
provisioning delays, cart expiry, auto-renew off and suspension."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import msal
import pytest

from recon.sandbox import SandboxServer

from .helpers import https_session
from .test_commerce_api import BLUE, STANDARD, Api, check

pytestmark = pytest.mark.slow
E1_MONTH = "CFQ7TTC0LF8Q:0001:38B6JSV72P0F"  # Office 365 E1, P1M, 11.23 EUR


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with SandboxServer(tmp_path_factory.mktemp("switches"), inject_rates={"all": 0}) as srv:
        yield srv


def _buy(api: Api, offer: str, qty: int, term: str = "P1Y") -> dict[str, Any]:
    body = {"lineItems": [{"catalogItemId": offer, "quantity": qty, "billingCycle": "monthly", "termDuration": term}]}
    cart = api.ok("POST", f"/customers/{BLUE}/carts", 201, json=body)
    order: dict[str, Any] = api.ok("POST", f"/customers/{BLUE}/carts/{cart['id']}/checkout", 201)["orders"][0]
    return order


def test_throttle_burst_gets_429_with_retry_after(server: SandboxServer) -> None:
    api = Api(server.info)

    def hit(uri: str) -> tuple[int, Any, str | None]:
        resp = api.req("GET", uri)
        return resp.status_code, resp.json(), resp.headers.get("Retry-After")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(hit, [f"/customers/{BLUE}"] * 90))
        billing = list(pool.map(hit, ["/invoices"] * 60))
    throttled = [a for a in answers if a[0] == 429]
    assert throttled and sum(1 for a in answers if a[0] == 200) >= 50
    for _, body, retry_after in throttled:
        check("throttle", body)
        assert retry_after is not None and int(retry_after) >= 1
    assert all(a[0] == 200 for a in billing)  # billing buckets are off by default
    log = api.adm("GET", "/requests").json()
    assert any(e.get("throttled") for e in log)
    api.adm("PUT", "/switches", json={"rate_limit_per_min": "0"})
    with ThreadPoolExecutor(8) as pool:
        assert all(a[0] == 200 for a in pool.map(hit, [f"/customers/{BLUE}/subscriptions"] * 70))


def test_low_configured_limit_and_billing_bucket(server: SandboxServer) -> None:
    api = Api(server.info)
    api.adm(
        "PUT", "/switches", json={"rate_limit_burst": "3", "rate_limit_per_min": "6", "rate_limit_billing_per_min": "6"}
    )
    codes = [api.req("GET", f"/customers/{BLUE}/orders").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    resp = api.req("GET", f"/customers/{BLUE}/orders")
    assert int(resp.headers["Retry-After"]) in range(1, 11)
    assert [api.req("GET", "/invoices").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert api.req("GET", "/products?country=NL&targetView=OnlineServices").status_code == 200  # catalog: unlimited


def test_app_user_only(server: SandboxServer) -> None:
    info = server.info
    api = Api(info)
    assert api.req("GET", "/agreements").status_code == 200  # default off
    api.adm("PUT", "/switches", json={"app_user_only": "on"})
    refused = api.req("GET", f"/customers/{BLUE}/agreements")
    assert refused.status_code == 403 and refused.json()["code"] == 900329
    assert api.req("GET", "/agreements").status_code == 403
    assert api.req("GET", f"/customers/{BLUE}/subscriptions").status_code == 200  # app-only allowed there
    app = msal.PublicClientApplication(
        info["client_id"], authority=info["authority"], instance_discovery=False, http_client=https_session(info)
    )
    flow = app.initiate_device_flow(["https://api.partnercenter.microsoft.com/user_impersonation"])
    user = Api(info, app.acquire_token_by_device_flow(flow)["access_token"])
    items = user.ok("GET", f"/customers/{BLUE}/agreements?agreementType=*")["items"]
    assert [a["type"] for a in items] == ["MicrosoftCustomerAgreement"]


def test_order_list_delay_and_provisioning(server: SandboxServer) -> None:
    api = Api(server.info)
    api.adm("PUT", "/switches", json={"order_list_delay_s": "600", "order_provisioning_s": "600"})
    order = _buy(api, STANDARD, 7)
    assert order["status"] == "pending" and "subscriptionId" not in order["lineItems"][0]
    listed = [o["id"] for o in api.ok("GET", f"/customers/{BLUE}/orders")["items"]]
    assert order["id"] not in listed
    by_id = api.ok("GET", f"/customers/{BLUE}/orders/{order['id']}")
    assert by_id["status"] == "pending"
    assert api.ok("GET", f"/customers/{BLUE}/subscriptions?order_id={order['id']}")["items"] == []
    status = api.ok("GET", f"/customers/{BLUE}/orders/{order['id']}/provisioningstatus")["items"]
    assert status[0]["status"] == "prefulfillmentpending"
    api.adm("POST", "/clock/advance", json={"days": 1})  # a day later both delays have passed
    by_id = api.ok("GET", f"/customers/{BLUE}/orders/{order['id']}")
    assert by_id["status"] == "completed" and by_id["lineItems"][0]["subscriptionId"]
    assert order["id"] in [o["id"] for o in api.ok("GET", f"/customers/{BLUE}/orders")["items"]]
    subs = api.ok("GET", f"/customers/{BLUE}/subscriptions?order_id={order['id']}")["items"]
    assert [s["quantity"] for s in subs] == [7]


def test_cart_expires_after_seven_days(server: SandboxServer) -> None:
    api = Api(server.info)
    body = {"lineItems": [{"catalogItemId": STANDARD, "quantity": 1, "billingCycle": "monthly", "termDuration": "P1Y"}]}
    cart = api.ok("POST", f"/customers/{BLUE}/carts", 201, json=body)
    api.adm("POST", "/clock/advance", json={"days": 7})
    assert api.ok("PUT", f"/customers/{BLUE}/carts/{cart['id']}", 201, json=body)["status"] == "Active"
    api.adm("POST", "/clock/advance", json={"days": 1})
    late = api.req("POST", f"/customers/{BLUE}/carts/{cart['id']}/checkout")
    assert late.status_code == 400 and "expired" in late.json()["description"]


def test_auto_renew_off_expires_and_suspend_blocks_seat_changes(server: SandboxServer) -> None:
    api = Api(server.info)
    e1 = _buy(api, E1_MONTH, 5, "P1M")["lineItems"][0]["subscriptionId"]
    std = _buy(api, STANDARD, 3)["lineItems"][0]["subscriptionId"]
    off = api.ok("PATCH", f"/customers/{BLUE}/subscriptions/{e1}", json={"autoRenewEnabled": False})
    assert off["autoRenewEnabled"] is False
    suspended = api.ok("PATCH", f"/customers/{BLUE}/subscriptions/{std}", json={"status": "suspended"})
    assert suspended["status"] == "suspended" and suspended["autoRenewEnabled"] is False
    blocked = api.req("PATCH", f"/customers/{BLUE}/subscriptions/{std}", json={"quantity": 9})
    assert blocked.status_code == 400 and blocked.json()["code"] == 800091
    api.adm("POST", "/clock/advance", json={"days": 30})  # 2025-12-10: the P1M term ended on Dec 9
    sub = api.ok("GET", f"/customers/{BLUE}/subscriptions/{e1}")
    assert sub["status"] == "expired" and sub["commitmentEndDate"] == "2025-12-09T00:00:00Z"
    gone = api.req("PATCH", f"/customers/{BLUE}/subscriptions/{e1}", json={"quantity": 6})
    assert gone.status_code == 400 and gone.json()["code"] == 2011
    uri = "/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=billinglineitems&currencycode=EUR"
    dec = api.ok("GET", uri + "&period=current")["items"]
    assert not [ln for ln in dec if ln["subscriptionId"] == e1]  # no renewal
    invoices = api.ok("GET", "/invoices")["items"]
    nov_id = next(
        i["id"]
        for i in invoices
        if i["billingPeriodStartDate"].startswith("2025-11-01") and i["documentType"] == "invoice"
    )
    nov = api.ok("GET", f"/invoices/{nov_id}/lineitems?provider=onetime&invoicelineitemtype=billinglineitems")["items"]
    assert [(ln["chargeType"], ln["subtotal"]) for ln in nov if ln["subscriptionId"] == e1] == [
        ("new", Decimal("56.15"))
    ]
