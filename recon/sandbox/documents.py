"""Isolated billing documents: one legacy (pre-new-commerce) invoice and one credit note.

* The legacy invoice `D…` covers January 2024 and holds legacy license-based lines (`LicenseBasedLineItem`,
  `provider=office`, offset paging). Only v1 serves it; v2 exports answer failed/5000 for it.
* The credit note (`documentType` `adjustment_note`, `amendsOf` the invoice it amends) is issued 9-20 days after
  the world's oldest invoice and credits part of a few of that invoice's charge lines (`customerCredit` lines of
  its own, served like any invoice's lines). Its `totalCharges` is the exact sum of its lines.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import polars as pl

from recon.sandbox.billing import rounddown, seat_subtotal, tax_total
from recon.sandbox.population import Customer
from recon.sandbox.rand import det_guid, det_int, guid_of, mix, stream
from recon.sandbox.usage import SUB_OFFSET

LEGACY_PERIOD = date(2024, 1, 1)
LEGACY_INVOICE_DATE = date(2024, 2, 5)
CREDIT_REASON = "Service level agreement credit"
_LEGACY_OFFERS = [
    ("Office 365 E3", "19.10"),
    ("Office 365 E1", "7.40"),
    ("Microsoft 365 Business Premium", "18.70"),
    ("Exchange Online (Plan 1)", "3.70"),
    ("Microsoft 365 E5", "52.80"),
]
LEGACY_FIELDS = [
    "partnerId",
    "customerId",
    "customerName",
    "mpnId",
    "tier2MpnId",
    "orderId",
    "subscriptionId",
    "syndicationPartnerSubscriptionNumber",
    "offerId",
    "durableOfferId",
    "offerName",
    "domainName",
    "billingCycleType",
    "subscriptionName",
    "subscriptionDescription",
    "subscriptionStartDate",
    "subscriptionEndDate",
    "chargeStartDate",
    "chargeEndDate",
    "chargeType",
    "unitPrice",
    "quantity",
    "amount",
    "totalOtherDiscount",
    "subtotal",
    "tax",
    "totalForCustomer",
    "currency",
    "invoiceLineItemType",
    "billingProvider",
    "attributes",
]


def legacy_invoice_id(seed: int) -> str:
    """The legacy invoice's number: D0 and eight upper-case characters."""
    return "D0" + det_guid(seed, "legacy-invoice").replace("-", "")[:8].upper()


def _ts(d: date) -> str:
    return f"{d.isoformat()}T00:00:00"


def legacy_document(
    seed: int, customers: list[Customer], currency: str, partner_id: str, mpn_id: str, today: date
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The January 2024 legacy invoice record and its LicenseBasedLineItem lines (None before it is issued)."""
    if today < LEGACY_INVOICE_DATE or not customers:
        return None
    iid = legacy_invoice_id(seed)
    lines: list[dict[str, Any]] = []
    end = date(2024, 1, 31)
    for cust in customers[:3]:
        rng = stream(seed, "legacy", cust.idx)
        for n in range(2 + rng.randrange(4)):
            offer, price_text = rng.choice(_LEGACY_OFFERS)
            price = Decimal(price_text)
            qty = 1 + int(rng.paretovariate(1.1)) % 60
            start = date(2021 + rng.randrange(2), 1 + rng.randrange(12), 1 + rng.randrange(28))
            sub = det_guid(seed, "legacy-sub", cust.idx, n).upper()
            charges = [("Cycle fee", LEGACY_PERIOD, end, qty, 1)]
            if rng.random() < 0.35:
                day = LEGACY_PERIOD + timedelta(days=3 + rng.randrange(24))
                added = 1 + rng.randrange(5)
                charges.append(("Prorate fees when purchase", day, end, added, 1))
            if rng.random() < 0.15:
                day = LEGACY_PERIOD + timedelta(days=10 + rng.randrange(18))
                charges.append(("Prorate fees when cancel", day, end, 1, -1))
            for ctype, cs, ce, q, sign in charges:
                days = (ce - cs).days + 1
                amount = rounddown(price * q * days / 31) * sign
                tax = tax_total(amount, cust.tax_rate)
                lines.append(
                    {
                        "partnerId": partner_id,
                        "customerId": cust.id,
                        "customerName": cust.name,
                        "mpnId": int(mpn_id),
                        "tier2MpnId": cust.reseller_mpn or -1,
                        "orderId": det_guid(seed, "legacy-order", cust.idx, n).replace("-", "").upper(),
                        "subscriptionId": sub,
                        "syndicationPartnerSubscriptionNumber": f"{det_int(seed, 'synd', sub) % 10**10:010d}",
                        "offerId": det_guid(seed, "legacy-offer", offer).upper(),
                        "durableOfferId": det_guid(seed, "legacy-durable", offer).upper(),
                        "offerName": offer,
                        "domainName": cust.domain,
                        "billingCycleType": "Monthly",
                        "subscriptionName": offer,
                        "subscriptionDescription": offer,
                        "subscriptionStartDate": _ts(start),
                        "subscriptionEndDate": _ts(start.replace(year=2025)),
                        "chargeStartDate": _ts(cs),
                        "chargeEndDate": _ts(ce),
                        "chargeType": ctype,
                        "unitPrice": price,
                        "quantity": q,
                        "amount": amount,
                        "totalOtherDiscount": Decimal("0.00"),
                        "subtotal": amount,
                        "tax": tax,
                        "totalForCustomer": amount + tax,
                        "currency": currency,
                        "invoiceLineItemType": "billing_line_items",
                        "billingProvider": "office",
                        "attributes": {"objectType": "LicenseBasedLineItem"},
                    }
                )
    total = sum((ln["totalForCustomer"] for ln in lines), Decimal("0.00"))
    record = {
        "id": iid,
        "invoiceDate": LEGACY_INVOICE_DATE,
        "periodStart": LEGACY_PERIOD,
        "periodEnd": date(2024, 1, 31),
        "totalCharges": total,
        "paidAmount": -total,
        "currency": currency,
        "documentType": "invoice",
        "invoiceType": "Recurring",
        "legacy": True,
        "detail": ("billing_line_items", "office", f"/invoices/{iid}/lineitems/Office/BillingLineItems"),
    }
    return record, lines


def credit_note(
    seed: int,
    invoices: list[dict[str, Any]],
    billed: pl.DataFrame,
    index: dict[str, tuple[int, int]],
    customers: list[Customer],
    rounding: str,
    today: date,
) -> tuple[dict[str, Any], pl.DataFrame] | None:
    """A credit note amending the oldest invoice: partial credits of 1-3 of its charge lines (None if not yet)."""
    if not invoices:
        return None
    amended = invoices[0]
    rng = stream(seed, "credit-note", amended["id"])
    issued = amended["invoiceDate"] + timedelta(days=9 + rng.randrange(12))
    if issued > today:
        return None
    start, count = index.get(amended["id"], (0, 0))
    rows = billed.slice(start, count).with_row_index("pos")
    pool = rows.filter(
        pl.col("chargeType").is_in(["new", "renew", "cycleCharge"])
        & (pl.col("sub") < SUB_OFFSET)
        & (pl.col("subtotal") > 0)
    )
    if pool.height == 0:
        return None
    picks = sorted(rng.sample(range(pool.height), min(pool.height, 1 + rng.randrange(3))))
    months = (issued.year - 2020) * 12 + issued.month
    cid = f"G0{10_000_000 + months * 600_000 + 599_000 + det_int(seed, 'credit-note') % 1000}"
    out = []
    for k in picks:
        row = pool.row(k, named=True)
        cust = customers[row["cust"]]
        share = Decimal(rng.randint(700, 3300)) / 10000
        eup = rounddown(abs(row["effectiveUnitPrice"]) * share)
        eup = max(eup, Decimal("0.01"))
        subtotal = -seat_subtotal(eup, row["quantity"], row["pcToBCExchangeRate"], rounding)
        tax = tax_total(subtotal, cust.tax_rate)
        rid = mix(det_int(seed, "credit-line", row["referenceId"]), 5)
        row.update(
            chargeType="customerCredit",
            effectiveUnitPrice=-eup,
            subtotal=subtotal,
            taxTotal=tax,
            totalForCustomer=subtotal + tax,
            invoiceNumber=cid,
            referenceId=guid_of(rid),
            orderId=f"{rid & 0xFFFFFFFFFFFF:012x}",
            orderDate=issued,
            priceAdjustmentDescription=f'["{share * 100:.2f}% service level agreement credit"]',
        )
        row.pop("pos")
        out.append(row)
    frame = pl.DataFrame(out, schema=billed.schema).with_columns(creditReasonCode=pl.lit(CREDIT_REASON))
    total = sum((r["totalForCustomer"] for r in out), Decimal("0.00")).quantize(Decimal("0.01"), ROUND_DOWN)
    record = {
        "id": cid,
        "invoiceDate": issued,
        "periodStart": amended["periodStart"],
        "periodEnd": amended["periodEnd"],
        "totalCharges": total,
        "paidAmount": Decimal("0.00"),
        "currency": amended["currency"],
        "documentType": "adjustment_note",
        "invoiceType": "OneTime",
        "amendsOf": amended["id"],
    }
    return record, frame
