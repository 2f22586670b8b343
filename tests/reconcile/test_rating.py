"""Shadow rater: nce-billing-math.md §8 examples to the cent, lifecycle cases, hypothesis properties, scale."""

from __future__ import annotations

import calendar
import random
from datetime import date, timedelta
from decimal import Decimal as D
from fractions import Fraction
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from recon.reconcile.cycles import PLANS
from recon.reconcile.frames import GrainError, check_grain
from recon.reconcile.rating import EVENT_SCHEMA, EXPECTED_GRAIN, EXPECTED_SCHEMA, FX_SCHEMA, expected_charges

NO_FX = pl.LazyFrame(schema=FX_SCHEMA)
LINE = ["charge_type", "order_date", "charge_start", "charge_end", "quantity", "effective_unit_price", "subtotal"]


def events(*rows: dict[str, Any], **defaults: Any) -> pl.LazyFrame:
    """Event rows over sensible defaults (one subscription s1, P1M monthly, EUR, no promotion)."""
    base = {
        "subscription_id": "s1", "customer_id": "c1", "order_id": None, "term": "P1M", "billing": "monthly",
        "promotion_discount": None, "pricing_currency": "EUR", **defaults,
    }  # fmt: skip
    full = [{**base, "event_id": f"e{i}", **row} for i, row in enumerate(rows)]
    money = ("quantity", "unit_price", "promotion_discount")
    typed = [{k: D(v) if k in money and v is not None else v for k, v in r.items()} for r in full]
    return pl.LazyFrame(typed, schema=EVENT_SCHEMA)


def ev(event: str, on: date, qty: int, price: str = "10.08", **extra: Any) -> dict[str, Any]:
    return {"event": event, "event_date": on, "quantity": qty, "unit_price": price, **extra}


def rate(
    frame: pl.LazyFrame, until: date, rounding: str = "B", fx: pl.LazyFrame = NO_FX, bc: str = "EUR"
) -> pl.DataFrame:
    return expected_charges(frame, fx, billing_currency=bc, until=until, rounding=rounding).collect()


def rows(out: pl.DataFrame, columns: list[str] = LINE) -> list[tuple[Any, ...]]:
    """Selected columns as tuples, Decimals normalised so 100.800000 == 100.80."""
    return [tuple(v.normalize() if isinstance(v, D) else v for v in r) for r in out.select(columns).iter_rows()]


def amounts(out: pl.DataFrame) -> list[D]:
    return [v.normalize() for v in out["subtotal"]]


def d(text: str) -> D:
    return D(text).normalize()


# --- §8 worked examples -------------------------------------------------------------------------------------------


def test_example_1_p1m_purchase_and_renewal() -> None:
    out = rate(events(ev("purchase", date(2021, 6, 18), 10)), until=date(2021, 7, 31))
    assert rows(out) == [
        ("new", date(2021, 6, 18), date(2021, 6, 18), date(2021, 7, 17), d("10"), d("10.08"), d("100.80")),
        ("renew", date(2021, 7, 18), date(2021, 7, 18), date(2021, 8, 17), d("10"), d("10.08"), d("100.80")),
    ]
    assert out["period"].to_list() == [date(2021, 6, 1), date(2021, 7, 1)]


def test_example_2_p1y_monthly_cycle_charges_then_renew_only_with_an_event() -> None:
    bought = ev("purchase", date(2021, 6, 18), 10)
    out = rate(events(bought, term="P1Y"), until=date(2022, 7, 31))
    assert out["charge_type"].to_list() == ["new"] + ["cycleCharge"] * 11
    assert rows(out)[1] == (
        "cycleCharge",
        date(2021, 7, 18),
        date(2021, 7, 18),
        date(2021, 8, 17),
        d("10"),
        d("10.08"),
        d("100.80"),
    )
    assert out["charge_end"][-1] == date(2022, 6, 17)
    assert set(amounts(out)) == {d("100.80")}
    renewed = rate(events(bought, ev("renew", date(2022, 6, 18), 10, "10.50"), term="P1Y"), until=date(2022, 7, 31))
    assert rows(renewed)[12:] == [
        ("renew", date(2022, 6, 18), date(2022, 6, 18), date(2022, 7, 17), d("10"), d("10.50"), d("105.00")),
        ("cycleCharge", date(2022, 7, 18), date(2022, 7, 18), date(2022, 8, 17), d("10"), d("10.50"), d("105.00")),
    ]
    assert renewed["event_id"][12] == "e1"


def test_example_2_p1y_prepaid_is_one_line() -> None:
    out = rate(events(ev("purchase", date(2021, 6, 18), 10, "120.96"), term="P1Y", billing="annual"), date(2022, 6, 17))
    assert rows(out) == [
        ("new", date(2021, 6, 18), date(2021, 6, 18), date(2022, 6, 17), d("10"), d("120.96"), d("1209.60"))
    ]
    assert out["cycle_days"].to_list() == [365]


@pytest.mark.parametrize(
    ("first", "after", "kind", "a", "b"),
    [
        (10, 12, "add", ("-94.08", "112.89"), ("-94.00", "112.80")),
        (12, 8, "remove", ("-112.89", "75.26"), ("-112.80", "75.20")),
    ],
)
def test_example_3_seat_change_pair(first: int, after: int, kind: str, a: tuple[str, str], b: tuple[str, str]) -> None:
    frame = events(ev("purchase", date(2021, 6, 18), first), ev(kind, date(2021, 6, 20), after))
    for rounding, expected in (("A", a), ("B", b)):
        out = rate(frame, until=date(2021, 6, 30), rounding=rounding)
        on, end = date(2021, 6, 20), date(2021, 7, 17)
        assert rows(out)[1:] == [
            (f"{kind}Quantity", on, on, end, d(str(first)), d("-9.408"), d(expected[0])),
            (f"{kind}Quantity", on, on, end, d(str(after)), d("9.408"), d(expected[1])),
        ]
        assert out["pair_id"].to_list() == [None, "e1", "e1"]
        assert out["sign"].to_list() == ["+", "-", "+"]
        assert (out["cycle_days"][1], out["billing_days"][1]) == (30, 28)


def test_example_4_five_changes_every_row_rounding_a() -> None:
    changes = [("add", 7, 15), ("add", 10, 25), ("remove", 12, 23), ("remove", 14, 20), ("add", 25, 30)]
    frame = events(
        ev("purchase", date(2022, 3, 5), 10, "12"),
        *(ev(kind, date(2022, 3, day), qty, "12") for kind, day, qty in changes),
        term="P1Y", pricing_currency="USD",
    )  # fmt: skip
    out = rate(frame, until=date(2022, 3, 31), rounding="A", bc="USD")
    ctype = {"add": "addQuantity", "remove": "removeQuantity"}
    expected_rows = [("new", date(2022, 3, 5), date(2022, 3, 5), D(10), D("12"), D("120.00"), 31)]
    table = [("-112.25", "168.38", 29), ("-150.96", "251.61", 26), ("-232.25", "213.67", 24), ("-195.87", "170.32", 22),
             ("-85.16", "127.74", 11)]  # fmt: skip
    old = 10
    for (kind, day, qty), (refund, charge, days) in zip(changes, table, strict=True):
        eup = D(12) / 31 * days
        expected_rows.append((ctype[kind], date(2022, 3, day), date(2022, 3, day), D(old), -eup, D(refund), days))
        expected_rows.append((ctype[kind], date(2022, 3, day), date(2022, 3, day), D(qty), eup, D(charge), days))
        old = qty
    columns = [
        "charge_type",
        "order_date",
        "charge_start",
        "quantity",
        "effective_unit_price",
        "subtotal",
        "billing_days",
    ]
    expected = pl.DataFrame(expected_rows, schema={c: EXPECTED_SCHEMA[c] for c in columns}, orient="row")
    assert_frame_equal(out.select(columns), expected)
    assert set(out["charge_end"]) == {date(2022, 4, 4)} and set(out["cycle_days"]) == {31}
    assert out["subtotal"].sum() == D("275.23")


@pytest.mark.parametrize(("rounding", "refund"), [("B", "-94.20"), ("A", "-94.29"), ("HALF_UP", "-94.30")])
def test_example_5_cancel_inside_window(rounding: str, refund: str) -> None:
    frame = events(ev("purchase", date(2021, 7, 15), 10), ev("cancel", date(2021, 7, 17), 0),
                   ev("add", date(2021, 7, 20), 20))  # fmt: skip
    out = rate(frame, until=date(2021, 9, 30), rounding=rounding)
    assert amounts(out) == [d("100.80"), d(refund)]
    cancel = out.row(1, named=True)
    assert (cancel["charge_type"], cancel["charge_start"], cancel["charge_end"]) == (
        "cancelImmediate",
        date(2021, 7, 17),
        date(2021, 8, 14),
    )
    assert (cancel["quantity"], cancel["billing_days"], cancel["cycle_days"], cancel["pair_id"]) == (
        D(10),
        29,
        31,
        None,
    )
    assert cancel["effective_unit_price"] == D("-9.429677419354839")


@pytest.mark.parametrize("rounding", ["A", "B"])
def test_example_8_p1y_monthly_bought_on_the_15th(rounding: str) -> None:
    frame = events(ev("purchase", date(2025, 1, 15), 10, "37.80"), ev("add", date(2025, 3, 3), 15, "37.80"), term="P1Y")
    out = rate(frame, until=date(2025, 3, 31), rounding=rounding)
    assert rows(out) == [
        ("new", date(2025, 1, 15), date(2025, 1, 15), date(2025, 2, 14), d("10"), d("37.80"), d("378.00")),
        ("cycleCharge", date(2025, 2, 15), date(2025, 2, 15), date(2025, 3, 14), d("10"), d("37.80"), d("378.00")),
        ("addQuantity", date(2025, 3, 3), date(2025, 3, 3), date(2025, 3, 14), d("10"), d("-16.20"), d("-162.00")),
        ("addQuantity", date(2025, 3, 3), date(2025, 3, 3), date(2025, 3, 14), d("15"), d("16.20"), d("243.00")),
        ("cycleCharge", date(2025, 3, 15), date(2025, 3, 15), date(2025, 4, 14), d("15"), d("37.80"), d("567.00")),
    ]
    assert out["cycle_days"].to_list() == [31, 28, 28, 28, 31]
    assert out.filter(pl.col("period") == date(2025, 3, 1))["subtotal"].sum() == D("648.00")


@pytest.mark.parametrize(("rounding", "refund", "charge"), [("A", "-2343.45", "2812.14"), ("B", "-2343.40", "2812.08")])
def test_example_9a_prepaid_seat_add_prorates_to_term_end(rounding: str, refund: str, charge: str) -> None:
    frame = events(ev("purchase", date(2025, 1, 15), 10, "432.00"), ev("add", date(2025, 7, 1), 12, "432.00"),
                   term="P1Y", billing="annual")  # fmt: skip
    out = rate(frame, until=date(2025, 12, 31), rounding=rounding)
    assert amounts(out) == [d("4320.00"), d(refund), d(charge)]
    assert out["charge_end"].to_list() == [date(2026, 1, 14)] * 3
    assert (out["cycle_days"][1], out["billing_days"][1]) == (365, 198)
    assert out["effective_unit_price"][2] == D("234.345205479452055")


@pytest.mark.parametrize(("rounding", "refund"), [("A", "-4284.49"), ("B", "-4284.40")])
def test_example_9b_prepaid_cancel_on_day_4(rounding: str, refund: str) -> None:
    frame = events(ev("purchase", date(2025, 1, 15), 10, "432.00"), ev("cancel", date(2025, 1, 18), 0, "432.00"),
                   term="P1Y", billing="annual")  # fmt: skip
    out = rate(frame, until=date(2026, 12, 31), rounding=rounding)
    assert amounts(out) == [d("4320.00"), d(refund)] and out["billing_days"][1] == 362


def test_example_10_fx_on_a_seat_line() -> None:
    fx = pl.LazyFrame(
        {"pricing_currency": "USD", "billing_currency": "EUR", "month": [date(2025, m, 1) for m in (1, 2, 3)],
         "rate": D("0.846202666"), "rate_date": [date(2024, 12, 27), date(2025, 1, 29), date(2025, 2, 26)]},
        schema=FX_SCHEMA,
    )  # fmt: skip
    frame = events(ev("purchase", date(2025, 1, 15), 10, "37.80"), ev("add", date(2025, 3, 3), 15, "37.80"),
                   term="P1Y", pricing_currency="USD")  # fmt: skip
    b = rate(frame, until=date(2025, 3, 31), rounding="B", fx=fx)
    a = rate(frame, until=date(2025, 3, 31), rounding="A", fx=fx)
    assert b["subtotal"][3] == D("205.50") and a["subtotal"][3] == D("205.62")
    assert b["subtotal"][2] == D("-137.00")  # 10 x ROUNDDOWN(16.20 x FX, 2) = 10 x 13.70
    assert set(b["pc_to_bc_exchange_rate"]) == {D("0.846202666")} and set(b["billing_currency"]) == {"EUR"}
    assert b["effective_unit_price"][3] == D("16.20")  # EUP stays in pricing currency
    missing = rate(frame, until=date(2025, 4, 30), fx=fx)  # no April rate: the line is kept, amount unknown
    assert missing["subtotal"][-1] is None and missing["pc_to_bc_exchange_rate"][-1] is None


def test_example_15_promotion() -> None:
    frame = events(ev("purchase", date(2021, 5, 20), 50, "16", promotion_discount="0.10"), term="P1Y")
    out = rate(frame, until=date(2021, 5, 31))
    assert rows(out) == [
        ("new", date(2021, 5, 20), date(2021, 5, 20), date(2021, 6, 19), d("50"), d("14.4"), d("720.00"))
    ]
    assert out["unit_price"][0] == D("16")


# --- lifecycle cases beyond §8 ----------------------------------------------------------------------------------------


def test_section_3_3_p1y_monthly_bought_on_the_15th_renews_at_the_new_price() -> None:
    frame = events(ev("purchase", date(2025, 1, 15), 10, "37.80"), ev("renew", date(2026, 1, 15), 12, "40.95"),
                   ev("add", date(2026, 2, 1), 14, "40.95"), term="P1Y")  # fmt: skip
    out = rate(frame, until=date(2026, 2, 28))
    starts = [date(2025, m, 15) for m in range(1, 13)] + [date(2026, 1, 15), date(2026, 2, 1), date(2026, 2, 1)]
    assert out["charge_start"].to_list()[:15] == starts
    assert out["charge_type"].to_list()[11:15] == ["cycleCharge", "renew", "addQuantity", "addQuantity"]
    assert out["charge_end"][11] == date(2026, 1, 14) and out["charge_end"][12] == date(2026, 2, 14)
    assert out["quantity"][12] == D(12) and out["unit_price"][12] == D("40.95")
    assert out["unit_price"][13] == D("40.95")  # the add after renewal uses the renewed price
    assert out["charge_start"][15] == date(2026, 2, 15) and out["quantity"][15] == D(14)


def test_p1m_price_change_through_a_renew_event_keeps_the_end_of_month_anchor() -> None:
    frame = events(ev("purchase", date(2025, 1, 31), 10, "15.00"), ev("renew", date(2025, 3, 31), 10, "16.00"))
    out = rate(frame, until=date(2025, 5, 31))
    assert out["charge_start"].to_list() == [date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31),
                                              date(2025, 4, 30), date(2025, 5, 31)]  # fmt: skip
    assert out["unit_price"].to_list() == [D("15.00")] * 2 + [D("16.00")] * 3
    assert out["event_id"].to_list() == ["e0", "s1:cycle:1", "e1", "s1:cycle:3", "s1:cycle:4"]


@pytest.mark.parametrize(("billing", "starts", "ctypes", "days"), [
    ("annual", [date(2024, 1, 10), date(2025, 1, 10), date(2026, 1, 10)], ["new", "cycleCharge", "cycleCharge"],
     [366, 365, 365]),
    ("triennial", [date(2024, 1, 10)], ["new"], [1096]),
])  # fmt: skip
def test_p3y_plans_stop_at_term_end_without_a_renewal(
    billing: str, starts: list[date], ctypes: list[str], days: list[int]
) -> None:
    out = rate(events(ev("purchase", date(2024, 1, 10), 3, "900"), term="P3Y", billing=billing), until=date(2028, 1, 1))
    assert out["charge_start"].to_list() == starts and out["charge_type"].to_list() == ctypes
    assert out["cycle_days"].to_list() == days


def test_p3y_annual_seat_add_prorates_to_the_annual_cycle_end() -> None:
    frame = events(ev("purchase", date(2024, 1, 10), 3, "900"), ev("add", date(2025, 7, 1), 4, "900"),
                   term="P3Y", billing="annual")  # fmt: skip
    out = rate(frame, until=date(2025, 12, 31))
    assert out["charge_end"].to_list()[2:] == [date(2026, 1, 9)] * 2 and out["cycle_days"][2] == 365


def test_same_currency_needs_no_rate_and_outputs_have_no_float() -> None:
    out = rate(events(ev("purchase", date(2025, 1, 1), 1)), until=date(2025, 1, 31))
    assert out["pc_to_bc_exchange_rate"].to_list() == [D(1)]
    assert dict(out.schema) == EXPECTED_SCHEMA
    assert not any(t.is_float() for t in out.schema.values())
    check_grain(out.lazy(), EXPECTED_GRAIN, "expected")


@pytest.mark.parametrize(("rows_", "message"), [
    ([ev("purchase", date(2025, 1, 1), 1), ev("purchase", date(2025, 2, 1), 1)], "exactly one purchase"),
    ([ev("purchase", date(2025, 1, 1), 1), ev("upgrade", date(2025, 2, 1), 1)], "unknown event kinds"),
    ([ev("purchase", date(2025, 1, 1), 1), ev("add", date(2024, 12, 1), 2)], "before their purchase"),
])  # fmt: skip
def test_invalid_events_are_refused(rows_: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expected_charges(events(*rows_), NO_FX, billing_currency="EUR", until=date(2025, 3, 1))


def test_duplicate_event_ids_and_unknown_rounding_are_refused() -> None:
    frame = events(ev("purchase", date(2025, 1, 1), 1), ev("add", date(2025, 1, 2), 2, event_id="e0"))
    with pytest.raises(GrainError):
        expected_charges(frame, NO_FX, billing_currency="EUR", until=date(2025, 3, 1))
    with pytest.raises(ValueError, match="rounding"):
        expected_charges(events(ev("purchase", date(2025, 1, 1), 1)), NO_FX, billing_currency="EUR",
                         until=date(2025, 3, 1), rounding="C")  # fmt: skip


# --- properties ----------------------------------------------------------------------------------------------------

day_in_2025 = st.integers(0, 364).map(lambda n: date(2025, 1, 1) + timedelta(days=n))
price_text = st.integers(100, 99999).map(lambda cents: str(D(cents) / 100))


@settings(max_examples=60, deadline=None)
@given(bought=day_in_2025, price=price_text, first=st.integers(1, 40),
       changes=st.lists(st.tuples(st.integers(0, 27), st.integers(1, 40)), min_size=1, max_size=6),
       rounding=st.sampled_from(["A", "B", "HALF_UP"]))  # fmt: skip
def test_rounded_lines_stay_within_a_cent_per_seat(
    bought: date, price: str, first: int, changes: list[tuple[int, int]], rounding: str
) -> None:
    rows_ = [ev("purchase", bought, first, price)]
    rows_ += [
        ev("add" if qty >= first else "remove", bought + timedelta(days=offset), qty, price) for offset, qty in changes
    ]
    out = rate(events(*rows_), until=bought + timedelta(days=27), rounding=rounding)
    cycle_len = (out["charge_end"][0] - bought).days + 1
    assert set(out["cycle_days"]) == {calendar.monthrange(bought.year, bought.month)[1]}
    pairs = out.filter(pl.col("pair_id").is_not_null()).select("billing_days", "charge_start", "charge_end")
    assert all(b == (end - start).days + 1 for b, start, end in pairs.iter_rows())
    assert out["billing_days"][0] == out["cycle_days"][0] and cycle_len >= 28
    exact = sum(
        (Fraction(q) * Fraction(price) * b / c * (1 if s == "+" else -1)
         for q, b, c, s in out.select("quantity", "billing_days", "cycle_days", "sign").iter_rows()),
        Fraction(0),
    )  # fmt: skip
    assert abs(Fraction(out["subtotal"].sum()) - exact) <= Fraction(1, 100) * Fraction(out["quantity"].sum())
    assert all(
        isinstance(t, pl.Decimal)
        for c, t in out.schema.items()
        if c in ("subtotal", "effective_unit_price", "unit_price")
    )


def _world(seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out: list[dict[str, Any]] = []
    for s in range(4):
        term, billing = rnd.choice([("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual"), ("P3Y", "annual")])
        start, qty = date(2024, 1, 1) + timedelta(days=rnd.randrange(0, 400)), rnd.randrange(1, 20)
        common = {"subscription_id": f"s{s}", "term": term, "billing": billing}
        out.append({**common, **ev("purchase", start, qty, "20"), "event_id": f"s{s}-p"})
        for i in range(rnd.randrange(0, 5)):
            kind = rnd.choice(["add", "remove", "add", "cancel"])
            on, qty = start + timedelta(days=rnd.randrange(0, 500)), 0 if kind == "cancel" else rnd.randrange(1, 30)
            out.append({**common, **ev(kind, on, qty, "20"), "event_id": f"s{s}-{i}"})
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), perm=st.randoms(use_true_random=False))
def test_row_order_of_events_changes_nothing(seed: int, perm: random.Random) -> None:
    world = _world(seed)
    shuffled = world[:]
    perm.shuffle(shuffled)
    first, second = (rate(events(*w), until=date(2026, 6, 30), rounding="A") for w in (world, shuffled))
    keys = ["subscription_id", "event_id", "sign"]
    assert_frame_equal(first.sort(keys), second.sort(keys))


@settings(max_examples=30, deadline=None)
@given(bought=day_in_2025, first=st.integers(1, 30), more=st.integers(1, 30), price=price_text,
       rounding=st.sampled_from(["A", "B", "HALF_UP"]), term=st.sampled_from(["P1M", "P1Y"]))  # fmt: skip
def test_add_and_remove_back_on_the_purchase_day_net_to_zero(
    bought: date, first: int, more: int, price: str, rounding: str, term: str
) -> None:
    frame = events(ev("purchase", bought, first, price), ev("add", bought, first + more, price),
                   ev("remove", bought, first, price), term=term)  # fmt: skip
    out = rate(frame, until=bought, rounding=rounding)
    pairs = out.filter(pl.col("pair_id").is_not_null())
    assert pairs.height == 4 and pairs["subtotal"].sum() == 0
    assert out.filter(pl.col("charge_type") == "new")["quantity"].to_list() == [D(first)]


# --- scale ---------------------------------------------------------------------------------------------------------

PLAN_BY_REMAINDER = {0: ("P1M", "monthly", "10.08"), 1: ("P1Y", "monthly", "12.00"), 2: ("P1Y", "annual", "432.00")}


def _synthetic(n_subs: int, start: date = date(2025, 1, 1)) -> pl.LazyFrame:
    """`n_subs` subscriptions bought in January 2025 (P1M, P1Y monthly, P1Y annual by i % 3); even ones add 2 seats."""
    i = pl.col("i")
    plan = i % 3

    def pick(position: int) -> pl.Expr:
        choice = pl.when(plan == 0).then(pl.lit(PLAN_BY_REMAINDER[0][position]))
        return (
            choice.when(plan == 1)
            .then(pl.lit(PLAN_BY_REMAINDER[1][position]))
            .otherwise(pl.lit(PLAN_BY_REMAINDER[2][position]))
        )

    base = pl.LazyFrame({"i": pl.int_range(n_subs, eager=True)}).with_columns(
        subscription_id=pl.format("s{}", i), customer_id=pl.format("c{}", i // 10), order_id=pl.format("o{}", i),
        event_date=pl.lit(start) + pl.duration(days=i % 28), quantity=(10 + i % 5).cast(EXPECTED_SCHEMA["quantity"]),
        term=pick(0), billing=pick(1), unit_price=pick(2).str.to_decimal(scale=15), promotion_discount=pl.lit(None),
        pricing_currency=pl.lit("USD"),
    )  # fmt: skip
    purchases = base.with_columns(event=pl.lit("purchase"), event_id=pl.format("p{}", i))
    adds = base.filter(i % 2 == 0).with_columns(
        event=pl.lit("add"), event_id=pl.format("a{}", i), event_date=pl.col("event_date") + pl.duration(days=3),
        quantity=pl.col("quantity") + 2,
    )  # fmt: skip
    frame = pl.concat([purchases, adds]).with_columns(ends_on=pl.lit(None, dtype=pl.Date))
    return frame.select([pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items()])


def test_scale_10k_subscriptions_12_months_row_counts() -> None:
    n = 10_000
    out = expected_charges(_synthetic(n), NO_FX, billing_currency="USD", until=date(2025, 12, 31))
    counts = dict(out.group_by("charge_type").len().collect().iter_rows())
    monthly = sum(1 for i in range(n) if i % 3 != 2)
    assert counts["new"] == n
    assert counts["renew"] == 11 * sum(1 for i in range(n) if i % 3 == 0)
    assert counts["cycleCharge"] == 11 * sum(1 for i in range(n) if i % 3 == 1)
    assert counts["addQuantity"] == 2 * (n // 2) and sum(counts.values()) == n + 11 * monthly + 2 * (n // 2)


def test_a_monthly_term_that_does_not_renew_stops_at_its_end() -> None:
    """P1M renews by itself; with auto-renew off (or expired) no cycle starts after the term's end."""
    ended = events(ev("purchase", date(2025, 1, 10), 5), ends_on=date(2025, 3, 9))
    running = events(ev("purchase", date(2025, 1, 10), 5))
    starts = {
        name: expected_charges(e, NO_FX, billing_currency="EUR", until=date(2025, 6, 30))
        .select("charge_start")
        .collect()["charge_start"]
        .to_list()
        for name, e in (("ended", ended), ("running", running))
    }
    assert starts["ended"] == [date(2025, 1, 10), date(2025, 2, 10)]
    assert starts["running"][-1] == date(2025, 6, 10) and len(starts["running"]) == 6


def _history(n_subs: int, seed: int) -> pl.LazyFrame:
    """Random histories over every plan: purchases on any day (29th-31st too), renewals (some P1M ones with a new
    price, some P1Y/P3Y terms left unrenewed), promotions, seat changes, cancellations and ends."""
    rng, plans, out = random.Random(seed), sorted(PLANS), []
    for s in range(n_subs):
        term, billing = plans[s % len(plans)]
        months = {"P1M": 1, "P1Y": 12, "P3Y": 36}[term]
        bought = date(2022, 1, 1) + timedelta(days=rng.randrange(1300))
        base = {"subscription_id": f"s{s}", "customer_id": f"c{s % 7}", "term": term, "billing": billing,
                "pricing_currency": "EUR", "ends_on": bought + timedelta(days=400) if s % 9 == 0 else None}  # fmt: skip
        promo = "0.1" if s % 5 == 0 else None
        rows = [{**base, "event": "purchase", "event_date": bought, "quantity": 5, "unit_price": "12.34",
                 "promotion_discount": promo}]  # fmt: skip
        boundary = bought
        for t in range(1, 4):  # renewals at term boundaries (a P1Y/P3Y one sometimes missing: the term ends there)
            boundary = _add_months(bought, t * max(months, 6 if months == 1 else months))
            if rng.random() < 0.8:
                rows.append({**base, "event": "renew", "event_date": boundary - timedelta(days=rng.randrange(3)),
                             "quantity": 5 + t, "unit_price": f"{12 + t}.{rng.randrange(100):02d}"})  # fmt: skip
        for _ in range(rng.randrange(4)):
            day = bought + timedelta(days=rng.randrange(1, 900))
            kind = rng.choice(["add", "add", "remove", "cancel"])
            rows.append({**base, "event": kind, "event_date": day, "quantity": 0 if kind == "cancel" else
                         rng.randrange(1, 20), "unit_price": "99.00"})  # fmt: skip
        out += [{**r, "order_id": f"o{s}-{i}", "event_id": f"e{s}-{i:02d}"} for i, r in enumerate(rows)]
    money = ("quantity", "unit_price", "promotion_discount")
    typed = [{k: D(str(v)) if k in money and v is not None else v for k, v in r.items()} for r in out]
    return pl.LazyFrame(typed, schema=EVENT_SCHEMA)


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@pytest.mark.parametrize("since", [date(2023, 3, 31), date(2024, 2, 29), date(2025, 1, 1), date(2025, 10, 15)])
def test_rating_from_a_date_gives_the_full_ratings_lines_of_that_date_on(since: date) -> None:
    """`since` only saves work: the lines are those of a rating from the purchase, cut at `since`."""
    history = _history(240, seed=7)
    for rounding in ("B", "A"):
        full = expected_charges(history, NO_FX, billing_currency="EUR", until=date(2025, 11, 10), rounding=rounding)
        cut = expected_charges(
            history, NO_FX, billing_currency="EUR", until=date(2025, 11, 10), rounding=rounding, since=since
        )
        assert_frame_equal(full.filter(pl.col("order_date") >= since).collect(), cut.collect())
