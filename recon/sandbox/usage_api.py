"""Billing v1 daily rated usage (billed and unbilled `usagelineitems`) and estimate links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from recon.sandbox.azure import AZURE_PRODUCT_ID, AZURE_PRODUCT_NAME, AZURE_SKU_ID, PRICING_CURRENCY
from recon.sandbox.jsonenc import MARK, unmark
from recon.sandbox.paging import link, lower_query
from recon.sandbox.responses import json_response, pc_error

if TYPE_CHECKING:
    from recon.sandbox.usage import Usage
    from recon.sandbox.world import World

Paged = Callable[[Request, str, int, Callable[[int, int], bytes]], Response]

# Every field of DailyRatedUsageLineItem (billing.md §4.6), in the reference's order.
USAGE_FIELDS = [
    "partnerId",
    "partnerName",
    "customerId",
    "customerName",
    "customerDomainName",
    "customerCountry",
    "mpnId",
    "resellerMpnId",
    "invoiceNumber",
    "productId",
    "skuId",
    "availabilityId",
    "skuName",
    "productName",
    "publisherName",
    "publisherId",
    "subscriptionId",
    "subscriptionDescription",
    "chargeStartDate",
    "chargeEndDate",
    "usageDate",
    "meterType",
    "meterCategory",
    "meterId",
    "meterSubCategory",
    "meterName",
    "meterRegion",
    "unitOfMeasure",
    "resourceLocation",
    "consumedService",
    "resourceGroup",
    "resourceUri",
    "tags",
    "additionalInfo",
    "serviceInfo1",
    "serviceInfo2",
    "chargeType",
    "unitPrice",
    "quantity",
    "unitType",
    "billingPreTaxTotal",
    "billingCurrency",
    "pricingPreTaxTotal",
    "pricingCurrency",
    "entitlementId",
    "entitlementDescription",
    "pcToBCExchangeRate",
    "pcToBCExchangeRateDate",
    "effectiveUnitPrice",
    "rateOfPartnerEarnedCredit",
    "hasPartnerEarnedCredit",
    "rateOfCredit",
    "creditType",
    "benefitOrderId",
    "benefitId",
    "benefitType",
    "invoiceLineItemType",
    "billingProvider",
    "attributes",
]
PARTNER_NAME = "Contoso Cloud Partner B.V."
_TS = "%Y-%m-%dT00:00:00Z"


def _fixed(col: str, places: int, keep: int) -> pl.Expr:
    """A non-negative integer column in units of 10^-places as decimal text with at least `keep` places."""
    unit = 10**places
    text = pl.format("{}.{}", pl.col(col) // unit, (pl.col(col) % unit).cast(pl.String).str.zfill(places))
    if keep == 0:
        text = text.str.replace(r"^(\d+)\.0+$", "${1}").str.replace(r"^(\d+\.\d*?)0+$", "${1}")
    else:
        text = text.str.replace(r"^(\d+\.\d{" + str(keep) + r"}\d*?)0+$", "${1}")
    return pl.lit(MARK) + text


def _side_frames(world: World) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-resource and per-plan columns of the usage rows (built once per world)."""
    usage: Usage = world.usage
    cached = getattr(usage, "_frames", None)
    if cached is not None:
        return cached
    res = usage.resources
    res_frame = pl.DataFrame(
        {
            "meterType": ["Consumption"] * len(res),
            "meterCategory": [r.meter.category for r in res],
            "meterId": [r.meter_id for r in res],
            "meterSubCategory": [r.meter.subcategory for r in res],
            "meterName": [r.meter.name for r in res],
            "meterRegion": [r.region for r in res],
            "unitOfMeasure": [r.meter.unit for r in res],
            "resourceLocation": [r.location for r in res],
            "consumedService": [r.meter.service for r in res],
            "resourceGroup": [r.group for r in res],
            "resourceUri": [r.uri for r in res],
            "tags": [r.tags for r in res],
            "additionalInfo": [r.info for r in res],
            "entitlementId": [r.entitlement for r in res],
            "entitlementDescription": [r.entitlement_name for r in res],
            "unitType": [r.meter.unit for r in res],
        },
        schema_overrides={"meterType": pl.String},
    )
    custs = [world.customers[p.customer] for p in usage.plans]
    plan_frame = pl.DataFrame(
        {
            "customerId": [c.id for c in custs],
            "customerName": [c.name for c in custs],
            "customerDomainName": [c.domain for c in custs],
            "customerCountry": [c.country for c in custs],
            "reseller": [str(c.reseller_mpn) if c.reseller_mpn else "" for c in custs],
            "subscriptionId": [p.subscription_id for p in usage.plans],
            "availabilityId": [p.availability_id for p in usage.plans],
        },
        schema={
            "customerId": pl.String,
            "customerName": pl.String,
            "customerDomainName": pl.String,
            "customerCountry": pl.String,
            "reseller": pl.String,
            "subscriptionId": pl.String,
            "availabilityId": pl.String,
        },
    )
    usage._frames = (res_frame, plan_frame)  # type: ignore[attr-defined]
    return res_frame, plan_frame


def usage_shown(world: World, rows: pl.DataFrame, invoice: str) -> pl.DataFrame:
    """DailyRatedUsageLineItem columns of `rows` as written (numbers as MARK + exact text); unbilled: invoice ""."""
    res_frame, plan_frame = _side_frames(world)
    side = pl.concat(
        [
            res_frame.select(pl.all().gather(rows["res"])),
            plan_frame.select(pl.all().gather(rows["plan"])),
        ],
        how="horizontal",
    )
    frame = pl.concat([rows, side], how="horizontal")
    end = pl.col("period").dt.month_end()
    pec = pl.col("pec")
    constants = {
        "partnerId": world.partner_id,
        "partnerName": PARTNER_NAME,
        "mpnId": world.mpn_id,
        "invoiceNumber": invoice,
        "productId": AZURE_PRODUCT_ID,
        "skuId": AZURE_SKU_ID,
        "skuName": AZURE_PRODUCT_NAME,
        "productName": AZURE_PRODUCT_NAME,
        "publisherName": "Microsoft Corporation",
        "publisherId": "",
        "subscriptionDescription": AZURE_PRODUCT_NAME,
        "serviceInfo1": "",
        "serviceInfo2": "",
        "chargeType": "new",
        "billingCurrency": world.billing_currency,
        "pricingCurrency": PRICING_CURRENCY,
        "benefitOrderId": "",
        "benefitId": "",
        "benefitType": "",
        "invoiceLineItemType": "usage_line_items",
        "billingProvider": "marketplace",
    }
    return frame.with_columns(
        *[pl.lit(v, dtype=pl.String).alias(k) for k, v in constants.items()],
        resellerMpnId=pl.col("reseller") if invoice else pl.lit(""),
        chargeStartDate=pl.col("period").dt.strftime(_TS),
        chargeEndDate=end.dt.strftime(_TS),
        usageDate=pl.col("usageDate").dt.strftime(_TS),
        pcToBCExchangeRateDate=pl.col("period").dt.strftime(_TS),
        unitPrice=_fixed("up", 6, 0),
        quantity=_fixed("q", 6, 0),
        billingPreTaxTotal=_fixed("bill", 2, 2),
        pricingPreTaxTotal=_fixed("price", 2, 2),
        pcToBCExchangeRate=_fixed("fxn", 9, 0),
        effectiveUnitPrice=pl.lit(MARK)
        + pl.when(pec)
        .then(pl.format("{}", pl.col("up") * 85))
        .otherwise(pl.format("{}", pl.col("up") * 100))
        .str.zfill(9)
        .str.replace(r"^(\d+)(\d{8})$", "${1}.${2}")
        .str.replace(r"^0*(\d)", "${1}")
        .str.replace(r"^(\d+)\.0+$", "${1}")
        .str.replace(r"^(\d+\.\d*?)0+$", "${1}"),
        rateOfPartnerEarnedCredit=pl.lit(MARK) + pl.when(pec).then(pl.lit("0.15")).otherwise(pl.lit("0")),
        hasPartnerEarnedCredit=pec,
        rateOfCredit=pl.lit(MARK + "0"),
        creditType=pl.when(pec).then(pl.lit("Partner Earned Credit Applied")).otherwise(pl.lit("Credit Not Applied")),
        attributes=pl.struct(pl.lit("DailyRatedUsageLineItem").alias("objectType")),
    ).select(USAGE_FIELDS)


def usage_json(world: World, rows: pl.DataFrame, invoice: str) -> bytes:
    """The JSON array of DailyRatedUsageLineItem resources for `rows`."""
    return unmark(usage_shown(world, rows, invoice).write_json()) if rows.height else b"[]"


def has_billed_usage(world: World, inv: dict[str, Any]) -> bool:
    """Whether an invoice carries daily rated usage (an `invoiceDetails` entry announces it)."""
    if inv.get("documentType", "invoice") != "invoice" or inv.get("legacy"):
        return False
    rows = world.usage.rows(inv["periodStart"])
    return rows is not None and rows.height > 0


def billed_usage(request: Request, world: World, inv: dict[str, Any], paged: Paged) -> Response:
    """E8: the billed daily rated usage of an invoice's month (none for credit notes and legacy invoices)."""
    query = lower_query(list(request.query_params.multi_items()))
    period = query.get("period", "").lower()
    if period not in ("", "current", "previous"):
        return pc_error(400, "400", "period must be current or previous.")
    currency = query.get("currencycode", "").upper()
    plain = inv.get("documentType", "invoice") == "invoice" and not inv.get("legacy")
    rows = world.usage.rows(inv["periodStart"]) if plain and currency in ("", inv["currency"]) else None
    rows, pec = _pec_only(rows, query)
    total = rows.height if rows is not None else 0
    return paged(
        request,
        f"{inv['id']}|usagelineitems|{currency}|{pec}",
        total,
        lambda o, n: usage_json(world, rows.slice(o, n), inv["id"]) if rows is not None else b"[]",
    )


def unbilled_usage_rows(world: World, currency: str, period: str) -> tuple[date | None, pl.DataFrame | None]:
    """The month `period` names and its unbilled daily rows (None when invoiced or another currency)."""
    month = world.unbilled_month(period)
    if month is None or currency.upper() != world.billing_currency:
        return month, None
    return month, world.usage.rows(month)


def unbilled_usage(request: Request, world: World, paged: Paged) -> Response:
    """E9: unbilled daily rated usage of the current or previous month (`resellerMpnId` blank)."""
    query = lower_query(list(request.query_params.multi_items()))
    currency, period = query.get("currencycode", "").upper(), query.get("period", "").lower()
    if not currency or period not in ("current", "previous"):
        return pc_error(400, "400", "currencycode and period (current or previous) are required.")
    month, rows = unbilled_usage_rows(world, currency, period)
    rows, pec = _pec_only(rows, query)
    total = rows.height if rows is not None else 0
    return paged(
        request,
        f"unbilled|{currency}|{period}|usagelineitems|{month}|{pec}",
        total,
        lambda o, n: usage_json(world, rows.slice(o, n), "") if rows is not None else b"[]",
    )


def _pec_only(rows: pl.DataFrame | None, query: dict[str, str]) -> tuple[pl.DataFrame | None, bool]:
    """`hasPartnerEarnedCredit=true` keeps only the rows that earned PEC (billing.md E6); other values: all rows."""
    pec = query.get("haspartnerearnedcredit", "").lower() == "true"
    return (rows.filter(pl.col("pec")) if pec and rows is not None else rows), pec


def estimate_links(request: Request) -> Response:
    """E5: GET /v1/invoices/estimates/links?currencycode=: unbilled usage and recon links, current and previous."""
    query = lower_query(list(request.query_params.multi_items()))
    currency = query.get("currencycode", "").upper()
    if not currency:
        return pc_error(400, "400", "currencycode is required.")
    items = []
    kinds = [
        ("daily_rated_usage", "Daily rated usage unbilled", "Marketplace", "UsageLineItems"),
        ("non_consumption", "Unbilled reconciliation line items", "all", "billinglineitems"),
    ]
    for kind, title, provider, item_type in kinds:
        for period in ("Current", "Previous"):
            uri = (
                f"/invoices/unbilled/lineitems?provider={provider}&invoicelineitemtype={item_type}"
                f"&currencycode={currency}&period={period.lower()}&size=2000"
            )
            items.append(
                {
                    "type": kind,
                    "title": title,
                    "description": f"{title} for the {period.lower()} billing period in {currency}.",
                    "period": period,
                    "link": link(uri),
                }
            )
    return json_response({"totalCount": len(items), "items": items, "attributes": {"objectType": "Collection"}})


ROUTES = [Route("/v1/invoices/estimates/links", estimate_links, methods=["GET"])]
