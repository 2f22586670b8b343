"""Billed reconciliation line items of one invoice (v1, seek paging); one unit per invoice."""

from __future__ import annotations

from recon.api.paging import SeekPaginator
from recon.extract.base import ExtractContext, Resource, land_unit
from recon.extract.fields import RECON_LINE_FIELDS
from recon.store.loads import UnitResult
from recon.store.schema import RECON_LINE

RESOURCE = Resource("raw.recon_lines", RECON_LINE_FIELDS, RECON_LINE)
PAGE_SIZE = 2000


def billed_params(size: int = PAGE_SIZE) -> dict[str, str | int]:
    """Query of the v1 billed reconciliation line items (new commerce: provider onetime)."""
    return {"provider": "onetime", "invoicelineitemtype": "billinglineitems", "size": size}


def extract_billed(ctx: ExtractContext, invoice_id: str, *, size: int = PAGE_SIZE) -> UnitResult:
    """Land every billed reconciliation line of one invoice."""
    params = billed_params(size)
    paginator = SeekPaginator(f"/invoices/{invoice_id}/lineitems", params)
    return land_unit(
        ctx,
        dataset="recon-billed",
        unit=invoice_id,
        resource=RESOURCE,
        pages=paginator.pages(ctx.client),
        params={"invoice_id": invoice_id, **params},
    )
