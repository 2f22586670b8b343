"""Reconciliation and daily rated usage line items through v1 (seek paging).

Units: billed data, one invoice; unbilled data, (currency, period) at the source's as-of time.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from recon.api.exports import Export, run_export
from recon.api.paging import OffsetPaginator, SeekPaginator
from recon.errors import UpstreamError
from recon.extract.base import ExtractContext, Resource, land_unit
from recon.extract.fields import RECON_LINE_FIELDS, USAGE_LINE_FIELDS
from recon.store.loads import UnitResult
from recon.store.schema import RECON_LINE, USAGE_LINE

RECON = Resource("raw.recon_lines", RECON_LINE_FIELDS, RECON_LINE)
USAGE = Resource("raw.usage_lines", USAGE_LINE_FIELDS, USAGE_LINE)
PAGE_SIZE = 2000
PERIODS = ("current", "previous")


def billed_params(size: int = PAGE_SIZE) -> dict[str, str | int]:
    """Query of the v1 billed reconciliation line items (new commerce: provider onetime)."""
    return {"provider": "onetime", "invoicelineitemtype": "billinglineitems", "size": size}


def billed_provider(invoice: Mapping[str, Any]) -> str:
    """The v1 provider of an invoice's billing lines from its `invoiceDetails` (new commerce: onetime)."""
    providers = {
        str(d.get("billingProvider", "")).lower().replace("_", "")
        for d in invoice.get("invoiceDetails") or []
        if str(d.get("invoiceLineItemType", "")).lower() == "billing_line_items"
    }
    for provider in ("onetime", "all", "office", "azure"):
        if provider in providers:
            return "onetime" if provider == "all" else provider
    return "onetime"


def extract_billed(
    ctx: ExtractContext, invoice_id: str, *, provider: str = "onetime", size: int = PAGE_SIZE
) -> UnitResult:
    """Land every billed reconciliation line of one invoice (legacy providers page by offset)."""
    params = {**billed_params(size), "provider": provider}
    path = f"/invoices/{invoice_id}/lineitems"
    paginator: SeekPaginator | OffsetPaginator = (
        SeekPaginator(path, params) if provider == "onetime" else OffsetPaginator(path, {**params, "offset": 0})
    )
    return land_unit(
        ctx,
        dataset="recon-billed",
        unit=invoice_id,
        resource=RECON,
        source=lambda resume: paginator.pages(ctx.client, resume),
        params={"invoice_id": invoice_id, **params},
    )


def extract_billed_usage(ctx: ExtractContext, invoice_id: str, currency: str, *, size: int = PAGE_SIZE) -> UnitResult:
    """Land every billed daily rated usage line of one invoice."""
    params: dict[str, str | int] = {
        "provider": "onetime",
        "invoicelineitemtype": "usagelineitems",
        "currencycode": currency,
        "period": "previous",
        "size": size,
    }
    return land_unit(
        ctx,
        dataset="usage-billed",
        unit=invoice_id,
        resource=USAGE,
        source=lambda resume: SeekPaginator(f"/invoices/{invoice_id}/lineitems", params).pages(ctx.client, resume),
        params={"invoice_id": invoice_id, **params},
    )


def extract_unbilled(
    ctx: ExtractContext, kind: str, currency: str, period: str, *, size: int = PAGE_SIZE
) -> UnitResult:
    """Land one unbilled snapshot: `kind` is `recon` or `usage`, `period` is `current` or `previous`."""
    line_type = "billinglineitems" if kind == "recon" else "usagelineitems"
    params: dict[str, str | int] = {
        "provider": "onetime",
        "invoicelineitemtype": line_type,
        "currencycode": currency,
        "period": period,
        "size": size,
    }
    return land_unit(
        ctx,
        dataset=f"{kind}-unbilled",
        unit=f"{currency.upper()}/{period}",
        resource=RECON if kind == "recon" else USAGE,
        source=lambda resume: SeekPaginator("/invoices/unbilled/lineitems", params).pages(ctx.client, resume),
        params=params,
        snapshot="time",
    )


# v2 (Graph exports): the same datasets and units, one page per blob.
V2_EXPORT = {"recon-billed": "reconciliation/billed", "usage-billed": "usage/billed",
             "recon-unbilled": "reconciliation/unbilled", "usage-unbilled": "usage/unbilled"}  # fmt: skip


def v2_body(invoice_id: str | None, currency: str | None, period: str | None) -> dict[str, str]:
    """The body of a v2 export request: billed by invoice, unbilled by currency and billing period."""
    if invoice_id is not None:
        return {"invoiceId": invoice_id, "attributeSet": "full"}
    billing_period = "last" if period == "previous" else "current"
    return {"currencyCode": str(currency), "billingPeriod": billing_period, "attributeSet": "full"}


def prefetch_v2(
    ctx: ExtractContext,
    dataset: str,
    *,
    invoice_id: str | None = None,
    currency: str | None = None,
    period: str | None = None,
) -> Future[Export]:
    """Start (once) the v2 export of a unit in the background: exports wait on the service, not on each other."""
    if ctx.graph is None or ctx.pool is None:
        raise UpstreamError("v2 needs the Graph client")
    graph, what, body = ctx.graph, V2_EXPORT[dataset], v2_body(invoice_id, currency, period)
    key = (what, tuple(sorted(body.items())))
    if key not in ctx.exports:
        ctx.exports[key] = ctx.pool.submit(run_export, graph, what, body)
    return ctx.exports[key]


def extract_v2(
    ctx: ExtractContext,
    dataset: str,
    *,
    invoice_id: str | None = None,
    currency: str | None = None,
    period: str | None = None,
) -> UnitResult:
    """Land one unit through a v2 export: billed datasets by invoice, unbilled by currency and period."""
    if ctx.blobs is None:
        raise UpstreamError("v2 needs the Graph client")
    blobs = ctx.blobs
    billed = invoice_id is not None
    body = v2_body(invoice_id, currency, period)
    what = V2_EXPORT[dataset]
    export = prefetch_v2(ctx, dataset, invoice_id=invoice_id, currency=currency, period=period)
    return land_unit(
        ctx,
        dataset=dataset,
        unit=str(invoice_id) if billed else f"{str(currency).upper()}/{period}",
        resource=RECON if dataset.startswith("recon") else USAGE,
        source=lambda _: blobs.pages(export.result()),
        params={"export": what, **body},
        api="v2",
        snapshot=None if billed else "time",
    )
