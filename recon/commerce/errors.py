"""Partner Center refusals as one line: the service's code and a sentence saying what to do."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from recon.errors import UpstreamError

T = TypeVar("T")
_CODE = re.compile(r"HTTP \d{3} error (\d+):")

# Codes of commerce.md §4 and the sandbox, with what the partner should do next.
ADVICE: dict[int, str] = {
    13605: "the customer has not accepted the Microsoft Customer Agreement: confirm it with "
    "`recon customers confirm-agreement CUSTOMER_ID ...` and check the cart out again",
    800002: "the request was refused as invalid; a cart expires 7 days after it was created, so build a new one "
    "with `recon buy` if this cart is older",
    800008: "the cart does not exist for this customer: check the cart and customer ids",
    800009: "one or more cart lines have errors: fix them with `recon cart update` and check out again",
    800065: "the cart was already ordered: see its orders with `recon orders list`",
    800064: "another request is processing this cart: wait a minute and look at `recon orders list`",
    800060: "the order is still in progress: check `recon orders list` in a few minutes",
    400019: "the availability changed: read it again with `recon catalog availabilities` and use the current "
    "catalog item id",
    400013: "the product is not in the catalog for that country: list products with `recon catalog products`",
    400018: "the SKU is not sold for that product: list SKUs with `recon catalog skus`",
    800020: "this catalog item cannot be bought by this customer",
    800090: "seats can only be removed within 7 days of being added (see refundableQuantity): keep them, or turn "
    "auto-renew off so they end with the term",
    900214: "the window for reducing seats has passed: keep the seats, or turn auto-renew off so they end with "
    "the term",
    900257: "the window for reducing seats has passed: keep the seats, or turn auto-renew off so they end with "
    "the term",
    900117: "the 7-day cancellation window has passed: turn auto-renew off (`--auto-renew off`) so the "
    "subscription ends with its term",
    900213: "the cancellation window has passed: turn auto-renew off (`--auto-renew off`) so the subscription "
    "ends with its term",
    2002: "the quantity must be between the SKU's minimum and maximum (1-300 seats)",
    2011: "the subscription is cancelled or expired and cannot be changed: buy a new one with `recon buy`",
    800091: "the subscription is suspended: reactivate it before changing seats",
    800082: "the subscription is not ready to be updated: retry in a few minutes",
    900278: "an operation is already pending on this subscription: retry after 24 hours",
    20000: "no such order for this customer: list them with `recon orders list`",
    20002: "you have no commerce relationship with this customer: check the customer id with `recon customers list`",
    20003: "no such subscription for this customer: list them with `recon subscriptions list`",
    600061: "this agreement confirmation already exists: nothing to do",
    900329: "this call needs App+User (delegated) credentials, not an app-only token",
}

LINE_ADVICE: dict[str, str] = {
    "catalog_item_id_is_not_valid": "the catalog item id is not sold: pick one from `recon catalog availabilities`",
    "billing_plan_not_supported": "this availability does not sell that term and billing: pick the availability "
    "whose term matches (`recon catalog availabilities`)",
    "invalid_input": "the quantity must be between the SKU's minimum and maximum (1-300 seats)",
    "invalid_promotion_id": "the promotion id is not valid for this item: remove it or use a current promotion",
}


class Refused(UpstreamError):
    """Partner Center (or recon, before sending) refused a change; `code` is the service's error code."""

    def __init__(self, message: str, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message, status)
        self.code = code


def error_code(exc: UpstreamError) -> int | None:
    """The Partner Center error code of an UpstreamError's message (None when it has none)."""
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def advice(code: int | None) -> str:
    """What to do about a Partner Center error code (empty when recon has no advice for it)."""
    return ADVICE.get(code, "") if code is not None else ""


def explain(exc: UpstreamError, action: str) -> Refused:
    """A Refused error naming the action, the code and what to do, keeping the original line as evidence."""
    code = error_code(exc)
    hint = advice(code)
    head = f"{action} refused with error {code}" if code is not None else f"{action} failed"
    text = f"{head}: {hint} [{exc}]" if hint else f"{head} [{exc}]"
    return Refused(text, code, exc.status)


@contextmanager
def explained(action: str) -> Iterator[None]:
    """Turn an UpstreamError with a 4xx status inside the block into an explained Refused."""
    try:
        yield
    except Refused:
        raise
    except UpstreamError as exc:
        if exc.status is None or exc.status >= 500:
            raise
        raise explain(exc, action) from None


def call_explained(action: str, fn: Callable[[], T]) -> T:
    """Run `fn`, explaining a refusal (see `explained`)."""
    with explained(action):
        return fn()
