"""API field names (v1 camelCase and v2 PascalCase) mapped onto the canonical snake_case columns."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pyarrow as pa

from recon.jsontext import dumps_exact, loads_exact
from recon.store.schema import (
    AUDIT_RECORD,
    CATALOG_AVAILABILITY,
    CATALOG_PRODUCT,
    CATALOG_SKU,
    CUSTOMER,
    ESTIMATE_LINK,
    INVOICE,
    INVOICE_SUMMARY,
    ORDER_LINE,
    RECON_LINE,
    SUBSCRIPTION,
    USAGE_LINE,
)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _field_map(columns: tuple[tuple[str, str], ...], aliases: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased API key (underscores dropped) -> canonical column."""
    out = {name.replace("_", ""): name for name, _ in columns}
    out.update({k.lower(): v for k, v in aliases.items()})
    return out


RECON_LINE_FIELDS = _field_map(
    RECON_LINE,
    {
        "total": "total_for_customer",
        "tier2MpnId": "reseller_mpn_id",
        "resellerMpnId": "reseller_mpn_id",
        "pcToBCExchangeRate": "pc_to_bc_exchange_rate",
        "pcToBCExchangeRateDate": "pc_to_bc_exchange_rate_date",
        # legacy license-based lines (provider office), billing.md 4.7
        "tax": "tax_total",
        "domainName": "customer_domain_name",
        "offerName": "product_name",
        "offerId": "sku_id",
        "durableOfferId": "product_id",
    },
)
# Documented fields of legacy line items without a canonical column: kept in `extra`, not reported as drift.
LEGACY_FIELDS = frozenset(
    {
        "syndicationPartnerSubscriptionNumber",
        "billingCycleType",
        "subscriptionName",
        "amount",
        "totalOtherDiscount",
        # documented commerce fields recon does not model
        "hasPurchasableAddons",
        "billingCycleEndDateTime",
        "commitmentEndDateTime",
        "isMicrosoftProduct",
        "publisherName",
        "partnerId",
        "attentionNeeded",
        "actionTaken",
        "contractType",
        "partnerIdOnRecord",
        "alternateId",
        "currencySymbol",
        "client",
        "relationshipToPartner",
        "allowDelegatedAccess",
        "userCredentials",
        "associatedPartnerId",
        "customDomains",
        "commerceId",
        "partnerBillableAccountId",
        "customerCompanyName",
        # documented catalog fields recon does not model (commerce.md 8.2)
        "localizedAttributes",
    }
)
INVOICE_FIELDS = _field_map(INVOICE, {})
INVOICE_SUMMARY_FIELDS = _field_map(INVOICE_SUMMARY, {})
CUSTOMER_FIELDS = _field_map(CUSTOMER, {})
SUBSCRIPTION_FIELDS = _field_map(SUBSCRIPTION, {})
ORDER_LINE_FIELDS = _field_map(ORDER_LINE, {})
ESTIMATE_LINK_FIELDS = _field_map(ESTIMATE_LINK, {})
USAGE_LINE_FIELDS = _field_map(
    USAGE_LINE,
    {
        # v2 (PascalCase) names that differ from v1's beyond casing
        "unit": "unit_of_measure",
        "tier2MpnId": "reseller_mpn_id",
        "resourceUri": "resource_uri",
    },
)
CATALOG_PRODUCT_FIELDS = _field_map(CATALOG_PRODUCT, {})
CATALOG_SKU_FIELDS = _field_map(CATALOG_SKU, {})
CATALOG_AVAILABILITY_FIELDS = _field_map(CATALOG_AVAILABILITY, {})
AUDIT_RECORD_FIELDS = _field_map(AUDIT_RECORD, {})
IGNORED = frozenset({"attributes", "links"})


def json_value(value: Any) -> Any:
    """A value bound for a JSON column: text is kept as a JSON string, so the cast never fails."""
    return dumps_exact(value) if isinstance(value, str) else value


def json_text(value: Any) -> Any:
    """A field that carries JSON as text (audit blobs), parsed exactly; text that is not JSON stays a string."""
    if not isinstance(value, str):
        return value
    try:
        return json_value(loads_exact(value))
    except ValueError:
        return dumps_exact(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float | str):
        return str(value)
    return dumps_exact(value)


def normalise(
    items: Iterable[Mapping[str, Any]],
    fields: Mapping[str, str],
    columns: tuple[tuple[str, str], ...],
    *,
    page_no: int,
    first_line: int = 1,
) -> tuple[pa.Table, Counter[str]]:
    """Items as a text table in canonical columns (+ page_no, line_no, extra) and the unknown-field counts."""
    names = [name for name, _ in columns]
    data: dict[str, list[str | None]] = {name: [] for name in names}
    extra: list[str | None] = []
    drift: Counter[str] = Counter()
    count = 0
    for item in items:
        count += 1
        row: dict[str, str | None] = {}
        unknown: dict[str, Any] = {}
        for key, value in item.items():
            canon = fields.get(key.replace("_", "").lower())
            if canon is not None:
                row[canon] = _text(value)
            elif key not in IGNORED:
                unknown[key] = value
                if key not in LEGACY_FIELDS:
                    drift[key] += 1
        for name in names:
            data[name].append(row.get(name))
        extra.append(dumps_exact(unknown) if unknown else None)
    arrays: dict[str, pa.Array] = {
        "page_no": pa.array([page_no] * count, pa.int32()),
        "line_no": pa.array(range(first_line, first_line + count), pa.int32()),
    }
    arrays.update({name: pa.array(values, pa.string()) for name, values in data.items()})
    arrays["extra"] = pa.array(extra, pa.string())
    return pa.table(arrays), drift
