"""Staging: typed, cleaned `stg.*` tables built from the latest complete load of each unit."""

from __future__ import annotations

from recon.transform.staging import build_staging

__all__ = ["build_staging"]
