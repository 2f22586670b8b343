"""`recon load pricelist FILE`: parsing, exact prices, quarantine, idempotent reloads, supersession, the CLI,
and renewals rated from the list through `recon reconcile` on a real DuckDB file."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from recon.cli import cli, main
from recon.errors import ReconError
from recon.extract.fields import normalise
from recon.extract.pricelist import load_pricelist
from recon.reconcile import reconcile
from recon.settings import Settings, load_settings
from recon.store import open_writer, reader
from recon.store.loads import begin_load, commit_unit
from recon.store.schema import CUSTOMER, INVOICE, ORDER_LINE, RECON_LINE, SUBSCRIPTION
from recon.transform import build_staging

HEADER = [
    "ProductTitle", "ProductId", "SkuId", "SkuTitle", "Publisher", "SkuDescription", "UnitOfMeasure", "TermDuration",
    "BillingPlan", "Market", "Currency", "UnitPrice", "PricingTierRangeMin", "PricingTierRangeMax",
    "EffectiveStartDate", "EffectiveEndDate", "Tags", "ERP Price", "Segment",
]  # fmt: skip
APRIL = {"EffectiveStartDate": "2025-04-01T00:00:00Z", "EffectiveEndDate": "2025-04-30T23:59:59Z"}


def line(**values: str) -> dict[str, str]:
    """A price-list line (Microsoft 365 E3, P1Y annual, NL, EUR, April 2025) with `values` replacing columns."""
    base = {
        "ProductTitle": "Microsoft 365 E3", "ProductId": "CFQ7TTC0LFLX", "SkuId": "0001",
        "SkuTitle": "Microsoft 365 E3", "Publisher": "Microsoft Corporation", "SkuDescription": "Microsoft 365 E3",
        "UnitOfMeasure": "Licenses",
        "TermDuration": "P1Y", "BillingPlan": "Annual", "Market": "NL", "Currency": "EUR", "UnitPrice": "404.40",
        "PricingTierRangeMin": "", "PricingTierRangeMax": "", **APRIL, "Tags": "", "ERP Price": "505.50",
        "Segment": "Commercial",
    }  # fmt: skip
    return {**base, **values}


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    """`rows` (keyed by the names in `header`) as a CSV with a byte-order mark, as Partner Center writes it."""
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows([row.get(h, "") for h in header] for row in rows)
    return path


def settings(tmp_path: Path) -> Settings:
    return load_settings(env={"RECON_DB": str(tmp_path / "r.duckdb")})


def query(s: Settings, sql: str) -> list[tuple[Any, ...]]:
    with reader(s.db) as con:
        return con.execute(sql).fetchall()


def staged(s: Settings) -> list[tuple[Any, ...]]:
    """stg.price_list after a staging build: (billing, market, unit_price, valid_from, valid_to, file_name)."""
    with open_writer(s.db) as con:
        build_staging(con)
        return con.execute(
            "SELECT billing, market, unit_price, valid_from, valid_to, file_name FROM stg.price_list ORDER BY ALL"
        ).fetchall()


# ---- parsing -----------------------------------------------------------------------------------------------------


def test_headers_match_case_insensitively_and_unknown_columns_are_kept(tmp_path: Path) -> None:
    header = [h.upper() if i % 2 else h.lower() for i, h in enumerate(HEADER)]
    header[header.index("ERP PRICE")] = "erp_price"
    row = dict(zip(header, line().values(), strict=True))
    path = write_csv(tmp_path / "lower.csv", [{**row, "Notes": "internal"}], [*header, "Notes"])
    s = settings(tmp_path)
    result = load_pricelist(s, path)
    assert (result.rows, result.quarantined, result.unknown_columns) == (1, 0, ["Notes"])
    assert query(
        s, "SELECT product_id, term_duration, billing_plan, erp_price, extra->>'Notes' FROM raw.price_list"
    ) == [("CFQ7TTC0LFLX", "P1Y", "Annual", D("505.50"), "internal")]
    assert query(s, "SELECT dataset, field, occurrences FROM meta.schema_drift") == [("pricelist", "Notes", 1)]


def test_prices_land_exactly_and_us_dates_are_read(tmp_path: Path) -> None:
    rows = [
        line(UnitPrice="404.400000000000001", Market="nl"),
        line(UnitPrice="13.125", BillingPlan="Monthly", EffectiveStartDate="4/1/2025 12:00:00 AM",
             EffectiveEndDate="4/30/2025 11:59:59 PM"),
        line(UnitPrice="0.1", Currency="USD", Market="US"),
    ]  # fmt: skip
    s = settings(tmp_path)
    load_pricelist(s, write_csv(tmp_path / "pl.csv", rows))
    got = query(s, "SELECT unit_price, effective_start_date, effective_end_date FROM raw.price_list ORDER BY line_no")
    assert [(str(p), a, b) for p, a, b in got] == [
        ("404.400000000000001", datetime(2025, 4, 1), datetime(2025, 4, 30, 23, 59, 59)),
        ("13.125000000000000", datetime(2025, 4, 1), datetime(2025, 4, 30, 23, 59, 59)),
        ("0.100000000000000", datetime(2025, 4, 1), datetime(2025, 4, 30, 23, 59, 59)),
    ]
    assert staged(s)[0][:3] == ("annual", "NL", D("404.400000000000001"))


def test_a_bad_value_is_quarantined_and_the_other_lines_land(tmp_path: Path) -> None:
    rows = [
        line(),
        line(UnitPrice="12,50"),
        line(UnitPrice="1.0000000000000001"),  # 16 places do not fit DECIMAL(38,15)
        line(UnitPrice=""),
        line(EffectiveStartDate="31/31/2025"),
    ]
    s = settings(tmp_path)
    result = load_pricelist(s, write_csv(tmp_path / "pl.csv", rows))
    assert (result.rows, result.quarantined) == (1, 4)
    assert query(s, "SELECT line_no, column_name, value, reason FROM meta.quarantine ORDER BY line_no") == [
        (2, "unit_price", "12,50", "does not fit DECIMAL(38,15)"),
        (3, "unit_price", "1.0000000000000001", "does not fit DECIMAL(38,15)"),
        (4, "unit_price", "", "required value missing"),
        (5, "effective_start_date", "31/31/2025", "does not fit TIMESTAMP"),
    ]
    assert query(s, "SELECT line_no FROM raw.price_list") == [(1,)]


def test_a_file_without_a_required_column_is_refused_with_one_line(tmp_path: Path) -> None:
    header = [h for h in HEADER if h not in ("UnitPrice", "EffectiveStartDate")]
    path = write_csv(tmp_path / "old.csv", [{h: line()[h] for h in header}], header)
    with pytest.raises(ReconError, match=r"old.csv: .*missing column\(s\) UnitPrice, EffectiveStartDate$"):
        load_pricelist(settings(tmp_path), path)
    db = tmp_path / "cli.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "recon", "load", "pricelist", str(path), "--db", str(db)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "UnitPrice, EffectiveStartDate" in lines[0]
    assert main(["load", "pricelist", str(tmp_path / "absent.csv"), "--db", str(db)]) == 2
    assert main(["load", "pricelist", str(tmp_path / "list.json"), "--db", str(db)]) == 2


def test_loading_the_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    s = settings(tmp_path)
    path = write_csv(tmp_path / "pl.csv", [line(), line(UnitPrice="bad")])
    first = load_pricelist(s, path)
    snapshot = "SELECT * FROM meta.loads ORDER BY ALL"
    before = (query(s, snapshot), query(s, "SELECT * FROM raw.price_list"), query(s, "SELECT * FROM meta.quarantine"))
    again = load_pricelist(s, path)
    assert again.already_loaded and again.load_id == first.load_id
    after = (query(s, snapshot), query(s, "SELECT * FROM raw.price_list"), query(s, "SELECT * FROM meta.quarantine"))
    assert after == before


def test_a_newer_file_supersedes_by_effective_dates(tmp_path: Path) -> None:
    s = settings(tmp_path)
    open_ended = {"EffectiveEndDate": "9999-12-31T23:59:59Z"}
    load_pricelist(s, write_csv(tmp_path / "april.csv", [line(**open_ended), line(Market="DE", **open_ended)]))
    may = {"EffectiveStartDate": "2025-05-01T00:00:00Z", **open_ended}
    load_pricelist(s, write_csv(tmp_path / "may.csv", [line(UnitPrice="420.00", **may)]))
    # a corrected April file: its NL line replaces the first file's for the same effective start
    load_pricelist(s, write_csv(tmp_path / "april-fix.csv", [line(UnitPrice="400.00", **open_ended)]))
    end = date(9999, 12, 31)
    assert staged(s) == [
        ("annual", "DE", D("404.40"), date(2025, 4, 1), end, "april.csv"),
        ("annual", "NL", D("400.00"), date(2025, 4, 1), date(2025, 4, 30), "april-fix.csv"),
        ("annual", "NL", D("420.00"), date(2025, 5, 1), end, "may.csv"),
    ]


def test_xlsx_and_parquet_read_like_csv(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Price list (license-based)"])  # a title line above the header
    sheet.append(HEADER)
    values: list[Any] = list(line().values())
    values[HEADER.index("UnitPrice")] = 404.4
    values[HEADER.index("EffectiveStartDate")] = datetime(2025, 4, 1)
    sheet.append(values)
    book.save(tmp_path / "pl.xlsx")
    columns = {h: pa.array([v], pa.string()) for h, v in line(Market="DE").items()}
    columns["UnitPrice"] = pa.array([D("404.40")], pa.decimal128(10, 2))
    pq.write_table(pa.table(columns), tmp_path / "pl.parquet")
    s = settings(tmp_path)
    assert load_pricelist(s, tmp_path / "pl.xlsx").rows == 1
    assert load_pricelist(s, tmp_path / "pl.parquet").rows == 1
    assert [r[:4] for r in staged(s)] == [
        ("annual", "DE", D("404.40"), date(2025, 4, 1)),
        ("annual", "NL", D("404.40"), date(2025, 4, 1)),
    ]


# ---- the command line --------------------------------------------------------------------------------------------


def test_the_command_loads_a_file_and_load_replay_still_works(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "pl.csv", [line(), line(UnitPrice="x")])
    db = tmp_path / "r.duckdb"
    runner = CliRunner()
    out = runner.invoke(cli, ["load", "pricelist", str(path), "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "1 lines into raw.price_list" in out.output and "1 lines quarantined" in out.output
    out = runner.invoke(cli, ["load", "--db", str(db), "pricelist", str(path)])
    assert out.exit_code == 0 and "nothing changed" in out.output
    for args in (["load", "--help"], ["load", "pricelist", "--help"]):
        shown = runner.invoke(cli, args)
        assert shown.exit_code == 0 and "pricelist" in shown.output
    assert main(["load", "--replay", "pricelist", str(path), "--db", str(db)]) == 2
    # the raw page is enough to rebuild the lines in a fresh database beside it
    fresh = tmp_path / "fresh.duckdb"
    out = runner.invoke(cli, ["load", "--replay", "--dataset", "pricelist", "--db", str(fresh)])
    assert out.exit_code == 0, out.output
    with reader(fresh) as con:
        assert con.execute("SELECT unit_price FROM raw.price_list").fetchall() == [(D("404.40"),)]
        assert con.execute("SELECT count(*) FROM meta.quarantine").fetchall() == [(1,)]


def test_the_sandboxs_price_list_loads_whole(tmp_path: Path) -> None:
    from recon.sandbox.catalog import AVAILABILITIES, MARKETS, list_price

    out = tmp_path / "sandbox.csv"
    shown = CliRunner().invoke(cli, ["sandbox", "pricelist", "--out", str(out), "--from", "2025-03", "--to", "2025-04"])
    assert shown.exit_code == 0, shown.output
    s = settings(tmp_path)
    result = load_pricelist(s, out)
    assert (result.rows, result.quarantined) == (len(AVAILABILITIES) * len(MARKETS) * 2, 0)
    av = next(a for a in AVAILABILITIES if (a.term, a.plan) == ("P1Y", "monthly"))
    got = query(
        s,
        f"SELECT unit_price FROM raw.price_list WHERE product_id = '{av.product.product_id}' AND market = 'GB' "
        "AND term_duration = 'P1Y' AND billing_plan = 'Monthly' ORDER BY effective_start_date",
    )
    assert [p for (p,) in got] == [list_price(1, av, "GBP", date(2025, m, 1)) for m in (3, 4)]


# ---- renewals rated from the list, end to end ----------------------------------------------------------------------

AS_OF = datetime(2026, 2, 5, 12, tzinfo=UTC)


def _land(s: Settings, table: str, columns: tuple[tuple[str, str], ...], dataset: str, unit: str, *items: Any) -> None:
    rows, _ = normalise(items, {n.replace("_", ""): n for n, _ in columns}, columns, page_no=1)
    with open_writer(s.db) as con:
        load_id = begin_load(con, dataset, unit, "test", {}, AS_OF)
        commit_unit(
            con, table=table, load_id=load_id, dataset=dataset, unit=unit, rows=rows, as_of=AS_OF, pages=1,
            provenance=[], drift={}, finished_at=AS_OF,
        )  # fmt: skip


def _renewed_world(s: Settings) -> None:
    """Two P1Y/monthly subscriptions bought 2025-01-15 and renewed 2026-01-15 without a renewal order; the
    January invoice bills s1's renewal at 31.50 and s2's at 33.00."""
    offer = "CFQ7TTC0LFLX:0001:AV1"
    _land(s, "raw.customers", CUSTOMER, "customers", "customers@2026-02-05", {"id": "c1", "country": "NL"})
    subs, orders, lines = [], [], []
    for sub, price in (("s1", "31.50"), ("s2", "33.00")):
        subs.append({
            "id": sub, "customer_id": "c1", "offer_id": offer, "quantity": "10", "status": "active",
            "effective_start_date": "2026-01-15T00:00:00Z", "commitment_end_date": "2027-01-14T00:00:00Z",
            "auto_renew_enabled": "true", "billing_cycle": "monthly", "term_duration": "P1Y", "order_id": f"o-{sub}",
        })  # fmt: skip
        orders.append({
            "order_id": f"o-{sub}", "customer_id": "c1", "order_billing_cycle": "monthly", "currency_code": "EUR",
            "creation_date": "2025-01-15T09:00:00Z", "status": "completed", "line_item_number": "0",
            "offer_id": offer, "term_duration": "P1Y", "transaction_type": "New", "quantity": "10",
            "subscription_id": sub, "list_price": "30.00", "price": "30.00",
        })  # fmt: skip
        amount = str(D(price) * 10)
        lines.append({
            "customer_id": "c1", "customer_country": "NL", "invoice_number": "G1", "order_id": f"r-{sub}",
            "order_date": "2026-01-15", "product_id": "CFQ7TTC0LFLX", "sku_id": "0001", "availability_id": "AV1",
            "charge_type": "renew", "unit_price": price, "effective_unit_price": price, "quantity": "10",
            "billable_quantity": "10", "subtotal": amount, "tax_total": "0", "total_for_customer": amount,
            "currency": "EUR", "pricing_currency": "EUR", "pc_to_bc_exchange_rate": "1",
            "pc_to_bc_exchange_rate_date": "2026-01-01", "subscription_id": sub, "charge_start_date": "2026-01-15",
            "charge_end_date": "2026-02-14", "reference_id": f"ref-{sub}",
        })  # fmt: skip
    _land(s, "raw.subscriptions", SUBSCRIPTION, "subscriptions", "subscriptions@2026-02-05", *subs)
    _land(s, "raw.order_lines", ORDER_LINE, "orders", "orders@2026-02-05", *orders)
    invoice = {
        "id": "G1", "invoice_date": "2026-02-01", "billing_period_start_date": "2026-01-01",
        "billing_period_end_date": "2026-01-31", "total_charges": "645.00", "paid_amount": "0",
        "currency_code": "EUR", "invoice_type": "OneTime", "status": "Unpaid",
    }  # fmt: skip
    _land(s, "raw.invoices", INVOICE, "invoices", "G1", invoice)
    _land(s, "raw.recon_lines", RECON_LINE, "recon-billed", "G1", *lines)


def _findings(s: Settings) -> list[tuple[Any, ...]]:
    sql = "SELECT rule, subscription_id, expected, actual, amount_at_stake FROM recon.findings ORDER BY ALL"
    return query(s, sql)


def test_a_renewal_without_a_renewal_order_is_rated_from_the_price_list(tmp_path: Path) -> None:
    s = settings(tmp_path)
    _renewed_world(s)
    reconcile(s)
    # without a price list nothing prices the renewals: reported (R00, info), their billed amounts at stake
    assert _findings(s) == [
        ("R00-no-history", "s1", None, None, D("315.00")),
        ("R00-no-history", "s2", None, None, D("330.00")),
    ]
    reason = query(s, "SELECT explanation FROM recon.findings WHERE subscription_id = 's1'")[0][0]
    assert "from its renewal on 2026-01-15, there is no renewal order with pricing" in reason
    assert query(s, "SELECT count(*) FROM recon.expected_charges WHERE charge_type = 'renew'") == [(0,)]

    # the list has no P1Y monthly price of its own: 360.00 / 12 x 1.05 (annual billed monthly) = 31.50
    rows = [
        line(BillingPlan="Annual", UnitPrice="342.00", EffectiveStartDate="2025-12-01T00:00:00Z",
             EffectiveEndDate="2025-12-31T23:59:59Z"),
        line(BillingPlan="Annual", UnitPrice="360.00", EffectiveStartDate="1/1/2026 12:00:00 AM",
             EffectiveEndDate="1/31/2026 11:59:59 PM"),
        line(BillingPlan="Annual", UnitPrice="360.00", Market="DE", EffectiveStartDate="2026-01-01T00:00:00Z"),
    ]  # fmt: skip
    out = CliRunner().invoke(cli, ["load", "pricelist", str(write_csv(tmp_path / "jan.csv", rows)), "--db", str(s.db)])
    assert out.exit_code == 0, out.output
    reconcile(s)
    assert query(
        s,
        "SELECT subscription_id, event_id, order_id, unit_price, subtotal FROM recon.expected_charges "
        "WHERE charge_type = 'renew' ORDER BY ALL",
    ) == [
        ("s1", "s1:pricelist:1", "o-s1", D("31.500000000000000"), D("315.000000")),
        ("s2", "s2:pricelist:1", "o-s2", D("31.500000000000000"), D("315.000000")),
    ]
    # s1 is billed at the list's price; s2 is not: R02 against the renewal price from the list
    assert _findings(s) == [("R02-unit-price", "s2", D("31.50"), D("33.00"), D("15.00"))]
