"""Load bookkeeping in `meta.loads` and atomic replacement of one unit's rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from recon.store.schema import RAW_TABLES
from recon.store.sql import first_row

_SENTINEL = "0001-01-01"


@dataclass(frozen=True)
class UnitResult:
    """What one committed unit holds."""

    load_id: str
    rows: int
    quarantined: int


def begin_load(
    con: duckdb.DuckDBPyConnection, dataset: str, unit: str, api: str, params: dict[str, Any], started_at: datetime
) -> str:
    """Record a running load and return its id (committed at once, so a crash leaves a visible marker)."""
    load_id = uuid.uuid4().hex
    con.execute(
        "INSERT INTO meta.loads (load_id, dataset, unit, api, params, status, started_at) "
        "VALUES (?, ?, ?, ?, ?, 'running', ?)",
        [load_id, dataset, unit, api, json.dumps(params, sort_keys=True), started_at],
    )
    return load_id


def fail_load(con: duckdb.DuckDBPyConnection, load_id: str, error: str, finished_at: datetime) -> None:
    """Mark a load failed with its one-line reason."""
    con.execute(
        "UPDATE meta.loads SET status = 'failed', error = ?, finished_at = ? WHERE load_id = ?",
        [error, finished_at, load_id],
    )


def complete_loads(con: duckdb.DuckDBPyConnection, dataset: str) -> set[str]:
    """Ids of a dataset's loads whose rows currently count."""
    rows = con.execute("SELECT load_id FROM meta.loads WHERE dataset = ? AND status = 'complete'", [dataset])
    return {str(r[0]) for r in rows.fetchall()}


def record_file_load(
    con: duckdb.DuckDBPyConnection,
    load_id: str,
    *,
    unit: str,
    as_of: datetime | None,
    provenance: list[dict[str, Any]],
    finished_at: datetime,
) -> None:
    """Mark a load whose product is a file (a statement) complete, replacing earlier loads of its unit."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "UPDATE meta.loads SET status = 'replaced' WHERE unit = ? AND status = 'complete' AND dataset = "
            "(SELECT dataset FROM meta.loads WHERE load_id = ?)",
            [unit, load_id],
        )
        con.execute(
            "UPDATE meta.loads SET status = 'complete', finished_at = ?, as_of = ?, pages = 1, rows = 1, "
            "provenance = ? WHERE load_id = ?",
            [finished_at, as_of, json.dumps(provenance, sort_keys=True), load_id],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


@dataclass(frozen=True)
class Unfinished:
    """A load of a unit that started but never completed, with what it had landed."""

    load_id: str
    resume_point: dict[str, Any] | None
    provenance: list[dict[str, Any]]


def unfinished_load(con: duckdb.DuckDBPyConnection, dataset: str, unit: str) -> Unfinished | None:
    """The newest load of a unit, if it never completed (a crash, a kill or a failure)."""
    row = first_row(
        con.execute(
            "SELECT load_id, status, resume_point, provenance FROM meta.loads WHERE dataset = ? AND unit = ? "
            "ORDER BY started_at DESC LIMIT 1",
            [dataset, unit],
        )
    )
    if row is None or row[1] not in ("running", "failed"):
        return None
    resume = json.loads(row[2]) if row[2] else None
    return Unfinished(str(row[0]), resume, json.loads(row[3]) if row[3] else [])


def save_progress(
    con: duckdb.DuckDBPyConnection, load_id: str, provenance: list[dict[str, Any]], resume: dict[str, Any] | None
) -> None:
    """Record the pages landed so far and the request for the next one (committed at once)."""
    con.execute(
        "UPDATE meta.loads SET status = 'running', pages = ?, provenance = ?, resume_point = ? WHERE load_id = ?",
        [len(provenance), json.dumps(provenance, sort_keys=True), json.dumps(resume) if resume else None, load_id],
    )


def _cast_expr(name: str, sql_type: str) -> str:
    """SQL turning the landed text column `name` into its declared type."""
    col = f'"{name}"'
    if sql_type == "VARCHAR":
        return col
    if sql_type == "JSON":
        return f"CAST({col} AS JSON)"
    if sql_type in ("TIMESTAMP", "TIMESTAMPTZ"):
        cast = f"TRY_CAST({col} AS TIMESTAMPTZ)"
        cast = cast if sql_type == "TIMESTAMPTZ" else f"CAST({cast} AS TIMESTAMP)"
        return f"CASE WHEN {col} IS NULL OR {col} = '' OR {col} LIKE '{_SENTINEL}%' THEN NULL ELSE {cast} END"
    return f"CASE WHEN {col} IS NULL OR {col} = '' THEN NULL ELSE TRY_CAST({col} AS {sql_type}) END"


def _misfit_expr(name: str, sql_type: str) -> str | None:
    """SQL that is true where a landed value does not fit its declared type exactly."""
    col = f'"{name}"'
    if sql_type in ("VARCHAR", "JSON"):
        return None
    present = f"{col} IS NOT NULL AND {col} <> ''"
    if sql_type == "INTEGER":
        return f"{present} AND TRY_CAST({col} AS INTEGER) IS NULL"
    if sql_type.startswith("DECIMAL"):
        scale = int(sql_type.rstrip(")").split(",")[1])
        too_precise = f"length(rtrim(regexp_extract({col}, '\\.(\\d+)', 1), '0')) > {scale}"
        return f"{present} AND (TRY_CAST({col} AS {sql_type}) IS NULL OR {too_precise})"
    return f"{present} AND {col} NOT LIKE '{_SENTINEL}%' AND TRY_CAST({col} AS TIMESTAMPTZ) IS NULL"


def commit_unit(
    con: duckdb.DuckDBPyConnection,
    *,
    table: str,
    load_id: str,
    dataset: str,
    unit: str,
    rows: pa.Table,
    as_of: datetime | None,
    pages: int,
    provenance: list[dict[str, Any]],
    drift: dict[str, int],
    finished_at: datetime,
    required: Sequence[str] = (),
) -> UnitResult:
    """Replace a unit's rows with `rows` (text columns) and mark its load complete, in one transaction.

    A line with a value that does not fit its declared type, or with no value in a `required` column, goes to
    `meta.quarantine` instead of the table.
    """
    columns = RAW_TABLES[table]
    typed = dict(columns)
    value_cols = [c for c, _ in columns if c not in ("load_id", "dataset", "unit", "as_of")]
    con.register("_landing", rows)
    try:
        con.execute("BEGIN TRANSACTION")
        quarantined = 0
        for name in value_cols:
            misfit = _misfit_expr(name, typed[name])
            if misfit is None or name in ("page_no", "line_no"):
                continue
            con.execute(
                "INSERT INTO meta.quarantine SELECT ?, ?, ?, page_no, line_no, ?, "
                f'"{name}", ?, ? FROM _landing WHERE {misfit}',
                [load_id, dataset, unit, name, f"does not fit {typed[name]}", finished_at],
            )
        for name in required:
            con.execute(
                "INSERT INTO meta.quarantine SELECT ?, ?, ?, page_no, line_no, ?, "
                f'"{name}", ?, ? FROM _landing WHERE "{name}" IS NULL OR trim("{name}") = \'\'',
                [load_id, dataset, unit, name, "required value missing", finished_at],
            )
        row = first_row(
            con.execute("SELECT count(DISTINCT (page_no, line_no)) FROM meta.quarantine WHERE load_id = ?", [load_id])
        )
        quarantined = int(row[0]) if row else 0
        con.execute(f"DELETE FROM {table} WHERE dataset = ? AND unit = ?", [dataset, unit])
        selects = ", ".join(
            f"{_cast_expr(name, typed[name])} AS {name}" if name not in ("page_no", "line_no") else name
            for name in value_cols
        )
        con.execute(
            f"INSERT INTO {table} (load_id, dataset, unit, as_of, {', '.join(value_cols)}) "
            "SELECT ? AS load_id, ? AS dataset, ? AS unit, CAST(? AS TIMESTAMPTZ) AS as_of, "
            f"{selects} FROM _landing l WHERE NOT EXISTS (SELECT 1 FROM meta.quarantine q WHERE q.load_id = ? "
            "AND q.page_no = l.page_no AND q.line_no = l.line_no)",
            [load_id, dataset, unit, as_of, load_id],
        )
        landed = rows.num_rows - quarantined
        for field, count in sorted(drift.items()):
            con.execute(
                "INSERT INTO meta.schema_drift VALUES (?, ?, ?, ?, ?)", [dataset, field, load_id, count, finished_at]
            )
        con.execute(
            "UPDATE meta.loads SET status = 'replaced' WHERE dataset = ? AND unit = ? AND status = 'complete'",
            [dataset, unit],
        )
        con.execute(
            "UPDATE meta.loads SET status = 'complete', unit = ?, finished_at = ?, as_of = ?, pages = ?, rows = ?, "
            "provenance = ?, resume_point = NULL, error = NULL WHERE load_id = ?",
            [unit, finished_at, as_of, pages, landed, json.dumps(provenance, sort_keys=True), load_id],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_landing")
    return UnitResult(load_id=load_id, rows=landed, quarantined=quarantined)
