"""Audit records (`GET /v1/auditrecords`, audit.md): records of the sandbox's own writes and of the generated
world's purchases and seat changes, 90 days back, at most 30 days per request, newest first, seek paging."""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from recon.sandbox.commerce_view import CommerceView, SubView
from recon.sandbox.customers_api import bad_input, lower_keys, sandbox, view_of
from recon.sandbox.jsonenc import dumps
from recon.sandbox.paging import PagingError, collection, link, lower_query
from recon.sandbox.population import Customer
from recon.sandbox.responses import json_response

if TYPE_CHECKING:
    from recon.sandbox.state import SandboxState

MAX_SIZE = 500
_EPOCH_TICKS = datetime(1, 1, 1, tzinfo=UTC)
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S")


def ticks(stamp_text: str) -> int:
    """.NET ticks (100 ns since 0001-01-01) of an ISO timestamp with 7 fractional digits."""
    head, _, frac = stamp_text.rstrip("Z").partition(".")
    moment = datetime.fromisoformat(head).replace(tzinfo=UTC)
    delta = moment - _EPOCH_TICKS
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + int((frac or "0").ljust(7, "0")[:7])


def record(
    state: SandboxState,
    cust: Customer,
    *,
    resource_type: str,
    resource_id: str,
    operation: str,
    when: str,
    new: dict[str, Any],
    old: dict[str, Any] | None = None,
    upn: str | None = None,
    app: str | None = None,
    correlation: str | None = None,
    data: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One AuditRecord (null keys left out; blobs are JSON text with nulls kept)."""
    partner = state.world.partner_id
    rec: dict[str, Any] = {
        "id": f"{partner}_{cust.id}_{resource_id.lower()}_{operation.replace('_', '')}_{ticks(when)}",
        "partnerId": partner,
        "participants": [partner],
        "customerId": cust.id,
        "customerName": cust.name,
        "userPrincipalName": upn or state.user_upn,
        "applicationId": app or state.client_id,
        "resourceType": resource_type,
    }
    if old is not None:
        rec["resourceOldValue"] = json.dumps(old, separators=(",", ":"), default=str)
    rec["resourceNewValue"] = json.dumps(new, separators=(",", ":"), default=str)
    rec["operationType"] = operation
    if correlation:
        rec["originalCorrelationId"] = correlation
    rec["operationDate"] = when
    rec["operationStatus"] = "succeeded"
    rec["customizedData"] = data or []
    rec["attributes"] = {"objectType": "AuditRecord"}
    return rec


def order_data(order: dict[str, Any]) -> list[dict[str, Any]]:
    """customizedData of a create_order record (audit.md §8.4)."""
    out = [
        {"key": "OrderId", "value": order["Id"]},
        {"key": "AlternateId", "value": order["AlternateId"]},
        {"key": "BillingCycle", "value": str(order["BillingCycle"]).capitalize()},
    ]
    for n, line in enumerate(order["LineItems"]):
        out += [
            {"key": f"OfferId-{n}", "value": line["OfferId"]},
            {"key": f"SubscriptionId-{n}", "value": line.get("SubscriptionId")},
            {"key": f"SubscriptionName-{n}", "value": line["FriendlyName"]},
            {"key": f"Quantity-{n}", "value": str(line["Quantity"])},
            {"key": f"PartnerOnRecord-{n}", "value": line.get("PartnerIdOnRecord") or None},
        ]
    return out


def _blob(value: dict[str, Any]) -> dict[str, Any]:
    """Decimals inside a blob as JSON numbers (the blob is text, written with the exact encoder)."""
    parsed: dict[str, Any] = json.loads(dumps(value))
    return parsed


@dataclass(frozen=True)
class _Generated:
    """A generated record, rendered only when a page holds it: sort key, filter fields and what it is made of."""

    when: str
    id: str
    cust: Customer
    resource_type: str
    order: dict[str, Any] | None = None
    view: SubView | None = None
    event: dict[str, Any] | None = None

    def render(self, state: SandboxState, view: CommerceView) -> dict[str, Any]:
        """The AuditRecord."""
        if self.order is not None:
            o = view.order_resource(self.order, True, pascal=True)
            return record(
                state,
                self.cust,
                resource_type="order",
                resource_id=self.order["id"],
                operation="create_order",
                when=self.when,
                new=_blob(o),
                app=_PORTAL,
                data=order_data(o),
            )
        assert self.view is not None and self.event is not None
        v, ev = self.view, self.event
        return record(
            state,
            self.cust,
            resource_type="subscription",
            resource_id=v.sub.id,
            operation="update_subscription",
            when=self.when,
            old=_snapshot(view, v, ev["before"], ev["line"]),
            new=_snapshot(view, v, ev["after"], ev["line"]),
            app=_PORTAL,
            data=[{"key": "SubscriptionId", "value": v.sub.id}],
        )


_PORTAL = "4990cffe-04e8-4e8b-808a-1175604b879f"  # the Partner Center portal's application id


def _record_id(state: SandboxState, cust: Customer, resource_id: str, operation: str, when: str) -> str:
    return f"{state.world.partner_id}_{cust.id}_{resource_id.lower()}_{operation.replace('_', '')}_{ticks(when)}"


def history(state: SandboxState, view: CommerceView) -> list[_Generated]:
    """Index of the generated world's purchases and seat changes (as if made in the Partner Center portal), by
    (operationDate, id); built once per world under the state lock, rendered page by page."""
    with state.lock:
        cache = state.commerce.history_cache
        if cache is not None and cache[0] == id(view.world):
            return cache[1]
        out: list[_Generated] = []
        oldest = view.today - timedelta(days=90)
        for cust in view.world.customers:
            orders = {o["id"]: o for o in view.orders(cust)}
            for v in view.subscriptions(cust):
                if v.live is not None and v.live.adopted is None:
                    continue
                sub = v.sub
                if oldest <= sub.start < view.today and sub.order_id in orders:
                    when = orders[sub.order_id]["created"]
                    rid = _record_id(state, cust, sub.order_id, "create_order", when)
                    out.append(_Generated(when, rid, cust, "order", order=orders[sub.order_id]))
                for ev in v.events:
                    ln = ev["line"]
                    if ev["kind"] in ("new", "renew") or not oldest <= ln.order_date < view.today:
                        continue
                    order = orders.get(ln.order_id)
                    when = order["created"] if order is not None else f"{ln.order_date}T12:00:00.0000000Z"
                    rid = _record_id(state, cust, sub.id, "update_subscription", when)
                    out.append(_Generated(when, rid, cust, "subscription", view=v, event=ev))
        out.sort(key=lambda g: (g.when, g.id))
        state.commerce.history_cache = (id(view.world), out)
        return out


def _snapshot(view: CommerceView, v: SubView, st: dict[str, Any], ln: Any) -> dict[str, Any]:
    """The subscription as it was before or after a generated event."""
    k = 0 if ln.term_start == v.sub.start else 1
    past = SubView(
        v.sub,
        v.cust,
        st["qty"],
        st["status"],
        st["auto_renew"],
        [(q, u) for q, u in st["batches"] if u >= ln.order_date],
        v.friendly_name,
        (k, ln.term_start, ln.term_end),
        (ln.charge_start, ln.charge_end),
        v.created,
        [],
    )
    return _blob(view.subscription_resource(past, pascal=True, as_of=ln.order_date))


def _parse_date(raw: str, name: str) -> date:
    text = raw.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).date()
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError as exc:
        raise PagingError(f"{name} {raw!r} is not a date (use yyyy-MM-dd).") from exc


def _filter(raw: str) -> tuple[str, str, str]:
    try:
        spec = lower_keys(json.loads(raw))
        field, value, op = str(spec["field"]).lower(), str(spec["value"]), str(spec["operator"]).lower()
    except (ValueError, KeyError, TypeError) as exc:
        raise PagingError("The request is invalid: filter must be {Field, Value, Operator}.") from exc
    if (field, op) not in (("companyname", "substring"), ("customerid", "equals"), ("resourcetype", "equals")):
        text = f"filter {spec['field']!r} with operator {spec['operator']!r} is not supported"
        raise PagingError(f"The request is invalid: {text}.")
    return field, value, op


def _matches(rec: dict[str, Any], field: str, value: str) -> bool:
    fields = (str(rec.get("customerId", "")), str(rec.get("customerName", "")), str(rec["resourceType"]))
    return _matches_fields(*fields, field, value)


def _matches_fields(customer_id: str, customer_name: str, resource_type: str, field: str, value: str) -> bool:
    if field == "companyname":
        return value.lower() in customer_name.lower()
    if field == "customerid":
        return customer_id.lower() == value.lower()
    return resource_type.replace("_", "") == value.lower().replace("_", "")


def audit_records(request: Request) -> Response:
    """GET /v1/auditrecords?startDate=&endDate=&size=&filter=."""
    state = sandbox(request)
    view = view_of(state)
    items = list(request.query_params.multi_items())
    q = lower_query(items)
    today = state.today
    try:
        start = _parse_date(q["startdate"], "startDate") if q.get("startdate") else today - timedelta(days=30)
        if start < today - timedelta(days=90):
            raise PagingError("Audit records are only available for the last 90 days.")
        default_end = min(start + timedelta(days=30), today)
        end = _parse_date(q["enddate"], "endDate") if q.get("enddate") else default_end
        if end < start or start > today:
            raise PagingError("endDate must not be before startDate, and startDate must not be in the future.")
        if (end - start).days > 30:
            if state.world.switches.get("audit_long_window") != "clamp":
                raise PagingError("One request covers at most 30 days; split the range.")
            end = start + timedelta(days=30)
        raw_size = q.get("size", "")
        if raw_size and (not raw_size.isdigit() or int(raw_size) < 1):
            raise PagingError(f"size must be a positive integer, not {raw_size!r}")
        size = min(int(raw_size), MAX_SIZE) if raw_size else MAX_SIZE
        flt = _filter(q["filter"]) if q.get("filter") else None
        seek = q.get("seekoperation", "").lower()
        if seek not in ("", "next"):
            raise PagingError("seekOperation must be Next")
        canon = [("startDate", start.isoformat())]
        if q.get("enddate"):
            canon.append(("endDate", end.isoformat()))
        canon.append(("size", str(size)))
        if flt:
            canon.append(("filter", json.dumps({"Field": _field_name(flt[0]), "Value": flt[1], "Operator": flt[2]})))
        self_q = "&".join(f"{k}={quote(v, safe='')}" for k, v in canon)
        scope = f"audit|{self_q}"
        offset = state.codec.decode(scope, request.headers.get("ms-continuationtoken")) if seek else 0
    except PagingError as exc:
        return bad_input(str(exc))
    generated = history(state, view)
    lo = bisect_left(generated, start.isoformat(), key=lambda g: g.when[:10])
    hi = bisect_right(generated, end.isoformat(), key=lambda g: g.when[:10])
    pool: list[tuple[str, str, _Generated | dict[str, Any]]] = [
        (g.when, g.id, g)
        for g in generated[lo:hi]
        if flt is None or _matches_fields(g.cust.id, g.cust.name, g.resource_type, flt[0], flt[1])
    ]
    pool += [
        (r["operationDate"], r["id"], r)
        for r in state.commerce.audit
        if start <= date.fromisoformat(r["operationDate"][:10]) <= end and (flt is None or _matches(r, flt[0], flt[1]))
    ]
    pool.sort(key=lambda t: (t[0], t[1]), reverse=True)
    page = [r if isinstance(r, dict) else r.render(state, view) for _, _, r in pool[offset : offset + size]]
    stop = offset + len(page)
    token = state.codec.encode(scope, stop) if stop < len(pool) else None
    nxt = None
    if token:
        nxt = link(f"/auditrecords?{self_q}&seekOperation=Next", [{"key": "MS-ContinuationToken", "value": token}])
    return json_response(collection(page, f"/auditrecords?{self_q}", nxt, token))


def _field_name(field: str) -> str:
    return {"companyname": "CompanyName", "customerid": "CustomerId", "resourcetype": "ResourceType"}[field]


ROUTES = [Route("/v1/auditrecords", audit_records, methods=["GET"])]
