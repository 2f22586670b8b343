"""The walking skeleton end to end on the sandbox: extract -> stg -> R09 -> findings -> export."""

from __future__ import annotations

from decimal import Decimal

import openpyxl
import pytest

from recon.extract import extract
from recon.reconcile import reconcile
from recon.report import write_monthly
from recon.report.monthly import FINDINGS_SHEET, TIEOUT_SHEET
from recon.sandbox import SandboxServer
from recon.settings import Settings
from recon.store import reader
from tests.conftest import admin

pytestmark = pytest.mark.slow


def _answer_key(sandbox: SandboxServer) -> list[dict[str, object]]:
    rows = admin(sandbox, "GET", "/answer-key").json()
    return rows if isinstance(rows, list) else rows["cases"]  # type: ignore[no-any-return]


def test_extract_lands_what_the_sandbox_serves(sb_settings: Settings, sandbox: SandboxServer) -> None:
    summary = extract(sb_settings)
    assert not summary.failed, summary
    with reader(sb_settings.db) as con:
        invoices = con.execute("SELECT count(*) FROM raw.invoices").fetchall()[0][0]
        lines = con.execute("SELECT count(*) FROM raw.recon_lines WHERE dataset = 'recon-billed'").fetchall()[0][0]
        loads = con.execute("SELECT dataset, count(*) FROM meta.loads WHERE status = 'complete' GROUP BY 1").fetchall()
        prov = con.execute("SELECT provenance FROM meta.loads WHERE dataset = 'recon-billed' LIMIT 1").fetchall()[0][0]
    assert lines == summary.results["recon-billed"].rows > 0
    counts = dict(loads)
    # per invoice: the invoice, its statement and its billed lines; plus one summaries snapshot
    assert counts["invoices"] == counts["statements"] == counts["recon-billed"] == invoices > 0
    assert counts["invoice-summaries"] == 1
    assert counts["estimate-links"] == 1  # one billing currency
    assert summary.results["invoices"].units == 2 * invoices + 2
    assert "sha256" in prov and "request_id" in prov
    # raw files exist for every page
    assert list((sb_settings.raw_dir / "recon-billed").rglob("page-*.jsonl.gz"))


def test_every_line_the_sandbox_serves_lands_exactly(sb_settings: Settings, sandbox: SandboxServer) -> None:
    extract(sb_settings)
    reconcile(sb_settings)
    with reader(sb_settings.db) as con:
        per_invoice = con.execute(
            "SELECT i.invoice_number, i.total_charges, t.lines_total, t.line_count FROM stg.invoices i "
            "JOIN recon.tieout t USING (invoice_number) ORDER BY 1"
        ).fetchall()
    key = {str(c.get("invoice_number")) for c in _answer_key(sandbox) if c.get("kind") == "invoice_total_off"}
    assert key, "the tiny world must hold an invoice_total_off case"
    for number, total, lines_total, count in per_invoice:
        assert count > 0
        assert isinstance(total, Decimal) and isinstance(lines_total, Decimal)
        if number not in key:
            assert total == lines_total, number


def test_r09_finds_exactly_the_injected_invoices(sb_settings: Settings, sandbox: SandboxServer) -> None:
    extract(sb_settings)
    summary = reconcile(sb_settings)
    assert summary.findings >= 1
    with reader(sb_settings.db) as con:
        found = con.execute(
            "SELECT invoice_number, period, amount_at_stake, currency FROM recon.findings WHERE rule LIKE 'R09%'"
        ).fetchall()
    cases = [c for c in _answer_key(sandbox) if c.get("rule") == "R09"]
    assert {(str(c["invoice_number"]), str(c["period"])) for c in cases} == {(f[0], str(f[1])) for f in found}
    by_invoice = {str(c["invoice_number"]): Decimal(str(c["amount_at_stake"])) for c in cases}
    for number, _period, stake, _ccy in found:
        assert stake == by_invoice[number]


def test_reconcile_twice_keeps_finding_ids_and_first_seen(sb_settings: Settings) -> None:
    extract(sb_settings)
    reconcile(sb_settings)
    with reader(sb_settings.db) as con:
        first = con.execute("SELECT finding_id, first_seen FROM recon.findings ORDER BY 1").fetchall()
    extract(sb_settings)
    reconcile(sb_settings)
    with reader(sb_settings.db) as con:
        again = con.execute("SELECT finding_id, first_seen FROM recon.findings ORDER BY 1").fetchall()
    assert first and first == again


def test_monthly_export_matches_the_database(sb_settings: Settings) -> None:
    extract(sb_settings)
    reconcile(sb_settings)
    with reader(sb_settings.db) as con:
        period = con.execute("SELECT max(period) FROM recon.findings").fetchall()[0][0]
        tie = con.execute(
            "SELECT invoice_number, invoice_total, lines_total FROM recon.tieout WHERE period = ? ORDER BY 1", [period]
        ).fetchall()
        findings = con.execute(
            "SELECT finding_id, amount_at_stake FROM recon.findings WHERE period = ? ORDER BY 1", [period]
        ).fetchall()
    path = write_monthly(sb_settings, period)
    assert path == sb_settings.reports_dir / f"recon-{period:%Y-%m}.xlsx"
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == [FINDINGS_SHEET, TIEOUT_SHEET]
    frows = list(book[FINDINGS_SHEET].iter_rows(values_only=True))
    head = frows[0]
    got = sorted((r[head.index("finding_id")], r[head.index("amount_at_stake")]) for r in frows[1:])
    # Excel holds doubles: the exported number must be the database's amount exactly (repr round-trips)
    assert [(f, Decimal(repr(a))) for f, a in got] == findings
    trows = list(book[TIEOUT_SHEET].iter_rows(values_only=True))
    th = trows[0]
    exported = sorted(
        (r[th.index("invoice_number")], round(r[th.index("invoice_total")], 2), round(r[th.index("lines_total")], 2))
        for r in trows[1:]
    )
    assert exported == [(n, float(t), float(lt)) for n, t, lt in tie]
