"""v1 serving of the isolated documents: the legacy invoice's office lines and the invoice list's legacy paging."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from recon.sandbox.paging import PagingError, collection, link, lower_query, page_size, relative
from recon.sandbox.records import invoice_resource
from recon.sandbox.responses import json_response, pc_error

if TYPE_CHECKING:
    from recon.sandbox.world import World


def _offset(query: dict[str, str]) -> int:
    raw = query.get("offset", "0") or "0"
    if not raw.isdigit():
        raise PagingError(f"offset must be a non-negative integer, not {raw!r}")
    return int(raw)


def legacy_line_items(request: Request, world: World, inv: dict[str, Any], provider: str, kind: str) -> Response:
    """Lines of a legacy invoice: provider=office billinglineitems (LicenseBasedLineItem, size/offset paging)."""
    query = lower_query(list(request.query_params.multi_items()))
    if provider in ("onetime", "one_time"):  # a legacy invoice has no new-commerce lines
        return json_response(collection([], relative(request.url.path, request.url.query)))
    if provider != "office" or kind != "billinglineitems":
        text = f"provider {provider!r} with invoicelineitemtype {kind!r} is not available for invoice {inv['id']}"
        return pc_error(400, "400", text + "; use provider=office&invoicelineitemtype=billinglineitems.")
    try:
        size, offset = page_size(query), _offset(query)
    except PagingError as exc:
        return pc_error(400, "400", str(exc))
    lines = world.legacy_lines.get(inv["id"], [])
    page = lines[offset : offset + size]
    base = f"/invoices/{inv['id']}/lineitems?provider=office&invoicelineitemtype=billinglineitems"
    nxt = link(f"{base}&size={size}&offset={offset + size}") if offset + size < len(lines) else None
    return json_response(collection(page, f"{base}&size={size}&offset={offset}", nxt))


def listed_documents(world: World, query: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Documents the invoice collection adds: credit notes always, legacy invoices paged by size/offset."""
    modern = [d for d in world.documents if not d.get("legacy")]
    legacy = sorted((d for d in world.documents if d.get("legacy")), key=lambda d: d["invoiceDate"], reverse=True)
    size = int(query["size"]) if query.get("size", "").isdigit() and int(query["size"]) > 0 else 200
    offset = int(query["offset"]) if query.get("offset", "").isdigit() else 0
    page = legacy[offset : offset + size]
    nxt = link(f"/invoices?size={size}&offset={offset + size}") if offset + size < len(legacy) else None
    return [invoice_resource(d) for d in modern + page], nxt
