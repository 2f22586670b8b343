"""Graph v2 billing exports: operations, manifests and gzip JSON-lines blobs over the same rows v1 serves.

An export captures the world and its rows when it is created; its blobs are written on request from those rows
(`export_rows_per_blob` rows each, keys in the `v2_key_style`), so v1 and v2 serve the same lines for a unit.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import polars as pl

from recon.sandbox.jsonenc import unmark
from recon.sandbox.rand import det_guid, det_hex, digest
from recon.sandbox.records import lines_shown
from recon.sandbox.usage_api import usage_shown

if TYPE_CHECKING:
    from recon.sandbox.world import World

BLOB_GZIP_LEVEL = 1  # blobs are transient: the fastest level (the client keeps them as received)

RECON_FROM = date(2024, 2, 1)  # billed reconciliation v2 covers billing periods from February 2024
USAGE_FROM = date(2022, 9, 1)  # daily rated usage v2 covers billing periods from September 2022
KINDS = ("billed-reconciliation", "unbilled-reconciliation", "billed-usage", "unbilled-usage")

# v2 reconciliation columns (billing.md §5.4) and the v1 field each one carries.
RECON_V2 = [
    ("PartnerId", "partnerId"),
    ("CustomerId", "customerId"),
    ("CustomerName", "customerName"),
    ("CustomerDomainName", "customerDomainName"),
    ("CustomerCountry", "customerCountry"),
    ("InvoiceNumber", "invoiceNumber"),
    ("MpnId", "mpnId"),
    ("ResellerMpnId", "resellerMpnId"),
    ("OrderId", "orderId"),
    ("OrderDate", "orderDate"),
    ("ProductId", "productId"),
    ("SkuId", "skuId"),
    ("AvailabilityId", "availabilityId"),
    ("SkuName", "skuName"),
    ("ProductName", "productName"),
    ("ChargeType", "chargeType"),
    ("UnitPrice", "unitPrice"),
    ("Quantity", "quantity"),
    ("Subtotal", "subtotal"),
    ("TaxTotal", "taxTotal"),
    ("Total", "totalForCustomer"),
    ("Currency", "currency"),
    ("PriceAdjustmentDescription", "priceAdjustmentDescription"),
    ("PublisherName", "publisherName"),
    ("PublisherId", "publisherId"),
    ("SubscriptionDescription", "subscriptionDescription"),
    ("SubscriptionId", "subscriptionId"),
    ("ChargeStartDate", "chargeStartDate"),
    ("ChargeEndDate", "chargeEndDate"),
    ("TermAndBillingCycle", "termAndBillingCycle"),
    ("EffectiveUnitPrice", "effectiveUnitPrice"),
    ("UnitType", "unitType"),
    ("AlternateId", "alternateId"),
    ("BillableQuantity", "billableQuantity"),
    ("BillingFrequency", "billingFrequency"),
    ("PricingCurrency", "pricingCurrency"),
    ("PCToBCExchangeRate", "pcToBCExchangeRate"),
    ("PCToBCExchangeRateDate", "pcToBCExchangeRateDate"),
    ("MeterDescription", "meterDescription"),
    ("ReservationOrderId", "reservationOrderId"),
    ("CreditReasonCode", "creditReasonCode"),
    ("SubscriptionStartDate", "subscriptionStartDate"),
    ("SubscriptionEndDate", "subscriptionEndDate"),
    ("ReferenceId", "referenceId"),
    ("ProductQualifiers", "productQualifiers"),
    ("PromotionId", "promotionId"),
]
# v2 daily rated usage columns in the portal's order (billing.md §5.4), with the v1 field and `basic` membership.
USAGE_V2 = [
    ("PartnerId", "partnerId", True),
    ("PartnerName", "partnerName", True),
    ("CustomerId", "customerId", True),
    ("CustomerName", "customerName", True),
    ("CustomerDomainName", "customerDomainName", False),
    ("CustomerCountry", "customerCountry", False),
    ("MpnId", "mpnId", False),
    ("Tier2MpnId", "resellerMpnId", False),
    ("InvoiceNumber", "invoiceNumber", True),
    ("ProductId", "productId", True),
    ("SkuId", "skuId", True),
    ("AvailabilityId", "availabilityId", False),
    ("SkuName", "skuName", True),
    ("ProductName", "productName", False),
    ("PublisherName", "publisherName", True),
    ("PublisherId", "publisherId", False),
    ("SubscriptionDescription", "subscriptionDescription", False),
    ("SubscriptionId", "subscriptionId", True),
    ("ChargeStartDate", "chargeStartDate", True),
    ("ChargeEndDate", "chargeEndDate", True),
    ("UsageDate", "usageDate", True),
    ("MeterType", "meterType", False),
    ("MeterCategory", "meterCategory", False),
    ("MeterId", "meterId", False),
    ("MeterSubCategory", "meterSubCategory", False),
    ("MeterName", "meterName", False),
    ("MeterRegion", "meterRegion", False),
    ("Unit", "unitOfMeasure", False),
    ("ResourceLocation", "resourceLocation", False),
    ("ConsumedService", "consumedService", False),
    ("ResourceGroup", "resourceGroup", False),
    ("ResourceURI", "resourceUri", True),
    ("ChargeType", "chargeType", True),
    ("UnitPrice", "unitPrice", True),
    ("Quantity", "quantity", True),
    ("UnitType", "unitType", True),
    ("BillingPreTaxTotal", "billingPreTaxTotal", True),
    ("BillingCurrency", "billingCurrency", True),
    ("PricingPreTaxTotal", "pricingPreTaxTotal", True),
    ("PricingCurrency", "pricingCurrency", True),
    ("ServiceInfo1", "serviceInfo1", False),
    ("ServiceInfo2", "serviceInfo2", False),
    ("Tags", "tags", False),
    ("AdditionalInfo", "additionalInfo", True),
    ("EffectiveUnitPrice", "effectiveUnitPrice", True),
    ("PCToBCExchangeRate", "pcToBCExchangeRate", True),
    ("PCToBCExchangeRateDate", "pcToBCExchangeRateDate", False),
    ("EntitlementId", "entitlementId", True),
    ("EntitlementDescription", "entitlementDescription", False),
    ("PartnerEarnedCreditPercentage", "rateOfPartnerEarnedCredit", False),
    ("CreditPercentage", "rateOfCredit", True),
    ("CreditType", "creditType", True),
    ("BenefitOrderId", "benefitOrderId", True),
    ("BenefitId", "benefitId", False),
    ("BenefitType", "benefitType", True),
]
_PERCENT = {"rateOfPartnerEarnedCredit", "rateOfCredit"}  # fractions in v1, percentages in the v2 names


def v2_columns(kind: str, style: str, attribute_set: str) -> list[pl.Expr]:
    """Select expressions turning v1 columns into the export's columns (v2 names in pascal; v1 names in camel)."""
    if kind.endswith("reconciliation"):
        return [pl.col(v1).alias(v2 if style == "pascal" else v1) for v2, v1 in RECON_V2]
    out = []
    for v2, v1, basic in USAGE_V2:
        if attribute_set == "basic" and not basic:
            continue
        expr = pl.col(v1)
        if style == "pascal" and v1 in _PERCENT:  # 0.15 -> 15, 1 -> 100, 0 -> 0 (text after the MARK)
            expr = expr.str.replace(r"0\.15$", "15").str.replace(r"^(.*\D)1$", "${1}100")
        out.append(expr.alias(v2 if style == "pascal" else v1))
    return out


@dataclass
class Operation:
    """One export: its unit, rows, files and how often it was polled."""

    id: str
    kind: str
    unit: str  # invoice id, or "CUR/current|last"
    attribute_set: str
    world: World
    rows: Callable[[int, int], pl.DataFrame]  # v1-shaped (MARK-numbered) rows [offset, offset+n)
    count: int
    failure: str | None  # the failed operation's message (code 5000), None when it succeeds
    style: str
    per_blob: int
    created: float  # time.monotonic()
    month: date | None
    polls: int = 0
    blob_names: list[str] = field(default_factory=list)

    @property
    def manifest_id(self) -> str:
        """The manifest's id (derived from the operation's)."""
        return det_guid("manifest", self.id)

    def blob_rows(self, n: int) -> tuple[int, int]:
        """(offset, count) of blob n."""
        start = n * self.per_blob
        return start, max(0, min(self.per_blob, self.count - start))


class ExportRegistry:
    """The operations of one running sandbox (cleared by admin reset)."""

    def __init__(self, secret: bytes):
        self.secret = secret
        self.operations: dict[str, Operation] = {}
        self.manifests: dict[str, Operation] = {}

    def create(self, world: World, kind: str, unit: str, attribute_set: str) -> Operation | str:
        """A new operation for `kind` and `unit`, or the text of a 404 (unknown invoice)."""
        switches = world.switches
        month: date | None
        if kind.startswith("billed"):
            inv = world.invoice(unit)
            if inv is None:
                return f"Invoice {unit} was not found."
            unit, month = inv["id"], inv["periodStart"]
        else:
            cur, period = unit.split("/")
            month = world.unbilled_month("current" if period == "current" else "previous")
            if cur != world.billing_currency:
                month = None
        rows, count, failure = _source(world, kind, unit, month)
        n = len(self.operations) + 1
        op = Operation(
            det_guid(world.seed, "operation", n, kind, unit),
            kind,
            unit,
            attribute_set,
            world,
            rows,
            count,
            failure,
            switches["v2_key_style"],
            int(switches["export_rows_per_blob"]),
            time.monotonic(),
            month,
        )
        blobs = -(-count // op.per_blob) if count else 0
        op.blob_names = [f"part-{i:05d}-{det_guid(op.id, 'blob', i)}.c000.json.gz" for i in range(blobs)]
        self.operations[op.id] = op
        self.manifests[op.manifest_id] = op
        return op

    def expired(self, op: Operation) -> bool:
        """True once the operation outlived `export_ttl_polls` polls or `export_ttl_s` seconds."""
        sw = op.world.switches
        return op.polls > int(sw["export_ttl_polls"]) or time.monotonic() - op.created > int(sw["export_ttl_s"])

    def sig(self, op: Operation, expiry: str) -> str:
        """The SAS signature of an operation's directory (base64 HMAC-SHA256, as Azure writes it)."""
        mac = hmac.new(self.secret, f"{op.id}|{expiry}".encode(), hashlib.sha256).digest()
        return base64.b64encode(mac).decode()

    def sas(self, op: Operation) -> str:
        """The manifest's sasToken (query string without '?')."""
        expiry = f"{op.world.today.isoformat()}T23:59:59Z"
        return f"sv=2021-08-06&sr=d&sp=rl&se={quote(expiry, safe='')}&sig={quote(self.sig(op, expiry), safe='')}"

    def check_sig(self, op: Operation, expiry: str, sig: str) -> bool:
        """True when `sig` signs this operation's directory for `expiry`."""
        return bool(sig) and hmac.compare_digest(sig, self.sig(op, expiry))

    def manifest(self, op: Operation, base: str, tenant: str) -> dict[str, Any]:
        """The manifest resource (billing.md §5.3)."""
        created = f"{op.world.today.isoformat()}T12:00:00Z"
        return {
            "id": op.manifest_id,
            "schemaVersion": "2",
            "dataFormat": "compressedJSONLines",
            "createdDateTime": created,
            "eTag": det_hex(8, "etag", op.id),
            "partnerTenantId": tenant,
            "rootDirectory": root_directory(op, base, tenant),
            "sasToken": self.sas(op),
            "partitionType": "default",
            "blobCount": len(op.blob_names),
            "blobs": [
                {"name": name, "partitionValue": "default", "itemCount": op.blob_rows(i)[1]}
                for i, name in enumerate(op.blob_names)
            ],
        }


def root_directory(op: Operation, base: str, tenant: str) -> str:
    """The blob 'folder' URL of an operation (served by the sandbox under /blobs/{operation id}/...)."""
    month = f"{op.month:%Y%m}" if op.month else "000000"
    container = "billedusagefastpath" if op.kind.endswith("usage") else "reconciliation"
    unit = f"InvoiceId={op.unit}" if op.kind.startswith("billed") else f"Period={op.unit.replace('/', '-')}"
    return (
        f"{base}/blobs/{op.id}/{container}/v1/PartnerTenantId={tenant}/BillingMonth={month}/{unit}"
        f"/Fragment={op.attribute_set}/PartitionType=default"
    )


def _source(
    world: World, kind: str, unit: str, month: date | None
) -> tuple[Callable[[int, int], pl.DataFrame], int, str | None]:
    """The rows an export serves (as v1 shows them), their count, and the failure message if v2 has no data."""
    empty = (lambda o, n: pl.DataFrame()), 0
    consts = world.line_constants
    if kind == "billed-reconciliation":
        inv = world.invoice(unit) or {}
        if inv.get("legacy") or (month is not None and month < RECON_FROM):
            return *empty, f"No reconciliation data available currently for Invoice {unit}. Please try again later."
        return (lambda o, n: lines_shown(world.line_rows(unit, o, n), consts)), world.line_count(unit), None
    if kind == "billed-usage":
        inv = world.invoice(unit) or {}
        if inv.get("legacy") or (month is not None and month < USAGE_FROM):
            return *empty, f"No usage data available currently for Invoice {unit}. Please try again later."
        if inv.get("documentType", "invoice") != "invoice" or month is None:
            return *empty, None
        rows = world.usage.rows(month)
        return (lambda o, n: usage_shown(world, rows.slice(o, n), unit)), rows.height, None
    if month is None:
        return *empty, None
    if kind == "unbilled-reconciliation":
        lines = world.unbilled_rows(month)
        return (lambda o, n: lines_shown(world.unbilled_page_rows(lines, o, n), consts)), lines.height, None
    rows = world.usage.rows(month)
    return (lambda o, n: usage_shown(world, rows.slice(o, n), "")), rows.height, None


def blob_bytes(op: Operation, n: int, fault: str | None = None) -> bytes:
    """Blob n of an operation: gzip of JSON lines (multigzip: several gzip members; bom: text starts with a BOM)."""
    offset, count = op.blob_rows(n)
    frame = op.rows(offset, count)
    text = unmark(frame.select(v2_columns(op.kind, op.style, op.attribute_set)).write_ndjson()) if count else b""
    if fault == "bom":
        text = b"\xef\xbb\xbf" + text
    if fault == "multigzip" and text:
        lines = text.splitlines(keepends=True)
        cuts = sorted({0, len(lines) // 3, 2 * len(lines) // 3, len(lines)})
        parts = [b"".join(lines[a:b]) for a, b in itertools.pairwise(cuts)]
        return b"".join(gzip.compress(p, compresslevel=BLOB_GZIP_LEVEL, mtime=0) for p in parts if p) or gzip.compress(
            b"", compresslevel=BLOB_GZIP_LEVEL, mtime=0
        )
    return gzip.compress(text, compresslevel=BLOB_GZIP_LEVEL, mtime=0)


def sas_secret(seed: int) -> bytes:
    """The key the sandbox signs SAS tokens with."""
    return digest(seed, "sas-signing-key")
