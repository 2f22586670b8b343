"""`recon auth`: sign a user in (device code) and check which scopes the configured identity gets tokens for."""

from __future__ import annotations

import click
from rich.table import Table

from recon.api.auth import TokenProvider, cache_path, device_login, user_scope
from recon.api.token_cache import open_token_cache
from recon.cli.common import console, settings_from
from recon.errors import EXIT_OK, EXIT_UPSTREAM, ReconError


@click.group("auth")
def auth() -> None:
    """Sign in a partner user, or check the app registration's credentials against the authority."""


@auth.command("check")
@click.pass_context
def check(ctx: click.Context) -> int:
    """Report the app, its credential, the signed-in user (user mode) and which scopes give a token."""
    settings = settings_from(ctx)
    user_mode = settings.auth_mode == "user"
    if user_mode:
        credential = "user sign-in, no app credential"
    else:
        credential = "certificate" if settings.client_cert else "client secret" if settings.client_secret else "none"
    console.print(f"Authority: {settings.authority or '(not set)'}")
    console.print(f"App: {settings.client_id or '(not set)'} ({credential})")
    console.print(f"Mode: {settings.auth_mode}")
    if user_mode:
        cache = open_token_cache(cache_path(settings))
        console.print(f"User: {cache.username() or '(none signed in)'} (token cache {cache.path})")
    table = Table(title="Scopes", title_justify="left")
    for col in ("scope", "result"):
        table.add_column(col)
    failed = False
    for scope in (settings.pc_scope, settings.graph_scope):
        shown = user_scope(settings, scope) if user_mode else scope
        try:
            TokenProvider(settings, scope).token()
            table.add_row(shown, "[green]token issued[/]")
        except ReconError as exc:
            failed = True
            table.add_row(shown, f"[red]{exc}[/]")
    console.print(table)
    return EXIT_UPSTREAM if failed else EXIT_OK


@auth.command("login")
@click.pass_context
def login(ctx: click.Context) -> int:
    """Sign a partner user in with the device-code flow and keep the sign-in in the token cache file."""
    settings = settings_from(ctx)

    def show(uri: str, code: str) -> None:
        console.print(f"To sign in, open {uri} in a browser and enter the code [bold]{code}[/]")

    user = device_login(settings, show)
    console.print(f"Signed in as {user}; token cache {cache_path(settings)} (readable by you only)")
    if settings.auth_mode != "user":
        console.print("RECON_AUTH_MODE is app: set RECON_AUTH_MODE=user to call the APIs as this user")
    return EXIT_OK
