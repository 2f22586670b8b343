"""Response helpers: exact-decimal JSON and the Partner Center error body."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from recon.sandbox.jsonenc import dumps

JSON = "application/json; charset=utf-8"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response whose Decimals are exact JSON numbers."""
    return Response(dumps(body), status, media_type=JSON, headers=headers)


def pc_error(status: int, code: str | int, description: str, headers: dict[str, str] | None = None) -> Response:
    """The Partner Center error body {code, description, data, source}."""
    body: dict[str, Any] = {"code": code, "description": description, "data": [], "source": "PartnerFD"}
    return json_response(body, status, headers)
