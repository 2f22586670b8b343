"""The Partner Center REST client: headers, one retry policy, exact JSON, one-line errors."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from recon.api.auth import BearerAuth, TokenProvider
from recon.api.ratelimit import RateLimiter
from recon.api.redact import install_log_redaction, redact
from recon.api.retry import RETRYABLE_STATUS, RetryableError, RetryPolicy, parse_retry_after
from recon.api.tls import ssl_context
from recon.errors import UpstreamError
from recon.jsontext import loads_exact
from recon.settings import Settings

log = logging.getLogger("recon.api")
RETRY_STATUSES = RETRYABLE_STATUS


@dataclass(frozen=True)
class ApiResponse:
    """A parsed JSON answer with what provenance needs."""

    url: str
    status: int
    data: Any
    request_id: str
    date: datetime | None
    content: bytes = field(repr=False)


def server_date(response: httpx.Response) -> datetime | None:
    """The source's clock: the response's `Date` header as an aware UTC datetime."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _error_line(method: str, path: str, response: httpx.Response, request_id: str, correlation_id: str) -> str:
    detail = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if "error" in body and isinstance(body["error"], dict):
            detail = f" {body['error'].get('code', '')}: {body['error'].get('message', '')}"
        elif "code" in body or "description" in body:
            detail = f" error {body.get('code', '')}: {body.get('description', '')}"
        elif "message" in body:
            detail = f" {body['message']}"
    line = (
        f"{method} {path}: HTTP {response.status_code}{detail} "
        f"(MS-RequestId {request_id}, MS-CorrelationId {correlation_id})"
    )
    return redact(" ".join(line.split()))


class PartnerCenterClient:
    """Synchronous client for the Partner Center REST API (`{base}/v1/...`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        timeout: float = 60.0,
        correlation_id: str | None = None,
        graph: bool = False,
    ) -> None:
        install_log_redaction()
        self.settings = settings
        self.graph = graph
        self.base_url = settings.graph_base_url if graph else settings.pc_base_url
        self.correlation_id = correlation_id or str(uuid.uuid4())
        self.policy = policy or RetryPolicy()
        self.policy.on_retry = self._count_retry
        self.limiter = limiter or RateLimiter()
        self.tenant = settings.tenant_id or ""
        self.retries = 0
        self._provider = TokenProvider(settings, settings.graph_scope if graph else settings.pc_scope, self.policy)
        self._http = httpx.Client(
            auth=BearerAuth(self._provider),
            verify=ssl_context(settings.ca_bundle),
            timeout=timeout,
            trust_env=False,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
            headers={"Accept": "application/json", "MS-CorrelationId": self.correlation_id},
        )

    def _count_retry(self, error: RetryableError, wait: float) -> None:
        self.retries += 1
        log.info("retrying in %.1f s: %s", wait, error)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> PartnerCenterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        """Absolute URL of a `/v1`-relative path (links in responses omit `/v1`)."""
        if path.startswith(("https://", "http://")):
            return path
        path = path if path.startswith("/") else f"/{path}"
        if self.graph or path.startswith("/v1/"):
            return f"{self.base_url}{path}"
        return f"{self.base_url}/v1{path}"

    def _once(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
        body: Any = None,
    ) -> httpx.Response:
        self.limiter.wait(self.tenant, httpx.URL(url).path)
        try:
            response = self._http.request(method, url, params=params, headers=headers, json=body)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise RetryableError(f"{method} {redact(url)}: {type(exc).__name__}") from None
        if response.status_code in RETRY_STATUSES:
            raise RetryableError(
                f"{method} {redact(url)}: HTTP {response.status_code}",
                parse_retry_after(response.headers.get("Retry-After")),
            )
        return response

    def request(
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
        url = self.url(path)
        request_id = str(uuid.uuid4())
        ids = {"client-request-id": request_id} if self.graph else {"MS-RequestId": request_id}
        all_headers = {**ids, "Accept": accept, **(headers or {})}

        def attempt() -> httpx.Response:
            return self._once(method, url, params, all_headers, body)

        try:
            response = self.policy.call(attempt)
        except RetryableError as exc:
            raise UpstreamError(f"{exc} — gave up after retries (MS-RequestId {request_id})") from None
        if response.status_code >= 400:
            raise UpstreamError(
                _error_line(method, path, response, request_id, self.correlation_id), response.status_code
            )
        return response

    def get_json(
        self, path: str, *, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> ApiResponse:
        """GET a JSON resource, parsed exactly."""
        response = self.request("GET", path, params=params, headers=headers)
        try:
            data = loads_exact(response.content)
        except ValueError as exc:
            raise UpstreamError(
                f"GET {redact(str(response.url))}: the response is not valid JSON ({exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0]}) (MS-RequestId {response.request.headers.get('MS-RequestId')})"
            ) from None
        return ApiResponse(
            url=redact(str(response.url)),
            status=response.status_code,
            data=data,
            request_id=response.request.headers.get("MS-RequestId", ""),
            date=server_date(response),
            content=response.content,
        )
