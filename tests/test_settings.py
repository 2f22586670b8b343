from __future__ import annotations

import json
from pathlib import Path

import pytest

from recon.errors import SettingsError
from recon.settings import SPECS, Secret, load_settings


def _sandbox_json(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.json"
    path.write_text(
        json.dumps(
            {
                "pc_base_url": "https://127.0.0.1:9999",
                "graph_base_url": "https://127.0.0.1:9999/v1.0",
                "authority": "https://127.0.0.1:9999/tenant-x",
                "tenant_id": "tenant-x",
                "client_id": "client-x",
                "client_secret": "sandbox-secret-value",
                "client_cert": str(tmp_path / "app.pem"),
                "ca_cert": str(tmp_path / "ca.pem"),
                "pc_scope": "https://api.partnercenter.microsoft.com/.default",
                "graph_scope": "https://graph.microsoft.com/.default",
            }
        )
    )
    return path


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(env={})
    assert s.db == Path("data/recon.duckdb")
    assert s.data_dir == Path("data")
    assert s.pc_base_url == "https://api.partnercenter.microsoft.com"
    assert s.graph_base_url == "https://graph.microsoft.com/v1.0"
    assert s.authority is None
    assert s.sources["db"] == "default"


def test_env_beats_toml_beats_default(tmp_path: Path) -> None:
    toml = tmp_path / "recon.toml"
    toml.write_text('db = "from-toml.duckdb"\ntenant_id = "t-toml"\nclient_id = "c-toml"\n')
    s = load_settings(toml, env={"RECON_DB": "from-env.duckdb"})
    assert s.db == Path("from-env.duckdb")
    assert s.sources["db"] == "env RECON_DB"
    assert s.tenant_id == "t-toml"
    assert s.sources["tenant_id"].startswith("toml")
    assert s.authority == "https://login.microsoftonline.com/t-toml"


def test_recon_config_env_names_the_file(tmp_path: Path) -> None:
    toml = tmp_path / "other.toml"
    toml.write_text('[recon]\ndata_dir = "elsewhere"\n')
    s = load_settings(env={"RECON_CONFIG": str(toml)})
    assert s.data_dir == Path("elsewhere")


def test_data_dir_defaults_to_db_folder() -> None:
    s = load_settings(env={"RECON_DB": "/x/y/z.duckdb"})
    assert s.data_dir == Path("/x/y")
    assert s.reports_dir == Path("/x/y/reports")


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "absent.toml", env={})


def test_unknown_toml_key_is_an_error(tmp_path: Path) -> None:
    toml = tmp_path / "recon.toml"
    toml.write_text('databse = "typo"\n')
    with pytest.raises(SettingsError, match="unknown setting"):
        load_settings(toml, env={})


def test_bad_url_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="RECON_PC_BASE_URL"):
        load_settings(env={"RECON_PC_BASE_URL": "notaurl"})


def test_sandbox_fills_only_what_is_not_set(tmp_path: Path) -> None:
    sb = _sandbox_json(tmp_path)
    s = load_settings(env={"RECON_SANDBOX": str(sb), "RECON_CLIENT_ID": "explicit-client"})
    assert s.pc_base_url == "https://127.0.0.1:9999"
    assert s.authority == "https://127.0.0.1:9999/tenant-x"
    assert s.client_id == "explicit-client"
    assert s.sources["client_id"] == "env RECON_CLIENT_ID"
    assert s.sources["pc_base_url"] == "sandbox.json"
    assert s.client_secret == Secret("sandbox-secret-value")
    assert s.ca_bundle == tmp_path / "ca.pem"
    assert s.client_cert is None  # used only when RECON_CLIENT_CERT is set


def test_secrets_never_print(tmp_path: Path) -> None:
    s = load_settings(env={"RECON_CLIENT_SECRET": "canary-secret-123456"})
    assert "canary" not in repr(s)
    assert "canary" not in str(s.rows())
    assert s.client_secret is not None and s.client_secret.get() == "canary-secret-123456"


def test_only_limits_what_is_read() -> None:
    s = load_settings(env={"RECON_PC_BASE_URL": "notaurl", "RECON_DB": "a.duckdb"}, only=frozenset({"db"}))
    assert s.db == Path("a.duckdb")
    assert s.pc_base_url == "https://api.partnercenter.microsoft.com"


def test_every_setting_follows_the_naming_pattern() -> None:
    for spec in SPECS:
        assert spec.env == "RECON_" + spec.name.upper()
        assert spec.toml_key == spec.name
