"""Run staging, tie-outs and every rule; write `recon.tieout` and `recon.findings` in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import polars as pl

from recon.reconcile.catalogue import run_rules
from recon.reconcile.credits import credit_pairs
from recon.reconcile.frames import SEVERITIES, conform, empty_findings
from recon.reconcile.inputs import ORDERS_SCHEMA, SUBSCRIPTIONS_SCHEMA, markets_frame
from recon.reconcile.ledgers import AuditRow, audit_staging, ledger_frames, write_ledgers
from recon.reconcile.matching import license_match
from recon.reconcile.pricelist import customer_markets, empty_price_list, renewal_events
from recon.reconcile.rating import EXPECTED_SCHEMA, expected_charges
from recon.reconcile.staged import USAGE_COLUMNS, audit_lines, bound_duckdb, line_markets, rate_counts, rule_lines
from recon.reconcile.tieout import tieout
from recon.settings import Settings
from recon.store import open_writer, table_exists
from recon.store.decisions import DecisionStore, automatic_decisions
from recon.store.schema import FINDINGS, TIEOUT
from recon.store.sql import first_row
from recon.transform import build_staging
from recon.transform.events import fx_rates, rateable, subscription_events

UNIT_LOADS = """
SELECT dataset, unit, status FROM (
    SELECT dataset, unit, status, row_number() OVER (PARTITION BY dataset, unit ORDER BY started_at DESC) AS rn
    FROM meta.loads
) WHERE rn = 1
"""

CURRENT_DECISIONS = "SELECT finding_id, arg_max(status, seq) AS status FROM recon.decisions GROUP BY finding_id"

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
    audits: list[AuditRow] = field(default_factory=list)  # (audit, table, severity, offending rows)
    period: date | None = None  # the month the findings figures cover (None: all)


def _frame(con: duckdb.DuckDBPyConnection, query: str) -> pl.LazyFrame:
    return con.sql(query).pl().lazy()


_CONTEXT = (
    "rule, severity, customer_id, subscription_id, invoice_number, period, measure, expected, actual, "
    "amount_at_stake, currency, explanation"
)


def _write_findings(
    con: duckdb.DuckDBPyConnection, findings: pl.DataFrame, now: datetime, store: DecisionStore
) -> None:
    """Key the findings, join the analysts' decisions in, append the automatic ones, mirror the decision log."""
    con.register("_findings", findings.to_arrow())
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _keyed AS
            SELECT *, substr(sha256({FINDING_KEY} || '|' || CAST(row_number() OVER (
                PARTITION BY {FINDING_KEY} ORDER BY amount_at_stake, evidence) AS VARCHAR)), 1, 24) AS finding_id
            FROM _findings"""
        )
        seen = [str(r[0]) for r in con.execute("SELECT finding_id FROM meta.findings_seen").fetchall()]
        found = [str(r[0]) for r in con.execute("SELECT finding_id FROM _keyed").fetchall()]
        previous = {
            str(row["finding_id"]): row
            for row in con.sql(f"SELECT finding_id, {_CONTEXT} FROM recon.findings").pl().iter_rows(named=True)
        }
        automatic = automatic_decisions(found, seen, store.current(), previous, now)
        store.record(automatic, now)
        log = store.log()
        con.register("_decisions", log.to_arrow())
        con.execute("CREATE OR REPLACE TABLE recon.decisions AS SELECT * FROM _decisions ORDER BY seq")
        con.unregister("_decisions")
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
            else "coalesce(d.status, 'open') AS status"
            if name == "status"
            else f"CAST(k.{name} AS JSON)"
            if name == "evidence"
            else f"k.{name}"
            for name, _ in FINDINGS
        )
        con.execute(
            f"INSERT INTO recon.findings ({columns}) SELECT {select} FROM _keyed k "
            "JOIN meta.findings_seen s USING (finding_id) "
            f"LEFT JOIN ({CURRENT_DECISIONS}) d USING (finding_id) "
            "ORDER BY k.rule, k.invoice_number, k.subscription_id, k.finding_id"
        )
    finally:
        con.unregister("_findings")
        con.execute("DROP TABLE IF EXISTS _keyed")


RuleFn = Callable[[dict[str, pl.LazyFrame]], pl.LazyFrame]


def r00_no_history(frames: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
    """R00 (info): a subscription whose order history cannot be rated is reported, never guessed; its billed
    amount (for a renewal nothing prices: from that renewal on) is the money at stake."""
    unrated = frames["unrated"]
    if "since" not in unrated.collect_schema().names():
        unrated = unrated.with_columns(pl.lit(None, dtype=pl.Date).alias("since"))
    billed = (
        frames["lines"]
        .filter(pl.col("billing_state") == "billed")
        .join(unrated.select("subscription_id", "since"), on="subscription_id")
        .filter(pl.col("since").is_null() | (pl.col("charge_start") >= pl.col("since")))
        .group_by("subscription_id")
        .agg(pl.col("subtotal").sum().alias("amount_at_stake"), pl.col("currency").first())
    )
    return conform(
        unrated.join(billed, on="subscription_id", how="left").with_columns(
            pl.col("amount_at_stake").fill_null(0),  # what was billed for it and could not be verified
            pl.lit("R00-no-history").alias("rule"),
            pl.lit("info").alias("severity"),
            pl.lit("amount").alias("measure"),
            pl.concat_str(
                pl.lit("Subscription "), "subscription_id", pl.lit(" is not shadow-rated: "), "reason", pl.lit(".")
            ).alias("explanation"),
            pl.struct("subscription_id", "reason").struct.json_encode().alias("evidence"),
            pl.lit("history").alias("charge_type"),
        )
    )


def _conformed(frame: pl.LazyFrame, schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def _periods_closed(invoices: pl.LazyFrame) -> pl.LazyFrame:
    """Billing periods an extracted invoice covers (with the invoice where a period has one per currency)."""
    return (
        # legacy (recurring) documents close no new-commerce period: their lines are not shadow-rated
        invoices.filter(
            (pl.col("document_type") == "invoice") & (pl.col("invoice_type").str.to_lowercase() == "onetime")
        )
        .group_by("period", "currency")
        .agg(pl.col("invoice_number").sort().first(), pl.len().alias("n"))
        .select(
            "period",
            pl.when(pl.col("n") == 1).then(pl.col("invoice_number")).otherwise(None).alias("invoice_number"),
            "currency",
        )
    )


def _as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The source's clock of the newest complete load: rating runs up to it, never to the wall clock."""
    row = first_row(con.execute("SELECT max(as_of) FROM meta.loads WHERE status = 'complete'"))
    return row[0].date() if row and row[0] else None


def _expected(frames: dict[str, pl.LazyFrame], as_of: date | None, rounding: str) -> pl.DataFrame:
    """Shadow-rate every subscription with a rateable history, for the billing periods in the data."""
    # each step reads its input several times: materialised once, not recomputed per read
    events = subscription_events(frames["orders"], frames["subscriptions"]).collect().lazy()
    good, unrated = (frame.lazy() for frame in pl.collect_all(rateable(events)))
    if as_of is not None:  # renewals without a priced renewal order: the imported price list (pricelist.py)
        markets = customer_markets(frames["customers"], frames["line_markets"])
        good, unpriced = renewal_events(good, frames["subscriptions"], frames["price_list"], markets, until=as_of)
        unrated = pl.concat([unrated, unpriced], how="diagonal_relaxed")
        good = good.collect().lazy()
    frames["unrated"] = unrated.collect().lazy()
    periods = frames["lines"].select("period", pl.col("currency").alias("billing_currency")).unique().collect()
    if as_of is None or periods.is_empty():
        return pl.DataFrame(schema=EXPECTED_SCHEMA)
    currency = periods.group_by("billing_currency").len().sort("len", descending=True)["billing_currency"][0]
    since = periods.select(pl.col("period").min()).item()  # no cycle before the data's first month is built
    expected = expected_charges(
        good, frames["fx"], billing_currency=currency, until=as_of, rounding=rounding, since=since
    )
    return expected.join(periods.lazy().select("period").unique(), on="period", how="semi").collect()


def reconcile(
    settings: Settings,
    *,
    rounding: str = "B",
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    stage: bool = True,
    period: date | None = None,
) -> ReconcileSummary:
    """Rebuild staging (unless `stage` is false: `stg` is then used as it is), tie-outs and findings; the
    summary covers `period` (a first of month) only, when given."""
    summary = ReconcileSummary(period=period)
    with open_writer(settings.db) as con:
        bound_duckdb(con, settings.db)  # polars holds the frames: DuckDB spills past its share
        summary.staged = build_staging(con) if stage else {}
        frames: dict[str, pl.LazyFrame] = {
            "invoices": _frame(con, "SELECT * FROM stg.invoices"),
            "lines": rule_lines(con).lazy(),  # billed lines and each month's last snapshot (staged.py)
            "rates": rate_counts(con).lazy(),
            "line_markets": line_markets(con).lazy(),
            "unit_loads": _frame(con, UNIT_LOADS),
        }
        for name in ("subscriptions", "customers"):
            frames[name] = _frame(con, f"SELECT * FROM stg.{name}")
        # in the order the events are built in (DuckDB sorts them faster, and polars sorts sorted data fast)
        frames["orders"] = _frame(
            con, "SELECT * FROM stg.orders ORDER BY subscription_id, ordered_at, order_id, line_number"
        )
        frames["usage_lines"] = _frame(con, f"SELECT {', '.join(USAGE_COLUMNS)} FROM stg.usage_lines")
        has_list = table_exists(con, "stg", "price_list")
        frames["price_list"] = _frame(con, "SELECT * FROM stg.price_list") if has_list else empty_price_list()
        audited = {**frames, "lines": audit_lines(con).lazy(), "usage": frames["usage_lines"]}
        summary.audits = audit_staging(con, audited, clock())
        del audited  # the lines the audits read are not needed again
        frames["fx"] = fx_rates(frames["rates"]).collect().lazy()
        tie = tieout(frames["invoices"], frames["lines"], frames["unit_loads"]).collect()
        frames["tieout"] = tie.lazy()
        expected = _expected(frames, _as_of(con), rounding)
        frames["expected"] = expected.lazy()
        frames["subscriptions"] = _conformed(frames["subscriptions"], SUBSCRIPTIONS_SCHEMA)
        frames["orders"] = _conformed(frames["orders"], ORDERS_SCHEMA)
        frames["usage"] = frames.pop("usage_lines")
        frames["markets"] = markets_frame()
        frames["periods_closed"] = _periods_closed(frames["invoices"]).collect().lazy()
        # One chunk: filters over a multi-chunk frame left invalid string views here (polars panics in format).
        frames["license_match"] = license_match(frames).collect().rechunk().lazy()
        frames["credit_pairs"] = credit_pairs(frames).collect().rechunk().lazy()
        findings = pl.concat([empty_findings(), r00_no_history(frames), run_rules(frames)], how="vertical").collect()
        ledgers = ledger_frames(frames)
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("_tieout", tie.to_arrow())
            con.execute("DELETE FROM recon.tieout")
            names = ", ".join(name for name, _ in TIEOUT)
            con.execute(f"INSERT INTO recon.tieout ({names}) SELECT {names} FROM _tieout ORDER BY invoice_number")
            con.unregister("_tieout")
            con.register("_expected", expected.to_arrow())
            con.execute(
                "CREATE OR REPLACE TABLE recon.expected_charges AS SELECT * FROM _expected "
                "ORDER BY subscription_id, order_date, charge_start, event_id, sign DESC"
            )
            con.unregister("_expected")
            _write_findings(con, findings, clock(), DecisionStore(settings.decisions_path))
            write_ledgers(con, ledgers)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        # --period narrows what is reported (every period is rebuilt); findings without a billing month
        # (orphans) are reported with every period
        where, params = ("WHERE period = ? OR period IS NULL", [period]) if period is not None else ("", [])
        rows = con.execute(
            "SELECT split_part(rule, '-', 1) AS rule_id, severity, count(*), currency, sum(amount_at_stake) "
            f"FROM recon.findings {where} GROUP BY ALL ORDER BY rule_id, currency",
            params,
        ).fetchall()
        summary.by_rule = [(str(r[0]), str(r[1]), int(r[2]), str(r[3]), Decimal(r[4])) for r in rows]
        summary.findings = sum(r[2] for r in summary.by_rule)
        open_where = "WHERE status = 'open'" + (" AND (period = ? OR period IS NULL)" if period is not None else "")
        open_sev = {
            str(r[0])
            for r in con.execute(f"SELECT DISTINCT severity FROM recon.findings {open_where}", params).fetchall()
        }
        ranked = [s for s in SEVERITIES if s in open_sev]
        summary.worst_open = ranked[-1] if ranked else None
    return summary
