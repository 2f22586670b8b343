"""The seeded world: determinism, exact invoice tie-out, line shapes, injections and the answer key."""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from recon.sandbox import SIZES, answer_key, write_answer_key
from recon.sandbox.azure import AZURE_PRODUCT_ID
from recon.sandbox.billing import add_months, rate_seat_line, tax_total
from recon.sandbox.billing_switches import BILLING_DEFAULTS
from recon.sandbox.commerce import Commerce
from recon.sandbox.commerce_switches import COMMERCE_DEFAULTS
from recon.sandbox.commerce_view import CommerceView
from recon.sandbox.inject import CATALOGUE, KEY_COLUMNS, resolve_rates
from recon.sandbox.jsonenc import dumps
from recon.sandbox.lifecycle import replay, schedule
from recon.sandbox.lines import Rating
from recon.sandbox.records import LINE_FIELDS
from recon.sandbox.world import DEFAULT_TODAY, build_world, resolve_switches

CLEAN = {"all": 0}


def all_lines(world) -> list[dict]:
    return [ln for inv in world.invoices for ln in world.line_page(inv["id"], 0, 10**6)]


def test_same_seed_same_bytes() -> None:
    a, b = build_world(7, "tiny"), build_world(7, "tiny")
    assert dumps(a.invoices) == dumps(b.invoices)
    assert dumps(all_lines(a)) == dumps(all_lines(b))
    assert a.answer_key == b.answer_key
    assert dumps(all_lines(a)) != dumps(all_lines(build_world(8, "tiny")))


def test_tiny_shape() -> None:
    world = build_world(1, "tiny")
    assert len(world.customers) == SIZES["tiny"].customers == 5
    assert len(world.invoices) == 3
    assert world.today == DEFAULT_TODAY
    for inv in world.invoices:
        assert inv["id"].startswith("G0") and len(inv["id"]) == 10
        assert inv["periodStart"].day == 1 and inv["invoiceDate"] > inv["periodEnd"]
        assert 6 <= inv["invoiceDate"].day <= 8 and inv["invoiceDate"] <= world.today
        assert 0 < world.line_count(inv["id"]) < 2000
    assert {c.country for c in world.customers} <= {"NL", "DE", "BE", "FR", "GB", "US", "DK", "CH"}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("rounding", ["A", "B"])
def test_clean_world_invoices_equal_their_lines(seed: int, rounding: str) -> None:
    world = build_world(seed, "tiny", switches={"seat_rounding": rounding}, inject_rates=CLEAN)
    assert world.answer_key == []
    for inv in world.invoices:
        lines = world.line_page(inv["id"], 0, 10**6)
        assert {ln["currency"] for ln in lines} == {inv["currency"]}
        assert sum(ln["totalForCustomer"] for ln in lines) == inv["totalCharges"]


def test_every_line_has_every_field_and_consistent_amounts() -> None:
    world = build_world(3, "tiny", switches={"customers": "12"}, inject_rates=CLEAN)
    lines = all_lines(world)
    charge_types = Counter(ln["chargeType"] for ln in lines)
    assert {"cycleCharge", "addQuantity"} <= set(charge_types)
    for ln in lines:
        assert list(ln) == LINE_FIELDS
        assert ln["attributes"] == {"objectType": "OneTimeInvoiceLineItem"}
        assert ln["totalForCustomer"] == ln["subtotal"] + ln["taxTotal"]
        if ln["productId"] == AZURE_PRODUCT_ID:  # usage lines: quantity 1, billableQuantity the consumption
            assert ln["quantity"] == 1 and ln["billableQuantity"] > 0 and ln["unitPrice"] > 0
            continue
        assert ln["quantity"] == ln["billableQuantity"] > 0 and ln["unitPrice"] > 0
        assert (ln["subtotal"] < 0) == (ln["effectiveUnitPrice"] < 0)
        assert ln["orderDate"] == ln["chargeStartDate"]
        assert ln["invoiceNumber"] in {i["id"] for i in world.invoices}


def test_refund_and_charge_pairs_share_reference_id_and_rate_to_the_cent() -> None:
    world = build_world(5, "tiny", switches={"customers": "15"}, inject_rates=CLEAN)
    customers = {c.id: c for c in world.customers}
    by_ref: dict[str, list[dict]] = {}
    for ln in all_lines(world):
        if ln["chargeType"] in ("addQuantity", "removeQuantity"):
            by_ref.setdefault(ln["referenceId"], []).append(ln)
    assert by_ref
    for pair in by_ref.values():
        assert sorted(x["subtotal"] < 0 for x in pair) == [False, True]
        for ln in pair:
            start, end = (
                date.fromisoformat(ln["chargeStartDate"][:10]),
                date.fromisoformat(ln["chargeEndDate"][:10]),
            )
            sub = next(s for s in world.subs if s.id == ln["subscriptionId"])
            cycle_len = _cycle_len(sub, start)
            discount = sub.discount if ln["promotionId"] else Decimal(0)
            _, subtotal = rate_seat_line(
                ln["unitPrice"],
                discount,
                cycle_len,
                (end - start).days + 1,
                ln["quantity"],
                ln["pcToBCExchangeRate"],
                "B",
            )
            assert abs(ln["subtotal"]) == subtotal
            assert ln["taxTotal"] == tax_total(ln["subtotal"], customers[ln["customerId"]].tax_rate)


def test_seat_changes_of_a_cycle_follow_each_other_in_date_order() -> None:
    """Each change refunds the seats the change before it (by date) charged: an add dated before a term-start
    reduction of the same cycle would refund seats the subscription did not have yet."""
    world = build_world(1, "tiny", switches={"customers": "60"}, inject_rates=CLEAN)  # holds such a cycle
    pairs: dict[tuple[str, str], list[tuple[str, Decimal, Decimal]]] = {}
    for ln in all_lines(world):
        if ln["chargeType"] in ("addQuantity", "removeQuantity"):
            pair = pairs.setdefault((ln["subscriptionId"], ln["referenceId"]), [])
            pair.append(
                (ln["chargeStartDate"], ln["chargeEndDate"], ln["quantity"] * (1 if ln["subtotal"] >= 0 else -1))
            )
    chains: dict[tuple[str, str], list[tuple[str, Decimal, Decimal]]] = {}
    for (sub, _), lines in pairs.items():
        refund = next(-q for _, _, q in lines if q < 0)
        charge = next(q for _, _, q in lines if q > 0)
        chains.setdefault((sub, lines[0][1]), []).append((lines[0][0], refund, charge))
    followed = 0
    for changes in chains.values():
        changes.sort()
        for before, after in itertools.pairwise(changes):
            assert after[1] == before[2], changes
            followed += 1
    assert followed


def _cycle_len(sub, on: date) -> int:
    """Proration denominator of the subscription's cycle holding `on`, from its own schedule."""
    for _, _, _, cycles in schedule(sub.start, sub.avail.term, sub.avail.plan, date(2000, 1, 1), date(2100, 1, 1)):
        for _, cs, ce, clen in cycles:
            if cs <= on <= ce:
                return clen
    raise AssertionError("no cycle")


def test_foreign_currency_lines_carry_the_months_rate() -> None:
    world = build_world(2, "tiny", switches={"customers": "30"}, inject_rates=CLEAN)
    rates: dict[tuple[str, str], set[Decimal]] = {}
    for ln in all_lines(world):
        rates.setdefault((ln["pricingCurrency"], ln["pcToBCExchangeRateDate"]), set()).add(ln["pcToBCExchangeRate"])
        if ln["pricingCurrency"] == "EUR":
            assert ln["pcToBCExchangeRate"] == 1
    assert any(cur != "EUR" for cur, _ in rates)
    assert all(len(v) == 1 for v in rates.values())


@pytest.mark.parametrize("seed", range(1, 21))
def test_tiny_default_rates_hold_an_invoice_total_off(seed: int) -> None:
    world = build_world(seed, "tiny")
    cases = [c for c in world.answer_key if c["kind"] == "invoice_total_off"]
    assert cases
    for case in cases:
        inv = world.invoice(case["invoice_number"])
        lines_total = sum(ln["totalForCustomer"] for ln in world.line_page(inv["id"], 0, 10**6))
        assert inv["totalCharges"] - lines_total == case["amount_at_stake"]
        assert abs(case["amount_at_stake"]) > Decimal("1.00")
        assert case["amount_at_stake"] % Decimal("0.05") != 0
        assert case["rule"] == "R09" and case["period"] == inv["periodStart"]


def test_line_injections_show_in_the_data() -> None:
    world = build_world(4, "tiny", inject_rates={"all": 0, "duplicate_line": 0.05, "qty_overbilled": 0.05})
    kinds = Counter(c["kind"] for c in world.answer_key)
    assert set(kinds) == {"duplicate_line", "qty_overbilled"}
    lines = all_lines(world)
    for case in world.answer_key:
        assert case["subscription_id"] and case["invoice_number"] and case["customer_id"]
        sub_lines = [
            ln
            for ln in lines
            if ln["subscriptionId"] == case["subscription_id"] and ln["invoiceNumber"] == case["invoice_number"]
        ]
        if case["kind"] == "duplicate_line":
            keys = Counter((ln["chargeType"], ln["chargeStartDate"], ln["subtotal"]) for ln in sub_lines)
            assert max(keys.values()) >= 2
        assert case["amount_at_stake"] != 0
    # invoices still equal the sum of their (changed) lines: only invoice_total_off breaks the tie-out
    for inv in world.invoices:
        assert sum(ln["totalForCustomer"] for ln in world.line_page(inv["id"], 0, 10**6)) == inv["totalCharges"]


def test_answer_key_rows_and_files(tmp_path: Path) -> None:
    rows = answer_key(1, "tiny")
    assert rows and all(list(r) == KEY_COLUMNS for r in rows)
    for r in rows:
        kind = CATALOGUE[r["kind"]]
        assert r["rule"] == kind.rule and r["also"] == ",".join(kind.also)
        assert isinstance(r["period"], date) and r["period"].day == 1
        assert isinstance(r["amount_at_stake"], Decimal) and r["currency"] == "EUR"
    parquet = write_answer_key(tmp_path / "key.parquet", 1, "tiny")
    frame = pl.read_parquet(parquet)
    assert frame.columns == KEY_COLUMNS and frame.height == len(rows)
    assert frame.schema["amount_at_stake"] == pl.Decimal(18, 2) and frame.schema["period"] == pl.Date
    assert frame["amount_at_stake"].to_list() == [r["amount_at_stake"] for r in rows]
    csv = write_answer_key(tmp_path / "key.csv", 1, "tiny")
    assert pl.read_csv(csv).height == len(rows)
    with pytest.raises(ValueError, match=r"parquet or \.csv"):
        write_answer_key(tmp_path / "key.xlsx", 1, "tiny")


def test_switches_and_rates_are_validated() -> None:
    assert resolve_switches("tiny", None) == {
        "billing_currency": "EUR",
        "seat_rounding": "B",
        "token_lifetime_s": "3600",
        "customers": "5",
        **COMMERCE_DEFAULTS,
        **BILLING_DEFAULTS,
    }
    assert resolve_switches("small", {"customers": "7"})["customers"] == "7"
    for bad in ({"nope": "1"}, {"seat_rounding": "C"}, {"customers": "0"}, {"billing_currency": "XYZ"}):
        with pytest.raises(ValueError):
            resolve_switches("tiny", bad)
    with pytest.raises(ValueError, match="unknown size"):
        resolve_switches("huge", None)
    assert set(resolve_rates({"all": 0}).values()) == {0.0}
    assert resolve_rates({"all": 0, "duplicate_line": 0.5})["duplicate_line"] == 0.5
    with pytest.raises(ValueError, match="unknown injection kind"):
        resolve_rates({"bogus": 0.1})
    assert all(k.implemented for k in CATALOGUE.values())  # every catalogue kind is generated
    assert resolve_rates({"order_without_subscription": 0.1})["order_without_subscription"] == 0.1


def test_usd_billing_currency_converts_eur_prices() -> None:
    world = build_world(1, "tiny", switches={"billing_currency": "USD", "customers": "8"}, inject_rates=CLEAN)
    lines = all_lines(world)
    assert {ln["currency"] for ln in lines} == {"USD"} and {i["currency"] for i in world.invoices} == {"USD"}
    assert any(ln["pricingCurrency"] == "EUR" and ln["pcToBCExchangeRate"] != 1 for ln in lines)


def test_customers_switch_and_clock_keep_closed_months_stable() -> None:
    first = build_world(1, "tiny", switches={"customers": "3"})
    assert len(first.customers) == 3
    later = build_world(
        1,
        "tiny",
        today=date(2025, 12, 10),
        anchor=DEFAULT_TODAY,
        switches={"customers": "3"},
        inject_rates=CLEAN,
    )
    clean_first = build_world(1, "tiny", switches={"customers": "3"}, inject_rates=CLEAN)
    assert len(later.invoices) == 4
    for inv in clean_first.invoices:
        assert dumps(clean_first.line_page(inv["id"], 0, 10**6)) == dumps(later.line_page(inv["id"], 0, 10**6))


def test_unbilled_months_follow_the_invoice_dates() -> None:
    world = build_world(1, "tiny", inject_rates=CLEAN)
    assert world.unbilled_month("current") == date(2025, 11, 1)
    assert world.unbilled_month("previous") is None  # October is invoiced on the 6th-8th of November
    rows = world.unbilled_rows(date(2025, 11, 1))
    lines = world.render_unbilled(rows, 0, 10**6)
    assert lines and all(ln["invoiceNumber"] == "" and ln["billingFrequency"] == "" for ln in lines)
    assert all("2025-11-01" <= ln["orderDate"][:10] < "2025-11-10" for ln in lines)
    early = build_world(1, "tiny", today=date(2025, 12, 3), anchor=DEFAULT_TODAY, inject_rates=CLEAN)
    assert early.unbilled_month("previous") == date(2025, 11, 1) and len(early.invoices) == 3
    november = early.render_unbilled(early.unbilled_rows(date(2025, 11, 1)), 0, 10**6)
    assert len(november) > len(lines)
    seats = [ln for ln in lines if ln["productId"] != AZURE_PRODUCT_ID]  # Azure lines grow with the month
    later = [ln for ln in november if ln["orderDate"][:10] < "2025-11-10" and ln["productId"] != AZURE_PRODUCT_ID]
    assert later == seats  # the clock only adds


def test_sandbox_imports_nothing_else_from_recon() -> None:
    import ast

    allowed = {"starlette", "uvicorn", "cryptography", "polars", "numpy"}  # numpy: the `large` generator
    root = Path(__file__).resolve().parents[2] / "recon" / "sandbox"
    for module in root.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert name.startswith("recon.sandbox") or top in allowed or top in sys.stdlib_module_names, (
                    f"{module.name} imports {name}"
                )


def _served_orphans(seed: int, **kw: object) -> tuple[list[dict], set[tuple], set[tuple]]:
    """A world's R11 key rows and the orphans its commerce data shows: (customer, order, month, totalPrice) of
    orders with a `New` line naming no served subscription, (customer, subscription, term-start month) of served
    subscriptions whose orderId names no served order."""
    ledger = Commerce(seed)
    world = build_world(seed, "tiny", extra=ledger.extend_lines, **kw)  # type: ignore[arg-type]
    view = CommerceView(world, ledger)
    orders, subs = set(), set()
    for cust in world.customers:
        served = {v.sub.id: v for v in view.subscriptions(cust)}
        resources = [view.order_resource(o, True) for o in view.orders(cust)]
        ids = {o["id"] for o in resources}
        for o in resources:
            if any(li["transactionType"] == "New" and li.get("subscriptionId") not in served for li in o["lineItems"]):
                month = date.fromisoformat(o["creationDate"][:10]).replace(day=1)
                orders.add((cust.id, o["id"], month, o["totalPrice"]))
        for sid, v in served.items():
            if v.sub.order_id not in ids:
                start = date.fromisoformat(view.subscription_resource(v)["effectiveStartDate"][:10])
                subs.add((cust.id, sid, start.replace(day=1)))
    return [r for r in world.answer_key if r["rule"] == "R11"], orders, subs


def test_r11_orphans_are_served_exactly_as_the_key_says() -> None:
    key, orders, subs = _served_orphans(1)
    by_kind = Counter(r["kind"] for r in key)
    assert by_kind["order_without_subscription"] == 3 and by_kind["subscription_without_order"] >= 1  # 1+ a month
    assert orders == {
        (r["customer_id"], r["order_id"], r["period"], r["amount_at_stake"])
        for r in key
        if r["kind"] == "order_without_subscription"
    }
    assert subs == {
        (r["customer_id"], r["subscription_id"], r["period"]) for r in key if r["kind"] == "subscription_without_order"
    }
    for r in key:
        assert r["also"] == "" and r["invoice_number"] is None and r["currency"] == "EUR" and r["customer_id"]
        assert r["amount_at_stake"] > 0 and r["amount_at_stake"] % Decimal("0.05") != 0
        assert (r["order_id"] is None) == (r["subscription_id"] is not None)
        assert (r["order_id"] or r["subscription_id"]) in r["description"]


def test_subscription_without_order_keeps_its_lines_and_no_other_case() -> None:
    world = build_world(1, "tiny")
    lines = all_lines(world)
    orphans = {r["subscription_id"]: r for r in world.answer_key if r["kind"] == "subscription_without_order"}
    assert orphans
    for sid, case in orphans.items():
        purchase = [ln for ln in lines if ln["subscriptionId"] == sid and ln["chargeType"] == "new"]
        assert [ln["subtotal"] for ln in purchase] == [case["amount_at_stake"]]
        assert purchase[0]["orderDate"][:7] == case["period"].isoformat()[:7]
    others = [r for r in world.answer_key if r["kind"] != "subscription_without_order"]
    assert not {r["subscription_id"] for r in others} & set(orphans)


def test_r11_cases_stay_when_the_clock_moves_and_a_clean_world_has_no_orphan() -> None:
    key, _, _ = _served_orphans(2)
    later, orders, subs = _served_orphans(2, today=date(2025, 12, 10), anchor=DEFAULT_TODAY)
    assert key and all(r in later for r in key) and len(orders) + len(subs) == len(later)
    assert _served_orphans(2, inject_rates=CLEAN) == ([], set(), set())


@pytest.mark.parametrize("seed", [1, 3])
def test_a_closed_month_never_changes_when_the_clock_moves_on(seed: int) -> None:
    """Close each month early (as a walk does) and compare with the world built at `today`: same lines, totals
    and cases, so the answer key describes the world after a walk."""
    today = date(2025, 11, 10)
    late = build_world(seed, "tiny", today)
    months = [date(2025, 8, 1), date(2025, 9, 1), date(2025, 10, 1)]
    cols = [c for c in late.billed.columns if c not in ("sub", "seq", "cust")]
    for i, month in enumerate(months):
        early = build_world(seed, "tiny", add_months(month, 1), anchor=today, closed_early=frozenset(months[: i + 1]))
        for inv in early.invoices:
            same = next(x for x in late.invoices if x["id"] == inv["id"])
            assert inv["totalCharges"] == same["totalCharges"]
            mine = early.billed.filter(pl.col("invoiceNumber") == inv["id"]).select(cols).sort(cols)
            theirs = late.billed.filter(pl.col("invoiceNumber") == inv["id"]).select(cols).sort(cols)
            assert mine.equals(theirs), f"invoice {inv['id']} changed after {month}"
        assert sorted(r["case_id"] for r in early.answer_key) == sorted(
            r["case_id"] for r in late.answer_key if r["period"] <= month
        )


def test_the_commerce_view_folds_the_same_replay_the_world_billed() -> None:
    """The view re-uses the world's replay of each subscription: it must be the replay the view would make."""
    import dataclasses

    from recon.sandbox.commerce import generated_lines
    from recon.sandbox.lines import Rating

    ledger = Commerce(3)
    world = build_world(3, "tiny", date(2026, 6, 12), anchor=DEFAULT_TODAY, extra=ledger.extend_lines)
    rating = Rating(world.seed, world.billing_currency, world.switches["seat_rounding"])
    assert world.replays and world.replay_start == ledger.window_start
    for sub in world.subs:
        if not sub.ghost:
            fresh = generated_lines(rating, sub, world.customers[sub.customer], world.replay_start, world.today)
            assert world.replays[sub.idx] == fresh
    cached = CommerceView(world, ledger)
    recomputed = CommerceView(dataclasses.replace(world, replays={}), ledger)
    for cust in world.customers:
        mine, theirs = cached.orders(cust), recomputed.orders(cust)
        assert [cached.order_resource(o, True) for o in mine] == [recomputed.order_resource(o, True) for o in theirs]
        assert [cached.subscription_resource(v) for v in cached.subscriptions(cust)] == [
            recomputed.subscription_resource(v) for v in recomputed.subscriptions(cust)
        ]


WALK_RATES = {
    "all": 0.02,
    "credit_missing": 0.2,
    "credit_twice": 0.2,
    "unbilled_vanished": 0.05,
    "unbilled_changed": 0.05,
}


@pytest.mark.parametrize(
    ("seed", "size", "switches", "rates"),
    [
        (2, "tiny", {}, WALK_RATES),
        (11, "tiny", {}, WALK_RATES),
        # charge_after_cancel's first case of a month: once the next month runs, more cancellations qualify
        (8, "small", {"customers": "20"}, {"all": 0.0, "charge_after_cancel": 0.0001}),
        (10, "small", {"customers": "20"}, {"all": 0.0, "charge_after_cancel": 0.0001}),
    ],
)
def test_every_snapshot_of_a_month_shows_the_injections_its_invoice_and_key_hold(
    seed: int, size: str, switches: dict, rates: dict
) -> None:
    """Build each month as the walk sees it (days 10 and 20 and its last day, earlier months closed) at high
    injection rates: every unbilled view holds exactly the invoice's lines dated before it, except on the
    subscriptions the final key lists as R08 cases of that month. A line that appears later may not move an
    injection an earlier view showed."""
    today = date(2025, 11, 10)
    late = build_world(seed, size, today, inject_rates=rates, switches=switches)
    cols = ["subscriptionId", "referenceId", "chargeType", "quantity", "subtotal", "totalForCustomer"]
    months = [date(2025, 8, 1), date(2025, 9, 1), date(2025, 10, 1)]
    line_rules = {"R01", "R02", "R03", "R04", "R05", "R06", "R07"}
    if rates is WALK_RATES:
        assert {r["rule"] for r in late.answer_key} >= line_rules | {"R08"}
    for i, month in enumerate(months):
        invoice = next(inv["id"] for inv in late.invoices if inv["periodStart"] == month)
        billed = late.billed.filter(pl.col("invoiceNumber") == invoice)
        drifted = sorted(r["subscription_id"] for r in late.answer_key if r["rule"] == "R08" and r["period"] == month)
        last = add_months(month, 1) - timedelta(days=1)
        for day in (month.replace(day=10), month.replace(day=20), last):
            view = build_world(
                seed, size, day, anchor=today, closed_early=frozenset(months[:i]), inject_rates=rates, switches=switches
            )
            # seat lines dated before the view (Azure plan lines grow through the month; an injected ghost's
            # line may be dated ahead), outside the R08 cases
            seats = (
                (pl.col("orderDate").cast(pl.Date) < day)
                & (pl.col("productId") != AZURE_PRODUCT_ID)
                & ~pl.col("subscriptionId").is_in(drifted)
            )
            shown, due = view.unbilled_rows(month).filter(seats), billed.filter(seats)
            assert shown.select(cols).sort(cols).equals(due.select(cols).sort(cols)), f"the view of {day} differs"


def test_a_build_before_the_anchor_holds_exactly_the_replay_up_to_its_day() -> None:
    """Builds at earlier days take the anchor's replay cut at their day: the same lines a replay to that day makes."""
    anchor = date(2025, 11, 10)
    for day in (date(2025, 8, 1), date(2025, 9, 17), date(2025, 10, 31), anchor):
        world = build_world(3, "tiny", day, anchor=anchor)
        horizon = add_months(day.replace(day=1), 1)
        direct = {
            sub.idx: replay(Rating(3, "EUR", "B"), sub, world.customers[sub.customer], world.replay_start, day, horizon)
            for sub in world.subs
            if not sub.ghost
        }
        assert direct and world.replays == direct, f"the build of {day} differs from a replay to it"


@pytest.mark.parametrize("rates", [CLEAN, None])
def test_a_world_builds_at_its_first_day_before_it_has_a_line(rates: dict | None) -> None:
    """The walk starts the clock on the first day of the first month, when a clean world has no line at all."""
    first = date(2025, 8, 1)
    world = build_world(1, "tiny", first, anchor=DEFAULT_TODAY, inject_rates=rates)
    assert world.billed.is_empty() and not world.invoices
    assert world.unbilled.filter(pl.col("orderDate").cast(pl.Date) < first).is_empty()
