"""Versioned schema migrations; `meta.schema_version` records what a file has."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from recon.errors import StoreError
from recon.store import schema
from recon.store.sql import first_row


@dataclass(frozen=True)
class Migration:
    """One schema step, applied in a single transaction."""

    version: int
    description: str
    statements: Sequence[str]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "schemas, load bookkeeping, raw invoices and reconciliation lines, findings", schema.V1),
    Migration(2, "raw invoice summaries, estimate links and daily rated usage lines", schema.V2),
    Migration(3, "raw customers, subscriptions and order lines (dated snapshots)", schema.V3),
    Migration(4, "raw catalog products, SKUs and availabilities (dated snapshots) and audit records", schema.V4),
    Migration(5, "raw price list lines (imported price-list files, one unit per file)", schema.V5),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open database (0 for a new file)."""
    exists = first_row(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'meta' AND table_name = 'schema_version'"
        )
    )
    if not exists or not exists[0]:
        return 0
    row = first_row(con.execute("SELECT max(version) FROM meta.schema_version"))
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the database to SCHEMA_VERSION; refuse a file from a newer recon."""
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"this database has schema version {version}, newer than this recon understands "
            f"({SCHEMA_VERSION}); upgrade recon or use another RECON_DB"
        )
    for step in MIGRATIONS:
        if step.version <= version:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in step.statements:
                con.execute(statement)
            con.execute("INSERT INTO meta.schema_version VALUES (?, ?, now())", [step.version, step.description])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION
