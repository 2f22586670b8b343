"""R12: exchange rates that disagree with the same date and currency pair elsewhere, and currencies that do not
fit the customer's market.

Reference rate of a (pricing currency, billing currency, rate date): the `fx` frame's rate of that pair and month
when the frame is given and has one; otherwise the rate most lines carry (every recon line, billed or unbilled,
and every daily usage row votes; a tie names no reference, so no line is flagged on a coin toss). A pair of
equal currencies has the rate 1. Only billed recon lines are flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import polars as pl

from recon.reconcile.frames import AMOUNT, WIDE, check_grain
from recon.reconcile.inputs import USAGE_PRICING_CURRENCY
from recon.reconcile.matching import LINE_KEY, evidence, exact, finding, line_key, match_keys, money
from recon.reconcile.rating import RATE

Frames = Mapping[str, pl.LazyFrame]
RATE_TOLERANCE = Decimal("0.000001")
PAIR = ("pricing_currency", "billing_currency", "rate_date")


def _rate_date() -> pl.Expr:
    return pl.coalesce(pl.col("pc_to_bc_exchange_rate_date").cast(pl.Date), pl.col("period").cast(pl.Date))


def _votes(frames: Frames) -> pl.LazyFrame:
    """Every line's and daily row's rate with how many it stands for (`_n`: 1, or a counted `rates` row's `lines`)."""
    counted = "rates" in frames  # every line's rate columns, counted (the engine's `lines` holds only some lines)
    lines = frames["rates" if counted else "lines"].select(
        "pricing_currency",
        pl.col("currency").alias("billing_currency"),
        _rate_date().alias("rate_date"),
        pl.col("pc_to_bc_exchange_rate").cast(RATE).alias("rate"),
        (pl.col("lines") if counted else pl.lit(1)).cast(pl.Int64).alias("_n"),
    )
    parts = [lines]
    if "usage" in frames:
        parts.append(
            frames["usage"].select(
                "pricing_currency",
                "billing_currency",
                _rate_date().alias("rate_date"),
                pl.col("pc_to_bc_exchange_rate").cast(RATE).alias("rate"),
                pl.lit(1, dtype=pl.Int64).alias("_n"),
            )
        )
    return pl.concat(parts, how="vertical_relaxed").drop_nulls()


def reference_rates(frames: Frames) -> pl.LazyFrame:
    """(pricing_currency, billing_currency, rate_date) -> reference `rate` and how many lines carry it."""
    counted = _votes(frames).group_by(*PAIR, "rate").agg(votes=pl.col("_n").sum())
    modal = (
        counted.with_columns(
            _top=pl.col("votes").max().over(list(PAIR)),
            _ties=(pl.col("votes") == pl.col("votes").max()).sum().over(list(PAIR)),
        )
        .filter((pl.col("votes") == pl.col("_top")) & (pl.col("_ties") == 1))
        .select(*PAIR, pl.col("rate").alias("modal_rate"), "votes")
    )
    check_grain(modal, list(PAIR), "modal exchange rates")
    if "fx" not in frames:
        return modal.select(*PAIR, pl.col("modal_rate").alias("reference_rate"), "votes", source=pl.lit("lines"))
    fx = frames["fx"].select(
        "pricing_currency",
        "billing_currency",
        pl.col("month").cast(pl.Date),
        pl.col("rate").cast(RATE).alias("fx_rate"),
    )
    check_grain(fx, ["pricing_currency", "billing_currency", "month"], "fx")
    pairs = _votes(frames).select(*PAIR).unique().with_columns(month=pl.col("rate_date").dt.month_start())
    check_grain(pairs, list(PAIR), "rate pairs")
    return (
        pairs.join(fx, on=["pricing_currency", "billing_currency", "month"], how="left")
        .join(modal, on=list(PAIR), how="left")
        .select(
            *PAIR,
            pl.coalesce("fx_rate", "modal_rate").alias("reference_rate"),
            "votes",
            source=pl.when(pl.col("fx_rate").is_not_null()).then(pl.lit("fx")).otherwise(pl.lit("lines")),
        )
        .filter(pl.col("reference_rate").is_not_null())
    )


def _keys() -> dict[str, pl.Expr]:
    """The finding keys of a line, without its sign (currency findings are per line, not per pair side)."""
    return {k: v for k, v in match_keys().items() if k != "sign"}


def r12_rate(frames: Frames) -> pl.LazyFrame:
    """R12: a billed line's exchange rate differs by more than 1e-6 from its pair's reference rate of that date."""
    billed = (
        frames["lines"]
        .filter(pl.col("billing_state") == "billed")
        .with_columns(
            billing_currency=pl.col("currency"),
            rate_date=_rate_date(),
            _rate=pl.col("pc_to_bc_exchange_rate").cast(RATE),
        )
    )
    reference = reference_rates(frames)
    same = pl.col("pricing_currency") == pl.col("billing_currency")
    rows = (
        billed.join(reference, on=list(PAIR), how="left")
        .with_columns(
            reference_rate=pl.when(same).then(pl.lit(Decimal(1), dtype=RATE)).otherwise(pl.col("reference_rate")),
            source=pl.when(same).then(pl.lit("same currency")).otherwise(pl.col("source")),
        )
        .with_columns(_rate_diff=(pl.col("_rate") - pl.col("reference_rate")).cast(WIDE))
        .filter(pl.col("_rate_diff").abs() > RATE_TOLERANCE)
    )
    # Money at stake: the pricing-currency amount converted at the difference of the two rates.
    priced = (pl.col("effective_unit_price").cast(WIDE) * pl.col("billable_quantity").cast(WIDE)).abs()
    stake = (priced * pl.col("_rate_diff").abs()).cast(AMOUNT)
    return finding(
        rows,
        rule="R12-rate",
        severity="medium",
        measure="rate",
        expected=pl.col("reference_rate"),
        actual=pl.col("_rate"),
        difference=pl.col("_rate_diff"),
        amount_at_stake=stake,
        explanation=pl.format(
            "The {} line of subscription {} converts {} to {} at {}, but the rate of {} is {} ({} {} at stake).",
            "charge_type",
            pl.col("subscription_id").fill_null("?"),
            "pricing_currency",
            "billing_currency",
            exact("_rate"),
            pl.col("rate_date").cast(pl.String),
            exact("reference_rate"),
            money(stake),
            "currency",
        ),
        evidence=evidence(
            line=line_key(),
            rate_date=exact("rate_date"),
            rate=exact("_rate"),
            reference_rate=exact("reference_rate"),
            reference_source=pl.col("source"),
            lines_with_reference=pl.col("votes"),
        ),
        sign=pl.when(pl.col("subtotal") < 0).then(pl.lit("-")).otherwise(pl.lit("+")),
        **_keys(),
    )


def r12_market(frames: Frames) -> pl.LazyFrame:
    """R12: a billed line priced in a currency other than the customer market's (Azure consumption: USD)."""
    markets = frames["markets"].select(
        pl.col("country").str.to_uppercase().alias("_country"), pl.col("currency").alias("market_currency")
    )
    check_grain(markets, ["_country"], "markets")
    billed = frames["lines"].filter(pl.col("billing_state") == "billed")
    rows = (
        # Azure consumption (meter lines) is priced in USD; licences and their credits in the market's currency
        billed.with_columns(
            _country=pl.col("customer_country").str.to_uppercase(),
            _usage=pl.col("meter_description").fill_null("").str.strip_chars() != "",
        )
        .join(markets, on="_country", how="left")
        .with_columns(
            required=pl.when(pl.col("_usage")).then(pl.lit(USAGE_PRICING_CURRENCY)).otherwise(pl.col("market_currency"))
        )
        .filter(pl.col("required").is_not_null() & (pl.col("pricing_currency") != pl.col("required")))
    )
    # One finding per subscription, invoice and priced currency, however many lines share the mistake.
    grouped = rows.group_by("customer_id", "subscription_id", "invoice_number", "period", "pricing_currency").agg(
        pl.col("required").min(),
        pl.col("_country").min(),
        pl.col("currency").min(),
        pl.col("order_id").min(),
        pl.col("charge_type").min(),
        pl.col("charge_start").min(),
        pl.col("subtotal").cast(AMOUNT).sum(),
        lines=pl.struct(*LINE_KEY).sort_by(*LINE_KEY),
    )
    return finding(
        grouped,
        rule="R12-market-currency",
        severity="medium",
        measure="amount",
        expected=pl.lit(0),
        actual=pl.col("subtotal"),
        difference=pl.lit(0),
        amount_at_stake=pl.lit(Decimal(0), dtype=AMOUNT),
        explanation=pl.format(
            "Subscription {} of a customer in {} is priced in {}; that market's price list is in {}.",
            pl.col("subscription_id").fill_null("?"),
            "_country",
            "pricing_currency",
            "required",
        ),
        evidence=evidence(
            lines=pl.col("lines"),
            country=pl.col("_country"),
            pricing_currency=pl.col("pricing_currency"),
            market_currency=pl.col("required"),
            subtotal=exact("subtotal"),
        ),
        sign=pl.lit("+"),
        **_keys(),
    )
