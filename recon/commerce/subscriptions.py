"""Subscriptions: list, and change seats, cancel or auto-renew within the new-commerce 7-day window (§8.6).

Seats can be removed only from batches added in the last 7 days (`refundableQuantity.details`, each with its own
`allowedUntilDateTime`), and a cancel only until `cancellationAllowedUntilDate`. Both are checked against the
server's clock (the `Date` of the GET) before anything is sent, so a refusal is explained without a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recon.api import PartnerCenterClient
from recon.commerce.errors import ADVICE, Refused, explained
from recon.commerce.http import items, parse_time, server_now, write
from recon.errors import SettingsError


@dataclass(frozen=True)
class Change:
    """One change: exactly one of a new quantity, a cancel, or an auto-renew setting."""

    quantity: int | None = None
    cancel: bool = False
    auto_renew: bool | None = None

    def __post_init__(self) -> None:
        chosen = sum([self.quantity is not None, self.cancel, self.auto_renew is not None])
        if chosen != 1:
            raise SettingsError("say exactly one change: --quantity N, --cancel or --auto-renew on|off")


def list_subscriptions(
    client: PartnerCenterClient, customer_id: str, order_id: str | None = None
) -> list[dict[str, Any]]:
    """The customer's subscriptions (only those of `order_id` when given)."""
    params = {"order_id": order_id} if order_id else None
    with explained(f"listing the subscriptions of {customer_id}"):
        return items(client, f"/customers/{customer_id}/subscriptions", params)


def refundable_now(subscription: dict[str, Any], now: datetime) -> int:
    """Seats that can still be removed at `now` (the unexpired batches of `refundableQuantity`)."""
    refundable = subscription.get("refundableQuantity") or {}
    details = refundable.get("details")
    if details is None:
        return int(refundable.get("totalQuantity") or 0)
    total = 0
    for batch in details:
        until = parse_time(batch.get("allowedUntilDateTime"))
        if until is None or now <= until:
            total += int(batch.get("quantity") or 0)
    return total


def check_change(subscription: dict[str, Any], change: Change, now: datetime) -> None:
    """Raise Refused, in one sentence, when the 7-day window or the subscription's state forbids the change."""
    sub_id = subscription.get("id")
    status = str(subscription.get("status") or "")
    if status in ("deleted", "expired"):
        raise Refused(f"subscription {sub_id} is {status}: error 2011: {ADVICE[2011]}", 2011)
    if change.quantity is not None:
        current = int(subscription.get("quantity") or 0)
        if status == "suspended":
            raise Refused(f"subscription {sub_id} is suspended: error 800091: {ADVICE[800091]}", 800091)
        if not 1 <= change.quantity <= 300:
            raise Refused(f"quantity {change.quantity}: error 2002: {ADVICE[2002]}", 2002)
        removable = refundable_now(subscription, now)
        if change.quantity < current and current - change.quantity > removable:
            raise Refused(
                f"subscription {sub_id} cannot go from {current} to {change.quantity} seats: only {removable} "
                f"seat(s) were added in the last 7 days (refundableQuantity); error 800090: {ADVICE[800090]}",
                800090,
            )
    if change.cancel:
        until = parse_time(subscription.get("cancellationAllowedUntilDate"))
        if until is None or now > until:
            when = f"ended {until:%Y-%m-%d %H:%M} UTC" if until else "is closed"
            raise Refused(
                f"subscription {sub_id} cannot be cancelled: its cancellation window {when}; "
                f"error 900117: {ADVICE[900117]}",
                900117,
            )


def change_subscription(
    client: PartnerCenterClient, customer_id: str, subscription_id: str, change: Change
) -> dict[str, Any]:
    """Check the window, then PATCH the subscription; the updated subscription."""
    path = f"/customers/{customer_id}/subscriptions/{subscription_id}"
    with explained(f"reading subscription {subscription_id}"):
        subscription, now = server_now(client, path)
    check_change(subscription, change, now)
    # The documented body is the whole subscription as read, with the change applied.
    body = dict(subscription)
    if change.quantity is not None:
        body["quantity"] = change.quantity
    elif change.cancel:
        body["status"] = "deleted"
    else:
        body["autoRenewEnabled"] = bool(change.auto_renew)
    with explained(f"changing subscription {subscription_id}"):
        return write(client, "PATCH", path, body)
