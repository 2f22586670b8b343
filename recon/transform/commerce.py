"""Staging of customers, subscriptions and orders from their latest dated snapshot."""

from __future__ import annotations

_LATEST = (
    "SELECT load_id FROM meta.loads WHERE dataset = '{dataset}' AND status = 'complete' "
    "ORDER BY as_of DESC, finished_at DESC LIMIT 1"
)

STG_CUSTOMERS = f"""
CREATE OR REPLACE TABLE stg.customers AS
SELECT id AS customer_id, tenant_id, domain, company_name, upper(country) AS country, relationship_to_partner,
       as_of AS snapshot_at
FROM raw.customers WHERE load_id IN ({_LATEST.format(dataset="customers")})
"""

STG_SUBSCRIPTIONS = f"""
CREATE OR REPLACE TABLE stg.subscriptions AS
SELECT
    s.id AS subscription_id,
    s.customer_id,
    nullif(s.order_id, '') AS order_id,
    split_part(s.offer_id, ':', 1) AS product_id,
    split_part(s.offer_id, ':', 2) AS sku_id,
    split_part(s.offer_id, ':', 3) AS availability_id,
    s.offer_name AS product_name,
    s.quantity,
    lower(s.status) AS status,
    upper(s.term_duration) AS term,
    lower(s.billing_cycle) AS billing,
    CAST(s.effective_start_date AS DATE) AS term_start,
    CAST(s.commitment_end_date AS DATE) AS term_end,
    CAST(NULL AS DATE) AS cancelled_on,
    lower(s.auto_renew_enabled) = 'true' AS auto_renew,
    CAST(s.cancellation_allowed_until_date AS DATE) AS cancellation_allowed_until,
    nullif(s.promotion_id, '') AS promotion_id,
    s.as_of AS snapshot_at
FROM raw.subscriptions s WHERE s.load_id IN ({_LATEST.format(dataset="subscriptions")})
"""

# Order lines; quantity is what the line bought, added or removed (a cancel's whole count).
STG_ORDERS = f"""
CREATE OR REPLACE TABLE stg.orders AS
SELECT
    o.order_id,
    o.customer_id,
    o.line_item_number AS line_number,
    nullif(o.subscription_id, '') AS subscription_id,
    CASE lower(o.transaction_type)
        WHEN 'new' THEN 'new' WHEN 'renew' THEN 'renew' WHEN 'cancel' THEN 'cancel'
        WHEN 'addquantity' THEN 'addQuantity' WHEN 'removequantity' THEN 'removeQuantity'
        ELSE o.transaction_type
    END AS transaction_type,
    CAST(o.creation_date AS DATE) AS order_date,
    o.creation_date AS ordered_at,
    o.quantity,
    o.list_price,
    coalesce(o.discounted_price, o.price) AS unit_price,  -- per unit after promotions, in the pricing currency
    upper(o.currency_code) AS pricing_currency,
    split_part(o.offer_id, ':', 1) AS product_id,
    split_part(o.offer_id, ':', 2) AS sku_id,
    split_part(o.offer_id, ':', 3) AS availability_id,
    upper(o.term_duration) AS term,
    lower(o.order_billing_cycle) AS billing,
    nullif(o.promotion_id, '') AS promotion_id,
    lower(o.status) AS status,
    o.as_of AS snapshot_at
FROM raw.order_lines o WHERE o.load_id IN ({_LATEST.format(dataset="orders")})
"""

STATEMENTS = (STG_CUSTOMERS, STG_SUBSCRIPTIONS, STG_ORDERS)
