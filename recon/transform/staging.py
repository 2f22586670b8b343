"""Build `stg.*` from `raw.*`: only rows of each unit's latest complete load count."""

from __future__ import annotations

import duckdb

from recon.store.schema import RECON_LINE, USAGE_LINE
from recon.store.sql import first_row
from recon.transform import audit, catalog, commerce, pricelist

_COMPLETE = (
    "SELECT load_id FROM (SELECT load_id, row_number() OVER (PARTITION BY dataset, unit ORDER BY finished_at DESC) "
    "AS rn FROM meta.loads WHERE status = 'complete' AND dataset = '{dataset}') WHERE rn = 1"
)

STG_INVOICES = f"""
CREATE OR REPLACE TABLE stg.invoices AS
SELECT
    i.id AS invoice_number,
    CAST(i.invoice_date AS DATE) AS invoice_date,
    CAST(date_trunc('month', i.billing_period_start_date) AS DATE) AS period,
    CAST(i.billing_period_start_date AS DATE) AS period_start,
    CAST(i.billing_period_end_date AS DATE) AS period_end,
    i.total_charges,
    i.paid_amount,
    upper(i.currency_code) AS currency,
    lower(coalesce(i.document_type, 'invoice')) AS document_type,
    nullif(i.amends_of, '') AS amends_of,
    i.invoice_type,
    i.status,
    coalesce(json_array_length(i.invoice_details), 0)::INTEGER AS detail_count,
    i.as_of
FROM raw.invoices i
WHERE i.load_id IN ({_COMPLETE.format(dataset="invoices")})
"""


def _period(alias: str, billed: str) -> str:
    """Billing month of a line: the invoice's when billed, else the snapshot's (`previous`: the month before)."""
    return (
        f"CASE WHEN {alias}.dataset = '{billed}' THEN i.period "
        f"WHEN {alias}.unit LIKE '%/previous@%' "
        f"THEN CAST(date_trunc('month', {alias}.as_of) - INTERVAL 1 MONTH AS DATE) "
        f"ELSE CAST(date_trunc('month', {alias}.as_of) AS DATE) END AS period"
    )


_LINE_COLUMNS = ",\n    ".join(
    f"CAST(l.{name} AS DATE) AS {name.removesuffix('_date')}"
    if name in ("charge_start_date", "charge_end_date")
    else f"upper(l.{name}) AS {name}"
    if name in ("currency", "pricing_currency")
    # billed lines belong to the invoice they were fetched for (legacy lines carry no invoiceNumber)
    else "CASE WHEN l.dataset = 'recon-billed' THEN l.unit ELSE nullif(l.invoice_number, '') END AS invoice_number"
    if name == "invoice_number"
    else f"l.{name}"
    for name, _ in RECON_LINE
    if name not in ("invoice_line_item_type", "billing_provider")
)

STG_RECON_LINES = f"""
CREATE OR REPLACE TABLE stg.recon_lines AS
SELECT
    l.dataset,
    l.unit,
    l.page_no,
    l.line_no,
    CASE WHEN l.dataset = 'recon-billed' THEN 'billed' ELSE 'unbilled' END AS billing_state,
    l.as_of AS snapshot_at,
    {_period("l", "recon-billed")},
    {_LINE_COLUMNS}
FROM raw.recon_lines l
LEFT JOIN stg.invoices i ON l.dataset = 'recon-billed' AND i.invoice_number = l.unit
WHERE l.load_id IN ({_COMPLETE.format(dataset="recon-billed")})
   OR l.load_id IN ({_COMPLETE.format(dataset="recon-unbilled")})
"""

_USAGE_SKIP = {
    "invoice_line_item_type",
    "billing_provider",
    "rate_of_partner_earned_credit",
    "partner_earned_credit_percentage",
    "rate_of_credit",
    "credit_percentage",
}
_USAGE_COLUMNS = ",\n    ".join(
    f"CAST(u.{name} AS DATE) AS {name.removesuffix('_date') if name != 'usage_date' else name}"
    if name in ("charge_start_date", "charge_end_date", "usage_date")
    else f"upper(u.{name}) AS {name}"
    if name in ("billing_currency", "pricing_currency")
    else "CASE WHEN u.dataset = 'usage-billed' THEN u.unit ELSE nullif(u.invoice_number, '') END AS invoice_number"
    if name == "invoice_number"
    else f"u.{name}"
    for name, _ in USAGE_LINE
    if name not in _USAGE_SKIP
)

STG_USAGE_LINES = f"""
CREATE OR REPLACE TABLE stg.usage_lines AS
SELECT
    u.dataset,
    u.unit,
    u.page_no,
    u.line_no,
    CASE WHEN u.dataset = 'usage-billed' THEN 'billed' ELSE 'unbilled' END AS billing_state,
    u.as_of AS snapshot_at,
    {_period("u", "usage-billed")},
    {_USAGE_COLUMNS},
    -- v1 sends fractions, v2 percentages: one scale (fractions) from here on
    CAST(coalesce(u.rate_of_partner_earned_credit, u.partner_earned_credit_percentage / 100) AS DECIMAL(18,9))
        AS rate_of_partner_earned_credit,
    CAST(coalesce(u.rate_of_credit, u.credit_percentage / 100) AS DECIMAL(18,9)) AS rate_of_credit
FROM raw.usage_lines u
LEFT JOIN stg.invoices i ON u.dataset = 'usage-billed' AND i.invoice_number = u.unit
WHERE u.load_id IN ({_COMPLETE.format(dataset="usage-billed")})
   OR u.load_id IN ({_COMPLETE.format(dataset="usage-unbilled")})
"""

STG_INVOICE_SUMMARIES = """
CREATE OR REPLACE TABLE stg.invoice_summaries AS
SELECT
    upper(s.currency_code) AS currency,
    s.balance_amount,
    CAST(s.accounting_date AS DATE) AS accounting_date,
    s.first_invoice_creation_date,
    s.last_payment_date,
    s.last_payment_amount,
    s.latest_invoice_date,
    s.as_of
FROM raw.invoice_summaries s
WHERE s.load_id IN (
    SELECT load_id FROM meta.loads WHERE dataset = 'invoice-summaries' AND status = 'complete'
    ORDER BY as_of DESC, finished_at DESC LIMIT 1
)
"""

STATEMENTS = (
    STG_INVOICES,
    STG_RECON_LINES,
    STG_USAGE_LINES,
    STG_INVOICE_SUMMARIES,
    *commerce.STATEMENTS,
    *catalog.STATEMENTS,
    *audit.STATEMENTS,
    *pricelist.STATEMENTS,
)


def build_staging(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild every stg table in one transaction; return row counts."""
    con.execute("BEGIN TRANSACTION")
    try:
        for statement in STATEMENTS:
            con.execute(statement)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    counts = {}
    for table in (
        "invoices",
        "recon_lines",
        "usage_lines",
        "invoice_summaries",
        "customers",
        "subscriptions",
        "orders",
        *catalog.TABLES,
        *audit.TABLES,
        *pricelist.TABLES,
    ):
        row = first_row(con.execute(f"SELECT count(*) FROM stg.{table}"))
        counts[table] = int(row[0]) if row else 0
    return counts
