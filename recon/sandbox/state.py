"""The running sandbox's state: configuration, world, clock, identity, tokens and request log."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from recon.sandbox.commerce import Commerce
from recon.sandbox.faults import FaultPlan
from recon.sandbox.paging import TokenCodec
from recon.sandbox.rand import det_guid, digest
from recon.sandbox.tls import TlsFiles, ensure, load_client_certificate
from recon.sandbox.tokens import TokenStore
from recon.sandbox.world import DEFAULT_TODAY, World, build_world, closed_periods, first_month

PC_SCOPE = "https://api.partnercenter.microsoft.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_SECRET_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789~._-"  # noqa: S105 (alphabet)


def _secret(seed: int, purpose: str, length: int = 40) -> str:
    """A secret-looking string derived from the seed (Entra client secrets look like this)."""
    raw = digest(seed, purpose) + digest(seed, purpose, 2)
    return "".join(_SECRET_CHARS[b % len(_SECRET_CHARS)] for b in raw[:length])


@dataclass
class Settings:
    """What a sandbox was started with (reset returns to it)."""

    seed: int = 1
    size: str = "tiny"
    today: date | None = None
    switches: dict[str, str] = field(default_factory=dict)
    inject_rates: dict[str, float] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    start: date | None = None  # where the clock starts (default: `today`); the world is still fixed by `today`

    @property
    def start_date(self) -> date:
        """The clock's start: `start`, else `today`, else the world's default date."""
        return self.start or self.today or DEFAULT_TODAY


class SandboxState:
    """Everything the ASGI app reads and changes; one instance per running sandbox."""

    def __init__(self, state_dir: Path, settings: Settings):
        self.state_dir = Path(state_dir).resolve()
        self.settings = settings
        self.lock = threading.RLock()
        seed = settings.seed
        self.tenant_id = det_guid(seed, "tenant")
        self.client_id = det_guid(seed, "client")
        self.client_secret = _secret(seed, "client-secret")
        self.admin_token = _secret(seed, "admin-token", 32)
        self.user_oid = det_guid(seed, "user")
        self.tls: TlsFiles = ensure(self.state_dir / "tls")
        self.client_certificate = load_client_certificate(self.tls.client_pem)
        self.codec = TokenCodec(digest(seed, "continuation"))
        self.tokens = TokenStore()
        self.port = 0
        self.log: list[dict[str, Any]] = []
        self.commerce = Commerce(seed)
        anchor = settings.today or DEFAULT_TODAY
        if settings.start is not None and settings.start > anchor:
            raise ValueError(f"the clock's start {settings.start} is after the world's today {anchor}")
        self.world: World = self._build(settings.start_date, settings.switches)
        self.user_upn = f"admin@{self.world.customers[0].domain.split('.')[0]}partner.onmicrosoft.com"
        self.faults = FaultPlan.parse(settings.faults, seed)

    def _build(self, today: date, switches: Mapping[str, str]) -> World:
        anchor = self.settings.today or DEFAULT_TODAY
        ledger = self.commerce
        world = build_world(
            self.settings.seed,
            self.settings.size,
            today,
            switches,
            self.settings.inject_rates,
            anchor=anchor,
            extra=ledger.extend_lines,
            closed_early=frozenset(ledger.closed_early),
        )
        if ledger.cases:  # targeted injections join the live answer key
            world.answer_key = sorted([*world.answer_key, *ledger.cases], key=lambda r: (r["period"], r["kind"]))
        return world

    def rebuild(self) -> None:
        """Rebuild the world at the current clock (after a change through the commerce API)."""
        with self.lock:
            self.world = self._build(self.today, self.world.switches)

    @property
    def today(self) -> date:
        """The sandbox clock."""
        return self.world.today

    @property
    def base_url(self) -> str:
        """https://127.0.0.1:PORT"""
        return f"https://127.0.0.1:{self.port}"

    @property
    def token_lifetime_s(self) -> int:
        """Lifetime of issued access tokens in seconds (switch token_lifetime_s)."""
        return int(self.world.switches["token_lifetime_s"])

    def advance(self, days: int) -> None:
        """Move the clock forward; months whose invoice date has passed get their invoice."""
        if days < 0:
            raise ValueError("the clock only moves forward")
        with self.lock:
            self.world = self._build(self.today + timedelta(days=days), self.world.switches)

    def set_switches(self, changes: Mapping[str, str]) -> None:
        """Change switches (validated); the world is rebuilt at the current clock."""
        with self.lock:
            self.world = self._build(self.today, {**self.world.switches, **changes})

    def set_faults(self, specs: list[str]) -> None:
        """Replace the active faults (validated)."""
        with self.lock:
            self.faults = FaultPlan.parse(specs, self.settings.seed)

    def reset(self) -> None:
        """Back to the start: clock, switches, world, faults and request log (issued tokens stay valid)."""
        with self.lock:
            self.commerce.reset()
            self.__dict__.pop("exports_registry", None)  # v2 export operations (exports_api.registry)
            self.world = self._build(self.settings.start_date, self.settings.switches)
            self.faults = FaultPlan.parse(self.settings.faults, self.settings.seed)
            self.log.clear()

    def world_months(self) -> list[date]:
        """The months the world invoices by its `today` (a walk closes exactly these)."""
        anchor = self.settings.today or DEFAULT_TODAY
        first = first_month(self.settings.seed, self.settings.size, anchor)
        return [m for m in closed_periods(self.settings.seed, anchor, 12) if m >= first]

    def info(self) -> dict[str, Any]:
        """The content of sandbox.json: how other tools connect to this sandbox."""
        base = self.base_url
        return {
            "pc_base_url": base,
            "graph_base_url": f"{base}/v1.0",
            "authority": f"{base}/{self.tenant_id}",
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "client_cert": str(self.tls.client_pem),
            "ca_cert": str(self.tls.ca_cert),
            "pc_scope": PC_SCOPE,
            "graph_scope": GRAPH_SCOPE,
            "admin_url": f"{base}/admin",
            "admin_token": self.admin_token,
            "seed": self.settings.seed,
            "size": self.settings.size,
            "today": self.today.isoformat(),
            "world_today": (self.settings.today or DEFAULT_TODAY).isoformat(),
            "first_month": first_month(self.settings.seed, self.settings.size, self.settings.today).isoformat(),
            "closed_months": [m.isoformat() for m in self.world_months()],
            "billing_currency": self.world.billing_currency,
            "switches": dict(self.world.switches),
        }
