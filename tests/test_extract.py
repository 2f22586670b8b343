"""Extraction against the sandbox: what lands, what the client sent, snapshots and statements."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest

from recon.extract import extract
from recon.sandbox import SandboxServer
from recon.settings import Settings
from recon.store import reader
from tests.conftest import admin, settings_for

pytestmark = pytest.mark.slow


def test_client_sends_the_documented_query_and_headers(sb_settings: Settings, sandbox: SandboxServer) -> None:
    admin(sandbox, "POST", "/reset")
    summary = extract(sb_settings, datasets=["recon-billed", "recon-unbilled"])
    assert not summary.failed
    log = admin(sandbox, "GET", "/requests").json()
    requests = log if isinstance(log, list) else log["requests"]
    lines = [r for r in requests if "/lineitems" in r["path"]]
    assert lines
    correlation = {r["headers"].get("ms-correlationid") for r in lines}
    assert len(correlation) == 1 and None not in correlation  # one per run
    for r in lines:
        query = {k.lower(): v for k, v in (parse_qs(r["query"]) if isinstance(r["query"], str) else r["query"]).items()}
        flat = {k: (v[0] if isinstance(v, list) else v) for k, v in query.items()}
        assert flat["provider"] in ("onetime", "office")  # office: the legacy invoice, paged by offset
        assert flat["invoicelineitemtype"] == "billinglineitems"
        assert flat["size"] == "2000"
        assert r["headers"].get("ms-requestid")
        assert r["headers"].get("accept") == "application/json"
        assert {k.lower() for k in r["headers"]} >= {"authorization", "ms-requestid", "ms-correlationid"}
        if "/unbilled/" in r["path"]:
            assert flat["currencycode"] == "EUR" and flat["period"] in ("current", "previous")


def test_unbilled_snapshots_are_kept_per_as_of_time(tmp_path: Path) -> None:
    with SandboxServer(tmp_path / "sb") as sandbox:
        settings = settings_for(sandbox, tmp_path / "recon.duckdb")
        extract(settings, datasets=["recon-unbilled"])
        extract(settings, datasets=["recon-unbilled"])  # same clock: replaces
        admin(sandbox, "POST", "/clock/advance", json={"days": 5})
        extract(settings, datasets=["recon-unbilled"])
    with reader(settings.db) as con:
        units = [
            u
            for (u,) in con.execute(
                "SELECT unit FROM meta.loads WHERE dataset = 'recon-unbilled' AND status = 'complete' ORDER BY unit"
            ).fetchall()
        ]
        replaced = con.execute(
            "SELECT count(*) FROM meta.loads WHERE dataset = 'recon-unbilled' AND status = 'replaced'"
        ).fetchall()[0][0]
    assert len(units) == 4 and replaced == 2
    assert {u.split("@")[0] for u in units} == {"EUR/current", "EUR/previous"}
    assert len({u.split("@")[1] for u in units}) == 2


def test_statements_and_summaries_land(sb_settings: Settings) -> None:
    summary = extract(sb_settings, datasets=["invoices"])
    assert not summary.failed, summary.failed
    with reader(sb_settings.db) as con:
        invoices = [i for (i,) in con.execute("SELECT id FROM raw.invoices").fetchall()]
        prov = con.execute(
            "SELECT unit, provenance->>'$[0].sha256' FROM meta.loads WHERE dataset = 'statements' "
            "AND status = 'complete'"
        ).fetchall()
        summaries = con.execute("SELECT currency_code, balance_amount FROM raw.invoice_summaries").fetchall()
    assert sorted(u for u, _ in prov) == sorted(invoices)
    for invoice in invoices:
        pdf = sb_settings.data_dir / "statements" / f"{invoice}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF")
    assert summaries and summaries[0][0] == "EUR"


def test_a_canary_secret_never_leaks(tmp_path: Path) -> None:
    canary = "canary-Secret-7f3a9c1e"
    with SandboxServer(tmp_path / "sb") as sandbox:
        import json

        info = json.loads(sandbox.sandbox_json.read_text())
        info["client_secret"] = canary  # the sandbox refuses it: the error path must not echo it
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(info))
        from recon.settings import load_settings

        settings = load_settings(env={"RECON_SANDBOX": str(bad), "RECON_DB": str(tmp_path / "r.duckdb")})
        summary = extract(settings)
        assert summary.failed
        errors = " ".join(r.error or "" for r in summary.results.values())
        assert "invalid_client" in errors or "AADSTS" in errors
        assert canary not in errors
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "bad.json":
            assert canary.encode() not in path.read_bytes(), path


def test_replay_rebuilds_the_tables_from_raw_files_alone(sb_settings: Settings, tmp_path: Path) -> None:
    import shutil

    from recon.extract.replay import replay
    from recon.settings import load_settings

    extract(sb_settings)
    tables = (
        "raw.invoices",
        "raw.recon_lines",
        "raw.invoice_summaries",
        "raw.usage_lines",
        "raw.customers",
        "raw.subscriptions",
        "raw.order_lines",
    )
    cols = "* EXCLUDE (load_id)"
    with reader(sb_settings.db) as con:
        before = {t: sorted(con.execute(f"SELECT {cols} FROM {t}").fetchall(), key=repr) for t in tables}
        billed_units = con.execute(
            "SELECT count(*) FROM meta.loads WHERE dataset = 'recon-billed' AND status = 'complete'"
        ).fetchall()[0][0]
    fresh_dir = tmp_path / "fresh"
    shutil.copytree(sb_settings.raw_dir, fresh_dir / "raw")
    fresh = load_settings(env={"RECON_DB": str(fresh_dir / "recon.duckdb")})  # no sandbox, no network
    summary = replay(fresh)
    assert summary.units["recon-billed"] == billed_units > 0 and not summary.skipped
    with reader(fresh.db) as con:
        after = {t: sorted(con.execute(f"SELECT {cols} FROM {t}").fetchall(), key=repr) for t in tables}
    assert after == before
    only = replay(fresh, dataset="recon-billed", unit=before["raw.recon_lines"][0][1])
    assert sum(only.units.values()) == 1


def test_auth_check_reports_both_scopes(sandbox: SandboxServer, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env.update(RECON_SANDBOX=str(sandbox.sandbox_json), COLUMNS="200")
    ok = subprocess.run([sys.executable, "-m", "recon", "auth", "check"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("token issued") == 2
    info = json.loads(sandbox.sandbox_json.read_text())
    info["client_secret"] = "wrong-secret-123456"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(info))
    env["RECON_SANDBOX"] = str(bad)
    refused = subprocess.run([sys.executable, "-m", "recon", "auth", "check"], env=env, capture_output=True, text=True)
    assert refused.returncode == 3
    assert "invalid_client" in refused.stdout and "wrong-secret-123456" not in refused.stdout
