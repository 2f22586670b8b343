"""The rule catalogue: every rule with its family, default severity and the frames it needs.

The engine runs each rule whose `needs` are all present in its frames (see recon.reconcile.inputs for the
names); `uses` lists frames a rule reads when they are there. Every `fn` is pure:
`(frames) -> findings` with FINDING_SCHEMA columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from recon.reconcile.charges import r01_quantity, r02_unit_price, r03_proration, r06_duplicate, r07_credit
from recon.reconcile.currency import r12_market, r12_rate
from recon.reconcile.frames import empty_findings
from recon.reconcile.lifecycle import r04_unknown_or_ended, r05_missing_charge, r11_orphans
from recon.reconcile.tieout import r09_invoice_tieout
from recon.reconcile.unbilled import r08_unbilled
from recon.reconcile.usage import r10_usage_sum, r13_usage_anomaly

Frames = Mapping[str, pl.LazyFrame]
RuleFn = Callable[[Frames], pl.LazyFrame]


@dataclass(frozen=True)
class Rule:
    """One rule: id (`R01`), family (its module), default severity, required frames, the function."""

    id: str
    family: str
    severity: str
    needs: tuple[str, ...]
    fn: RuleFn
    uses: tuple[str, ...] = ()

    def runnable(self, frames: Frames) -> bool:
        """True when every frame the rule needs is present."""
        return all(name in frames for name in self.needs)


def r09_from_frames(frames: Frames) -> pl.LazyFrame:
    """R09 (recon.reconcile.tieout) over the `tieout` frame."""
    return r09_invoice_tieout(frames["tieout"])


_MATCH = ("lines", "expected")
RULES: tuple[Rule, ...] = (
    Rule("R01", "charges", "high", _MATCH, r01_quantity, ("license_match",)),
    Rule("R02", "charges", "high", _MATCH, r02_unit_price, ("license_match",)),
    Rule("R03", "charges", "medium", _MATCH, r03_proration, ("license_match",)),
    Rule("R04", "lifecycle", "high", (*_MATCH, "subscriptions"), r04_unknown_or_ended, ("license_match",)),
    Rule("R05", "lifecycle", "medium", (*_MATCH, "periods_closed"), r05_missing_charge, ("license_match",)),
    Rule("R06", "charges", "high", _MATCH, r06_duplicate, ("license_match",)),
    Rule("R07", "charges", "high", (*_MATCH, "periods_closed"), r07_credit, ("license_match",)),
    Rule("R08", "unbilled", "medium", ("lines", "periods_closed"), r08_unbilled),
    Rule("R09", "tieout", "high", ("tieout",), r09_from_frames),
    Rule("R10", "usage", "medium", ("lines", "usage"), r10_usage_sum),
    Rule("R11", "lifecycle", "low", ("orders", "subscriptions"), r11_orphans),
    Rule("R12", "currency", "medium", ("lines",), r12_rate, ("fx", "usage")),
    Rule("R12", "currency", "medium", ("lines", "markets"), r12_market),
    Rule("R13", "usage", "low", ("usage",), r13_usage_anomaly),
)


def run_rules(frames: Frames, rules: tuple[Rule, ...] = RULES) -> pl.LazyFrame:
    """Findings of every rule whose inputs are present, in catalogue order."""
    return pl.concat([empty_findings(), *(r.fn(frames) for r in rules if r.runnable(frames))], how="vertical")
