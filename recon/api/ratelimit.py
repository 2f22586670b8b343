"""Client-side rate limiting per (tenant, family), so fan-out across customers does not provoke 429s."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# Partner Center throttles these families at 500 requests a minute per tenant (commerce.md).
DEFAULT_LIMITS: dict[str, float] = {"customers": 500.0, "orders": 500.0, "subscriptions": 500.0}
# The sandbox's buckets hold 50 (the service publishes no burst). The client's hold 40: requests that reach the
# service bunched (one delayed by a handshake or a busy event loop, the next on time) then still find spare
# tokens there; 10 cover about 1.2 s of such spread at 500 a minute. The 3 % rate margin adds more over time.
DEFAULT_BURST = 40


def family(path: str) -> str | None:
    """The throttling family of a `/v1/...` path, or None for unthrottled routes."""
    parts = [p for p in path.split("?")[0].lower().split("/") if p]
    if parts and parts[0] == "v1":
        parts = parts[1:]
    if not parts or parts[0] != "customers":
        return None
    if len(parts) >= 3 and parts[2] in ("orders", "subscriptions"):
        return parts[2]
    return "customers" if len(parts) <= 2 else None


@dataclass
class TokenBucket:
    """`rate` tokens a second up to `capacity`; `take()` blocks (and `atake()` awaits) until a token is there.

    Each caller reserves its token at once (the level may go negative) and then sleeps until it is due,
    so threads and tasks share one bucket without holding a lock while they wait.
    """

    rate: float
    capacity: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    tokens: float = field(init=False)
    stamp: float = field(init=False)
    waited: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity
        self.stamp = self.clock()

    def reserve(self) -> float:
        """Take one token now; return the seconds until it is due (the caller waits that long)."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= 1
            wait = 0.0 if self.tokens >= 0 else -self.tokens / self.rate
            self.waited += wait
        return wait

    def take(self) -> float:
        """Take one token, sleeping as long as needed; return the seconds slept."""
        wait = self.reserve()
        if wait:
            self.sleep(wait)
        return wait

    async def atake(self) -> float:
        """Take one token, awaiting as long as needed; return the seconds waited."""
        wait = self.reserve()
        if wait:
            await self.asleep(wait)
        return wait


class RateLimiter:
    """One token bucket per (tenant, family), a little under the service's limit."""

    def __init__(
        self, limits: dict[str, float] | None = None, burst: int = DEFAULT_BURST, margin: float = 0.97
    ) -> None:
        self.limits = DEFAULT_LIMITS if limits is None else limits
        self.burst = burst
        self.margin = margin
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, tenant: str, path: str) -> TokenBucket | None:
        """The bucket that paces requests to `path` for `tenant` (None when the route is not limited)."""
        fam = family(path)
        if fam is None or fam not in self.limits:
            return None
        with self._lock:
            bucket = self._buckets.get((tenant, fam))
            if bucket is None:
                per_second = self.limits[fam] * self.margin / 60.0
                bucket = self._buckets[(tenant, fam)] = TokenBucket(per_second, max(1.0, self.burst * self.margin))
        return bucket

    def wait(self, tenant: str, path: str) -> float:
        """Block until a request to `path` may go out; return the seconds waited."""
        bucket = self.bucket(tenant, path)
        return bucket.take() if bucket else 0.0

    async def wait_async(self, tenant: str, path: str) -> float:
        """Await until a request to `path` may go out (same buckets as `wait`); return the seconds waited."""
        bucket = self.bucket(tenant, path)
        return await bucket.atake() if bucket else 0.0

    @property
    def waited(self) -> float:
        """Total seconds spent waiting for tokens."""
        with self._lock:
            buckets = list(self._buckets.values())
        return sum(b.waited for b in buckets)
