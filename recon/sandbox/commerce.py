"""The commerce ledger: what clients changed through the API (carts, orders, seat changes, cancellations,
agreements, targeted injections, closed months). It survives world rebuilds: every build replays it into
billing lines through `Commerce.extend_lines`, the hook `build_world` calls after the generated replay."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from recon.sandbox.billing import add_months, rounddown, tax_total, term_end, unit_rate
from recon.sandbox.catalog import Availability, list_price
from recon.sandbox.lifecycle import replay, schedule
from recon.sandbox.lines import Line, Rating
from recon.sandbox.population import Customer, Subscription
from recon.sandbox.rand import base128, det_guid, det_hex, guid_of, mix

WINDOW = timedelta(days=7)  # NCE cancellation and seat-reduction window (7 x 24 h)
ZERO = Decimal(0)


def stamp(on: date, seq: int) -> str:
    """An ISO timestamp with 7 fractional digits on sandbox day `on` (noon plus `seq` seconds)."""
    if 0 <= seq < 43200:  # the same day: written directly (strftime is slow, and this runs per order)
        return f"{on.isoformat()}T{12 + seq // 3600:02d}:{seq // 60 % 60:02d}:{seq % 60:02d}.0000000Z"
    moment = datetime(on.year, on.month, on.day, 12, tzinfo=UTC) + timedelta(seconds=seq)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ".0000000Z"


@dataclass
class Event:
    """One change made through the API to a ledger subscription (billing and non-billing)."""

    seq: int
    on: date
    kind: str  # addQuantity, removeQuantity, cancel, autoRenew, suspend, reactivate, rename
    qty_before: int
    qty_after: int
    order_id: str = ""
    value: Any = None  # autoRenew: bool; rename: str


@dataclass
class LiveSub:
    """A subscription whose life the ledger owns from `since` on: bought through a cart, or adopted from the
    generated world at its first change through the API."""

    id: str
    customer: int
    avail: Availability
    start: date  # first term start (anchor of every cycle)
    since: date  # the ledger bills this subscription from this day on
    qty0: int  # seats at `since`
    auto_renew0: bool
    discount: Decimal
    promotion_id: str
    order_id: str  # the purchase order
    base: int
    friendly_name: str
    created: str  # creationDate
    batches0: list[tuple[int, date]] = field(default_factory=list)
    adopted: int | None = None  # index of the generated subscription it took over
    status0: str = "active"
    events: list[Event] = field(default_factory=list)
    visible_at: float = 0.0  # monotonic time its order finishes provisioning


@dataclass
class LiveState:
    """A ledger subscription's state after replaying its events up to the sandbox day."""

    qty: int
    status: str
    auto_renew: bool
    batches: list[tuple[int, date]]
    friendly_name: str


@dataclass
class OrderLine:
    """One line item of a ledger order."""

    number: int
    sub_id: str
    offer_id: str
    term: str
    transaction: str  # New, AddQuantity, RemoveQuantity, Cancel
    quantity: int
    friendly_name: str
    promotion_id: str = ""


@dataclass
class Order:
    """An order placed through the API (checkout or subscription PATCH)."""

    id: str
    customer: int
    billing_cycle: str
    currency: str
    created: str
    on: date
    lines: list[OrderLine]
    transaction_type: str = "UserPurchase"
    made_at: float = 0.0  # monotonic creation time (for provisioning and list delays)
    attestation: bool | None = None


@dataclass
class Cart:
    """A cart: line items as the client sent them, normalised, with per-line errors."""

    id: str
    customer: int
    created_on: date
    created: str
    modified: str
    user: str
    lines: list[dict[str, Any]]
    status: str = "Active"
    result: dict[str, Any] | None = None
    attestation: bool | None = None


# Targeted kinds (POST /admin/inject): charge types they act on, refunds or charges, doubled or withheld, the
# catalogue's primary rule and the rules it may also trigger (design.md's injection catalogue).
TARGETED: dict[str, tuple[tuple[str, ...], bool, bool, str, str]] = {
    "credit_missing": (("removeQuantity", "cancelImmediate"), True, False, "R07", "R01,R03"),
    "credit_twice": (("removeQuantity", "cancelImmediate"), True, True, "R07", "R01,R03"),
    "charge_missing": (("new", "renew", "cycleCharge"), False, False, "R05", "R09"),
    "duplicate_line": (("new", "renew", "cycleCharge"), False, True, "R06", "R01,R09"),
}


@dataclass
class Targeted:
    """A targeted injection requested through the admin API."""

    kind: str
    sub_id: str
    args: dict[str, Any]


class Commerce:
    """Everything the commerce API changed, kept apart from the (rebuilt) generated world."""

    def __init__(self, seed: int):
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Forget every change (admin reset)."""
        self.seq = 0
        self.subs: dict[str, LiveSub] = {}
        self.orders: dict[str, Order] = {}
        self.carts: dict[str, Cart] = {}
        self.agreements: dict[int, list[dict[str, Any]]] = {}
        self.audit: list[dict[str, Any]] = []
        self.replies: dict[tuple[str, str, str], tuple[int, bytes, dict[str, str]]] = {}
        self.targeted: list[Targeted] = []
        self.closed_early: set[date] = set()
        self.cases: list[dict[str, Any]] = []
        self.window_start: date | None = None
        self.rating: Rating | None = None
        self.view_cache: tuple[int, Any] | None = None  # (id of the world, its CommerceView)
        self.history_cache: tuple[int, list[Any]] | None = None  # index of generated audit records

    def next_seq(self) -> int:
        """A new sequence number (orders, events, ids)."""
        self.seq += 1
        return self.seq

    def new_id(self, kind: str) -> str:
        """A deterministic GUID for a new object."""
        return det_guid(self.seed, "commerce", kind, self.next_seq())

    def new_order_id(self) -> str:
        """A 12-hex new-commerce order id."""
        return det_hex(12, self.seed, "commerce-order", self.next_seq())

    # -- the world hook ------------------------------------------------------------------------------------------

    def extend_lines(
        self,
        rating: Rating,
        customers: list[Customer],
        subs: list[Subscription],
        window_start: date,
        today: date,
        lines: list[Line],
    ) -> list[Line]:
        """Replace adopted subscriptions' lines from their adoption day, add the ledger's lines and subscriptions,
        then apply targeted injections (called by build_world before random injection)."""
        self.window_start, self.rating = window_start, rating
        horizon = add_months(today.replace(day=1), 1)
        adopted = {ls.adopted: ls.since for ls in self.subs.values() if ls.adopted is not None}
        if adopted:
            lines = [ln for ln in lines if not (ln.sub in adopted and ln.order_date >= adopted[ln.sub])]
        for ls in self.subs.values():
            if ls.customer >= len(customers):
                continue
            if ls.adopted is None:
                idx = len(subs)
                subs.append(
                    Subscription(
                        idx,
                        ls.id,
                        ls.customer,
                        ls.avail,
                        ls.start,
                        ls.qty0,
                        ls.auto_renew0,
                        ls.discount,
                        ls.promotion_id,
                        ls.order_id,
                        ls.base,
                    )
                )
            else:
                idx = ls.adopted
            lines.extend(live_replay(ls, idx, rating, customers[ls.customer], today, horizon)[0])
        return self._inject(lines, subs, customers, rating)

    def _inject(
        self, lines: list[Line], subs: list[Subscription], customers: list[Customer], rating: Rating
    ) -> list[Line]:
        self.cases = []
        by_id = {s.id: s for s in subs}
        for t in self.targeted:
            sub = by_id.get(t.sub_id)
            spec = TARGETED.get(t.kind)
            if sub is None or spec is None:
                continue
            types, refunds, double, rule, also = spec
            chosen = [
                i
                for i, ln in enumerate(lines)
                if ln.sub == sub.idx
                and (ln.eup < 0) == refunds
                and ln.charge_type in types
                and (t.args.get("on") is None or ln.order_date.isoformat() == t.args["on"])
            ]
            if not chosen:
                continue
            pos = chosen[-1]
            ln = lines[pos]
            if double:
                lines.append(replace(ln))
            else:
                lines.pop(pos)
            what = "credit" if refunds else "charge"
            happened = "was billed twice" if double else "was not billed"
            self.cases.append(
                {
                    "case_id": "K" + det_hex(10, self.seed, "targeted", t.kind, t.sub_id, ln.rid),
                    "kind": t.kind,
                    "rule": rule,
                    "also": also,
                    "customer_id": customers[sub.customer].id,
                    "subscription_id": sub.id,
                    "order_id": None,
                    "invoice_number": None,
                    "period": ln.period,
                    "amount_at_stake": ln.subtotal if double else -ln.subtotal,
                    "currency": rating.billing_currency,
                    "description": f"The {ln.charge_type} {what} of {abs(ln.subtotal)} {rating.billing_currency} for "
                    f"subscription {sub.id} ({sub.avail.product.product_name}) on {ln.order_date} {happened} "
                    f"(targeted injection).",
                }
            )
        return lines

    # -- adoption ------------------------------------------------------------------------------------------------

    def adopt(self, sub: Subscription, cust: Customer, state: dict[str, Any], today: date) -> LiveSub:
        """Take a generated subscription over from `today` on, with its state of today."""
        ls = LiveSub(
            sub.id,
            sub.customer,
            sub.avail,
            sub.start,
            today,
            state["qty"],
            state["auto_renew"],
            sub.discount,
            sub.promotion_id,
            sub.order_id,
            sub.base,
            sub.avail.product.sku_name,
            stamp(sub.start, 0),
            batches0=list(state["batches"]),
            adopted=sub.idx,
            status0=state["status"],
        )
        self.subs[sub.id] = ls
        return ls


def _rated(
    rating: Rating,
    cust: Customer,
    idx: int,
    ctype: str,
    order_id: str,
    on: date,
    price: Decimal,
    discount: Decimal,
    cycle: tuple[date, date, int],
    qty: int,
    sign: int,
    rid: int,
    term: tuple[date, date],
    promotion_id: str,
) -> Line:
    """One rated seat line (same arithmetic as lifecycle.py: nce-billing-math.md §4-5)."""
    _, ce, clen = cycle
    fx = rating.fx(cust.currency, on)
    eup, unit = unit_rate(price, discount, clen, (ce - on).days + 1, fx, rating.rounding)
    subtotal = unit * qty if unit is not None else rounddown(eup * qty * fx)
    if sign < 0:
        eup, subtotal = -eup, -subtotal
    tax = tax_total(subtotal, cust.tax_rate)
    adj = f'["{discount * 100:.1f}% Promotion discount"]' if discount else "[]"
    return Line(
        idx,
        on.replace(day=1),
        order_id,
        on,
        ctype,
        price,
        eup,
        qty,
        subtotal,
        tax,
        subtotal + tax,
        fx,
        term[0],
        term[1],
        on,
        ce,
        clen,
        rid,
        promotion_id if discount else "",
        adj,
    )


def term_order_id(ls: LiveSub, seed: int, k: int) -> str:
    """Order id of term `k` (the purchase order for the first term, a renewal order after)."""
    if k == 0:
        return ls.order_id
    if ls.adopted is not None:  # the generated world's renewal order ids (lifecycle._Replay.order_id)
        return f"{mix(ls.base, 1, k) & 0xFFFFFFFFFFFF:012x}"
    return det_hex(12, seed, "renew-order", ls.id, k)


def live_replay(
    ls: LiveSub, idx: int, rating: Rating, cust: Customer, today: date, horizon: date
) -> tuple[list[Line], LiveState]:
    """Lines of a ledger subscription from `since` to `today` (inclusive for events and the purchase) and its
    state: cycle charges and renewals at their dates, then the API events of each cycle in order."""
    av = ls.avail
    out: list[Line] = []
    qty, auto, status, name = ls.qty0, ls.auto_renew0, ls.status0, ls.friendly_name
    batches = list(ls.batches0)
    events = sorted(ls.events, key=lambda e: e.seq)
    pos = 0
    if status in ("deleted", "expired"):
        return out, LiveState(qty, status, auto, [], name)
    terms = schedule(ls.start, av.term, av.plan, ls.since, horizon)
    first_k = terms[0][0] if terms else 0
    for k, t_start, t_end, cycles in terms:
        if k > first_k and not (auto and status == "active"):  # no renewal: the subscription ends
            if t_start <= today:
                return out, LiveState(qty, "expired", auto, [], name)
            break
        discount = ls.discount if k == 0 else ZERO
        price = list_price(rating.seed, av, cust.currency, t_start)
        term = (t_start, t_end)
        for j, cs, ce, clen in cycles:
            due = cs < today or (cs == ls.since and ls.adopted is None and cs <= today)
            if cs >= ls.since and due:
                ctype = "cycleCharge" if j else ("new" if k == 0 else "renew")
                rid = base128(rating.seed, "live-cycle", ls.id, k, j)
                out.append(
                    _rated(
                        rating,
                        cust,
                        idx,
                        ctype,
                        term_order_id(ls, rating.seed, k),
                        cs,
                        price,
                        discount,
                        (cs, ce, clen),
                        qty,
                        1,
                        rid,
                        term,
                        ls.promotion_id,
                    )
                )
                if j == 0:
                    batches = [(qty, cs + WINDOW)]
            while pos < len(events) and events[pos].on <= ce and events[pos].on <= today:
                ev = events[pos]
                pos += 1
                rid = base128(rating.seed, "live-event", ls.id, ev.seq)
                cycle = (cs, ce, clen)
                if ev.kind in ("addQuantity", "removeQuantity"):
                    for n, sign in ((ev.qty_before, -1), (ev.qty_after, 1)):
                        out.append(
                            _rated(
                                rating,
                                cust,
                                idx,
                                ev.kind,
                                ev.order_id,
                                ev.on,
                                price,
                                discount,
                                cycle,
                                n,
                                sign,
                                rid,
                                term,
                                ls.promotion_id,
                            )
                        )
                    batches = change_batches(batches, ev.qty_after - ev.qty_before, ev.on)
                    qty = ev.qty_after
                elif ev.kind == "cancel":
                    out.append(
                        _rated(
                            rating,
                            cust,
                            idx,
                            "cancelImmediate",
                            ev.order_id,
                            ev.on,
                            price,
                            discount,
                            cycle,
                            qty,
                            -1,
                            rid,
                            term,
                            ls.promotion_id,
                        )
                    )
                    return out, LiveState(qty, "deleted", False, [], name)
                elif ev.kind == "autoRenew":
                    auto = bool(ev.value)
                elif ev.kind == "suspend":
                    status, auto = "suspended", False
                elif ev.kind == "reactivate":
                    status = "active"
                elif ev.kind == "rename":
                    name = str(ev.value)
    return out, LiveState(qty, status, auto, batches, name)


def change_batches(batches: list[tuple[int, date]], delta: int, on: date) -> list[tuple[int, date]]:
    """Refundable seat batches after a change: an add appends a batch (removable for 7 days); a removal takes
    seats from the unexpired batches, most recent first."""
    live = [(q, until) for q, until in batches if until >= on and q > 0]
    if delta > 0:
        return [*live, (delta, on + WINDOW)]
    need = -delta
    out: list[tuple[int, date]] = []
    for q, until in reversed(live):
        take = min(q, need)
        need -= take
        if q - take:
            out.append((q - take, until))
    return list(reversed(out))


def generated_lines(rating: Rating, sub: Subscription, cust: Customer, window_start: date, today: date) -> list[Line]:
    """The generated replay of one subscription (without injections) up to `today` (exclusive)."""
    return replay(rating, sub, cust, window_start, today, add_months(today.replace(day=1), 1))


def fold(sub: Subscription, lines: list[Line], today: date) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A generated subscription's state of `today` and its events (with the state before and after each),
    folded from its lines in the order they were produced."""
    st: dict[str, Any] = {
        "qty": sub.quantity,
        "status": "active",
        "auto_renew": sub.auto_renew,
        "batches": [],
        "term_k": None,
    }
    events: list[dict[str, Any]] = []
    refund: Line | None = None

    def snap() -> dict[str, Any]:
        return {**st, "batches": list(st["batches"])}

    for ln in lines:
        before = snap()
        kind = ln.charge_type
        if kind in ("new", "renew"):
            st["qty"] = ln.quantity
            st["batches"] = [(ln.quantity, ln.order_date + WINDOW)]
            st["term_start"] = ln.term_start
            events.append({"kind": kind, "line": ln, "before": before, "after": snap()})
        elif kind == "cycleCharge":
            st["qty"] = ln.quantity
        elif kind in ("addQuantity", "removeQuantity"):
            if ln.eup < 0:
                refund = ln
                continue
            old = refund.quantity if refund is not None else st["qty"]
            st["batches"] = change_batches(st["batches"], ln.quantity - old, ln.order_date)
            st["qty"] = ln.quantity
            events.append({"kind": kind, "line": ln, "before": {**before, "qty": old}, "after": snap()})
            refund = None
        elif kind == "cancelImmediate":
            st["status"] = "deleted"
            st["auto_renew"] = False
            st["batches"] = []
            events.append({"kind": "cancel", "line": ln, "before": before, "after": snap()})
    st["batches"] = [(q, u) for q, u in st["batches"] if u >= today]
    return st, events


def first_term_end(sub: Subscription) -> date:
    """Inclusive end of a subscription's first term."""
    return term_end(sub.start, sub.avail.term, sub.start.day)


def monotonic() -> float:
    """Real monotonic time (provisioning and order-list delays are real seconds, like token lifetimes)."""
    return time.monotonic()


def ghost_guid(value: int) -> str:
    """A GUID from a 128-bit value (re-exported for the view)."""
    return guid_of(value)
