"""The catalog and audit datasets against the sandbox: what lands, what was asked, re-runs, duplicates, replay."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from recon.api import PartnerCenterClient
from recon.api.paging import Page, SeekPaginator
from recon.cli import main
from recon.extract import audit, extract
from recon.extract.base import ExtractContext, land_unit
from recon.extract.replay import replay
from recon.sandbox import SandboxServer
from recon.sandbox.catalog import AVAILABILITIES, PRODUCTS
from recon.settings import Settings, load_settings
from recon.store import open_writer, reader
from recon.transform import build_staging
from tests.conftest import admin, settings_for

pytestmark = pytest.mark.slow

RAW = ("raw.catalog_products", "raw.catalog_skus", "raw.catalog_availabilities", "raw.audit_records")
STG = ("stg.catalog_products", "stg.catalog_skus", "stg.catalog_availabilities", "stg.audit_records")


@dataclass
class Landed:
    """One extraction of catalog and audit into a fresh database, with the requests it sent."""

    settings: Settings
    today: date
    requests: list[dict[str, Any]]


def _log(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return list(admin(sandbox, "GET", "/requests").json())


def _query(entry: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(entry["query"], keep_blank_values=True).items()}


def _extract(settings: Settings, sandbox: SandboxServer, datasets: list[str]) -> list[dict[str, Any]]:
    """Run an extraction and return the requests it sent (the shared sandbox's log grows per test)."""
    before = len(_log(sandbox))
    summary = extract(settings, datasets=datasets)
    assert not summary.failed, [r.error for r in summary.failed]
    return _log(sandbox)[before:]


def _count(settings: Settings, sql: str) -> Any:
    with reader(settings.db) as con:
        return con.execute(sql).fetchall()[0][0]


@pytest.fixture(scope="module")
def landed(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landed]:
    """Catalog and audit extracted once (customers too: the catalog's countries and the audit's clock)."""
    settings = settings_for(sandbox, tmp_path_factory.mktemp("catalog-audit") / "recon.duckdb")
    today = date.fromisoformat(admin(sandbox, "GET", "/clock").json()["today"])
    requests = _extract(settings, sandbox, ["customers", "catalog", "audit"])
    with open_writer(settings.db) as con:
        build_staging(con)
    yield Landed(settings, today, requests)


def test_catalog_lands_every_product_sku_and_term_of_the_customers_countries(
    landed: Landed, sandbox: SandboxServer
) -> None:
    countries = sorted({c.country for c in sandbox.state.world.customers})
    products = [r for r in landed.requests if r["path"] == "/v1/products"]
    assert sorted(_query(r)["country"] for r in products) == countries
    assert all(_query(r) == {"country": _query(r)["country"], "targetView": "OnlineServices"} for r in products)
    skus = [r for r in landed.requests if r["path"].endswith("/skus")]
    avails = [r for r in landed.requests if r["path"].endswith("/availabilities")]
    assert len(skus) == len(avails) == len(PRODUCTS) * len(countries)
    assert all(set(_query(r)) == {"country"} for r in skus + avails)
    # the customer list has no address: each customer's country came from GET /customers/{id}
    by_id = [r for r in landed.requests if r["path"].startswith("/v1/customers/")]
    assert len(by_id) == len(sandbox.state.world.customers)

    s = landed.settings
    assert _count(s, "SELECT count(*) FROM stg.catalog_products") == len(PRODUCTS) * len(countries)
    assert _count(s, "SELECT count(*) FROM stg.catalog_skus") == len(PRODUCTS) * len(countries)
    # one row per availability and term (the sandbox sells one term per availability)
    assert _count(s, "SELECT count(*) FROM stg.catalog_availabilities") == len(AVAILABILITIES) * len(countries)
    assert _count(s, "SELECT count(*) FROM stg.catalog_availabilities WHERE term IS NULL OR billing IS NULL") == 0
    assert _count(s, "SELECT count(DISTINCT country) FROM stg.catalog_availabilities") == len(countries)
    assert _count(s, "SELECT count(*) FROM stg.catalog_availabilities WHERE currency IS NULL") == 0
    units = _count(
        s, "SELECT list(unit ORDER BY unit) FROM meta.loads WHERE dataset = 'catalog' AND status = 'complete'"
    )
    assert [u.split("@") for u in units] == [
        [k, landed.today.isoformat()] for k in ("availabilities", "products", "skus")
    ]
    assert _count(s, "SELECT count(*) FROM meta.schema_drift WHERE dataset = 'catalog'") == 0


def _served(settings: Settings, today: date) -> set[str]:
    """Ids the audit endpoint serves for the last 90 days, read independently in three 30-day windows."""
    ids: set[str] = set()
    with PartnerCenterClient(settings) as client:
        for first in (today - timedelta(days=89), today - timedelta(days=59), today - timedelta(days=29)):
            params = {"startDate": first.isoformat(), "endDate": (first + timedelta(days=29)).isoformat()}
            for page in SeekPaginator("/auditrecords", params).pages(client):
                ids.update(str(item["id"]) for item in page.items)
    return ids


def test_audit_asks_each_of_the_last_90_days_once_and_lands_every_record(landed: Landed) -> None:
    asked = [_query(r) for r in landed.requests if r["path"] == "/v1/auditrecords"]
    days = [landed.today - timedelta(days=n) for n in range(90)]
    assert sorted(q["startDate"] for q in asked) == sorted(d.isoformat() for d in days)
    assert all(q == {"startDate": q["startDate"], "endDate": q["startDate"], "size": "500"} for q in asked)

    s = landed.settings
    served = _served(s, landed.today)
    assert served  # the sandbox's world has purchases and seat changes in the last 90 days
    with reader(s.db) as con:
        staged = {r for (r,) in con.execute("SELECT record_id FROM stg.audit_records").fetchall()}
        units = con.execute(
            "SELECT count(*) FROM meta.loads WHERE dataset = 'audit' AND status = 'complete'"
        ).fetchall()[0][0]
        wrong_day = con.execute(
            "SELECT count(*) FROM stg.audit_records WHERE unit <> 'audit@' || strftime(operation_day, '%Y-%m-%d')"
        ).fetchall()[0][0]
        seats = con.execute(
            "SELECT count(*) FROM stg.audit_records WHERE operation_type = 'update_subscription' "
            "AND (subscription_id IS NULL OR new_quantity IS NULL OR resource_old_value->>'Id' <> subscription_id)"
        ).fetchall()[0][0]
    assert staged == served
    assert units == 90 and wrong_day == 0 and seats == 0
    assert _count(s, "SELECT count(*) FROM raw.audit_records") == len(served)


def test_configured_countries_replace_the_customers_countries(sandbox: SandboxServer, tmp_path: Path) -> None:
    env = {"RECON_SANDBOX": str(sandbox.sandbox_json), "RECON_DB": str(tmp_path / "r.duckdb")}
    env["RECON_CATALOG_COUNTRIES"] = "us"
    before = len(_log(sandbox))
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert main(["extract", "--datasets", "catalog,customers"]) == 0
    requests = _log(sandbox)[before:]
    catalog = [r for r in requests if r["path"].startswith("/v1/products")]
    assert catalog and {_query(r)["country"] for r in catalog} == {"US"}
    assert not [r for r in requests if r["path"].startswith("/v1/customers/")]
    settings = load_settings(env=env)
    assert _count(settings, "SELECT count(*) FROM raw.catalog_products WHERE country = 'US'") == len(PRODUCTS)
    assert main(["extract", "--datasets", "catalog,nope"]) == 2


def test_a_rerun_neither_duplicates_rows_nor_refetches_settled_days(landed: Landed, sandbox: SandboxServer) -> None:
    s = landed.settings
    with reader(s.db) as con:
        before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in RAW + STG}
    requests = _extract(s, sandbox, ["customers", "catalog", "audit"])
    with open_writer(s.db) as con:
        build_staging(con)
        after = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in RAW + STG}
        complete = con.execute(
            "SELECT count(*) FROM meta.loads WHERE dataset IN ('catalog', 'audit') AND status = 'complete'"
        ).fetchall()[0][0]
    assert after == before
    assert complete == 3 + 90  # a same-day catalog snapshot replaces its units; each day keeps one load
    # days fetched at least a day after they ended are settled; yesterday (fetched today) and today are not
    asked = sorted(_query(r)["startDate"] for r in requests if r["path"] == "/v1/auditrecords")
    assert asked == [(landed.today - timedelta(days=1)).isoformat(), landed.today.isoformat()]
    day = timedelta(days=1)
    with reader(s.db) as con:
        # tomorrow, yesterday is still due: it was last fetched less than a day after it ended
        assert audit.days_to_fetch(con, landed.today + day) == [landed.today - day, landed.today, landed.today + day]
        assert audit.days_to_fetch(con, landed.today, since=landed.today) == [landed.today]
        assert len(audit.days_to_fetch(con, landed.today + 200 * day)) == 90  # a window with no day landed yet


def test_a_record_served_on_two_days_is_staged_once_and_the_latest_load_wins(
    landed: Landed, sandbox: SandboxServer
) -> None:
    s = landed.settings
    with reader(s.db) as con:
        record_id, day = con.execute(
            "SELECT record_id, operation_day FROM stg.audit_records ORDER BY operation_date LIMIT 1"
        ).fetchall()[0]
    other = landed.today - timedelta(days=89) if day != landed.today - timedelta(days=89) else landed.today
    with PartnerCenterClient(s) as client:
        pages = list(
            SeekPaginator("/auditrecords", {"startDate": day.isoformat(), "endDate": day.isoformat()}).pages(client)
        )
        record = next(i for p in pages for i in p.items if i["id"] == record_id)
        response = client.get_json(
            "/auditrecords", params={"startDate": other.isoformat(), "endDate": other.isoformat()}
        )
        # the same record again on another day, as a later answer (an hour on) that says something else
        assert response.date is not None
        later = dataclasses.replace(response, date=response.date + timedelta(hours=1))
        items = [*response.data["items"], {**record, "operationStatus": "progress"}]
        with open_writer(s.db) as con:
            ctx = ExtractContext(client=client, con=con, raw_dir=s.raw_dir, statements_dir=s.data_dir / "statements")
            land_unit(
                ctx,
                dataset="audit",
                unit=audit.unit_name(other),
                resource=audit.AUDIT_RECORDS,
                source=lambda _: iter([Page(1, items, later)]),
                params={"startDate": other.isoformat(), "endDate": other.isoformat(), "size": 500},
            )
            build_staging(con)
            copies = con.execute("SELECT count(*) FROM raw.audit_records WHERE id = ?", [record_id]).fetchall()[0][0]
            staged = con.execute(
                "SELECT unit, operation_status FROM stg.audit_records WHERE record_id = ?", [record_id]
            ).fetchall()
    assert copies == 2
    assert staged == [(audit.unit_name(other), "progress")]


def _rows(con: Any, table: str) -> list[tuple[Any, ...]]:
    """A table's rows in a stable order, without the load id (a replay makes new loads)."""
    cols = "* EXCLUDE (load_id)" if table.startswith("raw.") else "*"
    return sorted(con.execute(f"SELECT {cols} FROM {table}").fetchall(), key=repr)


def test_replay_rebuilds_catalog_and_audit_from_raw_files(landed: Landed, tmp_path: Path) -> None:
    s = landed.settings
    with reader(s.db) as con:
        before = {t: _rows(con, t) for t in RAW + STG}
    shutil.copytree(s.raw_dir, tmp_path / "raw")
    fresh = load_settings(env={"RECON_DB": str(tmp_path / "recon.duckdb")})  # no sandbox, no network
    summary = replay(fresh)
    assert summary.units["catalog"] == 3 and summary.units["audit"] == 90 and not summary.skipped
    with open_writer(fresh.db) as con:
        build_staging(con)
        after = {t: _rows(con, t) for t in RAW + STG}
    assert all(before[t] for t in RAW + STG)
    assert after == before
