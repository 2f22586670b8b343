"""The `large` world, built vectorised: a million seat lines a month from (seed, switches) in seconds.

The subscriptions and their lives are the ones population.py and lifecycle.py define (large_population,
large_replay), rated in exact integer arithmetic (large_rating); Azure plan usage comes from usage.build_usage
with its recon lines aggregated in polars (large_usage); injections are applied to whole frames
(large_inject). Invoice totals are the exact sums of their lines; the answer key lists every case.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from recon.sandbox.billing import add_months
from recon.sandbox.documents import legacy_document
from recon.sandbox.inject import Injector, resolve_rates
from recon.sandbox.large_frames import ledger_rows, narrow_azure, narrow_seats, ordered
from recon.sandbox.large_inject import KINDS, Injected, SeatInjector
from recon.sandbox.large_key import seat_rows, usage_rows
from recon.sandbox.large_population import LazySubs, make_population
from recon.sandbox.large_rating import rate
from recon.sandbox.large_replay import Replay
from recon.sandbox.large_usage import meters, recon_lines, sum_off
from recon.sandbox.large_world import LargeWorld, tables
from recon.sandbox.lines import Rating
from recon.sandbox.population import Subscription, make_customers
from recon.sandbox.rand import det_guid, det_int
from recon.sandbox.usage import build_usage
from recon.sandbox.world import (
    DEFAULT_TODAY,
    SIZES,
    ExtraLines,
    World,
    _odd_amount,
    closed_periods,
    invoice_date,
    invoice_id,
    resolve_switches,
)

# Catalogue kinds `large` injects (the others need per-subscription state or the unbilled history).
GENERATED = frozenset([*KINDS, "invoice_total_off", "usage_sum_off", "usage_spike"])
_CHANGED = ["qty", "price", "bdays", "fx", "subtotal", "tax", "total"]  # what an injection may change on a line
DOUBLED = 4096  # added to a doubled line's seq (replay seqs stay below it)


def large_rates(inject_rates: Mapping[str, float] | None) -> dict[str, float]:
    """Resolved rates, with kinds `large` does not inject set to 0; naming one with a positive rate fails."""
    rates = resolve_rates(inject_rates)
    for name, value in (inject_rates or {}).items():
        if name != "all" and float(value) > 0 and name not in GENERATED:
            raise ValueError(f"injection kind {name!r} is not generated in the large world")
    return {k: (v if k in GENERATED else 0.0) for k, v in rates.items()}


class _Tail(list[Subscription]):
    """Subscriptions the commerce ledger adds, numbered after the generated ones (its hook appends here)."""

    def __init__(self, offset: int):
        super().__init__()
        self.offset = offset

    def __len__(self) -> int:
        return self.offset + list.__len__(self)


def build_large(
    seed: int = 1,
    size: str = "large",
    today: date | None = None,
    switches: Mapping[str, str] | None = None,
    inject_rates: Mapping[str, float] | None = None,
    anchor: date | None = None,
    extra: ExtraLines | None = None,
    closed_early: frozenset[date] = frozenset(),
) -> World:
    """The large world (world.build_world's contract; the ledger's hook adds the lines of API purchases)."""
    sw = resolve_switches(size, switches)
    rates = large_rates(inject_rates)
    today = today or DEFAULT_TODAY
    anchor = anchor or today
    window = closed_periods(seed, anchor, SIZES[size].closed_months)
    ws = window[0]
    months = [add_months(ws, i) for i in range((today.year - ws.year) * 12 + today.month - ws.month + 1)]
    closed = [p for p in months if invoice_date(seed, p) <= today or p in closed_early]
    running = sorted({p for p in window if p <= today} | set(closed))  # months whose lines take injections
    rating = Rating(seed, sw["billing_currency"], sw["seat_rounding"])
    customers = make_customers(seed, int(sw["customers"]))
    pop = make_population(seed, customers, SIZES[size].subs_per_customer, ws, anchor)
    seats = rate(Replay(pop, ws, today, add_months(today.replace(day=1), 1)).run(), pop, customers, rating, ws, today)
    tail = _Tail(len(pop))
    ledger = extra(rating, customers, tail, ws, today, []) if extra is not None else []
    injected = SeatInjector(seed, seats, running, rates, rating.rounding).run()
    seat_lines, cases = _apply(seats, injected)
    del seats
    invoice_of = {p: invoice_id(seed, p, rating.billing_currency) for p in closed}
    usage = build_usage(seed, rating, customers, ws, today, set(closed), rates)
    table = meters(usage.resources)
    azure = recon_lines(usage, table, customers, len(tail))  # plans are numbered after every subscription
    plan_ids = [p.subscription_id for p in usage.plans]
    offs = sum_off(seed, azure, set(closed), rates["usage_sum_off"], rating.billing_currency, plan_ids, table)
    parts = [seat_lines, ledger_rows(ledger, list(list.__iter__(tail))), narrow_azure(azure, offs)]
    del seat_lines
    billed, unbilled = ordered(pl.concat(parts, how="vertical", rechunk=False), closed)
    del parts
    invoices, index = _invoices(seed, billed, closed, rating.billing_currency, closed_early)
    inj = Injector(seed, rating, customers, [], set(closed), rates)
    inj.apply_invoices(
        invoices, lambda iid: _odd_amount(seed, iid), [invoice_id(seed, p, rating.billing_currency) for p in window]
    )
    for inv in invoices:
        inv["paidAmount"] = Decimal("0.00") if inv is invoices[-1] else -inv["totalCharges"]
    subs = LazySubs(pop)
    subs.extend(list.__iter__(tail))
    extra_ids = _extra_ids(tail, plan_ids)
    avail = usage.plans[0].availability_id if usage.plans else ""
    cur = rating.billing_currency
    key = [
        *inj.key_rows(lambda p: invoice_of[p], set(closed)),
        *seat_rows(seed, cases, pop, customers, cur, invoice_of),
        *usage_rows(seed, usage, offs, azure, customers, cur, invoice_of),
    ]
    key.sort(key=lambda r: (r["period"], r["kind"], r["case_id"]))
    world = LargeWorld(
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
        key,
        index,
        partner_id=det_guid(seed, "partner"),
        mpn_id=str(4000000 + det_int(seed, "mpn") % 999999),
        usage=usage,
        tables=tables(pop, customers, avail, extra_ids, table.unit, table.description, invoice_of),
    )
    legacy = legacy_document(seed, customers, cur, world.partner_id, world.mpn_id, today)
    if legacy is not None:
        world.documents.append(legacy[0])
        world.legacy_lines[legacy[0]["id"]] = legacy[1]
    return world


def _extra_ids(tail: _Tail, plan_ids: list[str]) -> pl.DataFrame:
    """subscriptionId and promotionId of the subscriptions after the generated ones: the ledger's, then plans."""
    ledger = list(list.__iter__(tail))
    return pl.DataFrame(
        {
            "subscriptionId": [s.id for s in ledger] + plan_ids,
            "promotionId": [s.promotion_id for s in ledger] + [""] * len(plan_ids),
        },
        schema={"subscriptionId": pl.String, "promotionId": pl.String},
    )


def _apply(seats: pl.DataFrame, done: Injected) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The seat lines in LINE_SCHEMA with the injections applied, and the cases with their lines' keys."""
    if done.changed:
        changed = pl.concat([c.select("pos", *_CHANGED) for c in done.changed], how="vertical_relaxed")
        at = changed["pos"].to_numpy()
        columns = []
        for name in _CHANGED:
            values = seats[name].to_numpy().copy()
            values[at] = changed[name].to_numpy()
            columns.append(pl.Series(name, values, dtype=seats.schema[name]))
        seats = seats.with_columns(columns)
    info = ["sub", "cust", "av", "on", "rid_lo", "sign"]
    cases = pl.DataFrame(schema={"pos": pl.UInt32, "kind": pl.String, "amount": pl.Int64, "description": pl.String})
    if done.cases:
        cases = pl.concat(done.cases, how="vertical")
        cases = pl.concat([cases, seats[cases["pos"].to_numpy()].select(info)], how="horizontal")
    twice = narrow_seats(seats[np.concatenate(done.doubled)]) if done.doubled else None
    out = narrow_seats(seats)
    if done.dropped:
        keep = np.ones(seats.height, dtype=bool)
        keep[np.concatenate(done.dropped)] = False
        out = out.filter(pl.Series(keep))
    if twice is not None:  # a doubled line follows its subscription's other lines of the month
        out = pl.concat([out, twice.with_columns(seq=pl.col("seq") + DOUBLED)], how="vertical")
    return out, cases


def _invoices(
    seed: int, billed: pl.DataFrame, closed: list[date], currency: str, closed_early: frozenset[date]
) -> tuple[list[dict[str, Any]], dict[str, tuple[int, int]]]:
    """One invoice per closed month: totalCharges = Σ totalForCustomer of its lines, exactly."""
    sums = {
        r["period"]: (r["total"], r["n"])
        for r in billed.group_by("period").agg(pl.col("total").sum(), pl.len().alias("n")).to_dicts()
    }
    invoices, index, offset = [], {}, 0
    for period in closed:
        iid = invoice_id(seed, period, currency)
        cents, n = sums.get(period, (0, 0))
        invoices.append(
            {
                "id": iid,
                "invoiceDate": add_months(period, 1) if period in closed_early else invoice_date(seed, period),
                "periodStart": period,
                "periodEnd": add_months(period, 1) - timedelta(days=1),
                "totalCharges": Decimal(cents).scaleb(-2),
                "paidAmount": Decimal(0),
                "currency": currency,
            }
        )
        index[iid] = (offset, n)
        offset += n
    return invoices, index
