"""License-line matching: recon lines against the shadow rater's expected lines, and the helpers rules share.

Vocabulary (SQLMesh's table diff): the expected lines are the left side, the recon lines the right side.
A pair is a **full match** when seats agree, the unit price is within 0.01 and the amount within tol(line);
a **partial match** when the key matches but one of those differs; **left only** is an expected line with no
recon line, **right only** a recon line nobody expected. The key is (subscription_id, charge_type,
charge_start, charge_end, sign) plus an occurrence number inside the key: lines of one key are numbered by
their content (amount, seats, price, reference id, then the line key for exact twins), never deduplicated, so a
line billed twice leaves its second occurrence right only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

import polars as pl

from recon.reconcile.frames import AMOUNT, CENT, WIDE, check_grain, conform
from recon.reconcile.rating import CHARGE_TYPES, RATE

LINE_KEY: Final = ("dataset", "unit", "page_no", "line_no")
MATCH_KEY: Final = ("subscription_id", "charge_type", "charge_start", "charge_end", "sign")
FULL, PARTIAL, LEFT, RIGHT = "full match", "partial match", "left only", "right only"
STATUSES: Final = (FULL, PARTIAL, LEFT, RIGHT)
PRICE_TOLERANCE: Final = CENT  # R02: unit price, pricing currency
REFUND_TYPES: Final = ("addQuantity", "removeQuantity", "cancelImmediate")

_EXPECTED_COLUMNS: Final[dict[str, pl.DataType]] = {
    "customer_id": pl.String(),
    "order_id": pl.String(),
    "period": pl.Date(),
    "order_date": pl.Date(),
    "quantity": AMOUNT,
    "unit_price": WIDE,
    "effective_unit_price": WIDE,
    "subtotal": AMOUNT,
    "pricing_currency": pl.String(),
    "billing_currency": pl.String(),
    "pc_to_bc_exchange_rate": RATE,
    "event_id": pl.String(),
    "pair_id": pl.String(),
    "window_opened": pl.Date(),
}
_ACTUAL_COLUMNS: Final[dict[str, pl.DataType]] = {
    "dataset": pl.String(),
    "unit": pl.String(),
    "page_no": pl.Int64(),
    "line_no": pl.Int64(),
    "customer_id": pl.String(),
    "invoice_number": pl.String(),
    "order_id": pl.String(),
    "period": pl.Date(),
    "billable_quantity": AMOUNT,
    "unit_price": WIDE,
    "effective_unit_price": WIDE,
    "subtotal": AMOUNT,
    "currency": pl.String(),
    "pricing_currency": pl.String(),
    "pc_to_bc_exchange_rate": RATE,
    "reference_id": pl.String(),
}
ZERO: Final = Decimal(0)


# ---- line classification ------------------------------------------------------------------------------------


def is_usage_line() -> pl.Expr:
    """True for Azure consumption lines (meter data) and charge types the shadow rater does not rate."""
    meter = pl.col("meter_description").fill_null("").str.strip_chars() != ""
    return meter | ~pl.col("charge_type").is_in(list(CHARGE_TYPES))


def line_sign() -> pl.Expr:
    """`+`/`-` of a recon line: the sign of its subtotal, of its effective unit price when the subtotal is 0."""
    negative = (pl.col("subtotal") < 0) | ((pl.col("subtotal") == 0) & (pl.col("effective_unit_price") < 0))
    return pl.when(negative).then(pl.lit("-")).otherwise(pl.lit("+"))


def tolerance(quantity: pl.Expr, converted: pl.Expr) -> pl.Expr:
    """tol(line) = 0.01 x billableQuantity, plus 0.01 when the line is converted between currencies (AMOUNT)."""
    cent = pl.lit(CENT, dtype=AMOUNT)
    extra = pl.when(converted.fill_null(False)).then(cent).otherwise(pl.lit(ZERO, dtype=AMOUNT))
    return (quantity.abs().cast(AMOUNT) * cent + extra).cast(AMOUNT)


def license_lines(lines: pl.LazyFrame, state: str = "billed") -> pl.LazyFrame:
    """Seat (license) recon lines of one billing state, with their `sign`; consumption lines are left out."""
    return lines.filter((pl.col("billing_state") == state) & ~is_usage_line()).with_columns(sign=line_sign())


def usage_recon_lines(lines: pl.LazyFrame, state: str = "billed") -> pl.LazyFrame:
    """Azure consumption recon lines (those with meter data) of one billing state."""
    meter = pl.col("meter_description").fill_null("").str.strip_chars() != ""
    return lines.filter((pl.col("billing_state") == state) & meter)


# ---- the match ----------------------------------------------------------------------------------------------


def _numbered(frame: pl.LazyFrame, order: Sequence[str], flag: str) -> pl.LazyFrame:
    """Occurrence number within MATCH_KEY by content, and a presence flag for the side (computed once: the grain
    check and the join both read it).

    The number is the position in the run of equal keys of the sorted frame (a window per key costs far more).
    """
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    new_run = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in MATCH_KEY]).fill_null(True)
    return (
        frame.sort([*MATCH_KEY, *order], nulls_last=True)
        .with_columns(occurrence=index - pl.when(new_run).then(index).forward_fill() + 1, **{flag: pl.lit(True)})
        .collect()
        .lazy()
    )


def _keyed(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.filter(pl.all_horizontal([pl.col(k).is_not_null() for k in MATCH_KEY]))


def match(expected: pl.LazyFrame, actual: pl.LazyFrame) -> pl.LazyFrame:
    """Every expected and recon license line, paired: one row per (MATCH_KEY, occurrence) with its status.

    `expected` has EXPECTED_SCHEMA; `actual` holds recon lines with a `sign` (see `license_lines`). Columns:
    the key, `occurrence`, `status`, `exp_*` and `act_*` of each side, `expected_count` / `actual_count`
    (lines of the key on each side), `quantity_diff`, `price_diff`, `amount_diff` (actual - expected; the
    amount only when both are in the same currency), `tolerance`, and the finding keys `customer_id`,
    `order_id`, `invoice_number`, `period`, `currency`.
    """
    exp = _keyed(expected).select(
        *[pl.col(k) for k in MATCH_KEY],
        *[pl.col(c).cast(t).alias(f"exp_{c}") for c, t in _EXPECTED_COLUMNS.items()],
    )
    act = _keyed(actual).select(
        *[pl.col(k) for k in MATCH_KEY],
        *[pl.col(c).cast(t).alias(f"act_{c}") for c, t in _ACTUAL_COLUMNS.items()],
    )
    exp = _numbered(exp, ["exp_subtotal", "exp_quantity", "exp_unit_price", "exp_event_id"], "_left")
    act_order = ["act_subtotal", "act_billable_quantity", "act_unit_price", "act_effective_unit_price"]
    act_order += ["act_reference_id", "act_invoice_number", *(f"act_{c}" for c in LINE_KEY)]
    act = _numbered(act, act_order, "_right")
    grain = [*MATCH_KEY, "occurrence"]
    check_grain(exp, grain, "expected lines")
    check_grain(act, grain, "recon lines")
    joined = exp.join(act, on=grain, how="full", coalesce=True)
    left, right = pl.col("_left").fill_null(False), pl.col("_right").fill_null(False)
    same_currency = pl.col("act_currency") == pl.col("exp_billing_currency")
    converted = (
        pl.when(right)
        .then(pl.col("act_pricing_currency") != pl.col("act_currency"))
        .otherwise(pl.col("exp_pricing_currency") != pl.col("exp_billing_currency"))
    )
    out = joined.with_columns(
        expected_count=left.cast(pl.Int64).sum().over(list(MATCH_KEY)),
        actual_count=right.cast(pl.Int64).sum().over(list(MATCH_KEY)),
        quantity_diff=(pl.col("act_billable_quantity") - pl.col("exp_quantity")).cast(AMOUNT),
        price_diff=(pl.col("act_unit_price") - pl.col("exp_unit_price")).cast(WIDE),
        amount_diff=pl.when(same_currency).then(pl.col("act_subtotal") - pl.col("exp_subtotal")).cast(AMOUNT),
        tolerance=tolerance(pl.coalesce("act_billable_quantity", "exp_quantity"), converted),
        customer_id=pl.coalesce("act_customer_id", "exp_customer_id"),
        order_id=pl.coalesce("act_order_id", "exp_order_id"),
        invoice_number=pl.col("act_invoice_number"),
        period=pl.coalesce("act_period", "exp_period"),
        currency=pl.coalesce("act_currency", "exp_billing_currency"),
    )
    agree = (
        (pl.col("quantity_diff") == 0)
        & (pl.col("price_diff").abs() <= PRICE_TOLERANCE)
        & (pl.col("amount_diff").abs() <= pl.col("tolerance"))
    ).fill_null(False)
    status = (
        pl.when(~right)
        .then(pl.lit(LEFT))
        .when(~left)
        .then(pl.lit(RIGHT))
        .when(agree)
        .then(pl.lit(FULL))
        .otherwise(pl.lit(PARTIAL))
    )
    return out.with_columns(status=status).drop("_left", "_right")


def license_match(frames: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
    """The billed license match of `frames` (a precomputed `license_match` frame when the engine gives one)."""
    cached = frames.get("license_match")
    if cached is not None:
        return cached
    return match(frames["expected"], license_lines(frames["lines"], "billed"))


# ---- closed periods -----------------------------------------------------------------------------------------


def closed_periods(frames: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
    """Distinct closed billing periods (`period`), unique by construction."""
    closed = frames["periods_closed"].select(pl.col("period").cast(pl.Date)).drop_nulls().unique()
    check_grain(closed, ["period"], "periods_closed")
    return closed


def invoice_of_period(frames: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
    """(period, currency) -> invoice_number where periods_closed names exactly one invoice for it."""
    named = frames["periods_closed"].filter(
        pl.col("currency").is_not_null() & pl.col("invoice_number").is_not_null() & pl.col("period").is_not_null()
    )
    per = named.group_by("period", "currency").agg(
        pl.when(pl.col("invoice_number").n_unique() == 1).then(pl.col("invoice_number").first()).alias("_invoice")
    )
    check_grain(per, ["period", "currency"], "periods_closed invoices")
    return per


def with_period_invoice(frame: pl.LazyFrame, frames: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
    """Fill a null `invoice_number` from the period's only invoice in `currency`."""
    return (
        frame.join(invoice_of_period(frames), on=["period", "currency"], how="left")
        .with_columns(invoice_number=pl.coalesce("invoice_number", "_invoice"))
        .drop("_invoice")
    )


# ---- findings -----------------------------------------------------------------------------------------------


def money(name: str | pl.Expr) -> pl.Expr:
    """A Decimal as text with two decimals, for explanations (amounts are exact to the cent in recon data)."""
    expr = pl.col(name) if isinstance(name, str) else name
    return expr.cast(pl.Decimal(38, 2)).cast(pl.String).fill_null("?")


def exact(name: str | pl.Expr) -> pl.Expr:
    """A value as exact text (Decimals keep every digit), for evidence."""
    expr = pl.col(name) if isinstance(name, str) else name
    return expr.cast(pl.String)


def line_key(prefix: str = "") -> pl.Expr:
    """The line key (dataset, unit, page_no, line_no) of a recon line as a struct (null when absent)."""
    present = pl.col(f"{prefix}dataset").is_not_null()
    key = pl.struct(*[pl.col(f"{prefix}{c}").alias(c) for c in LINE_KEY])
    return pl.when(present).then(key)


def evidence(**parts: pl.Expr) -> pl.Expr:
    """JSON text of the given parts (structs, strings, numbers as exact text)."""
    return pl.struct([expr.alias(name) for name, expr in parts.items()]).struct.json_encode()


def finding(frame: pl.LazyFrame, **columns: pl.Expr | str) -> pl.LazyFrame:
    """Findings (FINDING_SCHEMA) selected from `frame`: each column an expression, or a literal string."""
    exprs = [(pl.lit(v) if isinstance(v, str) else v).alias(k) for k, v in columns.items()]
    return conform(frame.select(exprs))


def match_keys() -> dict[str, pl.Expr]:
    """Finding key columns of a match row."""
    return {
        "customer_id": pl.col("customer_id"),
        "subscription_id": pl.col("subscription_id"),
        "order_id": pl.col("order_id"),
        "invoice_number": pl.col("invoice_number"),
        "period": pl.col("period"),
        "currency": pl.col("currency"),
        "charge_type": pl.col("charge_type"),
        "charge_period": pl.col("charge_start").cast(pl.String),
        "sign": pl.col("sign"),
    }


def match_evidence(**calculation: pl.Expr) -> pl.Expr:
    """Evidence of a match row: the recon line key, the expected event, both sides' figures, the calculation."""
    side = {
        "expected": pl.when(pl.col("exp_event_id").is_not_null()).then(
            pl.struct(
                event_id=pl.col("exp_event_id"),
                pair_id=pl.col("exp_pair_id"),
                quantity=exact("exp_quantity"),
                unit_price=exact("exp_unit_price"),
                effective_unit_price=exact("exp_effective_unit_price"),
                rate=exact("exp_pc_to_bc_exchange_rate"),
                subtotal=exact("exp_subtotal"),
            )
        ),
        "billed": pl.when(pl.col("act_dataset").is_not_null()).then(
            pl.struct(
                reference_id=pl.col("act_reference_id"),
                quantity=exact("act_billable_quantity"),
                unit_price=exact("act_unit_price"),
                effective_unit_price=exact("act_effective_unit_price"),
                rate=exact("act_pc_to_bc_exchange_rate"),
                subtotal=exact("act_subtotal"),
            )
        ),
    }
    return evidence(
        line=line_key("act_"),
        occurrence=pl.col("occurrence"),
        expected_count=pl.col("expected_count"),
        billed_count=pl.col("actual_count"),
        tolerance=exact("tolerance"),
        **side,
        **calculation,
    )


def describe_line() -> pl.Expr:
    """`the cycleCharge line of subscription S for 2025-03-15..2025-04-14` for explanations."""
    return pl.format(
        "the {} {} of subscription {} for {} to {}",
        pl.col("charge_type"),
        pl.when(pl.col("sign") == "-").then(pl.lit("refund")).otherwise(pl.lit("charge")),
        pl.col("subscription_id"),
        pl.col("charge_start").cast(pl.String),
        pl.col("charge_end").cast(pl.String),
    )
