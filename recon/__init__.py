"""recon: prove every month that what Microsoft invoiced is what you bought."""

from __future__ import annotations

__version__ = "0.1.0"
