"""Injected discrepancies of the `large` world, applied to whole frames of billed seat lines.

The kinds are the catalogue's (inject.CATALOGUE) that change one billed line's amount or presence:
qty_overbilled, qty_underbilled, price_not_locked, renewal_price_wrong, proration_wrong, charge_missing,
duplicate_line, credit_missing, credit_twice and fx_rate_off, with the same rules as inject_kinds.py (a kind's
rate is the chance of each eligible billed line, at least one case when the rate is positive, at most one case
per subscription-month, kinds in catalogue order). A changed line is rated again with large_rating's arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import polars as pl

from recon.sandbox.catalog import AVAILABILITIES, MONTHLY_BILLING_PREMIUM_FROM, price_change_date
from recon.sandbox.large_hash import draw64, pick
from recon.sandbox.large_population import days_of, month_index
from recon.sandbox.large_rating import CURRENCIES, finish_amounts, price_table
from recon.sandbox.large_replay import ADD, CANCEL, CHARGE_TYPES, CYCLE, NEW, REMOVE, RENEW
from recon.sandbox.rand import det_int

CHARGES, CHANGES, REFUNDS = [NEW, RENEW, CYCLE], [ADD, REMOVE], [ADD, REMOVE, CANCEL]
KINDS = [  # applied in this order (inject_kinds.LINE_KINDS without the two that add subscriptions)
    "qty_overbilled",
    "qty_underbilled",
    "price_not_locked",
    "renewal_price_wrong",
    "proration_wrong",
    "charge_missing",
    "duplicate_line",
    "credit_missing",
    "credit_twice",
    "fx_rate_off",
]
WHO = "\u0000who"  # replaced by "subscription <id> (<product>) in <YYYY-MM>" once the cases are known
_SHIFTS = np.array([-3, -2, -1, 1, 2, 3])


def money(col: str) -> pl.Expr:
    """Cents as decimal text (12.34, -0.05)."""
    return (pl.col(col).cast(pl.Decimal(38, 0)) * pl.lit(Decimal("0.01"))).cast(pl.String)


@dataclass
class Injected:
    """What the kinds did: changed rows (by position), dropped and doubled positions, and the cases."""

    changed: list[pl.DataFrame] = field(default_factory=list)
    dropped: list[np.ndarray] = field(default_factory=list)
    doubled: list[np.ndarray] = field(default_factory=list)
    cases: list[pl.DataFrame] = field(default_factory=list)  # pos, kind, amount (cents), description


class SeatInjector:
    """Applies the `large` kinds to rated seat lines (`pos` = row position in `lines`)."""

    def __init__(self, seed: int, lines: pl.DataFrame, months: list[date], rates: dict[str, float], rounding: str):
        """`months`: the billing months whose lines take injections (invoiced, or running in the world's window)."""
        self.seed, self.rates, self.rounding = seed, rates, rounding
        self.lines = lines.with_row_index("pos")
        self.ct = lines["ctype"].to_numpy()
        self.sign = lines["sign"].to_numpy()
        self.month = month_index(lines["on"].to_numpy())
        self.billed = np.isin(self.month, [month_index(np.array([days_of(p)]))[0] for p in months])
        self.key = lines["rid_lo"].to_numpy() * np.uint64(2) + (self.sign < 0).astype(np.uint64)
        self.month_key = lines["sub"].to_numpy().astype(np.int64) * 65536 + self.month
        self.touched = np.zeros(0, dtype=np.int64)
        self.done = Injected()

    def run(self) -> Injected:
        """Every kind with a positive rate, in catalogue order."""
        apply: dict[str, Callable[[str], None]] = {
            "qty_overbilled": self._qty,
            "qty_underbilled": self._qty,
            "price_not_locked": self._price,
            "renewal_price_wrong": self._price,
            "proration_wrong": self._proration,
            "charge_missing": self._drop_or_double,
            "duplicate_line": self._drop_or_double,
            "credit_missing": self._drop_or_double,
            "credit_twice": self._drop_or_double,
            "fx_rate_off": self._fx,
        }
        for kind in KINDS:
            if self.rates.get(kind, 0) > 0:
                apply[kind](kind)
        return self.done

    def _chosen(self, kind: str, types: list[int], extra: np.ndarray | None = None) -> np.ndarray:
        """Positions picked for `kind` whose subscription-month holds no case yet (the first one per month)."""
        mask = self.billed & np.isin(self.ct, types)
        if extra is not None:
            mask &= extra
        pos = np.nonzero(mask)[0]
        pos = pos[pick(self.seed, kind, self.key[pos], self.rates[kind], self.month[pos])]
        pos = pos[~np.isin(self.month_key[pos], self.touched)]
        _, first = np.unique(self.month_key[pos], return_index=True)
        return pos[np.sort(first)]

    def _rows(self, kind: str, pos: np.ndarray) -> pl.DataFrame:
        """The chosen rows with a 64-bit draw per case (`h`) for the kind's own choices."""
        salt = det_int(self.seed, "large-case", kind) & 0x7FFFFFFFFFFFFFFF
        return self.lines[pos].with_columns(h=pl.Series(draw64(salt, self.key[pos])))

    def _keep(self, kind: str, new: pl.DataFrame, old: pl.DataFrame, text: pl.Expr) -> None:
        """Record changed rows and their cases (amount = new − old subtotal)."""
        amount = new["subtotal"] - old["subtotal"]
        self.done.changed.append(new.drop("h"))
        self._case(kind, new.select("pos").with_columns(amount=amount, description=new.select(text).to_series()))

    def _case(self, kind: str, cases: pl.DataFrame) -> None:
        self.touched = np.concatenate([self.touched, self.month_key[cases["pos"].to_numpy()]])
        self.done.cases.append(cases.with_columns(kind=pl.lit(kind)).select("pos", "kind", "amount", "description"))

    def _qty(self, kind: str) -> None:
        """Seats billed above or below the subscription's quantity (R01)."""
        over = kind == "qty_overbilled"
        qty = self.lines["qty"].to_numpy()
        old = self._rows(kind, self._chosen(kind, CHARGES, None if over else qty >= 3))
        span = pl.max_horizontal(1, pl.col("qty") // (4 if over else 3)).cast(pl.UInt64)
        step = (1 + pl.col("h") % span).cast(pl.Int64)
        new = finish_amounts(old.with_columns(qty=pl.col("qty") + (step if over else -step)), self.rounding)
        text = pl.format("{} is billed for {} seats; the subscription had {}.", pl.lit(WHO), "qty", pl.lit(old["qty"]))
        self._keep(kind, new, old, text)

    def _price(self, kind: str) -> None:
        """A cycleCharge at the current list price, or a renewal off the renewal date's price (R02)."""
        old = self._rows(kind, self._chosen(kind, [CYCLE] if kind == "price_not_locked" else [RENEW]))
        on = old["on"].to_numpy()
        av = old["av"].to_numpy()
        rise = np.array([days_of(price_change_date(self.seed, a.product)) for a in AVAILABILITIES])[av]
        premium = (on >= days_of(MONTHLY_BILLING_PREMIUM_FROM)).astype(np.int64)
        current = price_table(self.seed)[av, old["cur"].to_numpy(), (on < rise).astype(np.int64), premium]
        h = old["h"].to_numpy()
        pct = 210 + (h >> np.uint64(8)) % np.uint64(961)
        up = (kind == "price_not_locked") | (h % np.uint64(2) == 0)
        factor = np.where(up, 10000 + pct.astype(np.int64), 10000 - pct.astype(np.int64))
        moved = (2 * old["price"].to_numpy() * factor + 10000) // 20000  # half-up to cents
        price = np.where((kind == "price_not_locked") & (current > old["price"].to_numpy() + 1), current, moved)
        new = finish_amounts(old.with_columns(price=pl.Series(price)), self.rounding)
        what = (
            "the list price of the charge date instead of the price locked for the term"
            if kind == "price_not_locked"
            else "a price that is not the list price of the renewal date"
        )
        cur = pl.Series(CURRENCIES).gather(old["cur"])
        text = pl.format(
            "{} is charged {} {} per seat, {} ({}).",
            pl.lit(WHO),
            money("price"),
            pl.lit(cur),
            pl.lit(what),
            pl.lit(old.select(money("price")).to_series()),
        )
        self._keep(kind, new, old, text)

    def _proration(self, kind: str) -> None:
        """A seat-change charge prorated over 1-3 days too many or too few (R03)."""
        old = self._rows(kind, self._chosen(kind, CHANGES, self.sign > 0))
        h = old["h"].to_numpy()
        days = old["bdays"].to_numpy()
        chosen = np.zeros(old.height, dtype=np.int64)  # 0: no shift qualifies
        for t in range(len(_SHIFTS)):  # the shifts in an order drawn per case; the first that shows is taken
            wrong = days + _SHIFTS[((h + np.uint64(t)) % np.uint64(6)).astype(np.int64)]
            new = finish_amounts(old.with_columns(bdays=pl.Series(wrong)), self.rounding)
            ok = (wrong >= 1) & (wrong <= old["clen"].to_numpy()) & (chosen == 0)
            ok &= np.abs(new["subtotal"].to_numpy() - old["subtotal"].to_numpy()) > old["qty"].to_numpy()
            chosen = np.where(ok, wrong, chosen)
        found = pl.Series(chosen > 0)
        new = finish_amounts(old.with_columns(bdays=pl.Series(chosen)).filter(found), self.rounding)
        old = old.filter(found)
        types = pl.Series(CHARGE_TYPES).gather(old["ctype"])
        text = pl.format(
            "The {} charge of {} is prorated over {} days, not {}.",
            pl.lit(types),
            pl.lit(WHO),
            "bdays",
            pl.lit(old["bdays"]),
        )
        self._keep(kind, new, old, text)

    def _fx(self, kind: str) -> None:
        """A converted line rated at a rate 0.4-3.1 % off the month's rate (R12)."""
        ok = (self.lines["fx"].to_numpy() != 10**9) & (self.sign > 0)
        old = self._rows(kind, self._chosen(kind, CHARGES + CHANGES, ok))
        h = old["h"].to_numpy()
        pct = (4000 + (h >> np.uint64(8)) % np.uint64(27001)).astype(np.int64)
        factor = np.where(h % np.uint64(2) == 0, 1_000_000 + pct, 1_000_000 - pct)
        fx = old["fx"].to_numpy()
        quotient, rest = np.divmod(fx * factor, 1_000_000)  # Decimal.quantize: half-even to 9 places
        fx = quotient + ((2 * rest > 1_000_000) | ((2 * rest == 1_000_000) & (quotient % 2 == 1)))
        new = finish_amounts(old.with_columns(fx=pl.Series(fx)), self.rounding)
        ok = np.abs(new["subtotal"].to_numpy() - old["subtotal"].to_numpy()) > old["qty"].to_numpy() + 1
        new, old = new.filter(pl.Series(ok)), old.filter(pl.Series(ok))
        rate = (pl.col("fx").cast(pl.Decimal(38, 0)) * pl.lit(Decimal("0.000000001"))).cast(pl.String)
        text = pl.format(
            "{} is converted at {} instead of the month's rate {}.",
            pl.lit(WHO),
            rate,
            pl.lit(old.select(rate).to_series()),
        )
        self._keep(kind, new, old, text)

    def _drop_or_double(self, kind: str) -> None:
        """A charge removed or billed twice, or a refund removed or repeated (R05, R06, R07)."""
        refunds = kind.startswith("credit")
        double = kind in ("duplicate_line", "credit_twice")
        rows = self._rows(kind, self._chosen(kind, REFUNDS if refunds else CHARGES, (self.sign < 0) == refunds))
        pos = rows["pos"].to_numpy()
        (self.done.doubled if double else self.done.dropped).append(pos)
        types = pl.lit(pl.Series(CHARGE_TYPES).gather(rows["ctype"]))
        if kind == "duplicate_line":
            text = pl.format("The {} line of {} appears twice on the invoice.", types, pl.lit(WHO))
        else:
            text = pl.format(
                "The {} ({}, {}) of {} {}",
                pl.lit("refund" if refunds else "charge"),
                types,
                money("subtotal"),
                pl.lit(WHO),
                pl.lit("is credited twice." if double else "has no line."),
            )
        amount = rows["subtotal"] if double else -rows["subtotal"]
        self._case(kind, rows.select("pos").with_columns(amount=amount, description=rows.select(text).to_series()))
