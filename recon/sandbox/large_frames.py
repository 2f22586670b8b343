"""Line frames of the `large` world in LINE_SCHEMA: seat, Azure and ledger lines, and their one sort."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from recon.sandbox.catalog import AVAILABILITIES
from recon.sandbox.large_rating import PROMO_PCTS, shown_eup
from recon.sandbox.large_replay import CHARGE_TYPES
from recon.sandbox.large_usage import SumOff
from recon.sandbox.large_world import LINE_SCHEMA
from recon.sandbox.lines import Line
from recon.sandbox.population import Subscription


def ordered(lines: pl.DataFrame, closed: list[date]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(billed, unbilled) lines, each sorted by (period, cust, sub, seq), from one sort on a packed key."""
    if lines.height == 0:
        return lines, lines
    unbilled = ~pl.col("period").is_in(closed)
    month = pl.col("period").dt.year().cast(pl.Int64) * 12 + pl.col("period").dt.month()
    fields = [(unbilled.cast(pl.Int64), 1), (month - month.min(), 12)]
    for name in ("cust", "sub", "seq"):
        top = lines.select(pl.col(name).max()).item()
        fields.append((pl.col(name).cast(pl.Int64), max(1, int(top).bit_length())))
    if sum(bits for _, bits in fields) > 63:  # an unusually wide world: sort on the columns themselves
        out = lines.sort([unbilled, "period", "cust", "sub", "seq"])
    else:
        key = pl.lit(0, dtype=pl.Int64)
        for expr, bits in fields:
            key = key * (1 << bits) + expr
        out = lines.sort(key)
    n_billed = lines.select(unbilled.not_().sum()).item()
    return out.slice(0, n_billed), out.slice(n_billed)


def narrow_seats(seats: pl.DataFrame) -> pl.DataFrame:
    """Rated seat lines in LINE_SCHEMA."""
    on = pl.col("on").cast(pl.Date)
    return seats.select(
        "sub",
        "cust",
        "av",
        "seq",
        pl.col("ctype").alias("ct"),
        "oid",
        on.alias("orderDate"),
        (pl.col("price") * 10_000).alias("up"),
        shown_eup().alias("eup"),
        pl.col("qty").alias("quantity"),
        (pl.col("qty").cast(pl.Int64) * 1_000_000).alias("bq"),
        "subtotal",
        "tax",
        "total",
        "fx",
        pl.col("t_start").cast(pl.Date).alias("termStart"),
        pl.col("t_end").cast(pl.Date).alias("termEnd"),
        on.alias("chargeStart"),
        pl.col("ce").cast(pl.Date).alias("chargeEnd"),
        "rid_hi",
        "rid_lo",
        "adj",
        on.dt.month_start().alias("period"),
        pl.lit(-1).alias("meter"),
    ).cast(LINE_SCHEMA)  # type: ignore[arg-type]


def narrow_azure(azure: pl.DataFrame, offs: list[SumOff]) -> pl.DataFrame:
    """Azure recon lines in LINE_SCHEMA, with usage_sum_off applied."""
    if azure.height == 0:
        return pl.DataFrame(schema=LINE_SCHEMA)
    if offs:
        fix = pl.DataFrame(
            {
                "pos": [o.pos for o in offs],
                "bq": [o.bcu for o in offs],
                "subtotal": [o.subtotal for o in offs],
                "eup": [o.eup for o in offs],
            },
            schema={"pos": pl.UInt32, "bq": pl.Int64, "subtotal": pl.Int64, "eup": pl.Int128},
        )
        azure = azure.with_row_index("pos").update(fix, on="pos").drop("pos")
        azure = azure.with_columns(tax=pl.col("subtotal") * pl.col("tax3") // 1000)
        azure = azure.with_columns(total=pl.col("subtotal") + pl.col("tax"))
    return azure.select(list(LINE_SCHEMA)).cast(LINE_SCHEMA)  # type: ignore[arg-type]


def ledger_rows(ledger: list[Line], bought: list[Subscription]) -> pl.DataFrame:
    """Lines the commerce ledger bills for subscriptions bought through the API, in LINE_SCHEMA."""
    by_idx = {s.idx: s for s in bought}
    av_index = {a: i for i, a in enumerate(AVAILABILITIES)}
    rows = []
    for n, ln in enumerate(ledger):
        sub = by_idx.get(ln.sub)
        if sub is None:
            continue  # an adopted generated subscription keeps its generated lines (docs/sandbox.md)
        adj = 1 + PROMO_PCTS.index(int(sub.discount * 100)) if ln.promotion_id else 0
        rows.append(
            {
                "sub": ln.sub,
                "cust": sub.customer,
                "av": av_index[sub.avail],
                "seq": n,
                "ct": CHARGE_TYPES.index(ln.charge_type),
                "oid": int(ln.order_id, 16),
                "orderDate": ln.order_date,
                "up": int(ln.unit_price * 10**6),
                "eup": int(ln.eup.quantize(Decimal("0.000001")) * 10**15),
                "quantity": ln.quantity,
                "bq": ln.quantity * 10**6,
                "subtotal": int(ln.subtotal * 100),
                "tax": int(ln.tax * 100),
                "total": int(ln.total * 100),
                "fx": int(ln.fx * 10**9),
                "termStart": ln.term_start,
                "termEnd": ln.term_end,
                "chargeStart": ln.charge_start,
                "chargeEnd": ln.charge_end,
                "rid_hi": ln.rid >> 64,
                "rid_lo": ln.rid & ((1 << 64) - 1),
                "adj": adj,
                "period": ln.period,
                "meter": -1,
            }
        )
    return pl.DataFrame(rows, schema=LINE_SCHEMA, orient="row") if rows else pl.DataFrame(schema=LINE_SCHEMA)
