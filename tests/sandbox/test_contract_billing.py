"""Billing contracts over HTTPS: every v1 billing resource and the v2 export resources validated item by item
against JSON Schemas (tests/sandbox/schemas) written from billing.md's field lists, with the documented quirks:
attributes.objectType on every resource, totalCount = items on the page, relative links without /v1, the
continuation token in the body and in links.next (MS-ContinuationToken header, seekOperation=Next)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from .helpers import https_session, msal_app

pytestmark = pytest.mark.slow
SCHEMAS = Path(__file__).parent / "schemas"
BILLING = "/reports/partners/billing"
PAGE = 20  # small pages: two per listing are walked


@cache
def schema(name: str) -> dict[str, Any]:
    """tests/sandbox/schemas/<name>.json."""
    return json.loads((SCHEMAS / f"{name}.json").read_text())  # type: ignore[no-any-return]


@cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    """A compiled validator for one schema (checked once against the metaschema)."""
    jsonschema.Draft202012Validator.check_schema(schema(name))
    return jsonschema.Draft202012Validator(schema(name))


def check(name: str, value: Any) -> None:
    """Validate `value` against tests/sandbox/schemas/<name>.json."""
    validator(name).validate(value)


def object_types(value: Any) -> Iterator[str]:
    """Every attributes.objectType in a JSON value, at any depth."""
    if isinstance(value, dict):
        if "attributes" in value:
            yield value["attributes"]["objectType"]
        for v in value.values():
            yield from object_types(v)
    elif isinstance(value, list):
        for v in value:
            yield from object_types(v)


class Billing:
    """Partner Center and Graph sessions of the module's sandbox."""

    def __init__(self, http: requests.Session, info: dict[str, Any]):
        self.http, self.info = http, info
        self.base = info["pc_base_url"] + "/v1"
        token = msal_app(info, info["client_secret"]).acquire_token_for_client([info["graph_scope"]])
        self.graph = https_session(info)
        self.graph.headers["Authorization"] = "Bearer " + token["access_token"]
        self.admin = https_session(info)
        self.admin.headers["Authorization"] = "Bearer " + info["admin_token"]

    def get(self, uri: str, headers: dict[str, str] | None = None, status: int = 200) -> Any:
        resp = self.http.get(self.base + uri, headers=headers)
        assert resp.status_code == status, resp.text
        return resp.json(parse_float=Decimal)

    def pages(self, uri: str, count: int = 2) -> list[dict[str, Any]]:
        """The first `count` pages of a seek-paged listing, each checked against the envelope's quirks."""
        out = [self.get(uri)]
        while len(out) < count and "next" in out[-1]["links"]:
            nxt = out[-1]["links"]["next"]
            assert nxt["headers"] == [{"key": "MS-ContinuationToken", "value": out[-1]["continuationToken"]}]
            assert nxt["uri"].endswith("&seekOperation=Next") and not nxt["uri"].startswith("/v1")
            assert self.http.get(self.base + nxt["uri"]).status_code == 400  # the token only travels as a header
            out.append(self.get(nxt["uri"], headers={"MS-ContinuationToken": out[-1]["continuationToken"]}))
        for page in out:
            check("seek_page", json_plain(page))
            assert page["totalCount"] == len(page["items"]) > 0
            assert page["attributes"] == {"objectType": "Collection"}
        return out

    def export(self, what: str, body: dict[str, Any]) -> dict[str, Any]:
        """Start an export and poll it until it is no longer running; every poll answer is checked."""
        resp = self.graph.post(self.info["graph_base_url"] + f"{BILLING}/{what}/export", json=body)
        assert resp.status_code == 202 and resp.content == b"", resp.text
        location = resp.headers["Location"]
        assert location.startswith(self.info["graph_base_url"] + f"{BILLING}/operations/")
        for _ in range(5):  # polls are counted, not timed: no need to wait Retry-After here
            poll = self.graph.get(location)
            assert poll.status_code == 200, poll.text
            op = poll.json()
            check("export_operation", op)
            if op["status"] != "running":
                assert "Retry-After" not in poll.headers
                return op  # type: ignore[no-any-return]
            assert int(poll.headers["Retry-After"]) >= 0
        raise AssertionError("the export never finished")

    def rows(self, manifest: dict[str, Any]) -> list[dict[str, Any]]:
        """Every row of every blob a manifest lists (gzip JSON lines)."""
        out = []
        for blob in manifest["blobs"]:
            resp = self.http.get(f"{manifest['rootDirectory']}/{blob['name']}?{manifest['sasToken']}")
            assert resp.status_code == 200, resp.text
            lines = gzip.decompress(resp.content).decode().splitlines()
            assert len(lines) == blob["itemCount"]
            out += [json.loads(line, parse_float=Decimal) for line in lines]
        return out


def json_plain(value: Any) -> Any:
    """A JSON value with Decimals as JSON numbers (jsonschema's `number` accepts float, not Decimal)."""
    return json.loads(json.dumps(value, default=float))


@pytest.fixture(scope="module")
def api(http: requests.Session, info: dict[str, Any]) -> Billing:
    return Billing(http, info)


@pytest.fixture(scope="module")
def invoices(api: Billing) -> list[dict[str, Any]]:
    """The invoice collection's items (checked once here)."""
    body = api.get("/invoices")
    check("collection", json_plain(body))
    assert body["totalCount"] == len(body["items"]) > 0
    return body["items"]  # type: ignore[no-any-return]


def _modern(invoices: list[dict[str, Any]]) -> dict[str, Any]:
    """The newest new-commerce invoice (documentType invoice, invoiceType OneTime)."""
    return next(i for i in invoices if i["documentType"] == "invoice" and i["invoiceType"] == "OneTime")


def test_invoice_collection_and_invoice_by_id(api: Billing, invoices: list[dict[str, Any]]) -> None:
    for inv in invoices:
        check("invoice", json_plain(inv))
        assert set(object_types(inv)) == {"Invoice", "InvoiceDetail"}
        one = api.get(inv["links"]["self"]["uri"])
        check("invoice", json_plain(one))
        assert one == inv
        for detail in inv["invoiceDetails"]:  # every detail's line-item link answers a collection
            page = api.get(detail["links"]["self"]["uri"] + "?size=1")
            assert page["totalCount"] == len(page["items"]) <= 1
    kinds = {(i["documentType"], i["invoiceType"]) for i in invoices}
    assert kinds == {("invoice", "OneTime"), ("adjustment_note", "OneTime"), ("invoice", "Recurring")}
    note = next(i for i in invoices if i["documentType"] == "adjustment_note")
    amended = next(i for i in invoices if i["id"] == note["amendsOf"])
    assert [a["id"] for a in amended["amendments"]] == [note["id"]]
    dates = [i["invoiceDate"] for i in invoices]
    assert dates == sorted(dates, reverse=True)  # newest first
    missing = api.get("/invoices/G099999999", status=404)
    assert set(missing) == {"code", "description", "data", "source"} and "G099999999" in missing["description"]


def test_invoice_summaries(api: Billing, invoices: list[dict[str, Any]]) -> None:
    body = api.get("/invoices/summaries")
    check("collection", json_plain(body))
    assert body["totalCount"] == len(body["items"]) == 1
    (summary,) = body["items"]
    check("invoice_summary", json_plain(summary))
    assert set(object_types(summary)) == {"InvoiceSummary"}
    assert summary["balanceAmount"] == sum(i["totalCharges"] + i["paidAmount"] for i in invoices)
    by_type = {d["invoiceType"]: d["summary"]["balanceAmount"] for d in summary["details"]}
    assert set(by_type) == {"OneTime", "Recurring"} and sum(by_type.values()) == summary["balanceAmount"]


def test_estimate_links_each_answer_a_page(api: Billing) -> None:
    body = api.get("/invoices/estimates/links?currencycode=EUR")
    check("estimate_links", json_plain(body))
    assert body["totalCount"] == len(body["items"]) == 4 and "links" not in body
    assert {(e["type"], e["period"]) for e in body["items"]} == {
        (t, p) for t in ("daily_rated_usage", "non_consumption") for p in ("Current", "Previous")
    }
    for est in body["items"]:
        uri = est["link"]["uri"]
        assert "size=2000" in uri
        page = api.get(uri.replace("size=2000", f"size={PAGE}"))
        check("seek_page", json_plain(page))
        assert page["totalCount"] == len(page["items"])
        item = "daily_rated_usage_line_item" if est["type"] == "daily_rated_usage" else "onetime_line_item"
        for line in page["items"]:
            check(item, json_plain(line))


@pytest.mark.parametrize(
    "style", ["?provider=onetime&invoicelineitemtype=billinglineitems&", "/OneTime/BillingLineItems?"]
)
def test_billed_reconciliation_line_items(api: Billing, invoices: list[dict[str, Any]], style: str) -> None:
    inv = _modern(invoices)
    pages = api.pages(f"/invoices/{inv['id']}/lineitems{style}size={PAGE}")
    assert len(pages) == 2 and pages[0]["items"] != pages[1]["items"]
    for line in (ln for p in pages for ln in p["items"]):
        check("onetime_line_item", json_plain(line))
        assert line["invoiceNumber"] == inv["id"] and line["billingFrequency"] in ("Monthly", "Annual", "")


def test_unbilled_reconciliation_line_items(api: Billing) -> None:
    query = "provider=onetime&invoicelineitemtype=billinglineitems&currencycode=EUR&period=current"
    pages = api.pages(f"/invoices/unbilled/lineitems?{query}&size={PAGE}")
    for line in (ln for p in pages for ln in p["items"]):
        check("onetime_line_item", json_plain(line))
        assert line["invoiceNumber"] == "" and line["billingFrequency"] == ""


def test_billed_and_unbilled_daily_rated_usage(api: Billing, invoices: list[dict[str, Any]]) -> None:
    inv = _modern(invoices)
    billed = api.pages(
        f"/invoices/{inv['id']}/lineitems?provider=onetime&invoicelineitemtype=usagelineitems"
        f"&currencycode=EUR&period=previous&size={PAGE}"
    )
    unbilled = api.pages(
        f"/invoices/unbilled/lineitems/OneTime/UsageLineItems?currencycode=EUR&period=current&size={PAGE}"
    )
    for pages, number in ((billed, inv["id"]), (unbilled, "")):
        for row in (r for p in pages for r in p["items"]):
            check("daily_rated_usage_line_item", json_plain(row))
            assert row["invoiceNumber"] == number and row["billingProvider"] == "marketplace"
            assert row["hasPartnerEarnedCredit"] == (row["rateOfPartnerEarnedCredit"] > 0)
            assert all(isinstance(json.loads(row[k] or "{}"), dict) for k in ("tags", "additionalInfo"))
    assert all(r["resellerMpnId"] == "" for p in unbilled for r in p["items"])


def _v2_rows(api: Billing, invoice: str, style: str) -> None:
    exports = (  # the current month's usage: a third of a month's rows keeps the validation cheap
        ("reconciliation/billed", {"invoiceId": invoice, "attributeSet": "full"}, "reconciliation_row"),
        ("usage/unbilled", {"currencyCode": "EUR", "billingPeriod": "current", "attributeSet": "full"}, "usage_row"),
    )
    for what, body, table in exports:
        op = api.export(what, body)
        assert op["status"] == "succeeded"
        manifest = op["resourceLocation"]
        check("manifest", manifest)
        fetched = api.graph.get(api.info["graph_base_url"] + f"{BILLING}/manifests/{manifest['id']}").json()
        check("manifest", fetched)
        assert {k: v for k, v in fetched.items() if k != "@odata.context"} == manifest
        assert manifest["blobCount"] == len(manifest["blobs"]) > 0
        rows = api.rows(manifest)
        assert len(rows) == sum(b["itemCount"] for b in manifest["blobs"]) > 0
        name = f"{table}_{style}"
        columns = schema(name)["required"]
        for row in rows:
            check(name, json_plain(row))
            assert list(row) == columns  # billing.md §5.4's column order


def test_v2_export_operations_manifests_and_blob_rows_in_both_key_styles(
    api: Billing, invoices: list[dict[str, Any]]
) -> None:
    invoice = _modern(invoices)["id"]
    _v2_rows(api, invoice, "pascal")
    switches = api.info["admin_url"] + "/switches"
    assert api.admin.put(switches, json={"v2_key_style": "camel"}).status_code == 200
    try:
        _v2_rows(api, invoice, "camel")
    finally:
        assert api.admin.put(switches, json={"v2_key_style": "pascal"}).status_code == 200
    legacy = next(i for i in invoices if i["invoiceType"] == "Recurring")
    failed = api.export("reconciliation/billed", {"invoiceId": legacy["id"]})
    assert failed["status"] == "failed" and failed["error"]["code"] == "5000"
    assert legacy["id"] in failed["error"]["message"]
