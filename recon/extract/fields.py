"""API field names (v1 camelCase and v2 PascalCase) mapped onto the canonical snake_case columns."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from operator import itemgetter
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


def _gather(items: list[Mapping[str, Any]], keys: list[str]) -> dict[str, Sequence[Any]]:
    """The values of each key over the items (None where an item lacks it)."""
    if len(keys) > 1 and items:
        getter = itemgetter(*keys)
        try:  # every item has every key (the usual page): one C call per item, then a transpose
            return dict(zip(keys, zip(*[getter(item) for item in items], strict=True), strict=True))
        except KeyError:
            pass
    return {key: [item.get(key) for item in items] for key in keys}


def _column(values: Sequence[Any]) -> list[str | None]:
    """`_text` of every value; text (most values) is taken as it is, amounts written inline (millions a page)."""
    return [
        v if (kind := type(v)) is str else format(v, "f") if kind is Decimal else None if v is None else _text(v)
        for v in values
    ]


def normalise(
    items: Iterable[Mapping[str, Any]],
    fields: Mapping[str, str],
    columns: tuple[tuple[str, str], ...],
    *,
    page_no: int,
    first_line: int = 1,
) -> tuple[pa.Table, Counter[str]]:
    """Items as a text table in canonical columns (+ page_no, line_no, extra) and the unknown-field counts."""
    items = list(items)
    count = len(items)
    keys: dict[str, str | None] = {}  # every key of the page -> its column (None: unknown, kept in `extra`)
    for item in items:
        for key in item:
            if key not in keys:
                keys[key] = fields.get(key.replace("_", "").lower())
    sources: dict[str, list[str]] = {}
    for key, canon in keys.items():
        if canon is not None:
            sources.setdefault(canon, []).append(key)
    if any(len(found) > 1 for found in sources.values()):
        return _normalise_rows(items, fields, [name for name, _ in columns], page_no, first_line)
    by_key = _gather(items, [found[0] for found in sources.values()])
    blank: list[str | None] = [None] * count
    data = {name: _column(by_key[sources[name][0]]) if name in sources else blank for name, _ in columns}
    unknown_keys = {key for key, canon in keys.items() if canon is None and key not in IGNORED}
    drift: Counter[str] = Counter()
    extra: list[str | None] = [None] * count
    if unknown_keys:
        for i, item in enumerate(items):
            unknown = {k: v for k, v in item.items() if k in unknown_keys}
            if unknown:
                extra[i] = dumps_exact(unknown)
                drift.update(k for k in unknown if k not in LEGACY_FIELDS)
    return _table(data, extra, count, page_no, first_line), drift


def _table(
    data: Mapping[str, list[str | None]], extra: list[str | None], count: int, page_no: int, first_line: int
) -> pa.Table:
    arrays: dict[str, pa.Array] = {
        "page_no": pa.array([page_no] * count, pa.int32()),
        "line_no": pa.array(range(first_line, first_line + count), pa.int32()),
    }
    arrays.update({name: pa.array(values, pa.string()) for name, values in data.items()})
    arrays["extra"] = pa.array(extra, pa.string())
    return pa.table(arrays)


def _normalise_rows(
    items: list[Mapping[str, Any]], fields: Mapping[str, str], names: list[str], page_no: int, first_line: int
) -> tuple[pa.Table, Counter[str]]:
    """`normalise` item by item: for a page where two keys of one column occur (the later key of an item wins)."""
    data: dict[str, list[str | None]] = {name: [] for name in names}
    extra: list[str | None] = []
    drift: Counter[str] = Counter()
    for item in items:
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
    return _table(data, extra, len(items), page_no, first_line), drift
