"""Extractors: one per dataset, each landing whole units atomically."""

from __future__ import annotations

from recon.extract.runner import DATASETS, DatasetResult, ExtractSummary, extract

__all__ = ["DATASETS", "DatasetResult", "ExtractSummary", "extract"]
