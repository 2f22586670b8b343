"""The sandbox's dated price lists written as Partner Center's new-commerce license-based price-list CSV.

One line per availability (product, SKU, term, billing plan), market and month, with the price `list_price`
gives on the first of that month; `UnitPrice` is the price of one charge cycle of the billing plan. The sandbox
has no estimated retail prices: `ERP Price` is empty.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from recon.sandbox.billing import add_months
from recon.sandbox.catalog import AVAILABILITIES, MARKETS, list_price

# The months a list covers by default (`recon sandbox pricelist`, the demo): every world's window and the terms
# its subscriptions renew into.
FIRST_MONTH, LAST_MONTH = date(2024, 1, 1), date(2026, 12, 1)

HEADER = (
    "ProductTitle", "ProductId", "SkuId", "SkuTitle", "Publisher", "SkuDescription", "UnitOfMeasure", "TermDuration",
    "BillingPlan", "Market", "Currency", "UnitPrice", "PricingTierRangeMin", "PricingTierRangeMax",
    "EffectiveStartDate", "EffectiveEndDate", "Tags", "ERP Price", "Segment",
)  # fmt: skip
PLAN_TITLES = {"monthly": "Monthly", "annual": "Annual", "triennial": "Triennial"}


def price_list_rows(seed: int, first: date, last: date) -> Iterator[tuple[str, ...]]:
    """Price-list lines of every month from `first` to `last` (first days of months), in file order."""
    month = first.replace(day=1)
    while month <= last:
        end = add_months(month, 1) - timedelta(days=1)
        for av in AVAILABILITIES:
            p = av.product
            for country, (currency, _tax) in MARKETS.items():
                price = list_price(seed, av, currency, month)
                yield (
                    p.product_name, p.product_id, p.sku_id, p.sku_name, "Microsoft Corporation", p.sku_name,
                    "Licenses", av.term, PLAN_TITLES[av.plan], country, currency, format(price, "f"), "", "",
                    f"{month.isoformat()}T00:00:00Z", f"{end.isoformat()}T23:59:59Z", "", "", "Commercial",
                )  # fmt: skip
        month = add_months(month, 1)


def write_price_list(path: Path, *, seed: int, first: date, last: date) -> int:
    """Write the lines of `price_list_rows` as CSV (UTF-8 with a byte-order mark); returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for row in price_list_rows(seed, first, last):
            out.writerow(row)
            count += 1
    return count
