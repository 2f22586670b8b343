"""Catalog: products, their SKUs and the SKUs' availabilities (with terms) for each country.

Units: one dated snapshot per resource and as-of date (`products@2026-11-10`, `skus@...`, `availabilities@...`),
each holding every country's pages; each resource has its own table, and a unit replaces the rows of one table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb

from recon.api import Page
from recon.api.paging import OffsetPaginator, ResumePoint
from recon.errors import ReconError
from recon.extract.base import ExtractContext, Resource, land_unit
from recon.extract.fields import (
    CATALOG_AVAILABILITY_FIELDS,
    CATALOG_PRODUCT_FIELDS,
    CATALOG_SKU_FIELDS,
    json_value,
)
from recon.store.loads import UnitResult
from recon.store.schema import CATALOG_AVAILABILITY, CATALOG_PRODUCT, CATALOG_SKU

# commerce.md 8.2: OnlineServices holds the license-based services, new commerce (OnlineServicesNCE) included.
TARGET_VIEWS = ("OnlineServices",)
DATASET = "catalog"

# (path, query, page context) of one catalog collection
Request = tuple[str, dict[str, str], dict[str, str]]


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _json_keys(columns: tuple[tuple[str, str], ...]) -> frozenset[str]:
    """API keys (lower case, no underscores) of a resource's JSON columns."""
    return frozenset(name.replace("_", "") for name, sql_type in columns if sql_type == "JSON")


_SKU_JSON = _json_keys(CATALOG_SKU)
_AVAILABILITY_JSON = _json_keys(CATALOG_AVAILABILITY)


def _jsonify(row: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    """Values bound for JSON columns made safe to cast (text becomes a JSON string)."""
    return {k: json_value(v) if k.replace("_", "").lower() in keys else v for k, v in row.items()}


def _product_rows(item: Mapping[str, Any], context: Mapping[str, str]) -> Iterable[Mapping[str, Any]]:
    kind = _obj(item.get("productType"))
    flat = {k: v for k, v in item.items() if k not in ("productType", "links")}
    flat.update(
        country=context.get("country"),
        targetView=context.get("target_view"),
        productTypeId=kind.get("id"),
        productTypeName=kind.get("displayName"),
        productSubTypeId=_obj(kind.get("subType")).get("id"),
    )
    return [flat]


def _sku_rows(item: Mapping[str, Any], context: Mapping[str, str]) -> Iterable[Mapping[str, Any]]:
    flat = {k: v for k, v in item.items() if k != "links"}
    flat.update(country=context.get("country"), productId=item.get("productId") or context.get("product_id"))
    return [_jsonify(flat, _SKU_JSON)]


def _availability_rows(item: Mapping[str, Any], context: Mapping[str, str]) -> Iterable[Mapping[str, Any]]:
    """One row per term; the embedded `product` and `sku` copies are left out (they land in their own tables)."""
    currency = item.get("defaultCurrency")
    base = {k: v for k, v in item.items() if k not in ("terms", "links", "product", "sku", "defaultCurrency")}
    base.update(
        country=item.get("country") or context.get("country"),
        productId=item.get("productId") or context.get("product_id"),
        skuId=item.get("skuId") or context.get("sku_id"),
        defaultCurrency=currency.get("code") if isinstance(currency, Mapping) else currency,
    )
    terms = [t for t in item.get("terms") or [] if isinstance(t, Mapping)] or [{}]
    for term in terms:
        # term keys get a `term` prefix: unknown ones (prices, say) land in `extra` as `termPrice` and are reported
        row = {**base, **{f"term{k[:1].upper()}{k[1:]}": v for k, v in term.items()}}
        yield _jsonify(row, _AVAILABILITY_JSON)


PRODUCTS = Resource("raw.catalog_products", CATALOG_PRODUCT_FIELDS, CATALOG_PRODUCT, _product_rows)
SKUS = Resource("raw.catalog_skus", CATALOG_SKU_FIELDS, CATALOG_SKU, _sku_rows)
AVAILABILITIES = Resource(
    "raw.catalog_availabilities", CATALOG_AVAILABILITY_FIELDS, CATALOG_AVAILABILITY, _availability_rows
)


def _fan_out(ctx: ExtractContext, requests: Sequence[Request], concurrency: int) -> Iterator[Page]:
    """Every request's pages, fetched `concurrency` at a time, yielded in request order and renumbered."""

    def fetch(request: Request) -> list[Page]:
        path, params, context = request
        pages = OffsetPaginator(path, params).pages(ctx.client)
        return [Page(0, p.items, p.response, context=context) for p in pages]

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="recon-catalog")
    number = 0
    try:
        for pages in pool.map(fetch, requests):
            for page in pages:
                number += 1
                yield Page(number, page.items, page.response, context=page.context)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _country_of(customer: Mapping[str, Any]) -> str | None:
    """A customer's country from its billing address (GET by id) or company address."""
    billing = _obj(_obj(customer.get("billingProfile")).get("defaultAddress")).get("country")
    company = _obj(_obj(customer.get("companyProfile")).get("address")).get("country")
    code = str(billing or company or "").strip().upper()
    return code if len(code) == 2 and code.isalpha() else None


def _snapshot_countries(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Customer id -> country from the latest complete customers snapshot in the database."""
    rows = con.execute(
        "SELECT id, upper(country) FROM raw.customers WHERE country IS NOT NULL AND length(country) = 2 AND load_id = "
        "(SELECT load_id FROM meta.loads WHERE dataset = 'customers' AND status = 'complete' "
        "ORDER BY as_of DESC, finished_at DESC LIMIT 1)"
    ).fetchall()
    return {str(i): str(c) for i, c in rows}


def customer_countries(ctx: ExtractContext, customer_pages: Sequence[Page], concurrency: int) -> list[str]:
    """The customers' countries: from the customer list, else the latest snapshot, else each customer by id.

    The customer list carries no address (commerce.md 8.1), so customers whose country no snapshot knows are
    read by id (`billingProfile.defaultAddress.country`), `concurrency` at a time.
    """
    customers = [c for p in customer_pages for c in p.items if c.get("id")]
    known = {str(c["id"]): code for c in customers if (code := _country_of(c))}
    unknown = [str(c["id"]) for c in customers if str(c["id"]) not in known]
    if unknown:
        stored = _snapshot_countries(ctx.con)
        known.update({i: stored[i] for i in unknown if i in stored})
        unknown = [i for i in unknown if i not in known]
    if unknown:
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="recon-customer") as pool:
            found = pool.map(lambda i: _country_of(_obj(ctx.client.get_json(f"/customers/{i}").data)), unknown)
            known.update({i: code for i, code in zip(unknown, found, strict=True) if code})
    if not known:
        raise ReconError(
            "catalog: no customer has a known country; set RECON_CATALOG_COUNTRIES (e.g. NL,DE) to choose the catalog"
        )
    return sorted(set(known.values()))


Key = Callable[[Mapping[str, Any], Mapping[str, str]], tuple[str, ...]]


def _product_key(item: Mapping[str, Any], context: Mapping[str, str]) -> tuple[str, ...]:
    return (context["country"], str(item["id"]))


def _sku_key(item: Mapping[str, Any], context: Mapping[str, str]) -> tuple[str, ...]:
    return (context["country"], str(item.get("productId") or context["product_id"]), str(item["id"]))


@dataclass
class CatalogExtraction:
    """The catalog's three units, landed in order: products, then their SKUs, then the SKUs' availabilities."""

    ctx: ExtractContext
    configured: Sequence[str]
    customer_pages: Sequence[Page]
    concurrency: int
    countries: list[str] = field(default_factory=list)
    products: list[tuple[str, ...]] = field(default_factory=list)
    skus: list[tuple[str, ...]] = field(default_factory=list)

    def _land(
        self, unit: str, resource: Resource, requests: Sequence[Request], key: Key | None = None
    ) -> tuple[UnitResult, list[tuple[str, ...]]]:
        """Land one unit; with `key`, also return the keys of the items landed (what the next unit asks for)."""
        keys: dict[tuple[str, ...], None] = {}

        def source(_: ResumePoint | None) -> Iterator[Page]:
            keys.clear()
            for page in _fan_out(self.ctx, requests, self.concurrency):
                if key is not None:
                    keys.update(dict.fromkeys(key(item, page.context) for item in page.items if item.get("id")))
                yield page

        result = land_unit(
            self.ctx,
            dataset=DATASET,
            unit=unit,
            resource=resource,
            source=source,
            params={"countries": self.countries, "target_views": list(TARGET_VIEWS), "requests": len(requests)},
            snapshot="date",
        )
        return result, list(keys)

    def land_products(self) -> UnitResult:
        """Resolve the countries, then land every country's products of each target view."""
        self.countries = list(self.configured) or customer_countries(self.ctx, self.customer_pages, self.concurrency)
        requests = [
            ("/products", {"country": c, "targetView": v}, {"country": c, "target_view": v})
            for c in self.countries
            for v in TARGET_VIEWS
        ]
        result, self.products = self._land("products", PRODUCTS, requests, _product_key)
        return result

    def land_skus(self) -> UnitResult:
        """Land the SKUs of every product landed."""
        requests = [(f"/products/{p}/skus", {"country": c}, {"country": c, "product_id": p}) for c, p in self.products]
        result, self.skus = self._land("skus", SKUS, requests, _sku_key)
        return result

    def land_availabilities(self) -> UnitResult:
        """Land the availabilities (with their terms) of every SKU landed."""
        requests = [
            (f"/products/{p}/skus/{s}/availabilities", {"country": c}, {"country": c, "product_id": p, "sku_id": s})
            for c, p, s in self.skus
        ]
        return self._land("availabilities", AVAILABILITIES, requests)[0]
