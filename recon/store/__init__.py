"""The DuckDB store: migrations, load bookkeeping, raw files and reader connections."""

from __future__ import annotations

from recon.store.db import open_writer, reader, table_exists
from recon.store.migrations import SCHEMA_VERSION, migrate

__all__ = ["SCHEMA_VERSION", "migrate", "open_writer", "reader", "table_exists"]
