"""Staging audits: queries that return offending rows, run after each staging build (`meta.audits`).

Each audit is a pure function `(frames) -> offending rows`; an audit passes when it returns none. Frames (the
names of recon.reconcile.inputs where they exist): `lines` (stg.recon_lines), `usage` (stg.usage_lines),
`invoices`, `subscriptions`, `orders`, `markets` (the known currencies, with USD), and `columns`
(`table_name`, `column_name`, `data_type` of every stg column, from information_schema).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from recon.reconcile.inputs import USAGE_PRICING_CURRENCY
from recon.reconcile.matching import LINE_KEY, is_usage_line

Frames = Mapping[str, pl.LazyFrame]
SAMPLE_ROWS: Final = 5
ERROR, WARNING = "error", "warning"
# Columns that hold money (or a money factor) by name; every one must be DECIMAL.
MONEY_NAMES: Final = frozenset(
    {"total_for_customer", "pc_to_bc_exchange_rate", "rate_of_partner_earned_credit", "rate_of_credit"}
)
MONEY_SUFFIXES: Final = ("amount", "total", "price", "subtotal", "charges")
AUDITS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "audit": pl.String(),
    "table_name": pl.String(),
    "severity": pl.String(),
    "description": pl.String(),
    "offending_rows": pl.Int64(),
    "sample": pl.String(),  # JSON array of up to SAMPLE_ROWS offending rows
}
_LINES: Final = {"stg.recon_lines": "lines", "stg.usage_lines": "usage"}
_KEYS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "stg.recon_lines": ("lines", LINE_KEY),
    "stg.usage_lines": ("usage", LINE_KEY),
    "stg.invoices": ("invoices", ("invoice_number",)),
    "stg.subscriptions": ("subscriptions", ("subscription_id",)),
    "stg.orders": ("orders", ("order_id", "line_number")),
}
_CURRENCIES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "stg.recon_lines": ("lines", ("currency", "pricing_currency")),
    "stg.usage_lines": ("usage", ("billing_currency", "pricing_currency")),
    "stg.invoices": ("invoices", ("currency",)),
    "stg.orders": ("orders", ("pricing_currency",)),
}


@dataclass(frozen=True)
class Audit:
    """One audit: name, the table it checks, severity, what it means, and the query of offending rows."""

    name: str
    table: str
    severity: str
    description: str
    needs: tuple[str, ...]
    fn: Callable[[Frames], pl.LazyFrame]

    def runnable(self, frames: Frames) -> bool:
        """True when every frame the audit reads is present."""
        return all(name in frames for name in self.needs)


def null_keys(frame: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """Rows with a null key column."""
    return frame.filter(pl.any_horizontal([pl.col(k).is_null() for k in keys])).select(*keys)


def duplicate_keys(frame: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """Keys held by more than one row, with how many (null keys are the other audit's)."""
    keyed = frame.filter(pl.all_horizontal([pl.col(k).is_not_null() for k in keys]))
    return keyed.group_by(list(keys)).agg(pl.len().alias("rows")).filter(pl.col("rows") > 1).sort(list(keys))


def null_match_keys(lines: pl.LazyFrame) -> pl.LazyFrame:
    """License recon lines the matcher skips: a null subscription, charge type or charge date."""
    no_meter = pl.col("meter_description").fill_null("").str.strip_chars() == ""
    keys = ["subscription_id", "charge_type", "charge_start", "charge_end"]
    return lines.filter(no_meter & pl.any_horizontal([pl.col(k).is_null() for k in keys])).select(
        *LINE_KEY, "billing_state", *keys
    )


def money_not_decimal(columns: pl.LazyFrame) -> pl.LazyFrame:
    """Money columns (by name) whose type is not DECIMAL."""
    name = pl.col("column_name")
    money = name.is_in(list(MONEY_NAMES)) | pl.any_horizontal([name.str.ends_with(s) for s in MONEY_SUFFIXES])
    return columns.filter(money & ~pl.col("data_type").str.starts_with("DECIMAL")).select(
        "table_name", "column_name", "data_type"
    )


def unknown_invoice(lines: pl.LazyFrame, invoices: pl.LazyFrame) -> pl.LazyFrame:
    """Billed lines whose invoice is not among the staged invoices."""
    known = invoices.select("invoice_number").unique()
    billed = lines.filter(pl.col("billing_state") == "billed")
    return billed.join(known, on="invoice_number", how="anti").select(*LINE_KEY, "invoice_number")


def charge_period_reversed(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Lines whose charge period ends before it starts."""
    return lines.filter(pl.col("charge_end") < pl.col("charge_start")).select(*LINE_KEY, "charge_start", "charge_end")


def unknown_currency(frame: pl.LazyFrame, markets: pl.LazyFrame, columns: Sequence[str]) -> pl.LazyFrame:
    """Distinct currencies of `columns` outside the market currencies and USD, with how many rows carry each."""
    known = pl.concat([markets.select("currency"), pl.LazyFrame({"currency": [USAGE_PRICING_CURRENCY]})]).unique()
    values = pl.concat(
        [frame.select(pl.lit(c).alias("column_name"), pl.col(c).alias("currency")) for c in columns], how="vertical"
    )
    return (
        values.filter(pl.col("currency").is_not_null())
        .join(known, on="currency", how="anti")
        .group_by("column_name", "currency")
        .agg(pl.len().alias("rows"))
        .sort("column_name", "currency")
    )


def billed_without_history(lines: pl.LazyFrame, subscriptions: pl.LazyFrame, orders: pl.LazyFrame) -> pl.LazyFrame:
    """Subscriptions with billed license lines that neither the subscriptions nor the orders know."""
    known = pl.concat(
        [subscriptions.select("subscription_id"), orders.select("subscription_id")], how="vertical"
    ).unique()
    billed = lines.filter(
        (pl.col("billing_state") == "billed")
        & ~is_usage_line().fill_null(True)
        & pl.col("subscription_id").is_not_null()
    )
    return (
        billed.join(known, on="subscription_id", how="anti")
        .group_by("subscription_id", "currency")
        .agg(pl.col("customer_id").min(), pl.len().alias("lines"), pl.col("subtotal").sum())
        .sort("subscription_id", "currency")
    )


def _audit(
    name: str, table: str, severity: str, text: str, fn: Callable[..., pl.LazyFrame], *frames: str, **params: object
) -> Audit:
    """An audit calling `fn` with the named frames, in order, and `params`."""

    def run(given: Frames) -> pl.LazyFrame:
        return fn(*(given[f] for f in frames), **params)

    return Audit(name, table, severity, text, frames, run)


AUDITS: tuple[Audit, ...] = (
    *[_audit("null_key", t, ERROR, "rows with a null key column", null_keys, f, keys=k) for t, (f, k) in _KEYS.items()],
    *[
        _audit("duplicate_key", t, ERROR, "keys held by more than one row", duplicate_keys, f, keys=k)
        for t, (f, k) in _KEYS.items()
    ],
    _audit(
        "null_match_key", "stg.recon_lines", WARNING,
        "license lines with a null subscription, charge type or charge date: the matcher skips them",
        null_match_keys, "lines",
    ),
    _audit(
        "money_not_decimal", "stg.*", ERROR, "money columns whose type is not DECIMAL", money_not_decimal, "columns"
    ),
    *[
        _audit(
            "unknown_invoice", t, WARNING, "billed lines whose invoice is not among the staged invoices",
            unknown_invoice, f, "invoices",
        )
        for t, f in _LINES.items()
    ],
    *[
        _audit(
            "charge_period_reversed", t, WARNING, "lines whose charge period ends before it starts",
            charge_period_reversed, f,
        )
        for t, f in _LINES.items()
    ],
    *[
        _audit(
            "unknown_currency", t, WARNING, "currencies outside the known set (market currencies and USD)",
            unknown_currency, f, "markets", columns=c,
        )
        for t, (f, c) in _CURRENCIES.items()
    ],
    _audit(
        "billed_without_history", "stg.recon_lines", WARNING,
        "subscriptions with billed license lines that neither the subscriptions nor the orders know",
        billed_without_history, "lines", "subscriptions", "orders",
    ),
)  # fmt: skip


def _sample(offending: pl.LazyFrame) -> pl.LazyFrame:
    rows = offending.head(SAMPLE_ROWS).select(pl.struct(pl.all()).struct.json_encode().alias("row"))
    return rows.select(pl.format("[{}]", pl.col("row").str.join(",")).alias("sample"))


def run_audits(frames: Frames, audits: Sequence[Audit] = AUDITS) -> pl.DataFrame:
    """One row per runnable audit (AUDITS_SCHEMA): how many rows offend, and a sample of them as JSON."""
    runnable = [a for a in audits if a.runnable(frames)]
    queries = []
    for audit in runnable:  # one query per audit, run together
        offending = audit.fn(frames)
        queries.append(
            pl.concat([offending.select(pl.len().alias("offending_rows")), _sample(offending)], how="horizontal")
        )
    results = pl.collect_all(queries) if queries else []
    head = pl.DataFrame(
        {
            "audit": [a.name for a in runnable],
            "table_name": [a.table for a in runnable],
            "severity": [a.severity for a in runnable],
            "description": [a.description for a in runnable],
        },
        schema={k: AUDITS_SCHEMA[k] for k in ("audit", "table_name", "severity", "description")},
    )
    body = (
        pl.concat(results, how="vertical")
        if results
        else pl.DataFrame(schema={"offending_rows": pl.Int64(), "sample": pl.String()})
    )
    return pl.concat([head, body], how="horizontal").select([pl.col(c).cast(t) for c, t in AUDITS_SCHEMA.items()])
