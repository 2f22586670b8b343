"""Replay each subscription's life (renewals, cycle charges, seat changes, cancellations) into lines."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from recon.sandbox.billing import (
    TERM_MONTHS,
    add_months,
    cycle_bounds,
    cycle_days,
    cycle_months,
    months_between,
    rounddown,
    tax_total,
    unit_rate,
)
from recon.sandbox.catalog import list_price
from recon.sandbox.lines import Line, Rating
from recon.sandbox.population import Customer, Subscription
from recon.sandbox.rand import mix

ONE_DAY = timedelta(days=1)
ZERO = Decimal(0)
P_ADD = 0.07  # per subscription and month
P_REMOVE_AFTER_ADD = 0.3
P_REDUCE_AT_TERM_START = 0.04
P_CANCEL_AT_TERM_START = 0.03


class _Replay:
    """Mutable state while one subscription's months are replayed."""

    def __init__(self, rating: Rating, sub: Subscription, cust: Customer, window_start: date, today: date):
        self.r, self.sub, self.cust = rating, sub, cust
        self.window_start, self.today = window_start, today
        self.lines: list[Line] = []
        self.qty = sub.quantity
        self.alive = True

    def order_id(self, *key: int) -> str:
        """A 12-hex order id for the transaction with this key."""
        return f"{mix(self.sub.base, 1, *key) & 0xFFFFFFFFFFFF:012x}"

    def emit(
        self,
        ctype: str,
        order_id: str,
        on: date,
        price: Decimal,
        discount: Decimal,
        cycle: tuple[date, date, int],
        qty: int,
        sign: int,
        rid: int,
        term: tuple[date, date],
    ) -> None:
        """Rate and keep one line dated `on` before `today`. A change before the world's first month is kept as
        history: it bills nothing the world serves, but its order and its effect on the subscription exist."""
        if on >= self.today:
            return
        _, ce, clen = cycle
        fx = self.r.fx(self.cust.currency, on)
        eup, unit = unit_rate(price, discount, clen, (ce - on).days + 1, fx, self.r.rounding)
        subtotal = unit * qty if unit is not None else rounddown(eup * qty * fx)
        if sign < 0:
            eup, subtotal = -eup, -subtotal
        tax = tax_total(subtotal, self.cust.tax_rate)
        adj = _promo_text(discount) if discount else "[]"
        self.lines.append(
            Line(
                self.sub.idx,
                on.replace(day=1),
                order_id,
                on,
                ctype,
                price,
                eup,
                qty,
                subtotal,
                tax,
                subtotal + tax,
                fx,
                term[0],
                term[1],
                on,
                ce,
                clen,
                rid,
                self.sub.promotion_id if discount else "",
                adj,
            )
        )


@lru_cache(maxsize=64)
def _promo_text(discount: Decimal) -> str:
    return f'["{discount * 100:.1f}% Promotion discount"]'


Cycle = tuple[int, date, date, int]  # index in term, start, inclusive end, proration denominator
Term = tuple[int, date, date, tuple[Cycle, ...]]  # index k, start, inclusive end, cycles


@lru_cache(maxsize=16384)
def schedule(start: date, term: str, plan: str, window_start: date, horizon: date) -> tuple[Term, ...]:
    """Terms and charge cycles of a subscription bought on `start` that touch [window_start, horizon)."""
    anchor = start.day
    t_months = TERM_MONTHS[term]
    c_months = cycle_months(term, plan)
    # Terms that ended before the window need no replay: start from the term holding window_start.
    k = max(0, months_between(start, window_start) // t_months - 1)
    while add_months(start, (k + 1) * t_months, anchor) <= window_start:
        k += 1
    out = []
    while True:
        t_start = add_months(start, k * t_months, anchor)
        if t_start >= horizon:
            break
        cycles = []
        for j in range(t_months // c_months):
            cs, ce = cycle_bounds(t_start, term, plan, j, anchor)
            if cs >= horizon:
                break
            if ce >= window_start:  # cycles wholly before the world's first month leave no trace
                cycles.append((j, cs, ce, cycle_days(cs, ce, c_months)))
        out.append((k, t_start, add_months(start, (k + 1) * t_months, anchor) - ONE_DAY, tuple(cycles)))
        k += 1
    return tuple(out)


def replay(
    rating: Rating, sub: Subscription, cust: Customer, window_start: date, today: date, horizon: date | None = None
) -> list[Line]:
    """Every line the subscription produced from `window_start` up to (not including) `today`, plus the seat
    changes and cancellation of the term holding `window_start` dated before it (history, see `emit`)."""
    av = sub.avail
    horizon = horizon or add_months(today.replace(day=1), 1)
    terms = schedule(sub.start, av.term, av.plan, window_start, horizon)
    if not terms or (terms[0][0] > 0 and not sub.auto_renew):
        return []
    st = _Replay(rating, sub, cust, window_start, today)
    lines, b_rounding, tax_rate = st.lines, rating.rounding == "B", cust.tax_rate
    for k, t_start, t_end, cycles in terms:
        if k > terms[0][0] and not sub.auto_renew:
            break
        term = (t_start, t_end)
        discount = sub.discount if k == 0 else ZERO
        price = list_price(rating.seed, av, cust.currency, t_start)
        eup = price * (1 - discount) if discount else price
        promo, adj = (sub.promotion_id, _promo_text(discount)) if discount else ("", "[]")
        term_order = sub.order_id if k == 0 else st.order_id(k)
        for j, cs, ce, clen in cycles:
            rid = mix(sub.base, k, j)
            if window_start <= cs < today:  # the full-cycle charge, rated inline (the bulk of all lines)
                fx = rating.fx(cust.currency, cs)
                sub_total = rounddown(eup * fx) * st.qty if b_rounding else rounddown(eup * st.qty * fx)
                tax = rounddown(sub_total * tax_rate)
                ctype = "cycleCharge" if j else ("new" if k == 0 else "renew")
                lines.append(
                    Line(
                        sub.idx,
                        cs.replace(day=1),
                        term_order,
                        cs,
                        ctype,
                        price,
                        eup,
                        st.qty,
                        sub_total,
                        tax,
                        sub_total + tax,
                        fx,
                        t_start,
                        t_end,
                        cs,
                        ce,
                        clen,
                        rid,
                        promo,
                        adj,
                    )
                )
            _cycle_events(st, rid, (cs, ce, clen), term, price, discount, first=(j == 0), k=k, j=j)
            if not st.alive:
                return lines
    return lines


def _cycle_events(
    st: _Replay,
    draws: int,
    cycle: tuple[date, date, int],
    term: tuple[date, date],
    price: Decimal,
    discount: Decimal,
    *,
    first: bool,
    k: int,
    j: int,
) -> None:
    """Bill the seat changes and cancellation of one charge cycle, drawn from the cycle's own 128 bits."""
    cs, ce, _ = cycle
    length = (ce - cs).days + 1
    at_start = first and (draws & 0xFFFF) / 65536 < P_CANCEL_AT_TERM_START + P_REDUCE_AT_TERM_START
    if not at_start and ((draws >> 48) & 0xFFFF) / 65536 >= P_ADD * max(1, length // 31):
        return  # most cycles: no change at all
    u = [((draws >> (16 * i)) & 0xFFFF) / 65536 for i in range(8)]
    if first and u[0] < P_CANCEL_AT_TERM_START:
        on = cs + timedelta(days=int(u[1] * 7))
        st.emit(
            "cancelImmediate",
            st.order_id(k, j, 2),
            on,
            price,
            discount,
            cycle,
            st.qty,
            -1,
            mix(st.sub.base, k, j, 2),
            term,
        )
        st.alive = False
        return
    since = cs  # seat changes follow each other in time: an add comes after a reduction of the same cycle
    if first and u[0] < P_CANCEL_AT_TERM_START + P_REDUCE_AT_TERM_START and st.qty > 1:
        on = cs + timedelta(days=1 + int(u[1] * 6))
        since = on if on <= ce else cs
        _change(
            st,
            "removeQuantity",
            on,
            st.qty - max(1, int(st.qty * u[2] * 0.5)),
            price,
            discount,
            cycle,
            term,
            (k, j, 3),
        )
    if u[3] < P_ADD * max(1, length // 31):
        on = since + timedelta(days=1 + int(u[4] * (ce - since).days))  # never on the cycle-charge day
        added = 1 + int(u[5] * max(1, st.qty * 0.3))
        _change(st, "addQuantity", on, st.qty + added, price, discount, cycle, term, (k, j, 4))
        back = on + timedelta(days=1 + int(u[7] * 6))
        if u[6] < P_REMOVE_AFTER_ADD and back <= ce:
            _change(
                st,
                "removeQuantity",
                back,
                st.qty - max(1, int(added * u[6] / P_REMOVE_AFTER_ADD)),
                price,
                discount,
                cycle,
                term,
                (k, j, 5),
            )


def _change(
    st: _Replay,
    ctype: str,
    on: date,
    new_qty: int,
    price: Decimal,
    discount: Decimal,
    cycle: tuple[date, date, int],
    term: tuple[date, date],
    key: tuple[int, int, int],
) -> None:
    """A refund of the old seat count and a charge of the new one, sharing a referenceId."""
    if on > cycle[1] or new_qty < 1 or new_qty == st.qty:
        return
    order = st.order_id(*key)
    rid = mix(st.sub.base, *key)
    st.emit(ctype, order, on, price, discount, cycle, st.qty, -1, rid, term)
    st.emit(ctype, order, on, price, discount, cycle, new_qty, 1, rid, term)
    st.qty = new_qty
