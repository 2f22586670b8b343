"""Commerce routes for orders, subscriptions (GET and PATCH) and carts (create, get, update, checkout)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from recon.sandbox import audit
from recon.sandbox.billing import TERM_MONTHS, cycle_months, rounddown
from recon.sandbox.catalog import list_price
from recon.sandbox.commerce import WINDOW, Cart, Event, LiveSub, Order, OrderLine, monotonic, stamp
from recon.sandbox.commerce_view import CommerceView, SubView, catalog_item_id, find_availability
from recon.sandbox.customers_api import (
    bad_input,
    caller,
    has_mca,
    idempotent,
    json_body,
    query,
    sandbox,
    self_uri,
    the_customer,
    view_of,
)
from recon.sandbox.paging import collection, link
from recon.sandbox.population import Customer
from recon.sandbox.rand import base128
from recon.sandbox.responses import json_response, pc_error

if TYPE_CHECKING:
    from recon.sandbox.state import SandboxState

MAX_SEATS = 300
CART_LIFETIME = timedelta(days=7)
_CART_ERRORS = {
    10001: "catalog_item_id_is_not_valid",
    10010: "invalid_input",
    10013: "billing_plan_not_supported",
    10014: "invalid_promotion_id",
}


def _flag(request: Request, name: str) -> bool:
    return query(request).get(name, "false").lower() == "true"


# -- orders ----------------------------------------------------------------------------------------------------------


def orders(request: Request) -> Response:
    """GET /v1/customers/{id}/orders[?include_price=true][&billingType=][&include_system_purchases=true]."""
    view, cust, denied = the_customer(request)
    if cust is None:
        return denied  # type: ignore[return-value]
    price = _flag(request, "include_price")
    system = _flag(request, "include_system_purchases")
    cycle = query(request).get("billingtype", "").lower()
    items = [
        view.order_resource(o, price)
        for o in view.orders(cust)
        if o["listed"]
        and (system or o["transaction_type"] == "UserPurchase")
        and (not cycle or o["billing_cycle"] == cycle)
    ]
    return json_response(collection(items, self_uri(request)))


def _order(request: Request) -> tuple[CommerceView, dict[str, Any] | None, Response | None]:
    view, cust, denied = the_customer(request)
    if cust is None:
        return view, None, denied
    oid = request.path_params["order_id"].lower()
    for o in view.orders(cust):
        if o["id"] == oid:
            return view, o, None
    return view, None, pc_error(404, 20000, f"Order {oid} was not found.")


def order_by_id(request: Request) -> Response:
    """GET /v1/customers/{id}/orders/{orderId}[?include_price=true] (visible at once, unlike the list)."""
    view, o, denied = _order(request)
    if o is None:
        return denied  # type: ignore[return-value]
    return json_response(view.order_resource(o, _flag(request, "include_price")))


def provisioning_status(request: Request) -> Response:
    """GET /v1/customers/{id}/orders/{orderId}/provisioningstatus."""
    _, o, denied = _order(request)
    if o is None:
        return denied  # type: ignore[return-value]
    status = "fulfilled" if o["provisioned"] else "prefulfillmentpending"
    items = [
        {
            "orderLineItemId": it["number"],
            "lineItemNumber": it["number"],
            "status": status,
            "quantityProvisioningInformation": [{"quantity": it["quantity"], "status": status}],
        }
        for it in o["items"]
    ]
    return json_response(collection(items, self_uri(request)))


# -- subscriptions ---------------------------------------------------------------------------------------------------


def subscriptions(request: Request) -> Response:
    """GET /v1/customers/{id}/subscriptions[?order_id=][&mpn_id=]."""
    view, cust, denied = the_customer(request)
    if cust is None:
        return denied  # type: ignore[return-value]
    q = query(request)
    if q.get("order_id") and q.get("mpn_id"):
        return bad_input("order_id and mpn_id cannot be combined.")
    chosen = [v for v in view.subscriptions(cust) if v.provisioned]
    if q.get("order_id"):
        oid = q["order_id"].lower()
        chosen = [v for v in chosen if v.sub.order_id == oid]
    if q.get("mpn_id"):
        chosen = [v for v in chosen if str(cust.reseller_mpn) == q["mpn_id"]]
    return json_response(collection([view.subscription_resource(v) for v in chosen], self_uri(request)))


def _subscription(request: Request) -> tuple[CommerceView, Customer | None, SubView | None, Response | None]:
    view, cust, denied = the_customer(request)
    if cust is None:
        return view, None, None, denied
    sid = request.path_params["subscription_id"]
    v = view.subscription(cust, sid)
    if v is None or not v.provisioned:
        return view, cust, None, pc_error(404, 20003, f"Subscription {sid} was not found.")
    return view, cust, v, None


def subscription_by_id(request: Request) -> Response:
    """GET /v1/customers/{id}/subscriptions/{subscriptionId}."""
    view, _, v, denied = _subscription(request)
    if v is None:
        return denied  # type: ignore[return-value]
    return json_response(view.subscription_resource(v))


def _plan_change(v: SubView, body: dict[str, Any], today: date) -> tuple[list[tuple[str, Any]], Response | None]:
    """The changes a PATCH body asks for, checked against the NCE rules (nothing is changed here)."""
    changes: list[tuple[str, Any]] = []
    if v.status in ("deleted", "expired"):
        return [], pc_error(400, 2011, f"A subscription in {v.status} status cannot be updated.")
    status = body.get("status")
    if status is not None and str(status).lower() != v.status:
        status = str(status).lower()
        if status == "deleted":
            if today > v.term[1] + WINDOW:
                return [], pc_error(400, 900117, "The 7-day cancellation window has passed.")
            changes.append(("cancel", None))
        elif status == "suspended" and v.status == "active":
            changes.append(("suspend", None))
        elif status == "active" and v.status == "suspended":
            changes.append(("reactivate", None))
        else:
            return [], bad_input(f"The subscription cannot move from {v.status} to {status}.")
    qty = body.get("quantity")
    if qty is not None and qty != v.qty and not any(c[0] == "cancel" for c in changes):
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= MAX_SEATS:
            return [], pc_error(400, 2002, f"Quantity must be between 1 and {MAX_SEATS}.")
        if v.status == "suspended" or any(c[0] == "suspend" for c in changes):
            return [], pc_error(400, 800091, "Cannot update a suspended subscription.")
        if qty < v.qty and v.qty - qty > sum(q for q, _ in v.batches):
            return [], pc_error(400, 800090, "Subscription quantity cannot be decreased.")
        changes.append(("addQuantity" if qty > v.qty else "removeQuantity", qty))
    auto = body.get("autorenewenabled")
    if auto is not None and not any(c[0] in ("cancel", "suspend") for c in changes):
        if not isinstance(auto, bool):
            return [], bad_input("autoRenewEnabled must be true or false.")
        if auto != v.auto_renew:
            changes.append(("autoRenew", auto))
    name = body.get("friendlyname")
    if isinstance(name, str) and name and name != v.friendly_name:
        changes.append(("rename", name))
    return changes, None


@idempotent
async def patch_subscription(request: Request) -> Response:
    """PATCH /v1/customers/{id}/subscriptions/{subscriptionId}: quantity, cancel (status deleted), suspend and
    reactivate, autoRenewEnabled, friendlyName, honouring the 7-day windows."""
    state = sandbox(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        return bad_input("The body must be a Subscription resource.")
    with state.lock:
        view, cust, v, denied = _subscription(request)
        if v is None or cust is None:
            return denied  # type: ignore[return-value]
        today = state.today
        changes, refused = _plan_change(v, body, today)
        if refused:
            return refused
        if not changes:
            return json_response(view.subscription_resource(v))
        old = view.subscription_resource(v, pascal=True)
        ledger = state.commerce
        live = ledger.subs.get(v.sub.id) or ledger.adopt(
            v.sub, cust, {"qty": v.qty, "auto_renew": v.auto_renew, "batches": v.batches, "status": v.status}, today
        )
        qty = v.qty
        for kind, value in changes:
            seq = ledger.next_seq()
            order_id = ""
            if kind in ("addQuantity", "removeQuantity", "cancel"):
                order_id = _change_order(state, live, cust, kind, qty, value, seq)
            after = value if kind in ("addQuantity", "removeQuantity") else qty
            live.events.append(Event(seq, today, kind, qty, after, order_id, value))
            qty = after
        state.rebuild()
        view = view_of(state)
        fresh = view.subscription(cust, v.sub.id)
        assert fresh is not None
        upn, _ = caller(request)
        when = stamp(today, ledger.seq)
        rec = audit.record(
            state,
            cust,
            resource_type="subscription",
            resource_id=v.sub.id,
            operation="update_subscription",
            when=when,
            old=audit._blob(old),
            new=audit._blob(view.subscription_resource(fresh, pascal=True)),
            upn=upn,
            correlation=request.headers.get("ms-correlationid"),
            data=[{"key": "SubscriptionId", "value": v.sub.id}],
        )
        ledger.audit.append(rec)
        return json_response(view.subscription_resource(fresh))


def _change_order(state: SandboxState, live: LiveSub, cust: Customer, kind: str, qty: int, value: Any, seq: int) -> str:
    """The order a seat change or cancellation leaves (transactionType AddQuantity, RemoveQuantity, Cancel)."""
    ledger = state.commerce
    oid = ledger.new_order_id()
    av = live.avail
    transaction = {"addQuantity": "AddQuantity", "removeQuantity": "RemoveQuantity", "cancel": "Cancel"}[kind]
    count = abs(value - qty) if kind != "cancel" else qty
    line = OrderLine(0, live.id, catalog_item_id(av), av.term, transaction, count, live.friendly_name)
    when = stamp(state.today, seq)
    ledger.orders[oid] = Order(oid, cust.idx, av.plan, cust.currency, when, state.today, [line], made_at=monotonic())
    return oid


# -- carts -----------------------------------------------------------------------------------------------------------


def _cart_line(state: SandboxState, cust: Customer, raw: Any, n: int) -> dict[str, Any]:
    """A cart line as the service returns it: normalised, priced, with an error when it cannot be bought."""
    item = raw if isinstance(raw, dict) else {}
    cid = str(item.get("catalogitemid") or item.get("catalogid") or "")
    line: dict[str, Any] = {
        "id": item.get("id") if isinstance(item.get("id"), int) else n,
        "catalogItemId": cid,
        "quantity": item.get("quantity"),
        "currencyCode": cust.currency,
        "billingCycle": str(item.get("billingcycle") or "").lower().replace("onetime", "one_time"),
        "termDuration": str(item.get("termduration") or "").upper(),
        "provisioningContext": {},
    }
    if item.get("friendlyname"):
        line["friendlyName"] = str(item["friendlyname"])
    if item.get("promotionid"):
        line["promotionId"] = str(item["promotionid"])
    av = find_availability(cid)
    code = 0
    if av is None:
        code = 10001
    elif (line["billingCycle"], line["termDuration"]) != (av.plan, av.term):
        code = 10013
    elif not _seats(line["quantity"]):
        code = 10010
    elif "promotionId" in line:
        code = 10014
    if code:
        line["error"] = {
            "errorCode": _CART_ERRORS[code],
            "errorDescription": {
                10001: f"CatalogItemId {cid} is not valid.",
                10013: "The billing cycle and term duration are not sold under this availability.",
                10010: f"Quantity must be an integer between 1 and {MAX_SEATS}.",
                10014: "The promotion is not available for this customer.",
            }[code],
            "additionalInformation": {},
        }
    if av is not None and "error" not in line:
        price = list_price(state.settings.seed, av, cust.currency, state.today)
        fx = view_of(state).rating.fx(cust.currency, state.today)
        unit = rounddown(price * fx)
        charges = TERM_MONTHS[av.term] // cycle_months(av.term, av.plan)
        line["pricing"] = {
            "listPrice": price,
            "discountedPrice": price,
            "proratedPrice": price,
            "price": unit,
            "extendedPrice": unit * line["quantity"] * charges,
        }
    return line


def _seats(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SEATS


def _group(lines: list[dict[str, Any]]) -> None:
    groups: dict[str, str] = {}
    for line in lines:
        line["orderGroup"] = groups.setdefault(line["billingCycle"], str(len(groups)))


def cart_resource(state: SandboxState, cust: Customer, cart: Cart) -> dict[str, Any]:
    """The Cart resource."""
    return {
        "id": cart.id,
        "creationTimestamp": cart.created,
        "lastModifiedTimestamp": cart.modified,
        "expirationTimestamp": _expiry(cart),
        "lastModifiedUser": cart.user,
        "status": cart.status,
        "lineItems": cart.lines,
        "links": {"self": link(f"/customers/{cust.id}/carts/{cart.id}")},
        "attributes": {"objectType": "Cart"},
    }


def _expiry(cart: Cart) -> str:
    return (cart.created_on + CART_LIFETIME).isoformat() + cart.created[10:]


async def _cart_body(request: Request) -> tuple[list[Any], bool | None, Response | None]:
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("lineitems"), list) or not body["lineitems"]:
        return [], None, bad_input("A cart needs at least one line item.")
    attest = body.get("partneronrecordattestationaccepted")
    return body["lineitems"], attest if isinstance(attest, bool) else None, None


@idempotent
async def create_cart(request: Request) -> Response:
    """POST /v1/customers/{id}/carts → 201 with the Cart (expires 7 days after creation)."""
    state = sandbox(request)
    _, cust, denied = the_customer(request)
    if cust is None:
        return denied  # type: ignore[return-value]
    raw, attest, bad = await _cart_body(request)
    if bad:
        return bad
    with state.lock:
        ledger = state.commerce
        cid = ledger.new_id("cart")
        when = stamp(state.today, ledger.seq)
        lines = [_cart_line(state, cust, item, n) for n, item in enumerate(raw)]
        _group(lines)
        _, user = caller(request)
        cart = Cart(cid, cust.idx, state.today, when, when, user, lines, attestation=attest)
        ledger.carts[cid] = cart
        return json_response(cart_resource(state, cust, cart), 201)


def _cart(request: Request) -> tuple[Customer | None, Cart | None, Response | None]:
    state = sandbox(request)
    _, cust, denied = the_customer(request)
    if cust is None:
        return None, None, denied
    cart = state.commerce.carts.get(request.path_params["cart_id"].lower())
    if cart is None or cart.customer != cust.idx:
        return cust, None, pc_error(404, 800008, f"Cart {request.path_params['cart_id']} could not be retrieved.")
    return cust, cart, None


def get_cart(request: Request) -> Response:
    """GET /v1/customers/{id}/carts/{cartId}."""
    cust, cart, denied = _cart(request)
    if cust is None or cart is None:
        return denied  # type: ignore[return-value]
    return json_response(cart_resource(sandbox(request), cust, cart))


@idempotent
async def update_cart(request: Request) -> Response:
    """PUT /v1/customers/{id}/carts/{cartId}: replace the line items of an active, unexpired cart → 201."""
    state = sandbox(request)
    cust, cart, denied = _cart(request)
    if cust is None or cart is None:
        return denied  # type: ignore[return-value]
    if cart.status != "Active":
        return pc_error(400, 800065, f"Cart {cart.id} was already submitted and cannot be changed.")
    if state.today > cart.created_on + CART_LIFETIME:
        return bad_input(f"Cart {cart.id} expired on {_expiry(cart)}.")
    raw, attest, bad = await _cart_body(request)
    if bad:
        return bad
    with state.lock:
        cart.lines = [_cart_line(state, cust, item, n) for n, item in enumerate(raw)]
        _group(cart.lines)
        cart.modified = stamp(state.today, state.commerce.next_seq())
        _, cart.user = caller(request)
        if attest is not None:
            cart.attestation = attest
        return json_response(cart_resource(state, cust, cart), 201)


@idempotent
async def checkout(request: Request) -> Response:
    """POST /v1/customers/{id}/carts/{cartId}/checkout → 201 CartCheckoutResult {orders, orderErrors}; idempotent:
    a cart already ordered answers its first result again, never a second order."""
    state = sandbox(request)
    cust, cart, denied = _cart(request)
    if cust is None or cart is None:
        return denied  # type: ignore[return-value]
    with state.lock:
        if cart.result is not None:
            return json_response(cart.result, 201)
        if state.today > cart.created_on + CART_LIFETIME:
            return bad_input(f"Cart {cart.id} expired on {_expiry(cart)}.")
        if not has_mca(state, cust):
            return pc_error(
                403,
                13605,
                f"The customer {cust.id} must accept the Microsoft Customer Agreement before a purchase; confirm "
                "its acceptance (POST /customers/{id}/agreements) first.",
            )
        ledger = state.commerce
        made: list[Order] = []
        errors: list[dict[str, Any]] = []
        groups: dict[str, list[dict[str, Any]]] = {}
        for line in cart.lines:
            groups.setdefault(line["orderGroup"], []).append(line)
        provisioning = float(state.world.switches.get("order_provisioning_s", "0"))
        for gid, lines in groups.items():
            if any("error" in ln for ln in lines):
                errors.append(
                    {"orderGroupId": gid, "code": 800009, "description": "One or more cart items have errors."}
                )
                continue
            oid = ledger.new_order_id()
            seq = ledger.next_seq()
            when = stamp(state.today, seq)
            now = monotonic()
            order_lines = []
            for n, ln in enumerate(lines):
                av = find_availability(ln["catalogItemId"])
                assert av is not None
                sid = ledger.new_id("subscription")
                name = ln.get("friendlyName") or av.product.sku_name
                ledger.subs[sid] = LiveSub(
                    sid,
                    cust.idx,
                    av,
                    state.today,
                    state.today,
                    ln["quantity"],
                    True,
                    Decimal(0),
                    "",
                    oid,
                    base128(state.settings.seed, "live-sub", sid),
                    name,
                    when,
                    visible_at=now + provisioning,
                )
                order_lines.append(OrderLine(n, sid, ln["catalogItemId"], av.term, "New", ln["quantity"], name))
            order = Order(oid, cust.idx, lines[0]["billingCycle"], cust.currency, when, state.today, order_lines)
            order.made_at, order.attestation = now, cart.attestation
            ledger.orders[oid] = order
            made.append(order)
        state.rebuild()
        view = view_of(state)
        rendered = []
        upn, _ = caller(request)
        records = {o["id"]: o for o in view.orders(cust)}
        for order in made:
            rec = records[order.id]
            res = view.order_resource(dict(rec, status="pending"), True)
            rendered.append(res)
            blob = audit._blob(view.order_resource(dict(rec, status="pending"), True, pascal=True))
            ledger.audit.append(
                audit.record(
                    state,
                    cust,
                    resource_type="order",
                    resource_id=order.id,
                    operation="create_order",
                    when=order.created,
                    new=blob,
                    upn=upn,
                    correlation=request.headers.get("ms-correlationid"),
                    data=audit.order_data(blob),
                )
            )
        result = {"orders": rendered, "orderErrors": errors, "attributes": {"objectType": "CartCheckoutResult"}}
        if made:
            cart.status, cart.result = "Ordered", result
        return json_response(result, 201)


ROUTES = [
    Route("/v1/customers/{customer_id}/orders", orders, methods=["GET"]),
    Route("/v1/customers/{customer_id}/orders/{order_id}", order_by_id, methods=["GET"]),
    Route("/v1/customers/{customer_id}/orders/{order_id}/provisioningstatus", provisioning_status, methods=["GET"]),
    Route("/v1/customers/{customer_id}/subscriptions", subscriptions, methods=["GET"]),
    Route("/v1/customers/{customer_id}/subscriptions/{subscription_id}", subscription_by_id, methods=["GET"]),
    Route("/v1/customers/{customer_id}/subscriptions/{subscription_id}", patch_subscription, methods=["PATCH"]),
    Route("/v1/customers/{customer_id}/carts", create_cart, methods=["POST"]),
    Route("/v1/customers/{customer_id}/carts/{cart_id}", get_cart, methods=["GET"]),
    Route("/v1/customers/{customer_id}/carts/{cart_id}", update_cart, methods=["PUT"]),
    Route("/v1/customers/{customer_id}/carts/{cart_id}/checkout", checkout, methods=["POST"]),
]
