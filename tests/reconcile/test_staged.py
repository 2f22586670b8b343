"""What the engine computes in DuckDB, or reads cut down, gives what the frame versions give over every line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from recon.reconcile.audits import run_audits
from recon.reconcile.currency import r12_rate
from recon.reconcile.drift import accrual_accuracy, drift
from recon.reconcile.frames import GrainError
from recon.reconcile.inputs import LINE_COLUMNS
from recon.reconcile.ledgers import ORDER, build_drift
from recon.reconcile.pricelist import customer_markets
from recon.reconcile.staged import audit_lines, line_markets, rate_counts, rule_lines
from recon.reconcile.unbilled import r08_unbilled
from recon.transform.events import fx_rates
from tests.reconcile.test_ledgers import EARLY, LAST, audit_inputs, drift_world, june, snapshot
from tests.reconcile.test_rules_fixtures import edit, run

MID = EARLY.replace(day=20)


def _table(lines: pl.DataFrame) -> duckdb.DuckDBPyConnection:
    """An in-memory database whose `src` table holds `lines` (columns the fixtures leave out: null)."""
    missing = {c: pl.lit(None, dtype=pl.String) for c in LINE_COLUMNS if c not in lines.columns}
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # as recon's connections
    con.register("_lines", lines.with_columns(**missing).to_arrow())
    con.execute("CREATE TABLE src AS SELECT * FROM _lines")
    con.unregister("_lines")
    return con


def _lines(inputs: dict[str, pl.LazyFrame]) -> pl.DataFrame:
    return inputs["lines"].collect()


def _worlds() -> dict[str, dict[str, pl.LazyFrame]]:
    """drift_world, and variants that reach the second pass, the occurrence numbers and null keys."""
    world = drift_world()
    lines = _lines(world)
    renamed = edit(lines, (pl.col("snapshot_at") == LAST) & (pl.col("subscription_id") == "s1"), reference_id="r-new")
    billed = lines.filter(pl.col("billing_state") == "billed")
    twice = pl.concat([lines, billed.with_columns(line_no=pl.col("line_no") + 50)], how="vertical")
    unkeyed = edit(lines, pl.col("subscription_id") == "s2", subscription_id=None)
    middle = pl.concat([lines, snapshot(june()[0], MID)], how="vertical")
    return {
        name: {**world, "lines": frame.lazy()}
        for name, frame in (
            ("world", lines),
            ("new reference", renamed),
            ("billed twice", twice),
            ("null key", unkeyed),
            ("three snapshots", middle),
        )
    }


@pytest.mark.parametrize("name", list(_worlds()))
def test_the_drift_ledger_built_in_duckdb_has_the_rows_of_the_frame_version(name: str) -> None:
    inputs = _worlds()[name]
    con = _table(_lines(inputs))
    closed = inputs["periods_closed"].select("period").collect()
    if name == "null key":  # both refuse a line they cannot key
        with pytest.raises(GrainError, match="unbilled snapshot lines: 1 row"):
            drift(inputs).collect()
        with pytest.raises(GrainError, match="unbilled snapshot lines: 1 row"):
            build_drift(con, closed, source="src", table="out")
        return
    expected = drift(inputs).collect()
    build_drift(con, closed, source="src", table="out")
    got = con.sql("SELECT * FROM out").pl()
    order = [*ORDER["recon.drift"], "unbilled_unit"]
    assert_frame_equal(got.sort(order, nulls_last=True), expected.sort(order, nulls_last=True))
    assert got.height == expected.height > 0


@pytest.mark.parametrize("name", [n for n in _worlds() if n != "null key"])  # R08 refuses a null key too
def test_the_rules_read_the_same_from_each_months_last_snapshot(name: str) -> None:
    inputs = _worlds()[name]
    con = _table(_lines(inputs))
    cut = {**inputs, "lines": rule_lines(con, "src").lazy()}
    assert cut["lines"].collect().height < _lines(inputs).height
    assert_frame_equal(run(r08_unbilled, cut), run(r08_unbilled, inputs))
    order = ["period", "currency", "customer_id", "product_id"]
    assert_frame_equal(accrual_accuracy(cut).collect().sort(order), accrual_accuracy(inputs).collect().sort(order))


def test_counted_rates_give_the_rates_and_votes_of_every_line() -> None:
    inputs = _worlds()["three snapshots"]
    lines = _lines(inputs)
    off = edit(lines, (pl.col("snapshot_at") == EARLY) & (pl.col("subscription_id") == "s1"),
               pc_to_bc_exchange_rate=D("1.000200000"))  # fmt: skip
    full = {**inputs, "lines": off.lazy()}
    con = _table(off)
    counted = {**full, "lines": rule_lines(con, "src").lazy(), "rates": rate_counts(con, "src").lazy()}
    order = ["pricing_currency", "billing_currency", "month"]
    assert_frame_equal(fx_rates(counted["rates"]).collect().sort(order), fx_rates(full["lines"]).collect().sort(order))
    assert_frame_equal(run(r12_rate, counted), run(r12_rate, full))
    customers = pl.LazyFrame({"customer_id": ["c2"], "country": [None]}, schema={"customer_id": pl.String,
                                                                                 "country": pl.String})  # fmt: skip
    assert_frame_equal(
        customer_markets(customers, line_markets(con, "src").lazy()).collect().sort("customer_id"),
        customer_markets(customers, off.lazy()).collect().sort("customer_id"),
    )


def test_the_audits_find_the_same_rows_in_the_lines_they_are_given() -> None:
    _, billed = june()
    s1 = billed.filter(pl.col("subscription_id") == "s1")
    old = snapshot(june()[0], EARLY).with_columns(product_name=pl.lit(None, dtype=pl.String))
    bad = pl.concat(
        [
            billed,
            old,
            old.with_columns(line_no=pl.lit(2, dtype=pl.Int64)),  # an unbilled key twice
            old.with_columns(line_no=pl.lit(None, dtype=pl.Int64)),
            old.with_columns(line_no=pl.lit(3, dtype=pl.Int64), charge_type=pl.lit(None, dtype=pl.String)),
            old.with_columns(line_no=pl.lit(4, dtype=pl.Int64), charge_end=pl.lit(date(2021, 6, 1))),
            old.with_columns(line_no=pl.lit(5, dtype=pl.Int64), pricing_currency=pl.lit("XXX")),
            s1.with_columns(line_no=pl.lit(7, dtype=pl.Int64), invoice_number=pl.lit("INV-999")),
        ],
        how="diagonal_relaxed",
    )
    inputs = audit_inputs(bad, pl.DataFrame({"dataset": ["usage-billed"]}).clear(), {"subtotal": "DECIMAL(18,6)"})
    inputs = {k: v for k, v in inputs.items() if k != "usage"}
    full = run_audits(inputs)
    con = _table(bad)
    cut = run_audits({**inputs, "lines": audit_lines(con, "src").lazy()})
    assert_frame_equal(cut, full)
    assert full["offending_rows"].sum() > 6
