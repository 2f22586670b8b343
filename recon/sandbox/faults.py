"""Fault injection: `KIND:RATE[:ARG][@ROUTE]` specs decided by hashing, so runs are reproducible."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from recon.sandbox.rand import det_unit

# Kinds this sandbox injects now, with the default of their ARG.
KINDS = {
    "429": "1",
    "5xx": "503",
    "latency": "0.1",
    "drop": "",
    "token-expiry": "3",
    "badjson": "",
    "empty-next": "",
    "repeat-token": "",
    "strings": "",
    "multigzip": "",
    "bom": "",
}
BLOB_KINDS = ("multigzip", "bom")  # only ever decided for the blobs family (exports_api writes them)

ROUTES = (
    "token",
    "customers",
    "catalog",
    "agreements",
    "carts",
    "checkout",
    "orders",
    "subscriptions",
    "audit",
    "invoices",
    "lineitems",
    "exports",
    "operations",
    "blobs",
)
_SPEC = re.compile(
    r"^(?P<kind>[^:@#]+):(?P<rate>[0-9.]+)(?::(?P<arg>[^@#]+))?(?:@(?P<route>[a-z]+))?(?:#(?P<times>[0-9]+))?$"
)


@dataclass(frozen=True)
class Fault:
    """One parsed fault spec."""

    kind: str
    rate: float
    arg: str
    route: str | None
    times: int | None = None  # `#N`: the fault fires at most N times (e.g. only a first attempt)

    def __str__(self) -> str:
        arg = f":{self.arg}" if self.arg else ""
        times = f"#{self.times}" if self.times is not None else ""
        return f"{self.kind}:{self.rate}{arg}" + (f"@{self.route}" if self.route else "") + times


def parse_fault(spec: str) -> Fault:
    """Parse `KIND:RATE[:ARG][@ROUTE][#N]`; ValueError for unknown kinds, routes or rates."""
    m = _SPEC.match(spec.strip())
    if not m:
        raise ValueError(f"fault spec {spec!r} is not KIND:RATE[:ARG][@ROUTE][#N]")
    kind, rate = m["kind"], float(m["rate"])
    if kind not in KINDS:
        raise ValueError(f"fault kind {kind!r} is not injected by this sandbox yet; known: {', '.join(KINDS)}")
    if not 0 <= rate <= 1:
        raise ValueError(f"fault rate must be within 0..1, not {rate}")
    if m["route"] and m["route"] not in ROUTES:
        raise ValueError(f"unknown fault route {m['route']!r}; known: {', '.join(ROUTES)}")
    arg = m["arg"] or KINDS[kind]
    if kind == "5xx" and not (arg.isdigit() and 500 <= int(arg) <= 599):
        raise ValueError(f"5xx fault needs a 5xx status, not {arg!r}")
    if kind in ("429", "latency"):
        float(arg)
    if kind == "token-expiry" and not (arg.isdigit() and int(arg) >= 1):
        raise ValueError(f"token-expiry needs a positive number of calls, not {arg!r}")
    return Fault(kind, rate, arg, m["route"], int(m["times"]) if m["times"] else None)


def route_family(path: str) -> str | None:
    """The fault route family of a request path (None for admin and discovery)."""
    p = path.lower()
    if p.startswith("/v1.0/reports/partners/billing/"):
        return "operations" if "/operations/" in p or "/manifests/" in p else "exports"
    if p.startswith("/blobs/"):
        return "blobs"
    if p.endswith("/oauth2/v2.0/token") or p.endswith("/oauth2/v2.0/devicecode"):
        return "token"
    if p.startswith("/v1/invoices"):
        return "lineitems" if "/lineitems" in p else "invoices"
    if p.startswith("/v1/"):
        parts = p.rstrip("/").split("/")
        if parts[2] == "customers" and len(parts) > 4:  # /v1/customers/{id}/<resource>...
            if parts[4] == "carts":
                return "checkout" if parts[-1] == "checkout" else "carts"
            if parts[4] == "products":
                return "catalog"
            return parts[4] if parts[4] in ROUTES else "customers"
        family = {"products": "catalog", "auditrecords": "audit"}.get(parts[2], parts[2])
        return family if family in ROUTES else None
    return None


@dataclass
class FaultPlan:
    """The active faults and how often each request key was seen."""

    faults: list[Fault]
    seed: int
    seen: dict[str, int] = field(default_factory=dict)
    fired: dict[int, int] = field(default_factory=dict)  # fault position -> times injected (for `#N`)

    @classmethod
    def parse(cls, specs: list[str] | None, seed: int) -> FaultPlan:
        """A plan from fault specs."""
        return cls([parse_fault(s) for s in specs or []], seed)

    def decide(self, route: str | None, key: str) -> Fault | None:
        """The fault to inject for this request, if any (a retry is a new draw)."""
        if route is None or not self.faults:
            return None
        count = self.seen[key] = self.seen.get(key, 0) + 1
        for pos, fault in enumerate(self.faults):
            if fault.kind == "token-expiry" or fault.route not in (None, route):
                continue
            if fault.kind in BLOB_KINDS and route != "blobs":
                continue
            if fault.times is not None and self.fired.get(pos, 0) >= fault.times:
                continue
            if det_unit(self.seed, str(fault), route, key, count) < fault.rate:
                self.fired[pos] = self.fired.get(pos, 0) + 1
                return fault
        return None

    def token_expired(self, route: str | None, token_serial: int, calls: int) -> bool:
        """token-expiry: after ARG calls a token is refused (with chance RATE per later call)."""
        for fault in self.faults:
            if fault.kind != "token-expiry" or fault.route not in (None, route) or calls <= int(fault.arg):
                continue
            if det_unit(self.seed, str(fault), token_serial, calls) < fault.rate:
                return True
        return False
