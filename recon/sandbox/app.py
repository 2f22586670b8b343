"""The sandbox ASGI app: routes, bearer auth on /v1, Date header from the sandbox clock, log and faults."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recon.sandbox import (
    admin,
    audit,
    billing_api,
    commerce_admin,
    commerce_api,
    customers_api,
    exports_api,
    identity,
    usage_api,
)
from recon.sandbox.fault_bodies import BODY_KINDS, BodyFault, error_response
from recon.sandbox.faults import route_family
from recon.sandbox.identity import PC_RESOURCE
from recon.sandbox.ratelimit import RateLimitMiddleware
from recon.sandbox.responses import pc_error

if TYPE_CHECKING:
    from recon.sandbox.state import SandboxState

_SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization"}
_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def http_date(state: SandboxState) -> str:
    """The sandbox clock as an RFC 7231 date (noon GMT of the sandbox day)."""
    d = state.today
    return f"{_DAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year} 12:00:00 GMT"


def _redact(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out = {}
    for raw_key, raw_value in headers:
        key, value = raw_key.decode("latin-1").lower(), raw_value.decode("latin-1")
        if key in _SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} <redacted>".strip()
        out[key] = value
    return out


class SandboxMiddleware:
    """Logs each request, injects faults, checks bearer tokens on /v1 and stamps the sandbox Date."""

    def __init__(self, app: ASGIApp, state: SandboxState):
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        path: str = scope["path"]
        headers = _redact(scope["headers"])
        query = scope.get("query_string", b"").decode("latin-1")
        entry: dict[str, Any] = {
            "seq": len(state.log) + 1,
            "method": scope["method"],
            "path": path,
            "query": query,
            "headers": headers,
            "status": None,
        }
        if not path.startswith("/admin"):
            state.log.append(entry)
        scope["sandbox.log"] = entry
        request_id = headers.get("ms-requestid") or str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{state.settings.seed}|{entry['seq']}|{path}?{query}")
        )
        extra = [(b"date", http_date(state).encode()), (b"ms-requestid", request_id.encode())]
        if "ms-correlationid" in headers:
            extra.append((b"ms-correlationid", headers["ms-correlationid"].encode()))

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                message["headers"] = [h for h in message.get("headers", []) if h[0].lower() != b"date"] + extra
            await send(message)

        family = route_family(path)
        fault = state.faults.decide(family, headers.get("ms-requestid") or f"{scope['method']} {path}?{query}")
        out: Send = stamped
        if fault is not None:
            entry["fault"] = str(fault)
            scope["sandbox.fault"] = fault.kind
            if fault.kind == "latency":
                await asyncio.sleep(float(fault.arg))
            elif fault.kind in ("429", "5xx"):
                await error_response(fault)(scope, receive, stamped)
                return
            elif fault.kind in BODY_KINDS:
                out = BodyFault(stamped, fault.kind)
        if path.startswith("/v1/"):
            token, why = state.tokens.check(_raw_auth(scope), PC_RESOURCE)
            if token is not None and state.faults.token_expired(family, token.serial, token.calls):
                token.expires_at, token, why = 0.0, None, "The bearer token has expired."
                entry["fault"] = "token-expiry"
            if token is None:
                realm = f'Bearer realm="urn:cpsvc:cpid:{state.world.partner_id}", error="invalid_token"'
                resp = pc_error(401, "401", f"Unauthorized: {why}", {"WWW-Authenticate": realm})
                await resp(scope, receive, stamped)
                return
            scope["sandbox.token"] = token  # read by the rate limiter and App+User-only routes
        await self.app(scope, receive, out)


def _raw_auth(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == b"authorization":
            return value.decode("latin-1")
    return None


def create_app(state: SandboxState) -> Starlette:
    """The sandbox ASGI application over `state`."""
    commerce = [*customers_api.ROUTES, *commerce_api.ROUTES, *audit.ROUTES, *commerce_admin.ROUTES]
    billing = [*usage_api.ROUTES, *billing_api.ROUTES, *exports_api.ROUTES]  # usage_api first: /estimates/links
    app = Starlette(routes=[*identity.ROUTES, *billing, *admin.ROUTES, *commerce])
    app.state.sandbox = state
    app.add_middleware(RateLimitMiddleware, state=state)  # inner: runs after authentication
    app.add_middleware(SandboxMiddleware, state=state)
    return app
