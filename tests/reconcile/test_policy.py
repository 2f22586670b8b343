"""Dated policy calendar: entries, scalar and vectorised premium factors agree on every date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.reconcile.policy import (
    POLICY,
    POLICY_SCHEMA,
    extended_service_term_factor,
    policy_entry,
    policy_frame,
    policy_value,
    premium_expr,
    premium_factor,
)

PLANS = [("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual"), ("P3Y", "monthly"), ("P3Y", "annual"),
         ("P3Y", "triennial")]  # fmt: skip


def test_calendar_holds_the_issue_5_entries() -> None:
    on = date(2026, 6, 1)
    assert policy_value("cancellation_window", on) == D(7)
    assert policy_value("seat_reduction_window", on) == D(7)
    assert policy_value("monthly_term_premium", on) == D("0.20")
    assert policy_value("annual_billed_monthly_premium", on) == D("0.05")
    assert policy_value("annual_billed_monthly_premium", date(2025, 3, 31)) == D(0)
    assert policy_value("extended_service_term_premium", date(2026, 5, 3)) == D(0)
    assert policy_value("extended_service_term_premium", date(2026, 5, 4)) == D("0.03")
    assert policy_value("extended_service_term_premium_no_monthly_term", on) == D("0.23")
    entry = policy_entry("price_lock", on)
    assert entry is not None and entry.unit == "flag" and entry.source
    assert all(e.description and e.source for e in POLICY)


def test_premium_factor_by_plan_and_date() -> None:
    before, after = date(2025, 3, 31), date(2025, 4, 1)
    assert premium_factor("P1M", "monthly", before) == D("1.20")
    assert premium_factor("P1Y", "monthly", before) == D(1)
    assert premium_factor("P1Y", "monthly", after) == D("1.05")
    assert premium_factor("P3Y", "monthly", after) == D("1.05")
    assert premium_factor("P1Y", "annual", after) == D(1) and premium_factor("P3Y", "triennial", after) == D(1)
    assert D("12.50") * premium_factor("P1Y", "monthly", after) == D("13.125")  # §6 Business Standard
    assert D("36") * premium_factor("P1M", "monthly", after) == D("43.20")  # §6 M365 E3
    assert D("15.00") * extended_service_term_factor(date(2026, 5, 4)) == D("15.45")
    assert extended_service_term_factor(date(2026, 5, 4), has_monthly_term=False) == D("1.23")
    assert extended_service_term_factor(date(2026, 5, 3)) == D(1)


@settings(max_examples=50, deadline=None)
@given(days=st.lists(st.dates(date(2020, 1, 1), date(2028, 12, 31)), min_size=1, max_size=10))
def test_vectorised_premium_agrees_with_the_scalar_one(days: list[date]) -> None:
    rows = [(term, billing, on) for on in days for term, billing in PLANS]
    frame = pl.DataFrame(rows, schema={"term": pl.String, "billing": pl.String, "on": pl.Date}, orient="row")
    out = frame.select(premium_expr("term", "billing", "on").alias("factor"))
    assert out.schema["factor"] == pl.Decimal(18, 9)
    assert out["factor"].to_list() == [premium_factor(t, b, on) for t, b, on in rows]


def test_policy_frame_for_recon_policy_calendar() -> None:
    frame = policy_frame()
    assert dict(frame.schema) == POLICY_SCHEMA and frame.height == len(POLICY)
    assert frame["name"].n_unique() == frame.height
    abm = frame.filter(pl.col("name") == "annual_billed_monthly_premium").row(0, named=True)
    assert abm["effective_from"] == date(2025, 4, 1) and abm["effective_to"] is None and abm["value"] == D("0.05")
