"""A clean world (`--inject-rate all=0`), end to end over HTTPS with the world's price list loaded: nothing above
info, invoices equal their lines to the cent, and the export's figures equal the database's."""

from __future__ import annotations

from decimal import Decimal

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.extract import extract
from recon.extract.pricelist import load_pricelist
from recon.reconcile import reconcile
from recon.report import write_monthly
from recon.report.monthly import FINDINGS_SHEET, TIEOUT_SHEET
from recon.sandbox import SandboxServer
from recon.sandbox.pricelist import FIRST_MONTH, LAST_MONTH, write_price_list
from recon.store import reader
from tests.conftest import settings_for

pytestmark = pytest.mark.slow


@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,  # the same seeds on every machine: a failure names its seed and replays
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(min_value=2, max_value=10_000))
def test_a_clean_world_reconciles_to_the_cent_with_nothing_above_info(
    seed: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp(f"clean-{seed}")
    switches = {"export_retry_after_s": "0"}
    with SandboxServer(root / "sandbox", seed=seed, inject_rates={"all": 0}, switches=switches) as sandbox:
        s = settings_for(sandbox, root / "recon.duckdb")
        summary = extract(s)
        assert not summary.failed, summary
    # as a partner does: the month's price list from the Pricing workspace prices renewals no order shows
    write_price_list(root / "pricelist.csv", seed=seed, first=FIRST_MONTH, last=LAST_MONTH)
    load_pricelist(s, root / "pricelist.csv")
    reconcile(s)
    with reader(s.db) as con:
        above = con.execute(
            "SELECT rule, explanation FROM recon.findings WHERE severity <> 'info' ORDER BY rule LIMIT 5"
        ).fetchall()
        sums = con.execute(
            """SELECT i.invoice_number, i.currency, i.total_charges, coalesce(sum(l.total_for_customer), 0)
            FROM stg.invoices i LEFT JOIN stg.recon_lines l
              ON l.invoice_number = i.invoice_number AND l.billing_state = 'billed'
            WHERE i.document_type = 'invoice' AND i.invoice_type ILIKE 'onetime'
            GROUP BY ALL ORDER BY 1"""
        ).fetchall()
        tie = con.execute("SELECT invoice_number, invoice_total, lines_total FROM recon.tieout ORDER BY 1").fetchall()
    assert above == [], f"seed {seed}: a clean world gave findings above info"
    assert sums, f"seed {seed}: no new-commerce invoice"
    for number, currency, total, lines in sums:
        assert total == lines, f"seed {seed}: invoice {number} ({currency}) {total} != lines {lines}"
    period = write_monthly(s)
    book = openpyxl.load_workbook(period, read_only=True)
    rows = list(book[TIEOUT_SHEET].iter_rows(values_only=True))
    head = rows[0]
    exported = sorted(
        (r[head.index("invoice_number")], Decimal(repr(r[head.index("invoice_total")])), r[head.index("lines_total")])
        for r in rows[1:]
    )
    by_number = {n: (t, lt) for n, t, lt in tie}
    assert exported, f"seed {seed}: the export has no tie-out rows"
    for number, total, lines_total in exported:
        assert total == by_number[number][0], f"seed {seed}: exported total of {number} differs from the database"
        assert Decimal(repr(lines_total)) == by_number[number][1]
    assert len(list(book[FINDINGS_SHEET].iter_rows())) >= 1
