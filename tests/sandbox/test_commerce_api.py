"""Commerce endpoints over HTTPS: contracts (JSON Schemas in tests/sandbox/schemas) against commerce.md and
audit.md, paging walks, agreements and 13605, idempotent checkout, delays, catalog errors, targeted injection."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import msal
import pytest
import requests

from recon.sandbox import SandboxServer
from recon.sandbox.jsonenc import loads

from .helpers import https_session, msal_app

pytestmark = pytest.mark.slow
SCHEMAS = Path(__file__).parent / "schemas"
BLUE = "0fc7f0a5-60ca-496a-9a45-5a7c29bd0705"  # seed 1: NL customer with a confirmed MCA
NOVA = "45a74ec0-8e08-4b33-be47-c5b24fbc6b99"  # seed 1: GB customer without one
STANDARD = "CFQ7TTC0LDPB:0001:J29FFVKQPH6J"  # Microsoft 365 Business Standard, P1Y billed monthly
MCA_TEMPLATE = "117a77b0-9360-443b-8795-c6dedc750cf9"


def check(name: str, value: Any) -> None:
    """Validate `value` against tests/sandbox/schemas/<name>.json (numbers parsed as Decimal are numbers)."""
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    plain = json.loads(json.dumps(value, default=float))
    jsonschema.validate(plain, schema)


class Api:
    """Bearer and admin sessions of one sandbox."""

    def __init__(self, info: dict[str, Any], token: str | None = None):
        if token is None:
            token = msal_app(info, info["client_secret"]).acquire_token_for_client([info["pc_scope"]])["access_token"]
        self.http = https_session(info)
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.admin = https_session(info)
        self.admin.headers["Authorization"] = f"Bearer {info['admin_token']}"
        self.base, self.admin_url = info["pc_base_url"] + "/v1", info["admin_url"]

    def req(self, method: str, uri: str, **kw: Any) -> requests.Response:
        return self.http.request(method, self.base + uri, **kw)

    def ok(self, method: str, uri: str, status: int = 200, **kw: Any) -> Any:
        resp = self.req(method, uri, **kw)
        assert resp.status_code == status, resp.text
        return loads(resp.content)

    def adm(self, method: str, uri: str, **kw: Any) -> requests.Response:
        return self.admin.request(method, self.admin_url + uri, **kw)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with SandboxServer(tmp_path_factory.mktemp("commerce"), inject_rates={"all": 0}) as srv:
        yield srv


@pytest.fixture(scope="module")
def api(server: SandboxServer) -> Api:
    return Api(server.info)


@pytest.fixture(scope="module")
def user_api(server: SandboxServer) -> Api:
    """A session with an App+User token from msal's device-code flow."""
    info = server.info
    app = msal.PublicClientApplication(
        info["client_id"], authority=info["authority"], instance_discovery=False, http_client=https_session(info)
    )
    flow = app.initiate_device_flow(["https://api.partnercenter.microsoft.com/user_impersonation"])
    return Api(info, app.acquire_token_by_device_flow(flow)["access_token"])


def _follow(api: Api, uri: str, **kw: Any) -> list[Any]:
    pages = [api.ok("GET", uri, **kw)]
    seen = set()
    while "next" in pages[-1]["links"]:
        nxt = pages[-1]["links"]["next"]
        token = pages[-1]["continuationToken"]
        assert token not in seen and nxt["headers"] == [{"key": "MS-ContinuationToken", "value": token}]
        assert "seekOperation=Next" in nxt["uri"] and not nxt["uri"].startswith("/v1")
        seen.add(token)
        pages.append(api.ok("GET", nxt["uri"], headers={"MS-ContinuationToken": token}))
    return pages


def test_customers_contract_and_paging(api: Api) -> None:
    pages = _follow(api, "/customers?size=2")
    assert [p["totalCount"] for p in pages] == [2, 2, 1]
    assert "continuationToken" not in pages[-1] and "next" not in pages[-1]["links"]
    items = [c for p in pages for c in p["items"]]
    for page in pages:
        check("collection", page)
    for cust in items:
        check("customer", cust)
        assert "billingProfile" not in cust and "allowDelegatedAccess" not in cust
    one = api.ok("GET", f"/customers/{BLUE}")
    check("customer", one)
    assert one["billingProfile"]["defaultAddress"]["country"] == "NL" and one["allowDelegatedAccess"] is True
    flt = json.dumps({"Field": "CompanyName", "Value": "blue", "Operator": "starts_with"})
    assert [c["id"] for c in api.ok("GET", "/customers", params={"filter": flt})["items"]] == [BLUE]
    bad = api.req("GET", "/customers?size=2&seekOperation=Next", headers={"MS-ContinuationToken": "forged"})
    assert bad.status_code == 400
    check("pc_error", bad.json())


def test_catalog_contract(api: Api) -> None:
    products = api.ok("GET", "/products?country=NL&targetView=OnlineServices")
    check("collection", products)
    assert len(products["items"]) == 15
    for p in products["items"]:
        check("product", p)
        skus = api.ok("GET", p["links"]["skus"]["uri"])
        for s in skus["items"]:
            check("sku", s)
            assert api.ok("GET", s["links"]["self"]["uri"]) == s
            avails = api.ok("GET", s["links"]["availabilities"]["uri"])
            for a in avails["items"]:
                check("availability", a)
                assert a["catalogItemId"] == f"{p['id']}:{s['id']}:{a['id']}"
                assert api.ok("GET", a["links"]["self"]["uri"]) == a
    d365 = api.ok("GET", "/products/CFQ7TTC0LJ1R/skus/0002/availabilities?country=DE")["items"]
    cycles = {(t["duration"], t["billingCycle"]) for a in d365 for t in a["terms"]}
    assert cycles == {
        ("P1M", "Monthly"),
        ("P1Y", "Monthly"),
        ("P1Y", "Annual"),
        ("P3Y", "Monthly"),
        ("P3Y", "Annual"),
        ("P3Y", "Triennial"),
    }
    assert api.ok("GET", "/products?country=NL&targetView=Azure")["items"] == []
    for uri, status, code in [
        ("/products?country=NL&targetView=Nope", 403, 400036),
        ("/products?country=NL&targetView=OnlineServices&targetSegment=army", 403, 400030),
        ("/products/CFQ7TTC0XXXX?country=NL", 404, 400013),
        ("/products/CFQ7TTC0LDPB/skus/0009?country=NL", 404, 400018),
        ("/products/CFQ7TTC0LDPB/skus/0001/availabilities/ZZZZZZZZZZZZ?country=NL", 404, 400019),
        ("/products?targetView=OnlineServices", 400, 800002),
    ]:
        resp = api.req("GET", uri)
        assert (resp.status_code, resp.json()["code"]) == (status, code), uri


def test_subscriptions_and_orders_contract(api: Api) -> None:
    subs = api.ok("GET", f"/customers/{BLUE}/subscriptions")
    check("collection", subs)
    assert subs["items"]
    for s in subs["items"]:
        check("subscription", s)
        assert api.ok("GET", s["links"]["self"]["uri"]) == s
        by_order = api.ok("GET", f"/customers/{BLUE}/subscriptions?order_id={s['orderId']}")["items"]
        assert s["id"] in [x["id"] for x in by_order]
    orders = api.ok("GET", f"/customers/{BLUE}/orders?include_price=true")
    for o in orders["items"]:
        check("order", o)
        assert "totalPrice" in o and all("pricing" in li for li in o["lineItems"])
    plain = api.ok("GET", f"/customers/{BLUE}/orders/{orders['items'][0]['id']}")
    assert "totalPrice" not in plain and "pricing" not in plain["lineItems"][0]
    system = api.ok("GET", f"/customers/{BLUE}/orders?include_system_purchases=true")["items"]
    assert {li["transactionType"] for o in system for li in o["lineItems"]} >= {"New", "Renew"}
    assert len(system) > len(orders["items"])
    for uri, code in [
        (f"/customers/{BLUE}/orders/000000000000", 20000),
        (f"/customers/{BLUE}/subscriptions/{uuid.uuid4()}", 20003),
    ]:
        resp = api.req("GET", uri)
        assert resp.status_code == 404 and resp.json()["code"] == code
        check("pc_error", resp.json())


def test_audit_records_paging_and_rules(api: Api) -> None:
    flt = json.dumps({"Field": "ResourceType", "Value": "Subscription", "Operator": "equals"})
    pages = _follow(
        api, "/auditrecords", params={"startDate": "2025-10-11", "endDate": "2025-11-09", "size": "2", "filter": flt}
    )
    records = [r for p in pages for r in p["items"]]
    assert len(pages) >= 2 and records
    assert pages[0]["links"]["self"]["uri"].startswith(
        "/auditrecords?startDate=2025-10-11&endDate=2025-11-09&size=2&filter=%7B"
    )
    for r in records:
        check("audit_record", r)
        assert r["resourceType"] == "subscription" and "resourceOldValue" in r
        assert json.loads(r["resourceOldValue"])["Quantity"] != json.loads(r["resourceNewValue"])["Quantity"] or (
            json.loads(r["resourceNewValue"])["Status"] == "deleted"
        )
    dates = [r["operationDate"] for r in records]
    assert dates == sorted(dates, reverse=True)
    old = api.req("GET", "/auditrecords?startDate=2025-08-01")
    assert old.status_code == 400 and old.json()["code"] == 800002
    wide = api.req("GET", "/auditrecords?startDate=2025-09-01&endDate=2025-11-01")
    assert wide.status_code == 400
    us = api.ok(
        "GET", "/auditrecords", params={"startDate": "10/11/2025 12:00:00 AM", "endDate": "11/09/2025 00:00:00"}
    )
    assert us["links"]["self"]["uri"].startswith("/auditrecords?startDate=2025-10-11&endDate=2025-11-09")


def test_purchase_needs_the_customer_agreement(api: Api, user_api: Api) -> None:
    body = {"lineItems": [{"catalogItemId": STANDARD, "quantity": 3, "billingCycle": "monthly", "termDuration": "P1Y"}]}
    assert api.ok("GET", f"/customers/{NOVA}/agreements?agreementType=*")["items"] == []
    cart = api.ok("POST", f"/customers/{NOVA}/carts", 201, json=body)
    check("cart", cart)
    refused = api.req("POST", f"/customers/{NOVA}/carts/{cart['id']}/checkout")
    assert refused.status_code == 403 and refused.json()["code"] == 13605
    check("pc_error", refused.json())
    meta = user_api.ok("GET", "/agreements?agreementType=MicrosoftCustomerAgreement")["items"]
    assert [m["templateId"] for m in meta] == [MCA_TEMPLATE]
    check("agreement_metadata", meta[0])
    confirm = {
        "primaryContact": {"firstName": "Ana", "lastName": "Lee", "email": "ana@nova.example"},
        "templateId": MCA_TEMPLATE,
        "dateAgreed": "2025-11-09T00:00:00Z",
        "type": "MicrosoftCustomerAgreement",
    }
    made = user_api.ok("POST", f"/customers/{NOVA}/agreements", 201, json=confirm)
    check("agreement", made)
    again = user_api.req("POST", f"/customers/{NOVA}/agreements", json=confirm)
    assert again.status_code == 400 and again.json()["errorName"] == "PartnerConfirmedAgreementAlreadyExists"
    result = api.ok("POST", f"/customers/{NOVA}/carts/{cart['id']}/checkout", 201)
    check("checkout", result)
    assert result["orders"][0]["currencyCode"] == "GBP"


def test_checkout_is_idempotent(api: Api) -> None:
    body = {"lineItems": [{"catalogItemId": STANDARD, "quantity": 2, "billingCycle": "monthly", "termDuration": "P1Y"}]}
    rid = str(uuid.uuid4())
    cart = api.ok("POST", f"/customers/{BLUE}/carts", 201, json=body, headers={"MS-RequestId": rid})
    assert api.ok("POST", f"/customers/{BLUE}/carts", 201, json=body, headers={"MS-RequestId": rid}) == cart
    first = api.ok("POST", f"/customers/{BLUE}/carts/{cart['id']}/checkout", 201)
    second = api.ok("POST", f"/customers/{BLUE}/carts/{cart['id']}/checkout", 201)
    assert first == second
    assert api.ok("GET", f"/customers/{BLUE}/carts/{cart['id']}")["status"] == "Ordered"
    oid = first["orders"][0]["id"]
    orders = [o for o in api.ok("GET", f"/customers/{BLUE}/orders")["items"] if o["id"] == oid]
    assert len(orders) == 1
    blocked = api.req("PUT", f"/customers/{BLUE}/carts/{cart['id']}", json=body)
    assert blocked.status_code == 400 and blocked.json()["code"] == 800065


def test_dropped_first_checkout_then_retry_gets_the_same_order(api: Api) -> None:
    body = {"lineItems": [{"catalogItemId": STANDARD, "quantity": 4, "billingCycle": "monthly", "termDuration": "P1Y"}]}
    cart = api.ok("POST", f"/customers/{BLUE}/carts", 201, json=body)
    assert api.adm("PUT", "/faults", json=["drop:1.0@checkout#1"]).json() == ["drop:1.0@checkout#1"]
    rid = str(uuid.uuid4())
    uri = f"/customers/{BLUE}/carts/{cart['id']}/checkout"
    try:
        with pytest.raises(requests.exceptions.RequestException):
            api.req("POST", uri, headers={"MS-RequestId": rid}).json()
        retry = api.ok("POST", uri, 201, headers={"MS-RequestId": rid})
    finally:
        api.adm("PUT", "/faults", json=[])
    oid = retry["orders"][0]["id"]
    assert api.ok("GET", f"/customers/{BLUE}/orders/{oid}")["id"] == oid  # created by the dropped attempt
    mine = [o for o in api.ok("GET", f"/customers/{BLUE}/orders")["items"] if o["lineItems"][0]["quantity"] == 4]
    assert [o["id"] for o in mine if o["creationDate"].startswith("2025-11-10")] == [oid]
    log = api.adm("GET", "/requests").json()
    assert [
        e.get("fault") for e in log if e["path"].endswith("/checkout") and e["headers"].get("ms-requestid") == rid
    ] == [
        "drop:1.0@checkout#1",
        None,
    ]


def test_cart_line_errors_become_order_errors(api: Api) -> None:
    body = {
        "lineItems": [
            {"catalogItemId": STANDARD, "quantity": 1, "billingCycle": "monthly", "termDuration": "P1Y"},
            {"catalogItemId": "NOPE:0001:NOPE", "quantity": 1, "billingCycle": "annual", "termDuration": "P1Y"},
        ]
    }
    cart = api.ok("POST", f"/customers/{BLUE}/carts", 201, json=body)
    assert [li["orderGroup"] for li in cart["lineItems"]] == ["0", "1"]
    assert cart["lineItems"][1]["error"]["errorCode"] == "catalog_item_id_is_not_valid"
    result = api.ok("POST", f"/customers/{BLUE}/carts/{cart['id']}/checkout", 201)
    check("checkout", result)
    assert len(result["orders"]) == 1 and result["orderErrors"][0]["orderGroupId"] == "1"


def test_targeted_credit_missing(api: Api) -> None:
    body = {"lineItems": [{"catalogItemId": STANDARD, "quantity": 6, "billingCycle": "monthly", "termDuration": "P1Y"}]}
    cart = api.ok("POST", f"/customers/{BLUE}/carts", 201, json=body)
    sub_id = api.ok("POST", f"/customers/{BLUE}/carts/{cart['id']}/checkout", 201)["orders"][0]["lineItems"][0][
        "subscriptionId"
    ]
    api.ok("PATCH", f"/customers/{BLUE}/subscriptions/{sub_id}", json={"quantity": 2})
    refused = api.adm("POST", "/inject", json={"kind": "qty_overbilled", "subscription_id": sub_id})
    assert refused.status_code == 400
    case = api.adm("POST", "/inject", json={"kind": "credit_missing", "subscription_id": sub_id}).json()
    # 2025-11-10, 6 -> 2 seats on the purchase day: the refund of 6 x 12.29 is withheld
    assert {k: case[k] for k in ("kind", "rule", "also", "customer_id", "subscription_id", "period", "currency")} == {
        "kind": "credit_missing",
        "rule": "R07",
        "also": "R01,R03",
        "customer_id": BLUE,
        "subscription_id": sub_id,
        "period": "2025-11-01",
        "currency": "EUR",
    }
    assert Decimal(str(case["amount_at_stake"])) == Decimal("73.74")
    key = api.adm("GET", "/answer-key").json()
    assert [r["case_id"] for r in key if r["subscription_id"] == sub_id] == [case["case_id"]]
    uri = "/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=billinglineitems"
    uri += "&currencycode=EUR&period=current"
    lines = [ln for ln in api.ok("GET", uri)["items"] if ln["subscriptionId"] == sub_id]
    assert [(ln["chargeType"], ln["subtotal"]) for ln in lines] == [
        ("new", Decimal("73.74")),
        ("removeQuantity", Decimal("24.58")),
    ]


@pytest.mark.parametrize(
    ("kind", "rule", "expected"),
    [
        ("credit_twice", "R07", [("new", 6), ("removeQuantity", -6), ("removeQuantity", -6), ("removeQuantity", 2)]),
        ("duplicate_line", "R06", [("new", 6), ("new", 6), ("removeQuantity", -6), ("removeQuantity", 2)]),
        ("charge_missing", "R05", [("removeQuantity", -6), ("removeQuantity", 2)]),
    ],
)
def test_targeted_kinds_double_or_withhold_the_latest_line(
    api: Api, kind: str, rule: str, expected: list[tuple[str, int]]
) -> None:
    body = {"lineItems": [{"catalogItemId": STANDARD, "quantity": 6, "billingCycle": "monthly", "termDuration": "P1Y"}]}
    cart = api.ok("POST", f"/customers/{BLUE}/carts", 201, json=body)
    order = api.ok("POST", f"/customers/{BLUE}/carts/{cart['id']}/checkout", 201)["orders"][0]
    sub_id = order["lineItems"][0]["subscriptionId"]
    api.ok("PATCH", f"/customers/{BLUE}/subscriptions/{sub_id}", json={"quantity": 2})
    case = api.adm("POST", "/inject", json={"kind": kind, "subscription_id": sub_id}).json()
    assert (case["kind"], case["rule"], case["subscription_id"]) == (kind, rule, sub_id)
    uri = "/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=billinglineitems"
    uri += "&currencycode=EUR&period=current"
    lines = [ln for ln in api.ok("GET", uri)["items"] if ln["subscriptionId"] == sub_id]
    signed = sorted(
        (ln["chargeType"], int(ln["quantity"]) * (1 if Decimal(str(ln["subtotal"])) >= 0 else -1)) for ln in lines
    )
    assert signed == sorted(expected)
    amounts = {Decimal(str(ln["subtotal"])) for ln in lines}
    stake = Decimal(str(case["amount_at_stake"]))
    assert stake in amounts or -stake in amounts, "the money at stake is the line's amount"


def test_patch_a_generated_subscription(api: Api) -> None:
    """The world's own subscription: late reduction refused, an add billed at once, cycle charges follow it."""
    subs = api.ok("GET", f"/customers/{BLUE}/subscriptions")["items"]
    target = next(
        s
        for s in subs
        if s["status"] == "active"
        and s["billingCycle"] == "monthly"
        and s["refundableQuantity"]["totalQuantity"] == 0
        and s["billingCycleEndDate"] >= "2025-11-20"
    )
    sid, qty = target["id"], target["quantity"]
    late = api.req("PATCH", f"/customers/{BLUE}/subscriptions/{sid}", json=dict(target, quantity=qty - 1))
    assert late.status_code == 400 and late.json()["code"] == 800090
    uri = "/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=billinglineitems"
    uri += "&currencycode=EUR&period=current"
    before = [ln for ln in api.ok("GET", uri)["items"] if ln["subscriptionId"] == sid]
    after = api.ok("PATCH", f"/customers/{BLUE}/subscriptions/{sid}", json={"quantity": qty + 2})
    assert after["quantity"] == qty + 2 and after["refundableQuantity"]["totalQuantity"] == 2
    lines = [ln for ln in api.ok("GET", uri)["items"] if ln["subscriptionId"] == sid]
    assert lines[: len(before)] == before  # the generated history is kept
    pair = lines[len(before) :]
    assert [(ln["chargeType"], ln["quantity"], ln["orderDate"][:10]) for ln in pair] == [
        ("addQuantity", qty, "2025-11-10"),
        ("addQuantity", qty + 2, "2025-11-10"),
    ]
    assert pair[0]["referenceId"] == pair[1]["referenceId"] and pair[0]["subtotal"] == -pair[1]["subtotal"] * qty / (
        qty + 2
    )
    orders = api.ok("GET", f"/customers/{BLUE}/orders?include_price=true")["items"]
    add = [
        o
        for o in orders
        if o["lineItems"][0].get("subscriptionId") == sid and o["lineItems"][0]["transactionType"] == "AddQuantity"
    ]
    assert add[-1]["lineItems"][0]["quantity"] == 2
    assert add[-1]["totalPrice"] == pair[0]["subtotal"] + pair[1]["subtotal"]
    next_start = date.fromisoformat(after["billingCycleEndDate"][:10]) + timedelta(days=1)
    assert (
        api.adm("POST", "/clock/advance", json={"days": (next_start - date(2025, 11, 10)).days + 1}).status_code == 200
    )
    cycle = [
        ln for ln in api.ok("GET", uri)["items"] if ln["subscriptionId"] == sid and ln["chargeType"] == "cycleCharge"
    ]
    assert [(ln["chargeStartDate"][:10], ln["quantity"]) for ln in cycle][-1] == (next_start.isoformat(), qty + 2)
