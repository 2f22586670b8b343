"""Billing v1 routes: invoice collection, invoice by id, summaries, billed reconciliation line items."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from recon.sandbox.catalog import SYMBOLS
from recon.sandbox.documents_api import legacy_line_items, listed_documents
from recon.sandbox.jsonenc import dumps
from recon.sandbox.paging import PagingError, collection, link, lower_query, next_uri, page_size, relative
from recon.sandbox.records import invoice_resource, lines_json
from recon.sandbox.responses import JSON, json_response, pc_error
from recon.sandbox.statement import statement
from recon.sandbox.usage_api import billed_usage, has_billed_usage, unbilled_usage

if TYPE_CHECKING:
    from recon.sandbox.state import SandboxState

_SENTINEL = "0001-01-01T00:00:00"


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _self_uri(request: Request) -> str:
    return relative(request.url.path, request.url.query)


def invoices(request: Request) -> Response:
    """GET /v1/invoices: every invoice, newest first (size/offset only page legacy invoices)."""
    world = _state(request).world
    items = [
        invoice_resource(inv, usage=has_billed_usage(world, inv))
        for inv in sorted(world.invoices, key=lambda i: i["invoiceDate"], reverse=True)
    ]
    docs, nxt = listed_documents(world, lower_query(list(request.query_params.multi_items())))
    items = sorted(items + docs, key=lambda i: i["invoiceDate"], reverse=True)
    return json_response(collection(items, _self_uri(request), nxt))


def invoice_by_id(request: Request) -> Response:
    """GET /v1/invoices/{id}."""
    world = _state(request).world
    inv = world.invoice(request.path_params["invoice_id"])
    if inv is None:
        return pc_error(404, "1000", f"Invoice {request.path_params['invoice_id']} was not found.")
    return json_response(invoice_resource(inv, usage=has_billed_usage(world, inv)))


def summaries(request: Request) -> Response:
    """GET /v1/invoices/summaries: one InvoiceSummary per currency."""
    world = _state(request).world
    items = []
    docs = [*world.invoices, *world.documents]  # credit notes and legacy invoices count in the balance
    for cur in sorted({i["currency"] for i in docs}):
        invs = sorted((i for i in docs if i["currency"] == cur), key=lambda i: i["invoiceDate"])
        summary = _summary(world.today.isoformat(), cur, invs)
        details = []
        for kind in sorted({i.get("invoiceType", "OneTime") for i in invs}):
            part = [i for i in invs if i.get("invoiceType", "OneTime") == kind]
            detail = dict(_summary(world.today.isoformat(), cur, part), attributes={"objectType": "InvoiceSummary"})
            details.append({"invoiceType": kind, "summary": detail})
        items.append(
            dict(
                summary,
                details=details,
                links={"self": link("/invoices/summary")},
                attributes={"objectType": "InvoiceSummary"},
            )
        )
    return json_response(collection(items, _self_uri(request)))


def _summary(today: str, cur: str, invs: list[dict[str, Any]]) -> dict[str, Any]:
    """InvoiceSummary fields over some documents of one currency (oldest first)."""
    paid = [i for i in invs if i["paidAmount"] != 0]
    return {
        "balanceAmount": sum((i["totalCharges"] + i["paidAmount"] for i in invs), Decimal("0.00")),
        "currencyCode": cur,
        "currencySymbol": SYMBOLS.get(cur, cur),
        "accountingDate": f"{today}T00:00:00",
        "firstInvoiceCreationDate": f"{invs[0]['invoiceDate'].isoformat()}T00:00:00Z",
        "lastPaymentDate": f"{paid[-1]['invoiceDate'].isoformat()}T00:00:00Z" if paid else _SENTINEL,
        "lastPaymentAmount": -paid[-1]["paidAmount"] if paid else Decimal(0),
        "latestInvoiceDate": f"{invs[-1]['invoiceDate'].isoformat()}T00:00:00",
    }


def _paged(request: Request, scope: str, total: int, fetch: Callable[[int, int], bytes]) -> Response:
    """A seek-paged collection: first page, or the page a continuation token names (seekOperation=Next).

    `fetch(offset, size)` returns the page's items as a JSON array; the envelope is written around it.
    """
    state = _state(request)
    items = list(request.query_params.multi_items())
    query = lower_query(items)
    try:
        size = page_size(query)
        seek = query.get("seekoperation", "").lower()
        if seek not in ("", "next"):
            raise PagingError(f"seekOperation {query['seekoperation']!r} is not supported; use Next")
        offset = state.codec.decode(scope, request.headers.get("ms-continuationtoken")) if seek else 0
    except PagingError as exc:
        return pc_error(400, "400", str(exc))
    fault = request.scope.get("sandbox.fault")
    count = min(size, total - offset) if offset < total and fault != "empty-next" else 0
    end = offset + count
    token = state.codec.encode(scope, end) if end < total else None
    if token and fault == "repeat-token" and seek:  # the loop a client must detect
        token = request.headers.get("ms-continuationtoken")
    nxt = None
    if token:
        nxt = link(next_uri(request.url.path, items), [{"key": "MS-ContinuationToken", "value": token}])
    envelope = collection([], _self_uri(request), nxt, token)
    rest = dumps({k: v for k, v in envelope.items() if k not in ("totalCount", "items")})  # {"links":...}
    items_json = fetch(offset, count) if count else b"[]"
    body = b'{"totalCount":' + str(count).encode() + b',"items":' + items_json + b"," + rest[1:]
    return Response(body, 200, media_type=JSON)


def _provider_and_type(request: Request) -> tuple[str, str]:
    query = lower_query(list(request.query_params.multi_items()))
    provider = request.path_params.get("provider", query.get("provider", "")).lower()
    kind = request.path_params.get("item_type", query.get("invoicelineitemtype", "")).lower()
    return provider, kind


def line_items(request: Request) -> Response:
    """Billed line items, query style (?provider=&invoicelineitemtype=) or path style (/OneTime/...)."""
    world = _state(request).world
    provider, kind = _provider_and_type(request)
    inv = world.invoice(request.path_params["invoice_id"])
    if inv is None:
        return pc_error(404, "1000", f"Invoice {request.path_params['invoice_id']} was not found.")
    if inv.get("legacy"):
        return legacy_line_items(request, world, inv, provider, kind)
    if provider in ("onetime", "one_time") and kind == "usagelineitems":
        return billed_usage(request, world, inv, _paged)
    if provider not in ("onetime", "one_time") or kind not in ("billinglineitems", "usagelineitems"):
        text = f"provider {provider!r} with invoicelineitemtype {kind!r} is not available for invoice {inv['id']}"
        return pc_error(400, "400", text + "; use provider=onetime.")
    total = world.line_count(inv["id"])
    return _paged(
        request,
        f"{inv['id']}|{kind}",
        total,
        lambda o, n: lines_json(world.line_rows(inv["id"], o, n), world.line_constants),
    )


def unbilled_line_items(request: Request) -> Response:
    """Unbilled reconciliation line items: ?provider=onetime&invoicelineitemtype=...&currencycode=&period=."""
    world = _state(request).world
    provider, kind = _provider_and_type(request)
    query = lower_query(list(request.query_params.multi_items()))
    currency, period = query.get("currencycode", "").upper(), query.get("period", "").lower()
    if provider in ("onetime", "one_time", "marketplace", "all") and kind == "usagelineitems":
        return unbilled_usage(request, world, _paged)
    if provider not in ("onetime", "one_time", "all") or kind not in ("billinglineitems", "usagelineitems"):
        return pc_error(400, "400", f"provider {provider!r} with invoicelineitemtype {kind!r} is not supported.")
    if not currency or period not in ("current", "previous"):
        return pc_error(400, "400", "currencycode and period (current or previous) are required.")
    month = world.unbilled_month(period)
    rows = world.unbilled_rows(month) if month and currency == world.billing_currency else world.unbilled.clear()
    total = rows.height
    scope = f"unbilled|{currency}|{period}|{kind}|{month}"
    return _paged(
        request, scope, total, lambda o, n: lines_json(world.unbilled_page_rows(rows, o, n), world.line_constants)
    )


ROUTES = [
    Route("/v1/invoices", invoices, methods=["GET"]),
    Route("/v1/invoices/summaries", summaries, methods=["GET"]),
    Route("/v1/invoices/unbilled/lineitems", unbilled_line_items, methods=["GET"]),
    Route("/v1/invoices/unbilled/lineitems/{provider}/{item_type}", unbilled_line_items, methods=["GET"]),
    Route("/v1/invoices/{invoice_id}", invoice_by_id, methods=["GET"]),
    Route("/v1/invoices/{invoice_id}/documents/statement", statement, methods=["GET"]),
    Route("/v1/invoices/{invoice_id}/lineitems", line_items, methods=["GET"]),
    Route("/v1/invoices/{invoice_id}/lineitems/{provider}/{item_type}", line_items, methods=["GET"]),
]
