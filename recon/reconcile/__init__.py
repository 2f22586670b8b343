"""Reconciliation: tie-outs and the rule catalogue as pure functions over frames."""

from __future__ import annotations

from recon.reconcile.engine import ReconcileSummary, reconcile

__all__ = ["ReconcileSummary", "reconcile"]
