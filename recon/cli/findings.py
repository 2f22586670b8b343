"""`recon findings` (list findings with their keys and status) and `recon decide` (an analyst's decision)."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

import click
from rich.table import Table

from recon.cli.common import console, db_option, err_console, parse_month, settings_from
from recon.reconcile.frames import SEVERITIES
from recon.store.db import reader, table_exists
from recon.store.decisions import STATUSES, DecisionStore, decide

COLUMNS = (
    "finding_id",
    "rule",
    "severity",
    "customer_id",
    "subscription_id",
    "invoice_number",
    "period",
    "amount_at_stake",
    "currency",
    "status",
    "explanation",
)


def _who() -> str:
    """RECON_USER, else the login name."""
    return os.environ.get("RECON_USER") or getpass.getuser()


def _cell(name: str, value: object) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}" if name == "amount_at_stake" else str(value)


@click.command("findings")
@click.option("--status", type=click.Choice(STATUSES), help="Only findings with this status.")
@click.option("--rule", "rule_id", help="Only this rule id (R01 ... R13, R00).")
@click.option("--period", help="Only this billing month (YYYY-MM).")
@click.option(
    "--min-severity", type=click.Choice(SEVERITIES), default="low", show_default=True, help="Lowest severity shown."
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Rows shown, largest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines (every column) instead of a table.")
@db_option
@click.pass_context
def findings_cmd(
    ctx: click.Context,
    status: str | None,
    rule_id: str | None,
    period: str | None,
    min_severity: str,
    limit: int,
    as_json: bool,
    db: Path | None,
) -> None:
    """List findings, largest money at stake first, with the ids `recon decide` takes."""
    month = parse_month(period)
    settings = settings_from(ctx, db=db)
    where = ["list_position(?, severity) >= list_position(?, ?)"]
    params: list[object] = [list(SEVERITIES), list(SEVERITIES), min_severity]
    if status:
        where.append("status = ?")
        params.append(status)
    if rule_id:
        where.append("split_part(rule, '-', 1) = ?")
        params.append(rule_id.upper())
    if month:
        where.append("period = ?")
        params.append(month)
    with reader(settings.db) as con:
        if not table_exists(con, "recon", "findings"):
            err_console.print("no findings yet: run `recon reconcile` first")
            return
        query = (
            f"SELECT * FROM recon.findings WHERE {' AND '.join(where)} "
            f"ORDER BY abs(amount_at_stake) DESC, finding_id LIMIT {limit}"
        )
        frame = con.sql(query, params=params).pl()
    if as_json:
        for row in frame.iter_rows(named=True):
            click.echo(json.dumps(row, default=str))
        return
    table = Table(title=f"Findings ({frame.height} shown)", title_justify="left")
    for col in COLUMNS:
        table.add_column(col, justify="right" if col == "amount_at_stake" else "left", overflow="fold")
    for row in frame.select(COLUMNS).iter_rows():
        table.add_row(
            *(
                "" if v is None else f"{v:,.2f}" if c == "amount_at_stake" else str(v)
                for c, v in zip(COLUMNS, row, strict=True)
            )
        )
    console.print(table)


@click.command("decide")
@click.argument("finding_ids", nargs=-1, required=True)
@click.option("--status", type=click.Choice(STATUSES), required=True, help="The decision.")
@click.option("--note", help="Why (a ticket number, what Microsoft said, ...).")
@click.option("--who", help="Who decides (default RECON_USER, else the login name).")
@db_option
@click.pass_context
def decide_cmd(
    ctx: click.Context, finding_ids: tuple[str, ...], status: str, note: str | None, who: str | None, db: Path | None
) -> None:
    """Record a decision on findings (kept in the decisions store, RECON_DECISIONS, across re-runs)."""
    settings = settings_from(ctx, db=db)
    result = decide(settings.db, DecisionStore(settings.decisions_path), finding_ids, status, note, who or _who())
    console.print(f"Recorded {result.recorded} decision(s): {status} (store {settings.decisions_path})")
    if not result.database_updated:
        err_console.print(f"[yellow]note:[/] {result.note}")


COMMANDS = (findings_cmd, decide_cmd)
