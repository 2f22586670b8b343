"""Customers, subscriptions and orders: dated snapshots, fetched per customer in parallel.

Units: one as-of date each (`customers@2026-11-10`); a snapshot lands all customers' pages at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from recon.api import Page
from recon.api.paging import SeekPaginator
from recon.extract.base import ExtractContext, Resource, land_unit
from recon.extract.fields import CUSTOMER_FIELDS, ORDER_LINE_FIELDS, SUBSCRIPTION_FIELDS
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


def _fan_out(
    ctx: ExtractContext, customer_ids: Sequence[str], path: str, params: Mapping[str, Any], concurrency: int
) -> Iterator[Page]:
    """Each customer's pages, fetched `concurrency` at a time, yielded in customer order and renumbered."""

    def fetch(customer_id: str) -> list[Page]:
        pages = SeekPaginator(path.format(customer_id=customer_id), params).pages(ctx.client)
        return [Page(0, p.items, p.response, context={"customer_id": customer_id}) for p in pages]

    number = 0
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="recon-fetch") as pool:
        for pages in pool.map(fetch, customer_ids):
            for page in pages:
                number += 1
                yield Page(number, page.items, page.response, context=page.context)


def extract_subscriptions(ctx: ExtractContext, customer_ids: Sequence[str], concurrency: int) -> UnitResult:
    """Land every customer's subscriptions as one dated snapshot."""
    path = "/customers/{customer_id}/subscriptions"
    return land_unit(
        ctx,
        dataset="subscriptions",
        unit="subscriptions",
        resource=SUBSCRIPTIONS,
        source=lambda _: _fan_out(ctx, customer_ids, path, {}, concurrency),
        params={"customers": len(customer_ids)},
        snapshot="date",
    )


def extract_orders(ctx: ExtractContext, customer_ids: Sequence[str], concurrency: int) -> UnitResult:
    """Land every customer's orders (with pricing) as one dated snapshot."""
    path = "/customers/{customer_id}/orders"
    params = {"include_price": "true", "include_system_purchases": "true"}  # renewals carry the new price
    return land_unit(
        ctx,
        dataset="orders",
        unit="orders",
        resource=ORDERS,
        source=lambda _: _fan_out(ctx, customer_ids, path, params, concurrency),
        params={"customers": len(customer_ids), **params},
        snapshot="date",
    )
