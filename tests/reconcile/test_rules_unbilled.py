"""R08 by example: the last unbilled snapshot of a closed month against the invoice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import polars as pl

from recon.reconcile.unbilled import r08_unbilled
from tests.reconcile.test_rules_fixtures import as_lines, edit, ev, events, frames, rate, run, summary

JUN, JUL = date(2021, 6, 1), date(2021, 7, 1)
EARLY, LAST = datetime(2021, 6, 10, tzinfo=UTC), datetime(2021, 6, 30, tzinfo=UTC)
WORLD = pl.concat(
    [
        events(ev("purchase", date(2021, 6, 3), 10)),
        events(ev("purchase", date(2021, 6, 5), 4), subscription_id="s2"),
        events(ev("purchase", date(2021, 7, 3), 6), subscription_id="s3"),
    ]
)


def world() -> tuple[pl.DataFrame, pl.DataFrame]:
    expected = rate(WORLD, until=date(2021, 7, 31))
    return expected, as_lines(expected.filter(pl.col("period") == JUN))


def unbilled(expected: pl.DataFrame, at: datetime, period: date = JUN) -> pl.DataFrame:
    return as_lines(expected.filter(pl.col("period") == period), state="unbilled", snapshot_at=at)


def test_unbilled_equal_to_billed_is_clean_and_early_drift_is_ledger_data() -> None:
    expected, billed = world()
    early = edit(unbilled(expected, EARLY), pl.lit(True), subtotal=D(1), billable_quantity=D(1))
    inputs = frames(expected, [billed, early, unbilled(expected, LAST)], periods=[JUN])
    assert run(r08_unbilled, inputs).is_empty()


def test_unbilled_vanished_and_changed() -> None:
    expected, billed = world()
    last = unbilled(expected, LAST)
    vanished = last.filter(pl.col("subscription_id") == "s1").with_columns(
        reference_id=pl.lit("r-vanished"), billable_quantity=D(3), quantity=D(3), subtotal=D("30.24"), line_no=9
    )
    changed = edit(last, pl.col("subscription_id") == "s2", billable_quantity=D(5), subtotal=D("50.40"))
    inputs = frames(expected, [billed, changed, vanished], periods=[JUN])
    out = run(r08_unbilled, inputs)
    assert summary(out) == [
        ("R08-unbilled-changed", "s2", "INV-202106", JUN, "new", D("-10.08")),
        ("R08-unbilled-vanished", "s1", "INV-202106", JUN, "new", D("-30.24")),
    ]
    assert out["amount_at_stake"].to_list() == [D("10.08"), D("30.24")]


def test_change_within_tolerance_and_drift_in_the_open_month_are_not_findings() -> None:
    expected, billed = world()
    last = edit(unbilled(expected, LAST), pl.col("subscription_id") == "s1", subtotal=pl.col("subtotal") + D("0.10"))
    july = edit(unbilled(expected, LAST, JUL), pl.lit(True), subtotal=D(1))  # July is not closed
    assert run(r08_unbilled, frames(expected, [billed, last, july], periods=[JUN])).is_empty()
