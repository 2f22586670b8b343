"""Shared frame vocabulary: the findings schema, money constants and the grain check."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import polars as pl

AMOUNT = pl.Decimal(18, 6)
WIDE = pl.Decimal(38, 15)
CENT = Decimal("0.01")
SEVERITIES = ("info", "low", "medium", "high")

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "rule": pl.String(),
    "severity": pl.String(),
    "customer_id": pl.String(),
    "subscription_id": pl.String(),
    "order_id": pl.String(),
    "invoice_number": pl.String(),
    "period": pl.Date(),
    "measure": pl.String(),
    "expected": WIDE,
    "actual": WIDE,
    "difference": WIDE,
    "amount_at_stake": AMOUNT,
    "currency": pl.String(),
    "explanation": pl.String(),
    "evidence": pl.String(),
    # business keys that make the finding id; not stored as columns of recon.findings
    "charge_type": pl.String(),
    "charge_period": pl.String(),
    "sign": pl.String(),
}


class GrainError(ValueError):
    """A join key is missing or not unique where a rule expects one row per key."""


def check_grain(frame: pl.LazyFrame, keys: Sequence[str], name: str) -> None:
    """Raise GrainError unless `keys` are present (non-null) and unique in `frame`."""
    stats = (
        frame.select(
            pl.len().alias("rows"),
            pl.struct(list(keys)).n_unique().alias("distinct"),
            pl.any_horizontal([pl.col(k).is_null() for k in keys]).sum().alias("nulls"),
        )
        .collect()
        .row(0, named=True)
    )
    if stats["nulls"]:
        raise GrainError(f"{name}: {stats['nulls']} row(s) with a null key among {', '.join(keys)}")
    if stats["rows"] != stats["distinct"]:
        raise GrainError(
            f"{name}: keys {', '.join(keys)} are not unique ({stats['rows']} rows, {stats['distinct']} keys)"
        )


def empty_findings() -> pl.LazyFrame:
    """A findings frame with no rows."""
    return pl.LazyFrame(schema=FINDING_SCHEMA)


def conform(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Give a rule's output exactly the findings schema (missing columns as nulls)."""
    names = frame.collect_schema().names()
    return frame.select(
        [
            (pl.col(name) if name in names else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in FINDING_SCHEMA.items()
        ]
    )
