"""Reconciliation and daily rated usage line items through v1 (seek paging).

Units: billed data, one invoice; unbilled data, (currency, period) at the source's as-of time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recon.api.paging import OffsetPaginator, SeekPaginator
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
