"""Build and write the ledgers (`recon.drift`, `recon.accrual_accuracy`, `recon.credit_pairs`,
`recon.policy_calendar`) and the staging audits (`meta.audits`), each table replaced whole with declared types.

`recon.drift` has about a row per staged line, so it is built inside DuckDB from the staged lines
(`drift_sql`, the same rows as `drift.drift`); the other ledgers are polars frames."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

import duckdb
import polars as pl

from recon.reconcile import drift_sql
from recon.reconcile.audits import AUDITS_SCHEMA, run_audits
from recon.reconcile.credits import CREDIT_PAIRS_SCHEMA, credit_pairs_table
from recon.reconcile.drift import ACCRUAL_SCHEMA, DRIFT_SCHEMA, accrual_accuracy
from recon.reconcile.drift_sql import license_kinds
from recon.reconcile.frames import GrainError
from recon.reconcile.inputs import markets_frame
from recon.reconcile.matching import closed_periods
from recon.reconcile.policy import POLICY_SCHEMA, policy_frame
from recon.store.db import CATALOG

Frames = Mapping[str, pl.LazyFrame]
AuditRow = tuple[str, str, str, int]
SCHEMAS: Final[dict[str, dict[str, pl.DataType]]] = {
    "recon.drift": DRIFT_SCHEMA,
    "recon.accrual_accuracy": ACCRUAL_SCHEMA,
    "recon.credit_pairs": CREDIT_PAIRS_SCHEMA,
    "recon.policy_calendar": POLICY_SCHEMA,
}
ORDER: Final[dict[str, tuple[str, ...]]] = {
    "recon.drift": ("period", "currency", "snapshot_at", "subscription_id", "charge_type", "charge_start", "sign",
                    "unbilled_page_no", "unbilled_line_no", "billed_page_no", "billed_line_no"),
    "recon.accrual_accuracy": ("period", "currency", "customer_id", "product_id"),
    "recon.credit_pairs": ("period", "subscription_id", "charge_start", "charge_type", "status", "credit_page_no",
                           "credit_line_no"),
    "recon.policy_calendar": ("name", "effective_from"),
    "meta.audits": ("table_name", "audit"),
}  # fmt: skip
STG_COLUMNS: Final = (
    "SELECT table_schema || '.' || table_name AS table_name, column_name, data_type FROM information_schema.columns "
    f"WHERE table_catalog = '{CATALOG}' AND table_schema = 'stg' ORDER BY ALL"
)


def duckdb_type(dtype: pl.DataType) -> str:
    """The DuckDB type declared for a polars column type of a ledger."""
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    simple = {pl.String: "VARCHAR", pl.Date: "DATE", pl.Boolean: "BOOLEAN", pl.Int64: "BIGINT", pl.Int32: "INTEGER"}
    for polars_type, name in simple.items():
        if isinstance(dtype, polars_type):
            return name
    raise TypeError(f"no DuckDB type declared for {dtype}")


def write_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    frame: pl.DataFrame,
    columns: Mapping[str, str],
    order: Sequence[str],
) -> None:
    """CREATE OR REPLACE `name` from `frame` with each column cast to its declared DuckDB type, in `order`."""
    con.register("_ledger", frame.to_arrow())
    try:
        select = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in columns.items())
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {select} FROM _ledger ORDER BY {', '.join(order)}")
    finally:
        con.unregister("_ledger")


DRIFT_PERIODS: Final = "periods_closed"  # in ledger_frames' result: the closed periods recon.drift is built for


def ledger_frames(frames: Frames) -> dict[str, pl.DataFrame]:
    """Every polars ledger of `frames`, computed together, and the closed periods of the drift ledger."""
    queries = {
        "recon.accrual_accuracy": accrual_accuracy(frames),
        "recon.credit_pairs": credit_pairs_table(frames),
        DRIFT_PERIODS: closed_periods(frames),
    }
    built = dict(zip(queries, pl.collect_all(list(queries.values())), strict=True))
    return {**built, "recon.policy_calendar": policy_frame()}


def build_drift(
    con: duckdb.DuckDBPyConnection, closed: pl.DataFrame, source: str = "stg.recon_lines", table: str = "recon.drift"
) -> None:
    """CREATE OR REPLACE `table` with the drift ledger of the lines in `source` for the `closed` periods."""
    kinds = license_kinds(con.sql(f"SELECT DISTINCT charge_type, meter_description FROM {source}").pl().lazy())
    con.register("_drift_kinds", kinds.collect().to_arrow())
    con.register("_drift_closed", closed.to_arrow())
    ordered = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = false")  # the rows need no order: DuckDB need not hold them back
    try:
        steps = drift_sql.statements(source, "_drift_closed", "_drift_kinds")
        for step in steps[:2]:  # the snapshots and the lines they pair
            con.execute(step)
        nulls = con.execute(drift_sql.null_keys_query()).fetchall()[0]
        for count, name in zip(nulls, ("unbilled snapshot lines", "billed lines per snapshot"), strict=True):
            if count:  # as the frame version (drift.drift) refuses them
                keys = ", ".join((*drift_sql.KEY, "_ref", "_occ"))
                raise GrainError(f"{name}: {count} row(s) with a null key among {keys}")
        for step in steps[2:]:
            con.execute(step)
        columns = {c: duckdb_type(t) for c, t in DRIFT_SCHEMA.items()}
        query = drift_sql.typed(drift_sql.ledger_query(source, "_drift_kinds"), columns)
        # not sorted, unlike the other ledgers: about a row per staged line, the sort would cost more than the rest
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {query}")
    finally:
        with contextlib.suppress(duckdb.Error):  # never hide the error that stopped the build
            con.execute(f"SET preserve_insertion_order = {str(bool(ordered)).lower()}")
            for step in drift_sql.cleanup():
                con.execute(step)
            con.unregister("_drift_kinds")
            con.unregister("_drift_closed")


def write_ledgers(con: duckdb.DuckDBPyConnection, ledgers: Mapping[str, pl.DataFrame]) -> None:
    """Replace every ledger table (inside the caller's transaction); recon.drift from the staged lines."""
    for name, schema in SCHEMAS.items():
        if name == "recon.drift":
            build_drift(con, ledgers[DRIFT_PERIODS])
            continue
        columns = {c: duckdb_type(t) for c, t in schema.items()}
        write_table(con, name, ledgers[name].select(list(schema)), columns, ORDER[name])


def audit_staging(con: duckdb.DuckDBPyConnection, frames: Frames, now: datetime) -> list[AuditRow]:
    """Run the audits over the staged frames, replace `meta.audits` with the results, return (audit, table,
    severity, offending rows) per audit."""
    given = {"markets": markets_frame(), **frames, "columns": con.sql(STG_COLUMNS).pl().lazy()}
    results = run_audits(given).with_columns(checked_at=pl.lit(now, dtype=pl.Datetime("us", "UTC")))
    columns = {c: duckdb_type(t) for c, t in AUDITS_SCHEMA.items()} | {"sample": "JSON", "checked_at": "TIMESTAMPTZ"}
    con.execute("BEGIN TRANSACTION")
    try:
        write_table(con, "meta.audits", results, columns, ORDER["meta.audits"])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    rows = results.select("audit", "table_name", "severity", "offending_rows").rows()
    return [(str(a), str(t), str(s), int(n)) for a, t, s, n in rows]
