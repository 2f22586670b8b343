"""Commerce resources derived from a built world and the ledger: subscriptions, orders, customers, catalog."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from recon.sandbox.billing import add_months, display_eup, rounddown, term_end
from recon.sandbox.catalog import AVAILABILITIES, SYMBOLS, Availability, list_price
from recon.sandbox.commerce import (
    WINDOW,
    Commerce,
    LiveSub,
    first_term_end,
    fold,
    generated_lines,
    live_replay,
    monotonic,
    stamp,
)
from recon.sandbox.inject_orphans import orphan_keys, orphan_price
from recon.sandbox.jsonenc import dumps
from recon.sandbox.lifecycle import schedule
from recon.sandbox.lines import Line, Rating
from recon.sandbox.paging import link
from recon.sandbox.population import Customer, Subscription

if TYPE_CHECKING:
    from recon.sandbox.world import World

NCE = {"id": "OnlineServicesNCE", "displayName": "OnlineServicesNCE"}
PUBLISHER = "Microsoft Corporation"
TRANSACTION = {
    "new": "New",
    "renew": "Renew",
    "addQuantity": "AddQuantity",
    "removeQuantity": "RemoveQuantity",
    "cancel": "Cancel",
    "cancelImmediate": "Cancel",
}


def end_of(d: date) -> str:
    """The last second of day `d` (windows are whole days on the sandbox's date clock)."""
    return f"{d.isoformat()}T23:59:59Z"


def day(d: date) -> str:
    """Midnight UTC of day `d`."""
    return f"{d.isoformat()}T00:00:00Z"


def catalog_item_id(av: Availability) -> str:
    """`product:sku:availability`."""
    return f"{av.product.product_id}:{av.product.sku_id}:{av.availability_id}"


def billing_cycle(av: Availability) -> str:
    """The subscription/cart wire form of the availability's billing plan."""
    return av.plan


@dataclass
class SubView:
    """A subscription as the commerce API shows it on the sandbox day."""

    sub: Subscription
    cust: Customer
    qty: int
    status: str
    auto_renew: bool
    batches: list[tuple[int, date]]
    friendly_name: str
    term: tuple[int, date, date]
    cycle: tuple[date, date] | None
    created: str
    lines: list[Line]
    events: list[dict[str, Any]] = field(default_factory=list)
    live: LiveSub | None = None
    version: int = 1
    provisioned: bool = True  # False while its order is still provisioning (switch order_provisioning_s)


class CommerceView:
    """Derived commerce state of one built world (cached per customer; rebuilt with the world)."""

    def __init__(self, world: World, ledger: Commerce):
        self.world, self.ledger = world, ledger
        self.today = world.today
        self.rating = Rating(world.seed, world.billing_currency, world.switches["seat_rounding"])
        self.window_start = ledger.window_start or world.today.replace(day=1)
        self.horizon = add_months(self.today.replace(day=1), 1)
        self._subs: dict[int, list[SubView]] = {}
        self._of_customer: dict[int, list[Subscription]] = {}
        for s in world.subs:
            if not s.ghost and s.start <= self.today:
                self._of_customer.setdefault(s.customer, []).append(s)
        self.by_id: dict[str, Subscription] = {s.id: s for s in world.subs if not s.ghost}
        orphan_orders, self.unordered = orphan_keys(world.answer_key)  # R11 injections (inject_orphans.py)
        self.orphan_orders: dict[int, list[Subscription]] = {}
        for s in world.subs:
            if s.ghost and s.order_id in orphan_orders:
                self.orphan_orders.setdefault(s.customer, []).append(s)

    def customer(self, customer_id: str) -> Customer | None:
        """The customer with this id (case-insensitive)."""
        cid = customer_id.lower()
        for c in self.world.customers:
            if c.id == cid:
                return c
        return None

    def subscriptions(self, cust: Customer) -> list[SubView]:
        """Every subscription of the customer that exists on the sandbox day."""
        views = self._subs.get(cust.idx)
        if views is None:
            views = [self._view(s, cust) for s in self._of_customer.get(cust.idx, [])]
            self._subs[cust.idx] = views
        return views

    def subscription(self, cust: Customer, sub_id: str) -> SubView | None:
        """One subscription of the customer by id."""
        sid = sub_id.lower()
        for v in self.subscriptions(cust):
            if v.sub.id == sid:
                return v
        return None

    def _view(self, sub: Subscription, cust: Customer) -> SubView:
        live = self.ledger.subs.get(sub.id)
        if live is None:
            replayed = self.world.replays.get(sub.idx) if self.window_start == self.world.replay_start else None
            lines = (
                replayed
                if replayed is not None
                else generated_lines(self.rating, sub, cust, self.window_start, self.today)
            )
            st, events = fold(sub, lines, self.today)
            status, auto = st["status"], st["auto_renew"]
            qty, batches, name = st["qty"], st["batches"], sub.avail.product.sku_name
            created = stamp(sub.start, (sub.base >> 7) % 3600)  # = its purchase order's creationDate
        else:
            before: list[Line] = []
            if live.adopted is not None:
                before = generated_lines(self.rating, sub, cust, self.window_start, live.since)
            own, ls = live_replay(live, sub.idx, self.rating, cust, self.today, self.horizon)
            lines = before + own
            _, events = fold(sub, before, live.since)
            status, auto, qty, batches, name = ls.status, ls.auto_renew, ls.qty, ls.batches, ls.friendly_name
            created = live.created
        term, cycle = self._term(sub, status, lines)
        if status == "active" and not auto and term[2] < self.today:
            status = "expired"
        batches = [(q, u) for q, u in batches if u >= self.today] if status == "active" else []
        version = 1 + len(events) + (len(live.events) if live else 0)
        view = SubView(sub, cust, qty, status, auto, batches, name, term, cycle, created, lines, events, live, version)
        if live is not None and live.adopted is None:
            view.provisioned = monotonic() >= live.visible_at or self.today > live.since
        return view

    def _term(
        self, sub: Subscription, status: str, lines: list[Line]
    ) -> tuple[tuple[int, date, date], tuple[date, date] | None]:
        """The subscription's current term (or the last one it had) and its current charge cycle."""
        av = sub.avail
        ref = self.today
        cancels = [ln for ln in lines if ln.charge_type == "cancelImmediate"]
        if cancels:
            ref = cancels[-1].order_date
        terms = schedule(sub.start, av.term, av.plan, min(self.window_start, sub.start), self.horizon)
        if not terms:
            return (0, sub.start, first_term_end(sub)), None
        if not sub.auto_renew and sub.id not in self.ledger.subs:
            terms = terms[:1]  # a generated subscription without auto-renew only ever has its first term
        chosen = terms[0]
        for t in terms:
            if t[1] <= ref and (status != "expired" or t[2] < ref):
                chosen = t
        k, t_start, t_end, cycles = chosen
        cycle = None
        for _, cs, ce, _ in cycles:
            if cs <= ref <= ce:
                cycle = (cs, ce)
        return (k, t_start, t_end), cycle

    # -- resources -----------------------------------------------------------------------------------------------

    def subscription_resource(self, v: SubView, pascal: bool = False, as_of: date | None = None) -> dict[str, Any]:
        """The Subscription resource (commerce.md §8.6); `as_of` renders a past state (audit blobs)."""
        sub, cust, av = v.sub, v.cust, v.sub.avail
        p = av.product
        k, t_start, t_end = v.term
        open_window = v.status == "active" and (as_of or self.today) <= t_start + WINDOW
        until = end_of(t_start + WINDOW)
        cc = cust.country
        base = f"/products/{p.product_id}"
        res: dict[str, Any] = {
            "id": sub.id,
            "offerId": catalog_item_id(av),
            "offerName": p.sku_name,
            "friendlyName": v.friendly_name,
            "productType": dict(NCE),
            "quantity": v.qty,
            "unitType": "Licenses",
            "hasPurchasableAddons": False,
            "creationDate": v.created,
            "effectiveStartDate": day(t_start),
            "commitmentEndDate": day(t_end),
            "commitmentEndDateTime": end_of(t_end),
            "cancellationAllowedUntilDate": until if v.status in ("active", "suspended") else None,
            "billingCycleEndDate": day(v.cycle[1]) if v.cycle else None,
            "billingCycleEndDateTime": end_of(v.cycle[1]) if v.cycle else None,
            "status": v.status,
            "autoRenewEnabled": v.auto_renew,
            "billingType": "license",
            "billingCycle": billing_cycle(av),
            "termDuration": av.term,
            "renewalTermDuration": "",
            "isTrial": False,
            "isMicrosoftProduct": True,
            "publisherName": PUBLISHER,
            "partnerId": str(cust.reseller_mpn) if cust.reseller_mpn else "",
            "actions": (["edit", "cancel"] if open_window else ["edit"]) if v.status == "active" else [],
            "refundOptions": [{"type": "Full", "expiresAt": until}] if open_window else [],
            "refundableQuantity": {
                "totalQuantity": sum(q for q, _ in v.batches),
                "details": [{"quantity": q, "allowedUntilDateTime": end_of(u)} for q, u in v.batches],
            },
            "attentionNeeded": False,
            "actionTaken": False,
            "contractType": "subscription",
            "orderId": sub.order_id,
            "links": {
                "product": link(f"{base}?country={cc}"),
                "sku": link(f"{base}/skus/{p.sku_id}?country={cc}"),
                "availability": link(f"{base}/skus/{p.sku_id}/availabilities/{av.availability_id}?country={cc}"),
                "self": link(f"/customers/{cust.id}/subscriptions/{sub.id}"),
            },
            "attributes": {"objectType": "Subscription", "etag": etag(sub.id, v.version)},
        }
        if sub.promotion_id and k == 0:
            res["promotionId"] = sub.promotion_id
        if not pascal:
            return {key: val for key, val in res.items() if val is not None}
        return to_blob(res, SUBSCRIPTION_NULLS)

    # -- orders --------------------------------------------------------------------------------------------------

    def orders(self, cust: Customer) -> list[dict[str, Any]]:
        """Every order of the customer as internal records (generated history and ledger orders)."""
        out: list[dict[str, Any]] = []
        by_order: dict[str, list[Line]] = {}
        for v in self.subscriptions(cust):
            for ln in v.lines:
                by_order.setdefault(ln.order_id, []).append(ln)
        views = {v.sub.id: v for v in self.subscriptions(cust)}
        ledger_ids = {o.id for o in self.ledger.orders.values() if o.customer == cust.idx}
        for v in views.values():
            sub = v.sub
            if v.live is not None and v.live.adopted is None:
                continue  # bought through a cart: the ledger order below
            if sub.id in self.unordered:
                continue  # injected: no order of this subscription is served
            purchase = [ln for ln in by_order.get(sub.order_id, []) if ln.charge_type == "new"]
            out.append(self._generated_order(v, sub.order_id, sub.start, "new", purchase, sub.quantity))
        seen = {o["id"] for o in out}
        for oid, lns in by_order.items():
            if oid in seen or oid in ledger_ids:
                continue
            kinds = {ln.charge_type for ln in lns}
            kind = next((k for k in ("renew", "addQuantity", "removeQuantity", "cancelImmediate") if k in kinds), None)
            if kind is None or self._sub_of(lns[0]) in self.unordered:
                continue
            v = views[self._sub_of(lns[0])]
            charge = [ln for ln in lns if ln.eup >= 0] or lns
            refund = [ln for ln in lns if ln.eup < 0]
            if kind in ("addQuantity", "removeQuantity"):
                qty = abs(charge[0].quantity - (refund[0].quantity if refund else 0))
            else:
                qty = lns[0].quantity
            out.append(self._generated_order(v, oid, lns[0].order_date, kind, lns, qty))
            seen.add(oid)
        for ghost in self.orphan_orders.get(cust.idx, []):
            if ghost.start <= self.today:
                out.append(self._orphan_order(ghost, cust))
        for o in self.ledger.orders.values():
            if o.customer != cust.idx:
                continue
            items = []
            for ol in o.lines:
                sv = views.get(ol.sub_id)
                lns = [ln for ln in by_order.get(o.id, []) if sv is not None and ln.sub == sv.sub.idx]
                items.append(
                    {
                        "number": ol.number,
                        "view": sv,
                        "offer_id": ol.offer_id,
                        "term": ol.term,
                        "transaction": ol.transaction,
                        "quantity": ol.quantity,
                        "friendly": ol.friendly_name,
                        "promotion_id": ol.promotion_id,
                        "lines": lns,
                    }
                )
            provisioned = monotonic() >= o.made_at + self._switch_s("order_provisioning_s") or self.today > o.on
            listed = monotonic() >= o.made_at + self._switch_s("order_list_delay_s") or self.today > o.on
            out.append(
                {
                    "id": o.id,
                    "cust": cust,
                    "on": o.on,
                    "created": o.created,
                    "billing_cycle": o.billing_cycle,
                    "transaction_type": o.transaction_type,
                    "status": "completed" if provisioned else "pending",
                    "listed": listed,
                    "provisioned": provisioned,
                    "items": items,
                    "attestation": o.attestation,
                }
            )
        out.sort(key=lambda o: (o["created"], o["id"]))
        return out

    def _switch_s(self, name: str) -> float:
        return float(self.world.switches.get(name, "0"))

    def _sub_of(self, ln: Line) -> str:
        return self.world.subs[ln.sub].id

    def _generated_order(self, v: SubView, oid: str, on: date, kind: str, lns: list[Line], qty: int) -> dict[str, Any]:
        av = v.sub.avail
        item = {
            "number": 0,
            "view": v,
            "offer_id": catalog_item_id(av),
            "term": av.term,
            "transaction": TRANSACTION[kind],
            "quantity": qty,
            "friendly": av.product.sku_name,
            "promotion_id": v.sub.promotion_id if kind == "new" else "",
            "lines": lns,
        }
        return {
            "id": oid,
            "cust": v.cust,
            "on": on,
            "created": stamp(on, (v.sub.base >> 7) % 3600 + (0 if kind == "new" else 1)),
            "billing_cycle": billing_cycle(av),
            "transaction_type": "SystemPurchase" if kind == "renew" else "UserPurchase",
            "status": "completed",
            "listed": True,
            "provisioned": True,
            "items": [item],
            "attestation": None,
        }

    def _orphan_order(self, ghost: Subscription, cust: Customer) -> dict[str, Any]:
        """An injected purchase order whose line names `ghost`, a subscription no subscription list holds."""
        av = ghost.avail
        item: dict[str, Any] = {
            "number": 0,
            "view": None,
            "ghost": ghost,
            "offer_id": catalog_item_id(av),
            "term": av.term,
            "transaction": "New",
            "quantity": ghost.quantity,
            "friendly": av.product.sku_name,
            "promotion_id": "",
            "lines": [],
        }
        return {
            "id": ghost.order_id,
            "cust": cust,
            "on": ghost.start,
            "created": stamp(ghost.start, (ghost.base >> 7) % 3600),
            "billing_cycle": billing_cycle(av),
            "transaction_type": "UserPurchase",
            "status": "completed",
            "listed": True,
            "provisioned": True,
            "items": [item],
            "attestation": None,
        }

    def order_resource(self, o: dict[str, Any], include_price: bool, pascal: bool = False) -> dict[str, Any]:
        """The Order resource (commerce.md §8.5)."""
        cust: Customer = o["cust"]
        base = f"/customers/{cust.id}/orders/{o['id']}"
        items = []
        total = Decimal("0.00")
        for it in o["items"]:
            av = _availability(it["offer_id"])
            p = av.product if av else None
            line: dict[str, Any] = {
                "lineItemNumber": it["number"],
                "offerId": it["offer_id"],
                "termDuration": it["term"],
                "transactionType": it["transaction"],
                "friendlyName": it["friendly"],
                "quantity": it["quantity"],
                "partnerIdOnRecord": str(cust.reseller_mpn) if cust.reseller_mpn else "",
            }
            view: SubView | None = it["view"]
            ghost: Subscription | None = it.get("ghost")
            sub_id = view.sub.id if view is not None else ghost.id if ghost is not None else None
            if sub_id is not None and o["provisioned"]:
                line["subscriptionId"] = sub_id
            if it["promotion_id"]:
                line["promotionId"] = it["promotion_id"]
            if include_price:
                pricing = self._pricing(it, cust)
                total += pricing["extendedPrice"]
                line["pricing"] = pricing
            links: dict[str, Any] = {}
            if p is not None and av is not None:
                cc = cust.country
                links = {
                    "product": link(f"/products/{p.product_id}?country={cc}"),
                    "sku": link(f"/products/{p.product_id}/skus/{p.sku_id}?country={cc}"),
                    "availability": link(
                        f"/products/{p.product_id}/skus/{p.sku_id}/availabilities/{av.availability_id}?country={cc}"
                    ),
                }
            if sub_id is not None and o["provisioned"]:
                links["subscription"] = link(f"/customers/{cust.id}/subscriptions/{sub_id}")
            line["links"] = links
            items.append(line)
        res: dict[str, Any] = {
            "id": o["id"],
            "alternateId": o["id"],
            "referenceCustomerId": cust.id,
            "billingCycle": o["billing_cycle"],
            "currencyCode": cust.currency,
            "currencySymbol": SYMBOLS.get(cust.currency, cust.currency),
            "lineItems": items,
            "creationDate": o["created"],
            "status": o["status"],
            "transactionType": o["transaction_type"],
            "links": {
                "self": link(base),
                "provisioningStatus": link(f"{base}/provisioningstatus"),
                "patchOperation": {"uri": base, "method": "PATCH", "headers": []},
            },
            "client": {},
            "attributes": {"objectType": "Order"},
        }
        if include_price:
            res["totalPrice"] = total
        if o.get("attestation") is not None:
            res["partnerOnRecordAttestationAccepted"] = o["attestation"]
        return to_blob(res, ORDER_NULLS) if pascal else res

    def _pricing(self, it: dict[str, Any], cust: Customer) -> dict[str, Any]:
        """Pricing of an order line: catalog price, after promotion, prorated, and in billing currency."""
        lns: list[Line] = it["lines"]
        view: SubView | None = it["view"]
        ghost: Subscription | None = it.get("ghost")
        if ghost is not None:  # an injected orphan order (inject_orphans.py)
            orphan = orphan_price(self.rating, ghost, cust)
            unit = orphan.list_price
            return {
                "listPrice": unit,
                "discountedPrice": unit,
                "proratedPrice": unit,
                "price": orphan.price,
                "extendedPrice": orphan.extended,
            }
        charge = [ln for ln in lns if ln.eup >= 0]
        ref = charge[0] if charge else (lns[0] if lns else None)
        if ref is not None:
            unit = ref.unit_price
            discount = view.sub.discount if view is not None and ref.promotion_id else Decimal(0)
            prorated = abs(ref.eup)
            fx = ref.fx
            extended = sum((ln.subtotal for ln in lns), Decimal("0.00"))
        else:  # a purchase before the world's first month: priced from the catalog
            av = _availability(it["offer_id"])
            assert av is not None and view is not None
            on = view.sub.start
            unit = list_price(self.world.seed, av, cust.currency, on)
            discount = view.sub.discount
            prorated = unit * (1 - discount)
            fx = self.rating.fx(cust.currency, on)
            extended = rounddown(prorated * fx) * it["quantity"]
        discounted = unit * (1 - discount)
        return {
            "listPrice": unit,
            "discountedPrice": rounddown(discounted, Decimal("0.000001")).normalize() if discount else unit,
            "proratedPrice": display_eup(prorated).normalize() if prorated != unit else unit,
            "price": rounddown(prorated * fx),
            "extendedPrice": extended,
        }


# (product, SKU, availability) ids -> availability; reversed, so the first of equal ids in catalogue order wins
_BY_OFFER: dict[tuple[str, ...], Availability] = {
    (av.product.product_id, av.product.sku_id, av.availability_id): av for av in reversed(AVAILABILITIES)
}


def _availability(offer_id: str) -> Availability | None:
    return _BY_OFFER.get(tuple(offer_id.upper().split(":")))


def find_availability(offer_id: str) -> Availability | None:
    """The availability a catalogItemId names, or None."""
    return _availability(offer_id)


def etag(key: str, version: int) -> str:
    """An opaque etag: base64 of the resource id and its version."""
    return base64.b64encode(dumps({"id": key[:4], "version": version})).decode()


SUBSCRIPTION_NULLS = (
    "EntitlementId",
    "ParentSubscriptionId",
    "ConsumptionType",
    "SuspensionReasons",
    "PromotionId",
    "MigratedFromSubscriptionId",
    "ScheduledNextTermInstructions",
    "NextChargeInstructions",
)
ORDER_NULLS = ("PartnerOnRecordAttestationAccepted",)


def _pascal(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = k[:1].upper() + k[1:]
            out[key] = _pascal(v)
        if "Uri" in out and "Method" in out:  # links inside blobs carry Body: null
            out = {"Uri": out["Uri"], "Method": out["Method"], "Body": None, "Headers": out.get("Headers", [])}
        return out
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return value


def to_blob(resource: dict[str, Any], nulls: tuple[str, ...]) -> dict[str, Any]:
    """A resource as the audit blobs write it: PascalCase keys, null members kept, links with Body."""
    out = _pascal(resource)
    for name in nulls:
        out.setdefault(name, None)
    return out


def term_end_of(sub: Subscription, t_start: date) -> date:
    """Inclusive end of the term starting on `t_start`."""
    return term_end(t_start, sub.avail.term, sub.start.day)
