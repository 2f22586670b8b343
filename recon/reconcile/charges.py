"""Charge rules over the billed license match: R01 quantity, R02 unit price, R03 amount/proration, R06 duplicate,
R07 missing or double credit.

Each rule reads `license_match(frames)` (billed license lines vs expected lines, see matching.py) and
returns conformed findings. Who fires on what, so an injected discrepancy trips its own rule only:
- a partial match with different seats is R01 only; with a unit price off by more than 0.01 it is R02 only;
  with seats and price agreeing and the amount off by more than tol(line) it is R03 for a charge (`+`) and
  R07 for a refund (`-`);
- a right-only line beyond the key's expected count is R06 for a charge, R07 (credit twice) for a refund;
- a left-only refund in a closed period, unless its change was outside the refund window, is R07 (missing credit);
  left-only charges are R05 (lifecycle.py). R07 reads the credit pairs (credits.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from recon.reconcile.credits import MISSING, TWICE, credit_pairs
from recon.reconcile.frames import AMOUNT
from recon.reconcile.matching import (
    PARTIAL,
    PRICE_TOLERANCE,
    RIGHT,
    describe_line,
    exact,
    finding,
    license_match,
    match_evidence,
    match_keys,
    money,
    with_period_invoice,
)

Frames = Mapping[str, pl.LazyFrame]


def _stake(diff: str = "amount_diff") -> pl.Expr:
    """Money at stake of a pair: |amount difference|, or |price difference x seats| when amounts do not compare."""
    fallback = (pl.col("price_diff") * pl.col("act_billable_quantity")).abs()
    return pl.coalesce(pl.col(diff).abs(), fallback, pl.lit(0)).cast(AMOUNT)


def _price_ok() -> pl.Expr:
    return (pl.col("price_diff").abs() <= PRICE_TOLERANCE).fill_null(True)


def _duplicates(frames: Frames, sign: str) -> pl.LazyFrame:
    """Right-only lines of a key beyond what was expected (at least one line of a key is never a duplicate)."""
    return license_match(frames).filter(
        (pl.col("status") == RIGHT)
        & (pl.col("sign") == sign)
        & (pl.col("occurrence") > pl.max_horizontal(pl.col("expected_count"), pl.lit(1)))
    )


def r01_quantity(frames: Frames) -> pl.LazyFrame:
    """R01: billed billable quantity differs from the expected seat count of the charge cycle."""
    rows = license_match(frames).filter((pl.col("status") == PARTIAL) & (pl.col("quantity_diff") != 0))
    return finding(
        rows,
        rule="R01-quantity",
        severity="high",
        measure="quantity",
        expected=pl.col("exp_quantity"),
        actual=pl.col("act_billable_quantity"),
        difference=pl.col("quantity_diff"),
        amount_at_stake=_stake(),
        explanation=pl.format(
            "On {}, {} seats are billed where the subscription had {} ({} {} at stake).",
            describe_line(),
            exact(pl.col("act_billable_quantity").cast(pl.Decimal(18, 0))),
            exact(pl.col("exp_quantity").cast(pl.Decimal(18, 0))),
            money(_stake()),
            pl.col("currency"),
        ),
        evidence=match_evidence(calculation=pl.format("billed seats - expected seats = {}", exact("quantity_diff"))),
        **match_keys(),
    )


def r02_unit_price(frames: Frames) -> pl.LazyFrame:
    """R02: billed unit price differs by more than 0.01 (pricing currency) from the locked or renewal price."""
    rows = license_match(frames).filter((pl.col("status") == PARTIAL) & ~_price_ok())
    return finding(
        rows,
        rule="R02-unit-price",
        severity="high",
        measure="unit_price",
        expected=pl.col("exp_unit_price"),
        actual=pl.col("act_unit_price"),
        difference=pl.col("price_diff"),
        amount_at_stake=_stake(),
        explanation=pl.format(
            "Unit price {} {} billed on {}, but the price locked for the term is {} ({} {} at stake).",
            money("act_unit_price"),
            pl.col("exp_pricing_currency"),
            describe_line(),
            money("exp_unit_price"),
            money(_stake()),
            pl.col("currency"),
        ),
        evidence=match_evidence(
            calculation=pl.format(
                "billed unit price {} - locked price {} = {} > 0.01",
                exact("act_unit_price"),
                exact("exp_unit_price"),
                exact("price_diff"),
            )
        ),
        **match_keys(),
    )


def _amount_off(sign: str) -> pl.Expr:
    return (
        (pl.col("status") == PARTIAL)
        & (pl.col("sign") == sign)
        & (pl.col("quantity_diff") == 0)
        & _price_ok()
        & (pl.col("amount_diff").abs() > pl.col("tolerance"))
    )


def _amount_explanation(what: str) -> pl.Expr:
    return pl.format(
        "{} {} {} {}, but the shadow rating gives {}: {} off, beyond the tolerance of {}.",
        pl.lit(what),
        describe_line(),
        pl.lit("is billed"),
        money("act_subtotal"),
        money("exp_subtotal"),
        money(pl.col("amount_diff").abs()),
        money("tolerance"),
    )


def _amount_calculation() -> pl.Expr:
    return pl.format(
        "expected EUP {} x {} seats at rate {} = {}; billed {}; difference {}; tol(line) = {}",
        exact("exp_effective_unit_price"),
        exact("exp_quantity"),
        exact("exp_pc_to_bc_exchange_rate"),
        exact("exp_subtotal"),
        exact("act_subtotal"),
        exact("amount_diff"),
        exact("tolerance"),
    )


def r03_proration(frames: Frames) -> pl.LazyFrame:
    """R03: seats and unit price agree but the charge amount differs by more than tol(line)."""
    rows = license_match(frames).filter(_amount_off("+"))
    change = pl.col("charge_type").is_in(["addQuantity", "removeQuantity", "cancelImmediate"])
    return finding(
        rows,
        rule=pl.when(change).then(pl.lit("R03-proration")).otherwise(pl.lit("R03-amount")),
        severity="medium",
        measure="amount",
        expected=pl.col("exp_subtotal"),
        actual=pl.col("act_subtotal"),
        difference=pl.col("amount_diff"),
        amount_at_stake=_stake(),
        explanation=_amount_explanation("Amount:"),
        evidence=match_evidence(calculation=_amount_calculation()),
        **match_keys(),
    )


def r06_duplicate(frames: Frames) -> pl.LazyFrame:
    """R06: the same subscription, charge type and charge period billed more often than expected."""
    rows = _duplicates(frames, "+")
    return finding(
        rows,
        rule="R06-duplicate",
        severity="high",
        measure="amount",
        expected=pl.lit(0),
        actual=pl.col("act_subtotal"),
        difference=pl.col("act_subtotal"),
        amount_at_stake=pl.col("act_subtotal").abs(),
        explanation=pl.format(
            "Duplicate: {} is billed {} times where {} expected; occurrence {} ({} {}) is one too many.",
            describe_line(),
            pl.col("actual_count"),
            pl.max_horizontal(pl.col("expected_count"), pl.lit(1)),
            pl.col("occurrence"),
            money("act_subtotal"),
            pl.col("currency"),
        ),
        evidence=match_evidence(calculation=pl.lit("billed count > expected count")),
        **match_keys(),
    )


def r07_credit(frames: Frames) -> pl.LazyFrame:
    """R07: an expected refund missing from a closed period inside its window, billed twice, or its amount off."""
    pairs = credit_pairs(frames)
    inside = pl.col("in_window").fill_null(True)  # refunds of an add have no window: always due
    missing = with_period_invoice(pairs.filter((pl.col("credit_status") == MISSING) & inside), frames)
    keys = match_keys()
    missing_findings = finding(
        missing,
        rule="R07-missing-credit",
        severity="high",
        measure="amount",
        expected=pl.col("exp_subtotal"),
        actual=pl.lit(0),
        difference=-pl.col("exp_subtotal"),
        amount_at_stake=pl.col("exp_subtotal").abs().fill_null(0),
        explanation=pl.format(
            "No credit was billed for {} ({} {} expected from {}).",
            describe_line(),
            money("exp_subtotal"),
            pl.col("currency"),
            pl.col("exp_event_id"),
        ),
        evidence=match_evidence(calculation=pl.lit("expected refund with no billed line in the closed period")),
        **keys,
    )
    twice = finding(
        pairs.filter(pl.col("credit_status") == TWICE),
        rule="R07-credit-twice",
        severity="high",
        measure="amount",
        expected=pl.lit(0),
        actual=pl.col("act_subtotal"),
        difference=pl.col("act_subtotal"),
        amount_at_stake=pl.col("act_subtotal").abs(),
        explanation=pl.format(
            "The credit {} ({} {}) is applied {} times where {} expected.",
            describe_line(),
            money("act_subtotal"),
            pl.col("currency"),
            pl.col("actual_count"),
            pl.max_horizontal(pl.col("expected_count"), pl.lit(1)),
        ),
        evidence=match_evidence(calculation=pl.lit("billed refunds > expected refunds")),
        **keys,
    )
    differs = finding(
        pairs.filter(_amount_off("-")),
        rule="R07-credit-amount",
        severity="high",
        measure="amount",
        expected=pl.col("exp_subtotal"),
        actual=pl.col("act_subtotal"),
        difference=pl.col("amount_diff"),
        amount_at_stake=_stake(),
        explanation=_amount_explanation("Credit:"),
        evidence=match_evidence(calculation=_amount_calculation()),
        **keys,
    )
    return pl.concat([missing_findings, twice, differs], how="vertical")
