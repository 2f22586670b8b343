"""Admin API under /admin (bearer admin_token): answer key, request log, reset, clock."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from recon.sandbox.responses import json_response

if TYPE_CHECKING:
    from recon.sandbox.state import SandboxState


def _authorised(request: Request) -> tuple[SandboxState, Response | None]:
    state: SandboxState = request.app.state.sandbox
    header = request.headers.get("authorization", "")
    if not (header.lower().startswith("bearer ") and secrets.compare_digest(header[7:].strip(), state.admin_token)):
        return state, json_response(
            {"error": "admin routes need Authorization: Bearer <admin_token>"},
            401,
            {"WWW-Authenticate": 'Bearer realm="recon-sandbox-admin"'},
        )
    return state, None


def answer_key(request: Request) -> Response:
    """GET /admin/answer-key: the live answer key as a JSON list."""
    state, denied = _authorised(request)
    return denied or json_response(state.world.answer_key)


def requests_log(request: Request) -> Response:
    """GET /admin/requests: the request log (secrets removed)."""
    state, denied = _authorised(request)
    return denied or json_response(list(state.log))


async def reset(request: Request) -> Response:
    """POST /admin/reset: back to the start state."""
    state, denied = _authorised(request)
    if denied:
        return denied
    state.reset()
    return json_response({"today": state.today.isoformat()})


async def clock_advance(request: Request) -> Response:
    """POST /admin/clock/advance {"days": n}: move the sandbox clock forward."""
    state, denied = _authorised(request)
    if denied:
        return denied
    try:
        body = await request.json()
        days = body["days"]
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return json_response({"error": 'body must be {"days": <non-negative integer>}'}, 400)
    state.advance(days)
    return json_response({"today": state.today.isoformat(), "invoices": [i["id"] for i in state.world.invoices]})


async def put_switches(request: Request) -> Response:
    """PUT /admin/switches {name: value}: change switches; answers every switch with its value."""
    state, denied = _authorised(request)
    if denied:
        return denied
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object of switch names and values")
        state.set_switches({str(k): str(v) for k, v in body.items()})
    except ValueError as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response(state.world.switches)


async def put_faults(request: Request) -> Response:
    """PUT /admin/faults ["KIND:RATE[:ARG][@ROUTE]", ...]: replace the active faults."""
    state, denied = _authorised(request)
    if denied:
        return denied
    try:
        body = await request.json()
        if not isinstance(body, list) or not all(isinstance(x, str) for x in body):
            raise ValueError("body must be a JSON list of fault specs")
        state.set_faults(body)
    except ValueError as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response([str(f) for f in state.faults.faults])


def clock(request: Request) -> Response:
    """GET /admin/clock: the sandbox date."""
    state, denied = _authorised(request)
    return denied or json_response({"today": state.today.isoformat()})


ROUTES = [
    Route("/admin/answer-key", answer_key, methods=["GET"]),
    Route("/admin/requests", requests_log, methods=["GET"]),
    Route("/admin/reset", reset, methods=["POST"]),
    Route("/admin/clock", clock, methods=["GET"]),
    Route("/admin/clock/advance", clock_advance, methods=["POST"]),
    Route("/admin/switches", put_switches, methods=["PUT"]),
    Route("/admin/faults", put_faults, methods=["PUT"]),
]
