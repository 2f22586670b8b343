"""Small helpers for DuckDB results."""

from __future__ import annotations

from typing import Any

import duckdb


def first_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of a pending result, consuming all of it (DuckDB 2.0 refuses new work while one is open)."""
    rows = result.fetchall()
    return rows[0] if rows else None
