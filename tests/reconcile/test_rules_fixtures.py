"""Shared builders for the rule tests: events -> expected lines (the shadow rater) -> recon lines as billed.

A clean invoice is the expected lines written as recon lines; each business case then edits a few lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import polars as pl

from recon.reconcile.frames import AMOUNT, FINDING_SCHEMA, WIDE
from recon.reconcile.inputs import ORDERS_SCHEMA, PERIODS_CLOSED_SCHEMA, SUBSCRIPTIONS_SCHEMA, markets_frame
from recon.reconcile.rating import EVENT_SCHEMA, FX_SCHEMA, RATE, expected_charges

NO_FX = pl.LazyFrame(schema=FX_SCHEMA)
CLOSE = datetime(2026, 1, 1, tzinfo=UTC)


def events(*rows: dict[str, Any], **defaults: Any) -> pl.LazyFrame:
    """Event rows over defaults (subscription s1, customer c1, P1M monthly, EUR, no promotion)."""
    base = {
        "subscription_id": "s1", "customer_id": "c1", "order_id": "o1", "term": "P1M", "billing": "monthly",
        "promotion_discount": None, "pricing_currency": "EUR", **defaults,
    }  # fmt: skip
    full = [{**base, "event_id": f"{base['subscription_id']}-e{i}", **row} for i, row in enumerate(rows)]
    money = ("quantity", "unit_price", "promotion_discount")
    typed = [{k: D(v) if k in money and v is not None else v for k, v in r.items()} for r in full]
    return pl.LazyFrame(typed, schema=EVENT_SCHEMA)


def ev(event: str, on: date, qty: int, price: str = "10.08", **extra: Any) -> dict[str, Any]:
    """One event row."""
    return {"event": event, "event_date": on, "quantity": qty, "unit_price": price, **extra}


def fx(*rows: tuple[str, str, date, str]) -> pl.LazyFrame:
    """(pricing, billing, month, rate) rows of an FX frame."""
    return pl.LazyFrame(
        [
            {"pricing_currency": p, "billing_currency": b, "month": m, "rate": D(r), "rate_date": m}
            for p, b, m, r in rows
        ],
        schema=FX_SCHEMA,
    )


def rate(
    *event_frames: pl.LazyFrame,
    until: date,
    rounding: str = "B",
    fx_frame: pl.LazyFrame = NO_FX,
    bc: str = "EUR",
) -> pl.DataFrame:
    """Expected lines of the events (several subscriptions may be given as separate frames)."""
    frame = pl.concat(event_frames, how="vertical")
    return expected_charges(frame, fx_frame, billing_currency=bc, until=until, rounding=rounding).collect()


def as_lines(
    expected: pl.DataFrame,
    *,
    state: str = "billed",
    snapshot_at: datetime = CLOSE,
    country: str = "NL",
    page_size: int = 1000,
) -> pl.DataFrame:
    """Expected lines written as stg.recon_lines rows (the invoice `INV-yyyymm`, one page per `page_size`)."""
    billed = state == "billed"
    n = expected.height
    index = pl.int_range(0, pl.len(), dtype=pl.Int64)
    return expected.select(
        dataset=pl.lit("recon-billed" if billed else "recon-unbilled"),
        unit=pl.format("INV-{}", pl.col("period").dt.strftime("%Y%m"))
        if billed
        else pl.format("{}/{}@{}", "billing_currency", pl.col("period").dt.strftime("%Y-%m"), pl.lit(str(snapshot_at))),
        page_no=(index // page_size + 1).cast(pl.Int64) if n else pl.lit(1, dtype=pl.Int64),
        line_no=(index % page_size + 1).cast(pl.Int64) if n else pl.lit(1, dtype=pl.Int64),
        billing_state=pl.lit(state),
        snapshot_at=pl.lit(snapshot_at, dtype=pl.Datetime("us", "UTC")),
        period=pl.col("period"),
        customer_id=pl.col("customer_id"),
        customer_country=pl.lit(country),
        invoice_number=pl.format("INV-{}", pl.col("period").dt.strftime("%Y%m"))
        if billed
        else pl.lit(None, dtype=pl.String),
        order_id=pl.col("order_id"),
        subscription_id=pl.col("subscription_id"),
        charge_type=pl.col("charge_type"),
        unit_price=pl.col("unit_price").cast(WIDE),
        effective_unit_price=pl.col("effective_unit_price").cast(WIDE),
        quantity=pl.col("quantity").cast(AMOUNT),
        billable_quantity=pl.col("quantity").cast(AMOUNT),
        subtotal=pl.col("subtotal").cast(AMOUNT),
        tax_total=pl.lit(D(0)).cast(AMOUNT),
        total_for_customer=pl.col("subtotal").cast(AMOUNT),
        currency=pl.col("billing_currency"),
        pricing_currency=pl.col("pricing_currency"),
        pc_to_bc_exchange_rate=pl.col("pc_to_bc_exchange_rate").cast(RATE),
        pc_to_bc_exchange_rate_date=pl.col("period").cast(pl.Datetime("us")),
        charge_start=pl.col("charge_start"),
        charge_end=pl.col("charge_end"),
        reference_id=pl.coalesce("pair_id", "event_id"),
        meter_description=pl.lit(None, dtype=pl.String),
        product_id=pl.lit("P1"),
        sku_id=pl.lit("0001"),
        availability_id=pl.lit("A1"),
    )


def edit(lines: pl.DataFrame, where: pl.Expr, **values: Any) -> pl.DataFrame:
    """Lines with `values` (literals or expressions) set on the rows matching `where`."""
    return lines.with_columns(
        **{
            k: pl.when(where)
            .then(v if isinstance(v, pl.Expr) else pl.lit(v, dtype=lines.schema[k]))
            .otherwise(pl.col(k))
            .cast(lines.schema[k])
            for k, v in values.items()
        }
    )


def closed(*periods: date, invoice: bool = True) -> pl.LazyFrame:
    """periods_closed rows (invoice INV-yyyymm in EUR)."""
    return pl.LazyFrame(
        {
            "period": list(periods),
            "invoice_number": [f"INV-{p:%Y%m}" if invoice else None for p in periods],
            "currency": ["EUR"] * len(periods),
        },
        schema=PERIODS_CLOSED_SCHEMA,
    )


def subscriptions(*rows: dict[str, Any]) -> pl.LazyFrame:
    """subscriptions rows over defaults (s1 of c1, active, P1M monthly, order o1)."""
    base: dict[str, Any] = {
        "subscription_id": "s1", "customer_id": "c1", "order_id": "o1", "product_id": "P1", "sku_id": "0001",
        "availability_id": "A1", "quantity": D(10), "status": "active", "term": "P1M", "billing": "monthly",
        "term_start": date(2025, 1, 1), "term_end": date(2025, 1, 31), "cancelled_on": None, "auto_renew": True,
        "snapshot_at": CLOSE,
    }  # fmt: skip
    return pl.LazyFrame([{**base, **r} for r in rows], schema=SUBSCRIPTIONS_SCHEMA)


def orders(*rows: dict[str, Any]) -> pl.LazyFrame:
    """orders rows over defaults (o1 line 1 for s1 of c1, new, completed)."""
    base: dict[str, Any] = {
        "order_id": "o1", "customer_id": "c1", "line_number": 1, "subscription_id": "s1",
        "transaction_type": "new", "order_date": date(2025, 1, 1), "quantity": D(10), "unit_price": D("10.08"),
        "pricing_currency": "EUR", "status": "completed",
    }  # fmt: skip
    return pl.LazyFrame([{**base, **r} for r in rows], schema=ORDERS_SCHEMA)


def frames(
    expected: pl.DataFrame,
    lines: pl.DataFrame | Iterable[pl.DataFrame],
    *,
    periods: Iterable[date] = (),
    **more: pl.LazyFrame,
) -> dict[str, pl.LazyFrame]:
    """The rule inputs: expected, lines (several frames are stacked), closed periods, plus any others given."""
    stacked = lines if isinstance(lines, pl.DataFrame) else pl.concat(list(lines), how="diagonal_relaxed")
    out = {"expected": expected.lazy(), "lines": stacked.lazy(), "periods_closed": closed(*periods)}
    out.setdefault("markets", markets_frame())
    return {**out, **more}


def run(rule: Callable[[dict[str, pl.LazyFrame]], pl.LazyFrame], inputs: dict[str, pl.LazyFrame]) -> pl.DataFrame:
    """A rule's findings, checked against the findings schema, sorted by every column."""
    out = rule(inputs).collect()
    assert out.schema == pl.Schema(FINDING_SCHEMA)
    assert (out["amount_at_stake"] >= 0).all()
    return out.sort(pl.all(), nulls_last=True)


def summary(out: pl.DataFrame) -> list[tuple[Any, ...]]:
    """(rule, subscription, invoice, period, charge_type, difference normalised) per finding."""
    return [
        (
            r["rule"],
            r["subscription_id"],
            r["invoice_number"],
            r["period"],
            r["charge_type"],
            r["difference"].normalize(),
        )
        for r in out.iter_rows(named=True)
    ]
