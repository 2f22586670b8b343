"""Invoices: the collection, each invoice by id, summaries, estimate links and statement PDFs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from recon.api import Page
from recon.api.client import server_date
from recon.api.paging import OffsetPaginator
from recon.errors import ReconError
from recon.extract.base import ExtractContext, Resource, land_unit
from recon.extract.fields import ESTIMATE_LINK_FIELDS, INVOICE_FIELDS, INVOICE_SUMMARY_FIELDS
from recon.store.loads import UnitResult, begin_load, fail_load, record_file_load
from recon.store.rawfiles import write_file
from recon.store.schema import ESTIMATE_LINK, INVOICE, INVOICE_SUMMARY

RESOURCE = Resource("raw.invoices", INVOICE_FIELDS, INVOICE)
SUMMARIES = Resource("raw.invoice_summaries", INVOICE_SUMMARY_FIELDS, INVOICE_SUMMARY)
ESTIMATE_LINKS = Resource("raw.estimate_links", ESTIMATE_LINK_FIELDS, ESTIMATE_LINK)


def list_invoices(ctx: ExtractContext) -> list[Mapping[str, Any]]:
    """Every invoice in the collection (offset paging)."""
    out: list[Mapping[str, Any]] = []
    for page in OffsetPaginator("/invoices", {"size": 200, "offset": 0}).pages(ctx.client):
        out.extend(page.items)
    return out


def period_start(invoice: Mapping[str, Any]) -> date | None:
    """First day of an invoice's billing period (None when the invoice does not say)."""
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
        start = period_start(inv)
        if since is not None and start is not None and start < since:
            continue
        chosen.append(inv)
    return chosen


def _single(ctx: ExtractContext, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
    response = ctx.client.get_json(path, params=params)
    yield Page(1, [response.data], response)


def _collection(ctx: ExtractContext, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
    response = ctx.client.get_json(path, params=params)
    items = response.data.get("items") if isinstance(response.data, Mapping) else None
    if not isinstance(items, list):
        raise ReconError(f"GET {response.url}: the answer has no 'items' list (MS-RequestId {response.request_id})")
    yield Page(1, items, response)


def extract_invoice(ctx: ExtractContext, invoice_id: str) -> UnitResult:
    """Land one invoice (fetched by id, so `invoiceDetails` and links are complete)."""
    return land_unit(
        ctx,
        dataset="invoices",
        unit=invoice_id,
        resource=RESOURCE,
        source=lambda _: _single(ctx, f"/invoices/{invoice_id}"),
        params={"invoice_id": invoice_id},
    )


def extract_summaries(ctx: ExtractContext) -> UnitResult:
    """Land the invoice summaries (one per currency) as a snapshot of the source's date."""
    return land_unit(
        ctx,
        dataset="invoice-summaries",
        unit="summaries",
        resource=SUMMARIES,
        source=lambda _: _collection(ctx, "/invoices/summaries"),
        params={},
        snapshot="date",
    )


def extract_estimate_links(ctx: ExtractContext, currency: str) -> UnitResult:
    """Land the estimate links of one currency as a snapshot of the source's date."""
    return land_unit(
        ctx,
        dataset="estimate-links",
        unit=currency,
        resource=ESTIMATE_LINKS,
        source=lambda _: _collection(ctx, "/invoices/estimates/links", {"currencycode": currency}),
        params={"currencycode": currency},
        snapshot="date",
    )


def extract_statement(ctx: ExtractContext, invoice_id: str) -> UnitResult:
    """Save an invoice's statement PDF under `<data_dir>/statements/` (one unit per invoice)."""
    load_id = begin_load(ctx.con, "statements", invoice_id, "v1", {"invoice_id": invoice_id}, ctx.clock())
    try:
        response = ctx.client.request("GET", f"/invoices/{invoice_id}/documents/statement", accept="application/pdf")
        if not response.content.startswith(b"%PDF"):
            raise ReconError(
                f"GET {response.url.path}: the statement is not a PDF (Content-Type "
                f"{response.headers.get('Content-Type', '?')})"
            )
        saved = write_file(ctx.statements_dir / f"{invoice_id}.pdf", response.content)
    except ReconError as exc:
        fail_load(ctx.con, load_id, str(exc), ctx.clock())
        raise
    record_file_load(
        ctx.con,
        load_id,
        unit=invoice_id,
        as_of=server_date(response),
        provenance=[
            {
                "url": str(response.url.copy_with(query=None)),
                "request_id": response.request.headers.get("MS-RequestId", ""),
                "file": str(saved.path),
                "size": saved.size,
                "sha256": saved.sha256,
            }
        ],
        finished_at=ctx.clock(),
    )
    ctx.reporter.unit_done("statements")
    return UnitResult(load_id=load_id, rows=1, quarantined=0)
