"""R08 injections: unbilled lines that vanish or change amount by the time their month is invoiced.

A chosen seat charge line of month M shows differently in every unbilled view of M (period current while M
runs, previous until M's invoice is issued): `unbilled_vanished` adds an unbilled line that the invoice never
carries, `unbilled_changed` shows a line with another seat count than the one billed. The billed lines are
untouched; the answer key lists a case once M is invoiced (the last unbilled snapshot before the close differs
from the bill). The lines are chosen with the line-level kinds (Injector.apply_lines), by their dates, so a
month's cases do not move when the clock advances.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

import polars as pl

from recon.sandbox.billing import tax_total
from recon.sandbox.lines import Line
from recon.sandbox.population import Customer
from recon.sandbox.rand import det_int, guid_of, mix, stream

CENT = Decimal("0.01")


@dataclass
class DriftCase:
    """An R08 case: the subscription, billing month and billed − last unbilled subtotal."""

    kind: str
    sub: int
    customer: int
    subscription_id: str
    period: date
    amount: Decimal
    description: str
    key: tuple[object, ...]


def unbilled_drift(
    seed: int,
    frame: pl.DataFrame,
    closed: set[date],
    chosen: dict[str, list[Line]],
    customers: list[Customer],
    invoice_of: dict[date, str],
) -> tuple[pl.DataFrame, list[DriftCase]]:
    """(replacement unbilled rows of open months, keyed by position in `frame` or appended; closed-month cases).

    `chosen` holds the lines each R08 kind took (Injector.apply_lines: picked at the kind's rate, one case per
    subscription-month). Returns the frame's rows as they show unbilled (only rows of months not invoiced change)
    and the cases of invoiced months.
    """
    picked = [(kind, ln.sub, guid_of(ln.rid), ln.charge_type) for kind, lines in chosen.items() for ln in lines]
    rows = pl.DataFrame(schema={"pos": pl.UInt32, "kind": pl.String, "cust": pl.Int64, "period": pl.Date})
    if picked:  # (a world without lines yet has a frame of null columns: nothing to join)
        picks = pl.DataFrame(
            picked,
            schema={"kind": pl.String, "sub": frame.schema["sub"], "referenceId": pl.String, "chargeType": pl.String},
            orient="row",
        )
        rows = (
            frame.with_row_index("pos")
            .filter(pl.col("subtotal") > 0)
            .join(picks, on=["sub", "referenceId", "chargeType"])
            .unique(["sub", "referenceId", "chargeType"], keep="first", maintain_order=True)
            .sort("pos")
        )
    changed: dict[int, dict[str, Any]] = {}
    extra: list[dict[str, Any]] = []
    cases: list[DriftCase] = []
    for pos, kind, cust_idx, month in rows.select("pos", "kind", "cust", "period").iter_rows():
        full = frame.row(pos, named=True)
        new, case = _drifted(seed, kind, full, customers[cust_idx], invoice_of.get(month))
        if month in closed:
            cases.append(case)
        elif kind == "unbilled_changed":
            changed[pos] = new
        else:
            extra.append(new)
    open_rows = frame.with_row_index("pos").filter(~pl.col("period").is_in(sorted(closed)))
    if changed:
        fix = pl.DataFrame(list(changed.values()), schema=frame.schema).with_columns(
            pos=pl.Series(list(changed), dtype=open_rows.schema["pos"])
        )
        open_rows = open_rows.update(fix, on="pos")
    out = open_rows.drop("pos")
    if extra:
        out = pl.concat([out, pl.DataFrame(extra, schema=frame.schema)], how="vertical")
    return out, cases


def _drifted(
    seed: int, kind: str, row: dict[str, Any], cust: Customer, invoice: str | None
) -> tuple[dict[str, Any], DriftCase]:
    rng = stream(seed, "inject", kind, row["referenceId"])
    qty = row["quantity"]
    unit = row["subtotal"] / qty  # billing amount of one seat (exact under rounding B)
    new = dict(row)
    if kind == "unbilled_changed":
        step = 1 + rng.randrange(max(1, qty // 4))
        shown = qty + step if qty < 3 or rng.random() < 0.5 else qty - min(step, qty - 1)
    else:
        shown = 1 + rng.randrange(qty)
        rid = mix(det_int(seed, "vanished", row["referenceId"]), 1)
        new.update(referenceId=guid_of(rid), orderId=f"{rid & 0xFFFFFFFFFFFF:012x}", seq=row["seq"] + 1_000_000)
    subtotal = (unit * shown).quantize(CENT, rounding=ROUND_DOWN)
    tax = tax_total(subtotal, cust.tax_rate)
    new.update(quantity=shown, subtotal=subtotal, taxTotal=tax, totalForCustomer=subtotal + tax)
    if "billableQuantity" in new:
        new["billableQuantity"] = Decimal(shown)
    month = row["period"]
    where = f"invoice {invoice}" if invoice else "the invoice"
    if kind == "unbilled_changed":
        amount = row["subtotal"] - subtotal
        text = (
            f"The last unbilled snapshot of {month:%Y-%m} shows the {row['chargeType']} line of subscription "
            f"{row['subscriptionId']} for {shown} seats ({subtotal}); {where} bills {qty} seats ({row['subtotal']})."
        )
    else:
        amount = -subtotal
        text = (
            f"The last unbilled snapshot of {month:%Y-%m} holds a {row['chargeType']} line of subscription "
            f"{row['subscriptionId']} for {shown} seats ({subtotal}) that never reached {where}."
        )
    case = DriftCase(kind, row["sub"], cust.idx, row["subscriptionId"], month, amount, text, (row["referenceId"], kind))
    return new, case
