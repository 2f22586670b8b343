"""One retry policy: 429, 5xx, timeouts and dropped connections, honouring Retry-After."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception_type

T = TypeVar("T")
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class RetryableError(Exception):
    """A failure worth retrying, with the wait the server asked for (if any)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header given in seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; never waits less than the server's Retry-After."""

    max_attempts: int = 8
    max_total_wait: float = 900.0
    base: float = 0.5
    cap: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    on_retry: Callable[[RetryableError, float], None] | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = min(self.cap, self.base * 2 ** (state.attempt_number - 1))
        wait = backoff / 2 + self._rng.uniform(0, backoff / 2)
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        return wait

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.max_attempts:
            return True
        waited = state.idle_for
        return waited + self._wait(state) > self.max_total_wait

    def _options(self, on_retry: Callable[[RetryableError, float], None] | None) -> dict[str, Any]:
        """tenacity's arguments, the same for synchronous and asynchronous calls."""
        report = on_retry or self.on_retry

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if report and isinstance(exc, RetryableError) and state.next_action:
                report(exc, state.next_action.sleep)

        return {
            "retry": retry_if_exception_type(RetryableError),
            "wait": self._wait,
            "stop": self._stop,
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def call(self, fn: Callable[[], T], on_retry: Callable[[RetryableError, float], None] | None = None) -> T:
        """Run `fn`, retrying RetryableError under this policy; re-raise the last error when done."""
        return Retrying(sleep=self.sleep, **self._options(on_retry))(fn)

    async def acall(
        self, fn: Callable[[], Awaitable[T]], on_retry: Callable[[RetryableError, float], None] | None = None
    ) -> T:
        """`call` for a coroutine function, sleeping with `asleep` so the event loop keeps running."""

        async def attempt() -> T:  # tenacity awaits only what it recognises as a coroutine function
            return await fn()

        result: T = await AsyncRetrying(sleep=self.asleep, **self._options(on_retry))(attempt)
        return result
