"""Run staging, tie-outs and every rule; write `recon.tieout` and `recon.findings` in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
import polars as pl

from recon.reconcile.frames import SEVERITIES, empty_findings
from recon.reconcile.tieout import r09_invoice_tieout, tieout
from recon.settings import Settings
from recon.store import open_writer
from recon.store.schema import FINDINGS, TIEOUT
from recon.transform import build_staging

UNIT_LOADS = """
SELECT dataset, unit, status FROM (
    SELECT dataset, unit, status, row_number() OVER (PARTITION BY dataset, unit ORDER BY started_at DESC) AS rn
    FROM meta.loads
) WHERE rn = 1
"""

FINDING_KEY = (
    "concat_ws('|', split_part(rule, '-', 1), coalesce(invoice_number, ''), coalesce(subscription_id, ''), "
    "coalesce(charge_type, ''), coalesce(charge_period, ''), coalesce(sign, ''))"
)


@dataclass
class ReconcileSummary:
    """What a reconcile run produced."""

    staged: dict[str, int] = field(default_factory=dict)
    findings: int = 0
    by_rule: list[tuple[str, str, int, str, Decimal]] = field(default_factory=list)
    worst_open: str | None = None


def _frame(con: duckdb.DuckDBPyConnection, query: str) -> pl.LazyFrame:
    return con.sql(query).pl().lazy()


def _write_findings(con: duckdb.DuckDBPyConnection, findings: pl.DataFrame, now: datetime) -> None:
    con.register("_findings", findings.to_arrow())
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _keyed AS
            SELECT *, substr(sha256({FINDING_KEY} || '|' || CAST(row_number() OVER (
                PARTITION BY {FINDING_KEY} ORDER BY amount_at_stake, evidence) AS VARCHAR)), 1, 24) AS finding_id
            FROM _findings"""
        )
        con.execute(
            "INSERT INTO meta.findings_seen SELECT DISTINCT finding_id, CAST(? AS TIMESTAMP) FROM _keyed "
            "WHERE finding_id NOT IN (SELECT finding_id FROM meta.findings_seen)",
            [now.replace(tzinfo=None)],
        )
        con.execute("DELETE FROM recon.findings")
        columns = ", ".join(name for name, _ in FINDINGS)
        select = ", ".join(
            "s.first_seen"
            if name == "first_seen"
            else "'open' AS status"
            if name == "status"
            else f"CAST(k.{name} AS JSON)"
            if name == "evidence"
            else f"k.{name}"
            for name, _ in FINDINGS
        )
        con.execute(
            f"INSERT INTO recon.findings ({columns}) SELECT {select} FROM _keyed k "
            "JOIN meta.findings_seen s USING (finding_id) ORDER BY k.rule, k.invoice_number, k.subscription_id, "
            "k.finding_id"
        )
    finally:
        con.unregister("_findings")
        con.execute("DROP TABLE IF EXISTS _keyed")


RuleFn = Callable[[dict[str, pl.LazyFrame]], pl.LazyFrame]
RULES: tuple[tuple[str, RuleFn], ...] = (("R09", lambda f: r09_invoice_tieout(f["tieout"])),)


def reconcile(settings: Settings, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> ReconcileSummary:
    """Rebuild staging, tie-outs and findings from what the database holds."""
    summary = ReconcileSummary()
    with open_writer(settings.db) as con:
        summary.staged = build_staging(con)
        frames: dict[str, pl.LazyFrame] = {
            "invoices": _frame(con, "SELECT * FROM stg.invoices"),
            "lines": _frame(con, "SELECT * FROM stg.recon_lines"),
            "unit_loads": _frame(con, UNIT_LOADS),
        }
        tie = tieout(frames["invoices"], frames["lines"], frames["unit_loads"]).collect()
        frames["tieout"] = tie.lazy()
        findings = pl.concat([empty_findings(), *(fn(frames) for _, fn in RULES)], how="vertical").collect()
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("_tieout", tie.to_arrow())
            con.execute("DELETE FROM recon.tieout")
            names = ", ".join(name for name, _ in TIEOUT)
            con.execute(f"INSERT INTO recon.tieout ({names}) SELECT {names} FROM _tieout ORDER BY invoice_number")
            con.unregister("_tieout")
            _write_findings(con, findings, clock())
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        rows = con.execute(
            "SELECT split_part(rule, '-', 1) AS rule_id, severity, count(*), currency, sum(amount_at_stake) "
            "FROM recon.findings GROUP BY ALL ORDER BY rule_id, currency"
        ).fetchall()
        summary.by_rule = [(str(r[0]), str(r[1]), int(r[2]), str(r[3]), Decimal(r[4])) for r in rows]
        summary.findings = sum(r[2] for r in summary.by_rule)
        open_sev = {
            str(r[0])
            for r in con.execute("SELECT DISTINCT severity FROM recon.findings WHERE status = 'open'").fetchall()
        }
        ranked = [s for s in SEVERITIES if s in open_sev]
        summary.worst_open = ranked[-1] if ranked else None
    return summary
