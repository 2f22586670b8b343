"""Staging of imported price lists: every loaded file's lines, each with the dates on which it is the price in force.

A price key is (product, SKU, term, billing plan, market, currency, segment, tier start). For one key and one
effective start, the lines of the file imported last count (a corrected file for the same month replaces the
earlier one). A line is in force from its effective start until the day before the key's next effective start, or
its own effective end when that is earlier (a newer month's list supersedes the previous one from its start on).
"""

from __future__ import annotations

_KEY = (
    "concat_ws('|', product_id, sku_id, term, billing, market, currency, coalesce(segment, ''), "
    "coalesce(CAST(tier_min AS VARCHAR), ''))"
)

STG_PRICE_LIST = f"""
CREATE OR REPLACE TABLE stg.price_list AS
WITH files AS (
    SELECT load_id, unit AS file_sha256, params->>'name' AS file_name,
           TRY_CAST(params->>'imported_at' AS TIMESTAMPTZ) AS imported_at, finished_at
    FROM meta.loads WHERE dataset = 'pricelist' AND status = 'complete'
), lines AS (
    SELECT
        p.product_id,
        p.sku_id,
        p.product_title,
        p.sku_title,
        upper(p.term_duration) AS term,
        lower(p.billing_plan) AS billing,
        upper(p.market) AS market,
        upper(p.currency) AS currency,
        lower(nullif(p.segment, '')) AS segment,
        p.pricing_tier_range_min AS tier_min,
        p.pricing_tier_range_max AS tier_max,
        p.unit_price,
        p.erp_price,
        p.unit_of_measure,
        nullif(p.tags, '') AS tags,
        coalesce(lower(p.tags) LIKE '%trial%', false) AS is_trial,
        CAST(p.effective_start_date AS DATE) AS effective_start,
        CAST(p.effective_end_date AS DATE) AS effective_end,
        f.file_name,
        f.file_sha256,
        f.imported_at,
        f.finished_at,
        p.load_id,
        p.line_no
    FROM raw.price_list p JOIN files f USING (load_id)
    WHERE p.unit_price IS NOT NULL AND p.effective_start_date IS NOT NULL
), ranked AS (
    SELECT *, {_KEY} AS price_key,
        dense_rank() OVER (PARTITION BY {_KEY}, effective_start
                           ORDER BY imported_at DESC NULLS LAST, finished_at DESC, load_id DESC) AS file_rank
    FROM lines
), kept AS (
    SELECT * EXCLUDE (file_rank, finished_at) FROM ranked WHERE file_rank = 1
), starts AS (
    SELECT price_key, effective_start,
           lead(effective_start) OVER (PARTITION BY price_key ORDER BY effective_start) AS next_start
    FROM (SELECT DISTINCT price_key, effective_start FROM kept)
)
SELECT
    k.product_id, k.sku_id, k.product_title, k.sku_title, k.term, k.billing, k.market, k.currency, k.segment,
    k.tier_min, k.tier_max, k.unit_price, k.erp_price, k.unit_of_measure, k.tags, k.is_trial,
    k.effective_start, k.effective_end,
    k.effective_start AS valid_from,
    CASE WHEN s.next_start IS NULL THEN k.effective_end
         WHEN k.effective_end IS NULL OR k.effective_end >= s.next_start THEN CAST(s.next_start - 1 AS DATE)
         ELSE k.effective_end END AS valid_to,
    k.file_name, k.file_sha256, k.imported_at, k.load_id, k.line_no
FROM kept k JOIN starts s USING (price_key, effective_start)
ORDER BY k.product_id, k.sku_id, k.term, k.billing, k.market, k.currency, k.effective_start, k.tier_min
"""

STATEMENTS = (STG_PRICE_LIST,)
TABLES = ("price_list",)
