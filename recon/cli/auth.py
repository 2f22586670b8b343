"""`recon auth`: which app and scopes the configured credentials can get tokens for."""

from __future__ import annotations

import click
from rich.table import Table

from recon.api.auth import TokenProvider
from recon.cli.common import console, settings_from
from recon.errors import EXIT_OK, EXIT_UPSTREAM, ReconError


@click.group("auth")
def auth() -> None:
    """Check the app registration's credentials against the authority."""


@auth.command("check")
@click.pass_context
def check(ctx: click.Context) -> int:
    """Report the app, its credential and which scopes (Partner Center, Graph) give a token."""
    settings = settings_from(ctx)
    credential = "certificate" if settings.client_cert else "client secret" if settings.client_secret else "none"
    console.print(f"Authority: {settings.authority or '(not set)'}")
    console.print(f"App: {settings.client_id or '(not set)'} ({credential})")
    table = Table(title="Scopes", title_justify="left")
    for col in ("scope", "result"):
        table.add_column(col)
    failed = False
    for scope in (settings.pc_scope, settings.graph_scope):
        try:
            TokenProvider(settings, scope).token()
            table.add_row(scope, "[green]token issued[/]")
        except ReconError as exc:
            failed = True
            table.add_row(scope, f"[red]{exc}[/]")
    console.print(table)
    return EXIT_UPSTREAM if failed else EXIT_OK
