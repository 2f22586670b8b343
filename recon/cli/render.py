"""Tables the CLI prints: extraction and reconciliation summaries."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from recon.extract import ExtractSummary
from recon.reconcile import ReconcileSummary


def extract_table(summary: ExtractSummary) -> Table:
    """Rows per dataset, units, quarantined values and errors."""
    table = Table(title="Extracted", title_justify="left")
    for col in ("dataset", "units", "rows", "quarantined", "status"):
        table.add_column(col, justify="right" if col in ("units", "rows", "quarantined") else "left")
    for r in summary.results.values():
        status = "[green]ok[/]" if r.ok else f"[red]failed[/]: {r.error}"
        if r.notes:
            status += "".join(f"\n[yellow]note[/]: {n}" for n in r.notes)
        table.add_row(r.dataset, str(r.units), f"{r.rows:,}", str(r.quarantined), status)
    return table


def findings_table(summary: ReconcileSummary) -> Table:
    """Findings per rule with the money at stake per currency."""
    title = "Findings" + (f" of {summary.period:%Y-%m} (and those without a month)" if summary.period else "")
    table = Table(title=title, title_justify="left")
    for col in ("rule", "severity", "findings", "currency", "amount at stake"):
        table.add_column(col, justify="right" if col in ("findings", "amount at stake") else "left")
    for rule, severity, count, currency, stake in summary.by_rule:
        table.add_row(rule, severity, str(count), currency, f"{stake:,.2f}")
    if not summary.by_rule:
        table.add_row("—", "—", "0", "—", "0.00")
    return table


def print_reconcile(console: Console, summary: ReconcileSummary) -> None:
    """Staged row counts and the findings table."""
    staged = ", ".join(f"{name} {count:,}" for name, count in summary.staged.items())
    console.print(f"Staged: {staged}")
    console.print(findings_table(summary))
