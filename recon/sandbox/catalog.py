"""The sandbox's markets, new-commerce seat offers, dated price lists and exchange rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from recon.sandbox.rand import det_code, det_int

# Country -> (market currency, tax rate applied to the partner's lines for that market).
MARKETS: dict[str, tuple[str, Decimal]] = {
    "NL": ("EUR", Decimal("0.21")),
    "DE": ("EUR", Decimal("0.19")),
    "BE": ("EUR", Decimal("0.21")),
    "FR": ("EUR", Decimal("0.20")),
    "GB": ("GBP", Decimal("0.20")),
    "US": ("USD", Decimal("0.00")),
    "DK": ("DKK", Decimal("0.25")),
    "CH": ("CHF", Decimal("0.081")),
}
MARKET_WEIGHTS = {"NL": 40, "DE": 15, "BE": 12, "FR": 6, "GB": 10, "US": 9, "DK": 4, "CH": 4}

# Value of one unit of a currency in EUR, the centre of the monthly mid-rates.
EUR_VALUE = {
    "EUR": Decimal("1"),
    "USD": Decimal("0.9213"),
    "GBP": Decimal("1.1742"),
    "DKK": Decimal("0.13404"),
    "CHF": Decimal("1.0487"),
}
# Local list price of one USD of list price (Microsoft's market price ratios, rounded).
PRICE_FACTOR = {
    "USD": Decimal("1"),
    "EUR": Decimal("0.936"),
    "GBP": Decimal("0.847"),
    "DKK": Decimal("6.98"),
    "CHF": Decimal("0.905"),
}
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "DKK": "kr", "CHF": "CHF"}

MONTHLY_BILLING_PREMIUM_FROM = date(2025, 4, 1)
P1M_PREMIUM = Decimal("1.20")
MONTHLY_BILLING_PREMIUM = Decimal("1.05")
FX_PLACES = Decimal("0.000000001")


@dataclass(frozen=True)
class Product:
    """A seat product: catalog ids, titles and the USD monthly price of its annual term."""

    product_id: str
    sku_id: str
    product_name: str
    sku_name: str
    usd_month: Decimal
    family: str  # "m365" or "d365"


@dataclass(frozen=True)
class Availability:
    """One purchasable (product, term, billing plan) with its availability id."""

    product: Product
    availability_id: str
    term: str  # P1M, P1Y, P3Y
    plan: str  # monthly, annual, triennial (P3Y paid upfront; bought through carts only)

    @property
    def term_and_billing_cycle(self) -> str:
        """The recon file's human text of term and billing plan."""
        term = {"P1M": "One-Month", "P1Y": "One-Year", "P3Y": "Three-Year"}[self.term]
        if self.plan == "triennial":
            return f"{term} commitment for triennial billing"
        return f"{term} commitment for {'monthly' if self.plan == 'monthly' else 'yearly'} billing"

    @property
    def billing_frequency(self) -> str:
        """`billingFrequency`: Monthly, Annual, or blank for a one-time (whole-term) charge."""
        if self.plan == "monthly":
            return "Monthly"
        return "" if self.term == "P1Y" or self.plan == "triennial" else "Annual"


_PRODUCTS = [
    ("CFQ7TTC0LH18", "0001", "Microsoft 365 Business Basic", "6.00", "m365"),
    ("CFQ7TTC0LDPB", "0001", "Microsoft 365 Business Standard", "12.50", "m365"),
    ("CFQ7TTC0LCHC", "0002", "Microsoft 365 Business Premium", "22.00", "m365"),
    ("CFQ7TTC0LFLX", "0001", "Microsoft 365 E3", "36.00", "m365"),
    ("CFQ7TTC0LFK5", "0002", "Microsoft 365 E5", "57.00", "m365"),
    ("CFQ7TTC0LF8Q", "0001", "Office 365 E1", "10.00", "m365"),
    ("CFQ7TTC0LF8R", "0001", "Office 365 E3", "23.00", "m365"),
    ("CFQ7TTC0LGZT", "0001", "Microsoft 365 F3", "8.00", "m365"),
    ("CFQ7TTC0LH16", "0001", "Exchange Online (Plan 1)", "4.00", "m365"),
    ("CFQ7TTC0LH2H", "0001", "Power BI Pro", "14.00", "m365"),
    ("CFQ7TTC0HL8W", "0001", "Power BI Premium Per User", "24.00", "m365"),
    ("CFQ7TTC0HD32", "0001", "Visio Plan 2", "15.00", "m365"),
    ("CFQ7TTC0LJ1R", "0002", "Dynamics 365 Sales Enterprise", "105.00", "d365"),
    ("CFQ7TTC0LHJD", "0001", "Dynamics 365 Business Central Essentials", "70.00", "d365"),
    ("CFQ7TTC0LHQS", "0001", "Dynamics 365 Customer Service Enterprise", "105.00", "d365"),
]
PRODUCTS = [Product(p, s, n, n, Decimal(u), f) for p, s, n, u, f in _PRODUCTS]


def _availabilities() -> list[Availability]:
    out = []
    for prod in PRODUCTS:
        plans = [("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual")]
        if prod.family == "d365":
            plans += [("P3Y", "monthly"), ("P3Y", "annual"), ("P3Y", "triennial")]
        for term, plan in plans:
            out.append(Availability(prod, det_code(12, "avail", prod.product_id, term, plan), term, plan))
    return out


AVAILABILITIES = _availabilities()


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def list_price(seed: int, avail: Availability, currency: str, on: date) -> Decimal:
    """Price-list unit price of one full charge cycle of `avail` in `currency` on date `on`."""
    before_change = on < price_change_date(seed, avail.product)
    return _list_price(seed, avail, currency, before_change, on >= MONTHLY_BILLING_PREMIUM_FROM)


@lru_cache(maxsize=8192)
def _list_price(seed: int, avail: Availability, currency: str, before_change: bool, premium: bool) -> Decimal:
    base = _cents(avail.product.usd_month * PRICE_FACTOR[currency])
    if before_change:
        base = _cents(base * (1 - price_change_pct(seed, avail.product)))
    if avail.term == "P1M":
        return _cents(base * P1M_PREMIUM)
    if avail.plan == "monthly":
        return _cents(base * MONTHLY_BILLING_PREMIUM) if premium else base
    return base * (36 if avail.plan == "triennial" else 12)


@lru_cache(maxsize=1024)
def price_change_date(seed: int, product: Product) -> date:
    """The date this world's price list raised the product's price (first of a month in 2024-2025)."""
    k = det_int(seed, "price-change", product.product_id) % 24
    return date(2024 + k // 12, k % 12 + 1, 1)


def price_change_pct(seed: int, product: Product) -> Decimal:
    """Share of the current price that the older price list was lower by (3.0% to 9.9%)."""
    return Decimal(30 + det_int(seed, "price-pct", product.product_id) % 70) / 1000


def fx_rate(seed: int, pricing: str, billing: str, month: date) -> Decimal:
    """`pcToBCExchangeRate` for a pricing/billing currency pair in the month of `month` (9 decimals)."""
    if pricing == billing:
        return Decimal(1)

    def eur(cur: str) -> Decimal:
        if cur == "EUR":
            return Decimal(1)
        wiggle = Decimal(det_int(seed, "fx", cur, month.year, month.month) % 40001 - 20000) / 1000000
        return EUR_VALUE[cur] * (1 + wiggle)

    return (eur(pricing) / eur(billing)).quantize(FX_PLACES, rounding=ROUND_HALF_UP)
