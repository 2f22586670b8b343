from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.reconcile.frames import AMOUNT, GrainError, check_grain
from recon.reconcile.tieout import r09_invoice_tieout, tieout

D = Decimal


def invoices(*rows: tuple[str, str, str, str | None, str]) -> pl.LazyFrame:
    """(invoice_number, total, currency, amends_of, document_type)."""
    return pl.LazyFrame(
        {
            "invoice_number": [r[0] for r in rows],
            "period": [date(2026, 9, 1)] * len(rows),
            "total_charges": pl.Series([D(r[1]) for r in rows], dtype=AMOUNT),
            "currency": [r[2] for r in rows],
            "amends_of": pl.Series([r[3] for r in rows], dtype=pl.String),
            "document_type": [r[4] for r in rows],
        }
    )


def lines(*rows: tuple[str, str, str]) -> pl.LazyFrame:
    """(invoice_number, total_for_customer, currency)."""
    return pl.LazyFrame(
        {
            "invoice_number": pl.Series([r[0] for r in rows], dtype=pl.String),
            "billing_state": ["billed"] * len(rows),
            "total_for_customer": pl.Series([D(r[1]) for r in rows], dtype=AMOUNT),
            "currency": pl.Series([r[2] for r in rows], dtype=pl.String),
        }
    )


def loads(*units: str, status: str = "complete") -> pl.LazyFrame:
    return pl.LazyFrame(
        {"dataset": ["recon-billed"] * len(units), "unit": list(units), "status": [status] * len(units)},
        schema={"dataset": pl.String, "unit": pl.String, "status": pl.String},
    )


def test_invoice_equal_to_its_lines_ties_out() -> None:
    tie = tieout(
        invoices(("G1", "30.30", "EUR", None, "invoice")),
        lines(("G1", "10.10", "EUR"), ("G1", "20.20", "EUR")),
        loads("G1"),
    ).collect()
    row = tie.row(0, named=True)
    assert row["lines_total"] == D("30.30")
    assert row["residual"] == 0 and row["unexplained"] == 0
    assert row["status"] == "tied"
    assert r09_invoice_tieout(tie.lazy()).collect().is_empty()


def test_total_off_is_an_r09_finding_with_the_money_at_stake() -> None:
    tie = tieout(
        invoices(("G1", "130.37", "EUR", None, "invoice")),
        lines(("G1", "10.10", "EUR"), ("G1", "20.20", "EUR")),
        loads("G1"),
    )
    found = r09_invoice_tieout(tie).collect()
    assert found.height == 1
    f = found.row(0, named=True)
    assert f["rule"].split("-")[0] == "R09"
    assert f["severity"] == "high"
    assert f["invoice_number"] == "G1"
    assert f["amount_at_stake"] == D("100.070000")
    assert f["difference"] == D("100.07")
    assert f["currency"] == "EUR"


def test_rounding_explains_at_most_a_cent_per_line_with_sub_cent_digits() -> None:
    inv = invoices(
        ("G1", "30.32", "EUR", None, "invoice"),
        ("G2", "30.33", "EUR", None, "invoice"),
        ("G3", "30.32", "EUR", None, "invoice"),
    )
    ln = lines(
        ("G1", "10.104", "EUR"),
        ("G1", "20.204", "EUR"),
        ("G1", "0.002", "EUR"),
        ("G2", "10.101", "EUR"),
        ("G2", "20.201", "EUR"),
        ("G3", "10.10", "EUR"),
        ("G3", "20.20", "EUR"),
    )
    tie = tieout(inv, ln, loads("G1", "G2", "G3")).collect().sort("invoice_number")
    g1, g2, g3 = tie.rows(named=True)
    assert g1["residual"] == D("0.010") and g1["rounding"] == D("0.01") and g1["unexplained"] == 0
    assert g1["status"] == "explained"
    assert g2["rounding"] == D("0.02") and g2["unexplained"] == D("0.008")
    # whole-cent lines give rounding no evidence: the 0.02 stays unexplained and is a finding
    assert g3["rounding"] == 0 and g3["unexplained"] == D("0.02")
    assert r09_invoice_tieout(tie.lazy()).collect()["invoice_number"].to_list() == ["G3"]


def test_credit_note_amending_the_invoice_explains_its_amount() -> None:
    inv = invoices(("G1", "20.00", "EUR", None, "invoice"), ("C1", "-10.00", "EUR", "G1", "void_note"))
    tie = tieout(inv, lines(("G1", "30.00", "EUR")), loads("G1", "C1")).collect()
    g1 = tie.filter(pl.col("invoice_number") == "G1").row(0, named=True)
    assert g1["credit_notes"] == D("-10.00")
    assert g1["unexplained"] == 0


def test_an_amending_document_explains_its_whole_amount_or_nothing() -> None:
    """A residual smaller than the adjustment note cannot be that note: it stays unexplained (R09)."""
    inv = invoices(("G1", "27.50", "EUR", None, "invoice"), ("A1", "-10.00", "EUR", "G1", "adjustment_note"))
    tie = tieout(inv, lines(("G1", "30.00", "EUR")), loads("G1", "A1")).collect()
    g1 = tie.filter(pl.col("invoice_number") == "G1").row(0, named=True)
    assert g1["adjustments"] == 0 and g1["unexplained"] == D("-2.50") and g1["status"] == "unexplained"


def test_lines_not_loaded_are_missing_not_unexplained() -> None:
    tie = tieout(invoices(("G1", "99.99", "EUR", None, "invoice")), lines(), loads()).collect()
    row = tie.row(0, named=True)
    assert row["missing_lines"] == D("99.99")
    assert row["status"] == "incomplete"
    assert r09_invoice_tieout(tie.lazy()).collect().is_empty()


def test_grain_check_refuses_duplicate_invoices() -> None:
    inv = invoices(("G1", "1", "EUR", None, "invoice"), ("G1", "1", "EUR", None, "invoice"))
    with pytest.raises(GrainError, match="not unique"):
        check_grain(inv, ["invoice_number"], "stg.invoices")


cents = st.integers(min_value=-10_000_000, max_value=10_000_000).map(lambda c: Decimal(c).scaleb(-2))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(cents, min_size=1, max_size=20), min_size=1, max_size=6), st.randoms())
def test_clean_invoices_tie_out_in_any_line_order(groups: list[list[Decimal]], rnd: object) -> None:
    inv_rows = [(f"G{i}", str(sum(g, Decimal(0))), "EUR", None, "invoice") for i, g in enumerate(groups)]
    line_rows = [(f"G{i}", str(v), "EUR") for i, g in enumerate(groups) for v in g]
    rnd.shuffle(line_rows)  # type: ignore[attr-defined]
    tie = tieout(invoices(*inv_rows), lines(*line_rows), loads(*(r[0] for r in inv_rows))).collect()
    assert tie["residual"].to_list() == [Decimal(0)] * len(groups)
    assert r09_invoice_tieout(tie.lazy()).collect().is_empty()


@settings(max_examples=60, deadline=None)
@given(st.lists(cents, min_size=1, max_size=30), cents.filter(lambda d: abs(d) > Decimal("0.01")))
def test_any_offset_beyond_a_cent_is_found_to_the_cent(values: list[Decimal], offset: Decimal) -> None:
    total = sum(values, Decimal(0)) + offset
    tie = tieout(
        invoices(("G1", str(total), "EUR", None, "invoice")),
        lines(*(("G1", str(v), "EUR") for v in values)),
        loads("G1"),
    )
    found = r09_invoice_tieout(tie).collect()
    assert found.height == 1
    # whole-cent lines leave rounding nothing to explain: the whole offset is at stake, exactly
    assert found["amount_at_stake"][0] == abs(offset)
