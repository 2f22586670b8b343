"""The v2 (Graph) export flow: POST -> 202 Location -> poll honouring Retry-After -> manifest -> blobs.

Blobs are gzip JSON lines (possibly several gzip members, possibly with a UTF-8 BOM) downloaded in parallel
with their SAS query; no bearer token goes to blob storage.
"""

from __future__ import annotations

import gzip
import hashlib
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from recon.api.client import ApiResponse, PartnerCenterClient, server_date
from recon.api.paging import Page
from recon.api.redact import redact
from recon.api.retry import RETRYABLE_STATUS, RetryableError, parse_retry_after
from recon.api.tls import ssl_context
from recon.errors import UpstreamError
from recon.jsontext import loads_exact

EXPORTS = "/reports/partners/billing"
RUNNING = frozenset({"notstarted", "running"})
MAX_RESTARTS = 2  # an operation that expired (410) is started again


class ExportFailed(UpstreamError):
    """The service ran the export and said it failed (e.g. code 5000: no data for that invoice in v2)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Export:
    """A finished export: its operation, its manifest and the download URL of each blob."""

    operation_id: str
    manifest: Mapping[str, Any]
    blob_urls: list[str]
    date: Any


def _manifest(graph: PartnerCenterClient, operation: Mapping[str, Any]) -> Mapping[str, Any]:
    inline = operation.get("resourceLocation")
    if isinstance(inline, Mapping):
        return inline
    link = operation.get("resourceLocation@odata.navigationLink")
    if not link:
        raise UpstreamError(f"export operation {operation.get('id')} succeeded without a manifest")
    data: Mapping[str, Any] = graph.get_json(str(link)).data
    return data


def run_export(
    graph: PartnerCenterClient,
    what: str,
    body: Mapping[str, Any],
    *,
    max_wait: float = 900.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Export:
    """Start an export (`what` is e.g. `reconciliation/billed`) and wait until its manifest is there."""
    for _ in range(MAX_RESTARTS + 1):
        started = graph.request("POST", f"{EXPORTS}/{what}/export", body=dict(body))
        location = started.headers.get("Location")
        if started.status_code != 202 or not location:
            raise UpstreamError(
                f"POST {EXPORTS}/{what}/export: expected 202 with a Location, got {started.status_code}"
            )
        waited = 0.0
        while True:
            try:
                answer = graph.request("GET", location)
            except UpstreamError as exc:
                if exc.status == 410:
                    break  # the operation expired: start a new export
                raise
            operation = loads_exact(answer.content)
            status = str(operation.get("status", "")).lower()
            if status in RUNNING:
                wait = parse_retry_after(answer.headers.get("Retry-After"))
                wait = 5.0 if wait is None else wait
                if waited + wait > max_wait:
                    raise UpstreamError(f"export {operation.get('id')} still running after {waited:.0f} s; stopped")
                sleep(wait)
                waited += wait
                continue
            if status == "failed":
                error = operation.get("error") or {}
                raise ExportFailed(
                    f"export {what} {dict(body)} failed: {error.get('code', '?')} {error.get('message', '')}".strip(),
                    str(error.get("code", "")),
                )
            if status != "succeeded":
                raise UpstreamError(f"export operation {operation.get('id')}: unknown status {status!r}")
            manifest = _manifest(graph, operation)
            root, sas = str(manifest.get("rootDirectory", "")).rstrip("/"), str(manifest.get("sasToken", ""))
            urls = [f"{root}/{blob['name']}?{sas}" for blob in manifest.get("blobs") or []]
            if int(manifest.get("blobCount", len(urls))) != len(urls):
                raise UpstreamError(
                    f"manifest {manifest.get('id')}: blobCount says {manifest.get('blobCount')}, lists {len(urls)}"
                )
            return Export(str(operation.get("id")), manifest, urls, server_date(answer))
    raise UpstreamError(f"export {what}: the operation expired {MAX_RESTARTS + 1} times; stopped")


def decode_blob(data: bytes) -> list[dict[str, Any]]:
    """JSON lines from a blob: every gzip member, an optional BOM, numbers parsed exactly."""
    try:
        text = gzip.decompress(data).decode("utf-8-sig")  # reads every member of a multi-member stream
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise UpstreamError(f"blob is not gzip-compressed UTF-8 JSON lines ({exc})") from None
    lines = [line for line in text.splitlines() if line.strip()]
    try:  # one parse for the whole blob; line by line only to say which line is wrong
        items = loads_exact("[" + ",".join(lines) + "]") if lines else []
    except ValueError:
        items = None
    if items is None or len(items) != len(lines) or not all(isinstance(item, dict) for item in items):
        _check_lines(text)
    return list(items or [])


def _check_lines(text: str) -> None:
    """Raise for the first blank-free line of a blob that is not one JSON object."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = loads_exact(line)
        except ValueError as exc:
            raise UpstreamError(f"blob line {number} is not valid JSON ({exc})") from None
        if not isinstance(item, dict):
            raise UpstreamError(f"blob line {number} is not a JSON object")
    raise UpstreamError("blob is not JSON lines")


class BlobDownloader:
    """Downloads blobs by their SAS URL (no bearer), retrying transient failures."""

    def __init__(self, graph: PartnerCenterClient, *, concurrency: int = 4) -> None:
        self.graph = graph
        self.concurrency = concurrency
        self._http = httpx.Client(verify=ssl_context(graph.settings.ca_bundle), timeout=120.0, trust_env=False)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _get(self, url: str) -> httpx.Response:
        def attempt() -> httpx.Response:
            try:
                response = self._http.get(url)
                if response.status_code in RETRYABLE_STATUS:
                    raise RetryableError(
                        f"GET {redact(url)}: HTTP {response.status_code}",
                        parse_retry_after(response.headers.get("Retry-After")),
                    )
                response.read()
                return response
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise RetryableError(f"GET {redact(url)}: {type(exc).__name__}") from None

        try:
            response = self.graph.policy.call(attempt)
        except RetryableError as exc:
            raise UpstreamError(f"{exc} — gave up after retries") from None
        if response.status_code >= 400:
            raise UpstreamError(
                f"GET {redact(url)}: HTTP {response.status_code} {response.reason_phrase}", response.status_code
            )
        return response

    def pages(self, export: Export) -> Iterator[Page]:
        """One page per blob, in manifest order (downloaded `concurrency` at a time)."""
        context = {"operation_id": export.operation_id, "manifest_id": str(export.manifest.get("id", ""))}
        if not export.blob_urls:  # an export with no data: one empty page keeps its provenance and as-of time
            empty = ApiResponse(url="", status=200, data=None, request_id="", date=export.date, content=b"")
            yield Page(1, [], empty, context=context)
            return
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency), thread_name_prefix="recon-blob") as pool:
            for number, (url, response) in enumerate(
                zip(export.blob_urls, pool.map(self._get, export.blob_urls), strict=True), start=1
            ):
                items = decode_blob(response.content)
                name = url.split("?")[0].rsplit("/", 1)[-1]
                api = ApiResponse(
                    url=redact(url),
                    status=response.status_code,
                    data=None,
                    request_id="",
                    date=server_date(response) or export.date,
                    content=b"",
                )
                blob = {
                    "blob": name,
                    "blob_bytes": str(len(response.content)),
                    "blob_sha256": hashlib.sha256(response.content).hexdigest(),
                }
                yield Page(number, items, api, context={**context, **blob}, raw=response.content)
