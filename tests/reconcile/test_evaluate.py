"""The accuracy measure: matching findings to answer-key cases."""

from __future__ import annotations

from datetime import date

import polars as pl

from recon.reconcile.evaluate import evaluate

KEY = pl.DataFrame(
    {
        "case_id": ["c1", "c2", "c3"],
        "rule": ["R07", "R09", "R01"],
        "also": ["R01,R03", "", "R03"],
        "customer_id": ["cu1", None, "cu2"],
        "subscription_id": ["s1", None, "s2"],
        "order_id": [None, None, None],
        "invoice_number": [None, "G1", "G2"],
        "period": ["2026-09-01", "2026-09-01", "2026-10-01"],
    }
)


def findings(*rows: tuple[str, str, str | None, str | None, str | None, date]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"rule": r, "severity": sev, "customer_id": cu, "subscription_id": s, "order_id": None,
             "invoice_number": inv, "period": p}
            for r, sev, cu, s, inv, p in rows
        ],
        schema={"rule": pl.String, "severity": pl.String, "customer_id": pl.String, "subscription_id": pl.String,
                "order_id": pl.String, "invoice_number": pl.String, "period": pl.Date},
    )  # fmt: skip


def by_rule(table: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {r["rule"]: r for r in table.iter_rows(named=True)}


def test_primary_and_allowed_rules_match_on_named_keys() -> None:
    f = findings(
        ("R07-missing-credit", "high", "cu1", "s1", "G9", date(2026, 9, 1)),  # invoice not named by c1: free
        ("R01", "high", "cu1", "s1", "G9", date(2026, 9, 1)),  # allowed by c1's also: not a false positive
        ("R09-invoice-total", "high", None, None, "G1", date(2026, 9, 1)),
        ("R03", "medium", "cu2", "s2", "G2", date(2026, 10, 1)),  # allowed by c3's also
        ("R03", "medium", "cu2", "s2", "G2", date(2026, 11, 1)),  # wrong period: false positive
        ("R00-no-history", "info", "cu3", "s3", None, date(2026, 9, 1)),  # info: not scored
    )
    table = by_rule(evaluate(f, KEY))
    assert table["R07"]["recall"] == 1.0 and table["R07"]["precision"] == 1.0
    assert table["R09"]["recall"] == 1.0
    assert table["R01"]["recall"] == 0.0  # c3 has no R01 finding
    assert table["R01"]["precision"] == 1.0  # the R01 finding matched c1 through `also`
    assert table["R03"]["findings"] == 2 and table["R03"]["matched"] == 1 and table["R03"]["precision"] == 0.5
    assert "R00" not in table


def test_no_findings_means_no_recall_and_undefined_precision() -> None:
    table = by_rule(evaluate(findings(), KEY))
    assert table["R09"]["recall"] == 0.0 and table["R09"]["precision"] is None
