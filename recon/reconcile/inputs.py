"""Input frames of the rule catalogue beyond the staged lines: their schemas, shared by staging and the rules.

Frame names used by the rules (`recon.reconcile.catalogue.RULES` says which rule needs which):

| name | content |
| --- | --- |
| `lines` | `stg.recon_lines`: billed and unbilled recon lines (docs/data-model.md); see below |
| `rates` | optional: every line's `RATE_COLUMNS` counted (`lines`: how many lines), for R12 when `lines` is cut |
| `usage` | `stg.usage_lines`: daily rated usage, billed and unbilled (docs/data-model.md) |
| `expected` | the shadow rater's output (`recon.reconcile.rating.EXPECTED_SCHEMA`) |
| `subscriptions` | `SUBSCRIPTIONS_SCHEMA`: the latest snapshot per subscription |
| `orders` | `ORDERS_SCHEMA`: one row per order line |
| `fx` | `recon.reconcile.rating.FX_SCHEMA`: the month's rate per currency pair |
| `markets` | `MARKETS_SCHEMA`: country -> market currency (default: `markets_frame()`) |
| `periods_closed` | `PERIODS_CLOSED_SCHEMA`: billing periods covered by an extracted invoice |
| `tieout` | `recon.tieout` as computed by `recon.reconcile.tieout.tieout` |

The engine's `lines` hold every billed line but, of the unbilled lines, only those of each month's last snapshot
(per currency; also the last one with license lines): no rule reads older snapshots. What reads every line gets it
another way: the drift ledger is built in DuckDB, R12's votes and `fx` come from `rates`, the audits get every line
they can flag (`recon.reconcile.staged`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl

from recon.reconcile.frames import AMOUNT, WIDE
from recon.reconcile.rating import EXPECTED_SCHEMA, FX_SCHEMA

_STR, _DATE = pl.String(), pl.Date()

SUBSCRIPTION_STATUSES: Final = ("active", "suspended", "deleted", "expired", "pending")
TRANSACTION_TYPES: Final = ("new", "addQuantity", "removeQuantity", "cancel", "renew")

# One row per subscription (its latest snapshot). Grain: subscription_id.
SUBSCRIPTIONS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "subscription_id": _STR,
    "customer_id": _STR,
    "order_id": _STR,  # nullable
    "product_id": _STR,
    "sku_id": _STR,
    "availability_id": _STR,
    "quantity": AMOUNT,
    "status": _STR,  # SUBSCRIPTION_STATUSES
    "term": _STR,  # P1M / P1Y / P3Y
    "billing": _STR,  # monthly / annual / triennial
    "term_start": _DATE,
    "term_end": _DATE,
    "cancelled_on": _DATE,  # nullable
    "auto_renew": pl.Boolean(),
    "snapshot_at": pl.Datetime("us", "UTC"),
}
SUBSCRIPTIONS_GRAIN: Final = ("subscription_id",)

# One row per order line. Grain: (order_id, line_number).
ORDERS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "order_id": _STR,
    "customer_id": _STR,
    "line_number": pl.Int64(),
    "subscription_id": _STR,  # nullable (not provisioned yet, or never)
    "transaction_type": _STR,  # TRANSACTION_TYPES
    "order_date": _DATE,
    "quantity": AMOUNT,
    "unit_price": WIDE,
    "pricing_currency": _STR,
    "status": _STR,  # e.g. completed, pending, cancelled
}
ORDERS_GRAIN: Final = ("order_id", "line_number")

# Country (ISO 3166 alpha-2) -> currency of the market's license price list. Grain: country.
MARKETS_SCHEMA: Final[dict[str, pl.DataType]] = {"country": _STR, "currency": _STR}
MARKETS_GRAIN: Final = ("country",)

# Billing periods an extracted invoice covers; invoice_number and currency are optional (nullable) and, when
# given, name the invoice of a finding about a line that was never billed. Grain: (period, currency, invoice).
PERIODS_CLOSED_SCHEMA: Final[dict[str, pl.DataType]] = {
    "period": _DATE,
    "invoice_number": _STR,
    "currency": _STR,
}

# The columns of stg.recon_lines the rules, ledgers and rater read (the engine loads no others: a rule reading
# another column fails until it is added here).
LINE_COLUMNS: Final = (
    "dataset", "unit", "page_no", "line_no", "billing_state", "snapshot_at", "period", "customer_id",
    "customer_country", "invoice_number", "order_id", "order_date", "product_id", "sku_id", "availability_id",
    "product_name", "charge_type", "unit_price", "effective_unit_price", "quantity", "billable_quantity", "subtotal",
    "total_for_customer", "currency", "pricing_currency", "pc_to_bc_exchange_rate", "pc_to_bc_exchange_rate_date",
    "subscription_id", "charge_start", "charge_end", "reference_id", "meter_description",
)  # fmt: skip
# The columns a line's exchange rate is read from (`rates`, recon.transform.events.fx_rates and R12).
RATE_COLUMNS: Final = (
    "pricing_currency", "currency", "period", "charge_start", "pc_to_bc_exchange_rate", "pc_to_bc_exchange_rate_date",
)  # fmt: skip

EXPECTED: Final = EXPECTED_SCHEMA
FX: Final = FX_SCHEMA

_EURO: Final = ("AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV", "MT", "NL")
_EURO_MORE: Final = ("PT", "SI", "SK")
# Microsoft prices license-based offers in the customer market's currency (nce-billing-math.md §5.3). Only the
# markets below are checked by R12; a country missing from the table is never a finding.
MARKET_CURRENCY: Final[Mapping[str, str]] = {
    **dict.fromkeys(_EURO + _EURO_MORE, "EUR"),
    "GB": "GBP",
    "US": "USD",
    "DK": "DKK",
    "CH": "CHF",
    "LI": "CHF",
    "SE": "SEK",
    "NO": "NOK",
    "CA": "CAD",
    "AU": "AUD",
    "NZ": "NZD",
    "JP": "JPY",
}
# Azure plan consumption is priced in USD whatever the market (§5.3).
USAGE_PRICING_CURRENCY: Final = "USD"


def markets_frame(mapping: Mapping[str, str] = MARKET_CURRENCY) -> pl.LazyFrame:
    """The `markets` frame of a country -> currency mapping (the default table unless given)."""
    return pl.LazyFrame(
        {"country": list(mapping), "currency": list(mapping.values())},
        schema=MARKETS_SCHEMA,
    )


def empty(schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    """A frame with no rows and the given schema (tests, and inputs a deployment does not have)."""
    return pl.LazyFrame(schema=dict(schema))
