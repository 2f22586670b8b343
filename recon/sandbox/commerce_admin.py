"""Admin routes of the commerce side: close the month, targeted injections."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from recon.sandbox.admin import _authorised
from recon.sandbox.billing import add_months
from recon.sandbox.commerce import TARGETED, Targeted
from recon.sandbox.responses import json_response

TARGETED_KINDS = tuple(TARGETED)


async def close_month(request: Request) -> Response:
    """POST /admin/clock/close-month: issue the current month's invoice (billed lines published at once), then
    move the clock to the first day of the next month."""
    state, denied = _authorised(request)
    if denied:
        return denied
    with state.lock:
        month = state.today.replace(day=1)
        state.commerce.closed_early.add(month)
        state.advance((add_months(month, 1) - state.today).days)
        issued = [i["id"] for i in state.world.invoices if i["periodStart"] == month]
    body: dict[str, Any] = {
        "today": state.today.isoformat(),
        "closed": month.isoformat(),
        "invoice": issued[0] if issued else None,
        "invoices": [i["id"] for i in state.world.invoices],
    }
    return json_response(body)


async def inject(request: Request) -> Response:
    """POST /admin/inject {"kind": K, "subscription_id": ..., ["on": "YYYY-MM-DD"]}: act on the subscription's
    latest line of the kind's charge types (or the one ordered on `on`): `credit_missing` withholds the credit of a
    removal or cancellation, `credit_twice` bills it twice, `charge_missing` withholds a charge (new, renew or
    cycle charge), `duplicate_line` bills it twice; the case joins the live answer key."""
    state, denied = _authorised(request)
    if denied:
        return denied
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        return json_response({"error": 'body must be {"kind": ..., "subscription_id": ...}'}, 400)
    kind, sub_id = body.get("kind"), str(body.get("subscription_id", "")).lower()
    if kind not in TARGETED_KINDS:
        return json_response({"error": f"targeted kind must be one of {', '.join(TARGETED_KINDS)}, not {kind!r}"}, 400)
    on = body.get("on")
    if on is not None:
        try:
            on = date.fromisoformat(str(on)).isoformat()
        except ValueError:
            return json_response({"error": f"on must be an ISO date, not {on!r}"}, 400)
    with state.lock:
        if not any(s.id == sub_id and not s.ghost for s in state.world.subs):
            return json_response({"error": f"subscription {sub_id!r} is not in the world"}, 400)
        before = len(state.commerce.cases)
        target = Targeted(str(kind), sub_id, {"on": on})
        state.commerce.targeted.append(target)
        state.rebuild()
        if len(state.commerce.cases) <= before:
            state.commerce.targeted.remove(target)
            state.rebuild()
            what = "removal or cancellation credit" if kind.startswith("credit") else "charge"
            text = f"subscription {sub_id} has no {what} line for {kind}"
            return json_response({"error": text}, 400)
    case = state.commerce.cases[-1]
    return json_response(case, 201)


ROUTES = [
    Route("/admin/clock/close-month", close_month, methods=["POST"]),
    Route("/admin/inject", inject, methods=["POST"]),
]
