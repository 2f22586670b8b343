"""Shared fixtures: a running sandbox and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recon.api.tls import ssl_context
from recon.sandbox import SandboxServer
from recon.settings import Settings, load_settings


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """A running tiny sandbox (seed 1, default injection rates), shared by the session."""
    # Retry-After of running exports is 0 here; waiting on it is tested with the sandbox itself.
    with SandboxServer(tmp_path_factory.mktemp("sandbox-main"), switches={"export_retry_after_s": "0"}) as server:
        yield server


def settings_for(sandbox: SandboxServer, db: Path) -> Settings:
    """Settings that point at the sandbox through RECON_SANDBOX, writing to `db`."""
    return load_settings(env={"RECON_SANDBOX": str(sandbox.sandbox_json), "RECON_DB": str(db)})


@pytest.fixture
def sb_settings(sandbox: SandboxServer, tmp_path: Path) -> Settings:
    """Settings for a fresh database in tmp_path against the shared sandbox."""
    return settings_for(sandbox, tmp_path / "recon.duckdb")


def admin(sandbox: SandboxServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Call the sandbox's admin API (answer key, request log, clock, faults) and insist on success."""
    info = sandbox.info
    response = httpx.request(
        method,
        f"{info['admin_url']}{path}",
        headers={"Authorization": f"Bearer {info['admin_token']}"},
        verify=ssl_context(Path(info["ca_cert"])),
        trust_env=False,
        **kwargs,
    )
    response.raise_for_status()
    return response
