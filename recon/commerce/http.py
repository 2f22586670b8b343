"""Small helpers over PartnerCenterClient: JSON writes, collections, the server's clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from recon.api import PartnerCenterClient
from recon.errors import UpstreamError
from recon.jsontext import loads_exact


def items(client: PartnerCenterClient, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The `items` of a plain (unpaged) collection."""
    data = client.get_json(path, params=params).data
    if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
        raise UpstreamError(f"GET {path}: the answer has no 'items' list")
    return list(data["items"])


def get(client: PartnerCenterClient, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One resource as a dict."""
    data = client.get_json(path, params=params).data
    if not isinstance(data, dict):
        raise UpstreamError(f"GET {path}: the answer is not a JSON object")
    return data


def write(client: PartnerCenterClient, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """POST/PUT/PATCH a JSON body (one MS-RequestId across retries) and parse the answer exactly."""
    response = client.request(method, path, body=body)
    if not response.content:
        return {}
    data = loads_exact(response.content)
    if not isinstance(data, dict):
        raise UpstreamError(f"{method} {path}: the answer is not a JSON object")
    return data


def server_now(client: PartnerCenterClient, path: str) -> tuple[dict[str, Any], datetime]:
    """A resource and the server's clock (its `Date` header, else now in UTC) when it was read."""
    response = client.get_json(path)
    if not isinstance(response.data, dict):
        raise UpstreamError(f"GET {path}: the answer is not a JSON object")
    return response.data, response.date or datetime.now(UTC)


def parse_time(value: object) -> datetime | None:
    """An ISO timestamp from the API (7 fractional digits and `Z` allowed) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:  # Python takes at most 6 fractional digits
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
