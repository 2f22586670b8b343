"""New-commerce purchasing: catalog, customers and agreements, carts, orders, subscriptions (commerce.md §7-8)."""

from __future__ import annotations

from recon.commerce.carts import (
    BuyResult,
    CartLine,
    buy,
    checkout_cart,
    create_cart,
    get_cart,
    read_cart_file,
    update_cart,
)
from recon.commerce.errors import Refused, explain

__all__ = [
    "BuyResult",
    "CartLine",
    "Refused",
    "buy",
    "checkout_cart",
    "create_cart",
    "explain",
    "get_cart",
    "read_cart_file",
    "update_cart",
]
