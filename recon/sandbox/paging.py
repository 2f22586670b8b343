"""Partner Center envelopes, relative links and seek (continuation-token) paging."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote

MAX_PAGE = 2000


class PagingError(ValueError):
    """A paging request the service refuses (bad size, missing or foreign continuation token)."""


def lower_query(items: list[tuple[str, str]]) -> dict[str, str]:
    """Query parameters with lower-case names (the service ignores the case of names)."""
    return {k.lower(): v for k, v in items}


def page_size(query: dict[str, str]) -> int:
    """`size`: default and maximum 2000; larger values are capped, non-numbers refused."""
    raw = query.get("size")
    if raw is None or raw == "":
        return MAX_PAGE
    if not raw.isdigit() or int(raw) < 1:
        raise PagingError(f"size must be a positive integer, not {raw!r}")
    return min(int(raw), MAX_PAGE)


def link(uri: str, headers: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A Link object: relative uri (no /v1), GET, headers as key/value pairs."""
    return {"uri": uri, "method": "GET", "headers": headers or []}


def relative(path: str, query_string: str) -> str:
    """The request's path without /v1, with its query string."""
    path = path[3:] if path.lower().startswith("/v1/") else path
    return f"{path}?{query_string}" if query_string else path


def next_uri(path: str, items: list[tuple[str, str]]) -> str:
    """The request's relative uri without any seekOperation, plus seekOperation=Next."""
    kept = [(k, v) for k, v in items if k.lower() != "seekoperation"] + [("seekOperation", "Next")]
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in kept)
    return relative(path, query)


class TokenCodec:
    """Opaque continuation tokens: base64 of an offset and a MAC over (scope, offset)."""

    def __init__(self, secret: bytes):
        self.secret = secret

    def _mac(self, scope: str, offset: int) -> str:
        return hmac.new(self.secret, f"{scope}|{offset}".encode(), hashlib.sha256).hexdigest()[:16]

    def encode(self, scope: str, offset: int) -> str:
        """Token for the page starting at `offset` of the listing `scope` (an invoice id, ...)."""
        return base64.b64encode(f"{offset},{self._mac(scope, offset)}".encode()).decode()

    def decode(self, scope: str, token: str | None) -> int:
        """Offset carried by a token of `scope`; PagingError when missing, malformed or foreign."""
        if not token:
            raise PagingError("seekOperation=Next needs the MS-ContinuationToken header")
        try:
            offset_text, mac = base64.b64decode(token.encode(), validate=True).decode().split(",")
            offset = int(offset_text)
        except ValueError as exc:
            raise PagingError("the continuation token is not valid") from exc
        if offset < 0 or not hmac.compare_digest(mac, self._mac(scope, offset)):
            raise PagingError("the continuation token is not valid for this request")
        return offset


def collection(
    items: list[Any], self_uri: str, next_link: dict[str, Any] | None = None, continuation: str | None = None
) -> dict[str, Any]:
    """The collection envelope: totalCount = items on this page, links, attributes.objectType."""
    body: dict[str, Any] = {"totalCount": len(items), "items": items, "links": {"self": link(self_uri)}}
    if next_link is not None:
        body["links"]["next"] = next_link
    if continuation:
        body["continuationToken"] = continuation
    body["attributes"] = {"objectType": "Collection"}
    return body
