"""R10 and R13 by example: a consumption line against its daily rows; a day far above its own history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import polars as pl

from recon.reconcile.frames import AMOUNT, WIDE
from recon.reconcile.usage import r10_usage_sum, r13_usage_anomaly
from tests.reconcile.test_rules_fixtures import CLOSE, run, summary

JAN = date(2025, 1, 1)
METER = ("Compute", "D2 v3", "westeurope")


def daily(cents: list[int], *, start: date = JAN, sub: str = "az1", state: str = "billed") -> pl.LazyFrame:
    """One daily usage row per day (billed on INV-yyyymm), billingPreTaxTotal = cents / 100."""
    days = [start + timedelta(days=i) for i in range(len(cents))]
    n = len(days)
    return pl.LazyFrame(
        {
            "dataset": ["usage-billed"] * n,
            "unit": [f"INV-{d:%Y%m}" for d in days],
            "page_no": [1] * n,
            "line_no": list(range(1, n + 1)),
            "billing_state": [state] * n,
            "snapshot_at": [CLOSE] * n,
            "period": [d.replace(day=1) for d in days],
            "customer_id": ["c1"] * n,
            "subscription_id": [sub] * n,
            "invoice_number": [f"INV-{d:%Y%m}" if state == "billed" else None for d in days],
            "usage_date": days,
            "meter_id": ["m1"] * n,
            "meter_category": [METER[0]] * n,
            "meter_name": [METER[1]] * n,
            "meter_region": [METER[2]] * n,
            "quantity": [D(c) / 100 for c in cents],
            "billing_pre_tax_total": [D(c) / 100 for c in cents],
            "billing_currency": ["EUR"] * n,
            "pricing_currency": ["USD"] * n,
            "pc_to_bc_exchange_rate": [D("0.9")] * n,
            "pc_to_bc_exchange_rate_date": [d.replace(day=1) for d in days],
        },
        schema_overrides={
            "snapshot_at": pl.Datetime("us", "UTC"),
            "quantity": AMOUNT,
            "billing_pre_tax_total": AMOUNT,
            "pc_to_bc_exchange_rate": pl.Decimal(18, 9),
        },
    )


def recon_line(subtotal: str, quantity: str = "155") -> pl.LazyFrame:
    """The January consumption recon line of meter METER on plan az1."""
    return pl.LazyFrame(
        {
            "dataset": ["recon-billed"],
            "unit": ["INV-202501"],
            "page_no": [1],
            "line_no": [1],
            "billing_state": ["billed"],
            "period": [JAN],
            "customer_id": ["c1"],
            "invoice_number": ["INV-202501"],
            "subscription_id": ["az1"],
            "charge_type": ["new"],
            "meter_description": [" - ".join(METER)],
            "billable_quantity": [D(quantity)],
            "subtotal": [D(subtotal)],
            "currency": ["EUR"],
        },
        schema_overrides={"billable_quantity": AMOUNT, "subtotal": AMOUNT, "unit_price": WIDE},
    )


def test_consumption_line_equal_to_its_daily_rows_is_clean() -> None:
    assert run(r10_usage_sum, {"lines": recon_line("155.00"), "usage": daily([500] * 31)}).is_empty()


def test_daily_floors_within_one_cent_per_row_are_clean() -> None:
    assert run(r10_usage_sum, {"lines": recon_line("155.31"), "usage": daily([500] * 31)}).is_empty()


def test_usage_sum_off_is_r10() -> None:
    out = run(r10_usage_sum, {"lines": recon_line("155.32"), "usage": daily([500] * 31)})
    assert summary(out) == [("R10-usage-sum", "az1", "INV-202501", JAN, "usage", D("0.32"))]
    assert out["amount_at_stake"].to_list() == [D("0.32")]
    assert out["customer_id"].to_list() == ["c1"]


def test_invoice_without_extracted_daily_usage_is_not_compared() -> None:
    assert run(
        r10_usage_sum, {"lines": recon_line("999.00"), "usage": daily([500] * 31, start=date(2025, 2, 1))}
    ).is_empty()


ALTERNATING = [1000, 2000] * 10  # median 15.00, MAD 5.00: threshold 15.00 + max(4 x 1.4826 x 5.00, 10.00) = 44.652


def test_usage_spike_and_a_day_just_under_the_threshold() -> None:
    out = run(r13_usage_anomaly, {"usage": daily([*ALTERNATING, 4466])})
    assert summary(out) == [("R13-usage-anomaly", "az1", "INV-202501", JAN, "usage", D("29.66"))]
    assert out["severity"].to_list() == ["low"]
    assert out["charge_period"].to_list() == ["2025-01-21"]
    assert run(r13_usage_anomaly, {"usage": daily([*ALTERNATING, 4465])}).is_empty()


def test_spike_needs_fourteen_days_of_history_and_more_than_ten() -> None:
    assert run(r13_usage_anomaly, {"usage": daily([500] * 13 + [90000])}).is_empty()
    assert len(run(r13_usage_anomaly, {"usage": daily([500] * 14 + [1501])})) == 1  # MAD 0: 15.01 - 5.00 > 10.00
    assert run(r13_usage_anomaly, {"usage": daily([500] * 14 + [1500])}).is_empty()


def test_days_without_rows_count_as_zero_and_unbilled_months_use_the_last_snapshot() -> None:
    other = daily([700] * 40, sub="az2")  # starts the data window on 1 January
    late = daily([1100] * 3, start=date(2025, 1, 20), state="unbilled")  # 19 empty days before: median 0, MAD 0
    out = run(r13_usage_anomaly, {"usage": pl.concat([other, late])})
    days = [(r["subscription_id"], r["charge_period"]) for r in out.iter_rows(named=True)]
    assert days == [("az1", "2025-01-20"), ("az1", "2025-01-21"), ("az1", "2025-01-22")]
    early = daily([99999] * 3, start=date(2025, 1, 20), state="unbilled").with_columns(
        snapshot_at=pl.lit(datetime(2025, 1, 21, tzinfo=UTC))
    )
    # the earlier snapshot of the same month is ignored: the same three days, the same amounts
    assert run(r13_usage_anomaly, {"usage": pl.concat([other, late, early])}).equals(out)
