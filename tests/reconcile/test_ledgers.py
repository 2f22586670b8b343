"""Ledgers by example: drift, accrual accuracy, credit pairs, staging audits, policy calendar; one end-to-end run."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from recon.extract import extract
from recon.reconcile import reconcile
from recon.reconcile.audits import AUDITS, run_audits
from recon.reconcile.charges import r07_credit
from recon.reconcile.credits import credit_pairs_table
from recon.reconcile.drift import accrual_accuracy, drift
from recon.reconcile.inputs import ORDERS_SCHEMA
from recon.reconcile.policy import POLICY, POLICY_SCHEMA, policy_expr, policy_frame, policy_value
from recon.reconcile.unbilled import r08_unbilled
from recon.sandbox import SandboxServer
from recon.store import reader
from tests.conftest import admin, settings_for
from tests.reconcile.test_rules_fixtures import (
    as_lines,
    edit,
    ev,
    events,
    frames,
    rate,
    run,
    subscriptions,
)

JUN, JUL = date(2021, 6, 1), date(2021, 7, 1)
EARLY, LAST = datetime(2021, 6, 10, tzinfo=UTC), datetime(2021, 6, 30, tzinfo=UTC)
WORLD = pl.concat(
    [
        events(ev("purchase", date(2021, 6, 3), 10)),
        events(ev("purchase", date(2021, 6, 5), 4), subscription_id="s2", customer_id="c2"),
    ]
)
INVOICES = pl.LazyFrame(
    {
        "invoice_number": ["INV-202106", "INV-202107", "CN-1"],
        "amends_of": [None, None, "INV-202106"],
        "currency": ["EUR"] * 3,
    }
)


def june() -> tuple[pl.DataFrame, pl.DataFrame]:
    expected = rate(WORLD, until=date(2021, 6, 30))
    return expected, as_lines(expected).with_columns(product_name=pl.lit("Office 365 E3"))


def snapshot(expected: pl.DataFrame, at: datetime) -> pl.DataFrame:
    return as_lines(expected, state="unbilled", snapshot_at=at).with_columns(product_name=pl.lit("Office 365 E3"))


def rows(frame: pl.LazyFrame | pl.DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    out = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    return sorted(out.select(columns).rows(), key=repr)


# ---- drift --------------------------------------------------------------------------------------------------------


def drift_world() -> dict[str, pl.LazyFrame]:
    """s2 not yet visible on the 10th; by the 30th s2 shows 5 seats (billed 4) and a line that is never billed."""
    expected, billed = june()
    early = snapshot(expected, EARLY).filter(pl.col("subscription_id") == "s1")
    last = edit(
        snapshot(expected, LAST), pl.col("subscription_id") == "s2", billable_quantity=D(5), subtotal=D("53.76")
    )
    extra = last.filter(pl.col("subscription_id") == "s1").with_columns(
        reference_id=pl.lit("r-vanished"),
        billable_quantity=D(3),
        subtotal=D("30.24"),
        line_no=pl.lit(9, dtype=pl.Int64),
        customer_id=pl.lit("c3"),
    )
    return frames(expected, [billed, early, last, extra], periods=[JUN], invoices=INVOICES)


def test_every_snapshot_is_linked_to_the_bill_with_each_status() -> None:
    out = drift(drift_world())
    got = rows(out, "snapshot_at", "is_last", "status", "subscription_id", "unbilled_subtotal", "billed_subtotal")
    assert got == sorted(
        [
            (EARLY, False, "matched", "s1", D("100.80"), D("100.80")),
            (EARLY, False, "appeared_late", "s2", None, D("40.32")),
            (LAST, True, "matched", "s1", D("100.80"), D("100.80")),
            (LAST, True, "changed", "s2", D("53.76"), D("40.32")),
            (LAST, True, "vanished", "s1", D("30.24"), None),
        ],
        key=repr,
    )
    changed = out.filter(pl.col("status") == "changed").collect().row(0, named=True)
    assert (changed["difference"], changed["tolerance"], changed["invoice_number"]) == (
        D("-13.44"),
        D("0.05"),
        "INV-202106",
    )


def test_the_last_snapshot_of_the_drift_ledger_is_what_r08_flags() -> None:
    inputs = drift_world()
    ledger = drift(inputs).filter(pl.col("is_last") & pl.col("status").is_in(["changed", "vanished"]))
    findings = run(r08_unbilled, inputs)
    assert rows(ledger, "subscription_id", "difference") == rows(
        findings.with_columns(pl.col("difference").cast(pl.Decimal(18, 6))), "subscription_id", "difference"
    )


def test_drift_of_a_month_not_closed_is_not_in_the_ledger() -> None:
    expected, billed = june()
    inputs = frames(expected, [billed, snapshot(expected, LAST)], periods=[], invoices=INVOICES)
    assert drift(inputs).collect().is_empty()


# ---- accrual accuracy ---------------------------------------------------------------------------------------------


def test_accrual_accuracy_compares_the_last_estimate_with_the_bill_in_decimal() -> None:
    inputs = dict(drift_world())
    credit_note = as_lines(rate(WORLD, until=date(2021, 6, 30))).filter(pl.col("subscription_id") == "s1")
    credit_note = credit_note.with_columns(unit=pl.lit("CN-1"), invoice_number=pl.lit("CN-1"), subtotal=D("-10.00"))
    inputs["lines"] = pl.concat([inputs["lines"], credit_note.lazy()], how="diagonal_relaxed")
    out = accrual_accuracy(inputs).collect()
    assert out.schema["error"] == pl.Decimal(18, 9) and out.schema["estimate"] == pl.Decimal(18, 6)
    got = rows(out, "customer_id", "snapshot_at", "estimate", "actual", "difference", "error")
    assert got == sorted(
        [
            # the early snapshot is not the estimate; the credit note is not part of the billed actual
            ("c1", LAST, D("100.80"), D("100.80"), D(0), D(0)),
            ("c2", LAST, D("53.76"), D("40.32"), D("13.44"), D("0.333333333")),  # 13.44 / 40.32 = 1/3
            ("c3", LAST, D("30.24"), D(0), D("30.24"), None),  # nothing billed: the error is undefined
        ],
        key=repr,
    )
    assert all(isinstance(e, D) for e in out["error"].drop_nulls())


# ---- credit pairs -------------------------------------------------------------------------------------------------

CHANGES = events(
    ev("purchase", date(2021, 6, 18), 12), ev("add", date(2021, 6, 19), 14), ev("remove", date(2021, 6, 20), 8)
)
CANCEL = events(ev("purchase", date(2021, 7, 15), 10), ev("cancel", date(2021, 7, 17), 0))
PAIR_COLUMNS = ("credit_kind", "status", "charge_start", "reversed_charge_type", "reversed_charge_start",
                "window_opened", "window_days", "in_window")  # fmt: skip


def test_add_and_removal_refunds_reverse_the_charge_issued_before_them() -> None:
    expected = rate(CHANGES, until=date(2021, 6, 30))
    out = credit_pairs_table(frames(expected, as_lines(expected), periods=[JUN])).collect()
    assert rows(out, *PAIR_COLUMNS) == sorted(
        [
            ("add_refund", "matched", date(2021, 6, 19), "new", date(2021, 6, 18), None, None, None),
            # the 14 seats of the add are what the removal refunds; the window opened with that add
            ("removal_refund", "matched", date(2021, 6, 20), "addQuantity", date(2021, 6, 19), date(2021, 6, 19), 7,
             True),
        ],
        key=repr,
    )  # fmt: skip
    removal = out.filter(pl.col("credit_kind") == "removal_refund").row(0, named=True)
    assert (removal["credit_subtotal"], removal["expected_subtotal"], removal["reversed_subtotal"]) == (
        D("-131.60"),
        D("-131.60"),
        D("136.36"),
    )
    assert removal["invoice_number"] == removal["reversed_invoice_number"] == "INV-202106"


def test_a_missing_removal_credit_is_missing_and_r07() -> None:
    expected = rate(CHANGES, until=date(2021, 6, 30))
    lines = as_lines(expected).filter(~((pl.col("charge_type") == "removeQuantity") & (pl.col("subtotal") < 0)))
    inputs = frames(expected, lines, periods=[JUN])
    missing = credit_pairs_table(inputs).filter(pl.col("status") == "missing").collect()
    assert rows(missing, "credit_kind", "invoice_number", "expected_subtotal", "credit_subtotal") == [
        ("removal_refund", "INV-202106", D("-131.60"), None)
    ]
    assert run(r07_credit, inputs)["rule"].to_list() == ["R07-missing-credit"]
    not_closed = credit_pairs_table(frames(expected, lines, periods=[])).collect()
    assert "pending" in not_closed["status"].to_list() and run(r07_credit, frames(expected, lines)).is_empty()


def test_cancellation_refund_inside_and_outside_the_window() -> None:
    expected = rate(CANCEL, until=date(2021, 7, 31))
    out = credit_pairs_table(frames(expected, as_lines(expected), periods=[JUL])).collect()
    assert rows(out, *PAIR_COLUMNS) == [
        ("cancellation_refund", "matched", date(2021, 7, 17), "new", date(2021, 7, 15), date(2021, 7, 15), 7, True)
    ]
    late = rate(
        events(ev("purchase", date(2021, 7, 1), 10), ev("cancel", date(2021, 7, 20), 0)), until=date(2021, 7, 31)
    )
    unrefunded = as_lines(late).filter(pl.col("subtotal") > 0)
    inputs = frames(late, unrefunded, periods=[JUL])
    assert rows(credit_pairs_table(inputs), "status", "window_days", "in_window") == [("missing", 7, False)]
    assert run(r07_credit, inputs).is_empty()  # no refund is due after the 7-day window


def test_credit_note_is_linked_to_the_charge_it_credits() -> None:
    expected = rate(CANCEL, until=date(2021, 7, 31))
    lines = as_lines(expected)
    note = lines.filter(pl.col("charge_type") == "new").with_columns(
        unit=pl.lit("CN-1"),
        invoice_number=pl.lit("CN-1"),
        charge_type=pl.lit("customerCredit"),
        subtotal=D("-10.08"),
        effective_unit_price=D("-1.008"),
        reference_id=pl.lit("r-credit"),
    )
    out = credit_pairs_table(frames(expected, [lines, note], periods=[JUL])).filter(
        pl.col("credit_kind") == "credit_note"
    )
    columns = ("status", "invoice_number", "credit_subtotal", "reversed_invoice_number", "reversed_charge_type")
    assert rows(out, *columns, "reversed_subtotal") == [
        ("not_rated", "CN-1", D("-10.08"), "INV-202107", "new", D("100.80"))
    ]


def test_a_credit_applied_twice_is_paired_once_and_twice_is_r07() -> None:
    expected = rate(CANCEL, until=date(2021, 7, 31))
    lines = as_lines(expected)
    doubled = pl.concat(
        [
            lines,
            lines.filter(pl.col("charge_type") == "cancelImmediate").with_columns(line_no=pl.lit(9, dtype=pl.Int64)),
        ]
    )
    inputs = frames(expected, doubled, periods=[JUL])
    out = credit_pairs_table(inputs).collect()
    assert rows(out, "status", "credit_line_no", "reversed_charge_type") == [
        ("matched", 2, "new"),
        ("twice", 9, "new"),
    ]
    assert run(r07_credit, inputs)["rule"].to_list() == ["R07-credit-twice"]


# ---- audits -------------------------------------------------------------------------------------------------------


def _usage(**overrides: Any) -> pl.DataFrame:
    base = {"dataset": "usage-billed", "unit": "INV-202106", "page_no": 1, "line_no": 1, "billing_state": "billed",
            "invoice_number": "INV-202106", "billing_currency": "EUR", "pricing_currency": "USD",
            "charge_start": date(2021, 6, 1), "charge_end": date(2021, 6, 30), **overrides}  # fmt: skip
    return pl.DataFrame([base])


def audit_inputs(lines: pl.DataFrame, usage: pl.DataFrame, types: dict[str, str]) -> dict[str, pl.LazyFrame]:
    expected, _ = june()
    return frames(
        expected,
        lines,
        invoices=INVOICES,
        usage=usage.lazy(),
        subscriptions=subscriptions({}, {"subscription_id": "s2"}),
        orders=pl.LazyFrame(schema=ORDERS_SCHEMA),
        columns=pl.LazyFrame(
            {
                "table_name": ["stg.recon_lines"] * len(types),
                "column_name": list(types),
                "data_type": list(types.values()),
            }
        ),
    )


def offending(inputs: dict[str, pl.LazyFrame]) -> dict[tuple[str, str], tuple[int, list[dict[str, Any]]]]:
    out = run_audits(inputs)
    assert out.height == len(AUDITS)
    failing = out.filter(pl.col("offending_rows") > 0).iter_rows(named=True)
    return {(r["audit"], r["table_name"]): (r["offending_rows"], json.loads(r["sample"])) for r in failing}


def test_audits_pass_on_clean_staging() -> None:
    _, billed = june()
    assert offending(audit_inputs(billed, _usage(), {"subtotal": "DECIMAL(18,6)", "page_no": "INTEGER"})) == {}


def test_audits_return_the_offending_rows_of_each_kind() -> None:
    _, billed = june()
    s1 = billed.filter(pl.col("subscription_id") == "s1")
    bad = pl.concat(
        [
            billed,
            s1,  # the same line key twice
            s1.with_columns(line_no=pl.lit(None, dtype=pl.Int64)),
            s1.with_columns(line_no=pl.lit(3, dtype=pl.Int64), subscription_id=pl.lit(None, dtype=pl.String)),
            s1.with_columns(line_no=pl.lit(4, dtype=pl.Int64), invoice_number=pl.lit("INV-999")),
            s1.with_columns(line_no=pl.lit(5, dtype=pl.Int64), charge_end=pl.lit(date(2021, 6, 1))),
            s1.with_columns(line_no=pl.lit(6, dtype=pl.Int64), currency=pl.lit("XXX")),
            s1.with_columns(line_no=pl.lit(7, dtype=pl.Int64), subscription_id=pl.lit("ghost")),
        ]
    )
    usage = pl.concat([_usage(), _usage(line_no=2, pricing_currency="ZZZ", charge_start=date(2021, 7, 1))])
    got = offending(audit_inputs(bad, usage, {"subtotal": "DOUBLE", "unit_price": "DECIMAL(38,15)"}))
    assert {k: n for k, (n, _) in got.items()} == {
        ("duplicate_key", "stg.recon_lines"): 1,
        ("null_key", "stg.recon_lines"): 1,
        ("null_match_key", "stg.recon_lines"): 1,
        ("unknown_invoice", "stg.recon_lines"): 1,
        ("charge_period_reversed", "stg.recon_lines"): 1,
        ("charge_period_reversed", "stg.usage_lines"): 1,
        ("unknown_currency", "stg.recon_lines"): 1,
        ("unknown_currency", "stg.usage_lines"): 1,
        ("money_not_decimal", "stg.*"): 1,
        ("billed_without_history", "stg.recon_lines"): 1,
    }
    assert got[("duplicate_key", "stg.recon_lines")][1] == [
        {"dataset": "recon-billed", "unit": "INV-202106", "page_no": 1, "line_no": 1, "rows": 2}
    ]
    assert got[("unknown_currency", "stg.recon_lines")][1] == [
        {"column_name": "currency", "currency": "XXX", "rows": 1}
    ]
    assert got[("money_not_decimal", "stg.*")][1] == [
        {"table_name": "stg.recon_lines", "column_name": "subtotal", "data_type": "DOUBLE"}
    ]
    assert got[("billed_without_history", "stg.recon_lines")][1][0]["subscription_id"] == "ghost"
    assert got[("unknown_invoice", "stg.recon_lines")][1][0]["invoice_number"] == "INV-999"


# ---- policy calendar ----------------------------------------------------------------------------------------------


def test_policy_calendar_rows_carry_their_effective_dates() -> None:
    calendar = policy_frame()
    assert calendar.schema == pl.Schema(POLICY_SCHEMA) and calendar.height == len(POLICY)
    dated = {r["name"]: (r["value"], r["effective_from"], r["effective_to"]) for r in calendar.iter_rows(named=True)}
    assert dated["annual_billed_monthly_premium"] == (D("0.05"), date(2025, 4, 1), None)
    assert dated["extended_service_term_premium"] == (D("0.03"), date(2026, 5, 4), None)
    assert dated["cancellation_window"][0] == dated["seat_reduction_window"][0] == D(7)
    days = [date(2020, 12, 31), date(2025, 3, 31), date(2025, 4, 1), date(2026, 5, 4)]
    for name in ("annual_billed_monthly_premium", "extended_service_term_premium", "cancellation_window"):
        vectorised = pl.DataFrame({"d": days}).select(policy_expr(name, pl.col("d")))["literal"].to_list()
        assert vectorised == [policy_value(name, d) for d in days]


# ---- end to end ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ledgers_after_a_month_closes_on_the_sandbox(tmp_path: Path) -> None:
    """Snapshot November's unbilled lines, let November be invoiced, then reconcile: the ledgers agree."""
    with SandboxServer(tmp_path / "sb", switches={"export_retry_after_s": "0"}) as sandbox:
        settings = settings_for(sandbox, tmp_path / "recon.duckdb")
        extract(settings, datasets=["recon-unbilled"])
        admin(sandbox, "POST", "/clock/advance", json={"days": 30})
        extract(settings, datasets=["invoices", "recon-billed"])
    summary = reconcile(settings)
    with reader(settings.db) as con:

        def q(sql: str) -> list[tuple[Any, ...]]:
            return con.execute(sql).fetchall()

        periods = q("SELECT DISTINCT period, is_last FROM recon.drift")
        by_status = dict(q("SELECT status, count(*) FROM recon.drift GROUP BY ALL"))
        r08 = q("SELECT subscription_id, CAST(difference AS DECIMAL(18,6)) FROM recon.findings WHERE rule LIKE 'R08%' "
                "ORDER BY ALL")  # fmt: skip
        flagged = q("SELECT subscription_id, difference FROM recon.drift WHERE is_last "
                    "AND status IN ('changed', 'vanished') ORDER BY ALL")  # fmt: skip
        billed = q("SELECT count(*) FROM stg.recon_lines WHERE billing_state = 'billed' AND period = '2025-11-01' "
                   "AND coalesce(trim(meter_description), '') = '' AND charge_type IN "
                   "('new', 'cycleCharge', 'renew', 'addQuantity', 'removeQuantity', 'cancelImmediate')")  # fmt: skip
        linked = q("SELECT count(*) FROM recon.drift WHERE billed_line_no IS NOT NULL")
        accrual = q("SELECT sum(estimate), sum(actual) FROM recon.accrual_accuracy")
        totals = q("SELECT sum(subtotal) FILTER (billing_state = 'unbilled'), sum(subtotal) FILTER (billing_state = "
                   "'billed' AND invoice_number NOT IN (SELECT invoice_number FROM stg.invoices WHERE amends_of IS "
                   "NOT NULL)) FROM stg.recon_lines WHERE period = '2025-11-01'")  # fmt: skip
        twice = q("SELECT count(*) FROM recon.credit_pairs WHERE status = 'twice'")
        r07_twice = q("SELECT count(*) FROM recon.findings WHERE rule = 'R07-credit-twice'")
        calendar = q("SELECT count(*), count(effective_from) FROM recon.policy_calendar")
        audits = q("SELECT audit, table_name, severity, offending_rows, json_array_length(sample) FROM meta.audits "
                   "ORDER BY ALL")  # fmt: skip
        types = dict(q("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'drift'"))
    assert periods == [(date(2025, 11, 1), True)]  # one snapshot of November, taken before its invoice
    assert set(by_status) <= {"matched", "appeared_late", "changed", "vanished"} and by_status["matched"] > 0
    assert r08 and flagged == r08
    assert linked == billed  # every billed license line of the month stands against the snapshot once
    assert accrual == totals
    assert twice == r07_twice
    assert calendar == [(len(POLICY), len(POLICY))]
    assert len(audits) == len(AUDITS) == len(summary.audits)
    assert {(a, t, s, n) for a, t, s, n, _ in audits} == set(summary.audits)
    no_history = next(a for a in audits if a[0] == "billed_without_history")
    assert no_history[3] > 0 and no_history[4] == 5  # subscriptions were not extracted: shown, with a sample
    assert types["difference"] == "DECIMAL(18,6)" and types["snapshot_at"] == "TIMESTAMP WITH TIME ZONE"
