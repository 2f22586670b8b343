"""The `large` world: narrow line frames (ids and amounts as integers) widened to full lines one page at a time.

A million lines with every customer, product and id column would take gigabytes; the `large` frames keep one
row per line with integer keys into small tables (customers, offers, meters) and integer amounts, and
`line_rows` / `unbilled_page_rows` build the OneTimeInvoiceLineItem columns of the requested page only, so a
page costs what its own rows cost and no page's JSON is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import polars as pl

from recon.sandbox.azure import AZURE_PRODUCT_ID, AZURE_PRODUCT_NAME, AZURE_SKU_ID, PRICING_CURRENCY
from recon.sandbox.catalog import AVAILABILITIES
from recon.sandbox.large_hash import guid_text, hex_text
from recon.sandbox.large_population import SeatPopulation
from recon.sandbox.large_rating import ADJUSTMENTS
from recon.sandbox.large_replay import CHARGE_TYPES
from recon.sandbox.population import Customer
from recon.sandbox.world import World

# One row per line; ids, texts and decimals are made per page by `widen`.
LINE_SCHEMA: dict[str, pl.DataType] = {
    "sub": pl.Int32(),  # seat subscription idx; ledger subscriptions and Azure plans follow (see Tables.extra_ids)
    "cust": pl.Int32(),
    "av": pl.Int16(),  # offer: catalog.AVAILABILITIES index, or len(AVAILABILITIES) for the Azure plan
    "seq": pl.Int64(),  # order of the line within its subscription
    "ct": pl.UInt8(),  # chargeType (large_replay.CHARGE_TYPES)
    "oid": pl.UInt64(),  # 48-bit order id
    "orderDate": pl.Date(),
    "up": pl.Int64(),  # unitPrice in millionths
    "eup": pl.Int128(),  # effectiveUnitPrice in 1e-15, signed
    "quantity": pl.Int32(),
    "bq": pl.Int64(),  # billableQuantity in millionths
    "subtotal": pl.Int64(),  # cents
    "tax": pl.Int64(),
    "total": pl.Int64(),
    "fx": pl.Int64(),  # pcToBCExchangeRate in billionths
    "termStart": pl.Date(),
    "termEnd": pl.Date(),
    "chargeStart": pl.Date(),
    "chargeEnd": pl.Date(),
    "rid_hi": pl.UInt64(),  # referenceId (128 bits)
    "rid_lo": pl.UInt64(),
    "adj": pl.UInt8(),  # priceAdjustmentDescription (large_rating.ADJUSTMENTS, the last one is PEC)
    "period": pl.Date(),
    "meter": pl.Int16(),  # Azure meter (Tables.meter_*), -1 for seats
}


def _scaled(col: str, places: int, dtype: pl.DataType) -> pl.Expr:
    return (pl.col(col).cast(pl.Decimal(38, 0)) * pl.lit(Decimal(1).scaleb(-places))).cast(dtype)


@dataclass
class Tables:
    """The small tables a page is widened from."""

    pop: SeatPopulation
    customers: pl.DataFrame  # by cust: customerId ... pricingCurrency
    offers: pl.DataFrame  # by av: productId ... billingFrequency
    extra_ids: pl.DataFrame  # subscriptionId, promotionId of subs >= len(pop): ledger subscriptions, Azure plans
    meter_unit: pl.Series
    meter_text: pl.Series
    invoice_of: dict[date, str]


def tables(
    pop: SeatPopulation,
    customers: list[Customer],
    azure_availability: str,
    extra_ids: pl.DataFrame,
    meter_unit: list[str],
    meter_text: list[str],
    invoice_of: dict[date, str],
) -> Tables:
    """The widening tables of a world."""
    custs = pl.DataFrame(
        {
            "customerId": [c.id for c in customers],
            "customerName": [c.name for c in customers],
            "customerDomainName": [c.domain for c in customers],
            "customerCountry": [c.country for c in customers],
            "resellerMpnId": pl.Series([c.reseller_mpn for c in customers], dtype=pl.Int64),
            "pricingCurrency": [c.currency for c in customers],
        }
    )
    azure = (AZURE_PRODUCT_ID, AZURE_SKU_ID, azure_availability, AZURE_PRODUCT_NAME, AZURE_PRODUCT_NAME, "", "")
    rows = [
        (
            a.product.product_id,
            a.product.sku_id,
            a.availability_id,
            a.product.product_name,
            a.product.sku_name,
            a.term_and_billing_cycle,
            a.billing_frequency,
        )
        for a in AVAILABILITIES
    ] + [azure]
    names = ["productId", "skuId", "availabilityId", "productName", "skuName", "termAndBillingCycle"]
    offers = pl.DataFrame(rows, schema=[*names, "billingFrequency"], orient="row")
    units = pl.Series(meter_unit or [""], dtype=pl.String)  # never empty: seat rows gather row 0 and drop it
    texts = pl.Series(meter_text or [""], dtype=pl.String)
    return Tables(pop, custs, offers, extra_ids, units, texts, invoice_of)


def _where(mask: np.ndarray, yes: pl.Series, no: pl.Series | str) -> pl.Series:
    other = pl.Series([no] * len(mask), dtype=pl.String) if isinstance(no, str) else no
    return yes.zip_with(pl.Series(mask), other)


def widen(frame: pl.DataFrame, t: Tables) -> pl.DataFrame:
    """The OneTimeInvoiceLineItem columns of some narrow rows (the constants are added by records.lines_shown)."""
    sub, adj, meter = (frame[c].to_numpy() for c in ("sub", "adj", "meter"))
    seat = sub < len(t.pop)
    seat_sub = np.where(seat, sub, 0)
    promo = seat & (adj > 0) & (adj < len(ADJUSTMENTS) - 1)
    codes = pl.Series([""] * len(sub), dtype=pl.String)
    if promo.any():
        codes = codes.scatter(np.nonzero(promo)[0], t.pop.promo_codes(sub[promo]))
    extra = t.extra_ids[np.where(seat, 0, sub - len(t.pop))] if t.extra_ids.height else None
    offers = t.offers[frame["av"].to_numpy()]
    custs = t.customers[frame["cust"].to_numpy()]
    has_meter = meter >= 0
    at = np.where(has_meter, meter, 0)
    seat_promo = _where(promo, offers["productId"] + ":" + offers["skuId"] + ":" + codes, "")
    azure = (frame["av"] == len(AVAILABILITIES)).to_numpy()
    return pl.concat([frame, custs, offers], how="horizontal").with_columns(
        subscriptionDescription=pl.col("skuName"),
        invoiceNumber=pl.col("period")
        .cast(pl.String)
        .replace_strict({p.isoformat(): i for p, i in t.invoice_of.items()}, default=""),
        orderId=hex_text(frame["oid"].to_numpy(), 12),
        chargeType=pl.Series(CHARGE_TYPES).gather(frame["ct"]),
        unitPrice=_scaled("up", 6, pl.Decimal(18, 6)),
        effectiveUnitPrice=_scaled("eup", 15, pl.Decimal(38, 15)),
        billableQuantity=_scaled("bq", 6, pl.Decimal(18, 6)),
        subtotal=_scaled("subtotal", 2, pl.Decimal(18, 2)),
        taxTotal=_scaled("tax", 2, pl.Decimal(18, 2)),
        totalForCustomer=_scaled("total", 2, pl.Decimal(18, 2)),
        pcToBCExchangeRate=_scaled("fx", 9, pl.Decimal(18, 9)),
        pcToBCExchangeRateDate=pl.col("period"),
        subscriptionId=_where(
            seat,
            guid_text(t.pop.id_hi[seat_sub], t.pop.id_lo[seat_sub]),
            extra["subscriptionId"] if extra is not None else "",
        ),
        subscriptionStartDate=pl.col("termStart"),
        subscriptionEndDate=pl.col("termEnd"),
        chargeStartDate=pl.col("chargeStart"),
        chargeEndDate=pl.col("chargeEnd"),
        referenceId=guid_text(frame["rid_hi"].to_numpy(), frame["rid_lo"].to_numpy()),
        priceAdjustmentDescription=pl.Series(ADJUSTMENTS).gather(frame["adj"]),
        promotionId=_where(seat, seat_promo, extra["promotionId"] if extra is not None else ""),
        pricingCurrency=_where(azure, pl.Series([PRICING_CURRENCY] * len(sub)), custs["pricingCurrency"]),
        unitType=_where(has_meter, t.meter_unit.gather(at), ""),
        meterDescription=_where(has_meter, t.meter_text.gather(at), ""),
        creditReasonCode=pl.lit(""),
    )


@dataclass
class LargeWorld(World):
    """A World whose line frames are narrow (LINE_SCHEMA); pages are widened when they are served."""

    tables: Tables | None = field(default=None, repr=False)

    def line_rows(self, invoice_id: str, offset: int, size: int) -> pl.DataFrame:
        """Rows [offset, offset+size) of an invoice's billed lines, with every line column."""
        start, count = self.index.get(invoice_id, (0, 0))
        return self._wide(self.billed.slice(start + offset, max(0, min(size, count - offset))))

    def unbilled_page_rows(self, rows: pl.DataFrame, offset: int, size: int) -> pl.DataFrame:
        """A page of unbilled rows with every line column, `billingFrequency` blanked as unbilled lines show it."""
        return self._wide(rows.slice(offset, size)).with_columns(billingFrequency=pl.lit(""))

    def _wide(self, rows: pl.DataFrame) -> pl.DataFrame:
        if self.tables is None:
            raise RuntimeError("a large world needs its tables")
        return widen(rows, self.tables)
