"""Kills, failures and re-runs: nothing committed is lost, nothing is doubled."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recon.extract import extract
from recon.sandbox import SandboxServer
from recon.settings import Settings
from recon.store import reader
from tests.conftest import admin, settings_for

pytestmark = pytest.mark.slow
PAGE = 5  # small pages, so every invoice spans many of them
DATASETS = ["recon-billed", "recon-unbilled"]  # the paged line datasets (snapshots always start afresh)

LINES = (
    "SELECT dataset, unit, page_no, line_no, subscription_id, charge_type, quantity, subtotal, total_for_customer "
    "FROM raw.recon_lines ORDER BY ALL"
)


def _lines(settings: Settings) -> list[tuple[object, ...]]:
    with reader(settings.db) as con:
        return con.execute(LINES).fetchall()


def _child(settings: Settings) -> subprocess.Popen[bytes]:
    code = (
        "import sys\n"
        "from recon.extract import extract\n"
        "from recon.settings import load_settings\n"
        f"extract(load_settings(), datasets={DATASETS!r}, page_size={PAGE}, api='v1')\n"
    )
    env = {**os.environ, "RECON_SANDBOX": str(settings.sandbox), "RECON_DB": str(settings.db)}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_at_random_points_then_rerun_equals_a_clean_load(tmp_path: Path) -> None:
    seed = int(os.environ.get("RECON_TEST_KILL_SEED", random.randrange(1 << 30)))
    print(f"kill seed: {seed} (replay with RECON_TEST_KILL_SEED={seed})")
    rnd = random.Random(seed)
    with SandboxServer(tmp_path / "sb", faults=["latency:1.0:0.03@lineitems"]) as sandbox:
        clean = settings_for(sandbox, tmp_path / "clean.duckdb")
        assert not extract(clean, datasets=DATASETS, page_size=PAGE, api="v1").failed
        expected = _lines(clean)
        assert len({(r[1]) for r in expected}) > 1 and max(r[2] for r in expected) > 3  # several units, many pages

        target = settings_for(sandbox, tmp_path / "target.duckdb")
        kills = 0
        for _ in range(4):
            child = _child(target)
            time.sleep(rnd.uniform(1.0, 4.0))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
            child.wait()
        summary = extract(target, datasets=DATASETS, page_size=PAGE, api="v1")
        assert not summary.failed, summary.failed
    assert kills >= 1, "no run was killed mid-load; the sleeps are too long for this machine"
    assert _lines(target) == expected
    with reader(target.db) as con:
        doubled = con.execute(
            "SELECT dataset, unit, count(*) FROM meta.loads WHERE status = 'complete' GROUP BY ALL HAVING count(*) > 1"
        ).fetchall()
        resumed = con.execute("SELECT count(*) FROM meta.loads WHERE status = 'complete' AND pages > 0").fetchall()
    assert doubled == []
    assert resumed[0][0] > 0


def test_retryable_faults_end_with_exactly_the_rows_of_a_fault_free_run(tmp_path: Path) -> None:
    faults = ["429:0.2:1", "5xx:0.05", "drop:0.05", "token-expiry:1.0:5"]
    with SandboxServer(tmp_path / "sb") as sandbox:
        clean = settings_for(sandbox, tmp_path / "clean.duckdb")
        assert not extract(clean, datasets=["recon-billed", "recon-unbilled"], page_size=4 * PAGE, api="v1").failed
        expected = _lines(clean)
    with SandboxServer(tmp_path / "sb2", faults=faults) as sandbox:
        target = settings_for(sandbox, tmp_path / "target.duckdb")
        summary = extract(target, datasets=["recon-billed", "recon-unbilled"], page_size=4 * PAGE, api="v1")
    assert not summary.failed, summary.failed
    assert summary.retries > 0
    assert _lines(target) == expected


def test_the_rerun_continues_where_the_failed_load_stopped(tmp_path: Path) -> None:
    with SandboxServer(tmp_path / "sb", faults=["badjson:0.25@lineitems"]) as sandbox:
        target = settings_for(sandbox, tmp_path / "target.duckdb")
        stopped: list[tuple[str, int]] = []
        for _ in range(10):  # until a run stops after a unit's first page (a first-page failure keeps nothing)
            assert extract(target, datasets=["recon-billed"], page_size=PAGE, api="v1").failed
            with reader(target.db) as con:
                stopped = con.execute(
                    "SELECT unit, pages FROM meta.loads WHERE status = 'failed' AND resume_point IS NOT NULL"
                ).fetchall()
            if stopped:
                break
        unit, pages = stopped[0]
        admin(sandbox, "PUT", "/faults", json=[])
        before = len(admin(sandbox, "GET", "/requests").json())
        assert not extract(target, datasets=["recon-billed"], page_size=PAGE, api="v1").failed
        rerun = [
            r for r in admin(sandbox, "GET", "/requests").json()[before:] if f"/invoices/{unit}/lineitems" in r["path"]
        ]
        clean = settings_for(sandbox, tmp_path / "clean.duckdb")
        extract(clean, datasets=["recon-billed"], page_size=PAGE, api="v1")
    with reader(clean.db) as con:
        total = con.execute("SELECT pages FROM meta.loads WHERE unit = ? AND status = 'complete'", [unit]).fetchall()
    query = str(rerun[0]["query"]).lower()
    # the first request for that invoice in the re-run asks for the page after the last good one
    assert "seekoperation=next" in query or ("offset=" in query and "offset=0" not in query), rerun[0]
    assert len(rerun) == total[0][0] - pages  # only the pages it did not have yet
    assert _lines(target) == _lines(clean)
