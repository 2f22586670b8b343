"""R11 injection kinds: orders and subscriptions that do not point at each other.

`order_without_subscription` adds a completed purchase order whose line names a subscription the subscriptions
endpoints never serve (a ghost subscription without lines). `subscription_without_order` takes a generated
subscription bought in one of the world's months and leaves every order of it out of the order history, so its
`orderId` names no served order while its billing lines stay. Neither changes a line: the commerce view finds both
through the answer key (`order_id` of the first, `subscription_id` of the second) and the world's ghost
subscriptions, so the served orders and subscriptions show a case exactly when the key lists it (once its month is
invoiced).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from recon.sandbox.billing import rounddown, seat_subtotal
from recon.sandbox.catalog import AVAILABILITIES, list_price
from recon.sandbox.inject import Case
from recon.sandbox.lines import Line, Rating
from recon.sandbox.population import Customer, Subscription
from recon.sandbox.rand import base128, det_int, guid_of, mix, stream

if TYPE_CHECKING:
    from recon.sandbox.inject import Injector

ORDER_KIND = "order_without_subscription"
SUB_KIND = "subscription_without_order"
ROUND = Decimal("0.05")  # an amount at stake is never a multiple of this
_DRAWS = 64


@dataclass(frozen=True)
class OrphanPrice:
    """Pricing of an orphan order's line: list price (pricing currency), per seat and extended (billing)."""

    list_price: Decimal
    price: Decimal
    extended: Decimal


def orphan_price(rating: Rating, ghost: Subscription, cust: Customer) -> OrphanPrice:
    """What an orphan order charges: a full first cycle at the list price of its day, without promotion."""
    unit = list_price(rating.seed, ghost.avail, cust.currency, ghost.start)
    fx = rating.fx(cust.currency, ghost.start)
    return OrphanPrice(unit, rounddown(unit * fx), seat_subtotal(unit, ghost.quantity, fx, rating.rounding))


def _ghost(inj: Injector, cust: Customer, period: date, draw: int) -> Subscription:
    """The never-provisioned subscription an orphan order names (draw `draw` of the customer-month)."""
    rid = base128(inj.seed, ORDER_KIND, cust.idx, period, draw)
    rng = stream(inj.seed, "inject", ORDER_KIND, cust.idx, period, draw)
    avail = rng.choice(AVAILABILITIES)
    start = period.replace(day=rng.randint(1, 28))
    qty = rng.randint(1, 40 if avail.product.family == "d365" else 120)
    order = f"{mix(rid, 2) & 0xFFFFFFFFFFFF:012x}"
    return Subscription(
        len(inj.subs), guid_of(mix(rid, 1)), cust.idx, avail, start, qty, True, Decimal(0), "", order, mix(rid, 3), True
    )


def order_without_subscription(inj: Injector) -> None:
    """A completed purchase order whose line names a subscription that no subscription list holds."""
    pairs = [(c, p) for c in inj.customers for p in sorted(inj.closed)]
    cands = [(det_int(inj.seed, ORDER_KIND, c.idx, p), i) for i, (c, p) in enumerate(pairs)]
    cur = inj.rating.billing_currency
    for pos in inj.pick(ORDER_KIND, cands, lambda i: pairs[i][1]):
        cust, period = pairs[pos]
        for draw in range(_DRAWS):  # redraw until the order's amount is not round
            ghost = _ghost(inj, cust, period, draw)
            price = orphan_price(inj.rating, ghost, cust)
            if price.extended % ROUND:
                break
        else:
            continue
        inj.subs.append(ghost)
        text = (
            f"Order {ghost.order_id} of {ghost.start} buys {ghost.quantity} seats of "
            f"{ghost.avail.product.product_name} ({price.extended} {cur}) for subscription {ghost.id}, "
            f"which the customer's subscriptions do not include."
        )
        inj.cases.append(
            Case(ORDER_KIND, period, price.extended, text, ghost, order_id=ghost.order_id, key=(cust.idx, period))
        )


def sub_without_order_ok(inj: Injector, ln: Line) -> bool:
    """A generated purchase line (not one bought through the API) of a subscription whose term keeps its month."""
    sub = inj.subs[ln.sub]
    return (
        not sub.ghost
        and sub.avail.term != "P1M"  # the term (and so the finding's period) stays the purchase month's
        and ln.rid == mix(sub.base, 0, 0)
        and ln.subtotal % ROUND != 0
    )


def sub_without_order_months(inj: Injector, ln: Line) -> list[tuple[int, date]]:
    """Every running month of the subscription: no other case lands on one whose history (and rating) is gone."""
    return [(ln.sub, month) for month in inj.closed]


def subscription_without_order(inj: Injector, i: int) -> None:
    """A generated subscription bought in a closed month whose purchase (and every later) order is missing.

    Its case is dated by the purchase, the subscription's first line, so no other case can claim one of its
    months first (Injector.apply_lines)."""
    ln = inj.lines[i]
    sub = inj.subs[ln.sub]
    cur = inj.rating.billing_currency
    text = (
        f"Subscription {sub.id} ({sub.avail.product.product_name}, bought on {sub.start}, "
        f"{ln.subtotal} {cur} billed for it) has no order: its orderId {sub.order_id} names no order "
        f"of the customer."
    )
    inj.add_case(SUB_KIND, ln, ln.subtotal, text)


def orphan_keys(rows: list[dict[str, object]]) -> tuple[set[str], set[str]]:
    """(order ids of orphan orders, subscription ids without orders) named by answer-key rows."""
    orders = {str(r["order_id"]) for r in rows if r["kind"] == ORDER_KIND and r["order_id"]}
    subs = {str(r["subscription_id"]) for r in rows if r["kind"] == SUB_KIND and r["subscription_id"]}
    return orders, subs
