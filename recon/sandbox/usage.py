"""Azure plan daily rated usage: daily rows, PEC, R13 spikes, monthly recon lines per meter (R10 injections).

Money is integer arithmetic on scaled values (quantity and unit price in millionths, FX in billionths,
PEC as 85 or 100 hundredths), so every FLOOR is exact: a daily row's
`billingPreTaxTotal = FLOOR(quantity × unitPrice × (1 − PEC) × FX, 2)` (nce-billing-math.md §7) and a
meter's monthly recon line `subtotal = ROUNDDOWN(ROUNDDOWN(EUP × billableQuantity, 2) × FX, 2)` with
`EUP = BC / BCU`, `BC = ROUNDDOWN(Σ quantity × unitPrice × (1 − PEC), 2)` (§5.1, MS-AZ).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import polars as pl

from recon.sandbox.azure import (
    AZURE_PRODUCT_ID,
    AZURE_PRODUCT_NAME,
    AZURE_SKU_ID,
    FLAT,
    PRICING_CURRENCY,
    ROWS_PER_DAY_CAP,
    WEEKDAY,
    Plan,
    Resource,
    make_plans,
    make_resources,
)
from recon.sandbox.billing import add_months, tax_total
from recon.sandbox.lines import Rating
from recon.sandbox.population import Customer
from recon.sandbox.rand import det_int, guid_of, mix, pick_at_rate, stream

PEC_TEXT = '["15.0% Partner earned credit for services managed"]'
SPIKE_MAD = Fraction(59304, 10000)  # 4 × 1.4826
SPIKE_FLOOR = 1000  # 10.00 in cents
HISTORY_MIN, HISTORY_MAX = 14, 30
SUB_OFFSET = 1_000_000  # `sub` of a plan's recon lines in the line frames (seat subscriptions are below)
EUP_PLACES = Decimal("1e-15")


def daily_cents(q_micro: int, up_micro: int, pec: bool, fx_nano: int) -> tuple[int, int]:
    """(pricingPreTaxTotal, billingPreTaxTotal) of one daily row in cents, both floored."""
    base = q_micro * up_micro * (85 if pec else 100)  # 10^-14 units
    return base // 10**12, base * fx_nano // 10**21


def monthly_line(rows: list[tuple[int, int, bool]], fx_nano: int) -> tuple[int, int, int, Decimal]:
    """(BCU micro, BC cents, subtotal cents, EUP) of a meter's recon line from its (q, up, pec) rows."""
    bcu = sum(q for q, _, _ in rows)
    return line_amounts(bcu, sum(q * up * (85 if pec else 100) for q, up, pec in rows), fx_nano)


def line_amounts(bcu: int, s14: int, fx_nano: int) -> tuple[int, int, int, Decimal]:
    """(BCU micro, BC cents, subtotal cents, EUP) from BCU and Σ quantity × unitPrice × (1 − PEC) in 1e-14.

    EUP is BC/BCU shown with 15 decimals: half-up, or rounded up when half-up would make
    ROUNDDOWN(EUP × BCU, 2) fall a cent short of BC (so the usage formula gives the subtotal back).
    """
    bc = s14 // 10**12
    subtotal = bc * fx_nano // 10**9
    exact = Decimal(bc) / 100 / (Decimal(bcu) / 10**6) if bcu else Decimal(0)
    eup = exact.quantize(EUP_PLACES, rounding=ROUND_HALF_UP)
    if (eup * bcu / 10**6).quantize(Decimal("0.01"), rounding=ROUND_DOWN) * 100 != bc:
        eup = exact.quantize(EUP_PLACES, rounding=ROUND_CEILING)
    return bcu, bc, subtotal, eup


def _median2(values: list[int]) -> int:
    """Twice the median of integers (an integer even when the median falls between two values)."""
    s = sorted(values)
    k = len(s) // 2
    return s[k - 1] + s[k] if len(s) % 2 == 0 else 2 * s[k]


def spike_stats(history: list[int]) -> tuple[int, int] | None:
    """(2 × median, 4 × MAD) of the last 30 day totals (cents), or None without 14 days of history."""
    if len(history) < HISTORY_MIN:
        return None
    hist = history[-HISTORY_MAX:]
    med2 = _median2(hist)
    return med2, _median2([abs(2 * h - med2) for h in hist])


def is_spike(total: int, stats: tuple[int, int]) -> bool:
    """R13: total − median > 4 × 1.4826 × MAD and > 10.00 (all in cents, exact)."""
    med2, mad4 = stats
    excess4 = 4 * total - 2 * med2
    return excess4 * 10000 > 59304 * mad4 and excess4 > 4 * SPIKE_FLOOR


def spike_limit(stats: tuple[int, int]) -> Fraction:
    """The day total (cents) above which a day is a spike."""
    med2, mad4 = stats
    return Fraction(med2, 2) + max(SPIKE_MAD * Fraction(mad4, 4), Fraction(SPIKE_FLOOR))


@dataclass
class UsageCase:
    """An R10 or R13 case in usage data (plan, billing month, amount in billing currency)."""

    kind: str
    plan: Plan
    period: date
    amount: Decimal
    description: str
    key: tuple[object, ...]
    invoice: bool = False


@dataclass
class Usage:
    """A world's Azure plans, resources, daily rows (frame) and monthly recon lines (frame)."""

    plans: list[Plan]
    resources: list[Resource]
    daily: pl.DataFrame  # sorted by period, plan, usageDate, res
    recon: pl.DataFrame  # recon lines with the line frame's columns
    cases: list[UsageCase] = field(default_factory=list)
    index: dict[date, tuple[int, int]] = field(default_factory=dict)
    agg: dict[tuple[date, int, str], list[Any]] = field(default_factory=dict)

    def rows(self, month: date) -> pl.DataFrame:
        """Daily rows of a month (billed or not), in their stable order."""
        start, count = self.index.get(month, (0, 0))
        return self.daily.slice(start, count)


class _DayRows:
    """The rows of one plan-day while the spike pass may change their quantities."""

    def __init__(self, frame: pl.DataFrame, start: int):
        self.start = start
        self.q: list[int] = frame["q"].to_list()
        self.up: list[int] = frame["up"].to_list()
        self.pec: list[bool] = frame["pec"].to_list()
        self.fx: list[int] = frame["fxn"].to_list()
        self.bill: list[int] = frame["bill"].to_list()
        self.changed: set[int] = set()

    def set_q(self, j: int, q: int) -> None:
        """Change a row's quantity and rate it again."""
        self.q[j] = q
        self.bill[j] = daily_cents(q, self.up[j], self.pec[j], self.fx[j])[1]
        self.changed.add(j)

    @property
    def total(self) -> int:
        return sum(self.bill)


def _pick(
    seed: int, rate: float, kind: str, candidates: list[tuple[int, Any]], month_of: Callable[[Any], object]
) -> list[Any]:
    """Targets chosen at `rate` by a hash of (seed, kind, key); at least one per month when the rate is positive."""
    return pick_at_rate(seed, rate, kind, candidates, month_of)


class _Days:
    """The world's usage days with what every row of a day shares."""

    def __init__(self, rating: Rating, window_start: date, today: date):
        self.days = [window_start + timedelta(days=i) for i in range((today - window_start).days)]
        self.months = sorted({d.replace(day=1) for d in self.days})
        month_i = {m: i for i, m in enumerate(self.months)}
        self.frame = pl.DataFrame(
            {
                "i": pl.Series(range(len(self.days)), dtype=pl.Int32),
                "wfac": [WEEKDAY[d.weekday()] for d in self.days],
                "month": pl.Series([month_i[d.replace(day=1)] for d in self.days], dtype=pl.Int32),
                "fxn": pl.Series(
                    [int(rating.fx(PRICING_CURRENCY, d.replace(day=1)) * 10**9) for d in self.days], dtype=pl.Int64
                ),
            }
        )


_JUMP = 0.004  # chance of a heavy-tailed jump on a workload meter's day
_TAU = 2 * math.pi
_E6, _E9, _E12 = 10**6, 10**9, 10**12


def _draws(resources: list[Resource], n: int) -> pl.DataFrame:
    """Three uniform draws per resource and day (every day, lived or not: the clock only appends)."""
    u1: list[float] = []
    u2: list[float] = []
    u3: list[float] = []
    for res in resources:
        rnd = stream(res.seed_bits).random
        u = [rnd() for _ in range(3 * n)]
        u1 += u[0::3]
        u2 += u[1::3]
        u3 += u[2::3]
    frame = pl.DataFrame({"u1": u1, "u2": u2, "u3": u3}, schema={"u1": pl.Float64, "u2": pl.Float64, "u3": pl.Float64})
    k = pl.int_range(pl.len(), dtype=pl.Int64)
    return frame.with_columns(res=(k // max(n, 1)).cast(pl.Int32), i=(k % max(n, 1)).cast(pl.Int32))


def _resources_frame(resources: list[Resource], plans: list[Plan], d0: date, n: int) -> pl.DataFrame:
    """Per-resource inputs of the daily rows."""

    def day(d: date) -> int:
        return (d - d0).days

    loss = [plans[r.plan].pec_loss for r in resources]
    return pl.DataFrame(
        {
            "plan": pl.Series([r.plan for r in resources], dtype=pl.Int32),
            "lo": pl.Series([max(0, day(r.first)) for r in resources], dtype=pl.Int32),
            "hi": pl.Series([min(n - 1, day(r.last)) for r in resources], dtype=pl.Int32),
            "base": [r.base * 1_000_000 for r in resources],
            "up": pl.Series([r.meter.price_micro for r in resources], dtype=pl.Int64),
            "sigma": [0.03 if r.meter.weekly is FLAT else 0.14 for r in resources],
            "jump": [0.0 if r.meter.weekly is FLAT else _JUMP for r in resources],
            "workday": [r.meter.weekly is not FLAT for r in resources],
            "mpec": [r.meter.pec for r in resources],
            "l0": pl.Series([day(x[0]) if x else n for x in loss], dtype=pl.Int32),
            "l1": pl.Series([day(x[1]) if x else -1 for x in loss], dtype=pl.Int32),
            "mid": [r.meter_id for r in resources],
        }
    )


def _money(frame: pl.DataFrame) -> pl.DataFrame:
    """price and bill (cents) of every row: FLOOR(q×up×(1−PEC), 2) and FLOOR(q×up×(1−PEC)×FX, 2), in Int64.

    s14 = q × up × (85|100) stays below 1e18; s14 × FX is split so no product passes 1e16.
    """
    s14 = pl.col("q") * pl.col("up") * pl.when(pl.col("pec")).then(85).otherwise(100)
    a, b = s14 // _E12, s14 % _E12
    c, d = b // _E6, b % _E6
    fx = pl.col("fxn")
    bill = (a * fx + (c * fx + (d * fx) // _E6) // _E6) // _E9
    return frame.with_columns(price=a, bill=bill, s14b=b)


def _rows(resources: list[Resource], plans: list[Plan], days: _Days) -> pl.DataFrame:
    """Every daily row (before the spike pass), sorted by plan, day and resource."""
    n = len(days.days)
    meta = _resources_frame(resources, plans, days.days[0], n)
    draws = _draws(resources, n)
    frame = pl.concat(
        [draws, meta.select(pl.all().gather(draws["res"])), days.frame.select(pl.exclude("i").gather(draws["i"]))],
        how="horizontal",
    ).filter((pl.col("i") >= pl.col("lo")) & (pl.col("i") <= pl.col("hi")))
    noise = (pl.col("sigma") * (-2.0 * (1.0 - pl.col("u1")).log()).sqrt() * (_TAU * pl.col("u2")).cos()).exp()
    week = pl.when(pl.col("workday")).then(pl.col("wfac")).otherwise(1.0)
    jump = (
        pl.when(pl.col("u3") < pl.col("jump"))
        .then(pl.min_horizontal(pl.lit(25.0), (1.0 - pl.col("u3") / pl.col("jump")) ** -0.625))
        .otherwise(1.0)
    )
    q = (pl.col("base") * week * noise * jump).floor().cast(pl.Int64)
    frame = frame.with_columns(
        q=pl.max_horizontal(q, pl.lit(1, dtype=pl.Int64)),
        pec=pl.col("mpec") & ~((pl.col("i") >= pl.col("l0")) & (pl.col("i") <= pl.col("l1"))),
    ).select("plan", "res", "i", "month", "q", "up", "pec", "fxn", "mid")
    return _money(frame.sort(["plan", "i", "res"]))


def build_usage(
    seed: int,
    rating: Rating,
    customers: list[Customer],
    window_start: date,
    today: date,
    closed: set[date],
    rates: dict[str, float],
    cap: int = ROWS_PER_DAY_CAP,
) -> Usage:
    """Plans, resources and daily rows from `window_start` to yesterday, spikes decided day by day."""
    plans = make_plans(seed, customers, window_start)
    resources = make_resources(seed, plans, window_start, cap)
    days = _Days(rating, window_start, today)
    if not days.days or not resources:
        return Usage(plans, resources, _empty_daily(), pl.DataFrame(), [])
    rows = _rows(resources, plans, days)
    groups = rows.group_by(["plan", "i"], maintain_order=True).agg(pl.len(), pl.col("bill").sum())
    spans: dict[int, dict[int, tuple[int, int, int]]] = {}
    offset = 0
    for plan_idx, i, length, bill in groups.iter_rows():
        spans.setdefault(plan_idx, {})[i] = (offset, length, bill)
        offset += length
    spike_rate = rates.get("usage_spike", 0.0)
    spike_days = _spike_days(seed, plans, closed, spike_rate)
    cases: list[UsageCase] = []
    updates: dict[int, int] = {}
    for plan in plans:
        cases += _spikes(
            seed, plan, days.days, spans.get(plan.idx, {}), rows, spike_days, updates, spike_rate > 0, rating
        )
    if updates:
        fix = pl.DataFrame(
            {"pos": list(updates), "q": list(updates.values())}, schema={"pos": pl.UInt32, "q": pl.Int64}
        )
        rows = _money(rows.with_row_index("pos").update(fix, on="pos").drop("pos"))
    first = window_start.toordinal() - date(1970, 1, 1).toordinal()
    months = pl.Series([m.toordinal() - date(1970, 1, 1).toordinal() for m in days.months], dtype=pl.Int32)
    rows = rows.with_columns(
        usageDate=(pl.col("i") + first).cast(pl.Date),
        period=pl.lit(months).gather(pl.col("month")).cast(pl.Date),
    )
    usage = Usage(plans, resources, pl.DataFrame(), pl.DataFrame(), cases)
    usage.agg = _aggregate(rows, resources)
    daily = rows.sort(["period", "plan", "usageDate", "res"]).select(_DAILY_COLUMNS)
    usage.daily = daily
    offset = 0
    for r in daily.group_by("period", maintain_order=True).len().to_dicts():
        usage.index[r["period"]] = (offset, r["len"])
        offset += r["len"]
    return usage


_DAILY_COLUMNS = ["plan", "res", "usageDate", "q", "up", "pec", "fxn", "price", "bill", "period"]


def _empty_daily() -> pl.DataFrame:
    schema = {"plan": pl.Int32, "res": pl.Int32, "usageDate": pl.Date, "q": pl.Int64, "up": pl.Int64}
    schema.update(pec=pl.Boolean, fxn=pl.Int64, price=pl.Int64, bill=pl.Int64, period=pl.Date)
    return pl.DataFrame(schema=schema)


def _aggregate(rows: pl.DataFrame, resources: list[Resource]) -> dict[tuple[date, int, str], list[Any]]:
    """Per (month, plan, meter): BCU, Σ q×up×(1−PEC) (1e-14), Σ billing cents, rows, any PEC, FX, a resource."""
    sums = rows.group_by(["period", "plan", "mid"]).agg(
        pl.col("q").sum(),
        pl.col("price").sum(),
        pl.col("s14b").sum(),
        pl.col("bill").sum(),
        pl.len(),
        pl.col("pec").any(),
        pl.col("fxn").first(),
        pl.col("res").min(),
    )
    out: dict[tuple[date, int, str], list[Any]] = {}
    for period, plan, mid, bcu, sa, sb, bill, n, pec, fx, res in sums.iter_rows():
        out[(period, plan, mid)] = [bcu, sa * _E12 + sb, bill, n, pec, fx, resources[res]]
    return out


def _spike_days(seed: int, plans: list[Plan], closed: set[date], rate: float) -> set[tuple[int, date]]:
    """(plan, day) of injected spikes: one chosen day (15th-28th) in chosen plan-months of closed months."""
    cands = [(det_int(seed, "spike", p.idx, m), (p.idx, m)) for p in plans for m in sorted(closed)]
    out = set()
    for plan_idx, month in _pick(seed, rate, "usage_spike", cands, lambda t: t[1]):
        out.add((plan_idx, month.replace(day=15 + det_int(seed, "spike-day", plan_idx, month) % 14)))
    return out


def _spikes(
    seed: int,
    plan: Plan,
    days: list[date],
    spans: dict[int, tuple[int, int, int]],
    rows: pl.DataFrame,
    injected: set[tuple[int, date]],
    updates: dict[int, int],
    natural: bool,
    rating: Rating,
) -> list[UsageCase]:
    """Walk the plan's days in order: inject chosen spikes, list (or, in a clean world, damp) natural ones."""
    totals: list[int] = []
    cases = []
    for i, day in enumerate(days):
        start, length, total = spans.get(i, (0, 0, 0))
        stats = spike_stats(totals) if length else None
        if stats is not None:
            med = Fraction(stats[0], 2)
            chosen = (plan.idx, day) in injected
            if chosen or is_spike(total, stats):
                day_rows = _DayRows(rows.slice(start, length), start)
                if chosen:
                    total = _inject_spike(seed, plan, day, day_rows, med, spike_limit(stats))
                    cases.append(_spike_case(plan, day, total, med, rating, "usage_spike"))
                elif natural:
                    cases.append(_spike_case(plan, day, total, med, rating, "natural"))
                else:  # clean world: keep the day inside its own history
                    goal = med + (spike_limit(stats) - med) / 2
                    for j in range(length):
                        day_rows.set_q(j, max(1, int(day_rows.q[j] * goal / total)))
                    total = day_rows.total
                updates.update({start + j: day_rows.q[j] for j in day_rows.changed})
        totals.append(total)
    return cases


def _inject_spike(seed: int, plan: Plan, day: date, rows: _DayRows, med: Fraction, limit: Fraction) -> int:
    """Grow the day's biggest row until the day total is 1.4-4.2 × the threshold's excess above the median."""
    rng = stream(seed, "spike-size", plan.idx, day)
    target = med + (limit - med) * Fraction(rng.randint(1400, 4200), 1000) + rng.randint(1, 99)
    big = max(range(len(rows.bill)), key=lambda j: rows.bill[j])
    total = rows.total
    while total <= target:
        need = target - total + 1
        per_micro = Fraction(rows.bill[big], rows.q[big]) if rows.bill[big] else Fraction(1, 10**4)
        rows.set_q(big, rows.q[big] + max(1, math.ceil(need / per_micro)))
        total = rows.total
    return total


def _spike_case(plan: Plan, day: date, total: int, med: Fraction, rating: Rating, how: str) -> UsageCase:
    amount = Decimal(math.floor(total - med)) / 100
    cur = rating.billing_currency
    what = "jumps" if how == "usage_spike" else "rises (without an injection)"
    text = (
        f"Azure plan {plan.subscription_id} usage on {day} {what} to {Decimal(total) / 100} {cur}, "
        f"{amount} {cur} above the median of the previous days."
    )
    return UsageCase("usage_spike", plan, day.replace(day=1), amount, text, (plan.idx, day.isoformat()))


def recon_lines(
    seed: int,
    usage: Usage,
    customers: list[Customer],
    rating: Rating,
    invoice_of: dict[date, str],
    rates: dict[str, float],
) -> pl.DataFrame:
    """One recon line per plan, meter and month (usage formula), with usage_sum_off injected on billed lines."""
    merged = usage.agg
    cands = [
        (det_int(seed, "sum-off", *k), k)
        for k, m in merged.items()
        if k[0] in invoice_of and line_amounts(m[0], m[1], m[5])[2] >= 2000
    ]
    off = set(_pick(seed, rates.get("usage_sum_off", 0.0), "usage_sum_off", cands, lambda k: k[0]))
    out: dict[str, list[Any]] = {c: [] for c in _RECON_COLUMNS}
    plans = usage.plans
    for seq, (key, m) in enumerate(sorted(merged.items(), key=lambda kv: kv[0])):
        period, plan_idx, mid = key
        plan, res = plans[plan_idx], m[6]
        cust = customers[plan.customer]
        bcu, _, subtotal, eup = line_amounts(m[0], m[1], m[5])
        if key in off:
            bcu, subtotal, eup, case = _sum_off(seed, key, m, plan, rating)
            usage.cases.append(case)
        sub_d = Decimal(subtotal) / 100
        tax = tax_total(sub_d, cust.tax_rate)
        end = add_months(period, 1) - timedelta(days=1)
        meter = res.meter
        values = {
            "sub": SUB_OFFSET + plan_idx,
            "seq": seq,
            "cust": cust.idx,
            "orderId": plan.order_id,
            "orderDate": period,
            "chargeType": "new",
            "unitPrice": Decimal(meter.price_micro) / 10**6,
            "effectiveUnitPrice": eup,
            "quantity": 1,
            "billableQuantity": Decimal(bcu) / 10**6,
            "subtotal": sub_d,
            "taxTotal": tax,
            "totalForCustomer": sub_d + tax,
            "pcToBCExchangeRate": Decimal(m[5]) / 10**9,
            "subscriptionStartDate": plan.start,
            "subscriptionEndDate": end,
            "chargeStartDate": period,
            "chargeEndDate": end,
            "referenceId": guid_of(mix(det_int(seed, "usage-ref", plan_idx, mid), period.toordinal())),
            "promotionId": "",
            "priceAdjustmentDescription": PEC_TEXT if m[4] else "[]",
            "period": period,
            "pcToBCExchangeRateDate": period,
            "invoiceNumber": invoice_of.get(period, ""),
            "customerId": cust.id,
            "customerName": cust.name,
            "customerDomainName": cust.domain,
            "customerCountry": cust.country,
            "resellerMpnId": cust.reseller_mpn,
            "productId": AZURE_PRODUCT_ID,
            "skuId": AZURE_SKU_ID,
            "availabilityId": plan.availability_id,
            "productName": AZURE_PRODUCT_NAME,
            "skuName": AZURE_PRODUCT_NAME,
            "subscriptionDescription": AZURE_PRODUCT_NAME,
            "subscriptionId": plan.subscription_id,
            "termAndBillingCycle": "",
            "pricingCurrency": PRICING_CURRENCY,
            "billingFrequency": "",
            "unitType": meter.unit,
            "meterDescription": f"{meter.category} - {meter.name} - {res.region}",
        }
        for c in _RECON_COLUMNS:
            out[c].append(values[c])
    return pl.DataFrame(out, schema=_RECON_SCHEMA)


def _sum_off(
    seed: int, key: tuple[date, int, str], m: list[Any], plan: Plan, rating: Rating
) -> tuple[int, int, Decimal, UsageCase]:
    """usage_sum_off: the line bills a quantity its daily rows do not add up to."""
    rng = stream(seed, "inject", "usage_sum_off", *key)
    bcu0, s14, daily_sum, n, fx = m[0], m[1], m[2], m[3], m[5]
    sub0 = line_amounts(bcu0, s14, fx)[2]
    sign = 1 if rng.random() < 0.65 else -1
    share = Fraction(rng.randint(300, 2400), 10000)
    for _ in range(500):
        factor = 1 + sign * share
        bcu, _, subtotal, eup = line_amounts(int(bcu0 * factor), int(s14 * factor), fx)
        delta = subtotal - sub0
        if abs(subtotal - daily_sum) > n + 1 and abs(delta) >= 137 and delta % 5:
            break
        share += Fraction(137, 10000)
        if sign < 0 and share > Fraction(9, 10):
            sign, share = 1, Fraction(1, 10)
    amount = Decimal(delta) / 100
    cur = rating.billing_currency
    text = (
        f"The {key[0]:%Y-%m} recon line of meter {key[2]} on Azure plan {plan.subscription_id} bills "
        f"{Decimal(bcu) / 10**6} units ({Decimal(subtotal) / 100} {cur}); its {n} daily rows add up to "
        f"{Decimal(bcu0) / 10**6} units ({Decimal(daily_sum) / 100} {cur})."
    )
    return bcu, subtotal, eup, UsageCase("usage_sum_off", plan, key[0], amount, text, (key[1], key[2], key[0]), True)


_RECON_SCHEMA: dict[str, Any] = {
    "sub": pl.Int32,
    "seq": pl.Int32,
    "cust": pl.Int32,
    "orderId": pl.String,
    "orderDate": pl.Date,
    "chargeType": pl.String,
    "unitPrice": pl.Decimal(18, 6),
    "effectiveUnitPrice": pl.Decimal(38, 15),
    "quantity": pl.Int32,
    "billableQuantity": pl.Decimal(18, 6),
    "subtotal": pl.Decimal(18, 2),
    "taxTotal": pl.Decimal(18, 2),
    "totalForCustomer": pl.Decimal(18, 2),
    "pcToBCExchangeRate": pl.Decimal(18, 9),
    "subscriptionStartDate": pl.Date,
    "subscriptionEndDate": pl.Date,
    "chargeStartDate": pl.Date,
    "chargeEndDate": pl.Date,
    "referenceId": pl.String,
    "promotionId": pl.String,
    "priceAdjustmentDescription": pl.String,
    "period": pl.Date,
    "pcToBCExchangeRateDate": pl.Date,
    "invoiceNumber": pl.String,
    "customerId": pl.String,
    "customerName": pl.String,
    "customerDomainName": pl.String,
    "customerCountry": pl.String,
    "resellerMpnId": pl.Int64,
    "productId": pl.String,
    "skuId": pl.String,
    "availabilityId": pl.String,
    "productName": pl.String,
    "skuName": pl.String,
    "subscriptionDescription": pl.String,
    "subscriptionId": pl.String,
    "termAndBillingCycle": pl.String,
    "pricingCurrency": pl.String,
    "billingFrequency": pl.String,
    "unitType": pl.String,
    "meterDescription": pl.String,
}
_RECON_COLUMNS = list(_RECON_SCHEMA)


def with_usage_lines(frame: pl.DataFrame, recon: pl.DataFrame) -> pl.DataFrame:
    """The seat line frame widened to the usage columns (seats: billableQuantity = quantity) plus `recon`."""
    seats = frame.with_columns(
        unitPrice=pl.col("unitPrice").cast(pl.Decimal(18, 6)),
        effectiveUnitPrice=pl.col("effectiveUnitPrice").cast(pl.Decimal(38, 15)),
        billableQuantity=pl.col("quantity").cast(pl.Decimal(18, 6)),
        unitType=pl.lit(""),
        meterDescription=pl.lit(""),
    )
    seats = seats.with_columns(creditReasonCode=pl.lit(""))
    recon = recon.with_columns(creditReasonCode=pl.lit(""))
    if recon.height == 0:
        return seats
    return pl.concat([seats, recon.select(seats.columns).cast(seats.schema)], how="vertical")
