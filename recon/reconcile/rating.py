"""Shadow rater: expected new-commerce license lines from subscription events (nce-billing-math.md §2-§5).

Pure and vectorised: every step is a polars query over all subscriptions at once. See docs/rating.md.
"""

from __future__ import annotations

from datetime import date
from typing import Final

import polars as pl

from recon.reconcile.cycles import (
    CYCLE_MONTHS,
    PLANS,
    TERM_MONTHS,
    add_months,
    cycle_index,
    expand_cycles,
    renewal_term,
    term_index,
)
from recon.reconcile.frames import AMOUNT, WIDE, check_grain
from recon.reconcile.rounding import check_mode, signed_amounts

RATE: Final = pl.Decimal(18, 9)
ENGINE: Final = "in-memory"  # for the intermediates; the streaming engine costs ~0.3 s per query on tiny frames
EVENT_KINDS: Final[tuple[str, ...]] = ("purchase", "add", "remove", "cancel", "renew")
CHARGE_TYPES: Final = ("new", "cycleCharge", "renew", "addQuantity", "removeQuantity", "cancelImmediate")

_STR, _DATE, _INT = pl.String(), pl.Date(), pl.Int64()
# Input: one row per subscription lifecycle event (see docs/rating.md for the meaning of each column).
EVENT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "subscription_id": _STR, "customer_id": _STR, "order_id": _STR, "event_id": _STR, "event": _STR,
    "event_date": _DATE, "quantity": AMOUNT, "term": _STR, "billing": _STR, "unit_price": WIDE,
    "promotion_discount": RATE, "pricing_currency": _STR, "ends_on": _DATE,
}  # fmt: skip
FX_SCHEMA: Final[dict[str, pl.DataType]] = {
    "pricing_currency": _STR, "billing_currency": _STR, "month": _DATE, "rate": RATE, "rate_date": _DATE,
}  # fmt: skip
# Output: one row per expected recon line.
EXPECTED_SCHEMA: Final[dict[str, pl.DataType]] = {
    "subscription_id": _STR, "customer_id": _STR, "order_id": _STR, "charge_type": _STR,
    "order_date": _DATE, "period": _DATE, "charge_start": _DATE, "charge_end": _DATE,
    "quantity": AMOUNT, "unit_price": WIDE, "effective_unit_price": WIDE,
    "pricing_currency": _STR, "billing_currency": _STR, "pc_to_bc_exchange_rate": RATE, "subtotal": AMOUNT,
    "sign": _STR, "pair_id": _STR, "cycle_days": _INT, "billing_days": _INT, "event_id": _STR,
    "window_opened": _DATE,
}  # fmt: skip
# One output row per (event_id, sign): a pair shares its event id and differs in sign.
EXPECTED_GRAIN: Final[tuple[str, ...]] = ("event_id", "sign")
_NULLABLE: Final = frozenset({"order_id", "promotion_discount", "ends_on"})
_OPTIONAL: Final = frozenset({"ends_on"})  # may be left out of the input: read as null
_SUB: Final = "subscription_id"
_KEY: Final = "sub_key"  # dense integer per subscription in sorted order: joins and sorts on it, not on the string
_CHANGE_TYPES: Final = {"add": "addQuantity", "remove": "removeQuantity", "cancel": "cancelImmediate"}


def _conform(frame: pl.LazyFrame, schema: dict[str, pl.DataType], name: str) -> pl.LazyFrame:
    present = frame.collect_schema().names()
    missing = [column for column in schema if column not in present and column not in _OPTIONAL]
    if missing:
        raise ValueError(f"{name}: missing column(s) {', '.join(missing)}")
    return frame.select(
        [(pl.col(c) if c in present else pl.lit(None)).cast(dtype).alias(c) for c, dtype in schema.items()]
    )


def _check_events(events: pl.LazyFrame) -> None:
    """Raise ValueError when the events break the input contract (one small aggregate query)."""
    plans, plan = [f"{t}/{b}" for t, b in sorted(PLANS)], pl.concat_str("term", "billing", separator="/")
    required = [c for c in EVENT_SCHEMA if c not in _NULLABLE]
    per_sub = events.group_by(_SUB).agg(
        purchases=(pl.col("event") == "purchase").sum(),
        variants=pl.max_horizontal(pl.col("term", "billing", "pricing_currency", "customer_id").n_unique()),
        early=pl.col("event_date").min() < pl.col("event_date").filter(pl.col("event") == "purchase").min(),
    )
    problems = {
        "null required values": events.select(pl.any_horizontal(pl.col(required).is_null()).sum()),
        "unknown event kinds": events.select((~pl.col("event").is_in(EVENT_KINDS)).sum()),
        "unknown term/billing plans": events.select((~plan.is_in(plans)).sum()),
        "negative quantities": events.select((pl.col("quantity") < 0).sum()),
        "subscriptions without exactly one purchase": per_sub.select((pl.col("purchases") != 1).sum()),
        "subscriptions changing term, billing, currency or customer": per_sub.select((pl.col("variants") > 1).sum()),
        "subscriptions with events dated before their purchase": per_sub.select(pl.col("early").sum()),
    }
    counts = pl.concat([q.select(pl.all().cast(pl.Int64).alias(n)) for n, q in problems.items()], how="horizontal")
    found = {name: n for name, n in counts.collect().row(0, named=True).items() if n}
    if found:
        raise ValueError("events: " + "; ".join(f"{n} {name}" for name, n in found.items()))


def _first_in_run(key: str) -> pl.Expr:
    return (pl.col(key) != pl.col(key).shift(1)).fill_null(True)


def _run_position(key: str) -> pl.Expr:
    """0-based position inside each run of equal `key` values (frame sorted by `key`); ~50x faster than .over()."""
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    return row - pl.when(_first_in_run(key)).then(row).forward_fill()


def _ordered(events: pl.LazyFrame) -> pl.LazyFrame:
    """Events in effective order (date, purchase/renew before changes, event_id), cut after the first cancel."""
    rank = pl.when(pl.col("event") == "purchase").then(0).when(pl.col("event") == "renew").then(1).otherwise(2)
    seq = pl.col("seq")
    return (
        events.with_columns(rank=rank)
        .sort(_SUB, "event_date", "rank", "event_id")
        .with_columns(
            sub_key=_first_in_run(_SUB).cast(pl.Int64).cum_sum(),
            seq=_run_position(_SUB),
            prev_quantity=pl.when(~_first_in_run(_SUB)).then(pl.col("quantity").shift(1)),
            # the latest seat purchase before each event (its own subscription's: every run opens with the purchase)
            seats_bought_on=pl.when(pl.col("event").is_in(["purchase", "add"]))
            .then(pl.col("event_date"))
            .forward_fill()
            .shift(1),
        )
        .with_columns(cancel_seq=seq.filter(pl.col("event") == "cancel").min().over(_KEY))
        .filter(pl.col("cancel_seq").is_null() | (seq <= pl.col("cancel_seq")))
        .drop("cancel_seq")
    )


def _subscriptions(ordered: pl.LazyFrame) -> pl.LazyFrame:
    return ordered.filter(pl.col("event") == "purchase").select(
        _SUB,
        _KEY,
        "customer_id",
        "pricing_currency",
        pl.col("order_id").alias("purchase_order_id"),
        pl.col("event_date").alias("anchor"),
        "ends_on",
        pl.col("billing").replace_strict(CYCLE_MONTHS, return_dtype=pl.Int64).alias("cycle_months"),
        pl.col("term").replace_strict(TERM_MONTHS, return_dtype=pl.Int64).alias("term_months"),
    )


def _terms(ordered: pl.LazyFrame, subs: pl.LazyFrame) -> pl.LazyFrame:
    """Price of each term: the purchase for term 0, the latest renewal mapped to each later term boundary.

    Only consecutive terms count for P1Y/P3Y: a term that was not renewed ends the subscription.
    """
    anchor, months, term = pl.col("anchor"), pl.col("term_months"), pl.col("term_index")
    priced = (
        ordered.filter(pl.col("event").is_in(["purchase", "renew"]))
        .join(subs.select(_KEY, "anchor", "term_months"), on=_KEY, maintain_order="left")
        .with_columns(
            term_index=pl.when(pl.col("event") == "purchase")
            .then(pl.lit(0, dtype=pl.Int64))
            .otherwise(renewal_term(anchor, months, pl.col("event_date")))
        )
        # Still in event order, and term_index grows with the date: keep the latest event of each term.
        .filter(((pl.col(_KEY) != pl.col(_KEY).shift(-1)) | (term != term.shift(-1))).fill_null(True))
        # P1M renews by itself every month; a renew event there only changes the price from its term on.
        .filter((months == 1) | (pl.col("term_index") == _run_position(_KEY)))
    )
    return priced.select(
        _KEY,
        "term_index",
        pl.col("unit_price").alias("term_price"),
        pl.col("promotion_discount").fill_null(0).cast(RATE).alias("term_discount"),
        pl.col("order_id").alias("term_order_id"),
        pl.col("event_id").alias("term_event_id"),
    )


def _cycles(
    ordered: pl.LazyFrame, subs: pl.LazyFrame, terms: pl.LazyFrame, until: date, rule: str, since: date | None = None
) -> pl.LazyFrame:
    """Every cycle up to `until`, the cancel, or the last renewed term, with its price and seats at its start.

    With `since`, cycles that end before it are left out (the first cycle kept is the one holding `since`).
    """
    anchor, months = pl.col("anchor"), pl.col("cycle_months")
    last_term = terms.group_by(_KEY).agg(last_term=pl.col("term_index").max())
    cancels = ordered.filter(pl.col("event") == "cancel").select(_KEY, pl.col("event_date").alias("cancel_date"))
    limits = subs.join(last_term, on=_KEY).join(cancels, on=_KEY, how="left")
    k_term = pl.when(pl.col("term_months") > 1).then(
        (pl.col("last_term") + 1) * pl.col("term_months").floordiv(months) - 1
    )
    limits = limits.with_columns(
        last_k=pl.min_horizontal(
            cycle_index(anchor, months, pl.lit(until)),
            cycle_index(anchor, months, pl.col("cancel_date")),
            cycle_index(anchor, months, pl.col("ends_on")),  # expired, or not renewing after its term
            k_term,
        ),
        first_k=pl.max_horizontal(cycle_index(anchor, months, pl.lit(since)), 0) if since else pl.lit(0, pl.Int64),
    )
    filled = ["term_price", "term_discount", "term_order_id"]
    cycles = (
        expand_cycles(limits, "last_k", rule, first_k="first_k")
        .join(terms, on=[_KEY, "term_index"], how="left")
        .with_columns(priced=pl.col("term_event_id").is_not_null())
    )
    if since is not None:
        # The first cycle kept takes the price of the latest priced term up to its own (what the fill below carries
        # from k = 0 when every cycle is there), so no fill crosses subscriptions here either.
        first_term = limits.select(_KEY, _first=term_index(pl.col("first_k"), months, pl.col("term_months")))
        carry = (
            terms.join(first_term, on=_KEY)
            .filter(pl.col("term_index") <= pl.col("_first"))
            .sort(_KEY, "term_index")
            .group_by(_KEY)
            .agg(pl.col(filled).last().name.prefix("_carry_"))
        )
        first = pl.col("k") == pl.col("first_k")
        cycles = cycles.join(carry, on=_KEY, how="left").with_columns(
            [pl.when(first).then(pl.coalesce(c, f"_carry_{c}")).otherwise(pl.col(c)).alias(c) for c in filled]
        )
    # P1M terms without a renew event take the last price; k = 0 (or the first kept cycle) is always priced, so no
    # fill crosses subscriptions.
    cycles = cycles.sort(_KEY, "k").with_columns(pl.col(filled).forward_fill())
    # Seats at cycle start: the state after every event before that day and the purchase/renewal of that day.
    # Same-day seat changes follow the cycle charge and are rated as pairs over the whole cycle.
    day = pl.col("event_date").cast(pl.Int64) * 2
    event_keys = ordered.select(
        _KEY, key=day + (pl.col("rank") >= 2).cast(pl.Int64), tie=pl.lit(0), seq="seq", qty="quantity", k=pl.lit(None)
    )
    cycle_keys = cycles.select(
        _KEY, key=pl.col("cycle_start").cast(pl.Int64) * 2, tie=pl.lit(1), seq=pl.lit(-1), qty=pl.lit(None), k="k"
    )
    seats = (
        pl.concat([event_keys, cycle_keys.cast({"qty": AMOUNT})], how="diagonal_relaxed")
        .sort(_KEY, "key", "tie", "seq")
        .with_columns(pl.col("qty").forward_fill())  # each subscription starts with its purchase row
        .filter(pl.col("tie") == 1)
        .select(_KEY, pl.col("k").cast(pl.Int64), pl.col("qty").alias("cycle_quantity"))
    )
    return cycles.join(seats, on=[_KEY, "k"])


def _line(quantity: pl.Expr, sign: str, **columns: pl.Expr) -> list[pl.Expr]:
    return [quantity.alias("quantity"), pl.lit(sign).alias("sign"), *(e.alias(n) for n, e in columns.items())]


_COMMON: Final = ["subscription_id", "customer_id", "pricing_currency", "cycle_days"]
_TERM_COLUMNS: Final = ["term_price", "term_discount", "term_order_id", "purchase_order_id"]


def _cycle_lines(cycles: pl.LazyFrame) -> pl.LazyFrame:
    k = pl.col("k")
    return cycles.select(
        *_COMMON,
        _KEY,
        *_line(
            pl.col("cycle_quantity"),
            "+",
            order_id=pl.coalesce("term_order_id", "purchase_order_id"),
            charge_type=pl.when(k == 0).then(pl.lit("new")).when("starts_term").then(pl.lit("renew"))
            .otherwise(pl.lit("cycleCharge")),
            order_date=pl.col("cycle_start"),
            charge_start=pl.col("cycle_start"),
            charge_end=pl.col("cycle_end"),
            unit_price=pl.col("term_price"),
            discount=pl.col("term_discount"),
            billing_days=pl.col("cycle_days"),
            pair_id=pl.lit(None, dtype=pl.String),
            event_id=pl.when(pl.col("starts_term") & pl.col("priced")).then(pl.col("term_event_id"))
            .otherwise(pl.format("{}:cycle:{}", pl.col(_SUB), k)),
        ),
    )  # fmt: skip


def _change_lines(ordered: pl.LazyFrame, subs: pl.LazyFrame, cycles: pl.LazyFrame) -> pl.LazyFrame:
    """Refund-and-recreate pairs for add/remove, one refund for cancel, from the event day to the cycle end.

    A cancellation's window opens at its term's start; a removal's at the later of that and the latest seat
    purchase before it (nce-billing-math.md §4.2). The term start comes from the cycles, so it is known even when
    the renewal that opened the term is older than the first cycle built.
    """
    cycle_columns = [*_COMMON[1:], _KEY, "k", "cycle_end", "term_index", *_TERM_COLUMNS]
    changes = (
        ordered.filter(pl.col("event").is_in(list(_CHANGE_TYPES)))
        .select(
            _SUB, _KEY, "event", "event_id", "event_date", "order_id", "quantity", "prev_quantity", "seats_bought_on"
        )
        .join(subs.select(_KEY, "anchor", "cycle_months", "term_months"), on=_KEY)
        .with_columns(k=cycle_index(pl.col("anchor"), pl.col("cycle_months"), pl.col("event_date")))
        .join(cycles.select(cycle_columns), on=[_KEY, "k"])
    )
    term_start = add_months(pl.col("anchor"), pl.col("term_index") * pl.col("term_months"))
    common = {
        "order_id": pl.coalesce("order_id", "term_order_id", "purchase_order_id"),
        "charge_type": pl.col("event").replace_strict(_CHANGE_TYPES, return_dtype=pl.String),
        "order_date": pl.col("event_date"),
        "charge_start": pl.col("event_date"),
        "charge_end": pl.col("cycle_end"),
        "unit_price": pl.col("term_price"),
        "discount": pl.col("term_discount"),
        "billing_days": (pl.col("cycle_end") - pl.col("event_date")).dt.total_days().cast(pl.Int64) + 1,
        "event_id": pl.col("event_id"),
        "window_opened": pl.when(pl.col("event") == "cancel")
        .then(term_start)
        .when(pl.col("event") == "remove")
        .then(pl.max_horizontal(term_start, pl.col("seats_bought_on"))),
    }
    pair = pl.when(pl.col("event") != "cancel").then(pl.col("event_id"))
    refunds = changes.select(*_COMMON, _KEY, *_line(pl.col("prev_quantity"), "-", pair_id=pair, **common))
    recreated = changes.filter(pl.col("event") != "cancel").select(
        *_COMMON, _KEY, *_line(pl.col("quantity"), "+", pair_id=pair, **common)
    )
    return pl.concat([refunds, recreated], how="diagonal_relaxed")


def _price(lines: pl.LazyFrame, fx: pl.LazyFrame, billing_currency: str, rounding: str) -> pl.LazyFrame:
    """EUP in pricing currency, the month's exchange rate of the order date, and the rounded subtotal."""
    rates = fx.filter(pl.col("billing_currency") == billing_currency).select(
        "pricing_currency", pl.col("month").alias("period"), pl.col("rate").alias("pc_to_bc_exchange_rate")
    )
    same = pl.col("pricing_currency") == billing_currency
    eup, subtotal = signed_amounts(rounding, pl.col("unit_price"), pl.col("discount"), pl.col("pc_to_bc_exchange_rate"))
    return (
        lines.with_columns(period=pl.col("order_date").dt.month_start(), billing_currency=pl.lit(billing_currency))
        .join(rates, on=["pricing_currency", "period"], how="left")
        .with_columns(
            pc_to_bc_exchange_rate=pl.when(pl.col("pc_to_bc_exchange_rate").is_null() & same)
            .then(pl.lit(1, dtype=RATE))
            .otherwise(pl.col("pc_to_bc_exchange_rate"))
        )
        .with_columns(effective_unit_price=eup, subtotal=subtotal)
    )


def _materialise(frame: pl.LazyFrame) -> pl.LazyFrame:
    # Shared intermediates are computed once: each consumer projects different columns, so polars' common
    # subplan elimination does not merge them and the plan would recompute them (10x slower at 1M subscriptions).
    return frame.collect(engine=ENGINE).lazy()


def expected_charges(
    events: pl.LazyFrame,
    fx: pl.LazyFrame,
    *,
    billing_currency: str,
    until: date,
    rounding: str = "B",
    cycle_days: str = "start_month",
    since: date | None = None,
) -> pl.LazyFrame:
    """Expected recon lines (EXPECTED_SCHEMA) for every line whose order date is on or before `until` (and on or
    after `since`, when given: the cycles before it are then never built)."""
    # Validation and the per-subscription intermediates are computed here; the returned frame is lazy over them.
    check_mode(rounding)
    events = _conform(events, EVENT_SCHEMA, "events")
    fx = _conform(fx, FX_SCHEMA, "fx")
    check_grain(events, ["event_id"], "events")
    check_grain(fx, ["pricing_currency", "billing_currency", "month"], "fx")
    _check_events(events)
    ordered = _materialise(_ordered(events))
    subs = _materialise(_subscriptions(ordered))
    cycles = _materialise(_cycles(ordered, subs, _materialise(_terms(ordered, subs)), until, cycle_days, since))
    dated = (pl.col("order_date") <= until) & (pl.col("order_date") >= since if since else pl.lit(True))
    lines = pl.concat([_cycle_lines(cycles), _change_lines(ordered, subs, cycles)], how="diagonal_relaxed").filter(
        dated & (pl.col("quantity") > 0)
    )
    priced = _price(lines, fx, billing_currency, rounding)
    order = [_KEY, "order_date", "charge_start", "event_id", "sign"]
    return priced.sort(order, descending=[False, False, False, False, True]).select(
        [pl.col(c).cast(t) for c, t in EXPECTED_SCHEMA.items()]
    )
