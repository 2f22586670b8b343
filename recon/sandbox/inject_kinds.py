"""Line-level injection kinds: each changes, drops or adds lines of the Injector in place."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from recon.sandbox.billing import (
    TERM_MONTHS,
    add_months,
    cycle_bounds,
    cycle_days,
    cycle_months,
    prorated_eup,
)
from recon.sandbox.catalog import AVAILABILITIES, FX_PLACES, list_price
from recon.sandbox.inject_orphans import (
    SUB_KIND,
    order_without_subscription,
    sub_without_order_months,
    sub_without_order_ok,
    subscription_without_order,
)
from recon.sandbox.lines import Line
from recon.sandbox.population import Subscription
from recon.sandbox.rand import base128, det_int, guid_of, mix, stream

if TYPE_CHECKING:
    from recon.sandbox.inject import Injector

CHARGES = ("new", "renew", "cycleCharge")
CHANGES = ("addQuantity", "removeQuantity")
REFUNDS = ("addQuantity", "removeQuantity", "cancelImmediate")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class LineKind:
    """A kind that changes a line: the charge types it may take, a test of the line before the pick, what it does
    to a picked line, the subscription-months its case holds (default the line's), and a test of a picked line
    (whether the change would show)."""

    types: tuple[str, ...]
    apply: Callable[[Injector, int], None]
    ok: Callable[[Injector, Line], bool] | None = None
    months: Callable[[Injector, Line], list[tuple[int, date]]] | None = None
    feasible: Callable[[Injector, Line], bool] | None = None
    # the day the case comes to exist, when not the line's: it must not depend on the clock, and its month is the
    # month the case is counted in
    day: Callable[[Injector, Line], date] | None = None


def _key(line: Line) -> int:
    return line.rid * 2 + (line.eup < 0)


def _rng(inj: Injector, kind: str, line: Line) -> random.Random:
    return stream(inj.seed, "inject", kind, _key(line))


def _base_price(inj: Injector, line: Line, price: Decimal) -> Decimal:
    sub = inj.subs[line.sub]
    return price * (1 - sub.discount) if line.promotion_id else price


def _who(inj: Injector, line: Line) -> str:
    sub = inj.subs[line.sub]
    return f"subscription {sub.id} ({sub.avail.product.product_name}) in {line.period:%Y-%m}"


def _tax(inj: Injector, line: Line) -> Decimal:
    return inj.cust(line).tax_rate


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def duplicate_line(inj: Injector, i: int) -> None:
    """A charge line billed twice."""
    ln = inj.lines[i]
    inj.lines.append(replace(ln))
    text = f"The {ln.charge_type} line of {_who(inj, ln)} appears twice on the invoice."
    inj.add_case("duplicate_line", ln, ln.subtotal, text)


def _qty(kind: str, over: bool) -> LineKind:
    def apply(inj: Injector, i: int) -> None:
        ln = inj.lines[i]
        step = 1 + _rng(inj, kind, ln).randrange(max(1, ln.quantity // (4 if over else 3)))
        new = inj.rating.rerate(ln, _tax(inj, ln), quantity=ln.quantity + (step if over else -step))
        inj.lines[i] = new
        text = f"{_who(inj, ln)} is billed for {new.quantity} seats; the subscription had {ln.quantity}."
        inj.add_case(kind, ln, new.subtotal - ln.subtotal, text)

    apply.__doc__ = f"Seats billed {'above' if over else 'below'} the subscription's quantity."
    return LineKind(CHARGES, apply, None if over else (lambda inj, ln: ln.quantity >= 3))


def _price(kind: str, ctype: str) -> LineKind:
    def apply(inj: Injector, i: int) -> None:
        ln = inj.lines[i]
        rng = _rng(inj, kind, ln)
        sub, cust = inj.subs[ln.sub], inj.cust(ln)
        current = list_price(inj.seed, sub.avail, cust.currency, ln.order_date)
        if kind == "price_not_locked" and current > ln.unit_price + CENT:
            price = current
        else:
            sign = 1 if kind == "price_not_locked" or rng.random() < 0.5 else -1
            price = _cents(ln.unit_price * (1 + sign * Decimal(rng.randint(210, 1170)) / 10000))
        days = (ln.charge_end - ln.charge_start).days + 1
        eup = prorated_eup(_base_price(inj, ln, price), ln.cycle_len, days)
        new = inj.rating.rerate(ln, _tax(inj, ln), eup=eup, unit_price=price)
        inj.lines[i] = new
        what = (
            "the list price of the charge date instead of the price locked for the term"
            if kind == "price_not_locked"
            else "a price that is not the list price of the renewal date"
        )
        text = f"{_who(inj, ln)} is charged {price} {cust.currency} per seat, {what} ({ln.unit_price})."
        inj.add_case(kind, ln, new.subtotal - ln.subtotal, text)

    apply.__doc__ = f"{ctype} lines at a wrong unit price."
    return LineKind((ctype,), apply)


Change = Callable[["Injector", Line], tuple[Line, str] | None]


def _rerated(kind: str, types: tuple[str, ...], ok: Callable[[Injector, Line], bool], change: Change) -> LineKind:
    """A kind that replaces a line by a rated variant, where `change` gives one that shows (and its description)."""

    def apply(inj: Injector, i: int) -> None:
        ln = inj.lines[i]
        found = change(inj, ln)
        if found is not None:
            inj.lines[i] = found[0]
            inj.add_case(kind, ln, found[0].subtotal - ln.subtotal, found[1])

    apply.__doc__ = change.__doc__
    return LineKind(types, apply, ok, feasible=lambda inj, ln: change(inj, ln) is not None)


def proration_wrong(inj: Injector, ln: Line) -> tuple[Line, str] | None:
    """A seat-change charge prorated over the wrong number of days: the first of the line's shuffled day counts
    that moves it by more than a cent a seat."""
    days = (ln.charge_end - ln.charge_start).days + 1
    for shift in _rng(inj, "proration_wrong", ln).sample([-3, -2, -1, 1, 2, 3], 6):
        wrong = days + shift
        if not 1 <= wrong <= ln.cycle_len:
            continue
        eup = prorated_eup(_base_price(inj, ln, ln.unit_price), ln.cycle_len, wrong)
        new = inj.rating.rerate(ln, _tax(inj, ln), eup=eup)
        if abs(new.subtotal - ln.subtotal) > CENT * ln.quantity:
            text = f"The {ln.charge_type} charge of {_who(inj, ln)} is prorated over {wrong} days, not {days}."
            return new, text
    return None


def fx_rate_off(inj: Injector, ln: Line) -> tuple[Line, str] | None:
    """A converted line rated with an exchange rate other than the month's rate, when that moves it by more than a
    cent a seat (and one more)."""
    rng = _rng(inj, "fx_rate_off", ln)
    sign = 1 if rng.random() < 0.5 else -1
    fx = (ln.fx * (1 + sign * Decimal(rng.randint(4000, 31000)) / 1000000)).quantize(FX_PLACES)
    new = inj.rating.rerate(ln, _tax(inj, ln), fx=fx)
    if abs(new.subtotal - ln.subtotal) <= CENT * (ln.quantity + 1):
        return None
    return new, f"{_who(inj, ln)} is converted at {fx} instead of the month's rate {ln.fx}."


def _drop_or_double(kind: str, types: tuple[str, ...], refunds: bool, double: bool) -> LineKind:
    def apply(inj: Injector, i: int) -> None:
        ln = inj.lines[i]
        if double:
            inj.lines.append(replace(ln))
        else:
            inj.dropped.add(i)
        what = "refund" if refunds else "charge"
        text = f"The {what} ({ln.charge_type}, {ln.subtotal}) of {_who(inj, ln)} "
        text += "is credited twice." if double else "has no line."
        inj.add_case(kind, ln, ln.subtotal if double else -ln.subtotal, text)

    apply.__doc__ = f"{kind}: a {'refund' if refunds else 'charge'} line {'repeated' if double else 'removed'}."
    return LineKind(types, apply, lambda inj, ln: (ln.eup < 0) == refunds)


def _after_cancel_month(inj: Injector, ln: Line) -> tuple[int, date]:
    """The subscription-month of the charge `charge_after_cancel` adds after a cancellation line."""
    return ln.sub, (ln.charge_end + timedelta(days=1)).replace(day=1)


def charge_after_cancel(inj: Injector, i: int) -> None:
    """A charge for the cycle after a subscription was cancelled."""
    ln = inj.lines[i]
    sub = inj.subs[ln.sub]
    start = ln.charge_end + timedelta(days=1)
    period = start.replace(day=1)
    months = cycle_months(sub.avail.term, sub.avail.plan)
    end = add_months(start, months, sub.anchor_day) - timedelta(days=1)
    ctype = "renew" if start > ln.term_end else "cycleCharge"
    fx = inj.rating.fx(inj.cust(ln).currency, start)
    proto = replace(
        ln,
        period=period,
        order_date=start,
        charge_type=ctype,
        charge_start=start,
        charge_end=end,
        cycle_len=cycle_days(start, end, months),
        eup=Decimal(1),
        rid=mix(ln.rid, 7),
    )
    new = inj.rating.rerate(proto, _tax(inj, ln), eup=_base_price(inj, ln, ln.unit_price), fx=fx)
    inj.lines.append(new)
    text = f"{_who(inj, new)} is charged ({ctype}) after its cancellation on {ln.order_date}."
    inj.add_case("charge_after_cancel", new, new.subtotal, text)


def unknown_subscription(inj: Injector) -> None:
    """A charge for a subscription that exists nowhere else."""
    pairs = [(c, p) for c in inj.customers for p in sorted(inj.closed)]
    cands = [(det_int(inj.seed, "ghost", c.idx, p), i) for i, (c, p) in enumerate(pairs)]
    for pos in inj.pick("unknown_subscription", cands, lambda i: pairs[i][1]):
        cust, period = pairs[pos]
        rng = stream(inj.seed, "inject", "unknown_subscription", cust.idx, period)
        avail = rng.choice([a for a in AVAILABILITIES if a.plan == "monthly"])
        start = period.replace(day=rng.randint(1, 28))
        idx, rid = len(inj.subs), base128(inj.seed, "ghost", cust.idx, period)
        order = f"{mix(rid, 2) & 0xFFFFFFFFFFFF:012x}"
        ghost = Subscription(
            idx,
            guid_of(mix(rid, 1)),
            cust.idx,
            avail,
            start,
            rng.randint(2, 60),
            True,
            Decimal(0),
            "",
            order,
            mix(rid, 3),
            ghost=True,
        )
        inj.subs.append(ghost)
        cs, ce = cycle_bounds(start, avail.term, avail.plan, 0, start.day)
        price = list_price(inj.seed, avail, cust.currency, start)
        zero = Decimal(0)
        term_end = add_months(start, TERM_MONTHS[avail.term], start.day) - timedelta(days=1)
        proto = Line(
            idx,
            period,
            order,
            start,
            "new",
            price,
            price,
            ghost.quantity,
            zero,
            zero,
            zero,
            inj.rating.fx(cust.currency, start),
            start,
            term_end,
            cs,
            ce,
            cycle_days(cs, ce, 1),
            rid,
            "",
            "[]",
        )
        new = inj.rating.rerate(proto, cust.tax_rate)
        inj.lines.append(new)
        inj.add_case(
            "unknown_subscription",
            new,
            new.subtotal,
            f"{_who(inj, new)} is billed but the partner has no such subscription.",
        )


def _drift(kind: str) -> LineKind:
    def apply(inj: Injector, i: int) -> None:
        inj.drift.setdefault(kind, []).append(inj.lines[i])

    apply.__doc__ = f"{kind}: the line is shown otherwise in its month's unbilled views (drift.unbilled_drift)."
    return LineKind(CHARGES, apply, lambda inj, ln: ln.subtotal > 0 and not inj.subs[ln.sub].ghost)


# Kinds that change lines a subscription-month already has, in catalogue order (the tie-break between claims of
# one day); each month of a subscription holds at most one case (Injector.apply_lines).
LINE_KINDS: dict[str, LineKind] = {
    SUB_KIND: LineKind(("new",), subscription_without_order, sub_without_order_ok, sub_without_order_months),
    "qty_overbilled": _qty("qty_overbilled", True),
    "qty_underbilled": _qty("qty_underbilled", False),
    "price_not_locked": _price("price_not_locked", "cycleCharge"),
    "renewal_price_wrong": _price("renewal_price_wrong", "renew"),
    "proration_wrong": _rerated("proration_wrong", CHANGES, lambda inj, ln: ln.eup > 0, proration_wrong),
    "charge_after_cancel": LineKind(
        ("cancelImmediate",),
        charge_after_cancel,
        lambda inj, ln: _after_cancel_month(inj, ln)[1] in inj.closed,
        lambda inj, ln: [_after_cancel_month(inj, ln)],
        # the added charge shows from its month's first day (or the cancellation's, if later) on, not at the
        # cancellation: dated there, a cancellation whose next cycle is in a later month could take the month's
        # first case over once that month runs
        day=lambda inj, ln: max(ln.order_date, _after_cancel_month(inj, ln)[1]),
    ),
    "charge_missing": _drop_or_double("charge_missing", CHARGES, False, False),
    "duplicate_line": LineKind(CHARGES, duplicate_line),
    "credit_missing": _drop_or_double("credit_missing", REFUNDS, True, False),
    "credit_twice": _drop_or_double("credit_twice", REFUNDS, True, True),
    "unbilled_vanished": _drift("unbilled_vanished"),
    "unbilled_changed": _drift("unbilled_changed"),
    "fx_rate_off": _rerated("fx_rate_off", CHARGES + CHANGES, lambda inj, ln: ln.fx != 1 and ln.eup > 0, fx_rate_off),
}
# Kinds that add subscriptions of their own (no claim on another's month), run after LINE_KINDS in this order.
GHOST_KINDS: dict[str, Callable[[Injector], None]] = {
    "unknown_subscription": unknown_subscription,
    "order_without_subscription": order_without_subscription,
}
