"""The asynchronous Partner Center client (fan-out across customers) and an event loop beside synchronous code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Coroutine, Hashable, Mapping
from concurrent.futures import Future
from functools import cached_property
from typing import Any, TypeVar

import httpx

from recon.api.auth import BearerAuth
from recon.api.client import ApiResponse, ClientCore, parse_answer, retry_on_drops, retry_on_status

T = TypeVar("T")


class AsyncBearerAuth(BearerAuth):
    """BearerAuth for httpx.AsyncClient: the synchronous, thread-safe token provider runs in a worker thread."""

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Add the bearer; on a 401 refresh the token once and resend."""
        request.headers["Authorization"] = f"Bearer {await asyncio.to_thread(self.provider.token)}"
        response = yield request
        if response.status_code == 401:
            token = await asyncio.to_thread(self.provider.token, force_refresh=True)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


class AsyncPartnerCenterClient(ClientCore):
    """The asynchronous twin of PartnerCenterClient: same ids, headers, pacing, retries and one-line errors."""

    @cached_property
    def _http(self) -> httpx.AsyncClient:
        # opened on first use, so inside the event loop that uses it
        return httpx.AsyncClient(auth=AsyncBearerAuth(self.provider), **self._http_options())

    async def aclose(self) -> None:
        """Close the connection pool (if it was opened)."""
        if "_http" in self.__dict__:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncPartnerCenterClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _once(
        self, method: str, url: str, params: Mapping[str, Any] | None, headers: dict[str, str], body: Any
    ) -> httpx.Response:
        await self.limiter.wait_async(self.tenant, httpx.URL(url).path)
        with retry_on_drops(method, url):
            response = await self._http.request(method, url, params=params, headers=headers, json=body)
        return retry_on_status(method, url, response)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        accept: str = "application/json",
        body: Any = None,
    ) -> httpx.Response:
        """Send one logical call (one MS-RequestId across its retries); raise UpstreamError on failure."""
        url, request_id, all_headers = self._prepare(path, headers, accept)
        with self._giving_up(request_id):
            response = await self.policy.acall(
                lambda: self._once(method, url, params, all_headers, body), self.on_retry
            )
        return self._checked(method, path, response, request_id)

    async def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        shallow: bool = False,
    ) -> ApiResponse:
        """GET a JSON resource, parsed exactly (`shallow`: a page with its items left unparsed)."""
        return parse_answer(await self.request("GET", path, params=params, headers=headers), shallow=shallow)


class Background:
    """An event loop in a daemon thread running an async twin of a synchronous client.

    The twin shares the owner's token provider, rate limiter (so both respect one budget per tenant and
    family), retry policy, retry count and correlation id; synchronous code submits coroutines and waits
    on their futures, so landing into DuckDB stays on the calling thread.
    """

    def __init__(self, owner: ClientCore) -> None:
        self._started: dict[Hashable, Any] = {}
        self.client = AsyncPartnerCenterClient(
            owner.settings,
            policy=owner.policy,
            limiter=owner.limiter,
            timeout=owner.timeout,
            correlation_id=owner.correlation_id,
            graph=owner.graph,
            provider=owner.provider,
            on_retry=owner.on_retry,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="recon-fanout", daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run `coro` on the loop; cancelling the returned future cancels it."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def prefetch(self, key: Hashable, start: Callable[[], Any]) -> None:
        """Start work under `key` now (once), for a later `claim`."""
        if key not in self._started:
            self._started[key] = start()

    def claim(self, key: Hashable, start: Callable[[], T]) -> T:
        """The work prefetched under `key` (handed over once), or work started now."""
        found: T = self._started.pop(key) if key in self._started else start()
        return found

    def close(self) -> None:
        """Cancel what still runs, close the async client and stop the loop."""
        if self._loop.is_closed():
            return
        self._started.clear()

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.client.aclose()
            await self._loop.shutdown_default_executor()

        try:
            self.submit(shutdown()).result(timeout=60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=60)
            self._loop.close()
