"""The asynchronous client against the sandbox (retries, ids, auth, errors), its pacing, and the commerce fan-out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from recon.api import PartnerCenterClient, SeekPaginator
from recon.api.aclient import AsyncPartnerCenterClient
from recon.api.ratelimit import RateLimiter
from recon.api.retry import RetryPolicy
from recon.errors import UpstreamError
from recon.extract import extract
from recon.sandbox import SandboxServer
from recon.settings import Settings
from recon.store import reader
from tests.conftest import admin

pytestmark = pytest.mark.slow


@pytest.fixture
def faults(sandbox: SandboxServer) -> Iterator[Any]:
    """Set the shared sandbox's faults for one test; clear them afterwards."""
    yield lambda specs: admin(sandbox, "PUT", "/faults", json=specs)
    admin(sandbox, "PUT", "/faults", json=[])


def _log_since(sandbox: SandboxServer, seq: int) -> list[dict[str, Any]]:
    return [r for r in admin(sandbox, "GET", "/requests").json() if r["seq"] > seq]


def _last_seq(sandbox: SandboxServer) -> int:
    return max((r["seq"] for r in admin(sandbox, "GET", "/requests").json()), default=0)


def _customer_ids(settings: Settings) -> list[str]:
    with PartnerCenterClient(settings) as client:
        return [str(c["id"]) for p in SeekPaginator("/customers", {"size": 500}).pages(client) for c in p.items]


def test_a_429_is_retried_after_its_retry_after_with_the_same_request_id(
    sb_settings: Settings, sandbox: SandboxServer, faults: Any
) -> None:
    customer = _customer_ids(sb_settings)[0]
    faults(["429:1.0:1@subscriptions#1"])
    mark = _last_seq(sandbox)
    waits: list[float] = []

    async def fetch() -> tuple[Any, float, str]:
        policy = RetryPolicy(base=0.01, cap=0.02)  # backoff alone would wait ~0.01 s
        async with AsyncPartnerCenterClient(
            sb_settings, policy=policy, on_retry=lambda _e, wait: waits.append(wait)
        ) as client:
            started = time.monotonic()
            answer = await client.get_json(f"/customers/{customer}/subscriptions")
            return answer, time.monotonic() - started, client.correlation_id

    answer, elapsed, correlation = asyncio.run(fetch())
    assert answer.status == 200 and answer.data["items"]
    assert waits == [1.0] and elapsed >= 1.0
    calls = [r for r in _log_since(sandbox, mark) if r["path"] == f"/v1/customers/{customer}/subscriptions"]
    assert [r["status"] for r in calls] == [429, 200]
    assert {r["headers"]["ms-requestid"] for r in calls} == {answer.request_id}
    assert {r["headers"]["ms-correlationid"] for r in calls} == {correlation}


def test_a_refused_token_is_refreshed_once_and_the_call_resent(
    sb_settings: Settings, sandbox: SandboxServer, faults: Any
) -> None:
    customer = _customer_ids(sb_settings)[0]
    faults(["token-expiry:1.0:1@orders"])
    mark = _last_seq(sandbox)

    async def fetch_twice() -> list[int]:
        async with AsyncPartnerCenterClient(sb_settings) as client:
            return [(await client.get_json(f"/customers/{customer}/orders")).status for _ in range(2)]

    assert asyncio.run(fetch_twice()) == [200, 200]
    log = _log_since(sandbox, mark)
    calls = [(r["status"], r["headers"]["ms-requestid"]) for r in log if r["path"].endswith("/orders")]
    assert [status for status, _ in calls] == [200, 401, 200]
    assert calls[1][1] == calls[2][1]  # the resend is the same logical call
    assert sum(1 for r in log if r["path"].endswith("/oauth2/v2.0/token")) == 2  # the first token, the refresh


def test_a_client_error_is_one_line_naming_the_call_and_its_ids(sb_settings: Settings) -> None:
    async def fetch() -> tuple[UpstreamError, str]:
        async with AsyncPartnerCenterClient(sb_settings) as client:
            with pytest.raises(UpstreamError) as caught:
                await client.get_json("/customers/not-a-customer/subscriptions")
            return caught.value, client.correlation_id

    error, correlation = asyncio.run(fetch())
    message = str(error)
    assert error.status == 403 and "\n" not in message
    assert message.startswith("GET /customers/not-a-customer/subscriptions: HTTP 403 error 20002: ")
    assert "MS-RequestId " in message and f"MS-CorrelationId {correlation})" in message


def test_the_async_limiter_spaces_calls_as_configured() -> None:
    limiter = RateLimiter(limits={"orders": 1200.0, "subscriptions": 1200.0}, burst=3, margin=1.0)  # 20/s

    async def run() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def call(path: str) -> float:
            await limiter.wait_async("t", path)
            return loop.time() - start

        passed = await asyncio.gather(*(call("/v1/customers/c/orders") for _ in range(13)))
        other = await call("/v1/customers/c/subscriptions")  # its own bucket, still full
        return sorted(passed), other - passed[-1]

    passed, other = asyncio.run(run())
    expected = [max(0, i - 2) / 20 for i in range(13)]  # three at once, then one every 50 ms
    for got, want in zip(passed, expected, strict=True):
        assert want - 0.01 <= got <= want + 0.4  # never early; late only by scheduling
    assert other < 0.05


def test_fan_out_runs_the_families_at_once_and_lands_in_customer_order(
    sb_settings: Settings, sandbox: SandboxServer, faults: Any
) -> None:
    customers = _customer_ids(sb_settings)
    faults(["latency:1.0:0.1@subscriptions"])  # five subscription calls one after the other take over 0.5 s
    mark = _last_seq(sandbox)
    summary = extract(sb_settings, datasets=["subscriptions", "orders"], concurrency=1)
    assert not summary.failed, summary.failed
    log = [r for r in _log_since(sandbox, mark) if r["path"].startswith("/v1/customers/")]
    subs = [r["seq"] for r in log if r["path"].endswith("/subscriptions")]
    orders = [r for r in log if r["path"].endswith("/orders")]
    assert len(subs) == len(orders) == len(customers)
    assert min(r["seq"] for r in orders) < max(subs)  # orders did not wait for the subscriptions to land
    assert {r["query"] for r in orders} == {"include_price=true&include_system_purchases=true"}
    with reader(sb_settings.db) as con:
        loads = dict(
            con.execute(
                "SELECT dataset, provenance FROM meta.loads WHERE status = 'complete' AND dataset IN ('orders', "
                "'subscriptions')"
            ).fetchall()
        )
    for dataset in ("subscriptions", "orders"):
        pages = json.loads(loads[dataset])
        assert [p["page"] for p in pages] == list(range(1, len(customers) + 1))
        assert [p["context"]["customer_id"] for p in pages] == customers


def test_a_failing_family_fails_only_its_dataset(sb_settings: Settings, faults: Any) -> None:
    faults(["5xx:1.0:503@orders"])
    policy = RetryPolicy(max_attempts=2, base=0.01, cap=0.02)
    with PartnerCenterClient(sb_settings, policy=policy) as client:
        summary = extract(sb_settings, datasets=["subscriptions", "orders"], client=client)
        assert client.retries >= 1  # the async twin counts its retries on the client the run reports
    assert summary.results["subscriptions"].ok
    error = summary.results["orders"].error or ""
    assert "HTTP 503" in error and "gave up after retries (MS-RequestId " in error and "\n" not in error
