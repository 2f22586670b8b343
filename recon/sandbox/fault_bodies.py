"""Faults that change a response on the wire: error answers, dropped connections, bad JSON, strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.types import ASGIApp, Message, Send

from recon.sandbox.faults import Fault
from recon.sandbox.jsonenc import dumps, loads
from recon.sandbox.responses import json_response, pc_error

BODY_KINDS = ("drop", "badjson", "strings")


def error_response(fault: Fault) -> ASGIApp:
    """The answer of a 429 or 5xx fault (documented bodies; 429 carries Retry-After)."""
    if fault.kind == "429":
        seconds = int(float(fault.arg))
        body = {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {seconds} seconds."}
        return json_response(body, 429, {"Retry-After": str(seconds)})
    return pc_error(int(fault.arg), fault.arg, "The service is temporarily unavailable. Please retry.")


def _stringify(value: Any, top: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: (v if top and k == "totalCount" else _stringify(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    return value


def rewrite(body: bytes, kind: str) -> bytes:
    """The body a body fault sends instead of `body` (for drop: only what is sent before the cut)."""
    if kind == "strings":
        try:
            return dumps(_stringify(loads(body), top=True))
        except ValueError:
            return body
    if kind == "badjson":
        return body[: max(1, len(body) // 2)] + b"\x00}"
    return body[: len(body) // 2]  # drop


class BodyFault:
    """Wraps `send`: buffers the response, then sends the faulted body (and for drop, cuts the connection)."""

    def __init__(self, send: Send, kind: str):
        self.send, self.kind = send, kind
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(self.chunks)
        new = rewrite(body, self.kind)
        declared = len(body) if self.kind == "drop" else len(new)
        headers = [(k, v) for k, v in self.start.get("headers", []) if k.lower() != b"content-length"]
        await self.send({**self.start, "headers": [*headers, (b"content-length", str(declared).encode())]})
        # drop: the app returns with the body unfinished, so the server closes the connection mid-body
        await self.send({"type": "http.response.body", "body": new, "more_body": self.kind == "drop"})
