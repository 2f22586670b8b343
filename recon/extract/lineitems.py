"""Reconciliation and daily rated usage line items through v1 (seek paging).

Units: billed data, one invoice; unbilled data, (currency, period) at the source's as-of time.
"""

from __future__ import annotations

from recon.api.paging import SeekPaginator
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


def extract_billed(ctx: ExtractContext, invoice_id: str, *, size: int = PAGE_SIZE) -> UnitResult:
    """Land every billed reconciliation line of one invoice."""
    params = billed_params(size)
    return land_unit(
        ctx,
        dataset="recon-billed",
        unit=invoice_id,
        resource=RECON,
        pages=SeekPaginator(f"/invoices/{invoice_id}/lineitems", params).pages(ctx.client),
        params={"invoice_id": invoice_id, **params},
    )


def extract_billed_usage(
    ctx: ExtractContext, invoice_id: str, currency: str, *, size: int = PAGE_SIZE
) -> UnitResult:
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
        pages=SeekPaginator(f"/invoices/{invoice_id}/lineitems", params).pages(ctx.client),
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
        pages=SeekPaginator("/invoices/unbilled/lineitems", params).pages(ctx.client),
        params=params,
        snapshot="time",
    )
