"""`recon extract`: run the chosen datasets; one failing dataset does not stop the others."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from recon.api import PartnerCenterClient
from recon.api.exports import BlobDownloader, ExportFailed
from recon.api.paging import Page
from recon.errors import ReconError, UpstreamError
from recon.extract import audit, catalog, commerce, lineitems
from recon.extract import invoices as inv
from recon.extract.base import ExtractContext, NullReporter, Reporter
from recon.settings import Settings
from recon.store import open_writer
from recon.store.loads import UnitResult

DATASETS: tuple[str, ...] = (
    "customers",
    "catalog",
    "orders",
    "subscriptions",
    "audit",
    "invoices",
    "recon-billed",
    "recon-unbilled",
    "usage-billed",
    "usage-unbilled",
)
# Datasets that start from the customer list (its `Date` is also the audit's "today").
COMMERCE = frozenset({"customers", "catalog", "orders", "subscriptions", "audit"})


@dataclass
class DatasetResult:
    """Outcome of one dataset in one run."""

    dataset: str
    units: int = 0
    rows: int = 0
    quarantined: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ExtractSummary:
    """Outcome of a run: per dataset, plus retries the client made."""

    results: dict[str, DatasetResult] = field(default_factory=dict)
    retries: int = 0

    @property
    def failed(self) -> list[DatasetResult]:
        return [r for r in self.results.values() if not r.ok]


@dataclass(frozen=True)
class Plan:
    """What one run covers: the invoices in scope, the billing currencies and the unbilled periods."""

    invoices: Sequence[Mapping[str, Any]]
    currencies: Sequence[str]
    periods: Sequence[str]
    customer_pages: Sequence[Page] = ()
    concurrency: int = commerce.DEFAULT_CONCURRENCY
    api: str = "auto"
    since: date | None = None
    catalog_countries: Sequence[str] = ()

    @property
    def customer_ids(self) -> list[str]:
        return [str(c["id"]) for p in self.customer_pages for c in p.items if c.get("id")]

    @property
    def invoice_ids(self) -> list[str]:
        return [str(i["id"]) for i in self.invoices]

    def with_usage(self) -> list[tuple[str, str]]:
        """(invoice id, currency) of invoices that announce daily rated usage."""
        out = []
        for i in self.invoices:
            details = i.get("invoiceDetails") or []
            if any(str(d.get("invoiceLineItemType", "")).lower() == "usage_line_items" for d in details):
                out.append((str(i["id"]), str(i.get("currencyCode", "")).upper()))
        return out


Step = Callable[[], UnitResult]
APIS = ("v1", "v2", "auto")
# Billing periods v2 covers (billing.md 5.5): reconciliation from February 2024, daily usage from September 2022.
V2_FROM = {"recon-billed": date(2024, 2, 1), "usage-billed": date(2022, 9, 1)}


def _v2_covers(dataset: str, invoice: Mapping[str, Any]) -> bool:
    start = inv.period_start(invoice)
    legacy = lineitems.billed_provider(invoice) != "onetime"
    return not legacy and start is not None and start >= V2_FROM[dataset]


def _choose(
    result: DatasetResult, api: str, use_v2: bool, v2: Step, v1: Step, *, fallback_on_any: bool = False
) -> Step:
    """v1 or v2 for one unit; in auto, a v2 export that fails falls back to v1 with a note."""
    if api == "v1" or (api == "auto" and not use_v2):
        return v1
    if api == "v2":
        return v2

    def auto() -> UnitResult:
        try:
            return v2()
        except ExportFailed as exc:
            result.notes.append(f"{exc}; loaded through v1 instead")
        except UpstreamError as exc:
            if not fallback_on_any:
                raise
            result.notes.append(f"v2 failed ({exc}); loaded through v1 instead")
        return v1()

    return auto


def _prefetch(name: str, ctx: ExtractContext, plan: Plan) -> None:
    """Start the v2 exports a dataset will use, so their polling overlaps."""
    if name in commerce.FANNED_OUT:  # per-customer fetches: each family runs under its own rate limit
        commerce.prefetch(ctx, name, plan.customer_ids, plan.concurrency)
        return
    if plan.api == "v1" or ctx.pool is None:
        return
    if name == "recon-billed":
        for invoice in plan.invoices:
            if plan.api == "v2" or _v2_covers(name, invoice):
                lineitems.prefetch_v2(ctx, name, invoice_id=str(invoice["id"]))
    elif name == "usage-billed":
        by_id = {str(i["id"]): i for i in plan.invoices}
        for invoice_id, _ in plan.with_usage():
            if plan.api == "v2" or _v2_covers(name, by_id[invoice_id]):
                lineitems.prefetch_v2(ctx, name, invoice_id=invoice_id)
    elif name in ("recon-unbilled", "usage-unbilled"):
        for currency in plan.currencies:
            for period in plan.periods:
                lineitems.prefetch_v2(ctx, name, currency=currency, period=period)


def _steps(name: str, ctx: ExtractContext, plan: Plan, size: int, result: DatasetResult) -> Generator[Step]:
    """The units of one dataset, as calls that land them."""
    if name == "customers":
        yield lambda: commerce.extract_customers(ctx, plan.customer_pages)
    elif name == "subscriptions":
        yield lambda: commerce.extract_subscriptions(ctx, plan.customer_ids, plan.concurrency)
    elif name == "orders":
        yield lambda: commerce.extract_orders(ctx, plan.customer_ids, plan.concurrency)
    elif name == "catalog":
        run = catalog.CatalogExtraction(ctx, plan.catalog_countries, plan.customer_pages, plan.concurrency)
        yield from (run.land_products, run.land_skus, run.land_availabilities)
    elif name == "audit":
        days = audit.days_to_fetch(ctx.con, audit.source_day(plan.customer_pages), plan.since)
        with audit.DayFetcher(ctx, days, plan.concurrency) as fetcher:
            for day in days:
                yield lambda d=day: audit.extract_day(ctx, d, fetcher)  # type: ignore[misc]
    elif name == "invoices":
        yield lambda: inv.extract_summaries(ctx)
        for currency in plan.currencies:
            yield lambda c=currency: inv.extract_estimate_links(ctx, c)  # type: ignore[misc]
        for invoice_id in plan.invoice_ids:
            yield lambda i=invoice_id: inv.extract_invoice(ctx, i)  # type: ignore[misc]
            yield lambda i=invoice_id: inv.extract_statement(ctx, i)  # type: ignore[misc]
    elif name == "recon-billed":
        for invoice in plan.invoices:
            i, p = str(invoice["id"]), lineitems.billed_provider(invoice)
            yield _choose(
                result,
                plan.api,
                _v2_covers(name, invoice),
                v2=lambda i=i: lineitems.extract_v2(ctx, name, invoice_id=i),  # type: ignore[misc]
                v1=lambda i=i, p=p: lineitems.extract_billed(ctx, i, provider=p, size=size),  # type: ignore[misc]
            )
    elif name == "usage-billed":
        by_id = {str(i["id"]): i for i in plan.invoices}
        for invoice_id, currency in plan.with_usage():
            yield _choose(
                result,
                plan.api,
                _v2_covers(name, by_id[invoice_id]),
                v2=lambda i=invoice_id: lineitems.extract_v2(ctx, name, invoice_id=i),  # type: ignore[misc]
                v1=lambda i=invoice_id, c=currency: lineitems.extract_billed_usage(  # type: ignore[misc]
                    ctx, i, c, size=size
                ),
            )
    elif name in ("recon-unbilled", "usage-unbilled"):
        kind = name.split("-")[0]
        for currency in plan.currencies:
            for period in plan.periods:
                yield _choose(
                    result,
                    plan.api,
                    True,
                    v2=lambda c=currency, p=period: lineitems.extract_v2(  # type: ignore[misc]
                        ctx, name, currency=c, period=p
                    ),
                    v1=lambda c=currency, p=period: lineitems.extract_unbilled(  # type: ignore[misc]
                        ctx, kind, c, p, size=size
                    ),
                    fallback_on_any=True,
                )


def _run(result: DatasetResult, steps: Generator[Step]) -> None:
    # closing() ends the step generator here, in this thread, when a step fails: left to the garbage collector,
    # its `with` blocks (the audit day fetcher's thread pool) would exit in whichever thread happens to collect it.
    try:
        with closing(steps):
            for step in steps:
                landed = step()
                result.units += 1
                result.rows += landed.rows
                result.quarantined += landed.quarantined
    except ReconError as exc:
        result.error = str(exc)


def _currencies(listed: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted({str(i.get("currencyCode", "")).upper() for i in listed if i.get("currencyCode")})


def extract(
    settings: Settings,
    *,
    datasets: Sequence[str] | None = None,
    since: date | None = None,
    invoice_ids: Sequence[str] | None = None,
    periods: Sequence[str] = lineitems.PERIODS,
    page_size: int = lineitems.PAGE_SIZE,
    concurrency: int = commerce.DEFAULT_CONCURRENCY,
    api: str = "auto",
    reporter: Reporter | None = None,
    client: PartnerCenterClient | None = None,
) -> ExtractSummary:
    """Extract the chosen datasets into the DuckDB file named by the settings."""
    chosen = list(datasets or DATASETS)
    unknown = [d for d in chosen if d not in DATASETS]
    if api not in APIS:
        raise ReconError(f"--api must be one of {', '.join(APIS)}, not {api!r}")
    if not 1 <= page_size <= lineitems.PAGE_SIZE:
        raise ReconError(f"page size must be within 1..{lineitems.PAGE_SIZE}, not {page_size}")
    if unknown:
        raise ReconError(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    summary = ExtractSummary()
    own_client = client is None
    client = client or PartnerCenterClient(settings)
    graph = (
        PartnerCenterClient(
            settings, graph=True, policy=client.policy, limiter=client.limiter, correlation_id=client.correlation_id
        )
        if api != "v1"
        else None
    )
    blobs = BlobDownloader(graph, concurrency=max(1, min(concurrency, 8))) if graph else None
    pool = (
        ThreadPoolExecutor(max_workers=max(1, min(concurrency, 8)), thread_name_prefix="recon-export")
        if graph
        else None
    )
    try:
        with open_writer(settings.db) as con:
            ctx = ExtractContext(
                client=client,
                con=con,
                raw_dir=settings.raw_dir,
                statements_dir=settings.data_dir / "statements",
                reporter=reporter or NullReporter(),
                graph=graph,
                blobs=blobs,
                pool=pool,
            )
            billing = [n for n in chosen if n not in COMMERCE]
            listed: list[Mapping[str, Any]] = []
            customer_pages: list[Page] = []
            try:
                if billing:
                    listed = inv.list_invoices(ctx)
            except UpstreamError as exc:
                for name in billing:
                    summary.results[name] = DatasetResult(name, error=str(exc))
                chosen = [n for n in chosen if n in COMMERCE]
            try:
                if COMMERCE & set(chosen):
                    customer_pages = commerce.list_customers(ctx)
            except UpstreamError as exc:
                for name in COMMERCE & set(chosen):
                    summary.results[name] = DatasetResult(name, error=str(exc))
                chosen = [n for n in chosen if n not in COMMERCE]
            scope = [i for i in inv.select(listed, since=since, ids=invoice_ids) if i.get("id")]
            missing = sorted({i.lower() for i in invoice_ids or []} - {str(s["id"]).lower() for s in scope})
            if missing and billing:
                raise ReconError(f"invoice(s) not found: {', '.join(missing)}")
            plan = Plan(
                invoices=scope,
                currencies=_currencies(listed),
                periods=tuple(periods),
                customer_pages=customer_pages,
                concurrency=concurrency,
                api=api,
                since=since,
                catalog_countries=tuple(settings.catalog_countries.split(",")) if settings.catalog_countries else (),
            )
            for name in chosen:
                _prefetch(name, ctx, plan)
            for name in chosen:
                result = summary.results.setdefault(name, DatasetResult(name))
                _run(result, _steps(name, ctx, plan, page_size, result))
    finally:
        summary.retries = client.retries + (graph.retries if graph else 0)
        if own_client:
            client.close()
        if graph:
            graph.close()
        if blobs:
            blobs.close()
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)
    return summary
