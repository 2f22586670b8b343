"""The `large` world's Azure plan recon lines, aggregated from the daily rated usage rows in polars.

One line per plan, meter (meter + region) and month (nce-billing-math.md §5.1, §7, MS-AZ), in integer
arithmetic: BCU = Σ quantity, BC = ROUNDDOWN(Σ quantity × unitPrice × (1 − PEC), 2),
subtotal = ROUNDDOWN(ROUNDDOWN(EUP × BCU, 2) × FX, 2) = ROUNDDOWN(BC × FX, 2) with EUP = BC / BCU rounded up
at 15 decimals (the smallest 15-decimal EUP whose ROUNDDOWN(EUP × BCU, 2) gives BC back). `usage_sum_off`
makes a chosen billed line bill 3-24 % more (sometimes less) quantity than its daily rows add up to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import polars as pl

from recon.sandbox.azure import Resource
from recon.sandbox.catalog import AVAILABILITIES
from recon.sandbox.large_hash import draw64, pick
from recon.sandbox.large_rating import ADJUSTMENTS
from recon.sandbox.large_replay import NEW
from recon.sandbox.population import Customer
from recon.sandbox.rand import det_int
from recon.sandbox.usage import Usage

AZURE_AV = len(AVAILABILITIES)  # the Azure plan's row in the offer table
PEC_ADJ = len(ADJUSTMENTS) - 1  # the partner-earned-credit adjustment code
_E12, _E19 = 10**12, 10**19


@dataclass(frozen=True)
class Meters:
    """Distinct meters (meter + region) of the resources: unit and description, and each resource's meter."""

    unit: list[str]
    description: list[str]
    key: list[str]  # meterId
    of_resource: np.ndarray


def meters(resources: list[Resource]) -> Meters:
    """The meter table of a world's resources."""
    keys: dict[str, int] = {}
    unit, text, of_res = [], [], []
    for r in resources:
        if r.meter_id not in keys:
            keys[r.meter_id] = len(keys)
            unit.append(r.meter.unit)
            text.append(f"{r.meter.category} - {r.meter.name} - {r.region}")
        of_res.append(keys[r.meter_id])
    return Meters(unit, text, list(keys), np.array(of_res, dtype=np.int64))


def recon_lines(usage: Usage, table: Meters, customers: list[Customer], n_seats: int) -> pl.DataFrame:
    """One recon line per (month, plan, meter) with the `large` line columns (amounts in cents)."""
    if usage.daily.height == 0:
        return pl.DataFrame()
    plan_cust = np.array([p.customer for p in usage.plans], dtype=np.int64)
    plan_order = np.array([int(p.order_id, 16) for p in usage.plans], dtype=np.uint64)
    plan_start = pl.Series([p.start for p in usage.plans], dtype=pl.Date).to_physical().to_numpy()
    tax = np.array([int(c.tax_rate * 1000) for c in customers], dtype=np.int64)
    s14 = pl.col("q").cast(pl.Int128) * pl.col("up") * pl.when(pl.col("pec")).then(85).otherwise(100)
    agg = (
        usage.daily.with_columns(meter=pl.lit(pl.Series(table.of_resource)).gather(pl.col("res")), s14=s14)
        .group_by(["period", "plan", "meter"])
        .agg(
            bcu=pl.col("q").sum(),
            s14=pl.col("s14").sum(),
            daily=pl.col("bill").sum(),
            rows=pl.len(),
            pec=pl.col("pec").any(),
            fx=pl.col("fxn").first(),
            up=pl.col("up").first(),
        )
        .sort(["period", "plan", "meter"])
    )
    plan = agg["plan"].to_numpy()
    return (
        agg.with_columns(
            sub=pl.Series(n_seats + plan, dtype=pl.Int32),
            cust=pl.Series(plan_cust[plan], dtype=pl.Int32),
            tax3=pl.Series(tax[plan_cust[plan]]),
            oid=pl.Series(plan_order[plan]),
            t_start=pl.Series(plan_start[plan]).cast(pl.Date),
        )
        .with_columns(seq=pl.int_range(pl.len(), dtype=pl.Int64).over(["period", "plan"]))
        .pipe(_amounts)
    )


def _amounts(agg: pl.DataFrame) -> pl.DataFrame:
    """BC, subtotal, EUP and tax of each aggregated line, and its fixed columns."""
    bc = pl.col("s14") // _E12
    eup = pl.when(pl.col("bcu") > 0).then((bc * _E19 + pl.col("bcu") - 1) // pl.col("bcu")).otherwise(0)  # ceiling
    month_end = pl.col("period").dt.month_end()
    rid = draw64(agg["plan"].to_numpy(), agg["meter"].to_numpy(), agg["period"].to_physical().to_numpy())
    return (
        agg.with_columns(
            subtotal=(bc * pl.col("fx") // 10**9).cast(pl.Int64),
            eup=eup.cast(pl.Int128),
            bc=bc.cast(pl.Int64),
            rid_hi=pl.Series(draw64(rid, 1)),
            rid_lo=pl.Series(rid),
        )
        .with_columns(tax=pl.col("subtotal") * pl.col("tax3") // 1000)
        .with_columns(total=pl.col("subtotal") + pl.col("tax"))
        .select(
            "sub",
            "cust",
            pl.lit(AZURE_AV, dtype=pl.Int16).alias("av"),
            "seq",
            pl.lit(NEW, dtype=pl.UInt8).alias("ct"),
            "oid",
            pl.col("period").alias("orderDate"),
            "up",
            "eup",
            pl.lit(1, dtype=pl.Int32).alias("quantity"),
            pl.col("bcu").alias("bq"),
            "subtotal",
            "tax",
            "total",
            "fx",
            pl.col("t_start").alias("termStart"),
            month_end.alias("termEnd"),
            pl.col("period").alias("chargeStart"),
            month_end.alias("chargeEnd"),
            "rid_hi",
            "rid_lo",
            pl.when(pl.col("pec")).then(PEC_ADJ).otherwise(0).cast(pl.UInt8).alias("adj"),
            "period",
            pl.col("meter").cast(pl.Int16),
            # kept for usage_sum_off (dropped afterwards)
            "s14",
            "daily",
            "rows",
            "plan",
            "tax3",
        )
    )


@dataclass
class SumOff:
    """A usage_sum_off case: the line's position, its billed quantity and subtotal, and the amount at stake."""

    pos: int
    bcu: int
    bc: int
    subtotal: int
    eup: int
    amount: int
    description: str


def sum_off(
    seed: int, lines: pl.DataFrame, billed: set[date], rate: float, currency: str, plan_ids: list[str], table: Meters
) -> list[SumOff]:
    """Chosen billed lines (subtotal >= 20.00) that bill a quantity their daily rows do not add up to."""
    if lines.height == 0:
        return []
    pool = lines.with_row_index("pos").filter(pl.col("period").is_in(sorted(billed)) & (pl.col("subtotal") >= 2000))
    months = pool["period"].to_physical().to_numpy()
    chosen = pick(seed, "usage_sum_off", pool["rid_lo"].to_numpy(), rate, months)
    out = []
    for row in pool.filter(pl.Series(chosen)).iter_rows(named=True):
        out.append(_off(seed, row, currency, plan_ids[row["plan"]], table.key[row["meter"]]))
    return out


def _off(seed: int, row: dict, currency: str, plan_id: str, meter: str) -> SumOff:
    """Grow (65 %) or shrink the billed quantity by 3-24 % until R10 fires and the difference is odd."""
    draw = det_int(seed, "large-sum-off", row["rid_lo"])
    sign = 1 if draw % 100 < 65 else -1
    share = 300 + (draw >> 8) % 2101  # ten-thousandths
    bcu0, s14, fx, sub0, daily, n = row["bq"], row["s14"], row["fx"], row["subtotal"], row["daily"], row["rows"]
    for _ in range(500):
        bcu, bc = bcu0 * (10000 + sign * share) // 10000, s14 * (10000 + sign * share) // 10000 // _E12
        subtotal = bc * fx // 10**9
        delta = subtotal - sub0
        if abs(subtotal - daily) > n + 1 and abs(delta) >= 137 and delta % 5:
            break
        share += 137
        if sign < 0 and share > 9000:
            sign, share = 1, 1000
    eup = (bc * _E19 + bcu - 1) // bcu if bcu else 0
    text = (
        f"The {row['period']:%Y-%m} recon line of meter {meter} on Azure plan {plan_id} bills "
        f"{Decimal(bcu) / 10**6} units ({Decimal(subtotal).scaleb(-2)} {currency}); its {n} daily rows add up to "
        f"{Decimal(bcu0) / 10**6} units ({Decimal(daily).scaleb(-2)} {currency})."
    )
    return SumOff(row["pos"], bcu, bc, subtotal, eup, delta, text)
