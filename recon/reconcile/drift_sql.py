"""The drift ledger (`recon.drift`) built inside DuckDB: the pairing of `drift.drift`, run where the lines are.

With an unbilled pull every few days, the ledger holds a row for every unbilled line of every snapshot of a closed
month and for every billed line each snapshot misses: about as many rows as the file has lines. Built in DuckDB,
those rows never pass through Python. The rows are exactly those of `drift.drift` over the same lines (the tests
run both): the same snapshots, the same two passes (on the match key and reference id, then on the match key
alone), the same occurrence numbers by content, tolerance and statuses.

How it stays cheap: the pairing works on narrow tables (row ids and keys), and the wide columns are read once, as
the ledger's rows stream out. A billed line has the same occurrence number against every snapshot (its key and
content do not depend on the snapshot), so billed lines are numbered once and never repeated for the pairing. Only
lines whose key hash is shared are numbered by a sort; every other line is the first of its key. The second pass
only takes the keys that have unpaired lines on both sides: an unpaired line of a key with nothing left on the
other side stays unpaired whatever its number.

Which lines are license lines (`matching.is_usage_line`) is decided by polars over the distinct
(charge type, meter description) pairs (`license_kinds`), so blank meters are told apart exactly as the rules do.
"""

from __future__ import annotations

import polars as pl

from recon.reconcile.drift import _CONTENT, _SIDE, SNAPSHOT
from recon.reconcile.matching import MATCH_KEY, is_usage_line

KEY = (*SNAPSHOT, *MATCH_KEY)
GROUP = ("period", "currency", *MATCH_KEY, "_ref")  # a billed line's key against every snapshot of its month
_SQL_TYPES = {"String": "VARCHAR", "Int64": "BIGINT"}
_SIGN = "CASE WHEN l.subtotal < 0 OR (l.subtotal = 0 AND l.effective_unit_price < 0) THEN '-' ELSE '+' END"
_TABLES = (
    "_drift_snaps", "_drift_lines", "_drift_occ", "_drift_pairs", "_drift_left", "_drift_unbilled", "_drift_late",
)  # fmt: skip


def license_kinds(pairs: pl.LazyFrame) -> pl.LazyFrame:
    """(charge_type, meter_description, license) for distinct pairs: whether such a line is a license line."""
    return pairs.select("charge_type", "meter_description", (~is_usage_line()).fill_null(False).alias("license"))


def _sql_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    return _SQL_TYPES[str(dtype)]


def _equal(left: str, right: str, columns: tuple[str, ...]) -> str:
    return " AND ".join(f"{left}.{c} = {right}.{c}" for c in columns)


def _numbered(rows: str, key: tuple[str, ...], source: str) -> str:
    """(_rid, _occ) of the lines `rows` (a query over _drift_lines columns) numbered by content within `key`."""
    order = ", ".join(f"l.{c} NULLS LAST" for c in _CONTENT)
    return (
        f"SELECT r._rid, row_number() OVER (PARTITION BY {', '.join(f'r.{k}' for k in key)} ORDER BY {order}) AS _occ "
        f"FROM ({rows}) r JOIN {source} l ON l.rowid = r._rid"
    )


def _paired_lines(source: str, kinds: str, state: str | None = None) -> str:
    """FROM/WHERE of the license lines the ledger pairs (`l`): the unbilled ones of a snapshot, the billed ones of
    a month with snapshots (only those of `state` when given)."""
    billed = "(l.billing_state = 'billed' AND (l.period, l.currency) IN (SELECT period, currency FROM _drift_snaps))"
    unbilled = (
        "(l.billing_state = 'unbilled' "
        "AND (l.period, l.currency, l.snapshot_at) IN (SELECT period, currency, snapshot_at FROM _drift_snaps))"
    )
    which = {"billed": billed, "unbilled": unbilled}.get(state or "", f"({billed} OR {unbilled})")
    return f"""FROM {source} l SEMI JOIN {kinds} k
        ON k.charge_type IS NOT DISTINCT FROM l.charge_type
        AND k.meter_description IS NOT DISTINCT FROM l.meter_description AND k.license
    WHERE l.currency IS NOT NULL AND {which}"""


def statements(source: str, closed: str, kinds: str) -> list[str]:
    """The statements that leave the pairing in temp tables (`_drift_*`), from the lines in `source`
    (stg.recon_lines columns), the closed periods in `closed` (a `period` column) and `kinds` (`license_kinds`)."""
    slot_key = ("_state", "_slot", *GROUP)  # a line's numbering key: its snapshot (billed lines: none) and key
    key = ", ".join(GROUP[:-1])
    hashed = "hash(l.period, l.currency, l.subscription_id, l.charge_type, l.charge_start, l.charge_end, "
    return [
        f"""CREATE OR REPLACE TEMP TABLE _drift_snaps AS
        SELECT period, currency, snapshot_at,
            snapshot_at = max(snapshot_at) OVER (PARTITION BY period, currency) AS is_last
        FROM (SELECT DISTINCT period, currency, snapshot_at FROM {source}
              WHERE billing_state = 'unbilled' AND currency IS NOT NULL AND snapshot_at IS NOT NULL
                AND period IN (SELECT CAST(period AS DATE) FROM {closed} WHERE period IS NOT NULL))""",
        # every license line the ledger pairs: the unbilled ones of a snapshot, the billed ones of its month
        f"""CREATE OR REPLACE TEMP TABLE _drift_lines AS
        SELECT l.rowid AS _rid, l.billing_state AS _state,
            CASE WHEN l.billing_state = 'unbilled' THEN l.snapshot_at END AS _slot, l.period, l.currency,
            l.subscription_id, l.charge_type, l.charge_start, l.charge_end, {_SIGN} AS sign,
            coalesce(l.reference_id, '') AS _ref, {hashed}{_SIGN}, coalesce(l.reference_id, '')) AS _kh
        {_paired_lines(source, kinds)}""",
        # occurrence numbers of the lines whose key hash is shared (the others: 1)
        f"""CREATE OR REPLACE TEMP TABLE _drift_occ AS {
            _numbered(
                "SELECT d.* FROM _drift_lines d SEMI JOIN (SELECT _state, _slot, _kh FROM _drift_lines "
                "GROUP BY ALL HAVING count(*) > 1) s ON d._state = s._state AND d._slot IS NOT DISTINCT FROM s._slot "
                "AND d._kh = s._kh",
                slot_key,
                source,
            )
        }""",
        # first pass: unbilled and billed lines of the same key, reference id and occurrence
        f"""CREATE OR REPLACE TEMP TABLE _drift_pairs AS
        WITH n AS (SELECT d.*, coalesce(o._occ, 1) AS _occ FROM _drift_lines d LEFT JOIN _drift_occ o USING (_rid))
        SELECT u._rid AS u_rid, b._rid AS b_rid, u._slot AS snapshot_at
        FROM n u JOIN n b ON u._state = 'unbilled' AND b._state = 'billed' AND u._kh = b._kh
            AND {_equal("u", "b", (*GROUP, "_occ"))}""",
        # what the first pass leaves, of the keys with leftovers on both sides (the unbilled ones are few)
        f"""CREATE OR REPLACE TEMP TABLE _drift_left AS
        WITH u AS (SELECT d.* FROM _drift_lines d ANTI JOIN _drift_pairs p ON p.u_rid = d._rid
                   WHERE d._state = 'unbilled'),
        b AS (SELECT d.* REPLACE (s.snapshot_at AS _slot) FROM _drift_lines d
              JOIN _drift_snaps s ON s.period = d.period AND s.currency = d.currency
              SEMI JOIN u ON u._slot = s.snapshot_at AND {_equal("u", "d", GROUP[:-1])}
              ANTI JOIN _drift_pairs p ON p.b_rid = d._rid AND p.snapshot_at = s.snapshot_at
              WHERE d._state = 'billed'),
        both_sides AS (SELECT _slot, {key} FROM u INTERSECT SELECT _slot, {key} FROM b)
        SELECT x.* FROM (SELECT * FROM u UNION ALL SELECT * FROM b) x
        SEMI JOIN both_sides k ON x._slot = k._slot AND {_equal("x", "k", GROUP[:-1])}""",
        # second pass: those lines on the match key alone
        f"""INSERT INTO _drift_pairs
        WITH n AS (SELECT x.*, o._occ FROM _drift_left x JOIN ({
            _numbered("SELECT * FROM _drift_left", ("_state", "_slot", *GROUP[:-1]), source)
        }) o USING (_rid))
        SELECT u._rid, b._rid, u._slot FROM n u JOIN n b
            ON u._state = 'unbilled' AND b._state = 'billed' AND u._slot = b._slot
            AND {_equal("u", "b", (*GROUP[:-1], "_occ"))}""",
        # every unbilled line with its partner, if any (a narrow table: the ledger's rows are driven by it)
        """CREATE OR REPLACE TEMP TABLE _drift_unbilled AS
        SELECT d._rid AS u_rid, p.b_rid, d._slot AS snapshot_at FROM _drift_lines d
        LEFT JOIN _drift_pairs p ON p.u_rid = d._rid WHERE d._state = 'unbilled'""",
        # the billed lines each snapshot leaves unpaired (appeared late)
        """CREATE OR REPLACE TEMP TABLE _drift_late AS
        SELECT d._rid AS b_rid, s.snapshot_at FROM _drift_lines d
        JOIN _drift_snaps s ON s.period = d.period AND s.currency = d.currency
        ANTI JOIN _drift_pairs p ON p.b_rid = d._rid AND p.snapshot_at = s.snapshot_at
        WHERE d._state = 'billed'""",
    ]


def ledger_query(source: str, kinds: str) -> str:
    """The ledger's rows (drift.DRIFT_SCHEMA columns, uncast) once `statements` have run: every unbilled line with
    its billed partner (or none), then every billed line a snapshot left unpaired. The lines stream by once."""
    side = ", ".join(f"CAST(l.{c} AS {_sql_type(t)}) AS {c}" for c, t in _SIDE.items())
    columns = (
        "SELECT l.rowid AS _rid, l.period, l.currency, l.subscription_id, l.charge_type, l.charge_start, "
        f"l.charge_end, {_SIGN} AS sign, {side} "
    )
    billed = columns + _paired_lines(source, kinds, "billed")
    u_side = ", ".join(f"CAST(l.{c} AS {_sql_type(t)}) AS u_{c}" for c, t in _SIDE.items())
    b_cols = ", ".join(f"b.{c} AS b_{c}" for c in _SIDE)
    nulls = ", ".join(f"NULL AS u_{c}" for c in _SIDE)
    keys = "period, currency, subscription_id, charge_type, charge_start, charge_end"
    zero = "CAST(0 AS DECIMAL(18,6))"
    quantity = f"greatest(coalesce(u_billable_quantity, {zero}), coalesce(b_billable_quantity, {zero}))"
    converted = "coalesce(coalesce(b_pricing_currency, u_pricing_currency) <> currency, false)"
    cent = "CAST(0.01 AS DECIMAL(3,2))"
    tolerance = f"CAST(abs({quantity}) * {cent} + CASE WHEN {converted} THEN {cent} ELSE 0 END AS DECIMAL(18,6))"
    difference = f"CAST(coalesce(b_subtotal, {zero}) - coalesce(u_subtotal, {zero}) AS DECIMAL(18,6))"
    return f"""
WITH billed AS MATERIALIZED ({billed}),
rows AS (
    SELECT d.snapshot_at, {", ".join(f"l.{k}" for k in keys.split(", "))}, {_SIGN} AS sign, {u_side}, {b_cols},
        true AS _u, d.b_rid IS NOT NULL AS _b
    FROM {source} l JOIN _drift_unbilled d ON d.u_rid = l.rowid LEFT JOIN billed b ON b._rid = d.b_rid
    UNION ALL
    SELECT t.snapshot_at, {", ".join(f"b.{k}" for k in keys.split(", "))}, b.sign, {nulls}, {b_cols}, false, true
    FROM _drift_late t JOIN billed b ON b._rid = t.b_rid
),
measured AS (SELECT *, {difference} AS difference, {tolerance} AS tolerance FROM rows)
SELECT r.period, r.currency, r.snapshot_at, s.is_last,
    CASE WHEN _u AND _b AND abs(difference) <= tolerance THEN 'matched' WHEN _u AND _b THEN 'changed'
         WHEN _u THEN 'vanished' ELSE 'appeared_late' END AS status,
    coalesce(b_customer_id, u_customer_id) AS customer_id, r.subscription_id,
    coalesce(b_product_id, u_product_id) AS product_id, r.charge_type, r.charge_start, r.charge_end, r.sign,
    coalesce(b_reference_id, u_reference_id) AS reference_id, u_unit AS unbilled_unit,
    u_page_no AS unbilled_page_no, u_line_no AS unbilled_line_no, b_invoice_number AS invoice_number,
    b_page_no AS billed_page_no, b_line_no AS billed_line_no, u_billable_quantity AS unbilled_quantity,
    b_billable_quantity AS billed_quantity, u_subtotal AS unbilled_subtotal, b_subtotal AS billed_subtotal,
    difference, tolerance
FROM measured r JOIN _drift_snaps s ON s.period = r.period AND s.currency = r.currency AND s.snapshot_at = r.snapshot_at
"""


def null_keys_query() -> str:
    """(unbilled, billed) lines the ledger pairs that have a null key column, once `statements` have run: the frame
    version refuses them (`check_grain`), the billed ones counted once per snapshot they stand against."""
    null = " OR ".join(f"d.{k} IS NULL" for k in GROUP[:-1])
    return (
        f"SELECT (SELECT count(*) FROM _drift_lines d WHERE d._state = 'unbilled' AND ({null})), "
        f"(SELECT count(*) FROM _drift_lines d JOIN _drift_snaps s ON s.period = d.period "
        f"AND s.currency = d.currency WHERE d._state = 'billed' AND ({null}))"
    )


def cleanup() -> list[str]:
    """Drop the temp tables `statements` leave."""
    return [f"DROP TABLE IF EXISTS {table}" for table in _TABLES]


def typed(query: str, types: dict[str, str]) -> str:
    """`query` with each column cast to its declared DuckDB type, in the order of `types`."""
    return f"SELECT {', '.join(f'CAST({c} AS {t}) AS {c}' for c, t in types.items())} FROM ({query})"
