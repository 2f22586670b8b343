"""Consumption rules: R10 billed consumption line vs its daily rated usage, R13 daily usage anomaly."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import polars as pl

from recon.reconcile.frames import AMOUNT, CENT, WIDE, check_grain
from recon.reconcile.matching import LINE_KEY, evidence, exact, finding, money, usage_recon_lines

Frames = Mapping[str, pl.LazyFrame]
R10_KEY = ("invoice_number", "subscription_id", "meter")
# R13 (design.md): median of the previous 30 days, 4 x 1.4826 x MAD, more than 10.00, 14 days of history.
HISTORY_DAYS, MIN_HISTORY = 30, 14
MAD_FACTOR_4 = 59304  # 4 x 1.4826, in 1/10,000
FLOOR_CENTS = 1000
_SERIES = ("customer_id", "subscription_id", "currency")


def _recon_meter() -> pl.Expr:
    return pl.col("meter_description").str.strip_chars()


def _daily_meter() -> pl.Expr:
    """The recon line's `meterDescription` is "category - name - region" of the daily rows' meter."""
    return pl.concat_str(
        [pl.col("meter_category"), pl.col("meter_name"), pl.col("meter_region")], separator=" - ", ignore_nulls=True
    ).str.strip_chars()


def r10_usage_sum(frames: Frames) -> pl.LazyFrame:
    """R10: a billed consumption recon line differs from its billed daily rows by more than 0.01 per daily row."""
    recon = (
        usage_recon_lines(frames["lines"], "billed")
        .filter(pl.col("invoice_number").is_not_null() & pl.col("subscription_id").is_not_null())
        .group_by(pl.col("invoice_number"), pl.col("subscription_id"), _recon_meter().alias("meter"))
        .agg(
            recon_total=pl.col("subtotal").cast(AMOUNT).sum(),
            recon_quantity=pl.col("billable_quantity").cast(AMOUNT).sum(),
            r_customer=pl.col("customer_id").min(),
            r_period=pl.col("period").min(),
            r_currency=pl.col("currency").min(),
            recon_lines=pl.struct(*LINE_KEY).sort_by(*LINE_KEY),
        )
    )
    billed_daily = frames["usage"].filter(
        (pl.col("billing_state") == "billed")
        & pl.col("invoice_number").is_not_null()
        & pl.col("subscription_id").is_not_null()
    )
    daily = billed_daily.group_by(
        pl.col("invoice_number"), pl.col("subscription_id"), _daily_meter().alias("meter")
    ).agg(
        daily_total=pl.col("billing_pre_tax_total").cast(AMOUNT).sum(),
        daily_quantity=pl.col("quantity").cast(AMOUNT).sum(),
        daily_rows=pl.len(),
        d_customer=pl.col("customer_id").min(),
        d_period=pl.col("period").min(),
        d_currency=pl.col("billing_currency").min(),
        first_day=pl.col("usage_date").min(),
        last_day=pl.col("usage_date").max(),
    )
    # Only invoices with both consumption recon lines and daily rows extracted can be compared.
    invoices = (
        recon.select("invoice_number").unique().join(daily.select("invoice_number").unique(), on="invoice_number")
    )
    check_grain(invoices, ["invoice_number"], "invoices with consumption lines and daily usage")
    recon = recon.join(invoices, on="invoice_number", how="semi")
    daily = daily.join(invoices, on="invoice_number", how="semi")
    check_grain(recon, list(R10_KEY), "billed consumption lines per meter")
    check_grain(daily, list(R10_KEY), "billed daily usage per meter")
    zero = pl.lit(Decimal(0), dtype=AMOUNT)
    both = recon.join(daily, on=list(R10_KEY), how="full", coalesce=True).with_columns(
        recon_total=pl.col("recon_total").fill_null(zero),
        daily_total=pl.col("daily_total").fill_null(zero),
        daily_rows=pl.col("daily_rows").fill_null(0).cast(pl.Int64),
    )
    rows = both.with_columns(
        _diff=(pl.col("recon_total") - pl.col("daily_total")).cast(AMOUNT),
        _tol=(pl.col("daily_rows").cast(AMOUNT) * pl.lit(CENT, dtype=AMOUNT)).cast(AMOUNT),
    ).filter(pl.col("_diff").abs() > pl.col("_tol"))
    return finding(
        rows,
        rule="R10-usage-sum",
        severity="medium",
        customer_id=pl.coalesce("r_customer", "d_customer"),
        subscription_id=pl.col("subscription_id"),
        invoice_number=pl.col("invoice_number"),
        period=pl.coalesce("r_period", "d_period"),
        currency=pl.coalesce("r_currency", "d_currency"),
        measure="amount",
        expected=pl.col("daily_total"),
        actual=pl.col("recon_total"),
        difference=pl.col("_diff"),
        amount_at_stake=pl.col("_diff").abs(),
        explanation=pl.format(
            "Invoice {} bills {} {} for meter '{}' of Azure plan {}, but its {} daily rows add up to {}.",
            "invoice_number",
            money("recon_total"),
            pl.coalesce("r_currency", "d_currency"),
            pl.col("meter").fill_null("?"),
            "subscription_id",
            pl.col("daily_rows"),
            money("daily_total"),
        ),
        evidence=evidence(
            recon_lines=pl.col("recon_lines"),
            meter=pl.col("meter"),
            recon_total=exact("recon_total"),
            recon_quantity=exact("recon_quantity"),
            daily_total=exact("daily_total"),
            daily_quantity=exact("daily_quantity"),
            daily_rows=pl.col("daily_rows"),
            first_day=exact("first_day"),
            last_day=exact("last_day"),
            calculation=pl.format(
                "|{} - {}| > 0.01 x {} rows", exact("recon_total"), exact("daily_total"), "daily_rows"
            ),
        ),
        charge_type=pl.lit("usage"),
        charge_period=pl.coalesce("r_period", "d_period").cast(pl.String),
        sign=pl.lit("+"),
    )


def usage_of_record(usage: pl.LazyFrame) -> pl.LazyFrame:
    """Daily rows that count per subscription and month: the billed rows, else the latest unbilled snapshot's."""
    keyed = usage.filter(pl.col("subscription_id").is_not_null() & pl.col("period").is_not_null())
    best = keyed.group_by("subscription_id", "period").agg(
        _billed=(pl.col("billing_state") == "billed").any(),
        _last=pl.col("snapshot_at").filter(pl.col("billing_state") == "unbilled").max(),
    )
    check_grain(best, ["subscription_id", "period"], "usage months")
    billed = pl.col("billing_state") == "billed"
    latest = (pl.col("billing_state") == "unbilled") & (pl.col("snapshot_at") == pl.col("_last"))
    return (
        keyed.join(best, on=["subscription_id", "period"])
        .filter(pl.when(pl.col("_billed")).then(billed).otherwise(latest))
        .drop("_billed", "_last")
    )


def daily_totals(usage: pl.LazyFrame) -> pl.LazyFrame:
    """Daily billingPreTaxTotal in cents per customer, plan and currency, every calendar day from the data's
    first usage day to the plan's last (a day without rows counts as 0)."""
    rows = usage_of_record(usage).filter(pl.col("usage_date").is_not_null())
    series = [pl.col("customer_id"), pl.col("subscription_id"), pl.col("billing_currency").alias("currency")]
    totals = rows.group_by(*series, pl.col("usage_date").cast(pl.Date)).agg(
        cents=(pl.col("billing_pre_tax_total").cast(WIDE) * 100).sum().cast(pl.Int64),
        rows=pl.len(),
        invoice_number=pl.col("invoice_number").max(),
    )
    start = rows.select(pl.col("usage_date").cast(pl.Date).min().alias("_start"))
    calendar = (
        totals.group_by(*_SERIES)
        .agg(pl.col("usage_date").max().alias("_end"))
        .join(start, how="cross")
        .with_columns(usage_date=pl.date_ranges("_start", "_end", interval="1d"))
        .explode("usage_date")
        .drop("_start", "_end")
    )
    key = [*_SERIES, "usage_date"]
    check_grain(totals, key, "daily usage totals")
    return (
        calendar.join(totals, on=key, how="left")
        .with_columns(pl.col("cents").fill_null(0), pl.col("rows").fill_null(0))
        .sort(key)
    )


def r13_usage_anomaly(frames: Frames) -> pl.LazyFrame:
    """R13: a day's usage above the previous 30 days' median by > 4 x 1.4826 x MAD and > 10.00 (14 days needed)."""
    days = daily_totals(frames["usage"])
    cents = pl.col("cents")
    history = days.rolling(
        index_column="usage_date",
        period=f"{HISTORY_DAYS}d",
        offset=f"-{HISTORY_DAYS + 1}d",
        group_by=list(_SERIES),
    ).agg(
        history=pl.len(),
        median=cents.median(),
        mad=(cents - cents.median()).abs().median(),
    )
    key = [*_SERIES, "usage_date"]
    check_grain(history, key, "usage history windows")
    # Medians of integer cents are multiples of 0.5 and MADs of 0.25: x4 is an exact integer (exact comparison).
    scored = days.join(history, on=key).with_columns(
        med4=(pl.col("median") * 4).round(0).cast(pl.Int64),
        mad4=(pl.col("mad") * 4).round(0).cast(pl.Int64),
    )
    excess4 = cents * 4 - pl.col("med4")
    spikes = scored.filter(
        (pl.col("rows") > 0)
        & (pl.col("history") >= MIN_HISTORY)
        & (excess4 * 10_000 > pl.col("mad4") * MAD_FACTOR_4)
        & (excess4 > 4 * FLOOR_CENTS)
    ).with_columns(
        _total=(cents.cast(WIDE) / 100).cast(WIDE),
        _median=(pl.col("med4").cast(WIDE) / 400).cast(WIDE),
        _mad=(pl.col("mad4").cast(WIDE) / 400).cast(WIDE),
    )
    threshold = pl.max_horizontal(
        pl.col("_mad") * pl.lit(Decimal("5.9304"), dtype=WIDE), pl.lit(Decimal("10.00"), dtype=WIDE)
    )
    return finding(
        spikes,
        rule="R13-usage-anomaly",
        severity="low",
        customer_id=pl.col("customer_id"),
        subscription_id=pl.col("subscription_id"),
        invoice_number=pl.col("invoice_number"),
        period=pl.col("usage_date").dt.month_start(),
        currency=pl.col("currency"),
        measure="amount",
        expected=pl.col("_median"),
        actual=pl.col("_total"),
        difference=pl.col("_total") - pl.col("_median"),
        amount_at_stake=(pl.col("_total") - pl.col("_median")).cast(AMOUNT),
        explanation=pl.format(
            "Azure plan {} used {} {} on {}, {} above the median {} of the previous {} days (MAD {}).",
            "subscription_id",
            money("_total"),
            "currency",
            pl.col("usage_date").cast(pl.String),
            money(pl.col("_total") - pl.col("_median")),
            money("_median"),
            pl.col("history"),
            money("_mad"),
        ),
        evidence=evidence(
            usage_date=exact("usage_date"),
            day_total=exact("_total"),
            daily_rows=pl.col("rows"),
            history_days=pl.col("history"),
            median=exact("_median"),
            mad=exact("_mad"),
            calculation=pl.format(
                "{} - {} > max(4 x 1.4826 x {}, 10.00) = {}",
                exact("_total"),
                exact("_median"),
                exact("_mad"),
                exact(threshold),
            ),
        ),
        charge_type=pl.lit("usage"),
        charge_period=pl.col("usage_date").cast(pl.String),
        sign=pl.lit("+"),
    )
