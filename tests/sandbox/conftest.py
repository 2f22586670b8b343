"""Fixtures: one running tiny sandbox per module, an HTTPS session that trusts its CA, and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from recon.sandbox import SandboxServer

from .helpers import https_session, msal_app


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """A running tiny sandbox (seed 1, default rates)."""
    with SandboxServer(tmp_path_factory.mktemp("sandbox")) as server:
        yield server


@pytest.fixture(scope="module")
def info(sandbox: SandboxServer) -> dict[str, Any]:
    """The sandbox.json content."""
    return sandbox.info


@pytest.fixture(scope="module")
def http(info: dict[str, Any]) -> requests.Session:
    """An HTTPS session with a Partner Center bearer token."""
    result = msal_app(info, info["client_secret"]).acquire_token_for_client([info["pc_scope"]])
    session = https_session(info)
    session.headers["Authorization"] = f"Bearer {result['access_token']}"
    return session


@pytest.fixture(scope="module")
def admin(info: dict[str, Any]) -> requests.Session:
    """An HTTPS session carrying the admin token."""
    session = https_session(info)
    session.headers["Authorization"] = f"Bearer {info['admin_token']}"
    return session
