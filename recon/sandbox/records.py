"""Lines and invoices as polars frames, and their rendering as Partner Center JSON resources."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import Any

import polars as pl

from recon.sandbox.billing import display_eup
from recon.sandbox.catalog import SYMBOLS
from recon.sandbox.jsonenc import MARK, unmark
from recon.sandbox.lines import Line
from recon.sandbox.population import Customer, Subscription
from recon.sandbox.rand import guid_of

# Every field of OneTimeInvoiceLineItem (billing.md §4.5), in the reference's order.
LINE_FIELDS = [
    "partnerId",
    "customerId",
    "customerName",
    "customerDomainName",
    "customerCountry",
    "invoiceNumber",
    "mpnId",
    "resellerMpnId",
    "orderId",
    "orderDate",
    "productId",
    "skuId",
    "availabilityId",
    "productName",
    "skuName",
    "productQualifiers",
    "chargeType",
    "unitPrice",
    "effectiveUnitPrice",
    "unitType",
    "quantity",
    "subtotal",
    "taxTotal",
    "totalForCustomer",
    "currency",
    "publisherName",
    "publisherId",
    "subscriptionDescription",
    "subscriptionId",
    "subscriptionStartDate",
    "subscriptionEndDate",
    "chargeStartDate",
    "chargeEndDate",
    "termAndBillingCycle",
    "alternateId",
    "referenceId",
    "priceAdjustmentDescription",
    "discountDetails",
    "pricingCurrency",
    "pcToBCExchangeRate",
    "pcToBCExchangeRateDate",
    "billableQuantity",
    "meterDescription",
    "billingFrequency",
    "reservationOrderId",
    "creditReasonCode",
    "promotionId",
    "invoiceLineItemType",
    "billingProvider",
    "attributes",
]
DATE_FIELDS = [
    "orderDate",
    "subscriptionStartDate",
    "subscriptionEndDate",
    "chargeStartDate",
    "chargeEndDate",
    "pcToBCExchangeRateDate",
]
MONEY = pl.Decimal(18, 2)
CENT, ONE = Decimal("0.01"), Decimal(1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _decimals(values: Iterable[Decimal], dtype: pl.DataType) -> pl.Series:
    """Exact Decimals to a polars Decimal series (through their text, which is fast and exact)."""
    return pl.Series(list(map(str, values)), dtype=pl.String).cast(dtype)


def _dates(values: Iterable[date]) -> pl.Series:
    return (pl.Series(list(map(date.toordinal, values)), dtype=pl.Int32) - _EPOCH_ORDINAL).cast(pl.Date)


def _eup_text(eup: Decimal) -> str:
    text = str(eup)
    dot = text.find(".")
    return text if dot < 0 or len(text) - dot <= 7 else str(display_eup(eup))


def lines_frame(lines: list[Line], invoice_of: dict[date, str]) -> pl.DataFrame:
    """One row per line with the line-level fields; `invoice_of` maps billed periods to invoice ids."""

    def col(name: str) -> list[Any]:
        return list(map(attrgetter(name), lines))

    frame = pl.DataFrame(
        {
            "sub": pl.Series(col("sub"), dtype=pl.Int32),
            "seq": pl.int_range(len(lines), dtype=pl.Int32, eager=True),
            "orderId": col("order_id"),
            "orderDate": _dates(col("order_date")),
            "chargeType": col("charge_type"),
            "unitPrice": _decimals(col("unit_price"), MONEY),
            "effectiveUnitPrice": pl.Series(list(map(_eup_text, col("eup")))).cast(pl.Decimal(18, 6)),
            "quantity": pl.Series(col("quantity"), dtype=pl.Int32),
            "subtotal": _decimals(col("subtotal"), MONEY),
            "taxTotal": _decimals(col("tax"), MONEY),
            "totalForCustomer": _decimals(col("total"), MONEY),
            "pcToBCExchangeRate": _decimals(col("fx"), pl.Decimal(18, 9)),
            "subscriptionStartDate": _dates(col("term_start")),
            "subscriptionEndDate": _dates(col("term_end")),
            "chargeStartDate": _dates(col("charge_start")),
            "chargeEndDate": _dates(col("charge_end")),
            "referenceId": list(map(guid_of, col("rid"))),
            "promotionId": col("promotion_id"),
            "priceAdjustmentDescription": col("price_adjustment"),
        }
    )
    periods = {p.isoformat(): inv for p, inv in invoice_of.items()}
    return frame.with_columns(period=pl.col("orderDate").dt.month_start()).with_columns(
        pcToBCExchangeRateDate=pl.col("period"),
        invoiceNumber=pl.col("period").cast(pl.String).replace_strict(periods, default=""),
    )


def subs_frame(subs: list[Subscription], customers: list[Customer]) -> pl.DataFrame:
    """Per-subscription fields that every line of the subscription repeats."""
    cust = [customers[s.customer] for s in subs]
    return pl.DataFrame(
        {
            "sub": [s.idx for s in subs],
            "cust": [s.customer for s in subs],
            "customerId": [c.id for c in cust],
            "customerName": [c.name for c in cust],
            "customerDomainName": [c.domain for c in cust],
            "customerCountry": [c.country for c in cust],
            "resellerMpnId": [c.reseller_mpn for c in cust],
            "productId": [s.avail.product.product_id for s in subs],
            "skuId": [s.avail.product.sku_id for s in subs],
            "availabilityId": [s.avail.availability_id for s in subs],
            "productName": [s.avail.product.product_name for s in subs],
            "skuName": [s.avail.product.sku_name for s in subs],
            "subscriptionDescription": [s.avail.product.sku_name for s in subs],
            "subscriptionId": [s.id for s in subs],
            "termAndBillingCycle": [s.avail.term_and_billing_cycle for s in subs],
            "pricingCurrency": [c.currency for c in cust],
            "billingFrequency": [s.avail.billing_frequency for s in subs],
        },
        schema_overrides={"sub": pl.Int32, "cust": pl.Int32},
    )


def render_lines(frame: pl.DataFrame, constants: dict[str, Any]) -> list[dict[str, Any]]:
    """OneTimeInvoiceLineItem resources for the rows of `frame`, numbers as Decimal (the Python view)."""
    shown = frame.with_columns(pl.col(DATE_FIELDS).dt.strftime("%Y-%m-%dT00:00:00Z"))
    out = []
    for row in shown.to_dicts():
        row.update({k: v for k, v in constants.items() if k not in row})  # per-line columns win (usage lines)
        row["alternateId"] = row["orderId"]
        row["billableQuantity"] = _trim(Decimal(row.get("billableQuantity", row["quantity"])), ONE)
        row["unitPrice"] = _trim(row["unitPrice"], CENT)
        row["effectiveUnitPrice"] = _trim(row["effectiveUnitPrice"], CENT)
        row["pcToBCExchangeRate"] = _trim(row["pcToBCExchangeRate"], ONE)
        out.append({k: row[k] for k in LINE_FIELDS})
    return out


def lines_json(frame: pl.DataFrame, constants: dict[str, Any]) -> bytes:
    """The JSON array of OneTimeInvoiceLineItem resources for `frame`, written by polars (fast, exact)."""
    shown = lines_shown(frame, constants)
    return unmark(shown.write_json()) if shown.height else b"[]"


def lines_shown(frame: pl.DataFrame, constants: dict[str, Any]) -> pl.DataFrame:
    """The LINE_FIELDS columns of `frame` as written: dates as text, numbers as MARK + exact text."""
    literals = []
    for name, value in constants.items():
        if name in frame.columns:  # per-line columns win over constants (usage lines, credit notes)
            continue
        if name == "attributes":
            literals.append(pl.struct(pl.lit(value["objectType"]).alias("objectType")).alias(name))
        elif name == "productQualifiers":
            literals.append(pl.lit(value, dtype=pl.List(pl.String)).alias(name))
        else:
            literals.append(pl.lit(value).alias(name))
    quantity = pl.col("billableQuantity") if "billableQuantity" in frame.columns else pl.col("quantity")
    return (
        frame.with_columns(
            pl.col(DATE_FIELDS).dt.strftime("%Y-%m-%dT00:00:00Z"),
            *literals,
            billableQuantity=quantity,
        )
        .with_columns(*_marked_numbers(), alternateId=pl.col("orderId"))
        .select(LINE_FIELDS)
    )


def _marked_numbers() -> list[pl.Expr]:
    """Decimal columns as MARK + exact text, trimmed like `_trim` (EUP keeps 2 places, the rate none)."""

    def text(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.String)

    def cents(name: str) -> pl.Expr:  # at least two places (unit prices of Azure meters carry more)
        return text(name).str.replace(r"^(-?\d+\.\d\d\d*?)0+$", "${1}")

    def whole(name: str) -> pl.Expr:  # as few places as the value needs (9 decimals of a rate, seats)
        return text(name).str.replace(r"^(-?\d+)\.0+$", "${1}").str.replace(r"^(-?\d+\.\d*?)0+$", "${1}")

    money = [(pl.lit(MARK) + text(c)).alias(c) for c in ("subtotal", "taxTotal", "totalForCustomer")]
    trimmed = [(pl.lit(MARK) + cents(c)).alias(c) for c in ("unitPrice", "effectiveUnitPrice")]
    trimmed += [(pl.lit(MARK) + whole(c)).alias(c) for c in ("pcToBCExchangeRate", "billableQuantity")]
    return [*money, *trimmed]


def _trim(value: Decimal, floor: Decimal) -> Decimal:
    """Drop trailing zeros of a fixed-scale column, keeping at least the places of `floor` (9.408, 1)."""
    trimmed = value.normalize()
    return trimmed if _places(trimmed) >= _places(floor) else trimmed.quantize(floor)


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) else 0


LINE_CONSTANTS = {
    "productQualifiers": [],
    "unitType": "",
    "publisherName": "Microsoft Corporation",
    "publisherId": "",
    "discountDetails": "",
    "meterDescription": "",
    "reservationOrderId": "",
    "creditReasonCode": "",
    "invoiceLineItemType": "billing_line_items",
    "billingProvider": "one_time",
    "attributes": {"objectType": "OneTimeInvoiceLineItem"},
}


def _ts(d: date) -> str:
    return f"{d.isoformat()}T00:00:00Z"


def invoice_resource(inv: dict[str, Any], *, usage: bool = False) -> dict[str, Any]:
    """The Invoice resource (billing.md §4.2) of one invoice record; `usage` announces daily rated usage."""
    iid = inv["id"]
    item_type, provider, detail_uri = inv.get(
        "detail", ("billing_line_items", "one_time", f"/invoices/{iid}/lineitems/OneTime/BillingLineItems")
    )
    details = [(item_type, provider, detail_uri)]
    if usage:
        details.append(("usage_line_items", "marketplace", f"/invoices/{iid}/lineitems/OneTime/UsageLineItems"))
    return {
        "id": iid,
        "invoiceDate": _ts(inv["invoiceDate"]),
        "billingPeriodStartDate": _ts(inv["periodStart"]),
        "billingPeriodEndDate": _ts(inv["periodEnd"]),
        "totalCharges": inv["totalCharges"],
        "paidAmount": inv["paidAmount"],
        "currencyCode": inv["currency"],
        "currencySymbol": SYMBOLS.get(inv["currency"], inv["currency"]),
        "pdfDownloadLink": f"/invoices/{iid}/documents/statement",
        "taxReceipts": [],
        "invoiceDetails": [
            {
                "invoiceLineItemType": kind,
                "billingProvider": prov,
                "links": {"self": {"uri": uri, "method": "GET", "headers": []}},
                "attributes": {"objectType": "InvoiceDetail"},
            }
            for kind, prov, uri in details
        ],
        "amendments": [invoice_resource(a) for a in inv.get("amendments", [])],
        "documentType": inv.get("documentType", "invoice"),
        "amendsOf": inv.get("amendsOf", ""),
        "invoiceType": inv.get("invoiceType", "OneTime"),
        "status": "active",
        "links": {"self": {"uri": f"/invoices/{iid}", "method": "GET", "headers": []}},
        "attributes": {"objectType": "Invoice"},
    }
