"""Subscription events and exchange rates for the shadow rater, as pure functions over frames."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

QTY = pl.Decimal(18, 6)
PRICE = pl.Decimal(38, 15)
RATE = pl.Decimal(18, 9)
# Order line transaction types -> rater events (docs/rating.md).
EVENT_OF = {"new": "purchase", "addQuantity": "add", "removeQuantity": "remove", "cancel": "cancel", "renew": "renew"}
RATED_PLANS = {("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual"), ("P3Y", "monthly"), ("P3Y", "annual"),
               ("P3Y", "triennial")}  # fmt: skip


def subscription_events(orders: pl.LazyFrame, subscriptions: pl.LazyFrame) -> pl.LazyFrame:
    """One rater event per order line (purchase, add, remove, cancel, renew) with the seat count after it.

    Order lines carry what they bought, added or removed; the count after each event is a running sum that
    restarts at every purchase and renewal. Term and billing plan come from the subscription.
    """
    ends = (pl.col("status") == "expired") | (pl.col("auto_renew") == False)  # noqa: E712 - null: renewing
    plans = subscriptions.select(
        "subscription_id",
        pl.col("customer_id").alias("sub_customer"),
        "term",
        "billing",
        pl.when(ends.fill_null(False)).then(pl.col("term_end")).alias("ends_on"),
        pl.when(pl.col("status") == "active").then(pl.col("quantity")).cast(QTY).alias("active_quantity"),
    ).unique("subscription_id")
    lines = (
        orders.filter(pl.col("subscription_id").is_not_null() & pl.col("transaction_type").is_in(list(EVENT_OF)))
        .with_columns(pl.col("transaction_type").replace_strict(EVENT_OF).alias("event"))
        .sort("subscription_id", "ordered_at", "order_id", "line_number")
    )
    absolute = pl.col("event").is_in(["purchase", "renew"])
    delta = (
        pl.when(pl.col("event") == "add")
        .then(pl.col("quantity"))
        .when(pl.col("event") == "remove")
        .then(-pl.col("quantity"))
        .otherwise(pl.lit(Decimal(0)))
        .cast(QTY)
    )
    # Segments (a subscription's first line, then every purchase or renewal) are runs of the sorted frame: a count
    # is the segment's base plus the running sum of its changes, computed with resets instead of windows.
    first = (pl.col("subscription_id") != pl.col("subscription_id").shift(1)).fill_null(True)
    start = pl.col("_start")
    running = pl.col("delta").fill_null(Decimal(0)).cum_sum()
    with_counts = (
        lines.with_columns(delta.alias("delta"), (first | absolute).alias("_start"))
        .with_columns(
            # a segment's base: the purchase's or renewal's count (0 when it has none, or starts without one)
            pl.when(start)
            .then(pl.when(absolute).then(pl.col("quantity")).fill_null(Decimal(0)))
            .forward_fill()
            .cast(QTY)
            .alias("_base"),
            (running - pl.when(start).then(running - pl.col("delta").fill_null(Decimal(0))).forward_fill()).alias(
                "_sum"
            ),
        )
        # a cancel keeps the count it ends (its delta is 0): the rater refunds it from the count before the cancel
        .with_columns(
            pl.when(pl.col("delta").is_not_null()).then(pl.col("_base") + pl.col("_sum")).cast(QTY).alias("after")
        )
    )
    discount = (
        pl.when(pl.col("list_price") > pl.col("unit_price"))
        .then(
            (pl.col("list_price") - pl.col("unit_price")).cast(pl.Decimal(38, 18))
            / pl.col("list_price").cast(pl.Decimal(38, 18))
        )
        .otherwise(None)
        .cast(RATE)
    )
    return with_counts.join(plans, on="subscription_id", how="inner", maintain_order="left").select(
        "subscription_id",
        pl.coalesce("customer_id", "sub_customer").alias("customer_id"),
        "order_id",
        pl.concat_str("order_id", pl.col("line_number").cast(pl.String), separator="#").alias("event_id"),
        "event",
        pl.col("order_date").alias("event_date"),
        pl.col("after").alias("quantity"),
        "term",
        "billing",
        pl.coalesce("list_price", "unit_price").cast(PRICE).alias("unit_price"),
        discount.alias("promotion_discount"),
        "pricing_currency",
        "ends_on",
        "active_quantity",
    )


def rateable(events: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Split events into those the rater can rate (one purchase, a known plan) and the subscriptions it cannot."""
    per_sub = events.group_by("subscription_id").agg(
        (pl.col("event") == "purchase").sum().alias("purchases"),
        pl.struct("term", "billing").n_unique().alias("plans"),
        pl.col("term").first(),
        pl.col("billing").first(),
        pl.col("customer_id").first(),
        (pl.col("event_date").min() < pl.col("event_date").filter(pl.col("event") == "purchase").min()).alias("early"),
        # events come in order: the last one's seat count is what the history says the subscription has now
        (pl.col("quantity").sort_by("event_date", maintain_order=True).last() != pl.col("active_quantity").last())
        .fill_null(False)
        .alias("unexplained"),
    )
    known = pl.concat_str("term", "billing", separator="/").is_in([f"{t}/{b}" for t, b in sorted(RATED_PLANS)])
    ok = per_sub.filter(
        (pl.col("purchases") == 1)
        & (pl.col("plans") == 1)
        & known
        & ~pl.col("early").fill_null(False)
        & ~pl.col("unexplained")
    )
    good = events.join(ok.select("subscription_id"), on="subscription_id", how="semi")
    missing = per_sub.join(ok.select("subscription_id"), on="subscription_id", how="anti").select(
        "subscription_id",
        "customer_id",
        pl.when(pl.col("purchases") == 0)
        .then(pl.lit("the order history does not reach back to the purchase"))
        .when(~known)
        .then(pl.concat_str(pl.lit("the plan "), "term", pl.lit("/"), "billing", pl.lit(" is not rated")))
        .when(pl.col("unexplained"))
        .then(pl.lit("the order history does not explain the subscription's current seat count"))
        .otherwise(pl.lit("the order history is inconsistent (several purchases or plans)"))
        .alias("reason"),
    )
    return good, missing


def fx_rates(lines: pl.LazyFrame) -> pl.LazyFrame:
    """The exchange rate of each currency pair and month: the rate most billed lines use (ties: the lower).

    `lines` holds recon lines, or rows that each stand for `lines` recon lines (the engine's counted `rates`).
    """
    count = pl.col("lines").sum() if "lines" in lines.collect_schema().names() else pl.len()
    return (
        lines.filter(
            pl.col("pc_to_bc_exchange_rate").is_not_null()
            & pl.col("pricing_currency").is_not_null()
            & pl.col("charge_start").is_not_null()
        )
        .with_columns(
            pl.col("charge_start").dt.truncate("1mo").alias("month"),
            pl.col("pc_to_bc_exchange_rate").cast(RATE).alias("rate"),
            pl.col("pc_to_bc_exchange_rate_date").cast(pl.Date).alias("rate_date"),
        )
        .group_by("pricing_currency", pl.col("currency").alias("billing_currency"), "month", "rate")
        .agg(count.alias("n"), pl.col("rate_date").min())
        .sort("n", "rate", descending=[True, False])
        .group_by("pricing_currency", "billing_currency", "month", maintain_order=True)
        .first()
        .select("pricing_currency", "billing_currency", "month", "rate", "rate_date")
    )
