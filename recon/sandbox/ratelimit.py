"""Throttling: a token bucket per (tenant, route family), as Partner Center limits customer, order and
subscription resources (500 requests per minute per tenant); billing buckets are off unless switched on."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from recon.sandbox.faults import route_family
from recon.sandbox.responses import json_response

if TYPE_CHECKING:
    from recon.sandbox.state import SandboxState

COMMERCE_FAMILIES = ("customers", "orders", "subscriptions")
BILLING_FAMILIES = ("invoices", "lineitems")


@dataclass
class Bucket:
    """Tokens left and when they were last counted (real monotonic seconds)."""

    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by (tenant, family); `take` answers 0 when a request may pass, else the seconds to wait."""

    def __init__(self) -> None:
        self.buckets: dict[tuple[str, str, float, int], Bucket] = {}
        self.lock = threading.Lock()

    def take(self, tenant: str, family: str, per_min: float, burst: int, now: float | None = None) -> float:
        """Spend one token; 0.0 when allowed, else the seconds until a token is available."""
        now = time.monotonic() if now is None else now
        rate = per_min / 60.0
        key = (tenant, family, per_min, burst)
        with self.lock:
            bucket = self.buckets.setdefault(key, Bucket(float(burst), now))
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    def clear(self) -> None:
        """Forget every bucket."""
        with self.lock:
            self.buckets.clear()


def limits(state: SandboxState, family: str | None) -> tuple[float, int] | None:
    """(requests per minute, burst) for a family, or None when it is not limited."""
    sw = state.world.switches
    burst = int(sw.get("rate_limit_burst", "50"))
    if family in COMMERCE_FAMILIES:
        per_min = float(sw.get("rate_limit_per_min", "500"))
    elif family in BILLING_FAMILIES:
        per_min = float(sw.get("rate_limit_billing_per_min", "0"))
    else:
        return None
    return (per_min, burst) if per_min > 0 else None


class RateLimitMiddleware:
    """Answers 429 {statusCode, message} with Retry-After when a (tenant, family) bucket is empty. Runs inside the
    sandbox middleware, after authentication (it keys on the token's tenant)."""

    def __init__(self, app: ASGIApp, state: SandboxState):
        self.app, self.state = app, state
        self.limiter = RateLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = scope.get("sandbox.token") if scope["type"] == "http" else None
        if token is not None:
            family = route_family(scope["path"])
            rule = limits(self.state, family)
            if rule is not None and family is not None:
                wait = self.limiter.take(token.tenant, family, rule[0], rule[1])
                if wait > 0:
                    seconds = max(1, math.ceil(wait))
                    body = {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {seconds} seconds."}
                    entry = scope.get("sandbox.log")
                    if entry is not None:
                        entry["throttled"] = True
                    await json_response(body, 429, {"Retry-After": str(seconds)})(scope, receive, send)
                    return
        await self.app(scope, receive, send)
