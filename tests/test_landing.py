from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from recon.extract.fields import RECON_LINE_FIELDS, normalise
from recon.jsontext import dumps_exact, loads_exact
from recon.store import open_writer
from recon.store.loads import begin_load, commit_unit
from recon.store.schema import RECON_LINE

NOW = datetime(2026, 10, 10, 12, tzinfo=UTC)

V1_ITEM = (
    '{"partnerId": "p1", "customerId": "c1", "invoiceNumber": "G000000001", "chargeType": "new",'
    ' "unitPrice": 12.3456789012345, "effectiveUnitPrice": "0.737586206896552", "quantity": "50",'
    ' "subtotal": 720, "taxTotal": 73, "totalForCustomer": 793.000001, "currency": "eur",'
    ' "pcToBCExchangeRate": 0.846202666, "pcToBCExchangeRateDate": "0001-01-01T00:00:00",'
    ' "chargeStartDate": "2021-05-20T00:00:00Z", "chargeEndDate": "2021-06-19T00:00:00",'
    ' "productQualifiers": ["AddOn"], "brandNewField": 1, "attributes": {"objectType": "OneTimeInvoiceLineItem"}}'
)
V2_ITEM = (
    '{"PartnerId": "p1", "CustomerId": "c1", "InvoiceNumber": "G000000001", "ChargeType": "new",'
    ' "UnitPrice": 12.3456789012345, "EffectiveUnitPrice": 0.737586206896552, "Quantity": 50,'
    ' "Subtotal": 720, "TaxTotal": 73, "Total": 793.000001, "Currency": "EUR",'
    ' "PCToBCExchangeRate": 0.846202666, "ChargeStartDate": "2021-05-20T00:00:00Z"}'
)


def _land(tmp_path: Path, items: list[dict[str, object]], unit: str = "G000000001") -> tuple[Path, object]:
    db = tmp_path / "r.duckdb"
    table, drift = normalise(items, RECON_LINE_FIELDS, RECON_LINE, page_no=1)
    with open_writer(db) as con:
        load_id = begin_load(con, "recon-billed", unit, "v1", {}, NOW)
        result = commit_unit(
            con,
            table="raw.recon_lines",
            load_id=load_id,
            dataset="recon-billed",
            unit=unit,
            rows=table,
            as_of=NOW,
            pages=1,
            provenance=[],
            drift=dict(drift),
            finished_at=NOW,
        )
    return db, result


def test_amounts_land_exactly_from_numbers_and_strings(tmp_path: Path) -> None:
    db, _result = _land(tmp_path, [loads_exact(V1_ITEM)])
    with open_writer(db) as con:
        row = con.execute(
            "SELECT unit_price, effective_unit_price, quantity, total_for_customer, pc_to_bc_exchange_rate, "
            "pc_to_bc_exchange_rate_date, charge_start_date, product_qualifiers, extra FROM raw.recon_lines"
        ).fetchone()
        drift = con.execute("SELECT field, occurrences FROM meta.schema_drift").fetchall()
    assert row is not None
    assert row[0] == Decimal("12.3456789012345")
    assert row[1] == Decimal("0.737586206896552")
    assert row[2] == Decimal("50")
    assert row[3] == Decimal("793.000001")
    assert row[4] == Decimal("0.846202666")
    assert row[5] is None  # the 0001-01-01 sentinel means "no date"
    assert row[6] == datetime(2021, 5, 20)
    assert row[7] == '["AddOn"]'
    assert '"brandNewField":1' in row[8]
    assert drift == [("brandNewField", 1)]


def test_v1_and_v2_key_styles_land_in_the_same_columns(tmp_path: Path) -> None:
    db1, _ = _land(tmp_path / "a", [loads_exact(V1_ITEM)])
    db2, _ = _land(tmp_path / "b", [loads_exact(V2_ITEM)])
    cols = (
        "customer_id, charge_type, unit_price, effective_unit_price, quantity, subtotal, tax_total, total_for_customer"
    )
    with open_writer(db1) as c1, open_writer(db2) as c2:
        assert (
            c1.execute(f"SELECT {cols} FROM raw.recon_lines").fetchall()
            == c2.execute(f"SELECT {cols} FROM raw.recon_lines").fetchall()
        )


def test_a_value_that_does_not_fit_is_quarantined_not_rounded(tmp_path: Path) -> None:
    good = loads_exact(V1_ITEM)
    bad = loads_exact(V1_ITEM)
    bad["subtotal"] = Decimal("1.0000001")  # 7 decimals: DECIMAL(18,6) would round it
    huge = loads_exact(V1_ITEM)
    huge["quantity"] = Decimal("1e15")
    db, result = _land(tmp_path, [good, bad, huge])
    assert result.rows == 1 and result.quarantined == 2  # type: ignore[attr-defined]
    with open_writer(db) as con:
        q = con.execute("SELECT line_no, column_name, value FROM meta.quarantine ORDER BY line_no").fetchall()
        assert con.execute("SELECT line_no FROM raw.recon_lines").fetchall() == [(1,)]
    assert q == [(2, "subtotal", "1.0000001"), (3, "quantity", "1000000000000000")]


def test_reloading_a_unit_replaces_it(tmp_path: Path) -> None:
    item = loads_exact(V1_ITEM)
    db, _ = _land(tmp_path, [item, item])  # two identical lines are both kept
    with open_writer(db) as con:
        assert con.execute("SELECT count(*) FROM raw.recon_lines").fetchone() == (2,)
        table, _ = normalise([item], RECON_LINE_FIELDS, RECON_LINE, page_no=1)
        load_id = begin_load(con, "recon-billed", "G000000001", "v1", {}, NOW)
        commit_unit(
            con,
            table="raw.recon_lines",
            load_id=load_id,
            dataset="recon-billed",
            unit="G000000001",
            rows=table,
            as_of=NOW,
            pages=1,
            provenance=[],
            drift={},
            finished_at=NOW,
        )
        assert con.execute("SELECT count(*) FROM raw.recon_lines").fetchone() == (1,)
        statuses = con.execute("SELECT status FROM meta.loads ORDER BY started_at, status").fetchall()
    assert sorted(s for (s,) in statuses) == ["complete", "replaced"]


def test_exact_json_round_trip() -> None:
    text = '{"a": 0.1, "b": [1, 2.50, "x"], "c": {"d": 1234567890.123456789012}}'
    assert dumps_exact(loads_exact(text)) == '{"a":0.1,"b":[1,2.50,"x"],"c":{"d":1234567890.123456789012}}'
