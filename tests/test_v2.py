"""v1 and v2 (Graph exports) give the same lines; export quirks and fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.extract import extract
from recon.sandbox import SandboxServer
from recon.settings import Settings
from recon.store import reader
from tests.conftest import settings_for

pytestmark = pytest.mark.slow
LINE_SETS = {
    "raw.recon_lines": "dataset, split_part(unit, '@', 1), subscription_id, charge_type, charge_start_date, "
    "charge_end_date, quantity, billable_quantity, unit_price, effective_unit_price, subtotal, tax_total, "
    "total_for_customer, currency, pc_to_bc_exchange_rate",
    "raw.usage_lines": "dataset, split_part(unit, '@', 1), subscription_id, entitlement_id, meter_id, usage_date, "
    "quantity, unit_price, effective_unit_price, billing_pre_tax_total, pricing_pre_tax_total, billing_currency, "
    "pc_to_bc_exchange_rate, coalesce(rate_of_partner_earned_credit, partner_earned_credit_percentage / 100)",
}
DATASETS = ["recon-billed", "recon-unbilled", "usage-billed", "usage-unbilled"]


def _lines(settings: Settings, units: set[tuple[str, str]] | None = None) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    with reader(settings.db) as con:
        for table, cols in LINE_SETS.items():
            rows = con.execute(f"SELECT {cols} FROM {table}").fetchall()
            out[table] = sorted((r for r in rows if units is None or (r[0], r[1]) in units), key=repr)
    return out


def _v2_units(settings: Settings) -> set[tuple[str, str]]:
    with reader(settings.db) as con:
        rows = con.execute(
            "SELECT dataset, split_part(unit, '@', 1) FROM meta.loads WHERE api = 'v2' AND status = 'complete'"
        ).fetchall()
    return {(str(d), str(u)) for d, u in rows}


FAST = {"export_retry_after_s": "0"}  # the Retry-After wait itself is covered by the sandbox's tests


@pytest.mark.parametrize(
    "switches", [FAST, {**FAST, "v2_key_style": "camel", "manifest": "link", "export_rows_per_blob": "40"}]
)
def test_v1_and_v2_give_the_same_rows_and_sums(tmp_path: Path, switches: dict[str, str]) -> None:
    with SandboxServer(tmp_path / "sb", switches=switches) as sandbox:
        v1 = settings_for(sandbox, tmp_path / "v1.duckdb")
        v2 = settings_for(sandbox, tmp_path / "v2.duckdb")
        assert not extract(v1, datasets=DATASETS, api="v1").failed
        summary = extract(v2, datasets=DATASETS, api="auto")
    assert not summary.failed, summary.failed
    units = _v2_units(v2)
    assert {d for d, _ in units} == set(DATASETS)  # every line dataset went through v2 at least once
    through_v1, through_v2 = _lines(v1, units), _lines(v2, units)
    for table in LINE_SETS:
        assert through_v2[table], table
        assert through_v1[table] == through_v2[table], table


def test_blob_quirks_and_faults_change_nothing(tmp_path: Path) -> None:
    faults = ["multigzip:0.5", "bom:0.5", "5xx:0.1@blobs", "drop:0.1@blobs", "429:0.2:1@operations"]
    with SandboxServer(tmp_path / "sb", switches={**FAST, "export_rows_per_blob": "60"}) as sandbox:
        clean = settings_for(sandbox, tmp_path / "clean.duckdb")
        extract(clean, datasets=DATASETS, api="auto")
    with SandboxServer(tmp_path / "sb2", switches={**FAST, "export_rows_per_blob": "60"}, faults=faults) as sandbox:
        target = settings_for(sandbox, tmp_path / "target.duckdb")
        summary = extract(target, datasets=DATASETS, api="auto")
    assert not summary.failed, summary.failed
    assert _lines(target) == _lines(clean)
    with reader(target.db) as con:
        blobs = con.execute(
            "SELECT count(*) FROM meta.loads, unnest(CAST(provenance AS JSON[])) AS p(e) "
            "WHERE api = 'v2' AND e->>'$.context.blob' IS NOT NULL"
        ).fetchall()[0][0]
    assert blobs > 4  # several blobs per export were read


def test_v2_refusing_a_legacy_invoice_falls_back_to_v1_with_a_note(tmp_path: Path) -> None:
    with SandboxServer(tmp_path / "sb", switches=FAST) as sandbox:
        settings = settings_for(sandbox, tmp_path / "r.duckdb")
        forced = extract(settings, datasets=["recon-billed"], api="v2")
        auto = extract(settings, datasets=["recon-billed"], api="auto")
    assert forced.failed and "5000" in (forced.results["recon-billed"].error or "")
    assert not auto.failed
    with reader(settings.db) as con:
        apis = dict(
            con.execute(
                "SELECT unit, api FROM meta.loads WHERE dataset = 'recon-billed' AND status = 'complete'"
            ).fetchall()
        )
    assert any(u.startswith("D") for u, api in apis.items() if api == "v1")  # the legacy invoice, via v1
    assert any(api == "v2" for api in apis.values())
