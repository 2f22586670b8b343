"""Rater events from staged orders (stg.orders columns) and subscriptions: which subscriptions can be rated."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import polars as pl

from recon.reconcile.inputs import SUBSCRIPTIONS_SCHEMA
from recon.transform.events import rateable, subscription_events


def _orders(*rows: tuple[str, str, int, date]) -> pl.LazyFrame:
    full = [
        {
            "order_id": f"o{i}",
            "customer_id": "c1",
            "line_number": 0,
            "subscription_id": sub,
            "transaction_type": kind,
            "order_date": on,
            "ordered_at": datetime(on.year, on.month, on.day, 12),
            "quantity": D(qty),
            "list_price": D("10.00"),
            "unit_price": D("8.00"),
            "pricing_currency": "EUR",
            "term": "P1M",
            "billing": "monthly",
        }
        for i, (sub, kind, qty, on) in enumerate(rows)
    ]
    return pl.LazyFrame(full).with_columns(pl.col("quantity").cast(pl.Decimal(18, 6)))


def _subs(*rows: tuple[str, int, str, bool]) -> pl.LazyFrame:
    full = [
        {
            "subscription_id": sub,
            "customer_id": "c1",
            "quantity": D(qty),
            "status": status,
            "term": "P1M",
            "billing": "monthly",
            "term_start": date(2025, 5, 3),
            "term_end": date(2025, 6, 2),
            "auto_renew": renew,
        }
        for sub, qty, status, renew in rows
    ]
    frame = pl.DataFrame(full)
    return frame.lazy().select(
        [(pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c) for c, t in SUBSCRIPTIONS_SCHEMA.items()]
    )


def test_a_seat_count_the_order_history_does_not_explain_is_not_rated() -> None:
    orders = _orders(
        ("s1", "new", 4, date(2025, 1, 3)),
        ("s1", "addQuantity", 2, date(2025, 2, 7)),
        ("s2", "new", 4, date(2025, 1, 3)),
        ("s3", "new", 4, date(2025, 1, 3)),
    )
    subs = _subs(("s1", 6, "active", True), ("s2", 9, "active", True), ("s3", 9, "expired", False))
    good, unrated = rateable(subscription_events(orders, subs))
    assert sorted(good.collect()["subscription_id"].unique()) == ["s1", "s3"]
    missing = unrated.collect()
    assert missing["subscription_id"].to_list() == ["s2"]
    assert "seat count" in missing["reason"][0]


def test_expired_or_not_renewing_subscriptions_end_at_their_term_end() -> None:
    orders = _orders(*((s, "new", 1, date(2025, 1, 3)) for s in ("a", "b", "c")))
    subs = _subs(("a", 1, "active", True), ("b", 1, "active", False), ("c", 1, "expired", True))
    ends = dict(subscription_events(orders, subs).select("subscription_id", "ends_on").collect().iter_rows())
    assert ends == {"a": None, "b": date(2025, 6, 2), "c": date(2025, 6, 2)}
