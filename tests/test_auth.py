"""App+user sign-in: `recon auth login` (device code, real msal over HTTPS), the token cache file, user-mode calls."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from recon.cli import main
from recon.errors import EXIT_OK, EXIT_UPSTREAM, EXIT_USAGE
from recon.extract import extract
from recon.sandbox import SandboxServer
from recon.settings import load_settings
from recon.store import reader
from tests.conftest import admin

pytestmark = pytest.mark.slow


@pytest.fixture
def user_env(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Environment for user mode against the shared sandbox; returns the token cache path."""
    for name in [k for k in os.environ if k.startswith("RECON_")]:
        monkeypatch.delenv(name)
    cache = tmp_path / "state" / "token_cache.json"
    monkeypatch.setenv("RECON_SANDBOX", str(sandbox.sandbox_json))
    monkeypatch.setenv("RECON_DB", str(tmp_path / "recon.duckdb"))
    monkeypatch.setenv("RECON_AUTH_MODE", "user")
    monkeypatch.setenv("RECON_TOKEN_CACHE", str(cache))
    return cache


@pytest.fixture
def app_user_only(sandbox: SandboxServer) -> Iterator[None]:
    """Switch app_user_only on for one test (the sandbox is shared, so it is switched off again)."""
    admin(sandbox, "PUT", "/switches", json={"app_user_only": "on"})
    try:
        yield
    finally:
        admin(sandbox, "PUT", "/switches", json={"app_user_only": "off"})


def _secrets_in(cache: Path) -> list[str]:
    data = json.loads(cache.read_text())
    return [e["secret"] for kind in ("AccessToken", "RefreshToken") for e in data.get(kind, {}).values()]


def _login(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["auth", "login"]) == EXIT_OK
    return " ".join(capsys.readouterr().out.split())


def test_login_keeps_a_private_cache_and_user_mode_calls_as_the_user(
    sandbox: SandboxServer,
    user_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    app_user_only: None,
) -> None:
    before = len(admin(sandbox, "GET", "/requests").json())
    out = _login(capsys)
    assert "/devicelogin" in out and "enter the code" in out
    assert stat.S_IMODE(user_env.stat().st_mode) == 0o600
    accounts = json.loads(user_env.read_text())["Account"]
    user = next(iter(accounts.values()))["username"]
    assert user.startswith("admin@") and f"Signed in as {user}" in out

    assert main(["auth", "check"]) == EXIT_OK
    checked = capsys.readouterr().out
    assert f"User: {user}" in checked
    assert checked.count("token issued") == 2  # Partner Center from the sign-in, Graph through its refresh token

    settings = load_settings()
    summary = extract(settings, datasets=["customers"], api="v1")
    assert not summary.failed and summary.results["customers"].rows > 0
    with reader(settings.db) as con:
        customer = str(con.execute("SELECT min(id) FROM raw.customers").fetchall()[0][0])
    capsys.readouterr()
    assert main(["customers", "agreement", customer]) == EXIT_OK  # App+User only: served to the user
    assert "Microsoft Customer Agreement" in capsys.readouterr().out
    monkeypatch.setenv("RECON_AUTH_MODE", "app")
    assert main(["customers", "agreement", customer]) == EXIT_UPSTREAM  # refused to the app alone
    assert "900329" in capsys.readouterr().err

    log = admin(sandbox, "GET", "/requests").json()[before:]
    grants = [r["form"]["grant_type"] for r in log if "form" in r]
    assert grants[0].endswith("device_code")
    user_grants = grants[: grants.index("client_credentials")]  # the app-only client comes last
    assert set(user_grants) == {"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}
    graph = [r for r in log if r.get("form", {}).get("grant_type") == "refresh_token"]
    assert any("graph.microsoft.com" in r["form"]["scope"] for r in graph)
    for secret in _secrets_in(user_env):  # never printed
        assert secret not in out and secret not in checked


def test_missing_or_unusable_sign_in_is_one_line_and_exit_2(user_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extract", "--datasets", "customers", "--api", "v1"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no signed-in user" in err and "recon auth login" in err
    assert main(["auth", "check"]) == EXIT_USAGE
    assert "recon auth login" in capsys.readouterr().err

    _login(capsys)
    user_env.chmod(0o644)
    assert main(["extract", "--datasets", "customers", "--api", "v1"]) == EXIT_USAGE
    assert "open to other users (mode 644)" in " ".join(capsys.readouterr().err.split())
    _login(capsys)  # signing in again replaces the file with a private one
    assert stat.S_IMODE(user_env.stat().st_mode) == 0o600

    data = json.loads(user_env.read_text())
    data["AccessToken"] = {}
    for entry in data["RefreshToken"].values():
        entry["secret"] = "revoked-refresh-token-value"
    user_env.write_text(json.dumps(data))
    user_env.chmod(0o600)
    assert main(["extract", "--datasets", "customers", "--api", "v1"]) == EXIT_USAGE
    err = " ".join(capsys.readouterr().err.split())
    assert "is no longer valid (invalid_grant" in err and "recon auth login" in err
    assert "revoked-refresh-token-value" not in err
