from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from recon.errors import StoreError
from recon.store import SCHEMA_VERSION, open_writer, reader


def test_new_file_gets_every_schema(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "r.duckdb"
    with open_writer(db) as con:
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}
        assert {"raw", "stg", "recon", "meta"} <= schemas
        assert con.execute("SELECT max(version) FROM meta.schema_version").fetchone() == (SCHEMA_VERSION,)
    with open_writer(db) as con:  # re-opening applies nothing twice
        assert con.execute("SELECT count(*) FROM meta.schema_version").fetchone() == (SCHEMA_VERSION,)


def test_findings_table_has_the_public_columns(tmp_path: Path) -> None:
    with open_writer(tmp_path / "r.duckdb") as con:
        cols = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'recon' AND table_name = 'findings' ORDER BY ordinal_position"
        ).fetchall()
    assert [c for c, _ in cols] == [
        "finding_id",
        "rule",
        "severity",
        "customer_id",
        "subscription_id",
        "order_id",
        "invoice_number",
        "period",
        "measure",
        "expected",
        "actual",
        "difference",
        "amount_at_stake",
        "currency",
        "explanation",
        "evidence",
        "first_seen",
        "status",
    ]
    types = dict(cols)
    assert types["expected"] == "DECIMAL(38,15)"
    assert types["amount_at_stake"] == "DECIMAL(18,6)"
    assert types["period"] == "DATE"
    assert types["evidence"] == "JSON"


def test_newer_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    with open_writer(db) as con:
        con.execute("INSERT INTO meta.schema_version VALUES (?, 'from the future', now())", [SCHEMA_VERSION + 1])
    with pytest.raises(StoreError, match="newer than this recon understands"), open_writer(db):
        pass


def test_reader_is_read_only(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    with open_writer(db):
        pass
    with reader(db) as con, pytest.raises(duckdb.Error):
        con.execute("CREATE TABLE meta.x (a INT)")


def test_reader_on_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="recon demo"), reader(tmp_path / "absent.duckdb"):
        pass


def test_an_older_file_migrates(tmp_path: Path) -> None:
    from recon.store.migrations import MIGRATIONS

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    for statement in MIGRATIONS[0].statements:  # a file written by the first release
        con.execute(statement)
    con.execute("INSERT INTO meta.schema_version VALUES (1, 'v1', now())")
    con.execute("INSERT INTO raw.invoices (id, dataset, unit) VALUES ('G1', 'invoices', 'G1')")
    con.close()
    with open_writer(db) as con:
        versions = [v for (v,) in con.execute("SELECT version FROM meta.schema_version ORDER BY 1").fetchall()]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        assert con.execute("SELECT count(*) FROM raw.usage_lines").fetchall() == [(0,)]
        assert con.execute("SELECT id FROM raw.invoices").fetchall() == [("G1",)]  # data kept
