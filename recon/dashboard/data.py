"""Queries behind the dashboard: short-lived read-only connections, cached by the file's mtime."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import streamlit as st

from recon.settings import load_settings
from recon.store import reader


def db_path() -> Path:
    """The DuckDB file the dashboard reads (RECON_DB or the default)."""
    return load_settings().db


def _stamp(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


@st.cache_data(show_spinner=False, max_entries=64)
def _query(path: str, stamp: float, sql: str) -> pl.DataFrame:
    with reader(Path(path)) as con:
        return con.sql(sql).pl()


def query(sql: str) -> pl.DataFrame:
    """Run a read-only query against the current database file (cached until the file changes)."""
    path = db_path()
    return _query(os.fspath(path), _stamp(path), sql)


OVERVIEW_TOTALS = """
SELECT
    (SELECT count(*) FROM stg.invoices) AS invoices,
    (SELECT count(*) FROM stg.recon_lines) AS lines,
    (SELECT count(*) FROM recon.findings) AS findings,
    (SELECT count(*) FROM recon.findings WHERE status = 'open') AS open_findings
"""

STAKE_BY_CURRENCY = """
SELECT currency, sum(amount_at_stake) AS amount_at_stake, count(*) AS findings
FROM recon.findings GROUP BY currency ORDER BY currency
"""

FINDINGS_BY_RULE = """
SELECT split_part(rule, '-', 1) AS rule, severity, currency, count(*) AS findings,
       sum(amount_at_stake) AS amount_at_stake
FROM recon.findings GROUP BY ALL ORDER BY rule, currency
"""

TIEOUT = """
SELECT invoice_number, period, currency, invoice_total, lines_total, residual, unexplained, status
FROM recon.tieout ORDER BY period DESC, invoice_number
"""

FINDINGS = """
SELECT rule, severity, status, invoice_number, subscription_id, period, amount_at_stake, currency, explanation
FROM recon.findings ORDER BY amount_at_stake DESC
"""
