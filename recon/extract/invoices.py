"""Invoices: the collection, then each invoice by id (one unit per invoice)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from recon.api import Page
from recon.api.paging import OffsetPaginator
from recon.extract.base import ExtractContext, Resource, land_unit
from recon.extract.fields import INVOICE_FIELDS
from recon.store.loads import UnitResult
from recon.store.schema import INVOICE

RESOURCE = Resource("raw.invoices", INVOICE_FIELDS, INVOICE)


def list_invoices(ctx: ExtractContext) -> list[Mapping[str, Any]]:
    """Every invoice in the collection (offset paging)."""
    out: list[Mapping[str, Any]] = []
    for page in OffsetPaginator("/invoices", {"size": 200, "offset": 0}).pages(ctx.client):
        out.extend(page.items)
    return out


def _period_start(invoice: Mapping[str, Any]) -> date | None:
    value = str(invoice.get("billingPeriodStartDate") or "")[:10]
    try:
        return date.fromisoformat(value) if value and not value.startswith("0001") else None
    except ValueError:
        return None


def select(
    invoices: Iterable[Mapping[str, Any]], *, since: date | None = None, ids: Iterable[str] | None = None
) -> list[Mapping[str, Any]]:
    """Invoices in scope: those named, or those whose billing period starts on or after `since`."""
    wanted = {i.lower() for i in ids} if ids else None
    chosen = []
    for inv in invoices:
        inv_id = str(inv.get("id", ""))
        if wanted is not None and inv_id.lower() not in wanted:
            continue
        start = _period_start(inv)
        if since is not None and start is not None and start < since:
            continue
        chosen.append(inv)
    return chosen


def _by_id(ctx: ExtractContext, invoice_id: str) -> Iterator[Page]:
    response = ctx.client.get_json(f"/invoices/{invoice_id}")
    yield Page(1, [response.data], response)


def extract_invoice(ctx: ExtractContext, invoice_id: str) -> UnitResult:
    """Land one invoice (fetched by id, so `invoiceDetails` and links are complete)."""
    return land_unit(
        ctx,
        dataset="invoices",
        unit=invoice_id,
        resource=RESOURCE,
        pages=_by_id(ctx, invoice_id),
        params={"invoice_id": invoice_id},
    )
