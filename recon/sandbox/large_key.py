"""Answer-key rows of the `large` world's cases (a few thousand at the default rates; built per case)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from recon.sandbox.catalog import AVAILABILITIES
from recon.sandbox.inject import CATALOGUE
from recon.sandbox.large_hash import guid_text, hex_text
from recon.sandbox.large_inject import WHO
from recon.sandbox.large_population import SeatPopulation
from recon.sandbox.large_usage import SumOff
from recon.sandbox.population import Customer
from recon.sandbox.rand import det_hex
from recon.sandbox.usage import Usage


def key_row(
    seed: int,
    kind: str,
    key: object,
    customer: str,
    sub: str,
    invoice: str | None,
    period: date,
    amount: Decimal,
    currency: str,
    description: str,
) -> dict[str, Any]:
    """One answer-key row (inject.KEY_COLUMNS); the invoice is named when the catalogue's keys include it."""
    entry = CATALOGUE[kind]
    return {
        "case_id": "K" + det_hex(10, seed, "large", kind, key),
        "kind": kind,
        "rule": entry.rule,
        "also": ",".join(entry.also),
        "customer_id": customer,
        "subscription_id": sub,
        "order_id": None,
        "invoice_number": invoice if "invoice" in entry.keys else None,
        "period": period,
        "amount_at_stake": amount,
        "currency": currency,
        "description": description,
    }


def seat_rows(
    seed: int,
    cases: pl.DataFrame,
    pop: SeatPopulation,
    customers: list[Customer],
    currency: str,
    invoice_of: dict[date, str],
) -> list[dict[str, Any]]:
    """Rows of the seat cases of invoiced months (`cases`: pos, kind, amount, description and the line's sub,
    cust, av, on, rid_lo, sign)."""
    if cases.height == 0:
        return []
    cases = cases.with_columns(period=pl.col("on").cast(pl.Date).dt.month_start())
    cases = cases.filter(pl.col("period").is_in(list(invoice_of)))
    sub = cases["sub"].to_numpy()
    ids = guid_text(pop.id_hi[sub], pop.id_lo[sub])
    names = pl.Series([a.product.product_name for a in AVAILABILITIES]).gather(cases["av"])
    who = "subscription " + ids + " (" + names + ") in " + cases["period"].dt.strftime("%Y-%m")
    text = pl.select(pl.lit(cases["description"]).str.replace(WHO, pl.lit(who), literal=True)).to_series()
    refs = hex_text(cases["rid_lo"].to_numpy(), 16)
    out = []
    for kind, sid, c, period, cents, desc, ref, sign in zip(
        cases["kind"], ids, cases["cust"], cases["period"], cases["amount"], text, refs, cases["sign"], strict=True
    ):
        out.append(
            key_row(
                seed,
                kind,
                (ref, sign),
                customers[c].id,
                sid,
                invoice_of[period],
                period,
                Decimal(cents).scaleb(-2),
                currency,
                desc,
            )
        )
    return out


def usage_rows(
    seed: int,
    usage: Usage,
    offs: list[SumOff],
    azure: pl.DataFrame,
    customers: list[Customer],
    currency: str,
    invoice_of: dict[date, str],
) -> list[dict[str, Any]]:
    """Rows of the Azure cases: usage_sum_off (R10) and usage_spike (R13)."""
    out = []
    for o in offs:
        row = azure.row(o.pos, named=True)
        plan = usage.plans[row["plan"]]
        out.append(
            key_row(
                seed,
                "usage_sum_off",
                (plan.idx, row["meter"], row["period"]),
                customers[plan.customer].id,
                plan.subscription_id,
                invoice_of.get(row["period"]),
                row["period"],
                Decimal(o.amount).scaleb(-2),
                currency,
                o.description,
            )
        )
    for case in usage.cases:
        if case.kind == "usage_spike":
            out.append(
                key_row(
                    seed,
                    "usage_spike",
                    case.key,
                    customers[case.plan.customer].id,
                    case.plan.subscription_id,
                    None,
                    case.period,
                    case.amount,
                    currency,
                    case.description,
                )
            )
    return out
