"""docs/data-model.md lists every column of every table with its type."""

from __future__ import annotations

import re
from pathlib import Path

from recon.store import open_writer
from recon.store.db import CATALOG

DOC = Path(__file__).resolve().parents[1] / "docs" / "data-model.md"


def _documented() -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = {}
    current = None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"^### (\w+\.\w+)$", line)
        if heading:
            current = tables.setdefault(heading.group(1), {})
            continue
        row = re.match(r"^\| (\w+) \| ([A-Z][A-Z0-9(), ]*) \|", line)
        if current is not None and row:
            current[row.group(1)] = row.group(2)
    return tables


def test_every_migrated_table_is_documented(tmp_path: Path) -> None:
    with open_writer(tmp_path / "r.duckdb") as con:
        rows = con.execute(
            "SELECT table_schema || '.' || table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = ? ORDER BY ALL",
            [CATALOG],
        ).fetchall()
    documented = _documented()
    for table, column, dtype in rows:
        assert table in documented, f"{table} is missing from docs/data-model.md"
        assert documented[table].get(column) == dtype, f"{table}.{column} {dtype} is not documented as such"


def test_staging_tables_are_documented(sb_settings: object) -> None:
    from recon.extract import extract
    from recon.reconcile import reconcile

    extract(sb_settings)  # type: ignore[arg-type]
    reconcile(sb_settings)  # type: ignore[arg-type]
    with open_writer(sb_settings.db) as con:  # type: ignore[attr-defined]
        rows = con.execute(
            "SELECT table_schema || '.' || table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_schema = 'stg' ORDER BY ALL",
            [CATALOG],
        ).fetchall()
    documented = _documented()
    assert rows
    for table, column, dtype in rows:
        assert documented.get(table, {}).get(column) == dtype, f"{table}.{column} {dtype} is not documented"
