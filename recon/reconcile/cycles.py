"""Charge-cycle arithmetic as polars expressions: end-of-month anchored cycles, cycle days, term indices.

A subscription's cycle k starts on its purchase date moved by k cycle lengths in months, clamped to the
month's last day (nce-billing-math.md §3.1, the "end-of-month anchor"): bought Jan 31 gives Jan 31, Feb 28,
Mar 31, Apr 30, ... Every offset is taken from the purchase date, never from the previous cycle, so a
cycle that started on Feb 28 is followed by one on Mar 31. A cycle ends the day before the next starts.
"""

from __future__ import annotations

from typing import Final

import polars as pl

CYCLE_MONTHS: Final[dict[str, int]] = {"monthly": 1, "annual": 12, "triennial": 36}
TERM_MONTHS: Final[dict[str, int]] = {"P1M": 1, "P1Y": 12, "P3Y": 36}
# Term x billing plans that exist (§3.3); P1Y "annual" is the one upfront charge for the year.
PLANS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("P1M", "monthly"),
        ("P1Y", "monthly"),
        ("P1Y", "annual"),
        ("P3Y", "monthly"),
        ("P3Y", "annual"),
        ("P3Y", "triennial"),
    }
)
# Proration denominator for monthly cycles (§3.2, [X] for starts on the 29th-31st, Example 11).
CYCLE_DAY_RULES: Final[tuple[str, ...]] = ("start_month", "actual_length")


def _int(expr: pl.Expr | int) -> pl.Expr:
    return (expr if isinstance(expr, pl.Expr) else pl.lit(expr)).cast(pl.Int64)


def add_months(date: pl.Expr, months: pl.Expr | int) -> pl.Expr:
    """`date` moved by whole `months`, clamped to the last day of the target month."""
    return date.dt.offset_by(pl.format("{}mo", _int(months)))


def days_in_month(date: pl.Expr) -> pl.Expr:
    """Number of days in the calendar month of `date`."""
    return date.dt.month_end().dt.day().cast(pl.Int64)


def _month_gap(anchor: pl.Expr, date: pl.Expr) -> pl.Expr:
    return (date.dt.year().cast(pl.Int64) - anchor.dt.year().cast(pl.Int64)) * 12 + (
        date.dt.month().cast(pl.Int64) - anchor.dt.month().cast(pl.Int64)
    )


def _anchored_day(anchor: pl.Expr, date: pl.Expr) -> pl.Expr:
    # The day `anchor` lands on in `date`'s month: add_months(anchor, gap).day, without building a date.
    return pl.min_horizontal(anchor.dt.day().cast(pl.Int64), days_in_month(date))


def months_floor(anchor: pl.Expr, date: pl.Expr) -> pl.Expr:
    """Largest n with add_months(anchor, n) <= date (negative when date < anchor)."""
    gap = _month_gap(anchor, date)
    return gap - (_anchored_day(anchor, date) > date.dt.day().cast(pl.Int64)).cast(pl.Int64)


def months_ceil(anchor: pl.Expr, date: pl.Expr) -> pl.Expr:
    """Smallest n with add_months(anchor, n) >= date."""
    gap = _month_gap(anchor, date)
    return gap + (_anchored_day(anchor, date) < date.dt.day().cast(pl.Int64)).cast(pl.Int64)


def cycle_index(anchor: pl.Expr, cycle_months: pl.Expr, date: pl.Expr) -> pl.Expr:
    """Index k of the cycle that contains `date` (cycles of `cycle_months` months from `anchor`)."""
    return months_floor(anchor, date).floordiv(cycle_months)


def cycle_start(anchor: pl.Expr, cycle_months: pl.Expr, k: pl.Expr) -> pl.Expr:
    """First day of cycle k."""
    return add_months(anchor, k * cycle_months)


def cycle_end(anchor: pl.Expr, cycle_months: pl.Expr, k: pl.Expr) -> pl.Expr:
    """Last day (inclusive) of cycle k: the day before cycle k + 1 starts."""
    return add_months(anchor, (k + 1) * cycle_months) - pl.duration(days=1)


def cycle_days(start: pl.Expr, end: pl.Expr, cycle_months: pl.Expr, rule: str = "start_month") -> pl.Expr:
    """Proration denominator: monthly cycles per `rule`; annual and triennial cycles their real length."""
    if rule not in CYCLE_DAY_RULES:
        raise ValueError(f"cycle_days rule must be one of {', '.join(CYCLE_DAY_RULES)}, not {rule!r}")
    length = (end - start).dt.total_days().cast(pl.Int64) + 1
    if rule == "actual_length":
        return length
    return pl.when(cycle_months == 1).then(days_in_month(start)).otherwise(length)


def term_index(k: pl.Expr, cycle_months: pl.Expr, term_months: pl.Expr) -> pl.Expr:
    """Index of the term that cycle k belongs to (term 0 starts at the purchase)."""
    return (k * cycle_months).floordiv(term_months)


def starts_term(k: pl.Expr, cycle_months: pl.Expr, term_months: pl.Expr) -> pl.Expr:
    """True for the first cycle of every term."""
    return (k * cycle_months) % term_months == 0


def renewal_term(anchor: pl.Expr, term_months: pl.Expr, date: pl.Expr) -> pl.Expr:
    """Term a renewal effective on `date` starts: the first term boundary on or after `date` (at least 1)."""
    n = months_ceil(anchor, date)
    return pl.max_horizontal((n + term_months - 1).floordiv(term_months), pl.lit(1, dtype=pl.Int64))


def expand_cycles(
    subscriptions: pl.LazyFrame, last_k: str, rule: str = "start_month", first_k: str | None = None
) -> pl.LazyFrame:
    """One row per cycle k = 0 (or the `first_k` column)..`last_k` of each row, with cycle dates, days and term index.

    `subscriptions` needs `anchor` (date), `cycle_months`, `term_months` (ints) and the `last_k` column.
    """
    anchor, months, k = pl.col("anchor"), pl.col("cycle_months"), pl.col("k")
    first = pl.col(first_k) if first_k is not None else 0
    return (
        subscriptions.with_columns(k=pl.int_ranges(first, pl.col(last_k) + 1, dtype=pl.Int64))
        .explode("k")
        .drop_nulls("k")
        .with_columns(
            cycle_start=cycle_start(anchor, months, k),
            cycle_end=cycle_end(anchor, months, k),
            term_index=term_index(k, months, pl.col("term_months")),
            starts_term=starts_term(k, months, pl.col("term_months")),
        )
        .with_columns(cycle_days=cycle_days(pl.col("cycle_start"), pl.col("cycle_end"), months, rule))
    )
