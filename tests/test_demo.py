"""`recon demo` as a user runs it: a real process, a real sandbox, a real dashboard."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from recon.store import reader

pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env.update(extra)
    env["COLUMNS"] = "160"
    return env


def _demo(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recon", "demo", "--no-dashboard", *args],
        env=_env(RECON_DB=str(db), RECON_PC_BASE_URL="notaurl"),  # the demo ignores connection settings
        capture_output=True,
        text=True,
        timeout=300,
    )


def _tables(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with reader(db) as con:
        names = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema IN ('stg', 'recon') ORDER BY 1"
        ).fetchall()
        return {n: sorted(con.execute(f"SELECT * FROM {n}").fetchall(), key=repr) for (n,) in names}


FAST = ("--switch", "export_retry_after_s=0")  # exports answer at once (the default demo is walked below)


def test_demo_without_dashboard_writes_where_recon_db_says(tmp_path: Path) -> None:
    db = tmp_path / "some" / "path.duckdb"
    proc = _demo(db, *FAST)
    assert proc.returncode == 0, proc.stderr
    assert "R09" in proc.stdout and "Report:" in proc.stdout
    with reader(db) as con:
        lines = con.execute("SELECT count(*) FROM stg.recon_lines").fetchall()[0][0]
        findings = con.execute("SELECT count(*) FROM recon.findings").fetchall()[0][0]
    assert lines > 0 and findings >= 1
    reports = list((db.parent / "reports").glob("recon-*.xlsx"))
    assert len(reports) == 1

    before = _tables(db)
    again = _demo(db, *FAST)
    assert again.returncode == 0, again.stderr
    after = _tables(db)
    assert set(before) == set(after) and {"stg.invoices", "stg.recon_lines", "recon.findings"} <= set(before)
    for name in before:
        assert before[name] == after[name], f"{name} changed on re-run"


def test_demo_serves_the_dashboard(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "recon", "demo", "--db", str(tmp_path / "d.duckdb")],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = None
    output = []
    try:
        deadline = time.monotonic() + 240
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            match = re.search(r"Dashboard: (http://127\.0\.0\.1:\d+)", line)
            if match:
                url = match.group(1)
                break
        assert url, "".join(output)
        assert any("Findings" in line for line in output)
        response = httpx.get(url, timeout=30)
        assert response.status_code == 200
        assert "<html" in response.text.lower()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode in (0, 130)
