"""A sandbox world: sizes, switches, the build from (seed, size, today, switches), and its answer key."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from recon.sandbox.billing import add_months
from recon.sandbox.billing_switches import BILLING_DEFAULTS, check_billing_switch
from recon.sandbox.catalog import EUR_VALUE
from recon.sandbox.commerce_switches import COMMERCE_DEFAULTS, check_commerce_switch
from recon.sandbox.inject import KEY_COLUMNS, Injector, resolve_rates
from recon.sandbox.lifecycle import replay
from recon.sandbox.lines import Line, Rating
from recon.sandbox.population import Customer, Subscription, make_customers, make_subscriptions
from recon.sandbox.rand import det_guid, det_int, stream
from recon.sandbox.records import LINE_CONSTANTS, lines_frame, render_lines, subs_frame
from recon.sandbox.world_billing import drifted_unbilled, finish, with_usage

# The commerce ledger's hook: (rating, customers, subs, first world month, today, lines) -> lines.
ExtraLines = Callable[[Rating, list[Customer], list[Subscription], date, date, list[Line]], list[Line]]


@dataclass(frozen=True)
class SizeSpec:
    """How big a world is: customers, closed (invoiced) months, seat subscriptions per customer."""

    customers: int
    closed_months: int
    subs_per_customer: tuple[int, int]


SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec(customers=5, closed_months=3, subs_per_customer=(8, 20)),
    "small": SizeSpec(customers=300, closed_months=3, subs_per_customer=(205, 570)),
    "large": SizeSpec(customers=4500, closed_months=1, subs_per_customer=(150, 420)),  # built by large.py
}
DEFAULT_TODAY = date(2025, 11, 10)
SWITCH_VALUES: dict[str, tuple[str, ...] | None] = {  # None: free-form, checked by _check_switch
    "billing_currency": tuple(EUR_VALUE),
    "seat_rounding": ("A", "B"),
    "token_lifetime_s": None,
    "customers": None,
}


def resolve_switches(size: str, switches: Mapping[str, str] | None) -> dict[str, str]:
    """Every switch with its value: defaults for the size, overridden by `switches` (validated)."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    out = {
        "billing_currency": "EUR",
        "seat_rounding": "B",
        "token_lifetime_s": "3600",
        "customers": str(SIZES[size].customers),
        **COMMERCE_DEFAULTS,
        **BILLING_DEFAULTS,
    }
    for name, value in (switches or {}).items():
        if name in COMMERCE_DEFAULTS:
            out[name] = check_commerce_switch(name, value)
            continue
        if name in BILLING_DEFAULTS:
            out[name] = check_billing_switch(name, value)
            continue
        if name not in SWITCH_VALUES:
            known = ", ".join([*SWITCH_VALUES, *COMMERCE_DEFAULTS, *BILLING_DEFAULTS])
            raise ValueError(f"unknown switch {name!r}; known: {known}")
        value = str(value).upper() if name in ("billing_currency", "seat_rounding") else str(value)
        allowed = SWITCH_VALUES[name]
        if allowed is not None and value not in allowed:
            raise ValueError(f"switch {name} must be one of {', '.join(allowed)}, not {value!r}")
        if allowed is None and (not value.isdigit() or int(value) < 1):
            raise ValueError(f"switch {name} must be a positive integer, not {value!r}")
        out[name] = value
    return out


def invoice_date(seed: int, period: date) -> date:
    """Issue date of a month's invoice: the 6th to 8th of the next month."""
    return add_months(period, 1) + timedelta(days=5 + det_int(seed, "invoice-day", period) % 3)


def invoice_id(seed: int, period: date, currency: str) -> str:
    """Invoice number of a month and billing currency: G0 and eight digits, rising month by month."""
    months = (period.year - 2020) * 12 + period.month
    return f"G0{10_000_000 + months * 600_000 + det_int(seed, 'invoice', period, currency) % 599_000}"


def closed_periods(seed: int, today: date, count: int) -> list[date]:
    """The last `count` months whose invoice is issued by `today`, oldest first."""
    period = today.replace(day=1)
    while invoice_date(seed, period) > today:
        period = add_months(period, -1)
    return [add_months(period, -i) for i in range(count - 1, -1, -1)]


def first_month(seed: int, size: str, today: date | None = None) -> date:
    """First day of the world's first billing month (where a walk of its history starts)."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    return closed_periods(seed, today or DEFAULT_TODAY, SIZES[size].closed_months)[0]


@dataclass
class World:
    """Everything the sandbox serves, built deterministically from (seed, size, anchor, today, switches)."""

    seed: int
    size: str
    today: date
    anchor: date
    switches: dict[str, str]
    rates: dict[str, float]
    customers: list[Customer]
    subs: list[Subscription]
    billed: pl.DataFrame  # billed lines sorted by invoice, with every per-subscription field
    unbilled: pl.DataFrame  # lines of months not invoiced yet (served by later endpoints)
    invoices: list[dict[str, Any]]
    answer_key: list[dict[str, Any]]
    index: dict[str, tuple[int, int]] = field(default_factory=dict)
    partner_id: str = ""
    mpn_id: str = ""
    usage: Any = None  # usage.Usage: Azure plans, daily rated usage rows (world_billing.finish)
    documents: list[dict[str, Any]] = field(default_factory=list)  # legacy invoice, credit note
    legacy_lines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # each generated subscription's replay (lifecycle.replay from `replay_start` to `today`): the commerce view
    # folds the same lines, so it re-uses them instead of replaying every subscription again
    replays: dict[int, list[Line]] = field(default_factory=dict)
    replay_start: date | None = None

    @property
    def billing_currency(self) -> str:
        """The partner's billing currency."""
        return self.switches["billing_currency"]

    def invoice(self, invoice_id: str) -> dict[str, Any] | None:
        """The invoice record with this id (case-insensitive), or None."""
        for inv in [*self.invoices, *self.documents]:
            if inv["id"].lower() == invoice_id.lower():
                return inv
        return None

    def line_count(self, invoice_id: str) -> int:
        """Number of billed lines of an invoice."""
        return self.index.get(invoice_id, (0, 0))[1]

    @property
    def line_constants(self) -> dict[str, Any]:
        """Fields every line of this world repeats."""
        return dict(LINE_CONSTANTS, partnerId=self.partner_id, mpnId=self.mpn_id, currency=self.billing_currency)

    def line_rows(self, invoice_id: str, offset: int, size: int) -> pl.DataFrame:
        """Rows [offset, offset+size) of an invoice's billed lines."""
        start, count = self.index.get(invoice_id, (0, 0))
        return self.billed.slice(start + offset, max(0, min(size, count - offset)))

    def line_page(self, invoice_id: str, offset: int, size: int) -> list[dict[str, Any]]:
        """OneTimeInvoiceLineItem resources [offset, offset+size) of an invoice, numbers as Decimal."""
        return render_lines(self.line_rows(invoice_id, offset, size), self.line_constants)

    def unbilled_month(self, period: str) -> date | None:
        """The month `period` (current or previous) names, or None when that month is already invoiced."""
        month = self.today.replace(day=1)
        if period == "previous":
            month = add_months(month, -1)
        return None if any(inv["periodStart"] == month for inv in self.invoices) else month

    def unbilled_rows(self, month: date) -> pl.DataFrame:
        """Lines of a month that is not invoiced yet, in their stable order."""
        return self.unbilled.filter(pl.col("period") == month)

    def unbilled_page_rows(self, rows: pl.DataFrame, offset: int, size: int) -> pl.DataFrame:
        """A page of unbilled rows, `billingFrequency` blanked as unbilled lines show it."""
        return rows.slice(offset, size).with_columns(billingFrequency=pl.lit(""))

    def render_unbilled(self, rows: pl.DataFrame, offset: int, size: int) -> list[dict[str, Any]]:
        """Unbilled OneTimeInvoiceLineItem resources (invoiceNumber and billingFrequency empty)."""
        return render_lines(self.unbilled_page_rows(rows, offset, size), self.line_constants)


def build_world(
    seed: int = 1,
    size: str = "tiny",
    today: date | None = None,
    switches: Mapping[str, str] | None = None,
    inject_rates: Mapping[str, float] | None = None,
    anchor: date | None = None,
    extra: ExtraLines | None = None,
    closed_early: frozenset[date] = frozenset(),
) -> World:
    """Build the world; `anchor` (default `today`) fixes its population and months when the clock moves.

    `extra` (the commerce ledger's hook) may add subscriptions and lines after the generated replay;
    `closed_early` holds months invoiced by the admin route /clock/close-month before their invoice date."""
    if size == "large":  # generated vectorised (large.py)
        from recon.sandbox.large import build_large

        return build_large(seed, size, today, switches, inject_rates, anchor, extra, closed_early)
    sw = resolve_switches(size, switches)
    rates = resolve_rates(inject_rates)
    today = today or DEFAULT_TODAY
    anchor = anchor or today
    spec = SIZES[size]
    window = closed_periods(seed, anchor, spec.closed_months)
    closed = [p for p in _months(window[0], today) if invoice_date(seed, p) <= today or p in closed_early]
    rating = Rating(seed, sw["billing_currency"], sw["seat_rounding"])
    people, first_subs = _population(seed, int(sw["customers"]), spec.subs_per_customer, window[0], anchor)
    customers, subs = list(people), list(first_subs)  # lists of their own: injections and purchases append
    lines: list[Line] = []
    horizon = add_months(today.replace(day=1), 1)
    if today <= anchor:  # the walk's builds: the anchor's replay up to `today` (a replay grows only by its end)
        full = _anchor_replays(seed, rating, int(sw["customers"]), spec.subs_per_customer, window[0], anchor)
        replays = {idx: [ln for ln in own if ln.order_date < today] for idx, own in full.items()}
    else:
        replays = {sub.idx: replay(rating, sub, customers[sub.customer], window[0], today, horizon) for sub in subs}
    for replayed in replays.values():
        lines.extend(ln for ln in replayed if ln.period >= window[0])
    if extra is not None:
        lines = extra(rating, customers, subs, window[0], today, lines)
    # Injections land on a month's lines as soon as it runs, so the unbilled views show them too (as the real
    # service's estimate shows the charge it will bill); the key lists a case once its month is invoiced.
    running = {p for p in window if p <= today} | set(closed)
    inj = Injector(seed, rating, customers, subs, running, rates)
    lines = inj.apply_lines(lines)
    cur = rating.billing_currency
    invoice_of = {p: invoice_id(seed, p, cur) for p in closed}
    frame = lines_frame(lines, invoice_of).join(subs_frame(subs, customers), on="sub", how="left")
    frame, usage = with_usage(seed, rating, customers, window[0], today, closed, rates, invoice_of, frame)
    billed = frame.filter(pl.col("invoiceNumber") != "").sort(["invoiceNumber", "cust", "sub", "seq"])
    unbilled, drift = drifted_unbilled(seed, frame, closed, customers, inj, invoice_of)
    unbilled = unbilled.sort(["period", "cust", "sub", "seq"])
    invoices, index = _invoices(seed, billed, closed, cur, closed_early)
    inj.apply_invoices(invoices, lambda iid: _odd_amount(seed, iid), [invoice_id(seed, p, cur) for p in window])
    for inv in invoices:
        inv["paidAmount"] = Decimal("0.00") if inv is invoices[-1] else -inv["totalCharges"]
    world = World(
        seed,
        size,
        today,
        anchor,
        sw,
        rates,
        customers,
        subs,
        billed,
        unbilled,
        invoices,
        inj.key_rows(lambda p: invoice_of[p], set(closed)),
        index,
        partner_id=det_guid(seed, "partner"),
        mpn_id=str(4000000 + det_int(seed, "mpn") % 999999),
        replays=replays,
        replay_start=window[0],
    )
    return finish(world, usage, drift, invoice_of)


@functools.lru_cache(maxsize=4)
def _population(
    seed: int, n_customers: int, per_customer: tuple[int, int], window_start: date, anchor: date
) -> tuple[tuple[Customer, ...], tuple[Subscription, ...]]:
    """Customers and their first purchases; fixed by the anchor, so a clock move re-uses them (half a build)."""
    customers = make_customers(seed, n_customers)
    return tuple(customers), tuple(make_subscriptions(seed, customers, per_customer, window_start, anchor))


@functools.lru_cache(maxsize=2)
def _anchor_replays(
    seed: int, rating: Rating, n_customers: int, per_customer: tuple[int, int], window_start: date, anchor: date
) -> dict[int, list[Line]]:
    """Every generated subscription's replay up to the anchor. A replay's lines do not depend on the day it stops
    at (`lifecycle.replay` only leaves out lines dated from `today` on), so a build at an earlier day takes the
    lines dated before it: a clock move re-uses the replay instead of running it again."""
    people, subs = _population(seed, n_customers, per_customer, window_start, anchor)
    horizon = add_months(anchor.replace(day=1), 1)
    return {sub.idx: replay(rating, sub, people[sub.customer], window_start, anchor, horizon) for sub in subs}


def _months(first: date, today: date) -> list[date]:
    out, cur = [], first
    while cur <= today:
        out.append(cur)
        cur = add_months(cur, 1)
    return out


def _invoices(
    seed: int, billed: pl.DataFrame, closed: list[date], currency: str, closed_early: frozenset[date] = frozenset()
) -> tuple[list[dict[str, Any]], dict[str, tuple[int, int]]]:
    sums = {
        r["invoiceNumber"]: (r["total"], r["n"])
        for r in billed.group_by("invoiceNumber")
        .agg(pl.col("totalForCustomer").sum().alias("total"), pl.len().alias("n"))
        .to_dicts()
    }
    invoices, index, offset = [], {}, 0
    for period in closed:  # billed is sorted by invoice number, which rises with the period
        iid = invoice_id(seed, period, currency)
        total, n = sums.get(iid, (Decimal("0.00"), 0))
        invoices.append(
            {
                "id": iid,
                "invoiceDate": add_months(period, 1) if period in closed_early else invoice_date(seed, period),
                "periodStart": period,
                "periodEnd": add_months(period, 1) - timedelta(days=1),
                "totalCharges": Decimal(total).quantize(Decimal("0.01")),
                "paidAmount": Decimal(0),
                "currency": currency,
            }
        )
        index[iid] = (offset, n)
        offset += n
    return invoices, index


def _odd_amount(seed: int, key: str) -> Decimal:
    """A random, non-round amount between 1.37 and 250 with a random sign."""
    rng = stream(seed, "odd-amount", key)
    cents = rng.randint(137, 25000)
    while cents % 5 == 0:
        cents += rng.randint(1, 4)
    return Decimal(cents if rng.random() < 0.6 else -cents) / 100


def answer_key(
    seed: int,
    size: str,
    today: date | None = None,
    switches: Mapping[str, str] | None = None,
    inject_rates: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """The answer key of a world: one dict per injected case, with the columns of KEY_COLUMNS."""
    return build_world(seed, size, today, switches, inject_rates).answer_key


def answer_key_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Answer-key rows as a typed frame (amount_at_stake Decimal(18,2), period Date)."""
    schema: dict[str, pl.DataType] = {c: pl.String() for c in KEY_COLUMNS}
    schema.update(period=pl.Date(), amount_at_stake=pl.Decimal(18, 2))
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def write_answer_key(
    path: str | Path,
    seed: int,
    size: str,
    today: date | None = None,
    switches: Mapping[str, str] | None = None,
    inject_rates: Mapping[str, float] | None = None,
) -> Path:
    """Write the answer key as Parquet or CSV, chosen by the file's extension."""
    path = Path(path)
    frame = answer_key_frame(answer_key(seed, size, today, switches, inject_rates))
    if path.suffix.lower() == ".parquet":
        frame.write_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame.write_csv(path)
    else:
        raise ValueError(f"answer key path must end in .parquet or .csv, not {path.name!r}")
    return path
