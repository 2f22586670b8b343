"""The staged reconciliation lines as the engine hands them on: what each reader needs, not the whole table.

With an unbilled pull every few days, `stg.recon_lines` is mostly old snapshots, which no rule reads: R08 and the
accrual ledger read each month's last snapshot, every other rule the billed lines. So:

- `rule_lines`: the rules' `lines`: every billed line and the unbilled lines of each month's last snapshot (per
  currency, and the last one with license lines, which is what R08 takes), with `inputs.LINE_COLUMNS`;
- `rate_counts`: the `rates` frame, every line's rate columns counted (R12's votes and `fx` count every line);
- `audit_lines`: every line a staging audit can flag (every billed line, and the unbilled lines with a null or
  duplicated key, a null match key, a reversed charge period or an unknown currency), in table order;
- `line_markets`: the (customer, country) pairs of the lines, what `pricelist.customer_markets` reads of them.

The drift ledger, which pairs every snapshot with the bill, is built inside DuckDB (`drift_sql`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import duckdb
import polars as pl

from recon.reconcile.inputs import LINE_COLUMNS, RATE_COLUMNS, USAGE_PRICING_CURRENCY, markets_frame
from recon.reconcile.matching import LINE_KEY, is_usage_line

LINES = "stg.recon_lines"
# DuckDB's share of the engine's memory (polars holds the frames); past it DuckDB spills next to the database file.
DUCKDB_MEMORY: Final = "2GB"
# The columns of stg.usage_lines the rules and audits read (R10, R12's votes, R13; the engine loads no others).
USAGE_COLUMNS: Final = (
    *LINE_KEY, "billing_state", "snapshot_at", "period", "customer_id", "customer_country", "invoice_number",
    "product_id", "subscription_id", "charge_start", "charge_end", "usage_date", "meter_category", "meter_name",
    "meter_region", "charge_type", "quantity", "billing_pre_tax_total", "billing_currency", "pricing_currency",
    "pc_to_bc_exchange_rate", "pc_to_bc_exchange_rate_date", "effective_unit_price", "rate_of_partner_earned_credit",
    "rate_of_credit",
)  # fmt: skip


def bound_duckdb(con: duckdb.DuckDBPyConnection, db: Path) -> None:
    """Cap DuckDB's memory at DUCKDB_MEMORY and let it spill into `<db>.tmp` (not the working directory)."""
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute("SET temp_directory = '" + str(db.with_name(db.name + ".tmp")).replace("'", "''") + "'")


def last_snapshots(kinds: pl.LazyFrame) -> pl.LazyFrame:
    """(period, currency, snapshot_at) of the snapshots the rules read, from the distinct (period, currency,
    snapshot_at, charge_type, meter_description) of the unbilled lines: per month and currency, the last snapshot,
    and the last one with license lines."""
    dated = kinds.filter(pl.col("currency").is_not_null() & pl.col("snapshot_at").is_not_null())
    last = dated.group_by("period", "currency").agg(pl.col("snapshot_at").max())
    licensed = dated.filter(~is_usage_line()).group_by("period", "currency").agg(pl.col("snapshot_at").max())
    return pl.concat([last, licensed], how="vertical").unique()


def rule_lines(con: duckdb.DuckDBPyConnection, source: str = LINES) -> pl.DataFrame:
    """The rules' `lines`: billed lines, the last snapshots (`last_snapshots`) and lines without a snapshot key."""
    kinds = con.sql(
        f"SELECT period, currency, snapshot_at, charge_type, meter_description FROM {source} "
        "WHERE billing_state = 'unbilled' GROUP BY ALL"
    ).pl()
    con.register("_last_snapshots", last_snapshots(kinds.lazy()).collect().to_arrow())
    try:
        return con.sql(
            f"SELECT {', '.join(LINE_COLUMNS)} FROM {source} "
            "WHERE billing_state IS DISTINCT FROM 'unbilled' OR period IS NULL OR currency IS NULL "
            "OR snapshot_at IS NULL "
            "OR (period, currency, snapshot_at) IN (SELECT period, currency, snapshot_at FROM _last_snapshots)"
        ).pl()
    finally:
        con.unregister("_last_snapshots")


def rate_counts(con: duckdb.DuckDBPyConnection, source: str = LINES) -> pl.DataFrame:
    """The `rates` frame: every distinct combination of the lines' RATE_COLUMNS with how many `lines` carry it."""
    columns = ", ".join(RATE_COLUMNS)
    return con.sql(f"SELECT {columns}, count(*) AS lines FROM {source} GROUP BY ALL").pl()


def _known_currencies() -> list[str]:
    """The currencies the unknown-currency audit knows (the markets' and USD)."""
    known = markets_frame().select("currency").collect()["currency"].to_list()
    return sorted({*known, USAGE_PRICING_CURRENCY})


def audit_lines(
    con: duckdb.DuckDBPyConnection, source: str = LINES, known: Sequence[str] | None = None
) -> pl.DataFrame:
    """Every line a staging audit of `stg.recon_lines` can flag (`recon.reconcile.audits`), in table order (a filter
    keeps DuckDB's insertion order)."""
    listed = ", ".join("'" + c.replace("'", "''") + "'" for c in (known or _known_currencies()))
    key = ", ".join(LINE_KEY)
    columns = (*LINE_KEY, "billing_state", "meter_description", "subscription_id", "charge_type", "charge_start",
               "charge_end", "invoice_number", "currency", "pricing_currency", "customer_id", "subtotal")  # fmt: skip
    null_key = " OR ".join(f"{c} IS NULL" for c in (*LINE_KEY, "subscription_id", "charge_type"))
    return con.sql(
        f"SELECT {', '.join(columns)} FROM {source} "
        f"WHERE billing_state IS DISTINCT FROM 'unbilled' OR {null_key} OR charge_start IS NULL "
        f"OR charge_end IS NULL OR charge_end < charge_start "
        f"OR currency NOT IN ({listed}) OR pricing_currency NOT IN ({listed}) "
        # lines whose key hash is shared (the audit itself tells a duplicated key from a hash collision)
        f"OR hash({key}) IN (SELECT hash({key}) AS h FROM {source} GROUP BY h HAVING count(*) > 1)"
    ).pl()


def line_markets(con: duckdb.DuckDBPyConnection, source: str = LINES) -> pl.DataFrame:
    """The distinct (customer_id, customer_country) of the lines."""
    return con.sql(f"SELECT DISTINCT customer_id, customer_country FROM {source}").pl()
