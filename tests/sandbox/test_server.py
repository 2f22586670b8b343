"""The running sandbox over HTTPS: msal flows, invoices, seek paging, auth, Date header, admin API."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import msal
import pytest
import requests

from recon.sandbox import SandboxServer
from recon.sandbox.billing_switches import BILLING_DEFAULTS
from recon.sandbox.commerce_switches import COMMERCE_DEFAULTS
from recon.sandbox.jsonenc import dumps, loads
from recon.sandbox.records import LINE_FIELDS

from .helpers import https_session, msal_app

pytestmark = pytest.mark.slow
SANDBOX_KEYS = [
    "pc_base_url",
    "graph_base_url",
    "authority",
    "tenant_id",
    "client_id",
    "client_secret",
    "client_cert",
    "ca_cert",
    "pc_scope",
    "graph_scope",
    "admin_url",
    "admin_token",
    "seed",
    "size",
    "today",
    "world_today",
    "first_month",
    "closed_months",
    "billing_currency",
    "switches",
]


def get(http: requests.Session, info: dict[str, Any], uri: str, **kw: Any) -> Any:
    resp = http.get(info["pc_base_url"] + uri, **kw)
    assert resp.status_code == 200, resp.text
    return loads(resp.content)


def test_sandbox_json_contract(sandbox: SandboxServer, info: dict[str, Any]) -> None:
    on_disk = json.loads(sandbox.sandbox_json.read_text())
    assert list(on_disk) == SANDBOX_KEYS and on_disk == info
    port = sandbox.port
    assert info["pc_base_url"] == f"https://127.0.0.1:{port}"
    assert info["graph_base_url"] == f"https://127.0.0.1:{port}/v1.0"
    assert info["authority"] == f"https://127.0.0.1:{port}/{info['tenant_id']}"
    assert info["admin_url"] == f"https://127.0.0.1:{port}/admin"
    assert info["pc_scope"] == "https://api.partnercenter.microsoft.com/.default"
    assert info["graph_scope"] == "https://graph.microsoft.com/.default"
    assert info["today"] == "2025-11-10" and info["billing_currency"] == "EUR"
    assert info["world_today"] == "2025-11-10" and info["first_month"] == "2025-08-01"
    assert info["closed_months"] == ["2025-08-01", "2025-09-01", "2025-10-01"]
    assert info["switches"] == {
        "billing_currency": "EUR",
        "seat_rounding": "B",
        "token_lifetime_s": "3600",
        "customers": "5",
        **COMMERCE_DEFAULTS,
        **BILLING_DEFAULTS,
    }
    assert len(info["client_secret"]) >= 32 and not info["client_secret"].isalnum()


def test_msal_client_secret(info: dict[str, Any]) -> None:
    result = msal_app(info, info["client_secret"]).acquire_token_for_client([info["pc_scope"]])
    assert result["token_type"] == "Bearer" and result["expires_in"] == 3600 and result["access_token"]


def test_msal_certificate(info: dict[str, Any]) -> None:
    pem = Path(info["client_cert"]).read_text()
    cert = pem[: pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    app = msal_app(info, {"private_key": pem, "public_certificate": cert})
    result = app.acquire_token_for_client([info["graph_scope"]])
    assert result.get("access_token"), result


def test_msal_wrong_secret_and_unknown_client_are_refused(info: dict[str, Any]) -> None:
    result = msal_app(info, info["client_secret"] + "x").acquire_token_for_client([info["pc_scope"]])
    assert result["error"] == "invalid_client" and "AADSTS7000215" in result["error_description"]
    other = msal.ConfidentialClientApplication(
        "00000000-0000-4000-8000-000000000000",
        client_credential=info["client_secret"],
        authority=info["authority"],
        instance_discovery=False,
        http_client=https_session(info),
    )
    assert other.acquire_token_for_client([info["pc_scope"]])["error"] == "invalid_client"


def test_wrong_certificate_is_refused(info: dict[str, Any], tmp_path) -> None:
    from recon.sandbox.tls import generate

    stranger = generate(tmp_path / "other").client_pem.read_text()
    cert = stranger[: stranger.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    result = msal_app(info, {"private_key": stranger, "public_certificate": cert}).acquire_token_for_client(
        [info["pc_scope"]]
    )
    assert result["error"] == "invalid_client"


def test_msal_device_code_flow(info: dict[str, Any]) -> None:
    app = msal.PublicClientApplication(
        info["client_id"],
        authority=info["authority"],
        instance_discovery=False,
        http_client=https_session(info),
    )
    scope = "https://api.partnercenter.microsoft.com/user_impersonation"
    flow = app.initiate_device_flow([scope])
    assert "user_code" in flow, flow
    result = app.acquire_token_by_device_flow(flow)
    assert result.get("access_token"), result
    resp = https_session(info).get(
        info["pc_base_url"] + "/v1/invoices", headers={"Authorization": f"Bearer {result['access_token']}"}
    )
    assert resp.status_code == 200


def test_401_without_or_with_a_bad_token(info: dict[str, Any]) -> None:
    session = https_session(info)
    for headers in ({}, {"Authorization": "Bearer nope"}):
        resp = session.get(info["pc_base_url"] + "/v1/invoices", headers=headers)
        assert resp.status_code == 401
        assert set(resp.json()) == {"code", "description", "data", "source"}
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    graph = msal_app(info, info["client_secret"]).acquire_token_for_client([info["graph_scope"]])
    resp = session.get(
        info["pc_base_url"] + "/v1/invoices", headers={"Authorization": f"Bearer {graph['access_token']}"}
    )
    assert resp.status_code == 401


def test_expired_token_is_refused(tmp_path) -> None:
    with SandboxServer(tmp_path, seed=3, switches={"token_lifetime_s": "1"}) as server:
        info = server.info
        token = msal_app(info, info["client_secret"]).acquire_token_for_client([info["pc_scope"]])["access_token"]
        server.state.tokens.tokens[token].expires_at -= 5
        resp = https_session(info).get(
            info["pc_base_url"] + "/v1/invoices", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status_code == 401 and "expired" in resp.json()["description"]


def test_date_header_is_the_sandbox_clock(http: requests.Session, info: dict[str, Any]) -> None:
    resp = http.get(info["pc_base_url"] + "/v1/invoices")
    assert resp.headers["Date"] == "Mon, 10 Nov 2025 12:00:00 GMT"
    assert "ms-requestid" in resp.headers


def test_invoice_collection_and_by_id(http: requests.Session, info: dict[str, Any], sandbox: SandboxServer) -> None:
    body = get(http, info, "/v1/invoices")
    assert body["attributes"] == {"objectType": "Collection"}
    assert body["totalCount"] == len(body["items"]) == 3 + len(sandbox.state.world.documents)
    assert body["links"]["self"]["uri"] == "/invoices"
    monthly = {inv["id"] for inv in sandbox.state.world.invoices}  # documents: test_documents.py
    for item in [i for i in body["items"] if i["id"] in monthly]:
        assert item["attributes"] == {"objectType": "Invoice"} and item["documentType"] == "invoice"
        assert item["invoiceType"] == "OneTime" and item["currencyCode"] == "EUR"
        assert isinstance(item["totalCharges"], Decimal)
        detail = item["invoiceDetails"][0]
        assert (detail["invoiceLineItemType"], detail["billingProvider"]) == (
            "billing_line_items",
            "one_time",
        )
        one = get(http, info, f"/v1/invoices/{item['id']}")
        assert one == item
    raw = http.get(info["pc_base_url"] + "/v1/invoices").text
    for inv in sandbox.state.world.invoices:
        assert f'"totalCharges":{inv["totalCharges"]}' in raw  # exact decimal text, no float repr
    missing = http.get(info["pc_base_url"] + "/v1/invoices/G000000000")
    assert missing.status_code == 404 and set(missing.json()) == {"code", "description", "data", "source"}


def test_summaries_balance(http: requests.Session, info: dict[str, Any]) -> None:
    invoices = get(http, info, "/v1/invoices")["items"]
    body = get(http, info, "/v1/invoices/summaries")
    (summary,) = body["items"]
    assert summary["currencyCode"] == "EUR"
    assert summary["balanceAmount"] == sum(i["totalCharges"] + i["paidAmount"] for i in invoices)
    assert summary["details"][0]["invoiceType"] == "OneTime"


def walk(http: requests.Session, info: dict[str, Any], first: str, min_pages: int = 4) -> list[dict[str, Any]]:
    """Follow links.next with the MS-ContinuationToken header until the last page."""
    body = get(http, info, first)
    items, pages = list(body["items"]), 1
    while "next" in body["links"]:
        nxt = body["links"]["next"]
        assert nxt["uri"].endswith("seekOperation=Next") and not nxt["uri"].startswith("/v1")
        headers = {h["key"]: h["value"] for h in nxt["headers"]}
        assert headers["MS-ContinuationToken"] == body["continuationToken"]
        body = get(http, info, "/v1" + nxt["uri"], headers=headers)
        assert body["totalCount"] == len(body["items"]) <= 2
        items += body["items"]
        pages += 1
    assert "continuationToken" not in body
    assert pages >= min_pages
    return items


@pytest.mark.parametrize(
    "style",
    [
        "/v1/invoices/{id}/lineitems?provider=onetime&invoicelineitemtype=billinglineitems&size=2",
        "/v1/invoices/{id}/lineitems?Provider=OneTime&InvoiceLineItemType=BillingLineItems&Size=2",
        "/v1/invoices/{id}/lineitems/OneTime/BillingLineItems?size=2",
        "/v1/invoices/{id}/lineitems/onetime/billinglineitems?size=2",
    ],
)
def test_line_item_paging_returns_every_line_once(
    http: requests.Session, info: dict[str, Any], sandbox: SandboxServer, style: str
) -> None:
    world = sandbox.state.world
    inv = world.invoices[0]
    items = walk(http, info, style.format(id=inv["id"]))
    expected = world.line_page(inv["id"], 0, 10**6)
    assert len(items) == len(expected) == world.line_count(inv["id"])
    assert items == loads(dumps(expected))
    assert all(list(item) == LINE_FIELDS for item in items)


def test_default_page_is_all_lines_of_a_tiny_invoice(
    http: requests.Session, info: dict[str, Any], sandbox: SandboxServer
) -> None:
    inv = sandbox.state.world.invoices[1]
    body = get(
        http,
        info,
        f"/v1/invoices/{inv['id']}/lineitems?provider=onetime&invoicelineitemtype=billinglineitems",
    )
    assert body["totalCount"] == sandbox.state.world.line_count(inv["id"]) and "next" not in body["links"]
    assert sum(i["totalForCustomer"] for i in body["items"]) == inv["totalCharges"] or any(
        c["kind"] == "invoice_total_off" and c["invoice_number"] == inv["id"] for c in sandbox.state.world.answer_key
    )


def test_bad_continuation_tokens_are_refused(
    http: requests.Session, info: dict[str, Any], sandbox: SandboxServer
) -> None:
    a, b = sandbox.state.world.invoices[:2]
    base = info["pc_base_url"] + "/v1/invoices/{}/lineitems?provider=onetime&invoicelineitemtype=billinglineitems"
    first = http.get(base.format(a["id"]) + "&size=2").json()
    token = first["continuationToken"]
    no_header = http.get(base.format(a["id"]) + "&size=2&seekOperation=Next")
    foreign = http.get(base.format(b["id"]) + "&size=2&seekOperation=Next", headers={"MS-ContinuationToken": token})
    garbage = http.get(base.format(a["id"]) + "&size=2&seekOperation=Next", headers={"MS-ContinuationToken": "xx"})
    for resp in (no_header, foreign, garbage):
        assert resp.status_code == 400 and set(resp.json()) == {"code", "description", "data", "source"}


def test_admin_api(
    admin: requests.Session, http: requests.Session, info: dict[str, Any], sandbox: SandboxServer
) -> None:
    base = info["admin_url"]
    assert https_session(info).get(base + "/answer-key").status_code == 401
    key = admin.get(base + "/answer-key").json()
    assert key and {"invoice_total_off"} <= {c["kind"] for c in key}
    http.get(info["pc_base_url"] + "/v1/invoices?size=5", headers={"MS-RequestId": "req-1"})
    log = admin.get(base + "/requests").json()
    last = [e for e in log if e["path"] == "/v1/invoices" and e["query"] == "size=5"][-1]
    assert last["method"] == "GET" and last["headers"]["ms-requestid"] == "req-1"
    assert last["headers"]["authorization"] == "Bearer <redacted>" and last["status"] == 200
    tokens = [e for e in log if e["path"].endswith("/oauth2/v2.0/token")]
    assert tokens and all("client_secret" not in e.get("form", {}) for e in tokens)
    assert info["client_secret"] not in json.dumps(log) and info["admin_token"] not in json.dumps(log)
    moved = admin.post(base + "/clock/advance", json={"days": 31}).json()
    assert moved["today"] == "2025-12-11" and len(moved["invoices"]) == 4
    assert http.get(info["pc_base_url"] + "/v1/invoices").headers["Date"] == "Thu, 11 Dec 2025 12:00:00 GMT"
    assert admin.post(base + "/clock/advance", json={"days": "x"}).status_code == 400
    assert admin.post(base + "/reset").json() == {"today": "2025-11-10"}
    assert admin.get(base + "/requests").json() == []
    items = get(http, info, "/v1/invoices")["items"]
    assert len([i for i in items if (i["documentType"], i["invoiceType"]) == ("invoice", "OneTime")]) == 3


def test_429_fault_with_retry_after(tmp_path) -> None:
    with SandboxServer(tmp_path, faults=["429:1.0:2@invoices"]) as server:
        info = server.info
        token = msal_app(info, info["client_secret"]).acquire_token_for_client([info["pc_scope"]])["access_token"]
        resp = https_session(info).get(
            info["pc_base_url"] + "/v1/invoices", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
        assert resp.json() == {
            "statusCode": 429,
            "message": "Rate limit is exceeded. Try again in 2 seconds.",
        }


def test_unbilled_line_items_current_period(
    http: requests.Session, info: dict[str, Any], sandbox: SandboxServer
) -> None:
    world = sandbox.state.world
    expected = world.render_unbilled(world.unbilled_rows(world.today.replace(day=1)), 0, 10**6)
    assert len(expected) >= 2
    uri = "/v1/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=billinglineitems&currencycode=eur"
    assert walk(http, info, uri + "&period=current&size=1", min_pages=2) == loads(dumps(expected))
    previous = get(http, info, uri + "&period=previous")
    assert previous["totalCount"] == 0 and previous["items"] == []
    missing = http.get(info["pc_base_url"] + uri.replace("&currencycode=eur", "") + "&period=current")
    assert missing.status_code == 400


def test_same_seed_gives_byte_identical_responses(tmp_path) -> None:
    bodies = []
    for name in ("a", "b"):
        with SandboxServer(tmp_path / name, seed=11) as server:
            session = https_session(server.info)
            token = msal_app(server.info, server.info["client_secret"]).acquire_token_for_client(
                [server.info["pc_scope"]]
            )["access_token"]
            session.headers["Authorization"] = f"Bearer {token}"
            base = server.info["pc_base_url"]
            first = session.get(base + "/v1/invoices")
            inv = first.json()["items"][0]["id"]
            page = session.get(base + f"/v1/invoices/{inv}/lineitems/OneTime/BillingLineItems?size=3")
            bodies.append((first.content, page.content, first.headers["Date"]))
    assert bodies[0] == bodies[1]


def test_statement_pdf(http: requests.Session, info: dict[str, Any], sandbox: SandboxServer) -> None:
    inv = sandbox.state.world.invoices[0]
    item = get(http, info, f"/v1/invoices/{inv['id']}")
    resp = http.get(info["pc_base_url"] + "/v1" + item["pdfDownloadLink"], headers={"Accept": "application/pdf"})
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/pdf"
    assert resp.headers["content-disposition"] == f"attachment; filename=Invoice_{inv['id']}.pdf"
    pdf = resp.content
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert inv["id"].encode() in pdf and f"Total charges {inv['totalCharges']} EUR".encode() in pdf
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[xref:].startswith(b"xref")
    offsets = [int(row[:10]) for row in pdf[xref:].split(b"\n")[3:8]]
    assert all(pdf[o:].startswith(f"{n} 0 obj".encode()) for n, o in enumerate(offsets, start=1))
