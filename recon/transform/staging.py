"""Build `stg.*` from `raw.*`: only rows of each unit's latest complete load count."""

from __future__ import annotations

import duckdb

from recon.store.schema import RECON_LINE
from recon.store.sql import first_row

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

_LINE_COLUMNS = ",\n    ".join(
    f"CAST(l.{name} AS DATE) AS {name.removesuffix('_date')}"
    if name in ("charge_start_date", "charge_end_date")
    else f"upper(l.{name}) AS {name}"
    if name in ("currency", "pricing_currency")
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
    coalesce(i.period, CAST(date_trunc('month', l.charge_start_date) AS DATE)) AS period,
    {_LINE_COLUMNS}
FROM raw.recon_lines l
LEFT JOIN stg.invoices i ON l.dataset = 'recon-billed' AND i.invoice_number = l.unit
WHERE l.load_id IN ({_COMPLETE.format(dataset="recon-billed")})
"""

STATEMENTS = (STG_INVOICES, STG_RECON_LINES)


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
    for table in ("invoices", "recon_lines"):
        row = first_row(con.execute(f"SELECT count(*) FROM stg.{table}"))
        counts[table] = int(row[0]) if row else 0
    return counts
