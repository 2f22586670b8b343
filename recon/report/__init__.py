"""Monthly export reports."""

from __future__ import annotations

from recon.report.monthly import latest_period, write_monthly

__all__ = ["latest_period", "write_monthly"]
