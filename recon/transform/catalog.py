"""Staging of the catalog: each resource from its latest dated snapshot."""

from __future__ import annotations

_LATEST = (
    "SELECT load_id FROM meta.loads WHERE dataset = 'catalog' AND status = 'complete' AND unit LIKE '{kind}@%' "
    "ORDER BY as_of DESC, finished_at DESC LIMIT 1"
)

STG_CATALOG_PRODUCTS = f"""
CREATE OR REPLACE TABLE stg.catalog_products AS
SELECT
    upper(p.country) AS country,
    p.target_view,
    p.id AS product_id,
    p.title,
    p.description,
    p.product_type_id AS product_type,
    p.product_sub_type_id AS product_sub_type,
    lower(p.is_microsoft_product) = 'true' AS is_microsoft_product,
    p.publisher_name,
    p.as_of AS snapshot_at
FROM raw.catalog_products p WHERE p.load_id IN ({_LATEST.format(kind="products")})
"""

STG_CATALOG_SKUS = f"""
CREATE OR REPLACE TABLE stg.catalog_skus AS
SELECT
    upper(s.country) AS country,
    s.product_id,
    s.id AS sku_id,
    s.title,
    s.description,
    s.minimum_quantity,
    s.maximum_quantity,
    lower(s.is_trial) = 'true' AS is_trial,
    lower(s.dynamic_attributes->>'isAddon') = 'true' AS is_addon,
    s.supported_billing_cycles,
    s.purchase_prerequisites,
    s.consumption_type,
    s.dynamic_attributes,
    s.as_of AS snapshot_at
FROM raw.catalog_skus s WHERE s.load_id IN ({_LATEST.format(kind="skus")})
"""

# One row per availability and term: `term` and `billing` as stg.subscriptions spells them.
STG_CATALOG_AVAILABILITIES = f"""
CREATE OR REPLACE TABLE stg.catalog_availabilities AS
SELECT
    upper(a.country) AS country,
    a.product_id,
    a.sku_id,
    a.id AS availability_id,
    a.catalog_item_id,
    upper(a.default_currency) AS currency,
    lower(a.segment) AS segment,
    lower(a.is_purchasable) = 'true' AS is_purchasable,
    lower(a.is_renewable) = 'true' AS is_renewable,
    a.term_id,
    upper(a.term_duration) AS term,
    lower(a.term_billing_cycle) AS billing,
    a.term_description,
    a.term_cancellation_policies AS cancellation_policies,
    a.renewal_instructions,
    a.as_of AS snapshot_at
FROM raw.catalog_availabilities a WHERE a.load_id IN ({_LATEST.format(kind="availabilities")})
"""

STATEMENTS = (STG_CATALOG_PRODUCTS, STG_CATALOG_SKUS, STG_CATALOG_AVAILABILITIES)
TABLES = ("catalog_products", "catalog_skus", "catalog_availabilities")
