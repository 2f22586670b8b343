"""`recon load pricelist FILE`: import Partner Center's new-commerce license-based price list."""

from __future__ import annotations

from pathlib import Path

import click

from recon.cli.common import console, db_option, settings_from
from recon.extract.pricelist import load_pricelist


@click.command("pricelist")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@db_option
@click.pass_context
def pricelist_cmd(ctx: click.Context, file: Path, db: Path | None) -> None:
    """Import a new-commerce license-based price list (Partner Center's Pricing workspace download).

    FILE is the CSV as downloaded (or the same table as .xlsx or .parquet). Renewals without a priced renewal
    order are then rated at the list's price on the renewal date (docs/rating.md). Loading the same file again
    changes nothing; a newer list supersedes an older one from its effective start.
    """
    parent = ctx.parent.params.get("db") if ctx.parent is not None else None
    result = load_pricelist(settings_from(ctx, db=db or parent), file)
    name, sha = result.path.name, result.sha256[:12]
    if result.already_loaded:
        console.print(f"Price list {name} (sha256 {sha}…) was loaded before (load {result.load_id}): nothing changed.")
        return
    span = f", effective starts {result.first_start} to {result.last_start}" if result.first_start else ""
    console.print(
        f"Price list {name} (sha256 {sha}…): {result.rows:,} lines into raw.price_list "
        f"({result.markets} markets, {result.currencies} currencies{span})."
    )
    if result.quarantined:
        reasons = "; ".join(f"{column}: {reason} ({n:,})" for column, reason, n in result.quarantine_reasons)
        console.print(f"[yellow]{result.quarantined:,} lines quarantined[/] (meta.quarantine): {reasons}")
    if result.unknown_columns:
        console.print(f"Columns kept in raw.price_list.extra: {', '.join(result.unknown_columns)}")
    console.print("stg.price_list is rebuilt by the next `recon reconcile`.")
