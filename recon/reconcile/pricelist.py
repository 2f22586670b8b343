"""Renewal prices from an imported price list (`stg.price_list`), as pure functions over frames.

The shadow rater prices each term from an event: the purchase's order for the first term, a `renew` event for
a later one (price lock: an order's price is never replaced). A renewal the order history does not price (no
renewal order, or one without pricing) takes the price-list price in force on the renewal date for the
subscription's product, SKU, term, billing plan, market and currency (nce-billing-math.md §6: `renew` lines use
the price list current at renewal; price lists never hold promotion prices). When the list has no price of its
own for a monthly plan, the price is derived from the same product's annual-billing price with the premium of the
policy calendar (design.md: premiums are part of a price-list price, never added to an order's price).

A P1Y/P3Y renewal that neither an order nor the list prices is reported (the `unrated` frame, finding R00); the
subscription is rated up to that renewal. A P1M renewal without a price keeps the last price, as the rater does.
Which renewals happened comes from the subscription's latest snapshot (its current term start) for P1Y/P3Y,
and from the calendar up to `until` for P1M, which renews every month by itself. See docs/rating.md.
"""

from __future__ import annotations

from datetime import date
from typing import Final

import polars as pl

from recon.reconcile.cycles import TERM_MONTHS, add_months, months_ceil, months_floor, renewal_term
from recon.reconcile.frames import AMOUNT, WIDE
from recon.reconcile.policy import premium_expr
from recon.reconcile.rounding import CALC, exact_quotient, half_up_cents

_STR, _DATE = pl.String(), pl.Date()
# The columns of `stg.price_list` the lookup reads (recon/transform/pricelist.py builds the table).
PRICE_LIST_SCHEMA: Final[dict[str, pl.DataType]] = {
    "product_id": _STR, "sku_id": _STR, "term": _STR, "billing": _STR, "market": _STR, "currency": _STR,
    "tier_min": AMOUNT, "tier_max": AMOUNT, "unit_price": WIDE, "is_trial": pl.Boolean(),
    "valid_from": _DATE, "valid_to": _DATE,
}  # fmt: skip
# One price question: which list price applies to this plan in this market on `on` for `quantity` seats.
REQUEST_SCHEMA: Final[dict[str, pl.DataType]] = {
    "request_id": pl.Int64(), "product_id": _STR, "sku_id": _STR, "term": _STR, "billing": _STR, "market": _STR,
    "currency": _STR, "on": _DATE, "quantity": AMOUNT,
}  # fmt: skip
# A plan whose price a list may leave out -> the plan its price derives from (annual billing, price per year).
BASE_PLAN: Final[dict[str, str]] = {
    "P1M/monthly": "P1Y/annual",
    "P1Y/monthly": "P1Y/annual",
    "P3Y/monthly": "P3Y/annual",
}
MONTHS_PER_BASE: Final = 12
_SUB: Final = "subscription_id"


def customer_markets(customers: pl.LazyFrame, lines: pl.LazyFrame) -> pl.LazyFrame:
    """Each customer's market (`customer_id`, `market`): its country, else the country its recon lines carry."""
    own = (
        customers.select("customer_id", pl.col("country").str.to_uppercase().alias("market"))
        .filter(pl.col("market").is_not_null() & (pl.col("market") != ""))
        .group_by("customer_id")
        .agg(pl.col("market").min())
    )
    billed = (
        lines.select("customer_id", pl.col("customer_country").str.to_uppercase().alias("market"))
        .filter(pl.col("customer_id").is_not_null() & pl.col("market").is_not_null() & (pl.col("market") != ""))
        .group_by("customer_id")
        .agg(pl.col("market").min())
        .join(own, on="customer_id", how="anti")
    )
    return pl.concat([own, billed], how="vertical")


def _matches(requests: pl.LazyFrame, prices: pl.LazyFrame, term: str, billing: str) -> pl.LazyFrame:
    """Per request, the lowest and highest list price of (term, billing) in force on its date for its seats."""
    keys = ["product_id", "sku_id", "_term", "_billing", "market", "currency"]
    on, qty = pl.col("on"), pl.col("quantity")
    return (
        requests.select(
            "request_id",
            "product_id",
            "sku_id",
            pl.col(term).alias("_term"),
            pl.col(billing).alias("_billing"),
            "market",
            "currency",
            "on",
            "quantity",
        )
        .join(prices.rename({"term": "_term", "billing": "_billing"}), on=keys, how="inner")
        .filter(
            (pl.col("valid_from") <= on)
            & (pl.col("valid_to").is_null() | (on <= pl.col("valid_to")))
            & (pl.col("tier_min").is_null() | (pl.col("tier_min") <= qty))
            # a tier end of 0 (or none) is open
            & (pl.col("tier_max").is_null() | (pl.col("tier_max") <= 0) | (qty <= pl.col("tier_max")))
        )
        .group_by("request_id")
        .agg(pl.col("unit_price").min().alias("lo"), pl.col("unit_price").max().alias("hi"))
    )


def list_prices(requests: pl.LazyFrame, price_list: pl.LazyFrame) -> pl.LazyFrame:
    """`requests` (REQUEST_SCHEMA) with `list_price` (WIDE), `price_source` and `price_problem`.

    `price_source` is `list` (the plan's own price) or `derived` (annual-billing price / 12 x the policy
    calendar's premium for the plan on that date, rounded half up to cents as list prices are). A request the list
    cannot answer has a null price and `price_problem` `missing`, or `ambiguous` when several prices apply
    (segments or tiers the request cannot tell apart). Trial lines are never prices.
    """
    requests = requests.select([pl.col(c).cast(t) for c, t in REQUEST_SCHEMA.items()])
    prices = price_list.select([pl.col(c).cast(t) for c, t in PRICE_LIST_SCHEMA.items()]).filter(
        ~pl.col("is_trial").fill_null(False)
    )
    base = pl.concat_str("term", "billing", separator="/").replace_strict(BASE_PLAN, default=None, return_dtype=_STR)
    with_base = requests.with_columns(
        base.str.split_exact("/", 1).struct.rename_fields(["base_term", "base_billing"]).alias("_base")
    ).unnest("_base")
    own = _matches(requests, prices, "term", "billing").rename({"lo": "own_lo", "hi": "own_hi"})
    derived_from = _matches(with_base.filter(pl.col("base_term").is_not_null()), prices, "base_term", "base_billing")
    derived_from = derived_from.rename({"lo": "base_lo", "hi": "base_hi"})
    has_own, has_base = pl.col("own_lo").is_not_null(), pl.col("base_lo").is_not_null()
    derived = half_up_cents(
        exact_quotient(pl.col("base_lo").cast(CALC) * premium_expr("term", "billing", "on"), pl.lit(MONTHS_PER_BASE))
    ).cast(WIDE)
    price = (
        pl.when(has_own & (pl.col("own_lo") == pl.col("own_hi")))
        .then(pl.col("own_lo"))
        .when(~has_own & has_base & (pl.col("base_lo") == pl.col("base_hi")))
        .then(derived)
    )
    return (
        requests.join(own, on="request_id", how="left")
        .join(derived_from, on="request_id", how="left")
        .with_columns(price.cast(WIDE).alias("list_price"))
        .with_columns(
            pl.when(pl.col("list_price").is_null())
            .then(None)
            .when(has_own)
            .then(pl.lit("list"))
            .otherwise(pl.lit("derived"))
            .alias("price_source"),
            pl.when(pl.col("list_price").is_not_null())
            .then(None)
            .when(has_own | has_base)
            .then(pl.lit("ambiguous"))
            .otherwise(pl.lit("missing"))
            .alias("price_problem"),
        )
        .drop("own_lo", "own_hi", "base_lo", "base_hi")
    )


def _seats_before(events: pl.LazyFrame, boundaries: pl.LazyFrame) -> pl.LazyFrame:
    """Seats at each boundary (`subscription_id`, `t`, `renewal_date`): the count after every earlier event.

    Same order as the rater (date; purchase and renew before other events; event id), so a renewal carries the
    seat count the rater would have carried without it.
    """
    later = (~pl.col("event").is_in(["purchase", "renew"])).cast(pl.Int64)
    event_keys = events.select(
        _SUB, key=pl.col("event_date").cast(pl.Int64) * 2 + later, tie=pl.lit(0, pl.Int64), eid="event_id",
        qty="quantity", t=pl.lit(None, pl.Int64),
    )  # fmt: skip
    boundary_keys = boundaries.select(
        _SUB, key=pl.col("renewal_date").cast(pl.Int64) * 2, tie=pl.lit(1, pl.Int64), eid=pl.lit(""),
        qty=pl.lit(None, AMOUNT), t="t",
    )  # fmt: skip
    return (
        pl.concat([event_keys.cast({"qty": AMOUNT}), boundary_keys], how="vertical")
        .sort(_SUB, "key", "tie", "eid")
        .with_columns(pl.col("qty").forward_fill())  # each subscription starts with its purchase
        .filter(pl.col("tie") == 1)
        .select(_SUB, "t", pl.col("qty").alias("renewal_quantity"))
    )


def _reason(has_list: bool) -> pl.Expr:
    plan = pl.format(
        "{}:{} {}/{} in {} ({})", "product_id", "sku_id", "term", "billing", "market", "currency"
    )  # fmt: skip
    why = (
        pl.when(pl.lit(not has_list))
        .then(pl.lit("no price list is loaded (recon load pricelist FILE)"))
        .when(pl.col("product_id").is_null() | pl.col("sku_id").is_null())
        .then(pl.lit("the subscription's product is unknown"))
        .when(pl.col("market").is_null())
        .then(pl.lit("the customer's market (country) is unknown"))
        .when(pl.col("price_problem") == "ambiguous")
        .then(pl.format("the price list gives several prices for {} on that date", plan))
        .otherwise(pl.format("the price list has no price for {} on that date", plan))
    )
    return pl.format(
        "from its renewal on {}, there is no renewal order with pricing and {}",
        pl.col("renewal_date").cast(pl.String),
        why,
    )


def renewal_events(
    events: pl.LazyFrame,
    subscriptions: pl.LazyFrame,
    price_list: pl.LazyFrame,
    markets: pl.LazyFrame,
    *,
    until: date,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(events with list-priced renewals, unpriced renewals as `unrated` rows: subscription, customer, reason, since).

    `events` are rateable rater events (`recon.transform.events`); `subscriptions` the latest snapshot per
    subscription (product_id, sku_id, term_start); `price_list` has PRICE_LIST_SCHEMA; `markets` maps
    customer_id -> market (`customer_markets`). A priced renewal without a renewal order is a `renew` event with
    the event id `{subscription_id}:pricelist:{term index}`; a renewal order without pricing keeps its own event
    and gets the list price.
    """
    columns = events.collect_schema()
    coverage = price_list.select(pl.len().alias("n"), pl.col("valid_from").min().alias("start")).collect().row(0)
    has_list, list_start = bool(coverage[0]), coverage[1]
    months = pl.col("term").replace_strict(TERM_MONTHS, return_dtype=pl.Int64)
    anchor, term_months = pl.col("anchor"), pl.col("term_months")
    snapshot = subscriptions.select(
        _SUB, "product_id", "sku_id", pl.col("term_start").cast(pl.Date).alias("snapshot_start")
    ).unique(_SUB, keep="first")  # a duplicated snapshot row must not double renewals
    subs = (
        events.filter(pl.col("event") == "purchase")
        .select(
            _SUB,
            "customer_id",
            pl.col("event_date").alias("anchor"),
            "term",
            "billing",
            "pricing_currency",
            "ends_on",
            months.alias("term_months"),
        )
        .join(snapshot, on=_SUB, how="left")
        .join(markets, on="customer_id", how="left")
    )
    renews = (
        events.filter(pl.col("event") == "renew")
        .join(subs.select(_SUB, "anchor", "term_months"), on=_SUB)
        .with_columns(t=renewal_term(anchor, term_months, pl.col("event_date")))
    )
    priced_terms = renews.filter(pl.col("unit_price").is_not_null()).select(_SUB, "t").unique()
    open_renews = renews.filter(pl.col("unit_price").is_null()).join(priced_terms, on=[_SUB, "t"], how="anti")

    # Renewed terms: P1Y/P3Y up to the snapshot's current term; P1M every month up to `until`, where a list covers it.
    monthly = term_months == 1
    last = (
        pl.when(monthly)
        .then(months_floor(anchor, pl.lit(until)) if has_list else pl.lit(0, pl.Int64))
        .otherwise(months_floor(anchor, pl.min_horizontal("snapshot_start", pl.lit(until))).floordiv(term_months))
    )
    first = pl.lit(1, pl.Int64)
    if has_list and list_start is not None:
        covered_from = pl.max_horizontal(first, months_ceil(anchor, pl.lit(list_start)))
        first = pl.when(monthly).then(covered_from).otherwise(first).cast(pl.Int64)
    boundaries = (
        subs.with_columns(first=first, last=last)
        .filter(pl.col("last") >= pl.col("first"))  # most subscriptions: nothing to price, nothing to explode
        .with_columns(t=pl.int_ranges("first", pl.col("last") + 1, dtype=pl.Int64))
        .explode("t")
        .drop_nulls("t")
        .join(renews.select(_SUB, "t").unique(), on=[_SUB, "t"], how="anti")
        .with_columns(renewal_date=add_months(anchor, pl.col("t") * term_months))
        .filter(pl.col("ends_on").is_null() | (pl.col("renewal_date") <= pl.col("ends_on")))
    )
    renewing = events.join(boundaries.select(_SUB).unique(), on=_SUB, how="semi")
    calendar = (
        boundaries.join(_seats_before(renewing, boundaries), on=[_SUB, "t"])
        .filter(pl.col("renewal_quantity") > 0)
        .select(
            _SUB,
            "t",
            "renewal_date",
            pl.lit(None, _STR).alias("order_id"),
            pl.format("{}:pricelist:{}", pl.col(_SUB), pl.col("t")).alias("event_id"),
            pl.col("renewal_date").alias("event_date"),
            pl.col("renewal_quantity").alias("quantity"),
        )
    )
    from_orders = open_renews.select(
        _SUB, "t", add_months(anchor, pl.col("t") * term_months).alias("renewal_date"), "order_id", "event_id",
        "event_date", "quantity",
    )  # fmt: skip
    wanted = pl.concat([calendar, from_orders.cast({"quantity": AMOUNT})], how="vertical_relaxed").join(subs, on=_SUB)
    # Numbered and materialised at once: a lazy join's row order differs between two evaluations of the plan.
    requests = (
        wanted.with_columns(
            request_id=pl.int_range(pl.len(), dtype=pl.Int64),
            on=pl.col("renewal_date"),
            currency=pl.col("pricing_currency"),
        )
        .collect()
        .lazy()
    )
    answers = list_prices(requests, price_list).select("request_id", "list_price", "price_problem")
    answered = requests.join(answers, on="request_id").collect().lazy()
    present = set(answered.collect_schema().names())
    special = {
        "event": pl.lit("renew"),
        "unit_price": pl.col("list_price"),
        "promotion_discount": pl.lit(None),  # price lists never hold promotion prices
    }
    priced = answered.filter(pl.col("list_price").is_not_null()).select(
        [special.get(c, pl.col(c) if c in present else pl.lit(None)).cast(t).alias(c) for c, t in columns.items()]
    )
    kept = events.filter(~((pl.col("event") == "renew") & pl.col("unit_price").is_null()))
    unpriced = (
        answered.filter(pl.col("list_price").is_null() & (pl.col("term_months") > 1))
        .sort(_SUB, "t")
        .unique(_SUB, keep="first", maintain_order=True)
        .select(_SUB, "customer_id", _reason(has_list).alias("reason"), pl.col("renewal_date").alias("since"))
    )
    return pl.concat([kept, priced], how="vertical"), unpriced


def empty_price_list() -> pl.LazyFrame:
    """A price list with no lines (a database where none was imported)."""
    return pl.LazyFrame(schema=PRICE_LIST_SCHEMA)
