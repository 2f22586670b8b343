"""Graph v2 exports and v1 usage over HTTPS: the export flow, v1 = v2 per unit, blobs, faults, documents."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from recon.sandbox import SandboxServer
from recon.sandbox.exports import RECON_V2, USAGE_V2
from recon.sandbox.jsonenc import loads

from .helpers import https_session, msal_app

pytestmark = pytest.mark.slow
BILLING = "/reports/partners/billing"


class Client:
    """PC and Graph sessions plus the admin session of one sandbox."""

    def __init__(self, server: SandboxServer):
        self.server, self.info = server, server.info
        info = self.info
        self.pc, self.graph, self.admin = https_session(info), https_session(info), https_session(info)
        app = msal_app(info, info["client_secret"])
        self.pc.headers["Authorization"] = "Bearer " + app.acquire_token_for_client([info["pc_scope"]])["access_token"]
        graph_token = app.acquire_token_for_client([info["graph_scope"]])["access_token"]
        self.graph.headers["Authorization"] = "Bearer " + graph_token
        self.admin.headers["Authorization"] = "Bearer " + info["admin_token"]

    def v1(self, uri: str) -> Any:
        resp = self.pc.get(self.info["pc_base_url"] + "/v1" + uri)
        assert resp.status_code == 200, resp.text
        return loads(resp.content)

    def v1_all(self, uri: str) -> list[dict[str, Any]]:
        """Every item of a seek-paged v1 listing."""
        body = self.v1(uri)
        items = list(body["items"])
        while "next" in body["links"]:
            nxt = body["links"]["next"]
            headers = {h["key"]: h["value"] for h in nxt["headers"]}
            resp = self.pc.get(self.info["pc_base_url"] + "/v1" + nxt["uri"], headers=headers)
            assert resp.status_code == 200, resp.text
            body = loads(resp.content)
            items += body["items"]
        return items

    def switches(self, **values: str) -> None:
        assert self.admin.put(self.info["admin_url"] + "/switches", json=values).status_code == 200

    def start(self, what: str, body: dict[str, Any]) -> str:
        resp = self.graph.post(self.info["graph_base_url"] + f"{BILLING}/{what}/export", json=body)
        assert resp.status_code == 202 and resp.content == b"", resp.text
        return resp.headers["Location"]

    def finish(self, location: str) -> dict[str, Any]:
        """Poll an operation honouring Retry-After until it is no longer running."""
        for _ in range(10):
            resp = self.graph.get(location)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            if body["status"] != "running":
                return body
            assert body["@odata.type"].endswith("runningOperation") and int(resp.headers["Retry-After"]) >= 0
            time.sleep(int(resp.headers["Retry-After"]))
        raise AssertionError("the operation never finished")

    def blobs(self, manifest: dict[str, Any]) -> list[bytes]:
        out = []
        for b in manifest["blobs"]:
            resp = self.pc.get(f"{manifest['rootDirectory']}/{b['name']}?{manifest['sasToken']}")
            assert resp.status_code == 200
            out.append(resp.content)
        return out

    def export_rows(self, what: str, body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        op = self.finish(self.start(what, body))
        assert op["status"] == "succeeded", op
        manifest = op["resourceLocation"]
        rows = []
        for raw in self.blobs(manifest):
            rows += [json.loads(line, parse_float=Decimal) for line in gzip.decompress(raw).decode().splitlines()]
        assert sum(b["itemCount"] for b in manifest["blobs"]) == len(rows)
        return rows, manifest


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with SandboxServer(tmp_path_factory.mktemp("exports"), switches={"export_retry_after_s": "0"}) as server:
        yield Client(server)


def invoices(api: Client) -> list[dict[str, Any]]:
    return [i for i in api.v1("/invoices")["items"] if (i["documentType"], i["invoiceType"]) == ("invoice", "OneTime")]


def recon_key(row: dict[str, Any], pascal: bool) -> tuple[Any, ...]:
    names = ("SubscriptionId", "ChargeType", "Subtotal", "Total", "BillableQuantity", "ChargeStartDate")
    if not pascal:
        names = ("subscriptionId", "chargeType", "subtotal", "totalForCustomer", "billableQuantity", "chargeStartDate")
    return tuple(row[n] for n in names)


@pytest.mark.parametrize("style", ["pascal", "camel"])
def test_v1_and_v2_serve_the_same_lines(api: Client, style: str) -> None:
    api.switches(v2_key_style=style, export_rows_per_blob="40")
    pascal = style == "pascal"
    recon_names = [p if pascal else c for p, c in RECON_V2]
    usage_names = [p if pascal else c for p, c, _ in USAGE_V2]
    units = [("billed", inv["id"], inv["currencyCode"]) for inv in invoices(api)]
    units += [("unbilled", "current", "EUR")]
    several = False
    for kind, unit, currency in units:
        if kind == "billed":
            v1_recon = api.v1_all(
                f"/invoices/{unit}/lineitems?provider=onetime&invoicelineitemtype=billinglineitems&size=500"
            )
            v1_usage = api.v1_all(
                f"/invoices/{unit}/lineitems?provider=onetime&invoicelineitemtype=usagelineitems"
                f"&currencycode={currency}&period=previous&size=2000"
            )
            body: dict[str, Any] = {"invoiceId": unit, "attributeSet": "full"}
        else:
            q = f"currencycode={currency}&period={unit}&size=700"
            v1_recon = api.v1_all(
                f"/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=billinglineitems&{q}"
            )
            v1_usage = api.v1_all(
                f"/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=usagelineitems&{q}"
            )
            body = {"currencyCode": currency, "billingPeriod": "current", "attributeSet": "full"}
        v2_recon, manifest = api.export_rows("reconciliation/" + kind, body)
        v2_usage, _ = api.export_rows("usage/" + kind, body)
        several = several or manifest["blobCount"] > 1
        assert v1_recon and v1_usage
        assert len(v2_recon) == len(v1_recon) and len(v2_usage) == len(v1_usage)
        assert all(list(r) == recon_names for r in v2_recon) and all(list(r) == usage_names for r in v2_usage)
        total = "Total" if pascal else "totalForCustomer"
        assert sum(r[total] for r in v2_recon) == sum(r["totalForCustomer"] for r in v1_recon)
        assert Counter(recon_key(r, pascal) for r in v2_recon) == Counter(recon_key(r, False) for r in v1_recon)
        billing = "BillingPreTaxTotal" if pascal else "billingPreTaxTotal"
        assert sum(r[billing] for r in v2_usage) == sum(r["billingPreTaxTotal"] for r in v1_usage)
        if not pascal:  # camel: the v1 names and values, field for field
            assert v2_recon == [{k: r[k] for k in recon_names} for r in v1_recon]
            assert v2_usage == [{k: r[k] for k in usage_names} for r in v1_usage]
        else:
            pec = [r["PartnerEarnedCreditPercentage"] for r in v2_usage]
            assert set(pec) <= {0, 15} and [Decimal(p) / 100 for p in pec] == [
                r["rateOfPartnerEarnedCredit"] for r in v1_usage
            ]
        if kind == "billed":
            inv = api.v1(f"/invoices/{unit}")
            assert sum(r[total] for r in v2_recon) == inv["totalCharges"] or any(
                k["kind"] == "invoice_total_off" and k["invoice_number"] == unit
                for k in api.admin.get(api.info["admin_url"] + "/answer-key").json()
            )
    assert several
    api.switches(v2_key_style="pascal", export_rows_per_blob="50000")


def test_export_flow_retry_after_manifest_link_sig_and_expiry(api: Client) -> None:
    api.switches(export_polls="2", export_retry_after_s="1", manifest="link", export_ttl_polls="5")
    inv = invoices(api)[0]["id"]
    location = api.start("reconciliation/billed", {"invoiceId": inv})
    assert location.startswith(api.info["graph_base_url"] + f"{BILLING}/operations/")
    polls = [api.graph.get(location) for _ in range(3)]
    assert [p.json()["status"] for p in polls] == ["running", "running", "succeeded"]
    assert polls[0].headers["Retry-After"] == "1" and "Retry-After" not in polls[2].headers
    done = polls[2].json()
    assert done["@odata.type"] == "#microsoft.graph.partners.billing.exportSuccessOperation"
    assert "resourceLocation" not in done
    link = done["resourceLocation@odata.navigationLink"]
    manifest = api.graph.get(link).json()
    assert manifest["id"] == link.rsplit("/", 1)[1] and manifest["dataFormat"] == "compressedJSONLines"
    assert manifest["rootDirectory"].startswith(api.info["pc_base_url"] + "/blobs/")
    assert manifest["blobCount"] == len(manifest["blobs"]) >= 1 and manifest["partnerTenantId"] == api.info["tenant_id"]
    url = f"{manifest['rootDirectory']}/{manifest['blobs'][0]['name']}"
    good = api.pc.get(f"{url}?{manifest['sasToken']}")
    assert good.status_code == 200 and gzip.decompress(good.content)
    forged = manifest["sasToken"].replace("sig=", "sig=AAAA")
    for query in (forged, manifest["sasToken"].split("&sig=")[0], ""):
        bad = api.pc.get(f"{url}?{query}")
        assert bad.status_code == 403 and b"AuthenticationFailed" in bad.content
    assert api.pc.get(f"{manifest['rootDirectory']}/nope.json.gz?{manifest['sasToken']}").status_code == 404
    assert api.graph.get(location).status_code == 200  # poll 4
    assert api.graph.get(location).status_code == 200  # poll 5
    gone = api.graph.get(location)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "Gone"
    assert api.graph.get(link).status_code == 410
    assert api.pc.get(f"{url}?{manifest['sasToken']}").status_code == 403
    api.switches(export_polls="1", export_retry_after_s="0", manifest="inline", export_ttl_polls="100")


def test_legacy_invoice_is_v1_only_and_v2_fails_5000(api: Client) -> None:
    items = api.v1("/invoices")["items"]
    legacy = next(i for i in items if i["invoiceType"] == "Recurring")
    assert legacy["id"].startswith("D") and legacy["billingPeriodStartDate"].startswith("2024-01-01")
    assert legacy["invoiceDetails"][0]["billingProvider"] == "office"
    first = api.v1(f"/invoices/{legacy['id']}/lineitems?provider=office&invoicelineitemtype=billinglineitems&size=4")
    lines = list(first["items"])
    body = first
    while "next" in body["links"]:
        body = api.v1(body["links"]["next"]["uri"])
        lines += body["items"]
    assert lines and all(ln["attributes"] == {"objectType": "LicenseBasedLineItem"} for ln in lines)
    assert sum(ln["totalForCustomer"] for ln in lines) == legacy["totalCharges"]
    onetime = api.v1(f"/invoices/{legacy['id']}/lineitems?provider=onetime&invoicelineitemtype=billinglineitems")
    assert onetime["items"] == []
    for what in ("reconciliation/billed", "usage/billed"):
        op = api.finish(api.start(what, {"invoiceId": legacy["id"], "attributeSet": "full"}))
        assert op["status"] == "failed" and op["@odata.type"].endswith("failedOperation")
        assert op["error"]["code"] == "5000" and legacy["id"] in op["error"]["message"]
    missing = api.graph.post(api.info["graph_base_url"] + f"{BILLING}/usage/billed/export", json={"invoiceId": "G0"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"
    bad = api.graph.post(api.info["graph_base_url"] + f"{BILLING}/usage/unbilled/export", json={"currencyCode": "EUR"})
    assert bad.status_code == 400


def test_credit_note_and_summaries(api: Client) -> None:
    items = api.v1("/invoices")["items"]
    note = next(i for i in items if i["documentType"] == "adjustment_note")
    amended = api.v1(f"/invoices/{note['amendsOf']}")
    assert [a["id"] for a in amended["amendments"]] == [note["id"]]
    lines = api.v1_all(f"/invoices/{note['id']}/lineitems?provider=onetime&invoicelineitemtype=billinglineitems")
    assert sum(ln["totalForCustomer"] for ln in lines) == note["totalCharges"] < 0
    rows, _ = api.export_rows("reconciliation/billed", {"invoiceId": note["id"]})
    assert sum(r["Total"] for r in rows) == note["totalCharges"] and {r["ChargeType"] for r in rows} == {
        "customerCredit"
    }
    summary = api.v1("/invoices/summaries")["items"][0]
    assert summary["balanceAmount"] == sum(i["totalCharges"] + i["paidAmount"] for i in items)
    assert {d["invoiceType"] for d in summary["details"]} == {"OneTime", "Recurring"}


def test_v1_usage_paging_and_estimate_links(api: Client) -> None:
    inv = invoices(api)[-1]
    uri = f"/invoices/{inv['id']}/lineitems?provider=OneTime&invoiceLineItemType=UsageLineItems"
    uri += "&currencyCode=eur&period=previous"
    everything = api.v1_all(uri + "&size=2000")
    paged = api.v1_all(uri + "&size=333")
    assert paged == everything and len(everything) > 333
    assert all(r["billingProvider"] == "marketplace" and r["invoiceNumber"] == inv["id"] for r in everything)
    pec = api.v1_all(uri + "&hasPartnerEarnedCredit=true")
    assert pec and all(r["hasPartnerEarnedCredit"] for r in pec)
    assert len(pec) == sum(r["hasPartnerEarnedCredit"] for r in everything) < len(everything)
    first = api.v1(uri + "&size=333")
    assert first["totalCount"] == 333 and first["links"]["next"]["uri"].endswith("seekOperation=Next")
    unbilled = api.v1_all(
        "/invoices/unbilled/lineitems?provider=marketplace&invoicelineitemtype=usagelineitems&currencycode=EUR&period=current"
    )
    assert unbilled and all(r["invoiceNumber"] == "" and r["resellerMpnId"] == "" for r in unbilled)
    links = api.v1("/invoices/estimates/links?currencycode=EUR")
    assert links["totalCount"] == 4 and [i["type"] for i in links["items"]].count("daily_rated_usage") == 2
    for item in links["items"]:
        assert api.v1(item["link"]["uri"])["attributes"] == {"objectType": "Collection"}


def test_graph_routes_need_a_graph_token(api: Client) -> None:
    url = api.info["graph_base_url"] + f"{BILLING}/usage/billed/export"
    resp = api.pc.post(url, json={"invoiceId": invoices(api)[0]["id"]})  # a Partner Center token
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert https_session(api.info).get(api.info["graph_base_url"] + f"{BILLING}/operations/x").status_code == 401


@pytest.mark.parametrize("fault", ["multigzip", "bom"])
def test_blob_faults_decode(tmp_path: Path, fault: str) -> None:
    with SandboxServer(tmp_path, faults=[f"{fault}:1.0@blobs"], switches={"export_retry_after_s": "0"}) as server:
        api = Client(server)
        inv = invoices(api)[0]["id"]  # the fault never touches other families
        op = api.finish(api.start("usage/billed", {"invoiceId": inv}))
        raw = api.blobs(op["resourceLocation"])[0]
        text = gzip.decompress(raw)  # reads every member
        if fault == "multigzip":
            assert raw.count(b"\x1f\x8b\x08\x00") >= 2 and not text.startswith(b"\xef\xbb\xbf")
        else:
            assert text.startswith(b"\xef\xbb\xbf")
        rows = [json.loads(line) for line in text.decode("utf-8-sig").splitlines()]
        v1 = api.v1_all(
            f"/invoices/{inv}/lineitems?provider=onetime&invoicelineitemtype=usagelineitems&period=previous"
        )
        assert len(rows) == len(v1) and rows[0]["UsageDate"] == v1[0]["usageDate"]
        blob_log = [e for e in server.state.log if e["path"].startswith("/blobs/")]
        assert blob_log and all(e["fault"].startswith(fault) for e in blob_log)
        assert not [e for e in server.state.log if "fault" in e and not e["path"].startswith("/blobs/")]


def test_basic_attribute_set_and_unknown_operation(api: Client) -> None:
    inv = invoices(api)[0]["id"]
    rows, _ = api.export_rows("usage/billed", {"invoiceId": inv, "attributeSet": "basic"})
    assert list(rows[0]) == [p for p, _, basic in USAGE_V2 if basic]
    missing = api.graph.get(api.info["graph_base_url"] + f"{BILLING}/operations/nope")
    assert missing.status_code == 404


def test_operation_lifetime_in_seconds(api: Client) -> None:
    api.switches(export_ttl_s="1")
    location = api.start("usage/unbilled", {"currencyCode": "EUR", "billingPeriod": "current"})
    assert api.graph.get(location).status_code == 200
    time.sleep(1.2)
    assert api.graph.get(location).status_code == 410
    api.switches(export_ttl_s="3600")
