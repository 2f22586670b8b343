"""Serving the Streamlit dashboard as a child process (nothing here imports Streamlit)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import recon
from recon.errors import ReconError


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_path() -> Path:
    """The dashboard's app.py (next to the package in a checkout, or in the working folder)."""
    for candidate in (Path(recon.__file__).resolve().parents[1] / "app.py", Path.cwd() / "app.py"):
        if candidate.exists():
            return candidate
    raise ReconError("app.py not found: run recon from the project's checkout")


def start_dashboard(
    db: Path, log: Path, port: int | None = None, *, timeout: float = 60.0
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `streamlit run app.py` on 127.0.0.1 for `db`; return the process and its URL once it is healthy."""
    port = port or free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RECON_DB": str(db.resolve())}
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--browser.gatherUsageStats=false",
        "--client.showErrorDetails=false",
    ]
    with log.open("ab") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            lines = log.read_text(errors="replace").strip().splitlines()
            raise ReconError(f"the dashboard exited at start: {lines[-1] if lines else proc.returncode} (see {log})")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise ReconError(f"the dashboard did not answer on {url} within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a child process politely, then firmly."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
