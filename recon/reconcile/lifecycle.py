"""Lifecycle rules: R04 charge for an unknown or ended subscription, R05 missing charge, R11 order/subscription
orphans."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from recon.reconcile.frames import AMOUNT, check_grain
from recon.reconcile.matching import (
    LEFT,
    RIGHT,
    closed_periods,
    describe_line,
    evidence,
    exact,
    finding,
    license_match,
    match_evidence,
    match_keys,
    money,
    with_period_invoice,
)

Frames = Mapping[str, pl.LazyFrame]
ENDED_STATUSES = ("expired", "deleted")
# Order lines that legitimately have no subscription (yet): nothing was provisioned.
ORDER_STATUSES_WITHOUT_SUBSCRIPTION = ("pending", "cancelled", "canceled", "failed")


def _subscriptions(frames: Frames) -> pl.LazyFrame:
    subs = frames["subscriptions"].select(
        "subscription_id",
        pl.col("status").alias("sub_status"),
        pl.col("term_end").cast(pl.Date).alias("sub_term_end"),
        pl.col("cancelled_on").cast(pl.Date).alias("sub_cancelled_on"),
        pl.lit(True).alias("_known"),
    )
    check_grain(subs, ["subscription_id"], "subscriptions")
    return subs


def r04_unknown_or_ended(frames: Frames) -> pl.LazyFrame:
    """R04: a billed charge for a subscription nobody knows, or starting after its cancellation or term end."""
    expected = frames["expected"]
    rated = expected.group_by("subscription_id").agg(
        pl.lit(True).alias("_rated"),
        pl.col("order_date").filter(pl.col("charge_type") == "cancelImmediate").min().alias("exp_cancel_date"),
    )
    check_grain(rated, ["subscription_id"], "expected subscriptions")
    unexpected = license_match(frames).filter(
        (pl.col("status") == RIGHT)
        & (pl.col("sign") == "+")
        & (pl.col("occurrence") <= pl.max_horizontal(pl.col("expected_count"), pl.lit(1)))
    )
    rows = (
        unexpected.join(_subscriptions(frames), on="subscription_id", how="left")
        .join(rated, on="subscription_id", how="left")
        .with_columns(cancel_date=pl.coalesce("sub_cancelled_on", "exp_cancel_date"))
    )
    unknown = pl.col("_known").is_null() & pl.col("_rated").is_null()
    cancelled = pl.col("charge_start") >= pl.col("cancel_date")
    ended = pl.col("sub_status").is_in(list(ENDED_STATUSES)) & (pl.col("charge_start") > pl.col("sub_term_end"))
    rows = rows.with_columns(
        _why=pl.when(unknown)
        .then(pl.lit("unknown"))
        .when(cancelled.fill_null(False))
        .then(pl.lit("cancelled"))
        .when(ended.fill_null(False))
        .then(pl.lit("ended"))
    ).filter(pl.col("_why").is_not_null())
    why = pl.col("_why")
    return finding(
        rows,
        rule=pl.format("R04-{}", pl.when(why == "unknown").then(pl.lit("unknown-subscription"))
                       .when(why == "cancelled").then(pl.lit("after-cancellation"))
                       .otherwise(pl.lit("after-term-end"))),
        severity="high",
        measure="amount",
        expected=pl.lit(0),
        actual=pl.col("act_subtotal"),
        difference=pl.col("act_subtotal"),
        amount_at_stake=pl.col("act_subtotal").abs(),
        explanation=pl.format(
            "{} {} is billed ({} {}) {}.",
            pl.lit("Charge:"),
            describe_line(),
            money("act_subtotal"),
            pl.col("currency"),
            pl.when(why == "unknown")
            .then(pl.lit("but the partner has no such subscription"))
            .when(why == "cancelled")
            .then(pl.format("although the subscription was cancelled on {}", pl.col("cancel_date").cast(pl.String)))
            .otherwise(
                pl.format(
                    "after the subscription ended on {} ({})", pl.col("sub_term_end").cast(pl.String), "sub_status"
                )
            ),
        ),
        evidence=match_evidence(
            reason=why,
            subscription=pl.struct(
                status=pl.col("sub_status"),
                term_end=exact("sub_term_end"),
                cancelled_on=exact("cancel_date"),
            ),
        ),
        **match_keys(),
    )  # fmt: skip


def r05_missing_charge(frames: Frames) -> pl.LazyFrame:
    """R05: an expected charge of a closed billing period with no billed line."""
    missing = (
        license_match(frames)
        .filter((pl.col("status") == LEFT) & (pl.col("sign") == "+"))
        .join(closed_periods(frames), on="period", how="semi")
    )
    return finding(
        with_period_invoice(missing, frames),
        rule="R05-missing-charge",
        severity="medium",
        measure="amount",
        expected=pl.col("exp_subtotal"),
        actual=pl.lit(0),
        difference=-pl.col("exp_subtotal"),
        amount_at_stake=pl.col("exp_subtotal").abs().fill_null(0),
        explanation=pl.format(
            "No line was billed in {} for {} ({} {} expected, {} seats).",
            pl.col("period").dt.strftime("%Y-%m"),
            describe_line(),
            money("exp_subtotal"),
            pl.col("currency"),
            exact(pl.col("exp_quantity").cast(pl.Decimal(18, 0))),
        ),
        evidence=match_evidence(calculation=pl.lit("expected charge with no billed line in the closed period")),
        **match_keys(),
    )


def r11_orphans(frames: Frames) -> pl.LazyFrame:
    """R11: a provisioned `new` order line with no known subscription, or a subscription with no known order."""
    orders, subs = frames["orders"], frames["subscriptions"]
    check_grain(orders, ["order_id", "line_number"], "orders")
    check_grain(subs, ["subscription_id"], "subscriptions")
    known_subs = subs.select("subscription_id")
    known_orders = orders.select("order_id").unique()
    check_grain(known_orders, ["order_id"], "order ids")
    status = pl.col("status").fill_null("").str.to_lowercase()
    new_lines = orders.filter(
        (pl.col("transaction_type") == "new") & ~status.is_in(list(ORDER_STATUSES_WITHOUT_SUBSCRIPTION))
    )
    no_sub = pl.concat(
        [
            new_lines.filter(pl.col("subscription_id").is_null()),
            new_lines.filter(pl.col("subscription_id").is_not_null()).join(
                known_subs, on="subscription_id", how="anti"
            ),
        ],
        how="vertical",
    )
    order_findings = finding(
        no_sub,
        rule="R11-order-without-subscription",
        severity="low",
        customer_id=pl.col("customer_id"),
        subscription_id=pl.col("subscription_id"),
        order_id=pl.col("order_id"),
        period=pl.col("order_date").cast(pl.Date).dt.month_start(),
        measure="quantity",
        expected=pl.col("quantity"),
        actual=pl.lit(0),
        difference=-pl.col("quantity"),
        amount_at_stake=pl.lit(0).cast(AMOUNT),
        currency=pl.col("pricing_currency"),
        explanation=pl.format(
            "Order {} line {} ({}, {}) bought {} seats but no subscription {} is known.",
            "order_id",
            pl.col("line_number"),
            pl.col("order_date").cast(pl.String),
            pl.col("status").fill_null("no status"),
            exact(pl.col("quantity").cast(pl.Decimal(18, 0))),
            pl.col("subscription_id").fill_null("(none given)"),
        ),
        evidence=evidence(
            order=pl.struct("order_id", "line_number", "transaction_type", "status", date=exact("order_date")),
            subscription_id=pl.col("subscription_id"),
        ),
        charge_type=pl.lit("order"),
        charge_period=pl.col("order_date").cast(pl.String),
        sign=pl.lit("+"),
    )
    orphan_subs = pl.concat(
        [
            subs.filter(pl.col("order_id").is_null()),
            subs.filter(pl.col("order_id").is_not_null()).join(known_orders, on="order_id", how="anti"),
        ],
        how="vertical",
    )
    sub_findings = finding(
        orphan_subs,
        rule="R11-subscription-without-order",
        severity="low",
        customer_id=pl.col("customer_id"),
        subscription_id=pl.col("subscription_id"),
        order_id=pl.col("order_id"),
        period=pl.col("term_start").cast(pl.Date).dt.month_start(),
        measure="quantity",
        expected=pl.lit(0),
        actual=pl.col("quantity"),
        difference=pl.col("quantity"),
        amount_at_stake=pl.lit(0).cast(AMOUNT),
        explanation=pl.format(
            "Subscription {} ({}, {} seats, term from {}) has no order{}.",
            "subscription_id",
            pl.col("status").fill_null("no status"),
            exact(pl.col("quantity").cast(pl.Decimal(18, 0))),
            pl.col("term_start").cast(pl.String),
            pl.when(pl.col("order_id").is_null())
            .then(pl.lit(""))
            .otherwise(pl.format(": order {} is not among the extracted orders", "order_id")),
        ),
        evidence=evidence(
            subscription=pl.struct(
                "subscription_id", "order_id", "status", "product_id", "sku_id", term_start=exact("term_start")
            ),
        ),
        charge_type=pl.lit("subscription"),
        charge_period=pl.col("term_start").cast(pl.String),
        sign=pl.lit("+"),
    )
    return pl.concat([order_findings, sub_findings], how="vertical")
