"""The client's pieces on their own: rate limiting, Retry-After, redaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from recon.api.ratelimit import RateLimiter, TokenBucket, family
from recon.api.redact import redact, register_secret
from recon.api.retry import parse_retry_after


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_families() -> None:
    assert family("/v1/customers") == "customers"
    assert family("/v1/customers/abc") == "customers"
    assert family("/v1/customers/abc/orders") == "orders"
    assert family("/v1/customers/abc/orders/o1") == "orders"
    assert family("/v1/customers/abc/subscriptions/s1") == "subscriptions"
    assert family("/v1/invoices/G1/lineitems") is None
    assert family("/v1/customers/abc/carts") is None


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=60, max_value=2000), st.integers(min_value=1, max_value=100))
def test_bucket_never_exceeds_rate_plus_burst(calls: int, burst: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=500 / 60, capacity=burst, clock=clock, sleep=clock.sleep)
    for _ in range(calls):
        bucket.take()
    # n calls need at least (n - burst) / rate seconds
    assert clock.now >= (calls - burst) / (500 / 60) - 1e-9
    assert clock.now <= (calls - burst) / (500 / 60) + 1e-6 or calls <= burst


def test_limiter_keeps_families_apart() -> None:
    limiter = RateLimiter(burst=2, margin=1.0)
    waits = [limiter.wait("t", "/v1/customers/a/orders") for _ in range(3)]
    assert waits[0] == waits[1] == 0.0 and waits[2] > 0
    assert limiter.wait("t", "/v1/customers/a/subscriptions") == 0.0  # its own bucket
    assert limiter.wait("other-tenant", "/v1/customers/a/orders") == 0.0
    assert limiter.wait("t", "/v1/invoices") == 0.0


def test_retry_after_in_seconds_or_http_date() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert parse_retry_after("57") == 57.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


def test_redaction_of_tokens_secrets_and_sas() -> None:
    register_secret("s3cr3t-value-123")
    text = (
        "Authorization: Bearer eyJhbGciOi.abc.def client_secret=s3cr3t-value-123 "
        'https://x/blob.json.gz?sv=1&sig=AbC%2Fd&se=2 {"access_token": "tok"}'
    )
    out = redact(text)
    for secret in ("eyJhbGciOi", "s3cr3t-value-123", "AbC%2Fd", '"tok"'):
        assert secret not in out
    assert "sv=1" in out and "se=2" in out
