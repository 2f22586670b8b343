"""Settings from CLI overrides, environment (`RECON_*`), a TOML file, a sandbox.json, then defaults."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from recon.errors import SettingsError


class Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """Return the secret value (for the one place that needs it)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class SettingSpec:
    """One documented setting: its env name, TOML key, default and meaning."""

    name: str
    help: str
    default: str | None = None
    secret: bool = False
    sandbox_key: str | None = None

    @property
    def env(self) -> str:
        return f"RECON_{self.name.upper()}"

    @property
    def toml_key(self) -> str:
        return self.name


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("db", "DuckDB file", "data/recon.duckdb"),
    SettingSpec("data_dir", "raw files, statements, reports", None),
    SettingSpec(
        "pc_base_url",
        "Partner Center REST base (without /v1)",
        "https://api.partnercenter.microsoft.com",
        sandbox_key="pc_base_url",
    ),
    SettingSpec("graph_base_url", "Graph base", "https://graph.microsoft.com/v1.0", sandbox_key="graph_base_url"),
    SettingSpec("authority", "full authority URL including the tenant", None, sandbox_key="authority"),
    SettingSpec("tenant_id", "app registration: tenant", None, sandbox_key="tenant_id"),
    SettingSpec("client_id", "app registration: client id", None, sandbox_key="client_id"),
    SettingSpec("client_secret", "app registration: client secret", None, secret=True, sandbox_key="client_secret"),
    SettingSpec("client_cert", "PEM with certificate and private key, instead of a secret", None),
    SettingSpec("ca_bundle", "extra CA certificate file to trust", None, sandbox_key="ca_cert"),
    SettingSpec("sandbox", "path of a sandbox's sandbox.json; fills connection settings not set explicitly", None),
    SettingSpec("catalog_countries", "comma-separated ISO country codes the catalog is read for", None),
    SettingSpec("auth_mode", "app (app-only token) or user (app+user, after `recon auth login`)", "app"),
    SettingSpec("token_cache", "the signed-in user's token cache file (mode 0600)", None),
    SettingSpec("decisions", "analysts' decisions on findings (a SQLite file apart from the database)", None),
)
AUTH_MODES = ("app", "user")
SPEC_BY_NAME = {s.name: s for s in SPECS}
DEFAULT_CONFIG = Path("recon.toml")


@dataclass(frozen=True)
class Settings:
    """Resolved settings; `sources` says where each value came from."""

    db: Path
    data_dir: Path
    pc_base_url: str
    graph_base_url: str
    authority: str | None
    tenant_id: str | None
    client_id: str | None
    client_secret: Secret | None
    client_cert: Path | None
    ca_bundle: Path | None
    sandbox: Path | None
    auth_mode: str = "app"
    token_cache: Path | None = None
    config_path: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    sandbox_info: Mapping[str, Any] = field(default_factory=dict)
    catalog_countries: str | None = None  # normalised `NL,DE`; None: the customers' countries
    decisions: Path | None = None  # None: decisions.sqlite in data_dir

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def decisions_path(self) -> Path:
        """The decisions store (RECON_DECISIONS, default `decisions.sqlite` in RECON_DATA_DIR)."""
        return self.decisions or self.data_dir / "decisions.sqlite"

    @property
    def pc_scope(self) -> str:
        return str(self.sandbox_info.get("pc_scope", "https://api.partnercenter.microsoft.com/.default"))

    @property
    def graph_scope(self) -> str:
        return str(self.sandbox_info.get("graph_scope", "https://graph.microsoft.com/.default"))

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """Every setting as (env, toml key, shown value, source, meaning), secrets masked."""
        out = []
        for spec in SPECS:
            value = getattr(self, spec.name)
            shown = "" if value is None else ("********" if spec.secret else str(value))
            out.append((spec.env, spec.toml_key, shown, self.sources.get(spec.name, "default"), spec.help))
        return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("recon", data)
    unknown = sorted(set(section) - set(SPEC_BY_NAME))
    if "recon" in data and len(data) > 1:
        unknown += sorted(k for k in data if k != "recon")
    if unknown:
        raise SettingsError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return {k: str(v) for k, v in section.items()}


def read_sandbox_json(path: Path) -> dict[str, Any]:
    """Read a sandbox's sandbox.json."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"RECON_SANDBOX: cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SettingsError(f"RECON_SANDBOX: {path} is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or "pc_base_url" not in data:
        raise SettingsError(f"RECON_SANDBOX: {path} is not a sandbox.json (no pc_base_url)")
    return data


def _country_list(value: str | None) -> str | None:
    """RECON_CATALOG_COUNTRIES as upper-case `NL,DE` (None when unset); refuse anything but ISO-2 codes."""
    codes = [c.strip().upper() for c in (value or "").split(",") if c.strip()]
    bad = [c for c in codes if len(c) != 2 or not c.isascii() or not c.isalpha()]
    if bad:
        raise SettingsError(f"RECON_CATALOG_COUNTRIES: not two-letter ISO country codes: {', '.join(bad)}")
    return ",".join(dict.fromkeys(codes)) or None


def _check_url(name: str, value: str | None) -> None:
    if value is None:
        return
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        spec = SPEC_BY_NAME[name]
        raise SettingsError(f"{spec.env}: {value!r} is not an http(s) URL")


def load_settings(
    config: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    only: frozenset[str] | None = None,
) -> Settings:
    """Resolve settings: overrides, then env, then TOML, then sandbox.json, then defaults.

    With `only`, settings outside that set are not read from env or TOML (they keep their defaults).
    """
    env = os.environ if env is None else env
    values: dict[str, str] = {}
    sources: dict[str, str] = {}

    config_path: Path | None = None
    explicit_config = config is not None or env.get("RECON_CONFIG")
    if config is not None:
        config_path = Path(config)
    elif env.get("RECON_CONFIG"):
        config_path = Path(env["RECON_CONFIG"])
    elif DEFAULT_CONFIG.exists():
        config_path = DEFAULT_CONFIG
    toml_values: dict[str, str] = {}
    if config_path is not None:
        if not config_path.exists():
            if explicit_config:
                raise SettingsError(f"config file {config_path} does not exist")
        else:
            toml_values = _read_toml(config_path)

    for spec in SPECS:
        override = (overrides or {}).get(spec.name)
        if only is not None and spec.name not in only and override is None:
            continue
        if override is not None:
            values[spec.name], sources[spec.name] = str(override), "option"
        elif env.get(spec.env):
            values[spec.name], sources[spec.name] = env[spec.env], f"env {spec.env}"
        elif spec.name in toml_values:
            values[spec.name], sources[spec.name] = toml_values[spec.name], f"toml {config_path}"

    sandbox_info: dict[str, Any] = {}
    if "sandbox" in values:
        sandbox_info = read_sandbox_json(Path(values["sandbox"]))
        for spec in SPECS:
            if spec.sandbox_key and spec.name not in values and sandbox_info.get(spec.sandbox_key):
                values[spec.name] = str(sandbox_info[spec.sandbox_key])
                sources[spec.name] = "sandbox.json"

    for spec in SPECS:
        if spec.name not in values and spec.default is not None:
            values[spec.name] = spec.default
            sources[spec.name] = "default"
    if "authority" not in values and values.get("tenant_id"):
        values["authority"] = f"https://login.microsoftonline.com/{values['tenant_id']}"
        sources["authority"] = "default"

    for name in ("pc_base_url", "graph_base_url", "authority"):
        _check_url(name, values.get(name))

    db = Path(values["db"]).expanduser()
    data_dir = Path(values["data_dir"]).expanduser() if "data_dir" in values else db.parent
    if "data_dir" not in values:
        sources["data_dir"] = "folder of RECON_DB"

    def opt_path(name: str) -> Path | None:
        return Path(values[name]).expanduser() if name in values else None

    auth_mode = values["auth_mode"].strip().lower()
    if auth_mode not in AUTH_MODES:
        raise SettingsError(f"RECON_AUTH_MODE: {values['auth_mode']!r} is not one of {', '.join(AUTH_MODES)}")
    if "token_cache" not in values:
        sources["token_cache"] = "in RECON_DATA_DIR"  # noqa: S105 (a source label)
    if "decisions" not in values:
        sources["decisions"] = "in RECON_DATA_DIR"

    return Settings(
        db=db,
        data_dir=data_dir,
        pc_base_url=values["pc_base_url"].rstrip("/"),
        graph_base_url=values["graph_base_url"].rstrip("/"),
        authority=values.get("authority"),
        tenant_id=values.get("tenant_id"),
        client_id=values.get("client_id"),
        client_secret=Secret(values["client_secret"]) if "client_secret" in values else None,
        client_cert=opt_path("client_cert"),
        ca_bundle=opt_path("ca_bundle"),
        sandbox=opt_path("sandbox"),
        auth_mode=auth_mode,
        token_cache=opt_path("token_cache") or data_dir / "token_cache.json",
        config_path=config_path if toml_values or explicit_config else None,
        sources=sources,
        sandbox_info=sandbox_info,
        catalog_countries=_country_list(values.get("catalog_countries")),
        decisions=opt_path("decisions") or data_dir / "decisions.sqlite",
    )
