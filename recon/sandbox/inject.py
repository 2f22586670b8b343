"""Injected discrepancies: the catalogue of design.md, rate handling, and the answer key they produce."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from recon.sandbox.lines import Line, Rating
from recon.sandbox.population import Customer, Subscription
from recon.sandbox.rand import det_hex, det_int, pick_at_rate, rate_score

KEY_COLUMNS = [
    "case_id",
    "kind",
    "rule",
    "also",
    "customer_id",
    "subscription_id",
    "order_id",
    "invoice_number",
    "period",
    "amount_at_stake",
    "currency",
    "description",
]


@dataclass(frozen=True)
class Kind:
    """One catalogue entry: its primary rule, the rules it may also trigger, and the keys a case names."""

    name: str
    rule: str
    also: tuple[str, ...]
    keys: tuple[str, ...]  # subset of subscription, invoice, period, order
    default_rate: float
    implemented: bool


def _k(name: str, rule: str, also: str, keys: str, rate: float, done: bool) -> Kind:
    return Kind(name, rule, tuple(a for a in also.split(",") if a), tuple(keys.split(",")), rate, done)


CATALOGUE: dict[str, Kind] = {
    k.name: k
    for k in [
        _k("qty_overbilled", "R01", "R03", "subscription,invoice,period", 0.0004, True),
        _k("qty_underbilled", "R01", "R03", "subscription,invoice,period", 0.0004, True),
        _k("price_not_locked", "R02", "R03", "subscription,invoice,period", 0.0004, True),
        _k("renewal_price_wrong", "R02", "R03", "subscription,invoice,period", 0.004, True),
        _k("proration_wrong", "R03", "", "subscription,invoice,period", 0.004, True),
        _k("charge_after_cancel", "R04", "R05", "subscription,invoice,period", 0.05, True),
        _k("unknown_subscription", "R04", "R05", "subscription,invoice,period", 0.005, True),
        _k("charge_missing", "R05", "R09", "subscription,period", 0.0004, True),
        _k("duplicate_line", "R06", "R01,R09", "subscription,invoice,period", 0.0004, True),
        _k("credit_missing", "R07", "R01,R03", "subscription,period", 0.004, True),
        _k("credit_twice", "R07", "R01,R03", "subscription,period", 0.004, True),
        _k("unbilled_vanished", "R08", "", "subscription,period", 0.0004, True),
        _k("unbilled_changed", "R08", "", "subscription,period", 0.0004, True),
        _k("invoice_total_off", "R09", "", "invoice,period", 0.3, True),
        _k("usage_sum_off", "R10", "R09", "subscription,invoice,period", 0.001, True),
        _k("order_without_subscription", "R11", "", "order", 0.004, True),
        _k("subscription_without_order", "R11", "", "subscription", 0.0002, True),
        _k("fx_rate_off", "R12", "R03", "subscription,invoice,period", 0.0004, True),
        _k("usage_spike", "R13", "", "subscription,period", 0.01, True),
    ]
}


def resolve_rates(rates: Mapping[str, float] | None) -> dict[str, float]:
    """Per-kind rates: defaults, then `all`, then explicit kinds; unknown or not-yet-generated kinds fail."""
    out = {k.name: k.default_rate for k in CATALOGUE.values() if k.implemented}
    rates = dict(rates or {})
    for name, value in rates.items():
        if not 0 <= float(value) <= 1:
            raise ValueError(f"inject rate for {name} must be within 0..1, not {value}")
        if name != "all" and name not in CATALOGUE:
            raise ValueError(f"unknown injection kind {name!r}; known: all, {', '.join(CATALOGUE)}")
        if name != "all" and not CATALOGUE[name].implemented and float(value) > 0:
            raise ValueError(f"injection kind {name!r} needs data this sandbox does not generate yet")
    if "all" in rates:
        out = dict.fromkeys(out, float(rates["all"]))
    out.update({n: float(v) for n, v in rates.items() if n != "all" and n in out})
    return out


@dataclass
class Case:
    """One injected discrepancy, before it becomes an answer-key row."""

    kind: str
    period: date
    amount: Decimal
    description: str
    sub: Subscription | None = None
    invoice: str | None = None
    order_id: str | None = None
    key: tuple[object, ...] = ()


class Injector:
    """Applies the catalogue's kinds to a world's lines and invoices, keeping the cases it made."""

    def __init__(
        self,
        seed: int,
        rating: Rating,
        customers: list[Customer],
        subs: list[Subscription],
        closed: set[date],
        rates: dict[str, float],
    ):
        self.seed, self.rating, self.customers, self.subs = seed, rating, customers, subs
        self.closed, self.rates = closed, rates
        self.cases: list[Case] = []
        self.touched: set[tuple[int, date]] = set()
        self.lines: list[Line] = []
        self.dropped: set[int] = set()
        self.by_type: dict[str, list[tuple[int, int]]] = {}  # charge type -> (selection key, position)
        self.drift: dict[str, list[Line]] = {}  # R08 kind -> lines its month's unbilled views show otherwise

    def pick(
        self, kind: str, candidates: list[tuple[int, int]], month_of: Callable[[int], object] | None = None
    ) -> list[int]:
        """Positions chosen at the kind's rate (hash of seed and key); at least one per billing month (by default
        the month of the line at that position) if the rate is positive."""
        months = month_of or (lambda pos: self.lines[pos].period)
        return pick_at_rate(self.seed, self.rates.get(kind, 0.0), kind, candidates, months)

    def cust(self, line: Line) -> Customer:
        """The customer of a line's subscription."""
        return self.customers[self.subs[line.sub].customer]

    def billed(self, *charge_types: str) -> list[tuple[int, int]]:
        """(selection key, position) of the original billed lines with one of these charge types."""
        return [c for t in charge_types for c in self.by_type.get(t, [])]

    def add_case(self, kind: str, line: Line, amount: Decimal, description: str) -> None:
        """Record a case against a line's subscription and billing month."""
        self.touched.add((line.sub, line.period))
        key = (line.rid * 2 + (line.eup < 0),)
        self.cases.append(Case(kind, line.period, amount, description, self.subs[line.sub], key=key))

    def apply_lines(self, lines: list[Line]) -> list[Line]:
        """Run every line-level kind; returns the new line list.

        A subscription-month holds at most one case. The kinds claim lines day by day in date order (catalogue
        order within a day): first the lines picked at the kind's rate, then, while the kind has no case in that
        month yet, its best-scoring line of the day that is free. Lines come to exist in date order as the clock
        advances, so what a day's lines get depends on nothing dated later: a line that appears later can neither
        take a month from an injection an earlier build showed nor cancel one."""
        from recon.sandbox.inject_kinds import GHOST_KINDS, LINE_KINDS  # the kinds need Injector, defined here

        self.lines, self.dropped, self.drift = lines, set(), {}
        self.by_type = {}
        on_day: dict[tuple[str, date], list[tuple[int, int]]] = {}  # (charge type, day) -> (key, position)
        for i, ln in enumerate(lines):
            if ln.period in self.closed:  # key: the line's random referenceId bits and its sign
                c = (ln.rid * 2 + (ln.eup < 0), i)
                self.by_type.setdefault(ln.charge_type, []).append(c)
                on_day.setdefault((ln.charge_type, ln.order_date), []).append(c)
        kinds = [(name, kind) for name, kind in LINE_KINDS.items() if self.rates.get(name, 0) > 0]
        scores = [(rate_score(self.seed, name), int(self.rates[name] * 2**64)) for name, _ in kinds]
        at_rate: dict[tuple[int, date], list[tuple[int, int]]] = {}  # (kind, day) -> (score, position) at the rate
        own_day: dict[tuple[int, date], list[tuple[int, int]]] = {}  # the same for kinds with a day of their own
        for k, (_, kind) in enumerate(kinds):
            score, limit = scores[k]
            for key, i in self.billed(*kind.types):
                day = kind.day(self, lines[i]) if kind.day else lines[i].order_date
                if kind.day:
                    own_day.setdefault((k, day), []).append((key, i))
                if (s := score(key)) < limit and (kind.ok is None or kind.ok(self, lines[i])):
                    at_rate.setdefault((k, day), []).append((s, i))

        def fallback(k: int, day: date) -> list[tuple[int, int]]:
            """The kind's lines of the day that its rate did not pick, best score first."""
            (_, kind), (score, limit) = kinds[k], scores[k]
            cands = own_day.get((k, day), []) if kind.day else [c for t in kind.types for c in on_day.get((t, day), ())]
            out = [(s, i) for key, i in cands if (s := score(key)) >= limit]
            return sorted(c for c in out if kind.ok is None or kind.ok(self, lines[c[1]]))

        won: set[tuple[int, date]] = set()  # (kind, month) with a case
        chosen: dict[str, list[int]] = {}
        for day in sorted({day for _, day in on_day} | {day for _, day in own_day}):
            month = day.replace(day=1)  # a line's period is its date's month, as is a kind's own day
            for k, (name, kind) in enumerate(kinds):
                picks = [(s, True, i) for s, i in sorted(at_rate.get((k, day), ()))]
                if (k, month) not in won:  # the month's first case: the kind's best free line of the day
                    picks += [(s, False, i) for s, i in fallback(k, day)]
                for _, rated, i in picks:
                    ln = lines[i]
                    if not rated and (k, month) in won:
                        break
                    months = kind.months(self, ln) if kind.months else [(ln.sub, ln.period)]
                    if self.touched.intersection(months) or (kind.feasible and not kind.feasible(self, ln)):
                        continue
                    self.touched.update(months)
                    won.add((k, month))
                    chosen.setdefault(name, []).append(i)
        for name, kind in kinds:
            for i in sorted(chosen.get(name, [])):
                kind.apply(self, i)
        for name, func in GHOST_KINDS.items():
            if self.rates.get(name, 0) > 0:
                func(self)
        return [ln for i, ln in enumerate(lines) if i not in self.dropped] if self.dropped else lines

    def apply_invoices(
        self, invoices: list[dict], rng_amount: Callable[[str], Decimal], window_ids: Sequence[str] = ()
    ) -> None:
        """invoice_total_off: move chosen invoices' totalCharges away from the sum of their lines.

        The choice is made over the invoices of the world's whole window (`window_ids`), issued or not, so an
        invoice chosen once stays chosen as the clock advances."""
        ids = sorted({*window_ids, *(str(inv["id"]) for inv in invoices)})
        cands = [(det_int(self.seed, iid), iid) for iid in ids]
        chosen = set(pick_at_rate(self.seed, self.rates.get("invoice_total_off", 0.0), "invoice_total_off", cands))
        for inv in invoices:
            if inv["id"] not in chosen:
                continue
            delta = rng_amount(inv["id"])
            inv["totalCharges"] += delta
            period = inv["periodStart"]
            self.cases.append(
                Case(
                    "invoice_total_off",
                    period,
                    delta,
                    f"Invoice {inv['id']} states totalCharges {inv['totalCharges']} "
                    f"{inv['currency']}, {delta} more than the sum of its lines.",
                    invoice=inv["id"],
                    key=(inv["id"],),
                )
            )

    def key_rows(self, invoice_of: Callable[[date], str], invoiced: set[date] | None = None) -> list[dict]:
        """Answer-key rows with the columns of KEY_COLUMNS, in a stable order (only cases of `invoiced` months:
        a running month's lines carry their injections in the unbilled views, its cases count once invoiced)."""
        rows = []
        for case in self.cases:
            if invoiced is not None and case.period not in invoiced:
                continue
            kind = CATALOGUE[case.kind]
            sub = case.sub
            invoice = case.invoice or (invoice_of(case.period) if "invoice" in kind.keys else None)
            rows.append(
                {
                    "case_id": "K" + det_hex(10, self.seed, case.kind, *case.key),
                    "kind": case.kind,
                    "rule": kind.rule,
                    "also": ",".join(kind.also),
                    "customer_id": self.customers[sub.customer].id if sub else None,
                    "subscription_id": sub.id if sub and "subscription" in kind.keys else None,
                    "order_id": case.order_id,
                    "invoice_number": invoice,
                    "period": case.period,
                    "amount_at_stake": case.amount,
                    "currency": self.rating.billing_currency,
                    "description": case.description,
                }
            )
        rows.sort(key=lambda r: (r["period"], r["kind"], r["case_id"]))
        return rows
