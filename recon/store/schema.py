"""Declared column types of landed tables and the DDL of each schema version."""

from __future__ import annotations

PRICE = "DECIMAL(38,15)"
RATE = "DECIMAL(18,9)"
QTY = "DECIMAL(18,6)"
AMOUNT = "DECIMAL(18,6)"

# Provenance columns every raw line table starts with: a line's key is (dataset, unit, page_no, line_no).
LINE_KEY = (
    ("load_id", "VARCHAR"),
    ("dataset", "VARCHAR"),
    ("unit", "VARCHAR"),
    ("page_no", "INTEGER"),
    ("line_no", "INTEGER"),
    ("as_of", "TIMESTAMPTZ"),
)

RECON_LINE = (
    ("partner_id", "VARCHAR"),
    ("customer_id", "VARCHAR"),
    ("customer_name", "VARCHAR"),
    ("customer_domain_name", "VARCHAR"),
    ("customer_country", "VARCHAR"),
    ("invoice_number", "VARCHAR"),
    ("mpn_id", "VARCHAR"),
    ("reseller_mpn_id", "VARCHAR"),
    ("order_id", "VARCHAR"),
    ("order_date", "TIMESTAMP"),
    ("product_id", "VARCHAR"),
    ("sku_id", "VARCHAR"),
    ("availability_id", "VARCHAR"),
    ("product_name", "VARCHAR"),
    ("sku_name", "VARCHAR"),
    ("product_qualifiers", "VARCHAR"),
    ("charge_type", "VARCHAR"),
    ("unit_price", PRICE),
    ("effective_unit_price", PRICE),
    ("unit_type", "VARCHAR"),
    ("quantity", QTY),
    ("subtotal", AMOUNT),
    ("tax_total", AMOUNT),
    ("total_for_customer", AMOUNT),
    ("currency", "VARCHAR"),
    ("publisher_name", "VARCHAR"),
    ("publisher_id", "VARCHAR"),
    ("subscription_description", "VARCHAR"),
    ("subscription_id", "VARCHAR"),
    ("subscription_start_date", "TIMESTAMP"),
    ("subscription_end_date", "TIMESTAMP"),
    ("charge_start_date", "TIMESTAMP"),
    ("charge_end_date", "TIMESTAMP"),
    ("term_and_billing_cycle", "VARCHAR"),
    ("alternate_id", "VARCHAR"),
    ("reference_id", "VARCHAR"),
    ("price_adjustment_description", "VARCHAR"),
    ("discount_details", "VARCHAR"),
    ("pricing_currency", "VARCHAR"),
    ("pc_to_bc_exchange_rate", RATE),
    ("pc_to_bc_exchange_rate_date", "TIMESTAMP"),
    ("billable_quantity", QTY),
    ("meter_description", "VARCHAR"),
    ("billing_frequency", "VARCHAR"),
    ("reservation_order_id", "VARCHAR"),
    ("credit_reason_code", "VARCHAR"),
    ("promotion_id", "VARCHAR"),
    ("product_category", "VARCHAR"),
    ("invoice_line_item_type", "VARCHAR"),
    ("billing_provider", "VARCHAR"),
)

INVOICE = (
    ("id", "VARCHAR"),
    ("invoice_date", "TIMESTAMP"),
    ("billing_period_start_date", "TIMESTAMP"),
    ("billing_period_end_date", "TIMESTAMP"),
    ("total_charges", AMOUNT),
    ("paid_amount", AMOUNT),
    ("currency_code", "VARCHAR"),
    ("currency_symbol", "VARCHAR"),
    ("pdf_download_link", "VARCHAR"),
    ("document_type", "VARCHAR"),
    ("amends_of", "VARCHAR"),
    ("invoice_type", "VARCHAR"),
    ("status", "VARCHAR"),
    ("invoice_details", "JSON"),
    ("amendments", "JSON"),
    ("tax_receipts", "JSON"),
)

INVOICE_SUMMARY = (
    ("currency_code", "VARCHAR"),
    ("currency_symbol", "VARCHAR"),
    ("balance_amount", AMOUNT),
    ("accounting_date", "TIMESTAMP"),
    ("first_invoice_creation_date", "TIMESTAMP"),
    ("last_payment_date", "TIMESTAMP"),
    ("last_payment_amount", AMOUNT),
    ("latest_invoice_date", "TIMESTAMP"),
    ("details", "JSON"),
)

ESTIMATE_LINK = (
    ("type", "VARCHAR"),
    ("title", "VARCHAR"),
    ("description", "VARCHAR"),
    ("period", "VARCHAR"),
    ("link", "JSON"),
)

USAGE_LINE = (
    ("partner_id", "VARCHAR"),
    ("partner_name", "VARCHAR"),
    ("customer_id", "VARCHAR"),
    ("customer_name", "VARCHAR"),
    ("customer_domain_name", "VARCHAR"),
    ("customer_country", "VARCHAR"),
    ("mpn_id", "VARCHAR"),
    ("reseller_mpn_id", "VARCHAR"),
    ("invoice_number", "VARCHAR"),
    ("product_id", "VARCHAR"),
    ("sku_id", "VARCHAR"),
    ("availability_id", "VARCHAR"),
    ("sku_name", "VARCHAR"),
    ("product_name", "VARCHAR"),
    ("publisher_name", "VARCHAR"),
    ("publisher_id", "VARCHAR"),
    ("subscription_id", "VARCHAR"),
    ("subscription_description", "VARCHAR"),
    ("charge_start_date", "TIMESTAMP"),
    ("charge_end_date", "TIMESTAMP"),
    ("usage_date", "TIMESTAMP"),
    ("meter_type", "VARCHAR"),
    ("meter_category", "VARCHAR"),
    ("meter_id", "VARCHAR"),
    ("meter_sub_category", "VARCHAR"),
    ("meter_name", "VARCHAR"),
    ("meter_region", "VARCHAR"),
    ("unit_of_measure", "VARCHAR"),
    ("resource_location", "VARCHAR"),
    ("consumed_service", "VARCHAR"),
    ("resource_group", "VARCHAR"),
    ("resource_uri", "VARCHAR"),
    ("tags", "VARCHAR"),
    ("additional_info", "VARCHAR"),
    ("service_info1", "VARCHAR"),
    ("service_info2", "VARCHAR"),
    ("charge_type", "VARCHAR"),
    ("unit_price", PRICE),
    ("quantity", QTY),
    ("unit_type", "VARCHAR"),
    ("billing_pre_tax_total", AMOUNT),
    ("billing_currency", "VARCHAR"),
    ("pricing_pre_tax_total", AMOUNT),
    ("pricing_currency", "VARCHAR"),
    ("entitlement_id", "VARCHAR"),
    ("entitlement_description", "VARCHAR"),
    ("pc_to_bc_exchange_rate", RATE),
    ("pc_to_bc_exchange_rate_date", "TIMESTAMP"),
    ("effective_unit_price", PRICE),
    ("rate_of_partner_earned_credit", RATE),
    ("has_partner_earned_credit", "VARCHAR"),
    ("rate_of_credit", RATE),
    # v2 sends percentages (0/15, 100) where v1 sends fractions (0/0.15, 1.00); staging converts
    ("partner_earned_credit_percentage", RATE),
    ("credit_percentage", RATE),
    ("credit_type", "VARCHAR"),
    ("benefit_order_id", "VARCHAR"),
    ("benefit_id", "VARCHAR"),
    ("benefit_type", "VARCHAR"),
    ("invoice_line_item_type", "VARCHAR"),
    ("billing_provider", "VARCHAR"),
)

CUSTOMER = (
    ("id", "VARCHAR"),
    ("commerce_id", "VARCHAR"),
    ("tenant_id", "VARCHAR"),
    ("domain", "VARCHAR"),
    ("company_name", "VARCHAR"),
    ("country", "VARCHAR"),
    ("relationship_to_partner", "VARCHAR"),
)

SUBSCRIPTION = (
    ("id", "VARCHAR"),
    ("customer_id", "VARCHAR"),
    ("offer_id", "VARCHAR"),
    ("offer_name", "VARCHAR"),
    ("friendly_name", "VARCHAR"),
    ("quantity", QTY),
    ("unit_type", "VARCHAR"),
    ("creation_date", "TIMESTAMP"),
    ("effective_start_date", "TIMESTAMP"),
    ("commitment_end_date", "TIMESTAMP"),
    ("cancellation_allowed_until_date", "TIMESTAMP"),
    ("billing_cycle_end_date", "TIMESTAMP"),
    ("status", "VARCHAR"),
    ("auto_renew_enabled", "VARCHAR"),
    ("billing_type", "VARCHAR"),
    ("billing_cycle", "VARCHAR"),
    ("term_duration", "VARCHAR"),
    ("renewal_term_duration", "VARCHAR"),
    ("is_trial", "VARCHAR"),
    ("order_id", "VARCHAR"),
    ("promotion_id", "VARCHAR"),
    ("refundable_quantity", "JSON"),
)

ORDER_LINE = (
    ("order_id", "VARCHAR"),
    ("customer_id", "VARCHAR"),
    ("order_billing_cycle", "VARCHAR"),
    ("currency_code", "VARCHAR"),
    ("creation_date", "TIMESTAMP"),
    ("status", "VARCHAR"),
    ("order_transaction_type", "VARCHAR"),
    ("line_item_number", "INTEGER"),
    ("offer_id", "VARCHAR"),
    ("term_duration", "VARCHAR"),
    ("transaction_type", "VARCHAR"),
    ("friendly_name", "VARCHAR"),
    ("quantity", QTY),
    ("subscription_id", "VARCHAR"),
    ("promotion_id", "VARCHAR"),
    ("list_price", PRICE),
    ("discounted_price", PRICE),
    ("prorated_price", PRICE),
    ("price", PRICE),
    ("extended_price", AMOUNT),
    ("total_price", AMOUNT),
)

FINDINGS = (
    ("finding_id", "VARCHAR"),
    ("rule", "VARCHAR"),
    ("severity", "VARCHAR"),
    ("customer_id", "VARCHAR"),
    ("subscription_id", "VARCHAR"),
    ("order_id", "VARCHAR"),
    ("invoice_number", "VARCHAR"),
    ("period", "DATE"),
    ("measure", "VARCHAR"),
    ("expected", "DECIMAL(38,15)"),
    ("actual", "DECIMAL(38,15)"),
    ("difference", "DECIMAL(38,15)"),
    ("amount_at_stake", AMOUNT),
    ("currency", "VARCHAR"),
    ("explanation", "VARCHAR"),
    ("evidence", "JSON"),
    ("first_seen", "TIMESTAMP"),
    ("status", "VARCHAR"),
)

TIEOUT = (
    ("invoice_number", "VARCHAR"),
    ("period", "DATE"),
    ("currency", "VARCHAR"),
    ("document_type", "VARCHAR"),
    ("invoice_total", AMOUNT),
    ("lines_total", AMOUNT),
    ("line_count", "BIGINT"),
    ("residual", AMOUNT),
    ("rounding", AMOUNT),
    ("adjustments", AMOUNT),
    ("credit_notes", AMOUNT),
    ("missing_lines", AMOUNT),
    ("currency_conversion", AMOUNT),
    ("unexplained", AMOUNT),
    ("status", "VARCHAR"),
)

RAW_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "raw.invoices": LINE_KEY + INVOICE + (("extra", "JSON"),),
    "raw.recon_lines": LINE_KEY + RECON_LINE + (("extra", "JSON"),),
}


RAW_TABLES_V1 = dict(RAW_TABLES)


def columns_ddl(columns: tuple[tuple[str, str], ...]) -> str:
    """`name TYPE, ...` for a CREATE TABLE."""
    return ", ".join(f"{name} {sql_type}" for name, sql_type in columns)


V1: tuple[str, ...] = (
    "CREATE SCHEMA IF NOT EXISTS raw",
    "CREATE SCHEMA IF NOT EXISTS stg",
    "CREATE SCHEMA IF NOT EXISTS recon",
    "CREATE SCHEMA IF NOT EXISTS meta",
    "CREATE TABLE meta.schema_version (version INTEGER NOT NULL, description VARCHAR, applied_at TIMESTAMPTZ)",
    """CREATE TABLE meta.loads (
        load_id VARCHAR PRIMARY KEY, dataset VARCHAR NOT NULL, unit VARCHAR NOT NULL, api VARCHAR,
        params JSON, status VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ,
        as_of TIMESTAMPTZ, pages INTEGER, rows BIGINT, resume_point JSON, provenance JSON, error VARCHAR)""",
    """CREATE TABLE meta.schema_drift (
        dataset VARCHAR, field VARCHAR, load_id VARCHAR, occurrences BIGINT, seen_at TIMESTAMPTZ)""",
    """CREATE TABLE meta.quarantine (
        load_id VARCHAR, dataset VARCHAR, unit VARCHAR, page_no INTEGER, line_no INTEGER,
        column_name VARCHAR, value VARCHAR, reason VARCHAR, seen_at TIMESTAMPTZ)""",
    "CREATE TABLE meta.findings_seen (finding_id VARCHAR PRIMARY KEY, first_seen TIMESTAMP NOT NULL)",
    *(f"CREATE TABLE {name} ({columns_ddl(cols)})" for name, cols in RAW_TABLES_V1.items()),
    f"CREATE TABLE recon.findings ({columns_ddl(FINDINGS)})",
    f"CREATE TABLE recon.tieout ({columns_ddl(TIEOUT)})",
)

RAW_TABLES_V2 = {
    "raw.invoice_summaries": LINE_KEY + INVOICE_SUMMARY + (("extra", "JSON"),),
    "raw.estimate_links": LINE_KEY + ESTIMATE_LINK + (("extra", "JSON"),),
    "raw.usage_lines": LINE_KEY + USAGE_LINE + (("extra", "JSON"),),
}
RAW_TABLES.update(RAW_TABLES_V2)

RAW_TABLES_V3 = {
    "raw.customers": LINE_KEY + CUSTOMER + (("extra", "JSON"),),
    "raw.subscriptions": LINE_KEY + SUBSCRIPTION + (("extra", "JSON"),),
    "raw.order_lines": LINE_KEY + ORDER_LINE + (("extra", "JSON"),),
}
RAW_TABLES.update(RAW_TABLES_V3)

V3: tuple[str, ...] = tuple(f"CREATE TABLE {name} ({columns_ddl(cols)})" for name, cols in RAW_TABLES_V3.items())

V2: tuple[str, ...] = (
    *(f"CREATE TABLE {name} ({columns_ddl(cols)})" for name, cols in RAW_TABLES_V2.items()),
    # statements are files: their loads record path, size and sha256 in meta.loads.provenance
)

# Catalog rows carry the country (and view) they were asked for: one product has a row per country.
CATALOG_PRODUCT = (
    ("country", "VARCHAR"),
    ("target_view", "VARCHAR"),
    ("id", "VARCHAR"),
    ("title", "VARCHAR"),
    ("description", "VARCHAR"),
    ("product_type_id", "VARCHAR"),
    ("product_type_name", "VARCHAR"),
    ("product_sub_type_id", "VARCHAR"),
    ("is_microsoft_product", "VARCHAR"),
    ("publisher_name", "VARCHAR"),
)

CATALOG_SKU = (
    ("country", "VARCHAR"),
    ("product_id", "VARCHAR"),
    ("id", "VARCHAR"),
    ("title", "VARCHAR"),
    ("description", "VARCHAR"),
    ("minimum_quantity", "INTEGER"),
    ("maximum_quantity", "INTEGER"),
    ("is_trial", "VARCHAR"),
    ("supported_billing_cycles", "JSON"),
    ("purchase_prerequisites", "JSON"),
    ("inventory_variables", "JSON"),
    ("provisioning_variables", "JSON"),
    ("actions", "JSON"),
    ("dynamic_attributes", "JSON"),
    ("attestation_properties", "JSON"),
    ("consumption_type", "VARCHAR"),
    ("specialized_offer_properties", "JSON"),
    ("constraints", "JSON"),
    ("minimum_purchase_commitment", "JSON"),
)

# One row per (availability, term); an availability without terms has one row with empty term columns.
CATALOG_AVAILABILITY = (
    ("country", "VARCHAR"),
    ("product_id", "VARCHAR"),
    ("sku_id", "VARCHAR"),
    ("id", "VARCHAR"),
    ("catalog_item_id", "VARCHAR"),
    ("default_currency", "VARCHAR"),
    ("segment", "VARCHAR"),
    ("is_purchasable", "VARCHAR"),
    ("is_renewable", "VARCHAR"),
    ("renewal_instructions", "JSON"),
    ("included_quantity_options", "JSON"),
    ("term_id", "VARCHAR"),
    ("term_duration", "VARCHAR"),
    ("term_description", "VARCHAR"),
    ("term_billing_cycle", "VARCHAR"),
    ("term_renewal_options", "JSON"),
    ("term_cancellation_policies", "JSON"),
)

AUDIT_RECORD = (
    ("id", "VARCHAR"),
    ("partner_id", "VARCHAR"),
    ("customer_id", "VARCHAR"),
    ("customer_name", "VARCHAR"),
    ("user_principal_name", "VARCHAR"),
    ("application_id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("resource_type", "VARCHAR"),
    ("resource_name", "VARCHAR"),
    ("resource_old_value", "JSON"),
    ("resource_new_value", "JSON"),
    ("operation_type", "VARCHAR"),
    ("operation_date", "TIMESTAMP"),
    ("operation_status", "VARCHAR"),
    ("original_correlation_id", "VARCHAR"),
    ("participants", "JSON"),
    ("customized_data", "JSON"),
)

RAW_TABLES_V4 = {
    "raw.catalog_products": LINE_KEY + CATALOG_PRODUCT + (("extra", "JSON"),),
    "raw.catalog_skus": LINE_KEY + CATALOG_SKU + (("extra", "JSON"),),
    "raw.catalog_availabilities": LINE_KEY + CATALOG_AVAILABILITY + (("extra", "JSON"),),
    "raw.audit_records": LINE_KEY + AUDIT_RECORD + (("extra", "JSON"),),
}
RAW_TABLES.update(RAW_TABLES_V4)

V4: tuple[str, ...] = tuple(f"CREATE TABLE {name} ({columns_ddl(cols)})" for name, cols in RAW_TABLES_V4.items())

# Partner Center's new-commerce license-based price list (Pricing workspace download), one row per file line.
PRICE_LIST = (
    ("product_title", "VARCHAR"),
    ("product_id", "VARCHAR"),
    ("sku_id", "VARCHAR"),
    ("sku_title", "VARCHAR"),
    ("publisher", "VARCHAR"),
    ("sku_description", "VARCHAR"),
    ("unit_of_measure", "VARCHAR"),
    ("term_duration", "VARCHAR"),
    ("billing_plan", "VARCHAR"),
    ("market", "VARCHAR"),
    ("currency", "VARCHAR"),
    ("unit_price", PRICE),
    ("pricing_tier_range_min", QTY),
    ("pricing_tier_range_max", QTY),
    ("effective_start_date", "TIMESTAMP"),
    ("effective_end_date", "TIMESTAMP"),
    ("tags", "VARCHAR"),
    ("erp_price", PRICE),
    ("segment", "VARCHAR"),
)

RAW_TABLES_V5 = {"raw.price_list": LINE_KEY + PRICE_LIST + (("extra", "JSON"),)}
RAW_TABLES.update(RAW_TABLES_V5)

V5: tuple[str, ...] = tuple(f"CREATE TABLE {name} ({columns_ddl(cols)})" for name, cols in RAW_TABLES_V5.items())
