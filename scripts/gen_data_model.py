"""Rewrite the "Every table" section of docs/data-model.md from a database built by `recon demo`.

Usage: .venv/bin/python scripts/gen_data_model.py [DB]   (default: a fresh demo database in a temp folder)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from recon.store import reader
from recon.store.db import CATALOG

DOC = Path(__file__).resolve().parents[1] / "docs" / "data-model.md"
MARK = "## Every table\n"
ANY = "*"
MEANING = {
    (ANY, "load_id"): "the `meta.loads` row that landed the row",
    (ANY, "dataset"): "dataset name (`invoices`, `recon-billed`, `recon-unbilled`, ...)",
    (ANY, "unit"): "the unit the row belongs to (billed: the invoice id; unbilled: `CCY/period@as-of`)",
    (ANY, "page_no"): "page (or blob) number within the unit's load",
    (ANY, "line_no"): "line number within the page; (dataset, unit, page_no, line_no) is the line's key",
    (ANY, "as_of"): "the source's clock (HTTP `Date`) when the unit was pulled",
    (ANY, "extra"): "fields the source sent that are not in the schema (also counted in `meta.schema_drift`)",
    (ANY, "billing_state"): "`billed` or `unbilled`",
    (ANY, "snapshot_at"): "as-of time of the load the line came from",
    ("stg.recon_lines", "period"): "first day of the billing month (billed: the invoice's; unbilled: the snapshot's)",
    ("stg.usage_lines", "period"): "first day of the billing month (billed: the invoice's; unbilled: the snapshot's)",
    (ANY, "charge_start"): "first day the charge covers (UTC date)",
    (ANY, "charge_end"): "last day the charge covers, inclusive",
    ("stg.usage_lines", "rate_of_partner_earned_credit"): "PEC as a fraction (v2 percentages divided by 100)",
    ("stg.usage_lines", "rate_of_credit"): "credit as a fraction (v2 percentages divided by 100)",
    ("raw.usage_lines", "partner_earned_credit_percentage"): "v2's PEC in percent (0/15)",
    ("raw.usage_lines", "credit_percentage"): "v2's credit in percent (0/100)",
    ("stg.invoices", "period"): "first day of the billing month",
    ("stg.invoices", "detail_count"): "number of `invoiceDetails` (line-item sets) the invoice announces",
    ("stg.invoice_summaries", "as_of"): "the source's clock of the latest summaries snapshot",
    ("recon.tieout", "residual"): "invoice_total - lines_total",
    ("recon.tieout", "rounding"): "explained by rounding: at most 0.01 per line that carries sub-cent digits",
    ("recon.tieout", "adjustments"): "explained by adjustment notes amending the invoice",
    ("recon.tieout", "credit_notes"): "explained by credit/void notes amending the invoice",
    ("recon.tieout", "missing_lines"): "explained by an incomplete line load",
    ("recon.tieout", "currency_conversion"): "explained by lines in another currency",
    ("recon.tieout", "unexplained"): "what is left; R09 flags more than 0.01",
    ("recon.tieout", "status"): "`tied`, `explained`, `incomplete` or `unexplained`",
    ("meta.loads", "status"): "`running`, `failed`, `complete`, or `replaced` (a later load of the unit completed)",
    ("meta.loads", "provenance"): "per page: URL (secrets redacted), MS-RequestId, Date, raw file, size, sha256",
    ("meta.loads", "resume_point"): "where an unfinished load can continue",
    ("meta.quarantine", "reason"): "why the value was refused (e.g. does not fit DECIMAL(18,6))",
    ("meta.findings_seen", "first_seen"): "when a reconcile run first produced the finding_id",
}
ORDER = "CASE table_schema WHEN 'raw' THEN 1 WHEN 'stg' THEN 2 WHEN 'recon' THEN 3 ELSE 4 END"


def render(db: Path) -> str:
    """Markdown tables of every column of every table in `db`."""
    with reader(db) as con:
        rows = con.execute(
            "SELECT table_schema || '.' || table_name, column_name, data_type FROM information_schema.columns "
            f"WHERE table_catalog = ? ORDER BY {ORDER}, table_name, ordinal_position",
            [CATALOG],
        ).fetchall()
    out, current = [], None
    for table, column, dtype in rows:
        if table != current:
            current = table
            out += ["", f"### {table}", "", "| column | type | meaning |", "| --- | --- | --- |"]
        meaning = MEANING.get((table, column)) or MEANING.get((ANY, column)) or ""
        out.append(f"| {column} | {dtype} | {meaning} |")
    return "\n".join(out) + "\n"


def main() -> None:
    """Regenerate the section from the given database or a fresh demo one."""
    if len(sys.argv) > 1:
        db = Path(sys.argv[1])
    else:
        db = Path(tempfile.mkdtemp()) / "recon.duckdb"
        subprocess.run([sys.executable, "-m", "recon", "demo", "--no-dashboard", "--db", str(db)], check=True)  # noqa: S603
    text = DOC.read_text()
    DOC.write_text(text[: text.index(MARK) + len(MARK)] + render(db))


if __name__ == "__main__":
    main()
