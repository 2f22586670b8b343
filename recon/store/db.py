"""Opening the DuckDB file: one short-lived writer, or short-lived read-only readers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from recon.errors import StoreError
from recon.store.migrations import migrate
from recon.store.sql import first_row

_LOCK_WAIT_S = 30.0
# The file is attached under this name: opened directly, `data/recon.duckdb` would be a catalog named
# "recon", which makes every `recon.<table>` reference ambiguous with the schema `recon`.
CATALOG = "recondb"


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Connect, waiting a little while another process holds the file lock."""
    deadline = time.monotonic() + _LOCK_WAIT_S
    quoted = str(path).replace("'", "''")
    mode = " (READ_ONLY)" if read_only else ""
    while True:
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"ATTACH '{quoted}' AS {CATALOG}{mode}")
            con.execute(f"USE {CATALOG}")
            con.execute("SET TimeZone = 'UTC'")
            return con
        except duckdb.IOException as exc:
            con.close()
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise StoreError(f"cannot open {path}: {str(exc).splitlines()[0]}") from None
            time.sleep(0.2)


@contextlib.contextmanager
def open_writer(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database read-write, migrated to the current schema; closed on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, read_only=False)
    try:
        migrate(con)
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def reader(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-only connection: hold it for one query, never across user think time."""
    if not path.exists():
        raise StoreError(f"database {path} does not exist yet: run `recon extract` or `recon demo` first")
    con = _connect(path, read_only=True)
    try:
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists (table or view)."""
    row = first_row(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        )
    )
    return bool(row and row[0])
