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
    ("recon.decisions", "seq"): "order of the decision in the decisions store (the latest per finding counts)",
    ("recon.decisions", "finding_id"): "the finding decided on (it may no longer be in `recon.findings`)",
    ("recon.decisions", "status"): "`open`, `accepted`, `disputed` or `resolved`",
    ("recon.decisions", "note"): "the analyst's note (a ticket number, what Microsoft said)",
    ("recon.decisions", "who"): "who decided (`recon` for automatic decisions)",
    ("recon.decisions", "decided_at"): "when (UTC)",
    ("recon.decisions", "automatic"): "true when a reconcile run decided: resolved as gone, or reopened",
    ("recon.decisions", "finding"): "JSON: what the finding said when it was resolved as gone",
    ("recon.drift", "period"): "closed billing month the snapshot and the bill belong to",
    ("recon.drift", "currency"): "billing currency of the snapshot and the bill",
    ("recon.drift", "snapshot_at"): "as-of time of the unbilled snapshot the row compares with the bill",
    ("recon.drift", "is_last"): "true for the month's last snapshot (what R08 judges)",
    ("recon.drift", "status"): "`matched`, `changed`, `vanished` or `appeared_late` (docs/ledgers.md)",
    ("recon.drift", "customer_id"): "customer of the billed line, else of the unbilled line",
    ("recon.drift", "product_id"): "product of the billed line, else of the unbilled line",
    ("recon.drift", "charge_type"): "charge type (match key)",
    ("recon.drift", "sign"): "`+` charge or `-` refund (match key)",
    ("recon.drift", "reference_id"): "reference id of the billed line, else of the unbilled line",
    ("recon.drift", "unbilled_unit"): "unbilled line key: unit (`CCY/period@as-of`), null when the line appeared late",
    ("recon.drift", "unbilled_page_no"): "unbilled line key: page",
    ("recon.drift", "unbilled_line_no"): "unbilled line key: line",
    ("recon.drift", "invoice_number"): "billed line key: the invoice, null when the line vanished",
    ("recon.drift", "billed_page_no"): "billed line key: page",
    ("recon.drift", "billed_line_no"): "billed line key: line",
    ("recon.drift", "unbilled_quantity"): "billableQuantity the snapshot showed",
    ("recon.drift", "billed_quantity"): "billableQuantity billed",
    ("recon.drift", "unbilled_subtotal"): "subtotal the snapshot showed",
    ("recon.drift", "billed_subtotal"): "subtotal billed",
    ("recon.drift", "difference"): "billed - unbilled subtotal (a missing side counts 0)",
    ("recon.drift", "tolerance"): "tol(line) of the pair: 0.01 x the larger seat count, + 0.01 when converted",
    ("recon.accrual_accuracy", "period"): "closed billing month",
    ("recon.accrual_accuracy", "currency"): "billing currency",
    ("recon.accrual_accuracy", "product_id"): "product of the lines",
    ("recon.accrual_accuracy", "product_name"): "product name as the lines give it",
    ("recon.accrual_accuracy", "snapshot_at"): "as-of time of the month's last unbilled snapshot (the estimate)",
    ("recon.accrual_accuracy", "estimate"): "sum of the last snapshot's subtotals",
    ("recon.accrual_accuracy", "actual"): "sum of the month's billed subtotals on its invoices (not on amending notes)",
    ("recon.accrual_accuracy", "difference"): "estimate - actual",
    ("recon.accrual_accuracy", "error"): "abs(estimate - actual) / abs(actual), 9 places; null when nothing was billed",
    ("recon.accrual_accuracy", "estimate_lines"): "lines in the estimate",
    ("recon.accrual_accuracy", "actual_lines"): "billed lines",
    ("recon.credit_pairs", "period"): "billing month of the credit (billed, else expected)",
    ("recon.credit_pairs", "currency"): "billing currency",
    ("recon.credit_pairs", "invoice_number"): "invoice of the credit (missing: the period's only invoice, if one)",
    ("recon.credit_pairs", "credit_kind"): "`add_refund`, `removal_refund`, `cancellation_refund`, `credit_note`",
    ("recon.credit_pairs", "status"): "`matched`, `differs`, `missing`, `pending`, `twice`, `unexpected`, `not_rated`",
    ("recon.credit_pairs", "charge_type"): "charge type of the credit line",
    ("recon.credit_pairs", "charge_start"): "first day the credit covers (the change date for refunds)",
    ("recon.credit_pairs", "charge_end"): "last day the credit covers",
    ("recon.credit_pairs", "credit_page_no"): "billed credit line key (with invoice_number): page",
    ("recon.credit_pairs", "credit_line_no"): "billed credit line key: line",
    ("recon.credit_pairs", "credit_reference_id"): "reference id of the billed credit",
    ("recon.credit_pairs", "credit_quantity"): "billableQuantity of the billed credit",
    ("recon.credit_pairs", "credit_subtotal"): "subtotal of the billed credit (negative); null when missing",
    ("recon.credit_pairs", "expected_event_id"): "the event the shadow rater expected the refund from",
    ("recon.credit_pairs", "expected_quantity"): "seats the shadow rater expected to be refunded",
    ("recon.credit_pairs", "expected_subtotal"): "refund the shadow rater expected",
    ("recon.credit_pairs", "reversed_invoice_number"): "reversed charge: its invoice",
    ("recon.credit_pairs", "reversed_page_no"): "reversed charge: page",
    ("recon.credit_pairs", "reversed_line_no"): "reversed charge: line",
    ("recon.credit_pairs", "reversed_charge_type"): "reversed charge: charge type",
    ("recon.credit_pairs", "reversed_charge_start"): "reversed charge: first day",
    ("recon.credit_pairs", "reversed_charge_end"): "reversed charge: last day",
    ("recon.credit_pairs", "reversed_subtotal"): "reversed charge: subtotal billed",
    ("recon.credit_pairs", "window_opened"): "start of the refund window: term start or latest seat purchase",
    ("recon.credit_pairs", "window_days"): "length of the window in force on the change date (policy calendar)",
    ("recon.credit_pairs", "in_window"): "change date within window_days of window_opened; null when no window applies",
    ("recon.policy_calendar", "name"): "rule name",
    ("recon.policy_calendar", "value"): "value in `unit`",
    ("recon.policy_calendar", "unit"): "`days`, `fraction` or `flag`",
    ("recon.policy_calendar", "effective_from"): "first day the rule applies",
    ("recon.policy_calendar", "effective_to"): "last day the rule applies (null: still in force)",
    ("recon.policy_calendar", "source"): "sources (nce-billing-math.md)",
    ("recon.policy_calendar", "description"): "what the rule says",
    ("meta.audits", "audit"): "audit name (`null_key`, `duplicate_key`, `money_not_decimal`, ...)",
    ("meta.audits", "table_name"): "staged table the audit checks",
    ("meta.audits", "severity"): "`error` or `warning`",
    ("meta.audits", "description"): "what an offending row is",
    ("meta.audits", "offending_rows"): "rows the audit returned (0: passed)",
    ("meta.audits", "sample"): "up to 5 offending rows",
    ("meta.audits", "checked_at"): "when the audit ran (UTC)",
    ("raw.catalog_products", "country"): "the country the catalog was asked for",
    ("raw.catalog_skus", "country"): "the country the catalog was asked for",
    ("raw.catalog_availabilities", "country"): "the availability's country",
    ("raw.catalog_availabilities", "term_id"): "one row per term of the availability (`terms[]`)",
    ("raw.audit_records", "resource_old_value"): "the resource before the change (the API sends JSON text)",
    ("raw.audit_records", "resource_new_value"): "the resource after the change, or the request sent (JSON text)",
    ("raw.audit_records", "customized_data"): "`customizedData` as one object (key -> value)",
    ("stg.catalog_availabilities", "term"): "term duration (`P1M`, `P1Y`, `P3Y`)",
    ("stg.catalog_availabilities", "billing"): "billing cycle, lower case (`monthly`, `annual`, `triennial`)",
    ("stg.audit_records", "record_id"): "the record's id; each id once (the load fetched last by the source's clock)",
    ("stg.audit_records", "unit"): "the UTC day unit (`audit@YYYY-MM-DD`) the kept copy came from",
    ("stg.audit_records", "subscription_id"): "from `customizedData.SubscriptionId`, else the subscription blob's id",
    ("stg.audit_records", "order_id"): "from `customizedData.OrderId`, else the order blob's id or OrderId",
    ("stg.audit_records", "old_quantity"): "`Quantity` of resource_old_value",
    ("stg.audit_records", "new_quantity"): "`Quantity` of resource_new_value",
    ("raw.price_list", "unit"): "the imported file's sha256 (one unit per file)",
    ("raw.price_list", "as_of"): "null: a file has no source clock (the import time is in `meta.loads.params`)",
    ("raw.price_list", "term_duration"): "`TermDuration` as in the file (`P1M`, `P1Y`, `P3Y`)",
    ("raw.price_list", "billing_plan"): "`BillingPlan` as in the file (`Monthly`, `Annual`, `Triennial`)",
    ("raw.price_list", "market"): "`Market`: the country (ISO 3166 alpha-2) the price is for",
    ("raw.price_list", "unit_price"): "`UnitPrice`: price of one charge cycle of the billing plan, exact",
    ("raw.price_list", "pricing_tier_range_min"): "`PricingTierRangeMin`: first seat count of the tier",
    ("raw.price_list", "pricing_tier_range_max"): "`PricingTierRangeMax`: last seat count of the tier (0: open)",
    ("raw.price_list", "effective_start_date"): "`EffectiveStartDate`, UTC (`4/1/2025 12:00:00 AM` is read too)",
    ("raw.price_list", "effective_end_date"): "`EffectiveEndDate`, UTC",
    ("raw.price_list", "erp_price"): "`ERP Price`: Microsoft's estimated retail price",
    ("stg.price_list", "term"): "term duration, upper case (`P1M`, `P1Y`, `P3Y`)",
    ("stg.price_list", "billing"): "billing plan, lower case (`monthly`, `annual`, `triennial`)",
    ("stg.price_list", "market"): "country the price is for, upper case",
    ("stg.price_list", "currency"): "currency of the price, upper case",
    ("stg.price_list", "segment"): "`commercial`, `education`, ... (lower case)",
    ("stg.price_list", "tier_min"): "first seat count of the tier (null: all)",
    ("stg.price_list", "tier_max"): "last seat count of the tier (null or 0: open)",
    ("stg.price_list", "unit_price"): "price of one charge cycle of the billing plan, in `currency`",
    ("stg.price_list", "erp_price"): "estimated retail price",
    ("stg.price_list", "is_trial"): "the line's tags name a trial (never used as a price)",
    ("stg.price_list", "effective_start"): "first day of the line's effective period, as the file says",
    ("stg.price_list", "effective_end"): "last day of the line's effective period, as the file says (null: open)",
    ("stg.price_list", "valid_from"): "first day the line is the price in force (= effective_start)",
    ("stg.price_list", "valid_to"): "last day in force: its effective end, or the day before the next start of its key",
    ("stg.price_list", "file_name"): "name of the imported file",
    ("stg.price_list", "file_sha256"): "sha256 of the imported file (its unit)",
    ("stg.price_list", "imported_at"): "when the file was imported; for one key and start the latest import counts",
    ("stg.price_list", "line_no"): "position among the file's price lines (blank lines not counted)",
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
