"""Partner Center HTTP client: msal auth, retries, paging, redaction."""

from __future__ import annotations

from recon.api.client import ApiResponse, PartnerCenterClient
from recon.api.paging import Page, SeekPaginator

__all__ = ["ApiResponse", "Page", "PartnerCenterClient", "SeekPaginator"]
