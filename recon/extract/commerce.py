"""Customers, subscriptions and orders: dated snapshots, fetched per customer in parallel.

Units: one as-of date each (`customers@2026-11-10`); a snapshot lands all customers' pages at once.
Subscriptions and orders are fetched with asyncio on the client's background event loop; when both are
extracted, both start at once, so each family's rate limit is the only bound on the run's length.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from recon.api import ApiResponse, Page
from recon.api.aclient import AsyncPartnerCenterClient, Background
from recon.api.paging import SeekPaginator
from recon.extract.base import ExtractContext, Resource, land_unit
from recon.extract.fields import CUSTOMER_FIELDS, ORDER_LINE_FIELDS, SUBSCRIPTION_FIELDS
from recon.jsontext import loads_exact
from recon.store.loads import UnitResult
from recon.store.schema import CUSTOMER, ORDER_LINE, SUBSCRIPTION

DEFAULT_CONCURRENCY = 8


def _customer_rows(item: Mapping[str, Any], _: Mapping[str, str]) -> Iterable[Mapping[str, Any]]:
    profile = item.get("companyProfile") or {}
    address = (item.get("billingProfile") or {}).get("defaultAddress") or {}
    flat = {k: v for k, v in item.items() if k not in ("companyProfile", "billingProfile", "links")}
    flat.update(
        tenantId=profile.get("tenantId"),
        domain=profile.get("domain"),
        companyName=profile.get("companyName"),
        country=address.get("country"),
    )
    return [flat]


def _subscription_rows(item: Mapping[str, Any], context: Mapping[str, str]) -> Iterable[Mapping[str, Any]]:
    flat = {k: v for k, v in item.items() if k not in ("links", "productType", "actions", "refundOptions")}
    return [{**flat, "customerId": context.get("customer_id")}]


def _order_rows(item: Mapping[str, Any], context: Mapping[str, str]) -> Iterable[Mapping[str, Any]]:
    header = {
        "orderId": item.get("id"),
        "customerId": item.get("referenceCustomerId") or context.get("customer_id"),
        "orderBillingCycle": item.get("billingCycle"),
        "currencyCode": item.get("currencyCode"),
        "creationDate": item.get("creationDate"),
        "status": item.get("status"),
        "orderTransactionType": item.get("transactionType"),
        "totalPrice": item.get("totalPrice"),
    }
    for line in item.get("lineItems") or []:
        flat = {k: v for k, v in line.items() if k not in ("links", "pricing", "provisioningContext")}
        yield {**header, **flat, **(line.get("pricing") or {})}


CUSTOMERS = Resource("raw.customers", CUSTOMER_FIELDS, CUSTOMER, _customer_rows)
SUBSCRIPTIONS = Resource("raw.subscriptions", SUBSCRIPTION_FIELDS, SUBSCRIPTION, _subscription_rows)
ORDERS = Resource("raw.order_lines", ORDER_LINE_FIELDS, ORDER_LINE, _order_rows)


def list_customers(ctx: ExtractContext) -> list[Page]:
    """Every page of the customer list (seek paging)."""
    return list(SeekPaginator("/customers", {"size": 500}).pages(ctx.client))


def extract_customers(ctx: ExtractContext, pages: Sequence[Page]) -> UnitResult:
    """Land the customer list as a dated snapshot."""
    return land_unit(
        ctx,
        dataset="customers",
        unit="customers",
        resource=CUSTOMERS,
        source=lambda _: iter(pages),
        params={"size": 500},
        snapshot="date",
    )


# Per-customer collections: path and query (orders with prices: renewals carry the new price).
FANNED_OUT: dict[str, tuple[str, dict[str, str]]] = {
    "subscriptions": ("/customers/{customer_id}/subscriptions", {}),
    "orders": ("/customers/{customer_id}/orders", {"include_price": "true", "include_system_purchases": "true"}),
}


class CustomerPages:
    """One dataset's pages for every customer, fetched on the background loop `concurrency` customers at a time.

    Fetched pages wait as their response bytes (not tracked by the garbage collector) and are parsed again when
    they are landed: parsed, the orders of 2,000 customers are millions of objects that every full collection
    walks while the dataset before them lands (landing was 1.7 times slower with them parsed).
    """

    def __init__(self, background: Background, dataset: str, customer_ids: Sequence[str], concurrency: int) -> None:
        path, params = FANNED_OUT[dataset]
        gate = asyncio.Semaphore(max(1, concurrency))
        self._futures: deque[Future[list[ApiResponse]]] = deque(
            background.submit(self._fetch(background.client, gate, path.format(customer_id=c), params))
            for c in customer_ids
        )
        self._customers = deque(customer_ids)

    @staticmethod
    async def _fetch(
        client: AsyncPartnerCenterClient, gate: asyncio.Semaphore, path: str, params: Mapping[str, Any]
    ) -> list[ApiResponse]:
        async with gate:
            # only the links are read here: the items are parsed once, when they land
            pager = SeekPaginator(path, params).apages(client, shallow=True)
            return [replace(p.response, data=None) async for p in pager]

    def pages(self) -> Iterator[Page]:
        """Every customer's pages in customer order, numbered from 1; stops the fetches left when closed early."""
        number = 0
        try:
            while self._futures:
                responses = self._futures[0].result()
                self._futures.popleft()  # landed customers are let go
                customer = self._customers.popleft()
                for response in responses:
                    data = loads_exact(response.content)  # the paginator checked it has an items list
                    number += 1
                    yield Page(number, data["items"], replace(response, data=data), context={"customer_id": customer})
        finally:
            for future in self._futures:
                future.cancel()


def _start(ctx: ExtractContext, dataset: str, customer_ids: Sequence[str], concurrency: int) -> CustomerPages:
    return CustomerPages(ctx.client.background(), dataset, customer_ids, concurrency)


def prefetch(ctx: ExtractContext, dataset: str, customer_ids: Sequence[str], concurrency: int) -> None:
    """Start fetching a dataset's per-customer pages now, so it runs while the datasets before it land."""
    ctx.client.background().prefetch(
        (dataset, tuple(customer_ids)), lambda: _start(ctx, dataset, customer_ids, concurrency)
    )


def _fan_out(ctx: ExtractContext, dataset: str, customer_ids: Sequence[str], concurrency: int) -> Iterator[Page]:
    """Each customer's pages (prefetched or fetched now), in customer order and renumbered."""
    key = (dataset, tuple(customer_ids))
    return ctx.client.background().claim(key, lambda: _start(ctx, dataset, customer_ids, concurrency)).pages()


def extract_subscriptions(ctx: ExtractContext, customer_ids: Sequence[str], concurrency: int) -> UnitResult:
    """Land every customer's subscriptions as one dated snapshot."""
    return land_unit(
        ctx,
        dataset="subscriptions",
        unit="subscriptions",
        resource=SUBSCRIPTIONS,
        source=lambda _: _fan_out(ctx, "subscriptions", customer_ids, concurrency),
        params={"customers": len(customer_ids)},
        snapshot="date",
    )


def extract_orders(ctx: ExtractContext, customer_ids: Sequence[str], concurrency: int) -> UnitResult:
    """Land every customer's orders (with pricing) as one dated snapshot."""
    params = FANNED_OUT["orders"][1]
    return land_unit(
        ctx,
        dataset="orders",
        unit="orders",
        resource=ORDERS,
        source=lambda _: _fan_out(ctx, "orders", customer_ids, concurrency),
        params={"customers": len(customer_ids), **params},
        snapshot="date",
    )
