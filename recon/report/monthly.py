"""The monthly export: `<data_dir>/reports/recon-<YYYY-MM>.xlsx` with findings and invoice tie-out sheets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from recon.errors import ReconError
from recon.settings import Settings
from recon.store import reader
from recon.store.schema import AMOUNT, TIEOUT
from recon.store.sql import first_row

FINDINGS_SHEET = "Findings"
TIEOUT_SHEET = "Invoice tie-out"
MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"


def latest_period(settings: Settings) -> date | None:
    """The latest billing period that has an invoice in the database."""
    with reader(settings.db) as con:
        row = first_row(con.execute("SELECT max(period) FROM stg.invoices"))
    return row[0] if row and row[0] else None


def _sheet(book: xlsxwriter.Workbook, name: str, frame: pl.DataFrame, money: set[str]) -> None:
    sheet = book.add_worksheet(name)
    head = book.add_format({"bold": True, "bg_color": "#DDE5F0", "border": 1})
    money_fmt = book.add_format({"num_format": MONEY_FORMAT})
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    for col, name_ in enumerate(frame.columns):
        sheet.write_string(0, col, name_, head)
    for r, row in enumerate(frame.iter_rows(), start=1):
        for c, value in enumerate(row):
            _write(sheet, r, c, value, money_fmt if frame.columns[c] in money else None, date_fmt)
    for col, name_ in enumerate(frame.columns):
        width = max([len(name_), *(len(str(v)) for v in frame[name_].head(200).to_list() if v is not None)], default=8)
        sheet.set_column(col, col, min(60, width + 2))
    sheet.freeze_panes(1, 0)
    if frame.height:
        sheet.autofilter(0, 0, frame.height, max(0, frame.width - 1))


def _write(sheet: Any, r: int, c: int, value: Any, money_fmt: Any, date_fmt: Any) -> None:
    if value is None:
        sheet.write_blank(r, c, None)
    elif isinstance(value, Decimal):
        # Excel stores doubles; 18,6 money survives to the cent and the text is exact in the database.
        sheet.write_number(r, c, float(value), money_fmt)
    elif isinstance(value, bool):
        sheet.write_boolean(r, c, value)
    elif isinstance(value, int | float):
        sheet.write_number(r, c, value)
    elif isinstance(value, date):
        sheet.write_datetime(r, c, value, date_fmt)
    else:
        sheet.write_string(r, c, str(value))


def write_monthly(settings: Settings, period: date | None = None) -> Path:
    """Write the monthly export for `period` (default: the latest invoiced period) and return its path."""
    period = period or latest_period(settings)
    if period is None:
        raise ReconError("no invoices in the database: run `recon extract` and `recon reconcile` first")
    period = period.replace(day=1)
    with reader(settings.db) as con:
        findings = con.sql(
            "SELECT finding_id, rule, severity, status, customer_id, subscription_id, order_id, invoice_number, "
            "period, measure, expected, actual, difference, amount_at_stake, currency, explanation, "
            "CAST(evidence AS VARCHAR) AS evidence, first_seen FROM recon.findings WHERE period = ? "
            "ORDER BY severity DESC, amount_at_stake DESC, finding_id",
            params=[period],
        ).pl()
        tie = con.sql("SELECT * FROM recon.tieout WHERE period = ? ORDER BY invoice_number", params=[period]).pl()
    out = settings.reports_dir / f"recon-{period:%Y-%m}.xlsx"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    book = xlsxwriter.Workbook(str(tmp))
    _sheet(book, FINDINGS_SHEET, findings, {"amount_at_stake"})
    _sheet(book, TIEOUT_SHEET, tie, {name for name, sql_type in TIEOUT if sql_type == AMOUNT})
    book.close()
    tmp.replace(out)
    return out
