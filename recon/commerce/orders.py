"""Orders: the list (which can lag behind checkout), one order by id, its provisioning status (§8.5)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from recon.api import PartnerCenterClient
from recon.commerce.errors import explained
from recon.commerce.http import get, items


@dataclass(frozen=True)
class OrderDetail:
    """An order with the provisioning status of its lines."""

    order: dict[str, Any]
    provisioning: list[dict[str, Any]]

    def line_status(self, number: int) -> str:
        """Provisioning status of one line (`fulfilled`, `prefulfillmentpending`, ...; "" when unknown)."""
        for row in self.provisioning:
            if row.get("lineItemNumber") == number:
                return str(row.get("status") or "")
        return ""


def list_orders(client: PartnerCenterClient, customer_id: str, *, system: bool = False) -> list[dict[str, Any]]:
    """The customer's orders with prices, oldest first (`system` adds renewals)."""
    params = {"include_price": "true", **({"include_system_purchases": "true"} if system else {})}
    with explained(f"listing the orders of {customer_id}"):
        return items(client, f"/customers/{customer_id}/orders", params)


def get_order(client: PartnerCenterClient, customer_id: str, order_id: str) -> dict[str, Any]:
    """One order by id, with prices (visible at once, even while the list still hides it)."""
    with explained(f"reading order {order_id}"):
        return get(client, f"/customers/{customer_id}/orders/{order_id}", {"include_price": "true"})


def provisioning_status(client: PartnerCenterClient, customer_id: str, order_id: str) -> list[dict[str, Any]]:
    """Per order line: `fulfilled` or still `prefulfillmentpending`."""
    with explained(f"reading the provisioning status of order {order_id}"):
        return items(client, f"/customers/{customer_id}/orders/{order_id}/provisioningstatus")


def show_order(client: PartnerCenterClient, customer_id: str, order_id: str) -> OrderDetail:
    """An order and its provisioning status."""
    return OrderDetail(get_order(client, customer_id, order_id), provisioning_status(client, customer_id, order_id))


def wait_until_listed(
    client: PartnerCenterClient,
    customer_id: str,
    order_ids: Sequence[str],
    *,
    timeout_s: float = 30.0,
    interval_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[str]:
    """Follow orders by id until the order list shows them (bounded); the ids still unlisted at the end."""
    pending = list(dict.fromkeys(order_ids))
    deadline = clock() + timeout_s
    while True:
        for order_id in pending:
            get_order(client, customer_id, order_id)  # exists: a 404 here is a real error
        listed = {str(o.get("id")) for o in list_orders(client, customer_id)}
        pending = [o for o in pending if o not in listed]
        if not pending or clock() >= deadline:
            return pending
        sleep(min(interval_s, max(0.0, deadline - clock())))


def order_total(order: dict[str, Any]) -> Any:
    """`totalPrice` when present, else the sum of the lines' `extendedPrice` (None without prices)."""
    if order.get("totalPrice") is not None:
        return order["totalPrice"]
    prices = [(li.get("pricing") or {}).get("extendedPrice") for li in order.get("lineItems") or []]
    return sum(prices) if prices and all(p is not None for p in prices) else None
