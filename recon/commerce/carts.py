"""Carts: build, show, replace lines, check out; `buy` runs the whole purchase (§8.3-8.4).

A checkout is one logical call: the client resends it with the same MS-RequestId after a dropped connection,
and Partner Center answers a checked-out cart with its first result, so a retry never buys twice.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recon.api import PartnerCenterClient
from recon.commerce.errors import LINE_ADVICE, explained
from recon.commerce.http import get, write
from recon.commerce.orders import wait_until_listed
from recon.errors import SettingsError

TERMS = ("P1M", "P1Y", "P3Y")
BILLING = ("monthly", "annual", "triennial")
# Valid new-commerce term and billing combinations (commerce.md §8.2).
VALID = {("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual"), ("P3Y", "monthly"), ("P3Y", "annual"),
         ("P3Y", "triennial")}  # fmt: skip


@dataclass(frozen=True)
class CartLine:
    """One line to buy: `{catalog_item_id, quantity, term, billing, promotion_id?}`."""

    catalog_item_id: str
    quantity: int
    term: str
    billing: str
    promotion_id: str | None = None

    def __post_init__(self) -> None:
        if self.catalog_item_id.count(":") != 2:
            raise SettingsError(f"catalog item {self.catalog_item_id!r} is not PRODUCT:SKU:AVAILABILITY")
        if not 1 <= self.quantity <= 300:
            raise SettingsError(f"quantity {self.quantity} of {self.catalog_item_id} is not between 1 and 300")
        if (self.term, self.billing) not in VALID:
            raise SettingsError(
                f"term {self.term} with {self.billing} billing is not sold in new commerce "
                "(P1M monthly; P1Y monthly/annual; P3Y monthly/annual/triennial)"
            )

    def to_api(self, number: int) -> dict[str, Any]:
        """The CartLineItem body."""
        body: dict[str, Any] = {
            "id": number,
            "catalogItemId": self.catalog_item_id,
            "quantity": self.quantity,
            "billingCycle": self.billing,
            "termDuration": self.term,
        }
        if self.promotion_id:
            body["promotionId"] = self.promotion_id
        return body


@dataclass
class BuyResult:
    """What `buy` did: the cart, and (unless a dry run or declined) the checkout result."""

    cart: dict[str, Any]
    checkout: dict[str, Any] | None = None
    unlisted: list[str] = field(default_factory=list)

    @property
    def orders(self) -> list[dict[str, Any]]:
        """Orders the checkout created."""
        return list((self.checkout or {}).get("orders") or [])

    @property
    def order_errors(self) -> list[dict[str, Any]]:
        """Order groups that failed, with their codes."""
        return list((self.checkout or {}).get("orderErrors") or [])


def _line_from(raw: Mapping[str, Any], where: str) -> CartLine:
    try:
        return CartLine(
            catalog_item_id=str(raw["catalog_item_id"]),
            quantity=int(raw["quantity"]),
            term=str(raw["term"]).upper(),
            billing=str(raw["billing"]).lower(),
            promotion_id=str(raw["promotion_id"]) if raw.get("promotion_id") else None,
        )
    except KeyError as exc:
        raise SettingsError(f"{where}: a line lacks {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where}: {exc}") from None


def read_cart_file(path: Path) -> list[CartLine]:
    """Lines from TOML (`[[items]]` tables) or JSON (a list, or `{"items": [...]}`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cart file {path}: {exc.strerror}") from None
    try:
        data: Any = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(f"cart file {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    if isinstance(data, Mapping):
        data = data.get("items", data.get("lines"))
    if not isinstance(data, list) or not data or not all(isinstance(x, Mapping) for x in data):
        raise SettingsError(f"cart file {path}: expected a non-empty list of lines (TOML: [[items]] tables)")
    return [_line_from(raw, f"cart file {path} line {i + 1}") for i, raw in enumerate(data)]


def create_cart(client: PartnerCenterClient, customer_id: str, lines: Sequence[CartLine]) -> dict[str, Any]:
    """POST a new cart; the service fills in prices, order groups and line errors."""
    body = {"lineItems": [line.to_api(i) for i, line in enumerate(lines)]}
    with explained(f"creating a cart for {customer_id}"):
        return write(client, "POST", f"/customers/{customer_id}/carts", body)


def get_cart(client: PartnerCenterClient, customer_id: str, cart_id: str) -> dict[str, Any]:
    """One cart."""
    with explained(f"reading cart {cart_id}"):
        return get(client, f"/customers/{customer_id}/carts/{cart_id}")


def update_cart(
    client: PartnerCenterClient, customer_id: str, cart_id: str, lines: Sequence[CartLine]
) -> dict[str, Any]:
    """Replace the lines of an active, unexpired cart (PUT the whole cart)."""
    cart = get_cart(client, customer_id, cart_id)
    cart["lineItems"] = [line.to_api(i) for i, line in enumerate(lines)]
    with explained(f"updating cart {cart_id}"):
        return write(client, "PUT", f"/customers/{customer_id}/carts/{cart_id}", cart)


def checkout_cart(
    client: PartnerCenterClient, customer_id: str, cart_id: str, *, list_wait_s: float = 30.0
) -> BuyResult:
    """Check a cart out (idempotent) and follow its orders by id until the order list shows them."""
    with explained(f"checking out cart {cart_id}"):
        result = write(client, "POST", f"/customers/{customer_id}/carts/{cart_id}/checkout")
    done = BuyResult(cart={"id": cart_id}, checkout=result)
    ids = [str(o["id"]) for o in done.orders]
    done.unlisted = wait_until_listed(client, customer_id, ids, timeout_s=list_wait_s) if ids else []
    return done


def line_errors(cart: Mapping[str, Any]) -> list[str]:
    """One sentence per cart line that cannot be bought."""
    out = []
    for line in cart.get("lineItems") or []:
        error = line.get("error")
        if not error:
            continue
        code = str(error.get("errorCode") or "")
        hint = LINE_ADVICE.get(code, "")
        text = f"line {line.get('id')} ({line.get('catalogItemId')}): {code}: {error.get('errorDescription', '')}"
        out.append(f"{text} — {hint}" if hint else text)
    return out


def buy(
    client: PartnerCenterClient,
    customer_id: str,
    lines: Sequence[CartLine],
    *,
    review: Callable[[dict[str, Any]], bool] | None = None,
    dry_run: bool = False,
    list_wait_s: float = 30.0,
) -> BuyResult:
    """Create a cart, show it to `review`, then check out unless `dry_run` or `review` answers False."""
    if not lines:
        raise SettingsError("nothing to buy: give --catalog-item or --cart-file")
    cart = create_cart(client, customer_id, lines)
    approved = review(cart) if review is not None else True
    if dry_run or not approved:
        return BuyResult(cart=cart)
    result = checkout_cart(client, customer_id, str(cart["id"]), list_wait_s=list_wait_s)
    result.cart = cart
    return result
