"""Properties of the rule catalogue: a clean set yields nothing above info; shuffling or re-paging the input
lines changes no finding; amounts at stake are Decimal and never negative."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal as D

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.reconcile.catalogue import RULES, Rule, run_rules
from recon.reconcile.frames import AMOUNT, FINDING_SCHEMA
from tests.reconcile.test_rules_fixtures import as_lines, ev, events, frames, rate, subscriptions

PLANS = [
    ("P1M", "monthly", "12.00"),
    ("P1Y", "monthly", "10.50"),
    ("P1Y", "annual", "120.00"),
    ("P3Y", "annual", "118.00"),
]
UNTIL = date(2025, 6, 30)


@st.composite
def worlds(draw: st.DrawFn) -> pl.LazyFrame:
    """1-4 subscriptions, each with a plan, a purchase and maybe an add, a remove or a cancel."""
    parts = []
    for i in range(draw(st.integers(1, 4))):
        term, billing, price = draw(st.sampled_from(PLANS))
        start = date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 120)))
        seats = draw(st.integers(1, 30))
        rows = [ev("purchase", start, seats, price=price)]
        change = draw(st.sampled_from(["none", "add", "remove", "cancel"]))
        on = start + timedelta(days=draw(st.integers(1, 6)))
        if change == "add":
            rows.append(ev("add", on, seats + draw(st.integers(1, 5)), price=price))
        elif change == "remove" and seats > 1:
            rows.append(ev("remove", on, seats - 1, price=price))
        elif change == "cancel":
            rows.append(ev("cancel", on, 0, price=price))
        parts.append(events(*rows, subscription_id=f"s{i}", customer_id=f"c{i % 2}", term=term, billing=billing))
    return pl.concat(parts)


def _subs(expected: pl.DataFrame) -> pl.LazyFrame:
    ids = sorted(set(expected["subscription_id"]))
    return subscriptions(*({"subscription_id": s, "order_id": "o1"} for s in ids))


def _inputs(expected: pl.DataFrame, lines: pl.DataFrame) -> dict[str, pl.LazyFrame]:
    periods = sorted(set(expected["period"]) - {UNTIL.replace(day=1)})
    return frames(expected, lines, periods=periods, subscriptions=_subs(expected))


def _findings(inputs: dict[str, pl.LazyFrame]) -> pl.DataFrame:
    return run_rules(inputs).collect().sort(pl.all(), nulls_last=True)


def _dirty(lines: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Some discrepancies: a line doubled, a line dropped, a seat count changed."""
    rng = random.Random(seed)
    n = lines.height
    doubled = lines[rng.randrange(n)]
    kept = lines.filter(pl.int_range(pl.len()) != rng.randrange(n))
    bumped = kept.with_columns(
        billable_quantity=pl.when(pl.int_range(pl.len()) == 0).then(pl.col("billable_quantity") + 1)
        .otherwise(pl.col("billable_quantity"))
    )  # fmt: skip
    return pl.concat([bumped, doubled])


SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(worlds())
def test_clean_world_yields_nothing_above_info(world: pl.LazyFrame) -> None:
    expected = rate(world, until=UNTIL)
    found = _findings(_inputs(expected, as_lines(expected)))
    assert found.filter(pl.col("severity") != "info").is_empty(), found.select("rule", "explanation").rows()


@SETTINGS
@given(worlds(), st.integers(0, 10**6), st.integers(1, 4))
def test_shuffling_or_repaging_lines_changes_no_finding(world: pl.LazyFrame, seed: int, page: int) -> None:
    expected = rate(world, until=UNTIL)
    lines = _dirty(as_lines(expected), seed)
    base = _findings(_inputs(expected, lines))
    shuffled = lines.sample(fraction=1.0, shuffle=True, seed=seed)
    assert _findings(_inputs(expected.sample(fraction=1.0, shuffle=True, seed=seed + 1), shuffled)).equals(base)
    # Re-paging moves lines to other (page_no, line_no): only the line keys inside the evidence may change.
    repaged = lines.with_columns(
        page_no=(pl.int_range(pl.len()) // page + 1).cast(pl.Int64),
        line_no=(pl.int_range(pl.len()) % page + 1).cast(pl.Int64),
    )
    again = _findings(_inputs(expected, repaged.reverse()))
    assert (
        again.drop("evidence")
        .sort(pl.all(), nulls_last=True)
        .equals(base.drop("evidence").sort(pl.all(), nulls_last=True))
    )
    assert base.schema["amount_at_stake"] == AMOUNT
    assert all(isinstance(v, D) and v >= 0 for v in base["amount_at_stake"])


def test_catalogue_lists_every_rule_with_its_inputs() -> None:
    assert [r.id for r in RULES] == [f"R{i:02d}" for i in range(1, 14) for _ in range(2 if i == 12 else 1)]
    assert all(isinstance(r, Rule) and r.severity in ("low", "medium", "high") for r in RULES)
    needs = {n for r in RULES for n in r.needs}
    assert needs == {"lines", "expected", "subscriptions", "orders", "periods_closed", "usage", "markets", "tieout"}
    out = run_rules({}).collect()
    assert out.is_empty() and out.schema == pl.Schema(FINDING_SCHEMA)
