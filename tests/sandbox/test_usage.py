"""Azure plan usage: daily floors, PEC, the monthly usage formula, R10/R13/R08 cases, documents."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from statistics import median

import pytest

from recon.sandbox.azure import AZURE_PRODUCT_ID
from recon.sandbox.usage import daily_cents, monthly_line
from recon.sandbox.usage_api import USAGE_FIELDS
from recon.sandbox.world import DEFAULT_TODAY, World, build_world

CLEAN = {"all": 0}
CENT = Decimal("0.01")


def floor2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_DOWN)


def daily_rows(world: World, month: date, invoice: str = "") -> list[dict]:
    from recon.sandbox.jsonenc import loads
    from recon.sandbox.usage_api import usage_json

    rows = world.usage.rows(month)
    return loads(usage_json(world, rows, invoice)) if rows.height else []


def recon_usage_lines(world: World, invoice: str) -> list[dict]:
    return [ln for ln in world.line_page(invoice, 0, 10**6) if ln["productId"] == AZURE_PRODUCT_ID]


def meter_key(row: dict) -> tuple[str, str]:
    return row["subscriptionId"], f"{row['meterCategory']} - {row['meterName']} - {row['meterRegion']}"


def test_daily_rows_are_floored_each_and_the_month_line_once() -> None:
    # nce-billing-math.md §8 example 13: three PEC days of 10.009 h at 0.868 USD, FX 1
    rows = [(10_009_000, 868_000, True)] * 3
    assert [daily_cents(q, up, pec, 10**9) for q, up, pec in rows] == [(738, 738)] * 3  # 7.38 each, sum 22.14
    bcu, bc, subtotal, _ = monthly_line(rows, 10**9)
    assert (bcu, bc, subtotal) == (30_027_000, 2215, 2215)  # the monthly line: 22.15


@pytest.mark.parametrize(
    ("bcu", "bc", "eup"),
    [
        ("29", "21.39", "0.737586206896552"),
        ("210.950039", "155.63", "0.737757626107858"),
        ("555.950039", "410.17", "0.737782122900436"),
    ],
)
def test_example_13_open_period_eup(bcu: str, bc: str, eup: str) -> None:
    q = int(Decimal(bcu) * 10**6)
    got_bcu, got_bc, subtotal, got_eup = monthly_line([(q, 868_000, True)], 10**9)
    assert Decimal(got_bc) / 100 == Decimal(bc) == Decimal(subtotal) / 100
    assert got_eup == Decimal(eup)
    # the usage formula gives the subtotal back from the shown EUP: ROUNDDOWN(ROUNDDOWN(EUP×BCU,2)×FX,2)
    assert floor2(floor2(got_eup * Decimal(got_bcu) / 10**6) * 1) == Decimal(bc)
    fx = Decimal("0.846202666")  # example 10: the meter total converted once
    assert Decimal(monthly_line([(q, 868_000, True)], 846_202_666)[2]) / 100 == floor2(Decimal(bc) * fx)


def test_daily_rows_follow_the_floor_formula_and_pec() -> None:
    world = build_world(2, "tiny", switches={"customers": "12"}, inject_rates=CLEAN)
    pec_days: Counter = Counter()
    for inv in world.invoices:
        rows = daily_rows(world, inv["periodStart"], inv["id"])
        assert rows and all(list(r) == USAGE_FIELDS for r in rows)
        pec_days.update(_check_daily(r, inv["id"]) for r in rows)
    assert pec_days[True] > pec_days[False] > 0


def _check_daily(r: dict, invoice: str) -> bool:
    assert r["billingProvider"] == "marketplace" and r["invoiceLineItemType"] == "usage_line_items"
    assert r["attributes"] == {"objectType": "DailyRatedUsageLineItem"} and r["invoiceNumber"] == invoice
    assert r["pricingCurrency"] == "USD" and r["billingCurrency"] == "EUR"
    pec = Decimal(r["rateOfPartnerEarnedCredit"])
    assert pec in (0, Decimal("0.15")) and r["hasPartnerEarnedCredit"] == (pec > 0)
    assert r["effectiveUnitPrice"] == r["unitPrice"] * (1 - pec)
    base = Decimal(r["quantity"]) * r["unitPrice"] * (1 - pec)
    assert r["billingPreTaxTotal"] == floor2(base * r["pcToBCExchangeRate"])
    assert r["pricingPreTaxTotal"] == floor2(base)
    if "Spot" in r["meterName"]:
        assert pec == 0 and r["creditType"] == "Credit Not Applied"
    return pec > 0


def test_weekly_seasonality() -> None:
    world = build_world(3, "tiny", switches={"customers": "12"}, inject_rates=CLEAN)
    by_weekday: dict[int, Decimal] = defaultdict(Decimal)
    for inv in world.invoices:
        for r in daily_rows(world, inv["periodStart"], inv["id"]):
            if r["meterCategory"] == "Virtual Machines":
                by_weekday[date.fromisoformat(r["usageDate"][:10]).weekday()] += r["billingPreTaxTotal"]
    assert min(by_weekday[d] for d in range(5)) > max(by_weekday[5], by_weekday[6])


@pytest.mark.parametrize("currency", ["EUR", "USD"])
@pytest.mark.parametrize("seed", [1, 4])
def test_clean_usage_lines_follow_the_usage_formula(seed: int, currency: str) -> None:
    world = build_world(seed, "tiny", switches={"billing_currency": currency}, inject_rates=CLEAN)
    for inv in world.invoices:
        lines = recon_usage_lines(world, inv["id"])
        assert lines, "every invoice carries Azure plan usage"
        daily: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for r in daily_rows(world, inv["periodStart"], inv["id"]):
            daily[meter_key(r)].append(r)
        assert len(lines) == len(daily)
        for ln in lines:
            rows = daily[(ln["subscriptionId"], ln["meterDescription"])]
            assert ln["quantity"] == 1 and ln["billableQuantity"] == sum(Decimal(r["quantity"]) for r in rows)
            usage_subtotal = floor2(
                floor2(ln["effectiveUnitPrice"] * ln["billableQuantity"]) * ln["pcToBCExchangeRate"]
            )
            assert ln["subtotal"] == usage_subtotal
            assert ln["totalForCustomer"] == ln["subtotal"] + ln["taxTotal"]
            gap = ln["subtotal"] - sum(r["billingPreTaxTotal"] for r in rows)
            assert -2 * CENT <= gap <= CENT * len(rows)  # R10's tolerance: never a finding in a clean world
            assert ln["chargeStartDate"][:10] == inv["periodStart"].isoformat() and ln["pricingCurrency"] == "USD"
        # the invoice still equals the sum of its lines, usage included
        total = sum(ln["totalForCustomer"] for ln in world.line_page(inv["id"], 0, 10**6))
        assert total == inv["totalCharges"]


def _r13_days(world: World) -> Counter:
    """Independent R13: days whose plan total exceeds median + max(4×1.4826×MAD, 10.00) of the previous 30."""
    totals: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    months = sorted({inv["periodStart"] for inv in world.invoices} | set(world.usage.index))
    for month in months:
        inv = next((i["id"] for i in world.invoices if i["periodStart"] == month), "")
        for r in daily_rows(world, month, inv):
            totals[r["subscriptionId"]][date.fromisoformat(r["usageDate"][:10])] += r["billingPreTaxTotal"]
    found: Counter = Counter()
    for sub, per_day in totals.items():
        days = sorted(per_day)
        series = [per_day[d] for d in days]
        for i, day in enumerate(days):
            hist = series[max(0, i - 30) : i]
            if len(hist) < 14:
                continue
            med = median(hist)
            mad = median(abs(h - med) for h in hist)
            excess = series[i] - med
            if excess > Decimal("5.9304") * mad and excess > 10:
                found[(sub, day.replace(day=1))] += 1
    return found


def test_usage_spikes_match_r13_exactly() -> None:
    world = build_world(5, "tiny", switches={"customers": "8"}, inject_rates={"all": 0, "usage_spike": 0.2})
    keyed = Counter((r["subscription_id"], r["period"]) for r in world.answer_key if r["kind"] == "usage_spike")
    assert keyed and _r13_days(world) == keyed
    for r in world.answer_key:
        if r["kind"] == "usage_spike":
            assert r["rule"] == "R13" and r["invoice_number"] is None and r["amount_at_stake"] > 10
            assert r["customer_id"] and r["order_id"] is None
    assert any("without an injection" not in r["description"] for r in world.answer_key)


def test_clean_world_has_no_r13_day() -> None:
    world = build_world(5, "tiny", switches={"customers": "8"}, inject_rates=CLEAN)
    assert not _r13_days(world) and world.answer_key == []


def test_usage_sum_off_shows_in_data_and_key() -> None:
    world = build_world(6, "tiny", inject_rates={"all": 0, "usage_sum_off": 0.05})
    cases = [r for r in world.answer_key if r["kind"] == "usage_sum_off"]
    assert cases and {r["kind"] for r in world.answer_key} == {"usage_sum_off"}
    clean = build_world(6, "tiny", inject_rates=CLEAN)
    for case in cases:
        inv = world.invoice(case["invoice_number"])
        assert inv["periodStart"] == case["period"] and case["rule"] == "R10" and case["also"] == "R09"
        daily: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for r in daily_rows(world, inv["periodStart"], inv["id"]):
            daily[meter_key(r)].append(r)
        off = []
        for ln in recon_usage_lines(world, inv["id"]):
            rows = daily[(ln["subscriptionId"], ln["meterDescription"])]
            if abs(ln["subtotal"] - sum(r["billingPreTaxTotal"] for r in rows)) > CENT * len(rows):
                off.append(ln)
        assert [ln["subscriptionId"] for ln in off] == [case["subscription_id"]]
        right = {
            (ln["subscriptionId"], ln["meterDescription"]): ln["subtotal"] for ln in recon_usage_lines(clean, inv["id"])
        }
        assert (
            off[0]["subtotal"] - right[(off[0]["subscriptionId"], off[0]["meterDescription"])]
            == case["amount_at_stake"]
        )
        assert abs(case["amount_at_stake"]) >= Decimal("1.37") and case["amount_at_stake"] % Decimal("0.05") != 0
        total = sum(ln["totalForCustomer"] for ln in world.line_page(inv["id"], 0, 10**6))
        assert total == inv["totalCharges"]  # the invoice follows its lines


def test_unbilled_drift_shows_before_close_and_in_the_key_after() -> None:
    rates = {"all": 0, "unbilled_vanished": 0.03, "unbilled_changed": 0.03}
    before = build_world(7, "tiny", today=date(2025, 11, 4), anchor=DEFAULT_TODAY, inject_rates=rates)
    after = build_world(7, "tiny", inject_rates=rates)
    october = date(2025, 10, 1)
    assert before.unbilled_month("previous") == october and after.unbilled_month("previous") is None
    snapshot = before.render_unbilled(before.unbilled_rows(october), 0, 10**6)
    inv = next(i for i in after.invoices if i["periodStart"] == october)
    billed = [ln for ln in after.line_page(inv["id"], 0, 10**6) if ln["productId"] != AZURE_PRODUCT_ID]
    cases = [r for r in after.answer_key if r["period"] == october]
    assert {r["kind"] for r in cases} == {"unbilled_vanished", "unbilled_changed"}
    assert not [r for r in before.answer_key if r["period"] == october]  # not a case while the month is open
    for case in cases:
        sub = case["subscription_id"]
        shown = [ln for ln in snapshot if ln["subscriptionId"] == sub]
        kept = [ln for ln in billed if ln["subscriptionId"] == sub]
        assert case["rule"] == "R08" and case["invoice_number"] is None
        diff = sum(ln["subtotal"] for ln in kept) - sum(ln["subtotal"] for ln in shown)
        assert diff == case["amount_at_stake"] and abs(diff) > CENT * max(ln["quantity"] for ln in shown)
        if case["kind"] == "unbilled_vanished":
            assert len(shown) == len(kept) + 1
        else:
            assert len(shown) == len(kept)
            assert sorted(ln["quantity"] for ln in shown) != sorted(ln["quantity"] for ln in kept)
    others = {r["subscription_id"] for r in cases}
    same = [ln for ln in snapshot if ln["subscriptionId"] not in others and ln["productId"] != AZURE_PRODUCT_ID]
    assert same == [
        {**ln, "billingFrequency": "", "invoiceNumber": ""} for ln in billed if ln["subscriptionId"] not in others
    ]


def test_closed_months_keep_their_usage_when_the_clock_moves() -> None:
    first = build_world(1, "tiny", inject_rates=CLEAN)
    later = build_world(1, "tiny", today=DEFAULT_TODAY + timedelta(days=31), anchor=DEFAULT_TODAY, inject_rates=CLEAN)
    for inv in first.invoices:
        assert daily_rows(first, inv["periodStart"], inv["id"]) == daily_rows(later, inv["periodStart"], inv["id"])
        assert first.line_page(inv["id"], 0, 10**6) == later.line_page(inv["id"], 0, 10**6)
    assert later.usage.rows(date(2025, 11, 1)).height > first.usage.rows(date(2025, 11, 1)).height


def test_small_stays_under_200k_daily_rows_a_month() -> None:
    from recon.sandbox.azure import make_plans, make_resources
    from recon.sandbox.population import make_customers

    customers = make_customers(1, 300)
    plans = make_plans(1, customers, date(2025, 8, 1))
    resources = make_resources(1, plans, date(2025, 8, 1), 6400)
    assert len(plans) > 50 and len(resources) * 31 <= 200_000


def test_credit_note_and_legacy_invoice() -> None:
    world = build_world(1, "tiny", inject_rates=CLEAN)
    note = next(d for d in world.documents if d["documentType"] == "adjustment_note")
    amended = world.invoice(note["amendsOf"])
    assert amended is world.invoices[0] and amended["amendments"] == [note]
    lines = world.line_page(note["id"], 0, 10**6)
    assert lines and all(ln["chargeType"] == "customerCredit" and ln["subtotal"] < 0 for ln in lines)
    assert all(ln["invoiceNumber"] == note["id"] and ln["creditReasonCode"] for ln in lines)
    assert sum(ln["totalForCustomer"] for ln in lines) == note["totalCharges"] < 0
    assert note["invoiceDate"] > amended["invoiceDate"]
    legacy = next(d for d in world.documents if d.get("legacy"))
    assert legacy["id"].startswith("D") and legacy["periodStart"] == date(2024, 1, 1)
    office = world.legacy_lines[legacy["id"]]
    assert office and all(ln["attributes"] == {"objectType": "LicenseBasedLineItem"} for ln in office)
    assert sum(ln["totalForCustomer"] for ln in office) == legacy["totalCharges"]
    assert world.line_count(legacy["id"]) == 0  # no new-commerce lines
