"""The Partner Center REST client: headers, one retry policy, exact JSON, one-line errors."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from recon.api.auth import BearerAuth, TokenProvider
from recon.api.ratelimit import RateLimiter
from recon.api.redact import install_log_redaction, redact
from recon.api.retry import RETRYABLE_STATUS, RetryableError, RetryPolicy, parse_retry_after
from recon.api.tls import ssl_context
from recon.errors import UpstreamError
from recon.jsontext import loads_exact, loads_page
from recon.settings import Settings

if TYPE_CHECKING:
    from recon.api.aclient import Background

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


def retry_on_status(method: str, url: str, response: httpx.Response) -> httpx.Response:
    """`response`, unless its status is worth retrying: then RetryableError with the server's Retry-After."""
    if response.status_code in RETRY_STATUSES:
        raise RetryableError(
            f"{method} {redact(url)}: HTTP {response.status_code}",
            parse_retry_after(response.headers.get("Retry-After")),
        )
    return response


@contextmanager
def retry_on_drops(method: str, url: str) -> Iterator[None]:
    """Timeouts and dropped connections as RetryableError."""
    try:
        yield
    except (httpx.TimeoutException, httpx.TransportError) as exc:
        raise RetryableError(f"{method} {redact(url)}: {type(exc).__name__}") from None


def parse_answer(response: httpx.Response, *, shallow: bool = False) -> ApiResponse:
    """The JSON of a successful answer, parsed exactly, with its provenance (`shallow`: a page whose items are
    left unparsed, for a pager that only reads its links; see `jsontext.loads_page`)."""
    try:
        data = loads_page(response.content) if shallow else loads_exact(response.content)
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


class ClientCore:
    """What the synchronous and asynchronous clients share: ids, URLs, pacing, retry policy and error lines."""

    def __init__(
        self,
        settings: Settings,
        *,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        timeout: float = 60.0,
        correlation_id: str | None = None,
        graph: bool = False,
        provider: TokenProvider | None = None,
        on_retry: Callable[[RetryableError, float], None] | None = None,
    ) -> None:
        install_log_redaction()
        self.settings = settings
        self.graph = graph
        self.base_url = settings.graph_base_url if graph else settings.pc_base_url
        self.correlation_id = correlation_id or str(uuid.uuid4())
        self.policy = policy or RetryPolicy()
        self.limiter = limiter or RateLimiter()
        self.tenant = settings.tenant_id or ""
        self.timeout = timeout
        self.retries = 0
        self._retries_lock = threading.Lock()
        self.on_retry = on_retry or self._count_retry
        self.provider = provider or TokenProvider(
            settings, settings.graph_scope if graph else settings.pc_scope, self.policy
        )

    def _count_retry(self, error: RetryableError, wait: float) -> None:
        with self._retries_lock:
            self.retries += 1
        log.info("retrying in %.1f s: %s", wait, error)

    def _http_options(self) -> dict[str, Any]:
        """Connection settings for httpx.Client and httpx.AsyncClient alike."""
        return {
            "verify": ssl_context(self.settings.ca_bundle),
            "timeout": self.timeout,
            "trust_env": False,
            "limits": httpx.Limits(max_connections=32, max_keepalive_connections=32),
            "headers": {"Accept": "application/json", "MS-CorrelationId": self.correlation_id},
        }

    def url(self, path: str) -> str:
        """Absolute URL of a `/v1`-relative path (links in responses omit `/v1`)."""
        if path.startswith(("https://", "http://")):
            return path
        path = path if path.startswith("/") else f"/{path}"
        if self.graph or path.startswith("/v1/"):
            return f"{self.base_url}{path}"
        return f"{self.base_url}/v1{path}"

    def _prepare(self, path: str, headers: Mapping[str, str] | None, accept: str) -> tuple[str, str, dict[str, str]]:
        """The call's URL, its request id (one per logical call, kept across retries) and its headers."""
        request_id = str(uuid.uuid4())
        ids = {"client-request-id": request_id} if self.graph else {"MS-RequestId": request_id}
        return self.url(path), request_id, {**ids, "Accept": accept, **(headers or {})}

    @contextmanager
    def _giving_up(self, request_id: str) -> Iterator[None]:
        """Retries exhausted: one UpstreamError naming the last failure and the request id."""
        try:
            yield
        except RetryableError as exc:
            raise UpstreamError(f"{exc} — gave up after retries (MS-RequestId {request_id})") from None

    def _checked(self, method: str, path: str, response: httpx.Response, request_id: str) -> httpx.Response:
        """`response` when it succeeded, else an UpstreamError with the one-line error."""
        if response.status_code >= 400:
            raise UpstreamError(
                _error_line(method, path, response, request_id, self.correlation_id), response.status_code
            )
        return response


class PartnerCenterClient(ClientCore):
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
        super().__init__(
            settings, policy=policy, limiter=limiter, timeout=timeout, correlation_id=correlation_id, graph=graph
        )
        self.policy.on_retry = self._count_retry  # retries made with the policy directly (blob downloads)
        self._background: Background | None = None
        self._http = httpx.Client(auth=BearerAuth(self.provider), **self._http_options())

    def background(self) -> Background:
        """An event loop beside this client running its async twin (created on first use, closed with it)."""
        if self._background is None:
            from recon.api.aclient import Background  # aclient builds on this module

            self._background = Background(self)
        return self._background

    def close(self) -> None:
        """Stop the background event loop, if any, and close the connection pool."""
        if self._background is not None:
            self._background.close()
            self._background = None
        self._http.close()

    def __enter__(self) -> PartnerCenterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _once(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
        body: Any = None,
    ) -> httpx.Response:
        self.limiter.wait(self.tenant, httpx.URL(url).path)
        with retry_on_drops(method, url):
            response = self._http.request(method, url, params=params, headers=headers, json=body)
        return retry_on_status(method, url, response)

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
        url, request_id, all_headers = self._prepare(path, headers, accept)
        with self._giving_up(request_id):
            response = self.policy.call(lambda: self._once(method, url, params, all_headers, body), self.on_retry)
        return self._checked(method, path, response, request_id)

    def get_json(
        self, path: str, *, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> ApiResponse:
        """GET a JSON resource, parsed exactly."""
        return parse_answer(self.request("GET", path, params=params, headers=headers))
