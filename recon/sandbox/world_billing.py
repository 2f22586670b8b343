"""The billing side's part of a world build: Azure usage lines, R08 drift, documents, their answer-key rows."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl

from recon.sandbox.documents import credit_note, legacy_document
from recon.sandbox.drift import DriftCase, unbilled_drift
from recon.sandbox.inject import CATALOGUE, Injector
from recon.sandbox.lines import Rating
from recon.sandbox.population import Customer
from recon.sandbox.rand import det_hex
from recon.sandbox.usage import Usage, build_usage, recon_lines, with_usage_lines

if TYPE_CHECKING:
    from recon.sandbox.world import World


def with_usage(
    seed: int,
    rating: Rating,
    customers: list[Customer],
    window_start: date,
    today: date,
    closed: list[date],
    rates: dict[str, float],
    invoice_of: dict[date, str],
    frame: pl.DataFrame,
) -> tuple[pl.DataFrame, Usage]:
    """The line frame with one Azure plan recon line per plan, meter and month added, and the usage data."""
    usage = build_usage(seed, rating, customers, window_start, today, set(closed), rates)
    return with_usage_lines(frame, recon_lines(seed, usage, customers, rating, invoice_of, rates)), usage


def drifted_unbilled(
    seed: int,
    frame: pl.DataFrame,
    closed: list[date],
    customers: list[Customer],
    inj: Injector,
    invoice_of: dict[date, str],
) -> tuple[pl.DataFrame, list[DriftCase]]:
    """Lines of months not invoiced yet as unbilled views show them (R08 drift applied), and R08 cases."""
    return unbilled_drift(seed, frame, set(closed), inj.drift, customers, invoice_of)


def finish(world: World, usage: Usage, drift: list[DriftCase], invoice_of: dict[date, str]) -> World:
    """Attach usage and documents to a built world and add the billing side's cases to its answer key."""
    world.usage = usage
    cur = world.billing_currency
    legacy = legacy_document(world.seed, world.customers, cur, world.partner_id, world.mpn_id, world.today)
    if legacy is not None:
        world.documents.append(legacy[0])
        world.legacy_lines[legacy[0]["id"]] = legacy[1]
    note = credit_note(
        world.seed,
        world.invoices,
        world.billed,
        world.index,
        world.customers,
        world.switches["seat_rounding"],
        world.today,
    )
    if note is not None:
        record, lines = note
        billed = world.billed.with_columns(creditReasonCode=pl.lit(""))
        world.index[record["id"]] = (billed.height, lines.height)
        world.billed = pl.concat([billed, lines.select(billed.columns)], how="vertical")
        world.documents.append(record)
        amended = world.invoice(record["amendsOf"])
        if amended is not None:
            amended["amendments"] = [record]
    rows = list(world.answer_key)
    for case in usage.cases:
        cust = world.customers[case.plan.customer]
        invoice = invoice_of.get(case.period) if case.invoice else None
        rows.append(_row(world, case.kind, case.key, cust.id, case.plan.subscription_id, invoice, case, cur))
    for d in drift:
        rows.append(_row(world, d.kind, d.key, world.customers[d.customer].id, d.subscription_id, None, d, cur))
    rows.sort(key=lambda r: (r["period"], r["kind"], r["case_id"]))
    world.answer_key = rows
    return world


def _row(
    world: World, kind: str, key: tuple[object, ...], customer: str, sub: str, invoice: str | None, case: Any, cur: str
) -> dict[str, Any]:
    entry = CATALOGUE[kind]
    return {
        "case_id": "K" + det_hex(10, world.seed, kind, *key),
        "kind": kind,
        "rule": entry.rule,
        "also": ",".join(entry.also),
        "customer_id": customer,
        "subscription_id": sub,
        "order_id": None,
        "invoice_number": invoice,
        "period": case.period,
        "amount_at_stake": case.amount,
        "currency": cur,
        "description": case.description,
    }
