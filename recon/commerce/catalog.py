"""The catalog: products -> SKUs -> availabilities, whose `catalogItemId` is what a cart line buys (§8.2)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from recon.api import PartnerCenterClient
from recon.commerce.errors import explained
from recon.commerce.http import get, items

TARGET_VIEWS = ("OnlineServices", "Azure", "Software", "SpecializedOffers", "MarketplaceSaaS")


def _country(country: str) -> str:
    return country.strip().upper()


def list_products(
    client: PartnerCenterClient, country: str, target_view: str = "OnlineServices", search: str | None = None
) -> list[dict[str, Any]]:
    """Products of a country and view; `search` keeps those whose id, title or description contains it."""
    with explained("listing products"):
        found = items(client, "/products", {"country": _country(country), "targetView": target_view})
    if not search:
        return found
    needle = search.casefold()
    return [p for p in found if any(needle in str(p.get(k) or "").casefold() for k in ("id", "title", "description"))]


def get_product(client: PartnerCenterClient, product_id: str, country: str) -> dict[str, Any]:
    """One product."""
    with explained(f"reading product {product_id}"):
        return get(client, f"/products/{quote(product_id)}", {"country": _country(country)})


def list_skus(client: PartnerCenterClient, product_id: str, country: str) -> list[dict[str, Any]]:
    """The SKUs of a product."""
    with explained(f"listing SKUs of {product_id}"):
        return items(client, f"/products/{quote(product_id)}/skus", {"country": _country(country)})


def list_availabilities(
    client: PartnerCenterClient, product_id: str, sku_id: str, country: str
) -> list[dict[str, Any]]:
    """The availabilities of a SKU: one catalog item id per term and billing plan."""
    with explained(f"listing availabilities of {product_id}:{sku_id}"):
        return items(
            client,
            f"/products/{quote(product_id)}/skus/{quote(sku_id)}/availabilities",
            {"country": _country(country)},
        )


def availability_terms(availability: dict[str, Any]) -> list[tuple[str, str]]:
    """(termDuration, billing cycle in lower case) pairs an availability sells."""
    return [
        (str(t.get("duration") or ""), str(t.get("billingCycle") or "").lower())
        for t in availability.get("terms") or []
    ]
