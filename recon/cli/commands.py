"""Pipeline commands: config, extract, reconcile, report, demo, dashboard."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table

from recon.cli.common import console, db_option, parse_month, settings_from
from recon.cli.progress import RichReporter
from recon.cli.render import extract_table, print_reconcile
from recon.errors import EXIT_FINDINGS, EXIT_OK, EXIT_UPSTREAM, SettingsError
from recon.extract import DATASETS, extract
from recon.reconcile import reconcile
from recon.reconcile.frames import SEVERITIES
from recon.report import write_monthly

FAIL_ON = ("never", *SEVERITIES)


@click.group("config")
def config_group() -> None:
    """Inspect settings (env RECON_*, recon.toml, sandbox.json, defaults)."""


@config_group.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print every setting with its env name, TOML key, value (secrets masked) and source."""
    settings = settings_from(ctx)
    table = Table(title=f"Settings (config file: {settings.config_path or 'none'})", title_justify="left")
    for col in ("env", "toml key", "value", "source", "meaning"):
        table.add_column(col, overflow="fold")
    for row in settings.rows():
        table.add_row(*row)
    console.print(table)


def _dataset_names(_: click.Context, __: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """`--datasets` values, repeated or comma-separated, checked against DATASETS."""
    names = tuple(n.strip() for v in values for n in v.split(",") if n.strip())
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise click.BadParameter(f"unknown {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    return names


@click.command("extract")
@click.option(
    "--datasets",
    "datasets",
    multiple=True,
    callback=_dataset_names,
    help=f"Datasets to extract (repeatable or comma-separated; default all): {', '.join(DATASETS)}.",
)
@click.option("--since", help="Only invoices whose billing period starts in or after this month (YYYY-MM).")
@click.option("--invoice", "invoices", multiple=True, help="Only this invoice id (repeatable).")
@click.option(
    "--period",
    "periods",
    multiple=True,
    type=click.Choice(["current", "previous"]),
    help="Unbilled period to pull (repeatable; default both).",
)
@click.option(
    "--api",
    type=click.Choice(["v1", "v2", "auto"]),
    default="auto",
    show_default=True,
    help="Line items through v1 (paged REST), v2 (Graph exports) or per unit (auto: v2 where it covers the period).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Customers fetched in parallel (within the client-side rate limits).",
)
@db_option
@click.pass_context
def extract_cmd(
    ctx: click.Context,
    datasets: tuple[str, ...],
    since: str | None,
    invoices: tuple[str, ...],
    periods: tuple[str, ...],
    api: str,
    concurrency: int,
    db: Path | None,
) -> int:
    """Extract Partner Center data into the DuckDB file (each unit replaced atomically)."""
    settings = settings_from(ctx, db=db)
    with RichReporter(console) as reporter:
        summary = extract(
            settings,
            datasets=datasets or None,
            since=parse_month(since, "--since"),
            invoice_ids=invoices or None,
            periods=periods or ("current", "previous"),
            concurrency=concurrency,
            api=api,
            reporter=reporter,
        )
    console.print(extract_table(summary))
    if summary.retries:
        console.print(f"Retried requests: {summary.retries}")
    return EXIT_UPSTREAM if summary.failed else EXIT_OK


@click.group("load", invoke_without_command=True)
@click.option("--replay", is_flag=True, help="Rebuild the raw tables from the landed raw files alone.")
@click.option("--dataset", help="Only this dataset (with --replay).")
@click.option("--unit", help="Only this unit, e.g. an invoice id (with --replay).")
@db_option
@click.pass_context
def load_group(ctx: click.Context, replay: bool, dataset: str | None, unit: str | None, db: Path | None) -> None:
    """Load data from files: `--replay` rebuilds tables from raw files (no network); `pricelist FILE` imports
    a Partner Center price list."""
    if ctx.invoked_subcommand is not None:
        if replay or dataset or unit:
            raise click.UsageError("--replay, --dataset and --unit do not combine with a subcommand")
        return
    if not replay:
        raise click.UsageError("say what to load: --replay, or a subcommand (pricelist FILE)")
    from recon.extract.replay import replay as run_replay

    summary = run_replay(settings_from(ctx, db=db), dataset=dataset, unit=unit)
    table = Table(title="Replayed", title_justify="left")
    for col in ("dataset", "units", "rows"):
        table.add_column(col, justify="left" if col == "dataset" else "right")
    for name, units in sorted(summary.units.items()):
        table.add_row(name, str(units), f"{summary.rows[name]:,}")
    console.print(table)
    for line in summary.skipped:
        console.print(f"[yellow]skipped[/] {line}")


@click.command("reconcile")
@click.option(
    "--period",
    help="Billing month to report and to apply --fail-on to (YYYY-MM); every month is rebuilt, and findings "
    "without a month (orphans) count in every month.",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="never",
    show_default=True,
    help="Exit 1 when an open finding reaches this severity.",
)
@db_option
@click.pass_context
def reconcile_cmd(ctx: click.Context, period: str | None, fail_on: str, db: Path | None) -> int:
    """Rebuild staging, tie-outs and findings; print findings per rule with the money at stake."""
    month = parse_month(period)
    settings = settings_from(ctx, db=db)
    summary = reconcile(settings, period=month)
    print_reconcile(console, summary)
    print_audits(summary.audits)
    return exit_for(summary.worst_open, fail_on)


def print_audits(audits: list[tuple[str, str, str, int]]) -> None:
    """One line per failing staging audit (rows in meta.audits), or that all passed."""
    failing = [a for a in audits if a[3]]
    for audit, table, severity, rows in failing:
        colour = "red" if severity == "error" else "yellow"
        console.print(f"[{colour}]audit {audit}[/] on {table} ({severity}): {rows:,} offending rows (meta.audits)")
    if audits and not failing:
        console.print(f"Audits: all {len(audits)} passed")


def exit_for(worst_open: str | None, fail_on: str) -> int:
    """1 when the worst open severity reaches `fail_on`, else 0."""
    if fail_on == "never" or worst_open is None:
        return EXIT_OK
    return EXIT_FINDINGS if SEVERITIES.index(worst_open) >= SEVERITIES.index(fail_on) else EXIT_OK


@click.command("evaluate")
@click.option(
    "--answer-key",
    "answer_key",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The sandbox's answer key (.parquet or .csv).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@db_option
@click.pass_context
def evaluate_cmd(ctx: click.Context, answer_key: Path, as_json: bool, db: Path | None) -> None:
    """Precision and recall per rule of the findings against a sandbox answer key."""
    import json

    from recon.reconcile.evaluate import evaluate_db

    table = evaluate_db(settings_from(ctx, db=db), answer_key)
    if as_json:
        click.echo(json.dumps(table.to_dicts(), indent=1))
        return
    out = Table(title="Accuracy per rule (findings above info)", title_justify="left")
    for col in table.columns:
        out.add_column(col, justify="left" if col == "rule" else "right")
    for row in table.iter_rows():
        out.add_row(*("—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
    console.print(out)


@click.command("report")
@click.option("--period", help="Billing month (YYYY-MM); default the latest invoiced month.")
@db_option
@click.pass_context
def report_cmd(ctx: click.Context, period: str | None, db: Path | None) -> None:
    """Write the monthly export (reports/recon-YYYY-MM.xlsx: findings and invoice tie-out)."""
    settings = settings_from(ctx, db=db)
    path = write_monthly(settings, parse_month(period))
    console.print(f"Report: {path}")


@click.command("dashboard")
@click.option("--port", type=int, help="Port on 127.0.0.1 (default: a free one).")
@db_option
@click.pass_context
def dashboard_cmd(ctx: click.Context, port: int | None, db: Path | None) -> None:
    """Serve the analysts' dashboard until interrupted."""
    from recon.serve import start_dashboard, stop

    settings = settings_from(ctx, db=db)
    proc, url = start_dashboard(settings.db, settings.data_dir / "logs" / "dashboard.log", port)
    console.print(f"Dashboard: [bold]{url}[/] (Ctrl-C to stop)")
    _serve_until_interrupted(proc)
    stop(proc)


def _serve_until_interrupted(proc: object) -> None:
    try:
        while getattr(proc, "poll")() is None:  # noqa: B009
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("stopping")


@click.command("demo")
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), help="DuckDB file (overrides RECON_DB).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated world.")
@click.option(
    "--size",
    type=click.Choice(["tiny", "small", "large"]),
    default="tiny",
    show_default=True,
    help="Size of the generated world.",
)
@click.option(
    "--switch", "switches", multiple=True, metavar="NAME=VALUE", help="A sandbox switch (repeatable; docs/sandbox.md)."
)
@click.option(
    "--inject-rate",
    "inject_rates",
    multiple=True,
    metavar="KIND=P",
    help="Injection rate per catalogue kind, or all=P (repeatable; all=0 is a clean world).",
)
@click.option("--no-dashboard", is_flag=True, help="Stop after the summary instead of serving the dashboard.")
@click.option("--port", type=int, help="Dashboard port on 127.0.0.1 (default: a free one).")
@click.pass_context
def demo_cmd(
    ctx: click.Context,
    db: Path | None,
    seed: int,
    size: str,
    switches: tuple[str, ...],
    inject_rates: tuple[str, ...],
    no_dashboard: bool,
    port: int | None,
) -> int:
    """Run the whole flow on the embedded sandbox: extract, reconcile, report, then the dashboard."""
    from recon.cli.sandbox import parse_pairs, parse_rates
    from recon.demo import run_demo
    from recon.serve import start_dashboard, stop

    if seed < 0:
        raise SettingsError("--seed must be a non-negative integer")
    config = ctx.find_root().params.get("config")
    console.print(f"Starting the Partner Center sandbox (seed {seed}, size {size}) …")
    with RichReporter(console) as reporter:
        result = run_demo(
            config=config,
            db=db,
            seed=seed,
            size=size,
            reporter=reporter,
            switches=parse_pairs(switches, "--switch") or None,
            inject_rates=parse_rates(inject_rates) or None,
        )
    console.print(extract_table(result.extracted))
    print_reconcile(console, result.reconciled)
    print_audits(result.reconciled.audits)
    console.print(f"Database: {result.settings.db}")
    console.print(f"Report: {result.report}")
    if result.extracted.failed:
        return EXIT_UPSTREAM
    if no_dashboard:
        return EXIT_OK
    proc, url = start_dashboard(result.settings.db, result.settings.data_dir / "logs" / "dashboard.log", port)
    console.print(f"Dashboard: [bold]{url}[/] (open it in a browser; Ctrl-C to stop)")
    _serve_until_interrupted(proc)
    stop(proc)
    return EXIT_OK


ALL = (config_group, extract_cmd, load_group, reconcile_cmd, evaluate_cmd, report_cmd, dashboard_cmd, demo_cmd)
