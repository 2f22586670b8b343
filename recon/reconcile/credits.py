"""Credit pairing (`recon.credit_pairs`): refunds, removals and credit notes linked to the charges they reverse.

A credit is a refund of the billed license match (sign `-`: the refund of an add or removal pair, a cancellation
refund; expected, billed or both) or a credit-note line (`customerCredit`). Its status against the shadow rater:
`matched` / `differs` (full / partial match), `missing` (expected in a closed period, not billed), `pending`
(expected, period not closed), `twice` (billed beyond the key's expected count: a credit applied twice),
`unexpected` (billed, not expected, not a surplus), `not_rated` (credit notes: the rater does not model them).

The reversed charge is the billed charge (sign `+`) of the same subscription that covers the credit's days and was
issued last before it: the latest charge start, a seat change before a cycle charge of the same day, never the
credit's own pair. The window (policy calendar, dated by the change) opens at the term start (purchase or
renewal) for a cancellation and at the latest seat purchase (purchase, renewal, add) for a removal; refunds of an
add and credit notes have none. An expected credit takes its opening from the rater (`window_opened`, known
even when the term began before the data's first month); a billed-only credit from the expected charges before
it. R07 reads this frame: missing credits inside their window, credits applied twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl

from recon.reconcile.frames import AMOUNT, check_grain
from recon.reconcile.matching import (
    FULL,
    LEFT,
    LINE_KEY,
    PARTIAL,
    RIGHT,
    closed_periods,
    license_match,
    line_sign,
    with_period_invoice,
)
from recon.reconcile.policy import policy_expr

Frames = Mapping[str, pl.LazyFrame]
MATCHED, DIFFERS, MISSING, PENDING, TWICE, UNEXPECTED, NOT_RATED = (
    "matched", "differs", "missing", "pending", "twice", "unexpected", "not_rated",
)  # fmt: skip
CREDIT_STATUSES: Final = (MATCHED, DIFFERS, MISSING, PENDING, TWICE, UNEXPECTED, NOT_RATED)
CREDIT_KINDS: Final[dict[str, str]] = {
    "addQuantity": "add_refund",
    "removeQuantity": "removal_refund",
    "cancelImmediate": "cancellation_refund",
    "customerCredit": "credit_note",
}
# The window of each kind and the charges that open it.
WINDOWS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "cancellation_refund": ("cancellation_window", ("new", "renew")),
    "removal_refund": ("seat_reduction_window", ("new", "renew", "addQuantity")),
}
_STR, _DATE, _INT = pl.String(), pl.Date(), pl.Int64()
_CHANGES: Final = ("addQuantity", "removeQuantity")
_LATEST: Final = ("r_start", "_change", "r_event")  # sorted descending: the charge issued last comes first

# One row per credit (expected, billed or both). Grain: (subscription, charge_type, charge dates, sign,
# occurrence) for refunds, the credit-note line for credit notes.
CREDIT_PAIRS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "period": _DATE, "currency": _STR, "customer_id": _STR, "subscription_id": _STR, "invoice_number": _STR,
    "credit_kind": _STR, "status": _STR, "charge_type": _STR, "charge_start": _DATE, "charge_end": _DATE,
    "credit_page_no": _INT, "credit_line_no": _INT, "credit_reference_id": _STR, "credit_quantity": AMOUNT,
    "credit_subtotal": AMOUNT, "expected_event_id": _STR, "expected_quantity": AMOUNT, "expected_subtotal": AMOUNT,
    "reversed_invoice_number": _STR, "reversed_page_no": _INT, "reversed_line_no": _INT,
    "reversed_charge_type": _STR, "reversed_charge_start": _DATE, "reversed_charge_end": _DATE,
    "reversed_subtotal": AMOUNT, "window_opened": _DATE, "window_days": _INT, "in_window": pl.Boolean(),
}  # fmt: skip


def _refunds(frames: Frames) -> pl.LazyFrame:
    """Refund rows of the license match with their credit status."""
    closed = closed_periods(frames).with_columns(_closed=pl.lit(True))
    rows = license_match(frames).filter(pl.col("sign") == "-").join(closed, on="period", how="left")
    surplus = pl.col("occurrence") > pl.max_horizontal(pl.col("expected_count"), pl.lit(1))
    status = (
        pl.when(pl.col("status") == FULL)
        .then(pl.lit(MATCHED))
        .when(pl.col("status") == PARTIAL)
        .then(pl.lit(DIFFERS))
        .when((pl.col("status") == LEFT) & pl.col("_closed").fill_null(False))
        .then(pl.lit(MISSING))
        .when(pl.col("status") == LEFT)
        .then(pl.lit(PENDING))
        .when((pl.col("status") == RIGHT) & surplus)
        .then(pl.lit(TWICE))
        .otherwise(pl.lit(UNEXPECTED))
    )
    return rows.with_columns(credit_status=status).drop("_closed")


def _notes(frames: Frames) -> pl.LazyFrame:
    """Billed credit-note lines, shaped like billed refund rows of the match."""
    lines = frames["lines"].filter((pl.col("billing_state") == "billed") & (pl.col("charge_type") == "customerCredit"))
    act = ["dataset", "unit", "page_no", "line_no", "customer_id", "invoice_number", "order_id", "period",
           "billable_quantity", "subtotal", "currency", "reference_id"]  # fmt: skip
    return lines.select(
        "subscription_id",
        "charge_type",
        pl.col("charge_start").cast(_DATE),
        pl.col("charge_end").cast(_DATE),
        line_sign().alias("sign"),
        *[pl.col(c).alias(f"act_{c}") for c in act],
        "customer_id",
        "order_id",
        "invoice_number",
        "period",
        "currency",
        pl.lit(NOT_RATED).alias("credit_status"),
    )


def _reversed(credits: pl.LazyFrame, frames: Frames) -> pl.LazyFrame:
    """Per credit (`_credit`), the billed charge it reverses (`reversed_*` columns)."""
    charges = license_match(frames).filter((pl.col("sign") == "+") & pl.col("act_dataset").is_not_null())
    charges = charges.select(
        "subscription_id",
        pl.col("charge_type").alias("r_type"),
        pl.col("charge_start").alias("r_start"),
        pl.col("charge_end").alias("r_end"),
        pl.col("exp_event_id").alias("r_event"),
        pl.col("act_reference_id").alias("r_ref"),
        pl.col("act_subtotal").alias("r_subtotal"),
        pl.col("act_invoice_number").alias("r_invoice"),
        pl.col("occurrence").alias("r_occ"),
        *[pl.col(f"act_{c}").alias(f"r_{c}") for c in LINE_KEY],
    )
    check_grain(charges, ["subscription_id", "r_type", "r_start", "r_end", "r_occ"], "billed charges")
    wanted = credits.filter(pl.col("subscription_id").is_not_null() & pl.col("charge_start").is_not_null())
    wanted = wanted.select(
        "_credit",
        "subscription_id",
        "charge_type",
        "charge_start",
        "charge_end",
        pl.col("exp_event_id").alias("_event"),
        pl.col("act_reference_id").alias("_ref"),
    )
    check_grain(wanted, ["_credit"], "credits")
    change = pl.col("r_type").is_in(_CHANGES)
    partner = (pl.col("r_event") == pl.col("_event")).fill_null(False) | (
        (pl.col("r_ref") == pl.col("_ref")) & (pl.col("r_type") == pl.col("charge_type"))
    ).fill_null(False)
    # a seat change issued after the credit on the same day (later event) is not what the credit reverses
    later = (pl.col("r_start") == pl.col("charge_start")) & change & (pl.col("r_event") > pl.col("_event"))
    order = ["_credit", "r_start", "_change", "r_event", "r_end", "r_type", "r_occ"]
    linked = (
        wanted.join(charges, on="subscription_id")
        .filter(
            (pl.col("r_start") <= pl.col("charge_start"))
            & (pl.col("r_end") >= pl.col("charge_end").fill_null(pl.col("charge_start")))
            & ~partner
            & ~later.fill_null(False)
        )
        .with_columns(_change=change)
        .sort(order, descending=[c in _LATEST for c in order], nulls_last=True)
        .unique(subset=["_credit"], keep="first")
    )
    return linked.select(
        "_credit",
        pl.col("r_invoice").alias("reversed_invoice_number"),
        pl.col("r_page_no").alias("reversed_page_no"),
        pl.col("r_line_no").alias("reversed_line_no"),
        pl.col("r_type").alias("reversed_charge_type"),
        pl.col("r_start").alias("reversed_charge_start"),
        pl.col("r_end").alias("reversed_charge_end"),
        pl.col("r_subtotal").alias("reversed_subtotal"),
    )


def _windows(credits: pl.LazyFrame, frames: Frames) -> pl.LazyFrame:
    """Per cancellation or removal credit (`_credit`): when its window opened, its length, whether it was inside."""
    expected = frames["expected"].filter(pl.col("sign") == "+")
    openers = pl.concat(
        [
            expected.filter(pl.col("charge_type").is_in(types)).select(
                "subscription_id", pl.lit(kind).alias("credit_kind"), pl.col("charge_start").alias("_opened")
            )
            for kind, (_, types) in WINDOWS.items()
        ],
        how="vertical",
    ).unique()
    wanted = credits.filter(pl.col("credit_kind").is_in(list(WINDOWS))).select(
        "_credit", "subscription_id", "credit_kind", "charge_start", "exp_window_opened"
    )
    opened = (  # only billed-only credits look for it: an expected one has the rater's
        wanted.filter(pl.col("exp_window_opened").is_null())
        .join(openers, on=["subscription_id", "credit_kind"])
        .filter(pl.col("_opened") <= pl.col("charge_start"))
        .group_by("_credit")
        .agg(pl.col("_opened").max().alias("window_opened"))
    )
    check_grain(opened, ["_credit"], "credit windows")
    length = pl.lit(None, dtype=_INT)
    for kind, (name, _) in WINDOWS.items():  # the two window kinds, not rows
        in_force = policy_expr(name, pl.col("charge_start"))
        length = pl.when(pl.col("credit_kind") == kind).then(in_force).otherwise(length)
    days = (pl.col("charge_start") - pl.col("window_opened")).dt.total_days()
    return (
        wanted.join(opened, on="_credit", how="left")
        .with_columns(window_opened=pl.coalesce("exp_window_opened", "window_opened"), window_days=length.cast(_INT))
        .select("_credit", "window_opened", "window_days", in_window=days <= pl.col("window_days"))
    )


def credit_pairs(frames: Frames) -> pl.LazyFrame:
    """Every credit with its match columns, `credit_kind`, `credit_status`, reversed charge and window (cached)."""
    cached = frames.get("credit_pairs")
    if cached is not None:
        return cached
    if "license_match" not in frames:  # read three times below: match once
        frames = {**frames, "license_match": license_match(frames).collect().rechunk().lazy()}
    credits = pl.concat([_refunds(frames), _notes(frames)], how="diagonal_relaxed")
    kind = pl.col("charge_type").replace_strict(CREDIT_KINDS, default="other_refund", return_dtype=_STR)
    # materialised once so the row number that ties the links back is the same in every branch
    credits = credits.with_columns(credit_kind=kind).collect().with_row_index("_credit").lazy()
    return (
        credits.join(_reversed(credits, frames), on="_credit", how="left")
        .join(_windows(credits, frames), on="_credit", how="left")
        .drop("_credit")
    )


def credit_pairs_table(frames: Frames) -> pl.LazyFrame:
    """`recon.credit_pairs` (CREDIT_PAIRS_SCHEMA): the credit pairs in the ledger's columns."""
    pairs = with_period_invoice(credit_pairs(frames), frames)
    out = pairs.select(
        "period",
        "currency",
        "customer_id",
        "subscription_id",
        "invoice_number",
        "credit_kind",
        pl.col("credit_status").alias("status"),
        "charge_type",
        "charge_start",
        "charge_end",
        pl.col("act_page_no").alias("credit_page_no"),
        pl.col("act_line_no").alias("credit_line_no"),
        pl.col("act_reference_id").alias("credit_reference_id"),
        pl.col("act_billable_quantity").alias("credit_quantity"),
        pl.col("act_subtotal").alias("credit_subtotal"),
        pl.col("exp_event_id").alias("expected_event_id"),
        pl.col("exp_quantity").alias("expected_quantity"),
        pl.col("exp_subtotal").alias("expected_subtotal"),
        *[c for c in CREDIT_PAIRS_SCHEMA if c.startswith(("reversed_", "window_", "in_window"))],
    )
    return out.select([pl.col(c).cast(t) for c, t in CREDIT_PAIRS_SCHEMA.items()])
