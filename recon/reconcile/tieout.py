"""Explained tie-out per invoice and currency, and rule R09 on what stays unexplained."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from recon.reconcile.frames import AMOUNT, CENT, check_grain, conform

R09_TOLERANCE = CENT
# The explained causes of a residual, in the order they are allocated (rounding last: it is the weakest evidence).
CAUSES = ("adjustments", "credit_notes", "missing_lines", "currency_conversion", "rounding")


def _allocate(remaining: pl.Expr, available: pl.Expr) -> pl.Expr:
    """Part of the signed `remaining` residual that a cause with signed evidence `available` explains."""
    same_sign = (remaining.sign() == available.sign()) & (remaining != 0)
    part = pl.min_horizontal(remaining.abs(), available.abs()) * remaining.sign().cast(AMOUNT)
    return pl.when(same_sign).then(part).otherwise(pl.lit(Decimal(0))).cast(AMOUNT)


def _whole(remaining: pl.Expr, available: pl.Expr) -> pl.Expr:
    """A document explains its whole amount or nothing: only when the residual holds all of it (same sign)."""
    fits = (remaining.sign() == available.sign()) & (available != 0) & (available.abs() <= remaining.abs())
    return pl.when(fits).then(available).otherwise(pl.lit(Decimal(0))).cast(AMOUNT)


def tieout(invoices: pl.LazyFrame, lines: pl.LazyFrame, unit_loads: pl.LazyFrame) -> pl.LazyFrame:
    """Invoice total vs sum of its billed lines, the residual split by cause (design: Tie-out causes)."""
    check_grain(invoices, ["invoice_number"], "stg.invoices")
    billed = lines.filter(pl.col("billing_state") == "billed")
    per_invoice = (
        billed.join(invoices.select("invoice_number", pl.col("currency").alias("inv_ccy")), on="invoice_number")
        .group_by("invoice_number")
        .agg(
            pl.col("total_for_customer").filter(pl.col("currency") == pl.col("inv_ccy")).sum().alias("lines_total"),
            pl.col("total_for_customer").filter(pl.col("currency") != pl.col("inv_ccy")).sum().alias("other_ccy"),
            pl.len().alias("line_count"),
            # rounding needs evidence: only lines that carry sub-cent digits can round on the invoice
            (pl.col("total_for_customer") != pl.col("total_for_customer").cast(pl.Decimal(18, 2), strict=False))
            .sum()
            .alias("sub_cent_lines"),
        )
    )
    loads = unit_loads.filter(pl.col("dataset") == "recon-billed").select(
        pl.col("unit").alias("invoice_number"), pl.col("status").alias("lines_load")
    )
    amend = (
        invoices.filter(pl.col("amends_of").is_not_null())
        .group_by("amends_of", "document_type")
        .agg(pl.col("total_charges").sum().alias("amount"))
        .with_columns(
            pl.when(pl.col("document_type") == "adjustment_note")
            .then(pl.lit("adj"))
            .otherwise(pl.lit("credit"))
            .alias("kind")
        )
    )
    adjustments = (
        amend.filter(pl.col("kind") == "adj").group_by("amends_of").agg(pl.col("amount").sum().alias("adj_ev"))
    )
    credits = (
        amend.filter(pl.col("kind") == "credit").group_by("amends_of").agg(pl.col("amount").sum().alias("credit_ev"))
    )
    zero = pl.lit(Decimal(0)).cast(AMOUNT)
    base = (
        invoices.join(per_invoice, on="invoice_number", how="left")
        .join(loads, on="invoice_number", how="left")
        .join(adjustments, left_on="invoice_number", right_on="amends_of", how="left")
        .join(credits, left_on="invoice_number", right_on="amends_of", how="left")
        .with_columns(
            pl.col("lines_total").fill_null(zero).cast(AMOUNT),
            pl.col("other_ccy").fill_null(zero).cast(AMOUNT),
            pl.col("line_count").fill_null(0).cast(pl.Int64),
            pl.col("sub_cent_lines").fill_null(0).cast(pl.Int64),
            pl.col("adj_ev").fill_null(zero).cast(AMOUNT),
            pl.col("credit_ev").fill_null(zero).cast(AMOUNT),
        )
        .with_columns((pl.col("total_charges") - pl.col("lines_total")).cast(AMOUNT).alias("residual"))
    )
    incomplete = pl.col("lines_load").is_null() | (pl.col("lines_load") != "complete")
    missing_ev = pl.when(incomplete).then(pl.col("residual")).otherwise(zero)
    evidence_of = {
        "adjustments": pl.col("adj_ev"),
        "credit_notes": pl.col("credit_ev"),
        "missing_lines": missing_ev,
        "currency_conversion": pl.col("other_ccy"),
        "rounding": pl.col("sub_cent_lines").cast(AMOUNT) * pl.lit(CENT).cast(AMOUNT) * pl.col("residual").sign(),
    }
    frame = base.with_columns(pl.col("residual").alias("_left"))
    for name in CAUSES:
        evidence = evidence_of[name]
        allocate = _whole if name in ("adjustments", "credit_notes") else _allocate
        frame = frame.with_columns(allocate(pl.col("_left"), evidence).alias(name)).with_columns(
            (pl.col("_left") - pl.col(name)).cast(AMOUNT).alias("_left")
        )
    return frame.select(
        "invoice_number",
        "period",
        "currency",
        "document_type",
        pl.col("total_charges").cast(AMOUNT).alias("invoice_total"),
        "lines_total",
        "line_count",
        "residual",
        *CAUSES,
        pl.col("_left").alias("unexplained"),
        pl.when(pl.col("_left").abs() > R09_TOLERANCE)
        .then(pl.lit("unexplained"))
        .when(incomplete)
        .then(pl.lit("incomplete"))
        .when(pl.col("residual") != 0)
        .then(pl.lit("explained"))
        .otherwise(pl.lit("tied"))
        .alias("status"),
    )


def _text(name: str) -> pl.Expr:
    """Money as exact text with two decimals (amounts are stored with six)."""
    return pl.col(name).cast(pl.Decimal(18, 2)).cast(pl.String).alias(name)


def r09_invoice_tieout(tie: pl.LazyFrame) -> pl.LazyFrame:
    """R09: invoice total differs from the sum of its lines by more than 0.01 after explained causes."""
    flagged = tie.filter(pl.col("unexplained").abs() > R09_TOLERANCE)
    return conform(
        flagged.with_columns(
            pl.lit("R09-invoice-total").alias("rule"),
            pl.lit("high").alias("severity"),
            pl.lit("amount").alias("measure"),
            pl.col("lines_total").alias("expected"),
            pl.col("invoice_total").alias("actual"),
            pl.col("unexplained").alias("difference"),
            pl.col("unexplained").abs().alias("amount_at_stake"),
            pl.concat_str(
                pl.lit("Invoice "),
                "invoice_number",
                pl.lit(" totals "),
                _text("invoice_total"),
                pl.lit(" "),
                "currency",
                pl.lit(" but its "),
                pl.col("line_count").cast(pl.String),
                pl.lit(" lines sum to "),
                _text("lines_total"),
                pl.lit("; "),
                _text("unexplained"),
                pl.lit(
                    " is not explained by rounding, adjustments, credit notes, missing lines or currency conversion."
                ),
            ).alias("explanation"),
            pl.struct(
                "invoice_number",
                *(_text(c) for c in ("invoice_total", "lines_total", "residual", *CAUSES)),
                "line_count",
            )
            .struct.json_encode()
            .alias("evidence"),
            pl.lit("invoice_total").alias("charge_type"),
            pl.col("period").cast(pl.String).alias("charge_period"),
            pl.when(pl.col("unexplained") > 0).then(pl.lit("+")).otherwise(pl.lit("-")).alias("sign"),
        )
    )
