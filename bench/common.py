"""What the benchmark scripts share: a sandbox in its own process, and its request log."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from recon.api.tls import ssl_context


@contextmanager
def served(state_dir: Path, args: Sequence[str], timeout: float = 600) -> Iterator[tuple[subprocess.Popen[str], dict]]:
    """`recon sandbox serve --state-dir DIR ARGS...`; yields the process and its sandbox.json once it serves.

    Its stderr goes to a file, so a chatty server never blocks on a full pipe."""
    state_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "recon", "sandbox", "serve", "--state-dir", str(state_dir), *args]
    with (state_dir / "stderr.txt").open("w+") as errors:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, text=True)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and server.poll() is None:
                errors.seek(0)
                if "recon sandbox on" in errors.read():  # printed once the port accepts connections
                    yield server, json.loads((state_dir / "sandbox.json").read_text())
                    return
                time.sleep(0.2)
            errors.seek(0)
            raise SystemExit(f"the sandbox did not start:\n{errors.read()[-2000:]}")
        finally:
            server.terminate()
            server.wait(timeout=60)


def request_log(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The sandbox's request log (admin API)."""
    response = httpx.get(
        f"{info['admin_url']}/requests",
        headers={"Authorization": f"Bearer {info['admin_token']}"},
        verify=ssl_context(Path(info["ca_cert"])),
        trust_env=False,
        timeout=300,
    )
    response.raise_for_status()
    log: list[dict[str, Any]] = response.json()
    return log


def proc_status(pid: int, field: str) -> int:
    """A memory figure of a process from `/proc/<pid>/status` (`VmRSS`, `VmHWM`, ...) in bytes (psutil is not
    installed)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not found for process {pid}")
