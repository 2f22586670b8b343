"""Unbilled -> billed drift ledger (`recon.drift`) and accrual accuracy (`recon.accrual_accuracy`).

Every unbilled snapshot of a closed month is paired with the month's billed license lines the way R08 pairs the
last one (unbilled.py): per (period, currency, snapshot), first on (MATCH_KEY, reference id), then what is left
on MATCH_KEY alone, each with occurrence numbers by content. A pair within tol(line) is `matched`, beyond it
`changed`; an unbilled line left unpaired `vanished`; a billed line with no line in that snapshot
`appeared_late`. The rows of the last snapshot (`is_last`) are what R08 judges. Consumption lines are left out,
as in R08: their unbilled amount grows until the month ends by design.

Accrual accuracy compares, per closed month, currency, customer and product, the last unbilled snapshot (all
recon lines, consumption included) with the month's billed lines on its invoices (documents amending an
invoice, such as credit notes, are not part of what an accrual estimates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import polars as pl

from recon.reconcile.frames import AMOUNT, WIDE, check_grain
from recon.reconcile.matching import LINE_KEY, MATCH_KEY, closed_periods, license_lines, tolerance

Frames = Mapping[str, pl.LazyFrame]
SNAPSHOT: Final = ("period", "currency", "snapshot_at")
MATCHED, APPEARED_LATE, CHANGED, VANISHED = "matched", "appeared_late", "changed", "vanished"
DRIFT_STATUSES: Final = (MATCHED, APPEARED_LATE, CHANGED, VANISHED)
ERROR: Final = pl.Decimal(18, 9)
_TS: Final = pl.Datetime("us", "UTC")
_STR, _DATE, _INT = pl.String(), pl.Date(), pl.Int64()

# One row per (period, currency, snapshot_at, pair or unpaired line).
DRIFT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "period": _DATE, "currency": _STR, "snapshot_at": _TS, "is_last": pl.Boolean(), "status": _STR,
    "customer_id": _STR, "subscription_id": _STR, "product_id": _STR, "charge_type": _STR,
    "charge_start": _DATE, "charge_end": _DATE, "sign": _STR, "reference_id": _STR,
    "unbilled_unit": _STR, "unbilled_page_no": _INT, "unbilled_line_no": _INT,
    "invoice_number": _STR, "billed_page_no": _INT, "billed_line_no": _INT,
    "unbilled_quantity": AMOUNT, "billed_quantity": AMOUNT, "unbilled_subtotal": AMOUNT, "billed_subtotal": AMOUNT,
    "difference": AMOUNT, "tolerance": AMOUNT,
}  # fmt: skip
# One row per (period, currency, customer_id, product_id).
ACCRUAL_SCHEMA: Final[dict[str, pl.DataType]] = {
    "period": _DATE, "currency": _STR, "customer_id": _STR, "product_id": _STR, "product_name": _STR,
    "snapshot_at": _TS, "estimate": AMOUNT, "actual": AMOUNT, "difference": AMOUNT, "error": ERROR,
    "estimate_lines": _INT, "actual_lines": _INT,
}  # fmt: skip

_SIDE: Final[dict[str, pl.DataType]] = {
    "dataset": _STR, "unit": _STR, "page_no": _INT, "line_no": _INT, "customer_id": _STR, "product_id": _STR,
    "invoice_number": _STR, "billable_quantity": AMOUNT, "unit_price": WIDE, "subtotal": AMOUNT,
    "pricing_currency": _STR, "reference_id": _STR,
}  # fmt: skip
_CONTENT: Final = ("subtotal", "billable_quantity", "unit_price", "reference_id", *LINE_KEY)
_KEY: Final = (*SNAPSHOT, *MATCH_KEY)


def _side(frame: pl.LazyFrame, prefix: str) -> pl.LazyFrame:
    return frame.select(
        *_KEY,
        pl.col("reference_id").fill_null("").alias("_ref"),
        *[pl.col(c).cast(t).alias(f"{prefix}{c}") for c, t in _SIDE.items()],
        pl.lit(True).alias(f"_{prefix}"),
    )


def _numbered(frame: pl.LazyFrame, key: Sequence[str], prefix: str) -> pl.DataFrame:
    """Lines sorted by key and content, numbered 1.. within the key (R08's numbering, by sorted runs)."""
    index = pl.int_range(pl.len(), dtype=_INT)
    new_run = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in key]).fill_null(True)
    order = [*key, *(f"{prefix}{c}" for c in _CONTENT)]
    numbered = frame.sort(order, nulls_last=True).with_columns(
        _occ=index - pl.when(new_run).then(index).forward_fill() + 1
    )
    return numbered.collect()


def _pair(unbilled: pl.LazyFrame, billed: pl.LazyFrame, key: Sequence[str]) -> pl.LazyFrame:
    """Full join of both sides on `key` plus the occurrence number (materialised: each pass reads it three times)."""
    left, right = _numbered(unbilled, key, "u_").lazy(), _numbered(billed, key, "b_").lazy()
    grain = [*key, "_occ"]
    check_grain(left, grain, "unbilled snapshot lines")
    check_grain(right, grain, "billed lines per snapshot")
    return left.join(right, on=grain, how="full", coalesce=True).drop("_occ").collect().lazy()


def _split(joined: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    """(pairs, unbilled only, billed only) of a pass."""
    u, b = pl.col("_u_").fill_null(False), pl.col("_b_").fill_null(False)
    names = joined.collect_schema().names()
    ref = [c for c in names if c == "_ref"]
    u_cols = [c for c in names if c.startswith(("u_", "_u_"))]
    b_cols = [c for c in names if c.startswith(("b_", "_b_"))]
    return (
        joined.filter(u & b).drop(ref),
        joined.filter(u & ~b).select(*_KEY, *ref, *u_cols),
        joined.filter(b & ~u).select(*_KEY, *ref, *b_cols),
    )


def snapshots(frames: Frames) -> pl.LazyFrame:
    """Unbilled snapshots of closed periods: (period, currency, snapshot_at) with `is_last` per period and currency."""
    unbilled = frames["lines"].filter(
        (pl.col("billing_state") == "unbilled") & pl.col("currency").is_not_null() & pl.col("snapshot_at").is_not_null()
    )
    snaps = unbilled.join(closed_periods(frames), on="period", how="semi").select(*SNAPSHOT).unique()
    check_grain(snaps, SNAPSHOT, "unbilled snapshots")
    return snaps.with_columns(is_last=pl.col("snapshot_at") == pl.col("snapshot_at").max().over("period", "currency"))


def drift(frames: Frames) -> pl.LazyFrame:
    """The drift ledger (DRIFT_SCHEMA): every unbilled snapshot of a closed month against the month's billed lines."""
    snaps = snapshots(frames).collect().lazy()  # small, read three times
    lines = frames["lines"].filter(pl.col("currency").is_not_null())
    unbilled = license_lines(lines, "unbilled").join(snaps, on=list(SNAPSHOT), how="semi")
    # each billed line stands against every snapshot of its period and currency
    billed = license_lines(lines, "billed").drop("snapshot_at").join(snaps.drop("is_last"), on=["period", "currency"])
    first, left, right = _split(_pair(_side(unbilled, "u_"), _side(billed, "b_"), [*_KEY, "_ref"]))
    second, vanished, late = _split(_pair(left.drop("_ref"), right.drop("_ref"), _KEY))
    rows = pl.concat([first, second, vanished, late], how="diagonal_relaxed")
    u, b = pl.col("_u_").fill_null(False), pl.col("_b_").fill_null(False)
    zero = pl.lit(0, dtype=AMOUNT)
    converted = pl.coalesce("b_pricing_currency", "u_pricing_currency") != pl.col("currency")
    quantity = pl.max_horizontal(pl.col("u_billable_quantity").fill_null(0), pl.col("b_billable_quantity").fill_null(0))
    rows = rows.with_columns(
        difference=(pl.col("b_subtotal").fill_null(zero) - pl.col("u_subtotal").fill_null(zero)).cast(AMOUNT),
        tolerance=tolerance(quantity, converted),
    )
    status = (
        pl.when(u & b & (pl.col("difference").abs() <= pl.col("tolerance")))
        .then(pl.lit(MATCHED))
        .when(u & b)
        .then(pl.lit(CHANGED))
        .when(u)
        .then(pl.lit(VANISHED))
        .otherwise(pl.lit(APPEARED_LATE))
    )
    out = rows.join(snaps, on=list(SNAPSHOT), how="left").select(
        *SNAPSHOT,
        "is_last",
        status.alias("status"),
        pl.coalesce("b_customer_id", "u_customer_id").alias("customer_id"),
        "subscription_id",
        pl.coalesce("b_product_id", "u_product_id").alias("product_id"),
        "charge_type",
        "charge_start",
        "charge_end",
        "sign",
        pl.coalesce("b_reference_id", "u_reference_id").alias("reference_id"),
        pl.col("u_unit").alias("unbilled_unit"),
        pl.col("u_page_no").alias("unbilled_page_no"),
        pl.col("u_line_no").alias("unbilled_line_no"),
        pl.col("b_invoice_number").alias("invoice_number"),
        pl.col("b_page_no").alias("billed_page_no"),
        pl.col("b_line_no").alias("billed_line_no"),
        pl.col("u_billable_quantity").alias("unbilled_quantity"),
        pl.col("b_billable_quantity").alias("billed_quantity"),
        pl.col("u_subtotal").alias("unbilled_subtotal"),
        pl.col("b_subtotal").alias("billed_subtotal"),
        "difference",
        "tolerance",
    )
    return out.select([pl.col(c).cast(t) for c, t in DRIFT_SCHEMA.items()])


def _totals(frame: pl.LazyFrame, amount: str, count: str) -> pl.LazyFrame:
    return frame.group_by("period", "currency", "customer_id", "product_id").agg(
        pl.col("subtotal").sum().cast(AMOUNT).alias(amount),
        pl.len().cast(_INT).alias(count),
        pl.col("product_name").max().alias(f"{amount}_product_name"),
    )


def accrual_accuracy(frames: Frames) -> pl.LazyFrame:
    """Per closed month, currency, customer and product: last unbilled estimate, billed actual, relative error."""
    keys = ["period", "currency", "customer_id", "product_id"]
    last = snapshots(frames).filter(pl.col("is_last")).drop("is_last")
    unbilled = frames["lines"].filter(pl.col("billing_state") == "unbilled").join(last, on=list(SNAPSHOT), how="semi")
    amending = frames["invoices"].filter(pl.col("amends_of").is_not_null()).select("invoice_number").unique()
    billed = (
        frames["lines"]
        .filter(pl.col("billing_state") == "billed")
        .join(amending, on="invoice_number", how="anti")
        .join(last.select("period", "currency"), on=["period", "currency"], how="semi")
    )
    estimate, actual = _totals(unbilled, "estimate", "estimate_lines"), _totals(billed, "actual", "actual_lines")
    for side, name in ((estimate, "estimates"), (actual, "actuals")):
        check_grain(side.with_columns(pl.col(keys[2:]).fill_null("")), keys, f"accrual {name}")
    zero = pl.lit(0, dtype=AMOUNT)
    joined = estimate.join(actual, on=keys, how="full", coalesce=True, nulls_equal=True).with_columns(
        pl.col("estimate").fill_null(zero),
        pl.col("actual").fill_null(zero),
        pl.col("estimate_lines").fill_null(0),
        pl.col("actual_lines").fill_null(0),
    )
    difference = (pl.col("estimate") - pl.col("actual")).cast(AMOUNT)
    # |estimate - actual| / |actual|, divided at 18 places then held at 9; undefined (null) when nothing was billed
    actual_abs = pl.when(pl.col("actual") != 0).then(pl.col("actual").abs())
    error = (difference.abs().cast(pl.Decimal(38, 18)) / actual_abs).cast(ERROR)
    out = joined.join(last, on=["period", "currency"], how="left").with_columns(
        product_name=pl.coalesce("actual_product_name", "estimate_product_name"),
        difference=difference,
        error=error,
    )
    return out.select([pl.col(c).cast(t) for c, t in ACCRUAL_SCHEMA.items()])
