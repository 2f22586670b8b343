"""R08: the last unbilled snapshot of a closed month against what was billed.

For every closed period and currency, the license lines of the latest unbilled snapshot (largest
`snapshot_at`) are paired with the period's billed license lines in two passes: first on (period, MATCH_KEY,
reference id), then what is left on (period, MATCH_KEY) alone, each with occurrence numbers by content. An
unbilled line left unpaired never reached the invoice (vanished); a pair whose amounts differ by more than
tol(line) changed. Billed lines without an unbilled ancestor appeared late, which is ledger data, not a
finding; so is any drift inside a month that is not closed. Consumption lines are left out: their unbilled
amounts grow until the month ends by design.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from recon.reconcile.frames import AMOUNT, WIDE, check_grain
from recon.reconcile.matching import (
    LINE_KEY,
    MATCH_KEY,
    closed_periods,
    evidence,
    exact,
    finding,
    license_lines,
    line_key,
    money,
    tolerance,
    with_period_invoice,
)

Frames = Mapping[str, pl.LazyFrame]
KEY: tuple[str, ...] = ("period", *MATCH_KEY)
_COLUMNS: dict[str, pl.DataType] = {
    **{c: pl.String() for c in ("dataset", "unit")},
    "page_no": pl.Int64(),
    "line_no": pl.Int64(),
    "customer_id": pl.String(),
    "invoice_number": pl.String(),
    "order_id": pl.String(),
    "billable_quantity": AMOUNT,
    "unit_price": WIDE,
    "subtotal": AMOUNT,
    "currency": pl.String(),
    "pricing_currency": pl.String(),
    "reference_id": pl.String(),
    "snapshot_at": pl.String(),
}


def _side(frame: pl.LazyFrame, prefix: str) -> pl.LazyFrame:
    return frame.select(
        *KEY,
        pl.col("reference_id").fill_null("").alias("_ref"),
        *[pl.col(c).cast(t).alias(f"{prefix}{c}") for c, t in _COLUMNS.items()],
        pl.lit(True).alias(f"_{prefix}"),
    )


def _pair(unbilled: pl.LazyFrame, billed: pl.LazyFrame, key: Sequence[str]) -> pl.LazyFrame:
    """Full join of the two sides on `key` plus an occurrence number by content."""
    content = ["subtotal", "billable_quantity", "unit_price", "reference_id", *LINE_KEY]

    def numbered(frame: pl.LazyFrame, prefix: str) -> pl.LazyFrame:
        # position in the run of equal keys of the sorted frame (a window per key costs far more); computed once:
        # the grain check and the join both read it
        order = [*key, *(f"{prefix}{c}" for c in content)]
        index = pl.int_range(pl.len(), dtype=pl.Int64)
        new_run = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in key]).fill_null(True)
        occurrence = index - pl.when(new_run).then(index).forward_fill() + 1
        return frame.sort(order, nulls_last=True).with_columns(_occ=occurrence).collect().lazy()

    left, right = numbered(unbilled, "u_"), numbered(billed, "b_")
    grain = [*key, "_occ"]
    check_grain(left, grain, "last unbilled snapshot lines")
    check_grain(right, grain, "billed lines")
    return left.join(right, on=grain, how="full", coalesce=True).collect().lazy()  # read by each part of the split


def _split(joined: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    u, b = pl.col("_u_").fill_null(False), pl.col("_b_").fill_null(False)
    names = joined.collect_schema().names()
    ref = ["_ref"] if "_ref" in names else []
    u_cols = [c for c in names if c.startswith("u_") or c == "_u_"]
    b_cols = [c for c in names if c.startswith("b_") or c == "_b_"]
    both = joined.filter(u & b).drop("_occ", *ref)
    only_u = joined.filter(u & ~b).select(*KEY, *ref, *u_cols)
    only_b = joined.filter(b & ~u).select(*KEY, *ref, *b_cols)
    return both, only_u, only_b


def drift_pairs(frames: Frames) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(pairs of last-unbilled and billed lines, unbilled lines never billed) for the closed periods."""
    lines, closed = frames["lines"], closed_periods(frames)
    unbilled = license_lines(lines, "unbilled").filter(pl.col("currency").is_not_null())
    unbilled = unbilled.join(closed, on="period", how="semi")
    last = unbilled.group_by("period", "currency").agg(pl.col("snapshot_at").max().alias("_last"))
    check_grain(last, ["period", "currency"], "last unbilled snapshots")
    unbilled = unbilled.join(last, on=["period", "currency"]).filter(pl.col("snapshot_at") == pl.col("_last"))
    billed = license_lines(lines, "billed").join(closed, on="period", how="semi")
    first, left, right = _split(_pair(_side(unbilled, "u_"), _side(billed, "b_"), [*KEY, "_ref"]))
    second, vanished, _late = _split(_pair(left.drop("_ref"), right.drop("_ref"), KEY))
    pairs = pl.concat([first, second], how="diagonal_relaxed")
    return pairs, vanished


def _keys(prefix: str) -> dict[str, pl.Expr]:
    return {
        "customer_id": pl.col(f"{prefix}customer_id"),
        "subscription_id": pl.col("subscription_id"),
        "order_id": pl.col(f"{prefix}order_id"),
        "invoice_number": pl.col("invoice_number"),
        "period": pl.col("period"),
        "currency": pl.col("currency"),
        "charge_type": pl.col("charge_type"),
        "charge_period": pl.col("charge_start").cast(pl.String),
        "sign": pl.col("sign"),
    }


def _describe() -> pl.Expr:
    return pl.format(
        "the {} line of subscription {} for {} to {}",
        "charge_type",
        "subscription_id",
        pl.col("charge_start").cast(pl.String),
        pl.col("charge_end").cast(pl.String),
    )


def r08_unbilled(frames: Frames) -> pl.LazyFrame:
    """R08: an unbilled line of a closed month that never reached the invoice, or reached it changed."""
    pairs, vanished = drift_pairs(frames)
    vanished = with_period_invoice(
        vanished.with_columns(currency=pl.col("u_currency"), invoice_number=pl.lit(None, dtype=pl.String)), frames
    )
    vanished_findings = finding(
        vanished,
        rule="R08-unbilled-vanished",
        severity="medium",
        measure="amount",
        expected=pl.col("u_subtotal"),
        actual=pl.lit(0),
        difference=-pl.col("u_subtotal"),
        amount_at_stake=pl.col("u_subtotal").abs(),
        explanation=pl.format(
            "The last unbilled snapshot of {} ({}) shows {} for {} seats ({} {}), which never reached the invoice.",
            pl.col("period").dt.strftime("%Y-%m"),
            "u_snapshot_at",
            _describe(),
            exact(pl.col("u_billable_quantity").cast(pl.Decimal(18, 0))),
            money("u_subtotal"),
            "currency",
        ),
        evidence=evidence(
            unbilled_line=line_key("u_"),
            snapshot_at=pl.col("u_snapshot_at"),
            reference_id=pl.col("u_reference_id"),
            unbilled_subtotal=exact("u_subtotal"),
            quantity=exact("u_billable_quantity"),
        ),
        **_keys("u_"),
    )
    converted = pl.col("b_pricing_currency") != pl.col("b_currency")
    tol = tolerance(pl.max_horizontal(pl.col("u_billable_quantity"), pl.col("b_billable_quantity")), converted)
    changed = pairs.with_columns(
        _diff=(pl.col("b_subtotal") - pl.col("u_subtotal")).cast(AMOUNT),
        _tol=tol,
        currency=pl.col("b_currency"),
        invoice_number=pl.col("b_invoice_number"),
    ).filter((pl.col("_diff").abs() > pl.col("_tol")) & (pl.col("u_currency") == pl.col("b_currency")))
    changed_findings = finding(
        changed,
        rule="R08-unbilled-changed",
        severity="medium",
        measure="amount",
        expected=pl.col("u_subtotal"),
        actual=pl.col("b_subtotal"),
        difference=pl.col("_diff"),
        amount_at_stake=pl.col("_diff").abs(),
        explanation=pl.format(
            "The last unbilled snapshot of {} shows {} for {} seats ({}); invoice {} bills {} seats ({} {}).",
            pl.col("period").dt.strftime("%Y-%m"),
            _describe(),
            exact(pl.col("u_billable_quantity").cast(pl.Decimal(18, 0))),
            money("u_subtotal"),
            pl.col("invoice_number").fill_null("?"),
            exact(pl.col("b_billable_quantity").cast(pl.Decimal(18, 0))),
            money("b_subtotal"),
            "currency",
        ),
        evidence=evidence(
            unbilled_line=line_key("u_"),
            billed_line=line_key("b_"),
            snapshot_at=pl.col("u_snapshot_at"),
            unbilled_subtotal=exact("u_subtotal"),
            billed_subtotal=exact("b_subtotal"),
            tolerance=exact("_tol"),
        ),
        **_keys("b_"),
    )
    return pl.concat([vanished_findings, changed_findings], how="vertical")
