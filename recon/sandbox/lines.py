"""A reconciliation line before it is placed on an invoice, and the rating context every line shares."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from recon.sandbox.billing import seat_subtotal, tax_total
from recon.sandbox.catalog import fx_rate


@dataclass(slots=True)
class Line:
    """One reconciliation line before it is placed on an invoice (amounts in billing currency)."""

    sub: int
    period: date  # first day of the billing month (the order date's month)
    order_id: str
    order_date: date
    charge_type: str
    unit_price: Decimal  # pricing currency, full cycle
    eup: Decimal  # exact, signed, pricing currency
    quantity: int
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    fx: Decimal
    term_start: date
    term_end: date
    charge_start: date
    charge_end: date
    cycle_len: int  # proration denominator of the charge cycle
    rid: int  # 128-bit referenceId (shared by a refund-and-charge pair)
    promotion_id: str
    price_adjustment: str


@dataclass(frozen=True)
class Rating:
    """What every line of a world shares: seed, billing currency and seat rounding order."""

    seed: int
    billing_currency: str
    rounding: str
    rates: dict[tuple[str, int, int], Decimal] = field(default_factory=dict, compare=False)

    def fx(self, pricing: str, on: date) -> Decimal:
        """Exchange rate of the month of `on`."""
        key = (pricing, on.year, on.month)
        rate = self.rates.get(key)
        if rate is None:
            rate = self.rates[key] = fx_rate(self.seed, pricing, self.billing_currency, on.replace(day=1))
        return rate

    def rerate(
        self,
        line: Line,
        tax_rate: Decimal,
        *,
        eup: Decimal | None = None,
        unit_price: Decimal | None = None,
        quantity: int | None = None,
        fx: Decimal | None = None,
    ) -> Line:
        """A copy of `line` with some inputs replaced and its amounts rated again (`eup` unsigned)."""
        sign = -1 if line.eup < 0 else 1
        e = abs(line.eup) if eup is None else eup
        qty = line.quantity if quantity is None else quantity
        rate = line.fx if fx is None else fx
        sub = seat_subtotal(e, qty, rate, self.rounding) * sign
        tax = tax_total(sub, tax_rate)
        return replace(
            line,
            unit_price=line.unit_price if unit_price is None else unit_price,
            eup=e * sign,
            quantity=qty,
            subtotal=sub,
            tax=tax,
            total=sub + tax,
            fx=rate,
        )
