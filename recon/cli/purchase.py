"""Purchase commands: catalog, customers, buy, cart, orders, subscriptions (one library call each)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from recon.api import PartnerCenterClient
from recon.cli.common import console, settings_from
from recon.commerce import catalog, customers, orders, subscriptions
from recon.commerce.carts import (
    BILLING,
    TERMS,
    BuyResult,
    CartLine,
    buy,
    checkout_cart,
    get_cart,
    line_errors,
    read_cart_file,
    update_cart,
)
from recon.errors import SettingsError
from recon.jsontext import dumps_exact

FORMATS = ("table", "json", "csv")
Columns = Sequence[tuple[str, str]]


def say(message: str) -> None:
    """One message, never wrapped (scripts and tests read it whole)."""
    console.print(message, soft_wrap=True)


def pick(item: Any, path: str) -> Any:
    """A dotted path (`pricing.price`, `terms.0.duration`) of an API item, None when absent."""
    for part in path.split("."):
        if isinstance(item, list) and part.isdigit():
            item = item[int(part)] if int(part) < len(item) else None
        elif isinstance(item, dict):
            item = item.get(part)
        else:
            return None
    return item


def text(value: Any) -> str:
    """Cell text: exact decimals, lists joined, None empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(text(v) for v in value)
    return format(value, "f") if hasattr(value, "as_tuple") else str(value)


def emit(items: list[dict[str, Any]], columns: Columns, fmt: str, title: str) -> None:
    """Print a listing as a table, CSV of the columns, or the items as the API returned them (json)."""
    if fmt == "json":
        click.echo(dumps_exact(items))
        return
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([name for name, _ in columns])
        writer.writerows([text(pick(item, path)) for _, path in columns] for item in items)
        click.echo(out.getvalue(), nl=False)
        return
    table = Table(title=f"{title} ({len(items)})", title_justify="left")
    for name, _ in columns:
        table.add_column(name, overflow="fold")
    for item in items:
        table.add_row(*(text(pick(item, path)) for _, path in columns))
    console.print(table)


def format_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--format table|json|csv`."""
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format."
    )(fn)


def country_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--country CC` (required)."""
    return click.option("--country", required=True, help="Two-letter ISO country code of the market, e.g. NL.")(fn)


def customer_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--customer ID` (required)."""
    return click.option("--customer", "customer_id", required=True, help="Customer (tenant) id.")(fn)


@contextmanager
def client_for(ctx: click.Context) -> Iterator[PartnerCenterClient]:
    """A Partner Center client from the resolved settings."""
    with PartnerCenterClient(settings_from(ctx)) as client:
        yield client


PRODUCTS: Columns = (("id", "id"), ("title", "title"), ("type", "productType.id"), ("publisher", "publisherName"))
SKUS: Columns = (("id", "id"), ("product", "productId"), ("title", "title"), ("min", "minimumQuantity"),
                 ("max", "maximumQuantity"), ("billing cycles", "supportedBillingCycles"))  # fmt: skip
AVAILABILITIES: Columns = (("catalog item id", "catalogItemId"), ("term", "terms.0.duration"),
                           ("billing", "terms.0.billingCycle"), ("currency", "defaultCurrency.code"),
                           ("purchasable", "isPurchasable"))  # fmt: skip
CUSTOMERS: Columns = (("id", "id"), ("company", "companyProfile.companyName"), ("domain", "companyProfile.domain"),
                      ("relationship", "relationshipToPartner"))  # fmt: skip
CART_LINES: Columns = (("line", "id"), ("catalog item id", "catalogItemId"), ("qty", "quantity"),
                       ("term", "termDuration"), ("billing", "billingCycle"), ("group", "orderGroup"),
                       ("currency", "currencyCode"), ("price/unit", "pricing.price"),
                       ("term total", "pricing.extendedPrice"), ("error", "error.errorCode"))  # fmt: skip
ORDERS: Columns = (("id", "id"), ("created", "creationDate"), ("status", "status"), ("type", "transactionType"),
                   ("billing", "billingCycle"), ("currency", "currencyCode"), ("total", "totalPrice"),
                   ("lines", "lineItems"))  # fmt: skip
ORDER_LINES: Columns = (("line", "lineItemNumber"), ("offer", "offerId"), ("name", "friendlyName"),
                        ("qty", "quantity"), ("term", "termDuration"), ("transaction", "transactionType"),
                        ("subscription", "subscriptionId"), ("price/unit", "pricing.price"),
                        ("amount", "pricing.extendedPrice"), ("provisioning", "provisioning"))  # fmt: skip
SUBSCRIPTIONS: Columns = (("id", "id"), ("offer", "offerName"), ("qty", "quantity"), ("status", "status"),
                          ("term", "termDuration"), ("billing", "billingCycle"), ("auto-renew", "autoRenewEnabled"),
                          ("removable seats", "refundableQuantity.totalQuantity"),
                          ("cancel until", "cancellationAllowedUntilDate"), ("order", "orderId"))  # fmt: skip


def _order_rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**o, "lineItems": len(o.get("lineItems") or [])} for o in found]


# -- catalog ---------------------------------------------------------------------------------------------------


@click.group("catalog")
def catalog_group() -> None:
    """Browse the catalog: products -> SKUs -> availabilities (catalog item ids to buy)."""


@catalog_group.command("products")
@country_option
@click.option("--target-view", default="OnlineServices", show_default=True, help="Catalog view (targetView).")
@click.option("--search", help="Only products whose id, title or description contains this text.")
@format_option
@click.pass_context
def catalog_products(ctx: click.Context, country: str, target_view: str, search: str | None, fmt: str) -> None:
    """List the products sold in a country."""
    with client_for(ctx) as client:
        emit(catalog.list_products(client, country, target_view, search), PRODUCTS, fmt, "Products")


@catalog_group.command("product")
@click.argument("product_id")
@country_option
@format_option
@click.pass_context
def catalog_product(ctx: click.Context, product_id: str, country: str, fmt: str) -> None:
    """Show one product."""
    with client_for(ctx) as client:
        emit([catalog.get_product(client, product_id, country)], PRODUCTS, fmt, "Product")


@catalog_group.command("skus")
@click.argument("product_id")
@country_option
@format_option
@click.pass_context
def catalog_skus(ctx: click.Context, product_id: str, country: str, fmt: str) -> None:
    """List the SKUs of a product."""
    with client_for(ctx) as client:
        emit(catalog.list_skus(client, product_id, country), SKUS, fmt, f"SKUs of {product_id}")


@catalog_group.command("availabilities")
@click.argument("product_id")
@click.argument("sku_id")
@country_option
@format_option
@click.pass_context
def catalog_availabilities(ctx: click.Context, product_id: str, sku_id: str, country: str, fmt: str) -> None:
    """List the availabilities of a SKU: one catalog item id per term and billing plan."""
    with client_for(ctx) as client:
        found = catalog.list_availabilities(client, product_id, sku_id, country)
    emit(found, AVAILABILITIES, fmt, f"Availabilities of {product_id}:{sku_id}")


# -- customers --------------------------------------------------------------------------------------------------


@click.group("customers")
def customers_group() -> None:
    """Customers and their Microsoft Customer Agreement."""


@customers_group.command("list")
@format_option
@click.pass_context
def customers_list(ctx: click.Context, fmt: str) -> None:
    """List the partner's customers."""
    with client_for(ctx) as client:
        emit(customers.list_customers(client), CUSTOMERS, fmt, "Customers")


@customers_group.command("agreement")
@click.argument("customer_id")
@click.pass_context
def customers_agreement(ctx: click.Context, customer_id: str) -> None:
    """Whether the customer's Microsoft Customer Agreement is confirmed, and when."""
    with client_for(ctx) as client:
        status = customers.agreement_status(client, customer_id)
    if status.confirmed:
        say(f"{customer_id}: Microsoft Customer Agreement confirmed on {status.date_agreed} by {status.contact}")
    else:
        say(
            f"{customer_id}: Microsoft Customer Agreement [yellow]not confirmed[/]: purchases fail with 13605 until "
            "`recon customers confirm-agreement` is run"
        )


@customers_group.command("confirm-agreement")
@click.argument("customer_id")
@click.option("--first-name", required=True, help="First name of the customer's person who accepted.")
@click.option("--last-name", required=True, help="Last name of that person.")
@click.option("--email", required=True, help="E-mail address of that person.")
@click.option("--phone", help="Phone number of that person.")
@click.option("--date", "agreed", help="Date the customer accepted (YYYY-MM-DD; default today).")
@click.pass_context
def customers_confirm(
    ctx: click.Context,
    customer_id: str,
    first_name: str,
    last_name: str,
    email: str,
    phone: str | None,
    agreed: str | None,
) -> None:
    """Attest that the customer accepted the Microsoft Customer Agreement."""
    try:
        when = date.fromisoformat(agreed) if agreed else None
    except ValueError:
        raise SettingsError(f"--date: {agreed!r} is not a date like 2026-03-01") from None
    with client_for(ctx) as client:
        made = customers.confirm_agreement(
            client, customer_id, first_name=first_name, last_name=last_name, email=email, phone=phone, agreed_on=when
        )
    say(f"{customer_id}: agreement confirmed ({made.get('type')}, dated {made.get('dateAgreed')})")


# -- buy and carts ---------------------------------------------------------------------------------------------


def show_cart(cart: dict[str, Any]) -> None:
    """Lines, order groups, prices per unit and term totals, and line errors."""
    title = f"Cart {cart.get('id')} ({cart.get('status')}, expires {cart.get('expirationTimestamp')})"
    emit(list(cart.get("lineItems") or []), CART_LINES, "table", title)
    for problem in line_errors(cart):
        say(f"[red]cannot buy[/] {problem}")


def show_result(result: BuyResult) -> None:
    """Orders created and order errors with their codes."""
    for order in result.orders:
        say(f"order {order.get('id')} ({order.get('status')}), total {text(orders.order_total(order))}")
        emit(list(order.get("lineItems") or []), ORDER_LINES[:-1], "table", f"Order {order.get('id')}")
    for error in result.order_errors:
        say(f"[red]order error[/] group {error.get('orderGroupId')}: {error.get('code')} {error.get('description')}")
    for order_id in result.unlisted:
        say(f"[yellow]order {order_id} exists but is not in the order list yet (it can lag by minutes)[/]")


@click.command("buy")
@customer_option
@click.option("--catalog-item", help="Catalog item id PRODUCT:SKU:AVAILABILITY (see `recon catalog availabilities`).")
@click.option("--quantity", type=int, help="Seats to buy (1-300).")
@click.option("--term", type=click.Choice(TERMS), help="Term duration.")
@click.option("--billing", type=click.Choice(BILLING), help="Billing frequency.")
@click.option("--cart-file", type=click.Path(path_type=Path, dir_okay=False), help="TOML or JSON list of lines.")
@click.option("--dry-run", is_flag=True, help="Create and show the cart, never check out.")
@click.option("--yes", is_flag=True, help="Check out without asking.")
@click.pass_context
def buy_cmd(
    ctx: click.Context,
    customer_id: str,
    catalog_item: str | None,
    quantity: int | None,
    term: str | None,
    billing: str | None,
    cart_file: Path | None,
    dry_run: bool,
    yes: bool,
) -> None:
    """Build a cart, show it, confirm, check out and print the orders (a retry never buys twice)."""
    if cart_file and catalog_item:
        raise SettingsError("give either --catalog-item or --cart-file, not both")
    if cart_file:
        lines = read_cart_file(cart_file)
    elif catalog_item and quantity is not None and term and billing:
        lines = [CartLine(catalog_item, quantity, term, billing)]
    else:
        raise SettingsError("give --catalog-item with --quantity, --term and --billing, or --cart-file")

    def review(cart: dict[str, Any]) -> bool:
        show_cart(cart)
        return dry_run or yes or click.confirm("Check out this cart?", default=False)

    with client_for(ctx) as client:
        result = buy(client, customer_id, lines, review=review, dry_run=dry_run)
    if result.checkout is None:
        cart_id = result.cart.get("id")
        say(
            f"{'dry run: ' if dry_run else ''}cart {cart_id} not checked out; check it out later with "
            f"`recon cart checkout {cart_id} --customer {customer_id}`"
        )
        return
    show_result(result)


@click.group("cart")
def cart_group() -> None:
    """Carts built earlier: show, replace lines, check out."""


@cart_group.command("show")
@click.argument("cart_id")
@customer_option
@click.pass_context
def cart_show(ctx: click.Context, cart_id: str, customer_id: str) -> None:
    """Show a cart's lines, order groups and prices."""
    with client_for(ctx) as client:
        show_cart(get_cart(client, customer_id, cart_id))


@cart_group.command("update")
@click.argument("cart_id")
@customer_option
@click.option("--cart-file", required=True, type=click.Path(path_type=Path, dir_okay=False), help="New lines.")
@click.pass_context
def cart_update(ctx: click.Context, cart_id: str, customer_id: str, cart_file: Path) -> None:
    """Replace the lines of an active cart."""
    lines = read_cart_file(cart_file)
    with client_for(ctx) as client:
        show_cart(update_cart(client, customer_id, cart_id, lines))


@cart_group.command("checkout")
@click.argument("cart_id")
@customer_option
@click.pass_context
def cart_checkout(ctx: click.Context, cart_id: str, customer_id: str) -> None:
    """Check a cart out (idempotent: an ordered cart answers its first result)."""
    with client_for(ctx) as client:
        show_result(checkout_cart(client, customer_id, cart_id))


# -- orders and subscriptions ------------------------------------------------------------------------------------


@click.group("orders")
def orders_group() -> None:
    """A customer's orders."""


@orders_group.command("list")
@customer_option
@format_option
@click.pass_context
def orders_list(ctx: click.Context, customer_id: str, fmt: str) -> None:
    """List the customer's orders, oldest first."""
    with client_for(ctx) as client:
        found = orders.list_orders(client, customer_id)
    emit(found if fmt == "json" else _order_rows(found), ORDERS, fmt, f"Orders of {customer_id}")


@orders_group.command("show")
@click.argument("order_id")
@customer_option
@click.pass_context
def orders_show(ctx: click.Context, order_id: str, customer_id: str) -> None:
    """Show one order with the provisioning status of each line."""
    with client_for(ctx) as client:
        detail = orders.show_order(client, customer_id, order_id)
    order = detail.order
    say(
        f"order {order.get('id')}: {order.get('status')}, {order.get('transactionType')}, created "
        f"{order.get('creationDate')}, {order.get('billingCycle')}, total {text(orders.order_total(order))} "
        f"{order.get('currencyCode', '')}"
    )
    lines = [{**li, "provisioning": detail.line_status(int(li.get("lineItemNumber", -1)))} for li in order["lineItems"]]
    emit(lines, ORDER_LINES, "table", f"Lines of order {order.get('id')}")


@click.group("subscriptions")
def subscriptions_group() -> None:
    """A customer's subscriptions: list, change seats, cancel, auto-renew."""


@subscriptions_group.command("list")
@customer_option
@click.option("--order", "order_id", help="Only subscriptions created by this order.")
@format_option
@click.pass_context
def subscriptions_list(ctx: click.Context, customer_id: str, order_id: str | None, fmt: str) -> None:
    """List the customer's subscriptions with their removable seats and cancel window."""
    with client_for(ctx) as client:
        found = subscriptions.list_subscriptions(client, customer_id, order_id)
    emit(found, SUBSCRIPTIONS, fmt, f"Subscriptions of {customer_id}")


@subscriptions_group.command("change")
@click.argument("subscription_id")
@customer_option
@click.option("--quantity", type=int, help="New seat count (reductions only within 7 days of the seats' addition).")
@click.option("--cancel", is_flag=True, help="Cancel (only until cancellationAllowedUntilDate).")
@click.option("--auto-renew", type=click.Choice(["on", "off"]), help="Turn auto-renew on or off.")
@click.pass_context
def subscriptions_change(
    ctx: click.Context,
    subscription_id: str,
    customer_id: str,
    quantity: int | None,
    cancel: bool,
    auto_renew: str | None,
) -> None:
    """Change seats, cancel, or set auto-renew, honouring the 7-day window."""
    change = subscriptions.Change(quantity, cancel, None if auto_renew is None else auto_renew == "on")
    with client_for(ctx) as client:
        sub = subscriptions.change_subscription(client, customer_id, subscription_id, change)
    say(
        f"subscription {sub.get('id')}: {sub.get('quantity')} seat(s), {sub.get('status')}, auto-renew "
        f"{'on' if sub.get('autoRenewEnabled') else 'off'}"
    )


COMMANDS: tuple[click.Command, ...] = (
    catalog_group,
    customers_group,
    buy_cmd,
    cart_group,
    orders_group,
    subscriptions_group,
)
