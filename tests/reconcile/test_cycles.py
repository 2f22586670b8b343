"""Charge-cycle arithmetic: nce-billing-math.md §3.1/§3.2/§3.3 tables and a pure-Python reference."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.reconcile.cycles import add_months, cycle_days, expand_cycles, months_ceil, months_floor, renewal_term


def cycles(anchor: date, cycle_months: int, term_months: int, count: int, rule: str = "start_month") -> pl.DataFrame:
    frame = pl.LazyFrame(
        {"anchor": [anchor], "cycle_months": [cycle_months], "term_months": [term_months], "last_k": [count - 1]}
    )
    return expand_cycles(frame, "last_k", rule).collect()


def spans(out: pl.DataFrame) -> list[tuple[date, date]]:
    return list(out.select("cycle_start", "cycle_end").iter_rows())


def test_section_3_1_bought_jan_31_2021_p1y_monthly() -> None:
    ms_table = [
        ((2021, 1, 31), (2021, 2, 27)), ((2021, 2, 28), (2021, 3, 30)), ((2021, 3, 31), (2021, 4, 29)),
        ((2021, 4, 30), (2021, 5, 30)), ((2021, 5, 31), (2021, 6, 29)), ((2021, 6, 30), (2021, 7, 30)),
        ((2021, 7, 31), (2021, 8, 30)), ((2021, 8, 31), (2021, 9, 29)), ((2021, 9, 30), (2021, 10, 30)),
        ((2021, 10, 31), (2021, 11, 29)), ((2021, 11, 30), (2021, 12, 30)), ((2021, 12, 31), (2022, 1, 30)),
    ]  # fmt: skip
    out = cycles(date(2021, 1, 31), 1, 12, 12)
    assert spans(out) == [(date(*s), date(*e)) for s, e in ms_table]
    assert out["term_index"].to_list() == [0] * 12 and out["starts_term"].to_list() == [True] + [False] * 11
    assert out["cycle_days"].to_list()[:3] == [31, 28, 31]  # days of the start month, not the cycle length


def test_section_3_3_bought_jan_15_2025_p1y_monthly_then_renewal() -> None:
    out = cycles(date(2025, 1, 15), 1, 12, 13)
    assert spans(out)[0] == (date(2025, 1, 15), date(2025, 2, 14))
    assert spans(out)[1] == (date(2025, 2, 15), date(2025, 3, 14))
    assert spans(out)[11] == (date(2025, 12, 15), date(2026, 1, 14))
    assert spans(out)[12] == (date(2026, 1, 15), date(2026, 2, 14))
    assert out["term_index"][12] == 1 and out["starts_term"][12]
    assert all(s.day == 15 and e.day == 14 for s, e in spans(out))


def test_section_3_1_p1m_month_end_purchases_and_example_11() -> None:
    assert spans(cycles(date(2021, 1, 31), 1, 1, 2)) == [
        (date(2021, 1, 31), date(2021, 2, 27)), (date(2021, 2, 28), date(2021, 3, 30))
    ]  # fmt: skip
    assert spans(cycles(date(2021, 5, 31), 1, 1, 1)) == [(date(2021, 5, 31), date(2021, 6, 29))]
    # [X] Jan 30: the P1M table (ends Feb 27) is followed; the P1Y-monthly table's Feb 26 is not.
    assert spans(cycles(date(2021, 1, 30), 1, 12, 2)) == [
        (date(2021, 1, 30), date(2021, 2, 27)), (date(2021, 2, 28), date(2021, 3, 29))
    ]  # fmt: skip
    example_11 = cycles(date(2025, 1, 31), 1, 1, 2)
    assert spans(example_11)[1] == (date(2025, 2, 28), date(2025, 3, 30))
    assert example_11["cycle_days"].to_list() == [31, 28]
    assert cycles(date(2025, 1, 31), 1, 1, 2, rule="actual_length")["cycle_days"].to_list() == [28, 31]


def test_section_3_2_cycle_days() -> None:
    out = cycles(date(2022, 2, 21), 1, 12, 2)
    assert spans(out) == [(date(2022, 2, 21), date(2022, 3, 20)), (date(2022, 3, 21), date(2022, 4, 20))]
    assert out["cycle_days"].to_list() == [28, 31]
    annual = cycles(date(2023, 6, 1), 12, 36, 3)
    assert annual["cycle_days"].to_list() == [366, 365, 365]  # the first year contains 29 Feb 2024
    assert annual["starts_term"].to_list() == [True, False, False]
    assert cycles(date(2021, 6, 18), 12, 12, 1)["cycle_days"].to_list() == [365]
    assert cycles(date(2024, 1, 10), 36, 36, 1)["cycle_days"].to_list() == [1096]
    assert cycles(date(2025, 1, 10), 36, 36, 1)["cycle_days"].to_list() == [1095]
    assert cycles(date(2025, 3, 1), 36, 36, 1)["cycle_days"].to_list() == [1096]  # ends 29 Feb 2028


def test_unknown_cycle_day_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle_days rule"):
        cycle_days(pl.col("a"), pl.col("b"), pl.col("c"), "calendar")


def py_add_months(d: date, n: int) -> date:
    year, month0 = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(year, month0 + 1, min(d.day, calendar.monthrange(year, month0 + 1)[1]))


dates = st.dates(date(2019, 1, 1), date(2032, 12, 31))


@settings(max_examples=200, deadline=None)
@given(anchors=st.lists(st.tuples(dates, dates, st.integers(0, 40)), min_size=1, max_size=20))
def test_month_arithmetic_matches_a_python_reference(anchors: list[tuple[date, date, int]]) -> None:
    frame = pl.DataFrame(anchors, schema={"a": pl.Date, "d": pl.Date, "n": pl.Int64}, orient="row")
    a, d, n = pl.col("a"), pl.col("d"), pl.col("n")
    out = frame.select(
        shifted=add_months(a, n), floor=months_floor(a, d), ceil=months_ceil(a, d),
        renewal=renewal_term(a, pl.lit(12), d),
    )  # fmt: skip
    for (anchor, day, months), row in zip(anchors, out.iter_rows(named=True), strict=True):
        assert row["shifted"] == py_add_months(anchor, months)
        floor, ceil = row["floor"], row["ceil"]
        assert py_add_months(anchor, floor) <= day < py_add_months(anchor, floor + 1)
        assert py_add_months(anchor, ceil - 1) < day <= py_add_months(anchor, ceil)
        boundary = py_add_months(anchor, 12 * row["renewal"])
        assert boundary >= day and (row["renewal"] == 1 or py_add_months(anchor, 12 * (row["renewal"] - 1)) < day)


@settings(max_examples=100, deadline=None)
@given(anchor=dates, cycle_months=st.sampled_from([1, 12, 36]), count=st.integers(1, 40))
def test_cycles_tile_time_without_gaps(anchor: date, cycle_months: int, count: int) -> None:
    out = cycles(anchor, cycle_months, 36, count)
    starts, ends = out["cycle_start"].to_list(), out["cycle_end"].to_list()
    assert starts[0] == anchor and all(e + timedelta(days=1) == s for e, s in zip(ends, starts[1:], strict=False))
    assert all(s == py_add_months(anchor, k * cycle_months) for k, s in enumerate(starts))
