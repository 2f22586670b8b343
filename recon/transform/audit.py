"""Staging of audit records: every day unit's records, each record id once (the latest load wins)."""

from __future__ import annotations


def _member(blob: str, name: str) -> str:
    """A member of a PascalCase resource blob, read case-insensitively (audit.md 12.4)."""
    return f"coalesce({blob}->>'{name}', {blob}->>'{name[:1].lower()}{name[1:]}')"


# The latest load of a record is the one fetched last by the source's clock (as_of survives a replay; the
# finishing time does not); records without an id (old API versions) are each kept.
STG_AUDIT_RECORDS = f"""
CREATE OR REPLACE TABLE stg.audit_records AS
SELECT
    a.id AS record_id,
    a.operation_date,
    CAST(a.operation_date AS DATE) AS operation_day,
    lower(a.operation_type) AS operation_type,
    lower(a.operation_status) AS operation_status,
    lower(a.resource_type) AS resource_type,
    a.customer_id,
    a.customer_name,
    coalesce(
        a.customized_data->>'SubscriptionId',
        CASE WHEN lower(a.resource_type) = 'subscription' THEN {_member("a.resource_new_value", "Id")} END
    ) AS subscription_id,
    coalesce(
        a.customized_data->>'OrderId',
        CASE WHEN lower(a.resource_type) = 'order' THEN {_member("a.resource_new_value", "Id")}
             ELSE {_member("a.resource_new_value", "OrderId")} END
    ) AS order_id,
    TRY_CAST({_member("a.resource_old_value", "Quantity")} AS DECIMAL(18,6)) AS old_quantity,
    TRY_CAST({_member("a.resource_new_value", "Quantity")} AS DECIMAL(18,6)) AS new_quantity,
    a.user_principal_name,
    a.application_id,
    a.original_correlation_id,
    a.resource_old_value,
    a.resource_new_value,
    a.customized_data,
    a.unit,
    a.as_of AS snapshot_at
FROM raw.audit_records a
WHERE a.load_id IN (SELECT load_id FROM meta.loads WHERE dataset = 'audit' AND status = 'complete')
QUALIFY row_number() OVER (
    PARTITION BY coalesce(a.id, a.unit || '/' || a.page_no || '/' || a.line_no)
    ORDER BY a.as_of DESC, a.unit DESC, a.page_no, a.line_no
) = 1
"""

STATEMENTS = (STG_AUDIT_RECORDS,)
TABLES = ("audit_records",)
